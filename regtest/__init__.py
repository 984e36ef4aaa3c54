"""coin.regtest: launch and drive a local network of coind processes."""
