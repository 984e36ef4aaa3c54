"""``coind``: the node's command line (argument parsing and the event loop only).

``main(argv=None) -> int``: parse Core-style flags (:mod:`coin.config`), answer
``-help`` / ``-version``, build a :class:`coin.node.Node`, run it on an asyncio loop
until SIGINT / SIGTERM / the ``stop`` RPC, and return the exit code: 0 after a clean
shutdown, 1 after any configuration or start-up error, which is printed as ONE line
``Error: <message>`` on stderr (never a traceback). ``coind -regtest`` with no
configuration at all starts (datadir ~/.coin is created if it is the default).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import coin
from coin.config import NODE_ARGS, Config, ConfigError, help_message, parse_args

__all__ = ["main"]

_HEADER = f"Coin Daemon version v{coin.__version__}"
_USAGE = (
    f"{_HEADER}\n\n"
    "The coin daemon: a full node for a Bitcoin-style cryptocurrency.\n\n"
    "Usage:  coind [options]                     Start Coin Daemon\n"
)


def _error(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr, flush=True)
    return 1


async def _run(config: Config) -> int:
    from coin.node import Node  # imported here: `coind -help` stays fast

    node = Node(config)
    node.install_signal_handlers()
    return await node.run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run coind; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_args(args, args=NODE_ARGS, create_default_datadir=False)
    except ConfigError as e:
        return _error(str(e))
    if config.get_bool("help", False):
        sys.stdout.write(help_message(NODE_ARGS, header=_USAGE))
        return 0
    if config.get_bool("version", False):
        print(_HEADER)
        return 0
    try:
        config.datadir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_run(config))
    except ConfigError as e:
        return _error(str(e))
    except OSError as e:
        return _error(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    sys.exit(main())
