"""coin.mempool."""
