"""coin.p2p."""
