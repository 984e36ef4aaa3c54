"""coin.wallet: an HD wallet that talks to a node only over JSON-RPC."""
