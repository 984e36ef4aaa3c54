"""coin.script."""
