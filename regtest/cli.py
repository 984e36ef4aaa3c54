"""``coin-regtest``: a local network of coind processes in one command.

    coin-regtest up [--nodes N] [--topology line|ring|mesh] [--block-interval SECONDS] [--dir DIR]
    coin-regtest down [--dir DIR]
    coin-regtest status [--dir DIR] [--json]
    coin-regtest demo [--dir DIR] [--keep]

``up`` starts N nodes (default 3) with their own datadirs under DIR and free ports,
connects them (``addnode onetry`` along the topology's edges), creates a wallet on node
0 with coin-wallet and mines 101 blocks to it, writes ``DIR/network.json`` (pids, ports,
cookie paths: see :mod:`coin.regtest.state`), prints the table of nodes, then shows a
live status line (a terminal) or a plain line every few seconds (anything else) with
height, mempool size and peers per node, mining a block every ``--block-interval``
seconds on a rotating node, until Ctrl-C / SIGTERM / SIGHUP, when it stops every node
cleanly and removes the state file. ``down`` stops a network from another shell;
``status`` reads one. ``demo`` runs the payment walk-through of
:mod:`coin.regtest.demo` and exits 0 when the payment is confirmed on every node.

DIR defaults to ``<tmp>/coin-regtest-<uid>``, a predictable name in a shared directory:
every command refuses that default DIR if it is a symbolic link or not a directory, is
not owned by the current user, or is writable by group or others (one ``error:`` line
naming the problem; remove it or pass ``--dir``). ``up`` creates DIR (default or not)
mode 0700 and tightens an existing default DIR of ours to 0700; the state file and the
lock file are 0600. The wallet passphrase (``COIN_WALLET_PASSPHRASE``, default
``regtest``) is neither stored nor printed unless it is that public default.

``up`` refuses a DIR where a network
is still running or starting (it holds an flock on ``DIR/network.lock`` for its whole
life and writes the state file before it starts its first node) and a non-empty DIR
that is not a coin-regtest directory; an old, stopped coin-regtest DIR is wiped and
started afresh.

Exit codes: 0 success; 1 a failure, printed as one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import fcntl
import itertools
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from coin.crypto.address import p2wpkh_script, script_to_address
from coin.crypto.hashes import hash160
from coin.params import get_params
from coin.regtest import walletcli
from coin.regtest.framework import Network, pid_alive
from coin.regtest.state import (
    STATE_FILENAME,
    StateError,
    node_entry,
    read_state,
    remove_state,
    write_state,
)
from coin.rpc.client import RPCClient
from coin.rpc.errors import RPCError

__all__ = ["DEFAULT_PASSPHRASE", "check_default_dir", "default_dir", "fallback_address", "main"]

STATUS_PERIOD = 5.0  # seconds between plain status lines when stdout is not a terminal
WALLET_NAME = "miner"
DEFAULT_PASSPHRASE = "regtest"  # the wallet's, when COIN_WALLET_PASSPHRASE is not set
PASSPHRASE_ENV = "COIN_WALLET_PASSPHRASE"
_NODE_DIR_PREFIX = "node"
LOCK_FILENAME = "network.lock"  # flock()ed by `up` for its whole life
_OUR_FILES = {STATE_FILENAME, STATE_FILENAME + ".tmp", LOCK_FILENAME}


class _Interrupted(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP: stop the network."""


def default_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"coin-regtest-{os.getuid()}"


def _is_default_dir(path: Path) -> bool:
    return os.path.abspath(path) == os.path.abspath(default_dir())


def check_default_dir(path: Path) -> str | None:
    """Why the default DIR (a predictable name in shared /tmp) must not be used, or None:
    it is absent, or a real directory owned by us and not writable by group or others.
    A symbolic link is refused even if it points to such a directory."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    where = f"refusing to use {path}:"
    fix = "remove it, or pass --dir"
    if stat.S_ISLNK(st.st_mode):
        return f"{where} it is a symbolic link ({fix})"
    if not stat.S_ISDIR(st.st_mode):
        return f"{where} it is not a directory ({fix})"
    uid = os.getuid()
    if st.st_uid != uid:
        return f"{where} it is owned by uid {st.st_uid}, not by you (uid {uid}) ({fix})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"{where} it is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}; "
                f"chmod 700 it, or pass --dir)")
    return None


def _directory(text: str) -> tuple[Path, bool, str | None]:
    """--dir as given -> (resolved path, is it the default DIR, why it is refused or None)."""
    raw = Path(text).expanduser()
    default = _is_default_dir(raw)
    problem = check_default_dir(raw) if default else None
    return raw.resolve(), default, problem


def fallback_address() -> str:
    """A regtest P2WPKH address nobody holds a key for: where blocks go without a wallet."""
    return script_to_address(p2wpkh_script(hash160(b"coin-regtest")), get_params("regtest")) or ""


def _err(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


# -- signals ---------------------------------------------------------------------------


class _Signals:
    """SIGINT/SIGTERM/SIGHUP raise _Interrupted once; later ones are ignored while stopping."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: int | None = None
        self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
            raise _Interrupted()

    def stopping(self) -> None:
        """From now on signals only get noted (the network is being stopped)."""
        if self.received is None:
            self.received = 0

    def restore(self) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


# -- up ----------------------------------------------------------------------------------


def _is_ours(directory: Path) -> bool:
    """DIR is absent, empty, or holds only what coin-regtest puts there."""
    if not directory.exists():
        return True
    return all(e.name in _OUR_FILES or (e.name.startswith(_NODE_DIR_PREFIX) and e.is_dir())
               for e in directory.iterdir())


def _make_dir(directory: Path) -> None:
    """DIR, created mode 0700 (its missing parents with the usual mode) if absent."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass


def _lock_dir(directory: Path) -> int | None:
    """Take DIR for this `up`: an exclusive flock on DIR/network.lock, held until the
    process ends. None if another `up` holds it (running, or still starting its nodes).
    DIR is created mode 0700 if it does not exist."""
    _make_dir(directory)
    fd = os.open(directory / LOCK_FILENAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _running_message(directory: Path) -> str:
    return f"a network is already running in {directory} (stop it with: coin-regtest down --dir {directory})"


def _prepare_dir(directory: Path) -> str | None:
    """Make DIR ready for a fresh network (the caller holds its lock); an error message
    if it cannot be."""
    try:
        state = read_state(directory)
    except StateError as e:
        return str(e)
    if state is not None:
        pids = [state.get("pid")] + [n.get("pid") for n in state["nodes"]]
        if any(isinstance(p, int) and pid_alive(p) for p in pids):
            return _running_message(directory)
    if directory.exists():
        entries = list(directory.iterdir())
        if state is None and not _is_ours(directory):
            return f"{directory} is not empty and is not a coin-regtest directory"
        for e in entries:
            if e.is_dir() and e.name.startswith(_NODE_DIR_PREFIX):
                shutil.rmtree(e)
        remove_state(directory)
    _make_dir(directory)
    return None


def _print_table(net: Network, wallet: dict[str, Any] | None, out: TextIO) -> None:
    rows = [node_entry(n) for n in net]
    w = max(len(r["p2p_address"]) for r in rows)
    print(f"{'node':<5} {'pid':<8} {'p2p address':<{w}}  rpc url", file=out)
    for r in rows:
        print(f"{r['index']:<5} {r['pid']:<8} {r['p2p_address']:<{w}}  {r['rpc_url']}", file=out)
    for r in rows:
        print(f"node {r['index']}:  cookie  {r['cookie']}", file=out)
        print(f"         cli     {r['cli']}", file=out)
    if wallet is not None:
        # the public default is shown; a passphrase the user chose never is
        secret = (f"{PASSPHRASE_ENV}={DEFAULT_PASSPHRASE}" if wallet["passphrase_default"]
                  else f"passphrase: the {PASSPHRASE_ENV} you set")
        print(
            f"wallet '{wallet['name']}' on node {wallet['node']} ({secret}): "
            f"{wallet.get('balance', '?')} BTC, address {wallet['address']}",
            file=out,
        )
    out.flush()


class _Poller:
    """Height, mempool size and peer count per node; '-' for what a node cannot answer."""

    def __init__(self, entries: Sequence[dict[str, Any]]) -> None:
        self.clients = [RPCClient("127.0.0.1", e["rpc_port"], cookie_path=Path(e["cookie"]), timeout=5) for e in entries]
        self.missing: set[str] = set()

    def _ask(self, client: RPCClient, method: str, pick: Any = None) -> Any:
        if method in self.missing:
            return "-"
        try:
            value = client.call(method)
        except RPCError as e:
            if e.code == -32601:
                self.missing.add(method)
            return "-"
        except Exception:  # noqa: BLE001 - a node that does not answer shows '-'
            return "-"
        return pick(value) if pick else value

    def poll(self) -> list[dict[str, Any]]:
        return [
            {
                "height": self._ask(c, "getblockcount"),
                "mempool": self._ask(c, "getmempoolinfo", lambda v: v.get("size", "-")),
                "peers": self._ask(c, "getconnectioncount"),
            }
            for c in self.clients
        ]


def _status_line(figures: list[dict[str, Any]]) -> str:
    parts = [f"node{i} h={f['height']} mempool={f['mempool']} peers={f['peers']}" for i, f in enumerate(figures)]
    return time.strftime("%H:%M:%S") + "  " + " | ".join(parts)


def cmd_up(args: argparse.Namespace) -> int:
    directory, default, problem = _directory(args.dir)
    if problem:
        return _err(problem)
    if args.nodes < 1:
        return _err("--nodes must be at least 1")
    if args.block_interval < 0:
        return _err("--block-interval must not be negative")
    # One `up` per DIR, from the moment it starts its first node: a second `up` must not
    # wipe a starting network's node directories, and `down` must find a starting one.
    if not (directory / STATE_FILENAME).exists() and not _is_ours(directory):
        return _err(f"{directory} is not empty and is not a coin-regtest directory")
    if default:
        # checked again once it exists (another user may have taken the name between the
        # check and the mkdir) before anything is written in it; then private: an older
        # coin-regtest created it with the umask's mode
        _make_dir(directory)
        problem = check_default_dir(directory)
        if problem:
            return _err(problem)
        os.chmod(directory, 0o700)
    lock = _lock_dir(directory)
    if lock is None:
        return _err(_running_message(directory))
    problem = _prepare_dir(directory)
    if problem:
        os.close(lock)
        return _err(problem)
    out = sys.stdout
    signals = _Signals()
    net = Network(args.nodes, args.topology, directory)
    state: dict[str, Any] = {"pid": os.getpid(), "status": "starting", "topology": args.topology,
                             "block_interval": args.block_interval, "wallet": None, "nodes": []}
    code = 0
    try:
        write_state(directory, state)  # `down` can stop us (SIGTERM) while nodes start
        print(f"starting {args.nodes} nodes in {directory} ...", file=out, flush=True)
        net.start(connect=False)
        state["nodes"] = [node_entry(n) for n in net]
        write_state(directory, state)
        connected = False
        if args.nodes > 1:
            if net[0].has_rpc("addnode"):
                net.connect_all()
                connected = True
                print(f"connected: {args.topology} ({', '.join(f'{a}-{b}' for a, b in net.edges)})", file=out, flush=True)
            else:
                print("warning: this coind has no P2P networking yet (no addnode RPC): nodes are not connected", file=out, flush=True)
        address = fallback_address()
        passphrase = os.environ.get(PASSPHRASE_ENV, DEFAULT_PASSPHRASE)
        wallet: dict[str, Any] | None = None
        if walletcli.available():
            w = walletcli.WalletCLI(net[0], WALLET_NAME, passphrase)
            w.create()
            address = w.getnewaddress()
            # never the passphrase itself: whoever uses the wallet has it in the environment
            wallet = {"name": WALLET_NAME, "node": 0, "address": address,
                      "passphrase_default": passphrase == DEFAULT_PASSPHRASE}
        else:
            print("warning: coin-wallet is not installed: mining to an address without a wallet", file=out, flush=True)
        net[0].generatetoaddress(101, address)
        if connected:
            net.sync_blocks()
        if wallet is not None:
            w.sync()
            wallet["balance"] = str(w.getbalance().get("balance", "?"))
        # the table first: whoever waits for "running" in the state file finds it printed
        _print_table(net, wallet, out)
        print("Ctrl-C stops every node.", file=out, flush=True)
        state.update(status="running", wallet=wallet)
        write_state(directory, state)
        code = _run_loop(net, args.block_interval, address, out)
    except _Interrupted:
        code = 0
    except Exception as e:  # noqa: BLE001 - any failure: report it, stop the nodes
        signals.stopping()
        print(file=out)
        code = _err(str(e) or type(e).__name__)
    finally:
        signals.stopping()
        if out.isatty():
            print(file=out)
        print(f"stopping {len(net)} nodes ...", file=out, flush=True)
        try:
            net.stop(check=False)
        finally:
            for node in net:
                node.kill()
            remove_state(directory)
            os.close(lock)
            signals.restore()
        print("all nodes stopped.", file=out, flush=True)
    return code


def _run_loop(net: Network, interval: float, address: str, out: TextIO) -> int:
    poller = _Poller([node_entry(n) for n in net])
    tty = out.isatty()
    rotation = itertools.cycle(range(len(net)))
    now = time.monotonic()
    next_block = now + interval if interval > 0 else float("inf")
    next_print = now
    while True:
        for node in net:
            if not node.running:
                code = node.process.returncode if node.process is not None else None
                raise RuntimeError(f"node {node.index} exited unexpectedly (code {code}); see {node.debug_log_path}")
        now = time.monotonic()
        if now >= next_block:
            i = next(rotation)
            try:
                net[i].generatetoaddress(1, address)
            except RPCError as e:
                print(f"\nwarning: mining on node {i} failed: {e}", file=out, flush=True)
            next_block = max(next_block + interval, now)
        line = _status_line(poller.poll())
        if tty:
            out.write("\r\x1b[K" + line)
            out.flush()
        elif now >= next_print:
            print(line, file=out, flush=True)
            next_print = now + STATUS_PERIOD
        time.sleep(1.0)


# -- down / status -------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def cmd_down(args: argparse.Namespace) -> int:
    directory, _, problem = _directory(args.dir)
    if problem:
        return _err(problem)
    try:
        state = read_state(directory)
    except StateError as e:
        return _err(str(e))
    if state is None:
        return _err(f"no coin-regtest network in {directory}")
    up_pid = state.get("pid")
    if isinstance(up_pid, int) and pid_alive(up_pid) and "regtest" in _cmdline(up_pid):
        os.kill(up_pid, signal.SIGTERM)  # `up` stops its nodes and removes the state file
        _wait_gone(up_pid, args.timeout)
    stopped = 0
    for entry in state["nodes"]:
        pid = entry.get("pid")
        if not (isinstance(pid, int) and pid_alive(pid) and entry["datadir"] in _cmdline(pid)):
            continue
        try:
            RPCClient("127.0.0.1", entry["rpc_port"], cookie_path=Path(entry["cookie"]), timeout=10).call("stop")
        except Exception:  # noqa: BLE001 - not answering: signal it
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, args.timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)
        stopped += 1
    remove_state(directory)
    print(f"network in {directory} stopped" + (f" ({stopped} nodes left running by `up` were stopped here)" if stopped else ""))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    directory, _, problem = _directory(args.dir)
    if problem:
        return _err(problem)
    try:
        state = read_state(directory)
    except StateError as e:
        return _err(str(e))
    if state is None:
        return _err(f"no coin-regtest network in {directory}")
    figures = _Poller(state["nodes"]).poll()
    up_alive = isinstance(state.get("pid"), int) and pid_alive(state["pid"])
    nodes = []
    for entry, fig in zip(state["nodes"], figures, strict=True):
        nodes.append({**entry, "running": isinstance(entry.get("pid"), int) and pid_alive(entry["pid"]), **fig})
    healthy = up_alive and all(n["running"] for n in nodes)
    if args.json:
        print(json.dumps({**state, "up_running": up_alive, "nodes": nodes}, indent=2))
        return 0 if healthy else 1
    print(f"network in {directory}: {state.get('status')}, `coin-regtest up` pid {state.get('pid')} "
          f"({'running' if up_alive else 'NOT running'}), topology {state.get('topology')}")
    print(f"{'node':<5} {'pid':<8} {'state':<8} {'height':<7} {'mempool':<8} {'peers':<6} rpc url")
    for n in nodes:
        print(f"{n['index']:<5} {n['pid']:<8} {'running' if n['running'] else 'DOWN':<8} {n['height']!s:<7} "
              f"{n['mempool']!s:<8} {n['peers']!s:<6} {n['rpc_url']}")
    for n in nodes:
        print(f"node {n['index']} cli: {n['cli']}")
    return 0 if healthy else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from coin.regtest.demo import run_demo

    return run_demo(Path(args.dir).expanduser().resolve() if args.dir else None, keep=args.keep)


# -- main ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coin-regtest", description="A local regtest network of coind processes.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="start a network and keep it running until Ctrl-C")
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    up.add_argument("--topology", choices=("line", "ring", "mesh"), default="line", help="how nodes connect (default line)")
    up.add_argument("--block-interval", type=float, default=0.0, metavar="SECONDS",
                    help="mine a block every SECONDS on a rotating node (default 0: never)")
    up.add_argument("--dir", default=str(default_dir()), help="where datadirs and the state file go (default %(default)s)")
    down = sub.add_parser("down", help="stop a network started by `up` (from another shell)")
    down.add_argument("--dir", default=str(default_dir()), help="the network's directory (default %(default)s)")
    down.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    st = sub.add_parser("status", help="show a running network")
    st.add_argument("--dir", default=str(default_dir()), help="the network's directory (default %(default)s)")
    st.add_argument("--json", action="store_true", help="print the state and live figures as JSON")
    demo = sub.add_parser("demo", help="start 3 nodes, pay between two wallets, confirm on every node, stop")
    demo.add_argument("--dir", default=None, help="where to put the nodes (default: a temporary directory)")
    demo.add_argument("--keep", action="store_true", help="keep the nodes' datadirs afterwards")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run coin-regtest; returns the exit code."""
    args = _parser().parse_args(argv)
    handler = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "demo": cmd_demo}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
