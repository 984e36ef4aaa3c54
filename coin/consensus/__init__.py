"""coin.consensus."""
