"""coin.chain."""
