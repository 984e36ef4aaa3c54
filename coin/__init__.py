"""coin: a full node for a Bitcoin-style cryptocurrency.

Consensus rules and data formats are Bitcoin's, byte for byte; peers gossip over
WebSockets; the JSON-RPC speaks Bitcoin Core's dialect. Start reading at
`coin/node.py`, which wires every component together.

Layers (imports only point down): primitives <- script <- consensus <- chain <-
mempool <- p2p / rpc / mining <- node.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
