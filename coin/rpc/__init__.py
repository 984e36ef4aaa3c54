"""coin.rpc."""
