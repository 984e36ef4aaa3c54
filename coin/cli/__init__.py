"""coin.cli."""
