"""coin.rpc: the JSON-RPC server, in Bitcoin Core's dialect.

Outline (one module per concept):

* ``errors``   -- Core's error codes (src/rpc/protocol.h) and ``RPCError(code, message)``.
* ``univalue`` -- JSON text as Core's UniValue writes it (8-decimal amounts, ``%.16g``
  doubles, bitcoin-cli's pretty layout); stdlib only.
* ``util``     -- argument helpers: ``parse_hash_v``, ``parse_hex_v``,
  ``amount_from_value``, ``value_from_amount``, help example lines.
* ``table``    -- ``Param``, ``@rpc_method``, ``RPCTable`` (registration, argument
  count / type / named-parameter checks, warm-up, ``help``), ``RPCContext``.
* ``request``  -- JSON-RPC 1.x / 2.0 envelopes, batches, notifications, HTTP statuses.
* ``auth``     -- the ``.cookie`` file, ``-rpcuser``/``-rpcpassword``, ``-rpcauth``; stdlib only.
* ``server``   -- the aiohttp HTTP server (binding, allow-list, 401/403/404/405/503).
* ``client``   -- a stdlib JSON-RPC client (coin-cli, tests, the wallet).
* method groups: ``control`` (help, stop, uptime, getmemoryinfo, logging, getrpcinfo);
  the blockchain / mempool / mining / network / rawtransactions groups plug in the same
  way: a module of ``@rpc_method`` objects listed in ``__all__``, registered with
  ``RPCTable.add_module``; ``blockchain_extra`` (getdeploymentinfo, getchaintxstats,
  getblockstats, verifychain, waitfor*) and ``scan`` (scantxoutset) extend the
  blockchain group.

Error contract: methods raise ``RPCError`` with Core's code and message; any other
exception becomes -1 with its text; the transport never lets an exception reach
aiohttp. Importing this package imports nothing heavy (coin-cli must start fast); the
aiohttp server lives only in ``coin.rpc.server``.

Specifications followed: JSON-RPC 1.0/1.1 (legacy) and 2.0 as Bitcoin Core v28 serves
them; ``../shared/spec/rpc.md`` sections 1-2.
"""

__all__: list[str] = []
