"""``/metrics``: the node's figures in Prometheus' text exposition format (version 0.0.4).

Served by :class:`coin.rpc.server.RPCServer` on the RPC port, ``GET /metrics``, behind
the same HTTP Basic auth as JSON-RPC (401 without it). Content type
``text/plain; version=0.0.4; charset=utf-8``. Written by hand (no dependency): each
family is ``# HELP``, ``# TYPE``, then its samples; label values are escaped (``\\``,
``"``, newline).

Families:

* ``coin_block_height`` (gauge) -- height of the active chain's tip;
* ``coin_peers`` (gauge) -- connected P2P peers;
* ``coin_mempool_transactions`` / ``coin_mempool_bytes`` (gauges) -- pool size and the
  sum of its virtual sizes (getmempoolinfo's ``size`` / ``bytes``);
* ``coin_blocks_connected_total`` (counter) -- blocks connected to the active chain
  since this process attached to the chain state (reorgs count every connect);
* ``coin_block_validation_seconds`` (histogram) -- wall time of connecting each block
  to the active chain (inputs, scripts, UTXO changes: the chain state's
  ``block_validated`` event), whether it came from RPC, P2P or an import;
* ``coin_rpc_calls_total{method="..."}`` (counter) -- JSON-RPC calls by method
  (methods the node does not know count as ``method="unknown"``);
* ``coin_uptime_seconds`` (gauge).

A figure whose component is not running (no chain yet, no P2P) is left out.

How it is wired: :meth:`NodeMetrics.rpc_call` from the server's request path; the
node calls :meth:`NodeMetrics.attach_chain` once it has opened the chain state, which
subscribes to its ``block_connected`` and ``block_validated`` events.

Errors: rendering never raises; a component that fails to answer is left out.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["CONTENT_TYPE", "DEFAULT_BUCKETS", "Histogram", "NodeMetrics", "escape_label", "format_value"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: seconds; a regtest block takes milliseconds, a full mainnet block seconds
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(v: float | int) -> str:
    """A sample value as Prometheus writes it (ints plain, floats repr, +Inf)."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if v == float("inf"):
        return "+Inf"
    if v == float("-inf"):
        return "-Inf"
    if v != v:
        return "NaN"
    return repr(float(v))


class Histogram:
    """Cumulative buckets, sum and count; thread-safe."""

    def __init__(self, buckets: Iterable[float] = DEFAULT_BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sum += value

    def samples(self, name: str) -> list[str]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        lines, running = [], 0
        for bound, c in zip((*self.buckets, float("inf")), counts, strict=True):
            running += c
            lines.append(f'{name}_bucket{{le="{format_value(float(bound))}"}} {running}')
        lines.append(f"{name}_sum {format_value(total)}")
        lines.append(f"{name}_count {running}")
        return lines


class NodeMetrics:
    """The counters the node keeps for ``/metrics`` and their rendering (see the module doc)."""

    def __init__(self, node: Any = None, *, known_method: Callable[[str], bool] | None = None) -> None:
        self.node = node
        self.known_method = known_method or (lambda name: True)
        self.validation = Histogram()
        self._rpc_calls: dict[str, int] = {}
        self._blocks_connected = 0
        self._lock = threading.Lock()
        self._chain: Any = None

    # -- recording -------------------------------------------------------------------

    def rpc_call(self, method: Any) -> None:
        name = method if isinstance(method, str) and self.known_method(method) else "unknown"
        with self._lock:
            self._rpc_calls[name] = self._rpc_calls.get(name, 0) + 1

    def block_connected(self, *args: Any) -> None:
        with self._lock:
            self._blocks_connected += 1

    def observe_validation(self, seconds: float) -> None:
        self.validation.observe(seconds)

    # -- attaching to the chain state --------------------------------------------------

    def attach_chain(self, chainstate: Any) -> None:
        """Follow a chain state's ``block_connected`` and ``block_validated`` events
        (the node calls this once it has opened the chain state)."""
        if chainstate is None or chainstate is self._chain:
            return
        self._chain = chainstate
        chainstate.subscribe("block_connected", self.block_connected)
        chainstate.subscribe("block_validated", lambda _entry, seconds: self.observe_validation(seconds))

    # -- rendering ---------------------------------------------------------------------

    def _gauges(self) -> list[tuple[str, str, float | int]]:
        node = self.node
        out: list[tuple[str, str, float | int]] = []
        if node is None:
            return out
        with contextlib.suppress(Exception):
            out.append(("coin_uptime_seconds", "Seconds since the node started.", int(node.uptime())))
        cs = getattr(node, "chainstate", None)
        if cs is not None:
            with contextlib.suppress(Exception):
                out.append(("coin_block_height", "Height of the active chain's tip.", int(cs.height)))
        connman = getattr(node, "connman", None)
        if connman is not None:
            with contextlib.suppress(Exception):
                out.append(("coin_peers", "Connected P2P peers.", len(connman.peers)))
        pool = getattr(node, "mempool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                info = pool.info()
                out.append(("coin_mempool_transactions", "Transactions in the mempool.", int(info["size"])))
                out.append(("coin_mempool_bytes", "Sum of the virtual sizes of the mempool's transactions.", int(info["bytes"])))
        return out

    def render(self) -> str:
        """The exposition text (ends with a newline)."""
        lines: list[str] = []
        for name, help_text, value in self._gauges():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {format_value(value)}"]
        with self._lock:
            connected = self._blocks_connected
            calls = sorted(self._rpc_calls.items())
        name = "coin_blocks_connected_total"
        lines += [f"# HELP {name} Blocks connected to the active chain since the node started.", f"# TYPE {name} counter",
                  f"{name} {connected}"]
        name = "coin_block_validation_seconds"
        lines += [f"# HELP {name} Wall time to process (check, store, connect) one block.", f"# TYPE {name} histogram"]
        lines += self.validation.samples(name)
        name = "coin_rpc_calls_total"
        lines += [f"# HELP {name} JSON-RPC calls by method.", f"# TYPE {name} counter"]
        lines += [f'{name}{{method="{escape_label(m)}"}} {c}' for m, c in calls]
        return "\n".join(lines) + "\n"
