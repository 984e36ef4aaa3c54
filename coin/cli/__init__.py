"""coin.cli: the command-line entry points; argument handling only.

* ``coind`` (:mod:`coin.cli.coind`): parses Core-style flags (:mod:`coin.config`),
  builds a :class:`coin.node.Node` and runs it; configuration errors are one line on
  stderr and exit code 1.
* ``coin-cli`` (:mod:`coin.cli.coin_cli`): bitcoin-cli's behaviour over the stdlib
  JSON-RPC client :mod:`coin.rpc.client`; :mod:`coin.cli.convert` holds Core's table of
  which arguments are sent as JSON.

Both are installed as console scripts (``[project.scripts]``) and run as
``python -m coin.cli.coind`` / ``python -m coin.cli.coin_cli``.
"""
