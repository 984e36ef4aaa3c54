"""coin.mining."""
