"""The Node: builds and wires every component; the only place that does.

``Node(config, clock=None)`` owns, in start-up order:

1. the network datadir (created) and its ``.lock`` (an exclusive ``fcntl.flock``; a
   second coind on the same datadir fails with ``Cannot obtain a lock on data
   directory <dir>. coind is probably already running.``);
2. logging (:class:`coin.log.NodeLogging`: debug.log, ``-debug`` categories);
3. the pid file (``-pid``, default ``coind.pid`` in the network datadir);
4. the JSON-RPC server (:class:`coin.rpc.server.RPCServer`, with the cookie), which
   answers -28 (warm-up) until every component has started;
5. the registered components, in registration order (:meth:`add_component`).

:meth:`stop` undoes it in reverse: RPC server first (in-flight replies are sent, the
cookie is removed), then components in reverse order (each ``stop()`` must flush its
state to disk), the pid file, logging, and the lock. SIGINT / SIGTERM and the ``stop``
RPC call :meth:`request_shutdown`; :meth:`run` then stops the node and returns 0.
SIGHUP reopens debug.log.

Attachment points for the components written elsewhere (set them, register them with
:meth:`add_component`, and register their RPC method modules with
``node.rpc_table.add_module(...)`` before :meth:`start`)::

    node.chainstate   # coin.chain: ChainState (block index, UTXO set, blocks on disk)
    node.mempool      # coin.mempool: the transaction pool
    node.connman      # coin.p2p: connection manager (peers over WebSockets)
    node.miner        # coin.mining: block templates and the native miner

A component is any object with ``name: str``, ``async start()`` and ``async stop()``
(:class:`Component`). Its ``stop()`` is called even when its ``start()`` failed or was
cancelled midway (a shutdown request during warm-up abandons the start-up), so it must
tolerate a partial start. ``node.clock`` (a :class:`Clock`) is the one time source to pass
to components: ``node.clock()`` is Unix time in seconds, mockable with
``node.clock.set_mocktime(t)`` (``-mocktime``, later ``setmocktime``).

Errors: start-up problems raise :class:`coin.config.ConfigError` with a one-line
message (coind prints ``Error: <message>`` and exits 1).
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import coin
from coin.chain.chainstate import ChainState
from coin.config import Config, ConfigError
from coin.log import NodeLogging
from coin.mempool.fees import FeeEstimator
from coin.mempool.persist import load_mempool, save_mempool
from coin.mempool.pool import Mempool
from coin.mining.miner import Miner
from coin.p2p.connman import ConnMan
from coin.params import ChainParams, get_params
from coin.rpc import (
    blockchain,
    blockchain_extra,
    control,
    mempool,
    mining,
    net,
    output_script,
    rawtransaction,
    scan,
)
from coin.rpc.server import RPCServer
from coin.rpc.table import RPCTable
from coin.rpc.util import amount_from_value

__all__ = ["ChainComponent", "MempoolComponent", "Clock", "Component", "Node", "LOCK_FILENAME"]

LOCK_FILENAME = ".lock"
CLIENT_NAME = "coind"

_log = logging.getLogger("coin")


class Clock:
    """Unix time in seconds, with Core's mock time: ``clock()``; ``set_mocktime(t)`` (0 = real)."""

    def __init__(self, real: Callable[[], float] = time.time, mocktime: int = 0) -> None:
        self._real = real
        self._mock = int(mocktime)

    def __call__(self) -> float:
        return float(self._mock) if self._mock else self._real()

    @property
    def mocktime(self) -> int:
        return self._mock

    def set_mocktime(self, t: int) -> None:
        if t < 0:
            raise ValueError("Mocktime cannot be negative")
        self._mock = int(t)


@runtime_checkable
class Component(Protocol):
    """What the node starts and stops: chain, mempool, p2p, mining..."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Node:
    """A coin node process (see the module doc)."""

    def __init__(self, config: Config, *, clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.params: ChainParams = get_params(config.chain)
        self.clock: Any = clock if clock is not None else Clock(mocktime=config.get_int("mocktime", 0))
        self.net_datadir: Path = config.net_datadir
        self.logging = NodeLogging(config)  # validates -debug (ConfigError)
        self.rpc_table = RPCTable()
        self.rpc_table.add_module(control)
        self.rpc_server: RPCServer | None = RPCServer(config, self.rpc_table, node=self) if config.get_bool("server", True) else None
        self.components: list[Component] = []

        # -- attachment points (wired by the components' owners) ---------------
        self.chainstate: Any = None  # coin.chain
        self.mempool: Any = None  # coin.mempool
        self.connman: Any = None  # coin.p2p
        self.miner: Any = None  # coin.mining

        self.start_time: float | None = None
        self._lock_file: Any = None
        self._pid_path: Path | None = None
        self._shutdown = asyncio.Event()
        self.fatal_error: str | None = None  # set by a component that cannot go on (AbortNode)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started_components: list[Component] = []
        self._logging_started = False
        # One thread for everything that reads or changes chain and mempool state, as
        # Core serialises on cs_main; the miner grinds nonces on threads of its own.
        self._validation = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validation")
        self._mining = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mining")
        self._wire_components()

    def _wire_components(self) -> None:
        """Build the components this node runs and register their RPC method groups."""
        self.miner = Miner()
        # Started in this order (chain, then mempool on top of it, then the peers that
        # feed both) and stopped in reverse.
        self.add_component(ChainComponent(self))
        self.add_component(MempoolComponent(self))
        self.connman = ConnMan(self)
        self.add_component(self.connman)
        for module in (blockchain, blockchain_extra, mempool, mining, net, output_script,
                       rawtransaction, scan):
            self.rpc_table.add_module(module)

    async def run_validation(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the validation thread (all chain and mempool access)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._validation, functools.partial(fn, *args))

    async def run_mining(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a nonce search off the event loop; `node.miner.stop()` ends it early."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._mining, functools.partial(fn, *args))

    # -- components and warm-up ------------------------------------------------------

    def add_component(self, component: Component) -> None:
        """Register a component; started in order after the RPC server, stopped in reverse."""
        self.components.append(component)

    def set_warmup(self, status: str) -> None:
        """Make every RPC call answer -28 ``status`` (components report their loading steps)."""
        self.rpc_table.set_warmup(status)

    def finish_warmup(self) -> None:
        self.rpc_table.finish_warmup()

    def uptime(self) -> float:
        """Seconds since start (Core's GetTime() - GetStartupTime(), mockable)."""
        if self.start_time is None:
            return 0.0
        return self.clock() - self.start_time

    @property
    def log_path(self) -> Path | None:
        return self.logging.path

    # -- shutdown requests --------------------------------------------------------------

    def request_shutdown(self) -> None:
        """Ask :meth:`run` to stop the node; safe from signal handlers and other threads."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._shutdown.set()
            else:
                loop.call_soon_threadsafe(self._shutdown.set)
        else:
            self._shutdown.set()

    @property
    def shutdown_requested(self) -> bool:
        return self._shutdown.is_set()

    async def wait_for_shutdown(self) -> None:
        await self._shutdown.wait()

    def install_signal_handlers(self) -> None:
        """SIGINT / SIGTERM -> request_shutdown; SIGHUP -> reopen debug.log."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.request_shutdown)
        loop.add_signal_handler(signal.SIGTERM, self.request_shutdown)
        loop.add_signal_handler(signal.SIGHUP, self.logging.reopen)

    # -- lifecycle ----------------------------------------------------------------------

    def _lock_datadir(self) -> None:
        path = self.net_datadir / LOCK_FILENAME
        try:
            f = open(path, "a")  # noqa: SIM115 - held open for the process lifetime
        except OSError:
            raise ConfigError(f"Cannot write to data directory '{self.net_datadir}'; check permissions.") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise ConfigError(f"Cannot obtain a lock on data directory {self.net_datadir}. {CLIENT_NAME} is probably already running.") from None
        self._lock_file = f

    def _unlock_datadir(self) -> None:
        if self._lock_file is not None:
            try:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_file.close()
                self._lock_file = None

    def _log_startup(self) -> None:
        _log.info("%s version v%s", CLIENT_NAME, coin.__version__)
        _log.info("Using data directory %s", self.net_datadir)
        conf = self.config.conf_path
        _log.info("Config file: %s", conf if conf is not None else f"{self.config.datadir / 'coin.conf'} (not found, skipping)")
        for line in self.config.logged_args():
            _log.info("%s", line)
        for warning in self.config.warnings:
            _log.warning("%s", warning)
        _log.info("Chain: %s", self.config.chain)

    async def start(self) -> None:
        """Bring the node up (see the module doc). Raises ConfigError on a start-up error;
        call :meth:`stop` afterwards either way.
        """
        self._loop = asyncio.get_running_loop()
        self.start_time = self.clock()
        try:
            self.net_datadir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"Cannot create data directory {self.net_datadir}: {e.strerror}") from None
        self._lock_datadir()
        self.logging.start()
        self._logging_started = True
        self._log_startup()
        pid_path = self.config.get_path("pid", "coind.pid")
        if pid_path is not None:
            try:
                pid_path.write_text(f"{os.getpid()}\n")
                self._pid_path = pid_path
            except OSError as e:
                raise ConfigError(f"Unable to create the PID file '{pid_path}': {e.strerror}") from None
        if self.rpc_server is not None:
            self.rpc_table.set_warmup("RPC server started")
            await self.rpc_server.start()
            _log.info("RPC server listening on %s", ", ".join(f"{h}:{p}" for h, p in self.rpc_server.bound))
        for component in self.components:
            self.set_warmup(f"Loading {component.name}…")
            _log.info("Starting %s", component.name)
            self._started_components.append(component)  # stopped even if start() fails midway
            await component.start()
        self.finish_warmup()
        _log.info("init message: Done loading")

    async def stop(self) -> None:
        """Shut down whatever :meth:`start` brought up, in reverse order. Never raises."""
        _log.info("Shutdown: In progress...")
        if self.miner is not None:
            self.miner.stop()
        if self.rpc_server is not None:
            try:
                await self.rpc_server.stop()
            except Exception:  # noqa: BLE001 - keep shutting down
                _log.exception("Error stopping the RPC server")
        for component in reversed(self._started_components):
            try:
                _log.info("Stopping %s", component.name)
                await component.stop()
            except Exception:  # noqa: BLE001 - one failing component must not block the others
                _log.exception("Error stopping %s", component.name)
        self._started_components.clear()
        self._validation.shutdown(wait=True)
        self._mining.shutdown(wait=True)
        if self._pid_path is not None:
            try:
                self._pid_path.unlink()
            except OSError:
                pass
            self._pid_path = None
        _log.info("Shutdown: done")
        if self._logging_started:
            self.logging.stop()
            self._logging_started = False
        self._unlock_datadir()

    async def run(self) -> int:
        """Start, serve until a shutdown request, stop. Returns the process exit code: 0,
        or 1 after a fatal error (Core's AbortNode).

        Raises ConfigError if start-up fails (after undoing the partial start).
        """
        starting = asyncio.ensure_future(self.start())
        waiting = asyncio.ensure_future(self._shutdown.wait())
        try:
            await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                # A shutdown request while a component is still loading (SIGTERM during
                # warm-up): abandon the start and shut down what is up.
                _log.info("Shutdown requested during start-up")
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
            else:
                starting.result()  # re-raise a start-up error
        except BaseException:
            waiting.cancel()
            await self.stop()
            raise
        try:
            await self.wait_for_shutdown()
        finally:
            await self.stop()
        return 1 if self.fatal_error is not None else 0


class ChainComponent:
    """The chain state as a node component: opened (or reindexed) at start-up on the
    validation thread, blocks from ``-loadblock`` files imported in the background once
    RPC answers (as Core's ThreadImport), flushed and closed at shutdown."""

    name = "chainstate"

    def __init__(self, node: Node) -> None:
        self.node = node
        self._import_task: asyncio.Task | None = None

    async def start(self) -> None:
        node, config = self.node, self.node.config
        node.set_warmup("Loading block index…")

        def open_chain() -> ChainState:
            cs = ChainState(node.params, node.net_datadir,
                            dbcache_mib=config.get_int("dbcache", 300), clock=node.clock)
            if config.get_bool("reindex", False):
                node.set_warmup("Reindexing blocks…")
                cs.reindex(_progress("Reindexing"))
            return cs

        node.chainstate = await node.run_validation(open_chain)
        node.chainstate.subscribe("fatal_error", self._abort)
        if node.rpc_server is not None:
            node.rpc_server.metrics.attach_chain(node.chainstate)
        tip = node.chainstate.tip
        _log.info("Loaded best chain: hashBestChain=%s height=%d", tip.hash, tip.height)
        files = config.get_list("loadblock")
        if files:
            self._import_task = asyncio.create_task(self._import(files))

    def _abort(self, message: str) -> None:
        """Core's AbortNode: the chain state cannot go on (its block files could not be
        written); shut the node down, exit status 1 (any thread)."""
        _log.error("A fatal internal error occurred, see debug.log for details: %s", message)
        if self.node.fatal_error is None:
            self.node.fatal_error = message
        self.node.request_shutdown()

    async def _import(self, files: list[str]) -> None:
        for path in files:
            if self.node.shutdown_requested:
                return
            _log.info("Importing blocks file %s...", path)
            try:
                counts = await self.node.run_validation(
                    self.node.chainstate.load_block_file, path, _progress(f"Importing {path}"))
            except OSError as e:
                _log.error("Unable to open file %s: %s", path, e.strerror)
                continue
            _log.info("Imported %s: %s", path, counts)

    async def stop(self) -> None:
        if self._import_task is not None:
            try:
                await self._import_task
            except Exception:  # noqa: BLE001 - logged; shutdown goes on
                _log.exception("Block import failed")
        if self.node.chainstate is not None:
            await self.node.run_validation(self.node.chainstate.close)


class MempoolComponent:
    """The transaction pool as a node component: built on the chain state with the
    -maxmempool, -minrelaytxfee and -mempoolexpiry settings and a fee estimator,
    following the chain's block connected / disconnected events; with -persistmempool
    (default on) mempool.dat is loaded at start-up and saved at shutdown."""

    name = "mempool"

    def __init__(self, node: Node) -> None:
        self.node = node

    async def start(self) -> None:
        node, config = self.node, self.node.config
        cs = node.chainstate
        min_relay = amount_from_value(config.get("minrelaytxfee", "0.00001"))
        persist = config.get_bool("persistmempool", True)

        def build() -> Mempool:
            pool = Mempool(node.params, cs,
                           max_size_bytes=config.get_int("maxmempool", 300) * 1_000_000,
                           min_relay_fee=min_relay,
                           expiry_hours=config.get_int("mempoolexpiry", 336),
                           clock=node.clock, sigcache=cs.sigcache, fee_estimator=FeeEstimator())
            pool.connect_to_chain(cs)
            if persist:
                counts = load_mempool(pool, node.net_datadir, now=node.clock())
                _log.info("Loaded mempool.dat: %s", counts)
            pool.loaded = True
            return pool

        node.mempool = await node.run_validation(build)

    async def stop(self) -> None:
        node = self.node
        if node.mempool is not None and node.config.get_bool("persistmempool", True):
            path = await node.run_validation(save_mempool, node.mempool, node.net_datadir)
            _log.info("Dumped mempool to %s", path)


def _progress(what: str) -> Callable[[int, int, int], None]:
    """A progress callback that logs a line at every 10% of the bytes done."""
    state = {"next": 0}

    def report(blocks: int, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if percent >= state["next"]:
            _log.info("%s: %d blocks, %d%%", what, blocks, percent)
            state["next"] = percent // 10 * 10 + 10

    return report
