"""The state file of a running ``coin-regtest up`` network: ``<DIR>/network.json``.

Written by ``up`` (atomically: a temporary file created mode 0600 renamed over it)
before its first node starts (no nodes yet), when the nodes have started and again
when the network is ready; removed when ``up`` has stopped every node. ``up`` also
holds an flock on ``<DIR>/network.lock`` for its whole life (see
:mod:`coin.regtest.cli`). ``down`` and ``status`` read it from another shell. It holds
no secret: cookies are named by path, and the wallet's passphrase is never stored (only
whether it is the public default, ``regtest``; otherwise it is the one the user set in
``COIN_WALLET_PASSPHRASE``). Layout::

    {
      "format": 1,
      "pid": 12345,                 # the `coin-regtest up` process
      "status": "starting" | "running",
      "started": 1790000000,        # Unix time
      "topology": "line", "block_interval": 0,
      "wallet": {"name": "miner", "node": 0, "address": "bcrt1...", "passphrase_default": true,
                 "balance": "50.00000000"} | null,
      "nodes": [{"index": 0, "pid": 12346, "datadir": "...", "rpc_port": 40000,
                 "p2p_port": 40001, "p2p_address": "127.0.0.1:40001",
                 "rpc_url": "http://127.0.0.1:40000/", "cookie": ".../regtest/.cookie",
                 "cli": "coin-cli -regtest -datadir=... -rpcport=40000"}, ...]
    }

Errors: :func:`read_state` returns None when there is no state file and raises
:class:`StateError` for one that cannot be read.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["STATE_FILENAME", "StateError", "cli_line", "node_entry", "read_state", "remove_state", "write_state"]

STATE_FILENAME = "network.json"
FORMAT = 1


class StateError(RuntimeError):
    """A state file exists but is not one this version can read."""


def cli_line(node: Any) -> str:
    """The coin-cli command line (a shell string) that reaches ``node``."""
    exe = ["coin-cli"] if shutil.which("coin-cli") else [sys.executable, "-P", "-m", "coin.cli.coin_cli"]
    return shlex.join([*exe, *node.cli_args()])


def node_entry(node: Any) -> dict[str, Any]:
    return {
        "index": node.index,
        "pid": node.pid,
        "datadir": str(node.datadir),
        "rpc_port": node.rpc_port,
        "p2p_port": node.p2p_port,
        "p2p_address": node.p2p_address,
        "rpc_url": node.rpc_url,
        "cookie": str(node.cookie_path),
        "cli": cli_line(node),
    }


def write_state(directory: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (with ``format``) to ``<directory>/network.json`` atomically and
    private: a fresh temporary file created mode 0600 (never following a symlink, never
    reusing a file someone else left there), then renamed over the old one."""
    path = directory / STATE_FILENAME
    tmp = directory / (STATE_FILENAME + ".tmp")
    data = {"format": FORMAT, "started": int(time.time()), **state}
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_state(directory: Path) -> dict[str, Any] | None:
    path = directory / STATE_FILENAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(f"cannot read {path}: {e.strerror}") from None
    try:
        state = json.loads(text)
    except ValueError:
        raise StateError(f"{path} is not valid JSON") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("nodes"), list):
        raise StateError(f"{path} is not a coin-regtest state file (format {FORMAT})")
    return state


def remove_state(directory: Path) -> None:
    for name in (STATE_FILENAME, STATE_FILENAME + ".tmp"):
        try:
            (directory / name).unlink()
        except FileNotFoundError:
            pass
