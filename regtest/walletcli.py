"""Drive ``coin-wallet`` (issue 7's CLI) as a subprocess, one ``--json`` command at a time.

``WalletCLI(node, name, passphrase)`` runs ``coin-wallet -regtest -datadir=<node's>
-rpcport=<node's> -wallet=<name> COMMAND ... --json`` with ``COIN_WALLET_PASSPHRASE``
set, and returns the one JSON object the command prints. The wallet file lives in the
node's datadir (``<datadir>/regtest/wallets/<name>.sqlite``) and the node's cookie is
read from there, exactly as a user running coin-wallet by hand would have it.

Errors: :class:`WalletCLIError` (the command line, exit code and stderr) when the
command fails or prints something that is not a JSON object; :func:`available` says
whether the wallet CLI is installed at all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

__all__ = ["WalletCLI", "WalletCLIError", "available", "wallet_command"]

WALLET_MODULE = "coin.wallet.cli"
_TRAMPOLINE = f"import sys; from {WALLET_MODULE} import main; sys.exit(main())"


class WalletCLIError(RuntimeError):
    """A coin-wallet command failed (or its output was not one JSON object)."""


def available() -> bool:
    """True if coin-wallet (``coin.wallet.cli``) is installed."""
    try:
        return importlib.util.find_spec(WALLET_MODULE) is not None
    except ImportError:
        return False


def wallet_command(*args: str) -> list[str]:
    """The command line that runs coin-wallet with this interpreter."""
    return [sys.executable, "-P", "-c", _TRAMPOLINE, *args]  # -P: see framework.PYTHON


class WalletCLI:
    """One named wallet, reached through one node (see the module doc)."""

    def __init__(self, node: Any, name: str, passphrase: str = "regtest", *, timeout: float = 300.0) -> None:
        self.node = node
        self.name = name
        self.passphrase = passphrase
        self.timeout = timeout

    def base_args(self) -> list[str]:
        return ["-regtest", f"-datadir={self.node.datadir}", f"-rpcport={self.node.rpc_port}", f"-wallet={self.name}"]

    def run(self, command: str, *args: str) -> dict[str, Any]:
        """Run one command with ``--json``; return its JSON object."""
        argv = wallet_command(*self.base_args(), command, *args, "--json")
        env = dict(os.environ, COIN_WALLET_PASSPHRASE=self.passphrase)
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise WalletCLIError(f"coin-wallet {command} did not finish within {self.timeout:g}s") from None
        shown = " ".join(["coin-wallet", *argv[3:]])
        if r.returncode != 0:
            raise WalletCLIError(f"`{shown}` exited with {r.returncode}: {(r.stderr or r.stdout).strip()}")
        try:
            value = json.loads(r.stdout, parse_float=Decimal)
        except ValueError:
            raise WalletCLIError(f"`{shown}` printed no JSON object: {r.stdout.strip()[:500]!r}") from None
        if not isinstance(value, dict):
            raise WalletCLIError(f"`{shown}` printed {type(value).__name__}, not a JSON object")
        return value

    # -- the commands the demo and `up` use --------------------------------------------

    def create(self) -> dict[str, Any]:
        return self.run("create")

    def getnewaddress(self) -> str:
        return str(self.run("getnewaddress")["address"])

    def sync(self) -> dict[str, Any]:
        return self.run("sync")

    def getbalance(self) -> dict[str, Any]:
        """``balance`` and its parts, amounts as Decimal BTC."""
        return self.run("getbalance")

    def send(self, address: str, amount: Decimal | str, *extra: str) -> dict[str, Any]:
        return self.run("send", address, str(amount), *extra)
