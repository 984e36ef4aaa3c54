"""coin.crypto."""
