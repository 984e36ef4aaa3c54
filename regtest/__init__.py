"""coin.regtest: launch and drive a local network of coind processes.

The same code serves a newcomer (``coin-regtest up`` / ``demo``) and the project's
functional tests (``TestNode`` / ``Network``), after Bitcoin Core's
``test/functional/test_framework``.

Outline:

* :mod:`coin.regtest.framework` -- :class:`TestNode` (one ``coind -regtest`` process,
  its datadir, an RPC proxy retrying through warm-up, stop/kill/restart,
  ``assert_debug_log``, ``wait_until``) and :class:`Network` (N nodes in a line, ring
  or mesh over ``addnode onetry``; ``sync_blocks`` / ``sync_mempools`` / ``sync_all``,
  ``split`` / ``join``). No process outlives its driver: atexit, SIGTERM/SIGHUP as
  SystemExit, context managers, and the Linux parent-death signal.
* :mod:`coin.regtest.pytest_plugin` -- fixtures ``regtest_node``, ``make_node``,
  ``make_network`` that always stop what they started.
* :mod:`coin.regtest.cli` -- ``coin-regtest up | down | status | demo``.
* :mod:`coin.regtest.state` -- the ``network.json`` state file that lets ``down`` and
  ``status`` find a network from another shell.
* :mod:`coin.regtest.demo` -- the payment walk-through (3 nodes, two wallets).
* :mod:`coin.regtest.walletcli` -- ``coin-wallet`` driven as a subprocess (``--json``).

Error contract: start-up failures raise :class:`NodeStartError` (with the node's
stderr); waits that time out raise AssertionError naming what was awaited; RPC errors
are :class:`coin.rpc.errors.RPCError` as the node sent them; the CLI prints one
``error: ...`` line and exits 1, the demo ``FAILED at step n (...): reason``.

BIPs: none of its own; it drives nodes that implement them.
"""

from coin.regtest.framework import Network, NodeStartError, TestNode, wait_until

__all__ = ["Network", "NodeStartError", "TestNode", "wait_until"]
