"""``python -m coin.regtest``: the same as ``coin-regtest``."""

import sys

from coin.regtest.cli import main

__all__: list[str] = []

sys.exit(main())
