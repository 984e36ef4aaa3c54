"""coin.primitives."""
