"""``coin-wallet``: the wallet's command line.

Usage::

    coin-wallet [-regtest|-chain=<chain>] [-datadir=<dir>] [-conf=<file>]
                [-rpcconnect=<ip>[:port]] [-rpcport=<port>] [-rpcuser=<u> -rpcpassword=<pw>]
                [-rpccookiefile=<loc>] [-wallet=<name>] COMMAND [options] [--json]

Global flags are Core-style (single dash, read with coin.config exactly as coin-cli
reads them, coin.conf included); the node is reached as coin-cli reaches it (the
``.cookie`` of the network datadir unless -rpcpassword is given). The wallet file is
``<datadir>/<netdir>/wallets/<name>.sqlite`` (``-wallet``, default ``default``).

Commands (each takes ``--json`` and then prints exactly ONE JSON object):

    create [--words 12|24] [--birthday HEIGHT]      a new wallet (no node needed)
    restore [--mnemonic "words..."] [--birthday HEIGHT]
                                                    from recovery words (no node needed;
                                                    words from --mnemonic, the environment
                                                    variable COIN_WALLET_MNEMONIC or a prompt)
    getnewaddress [--type bech32|p2sh-segwit|legacy]   {"address"} (no node needed)
    getbalance                                      {"balance","confirmed","unconfirmed","immature"} BTC
    listunspent                                     {"unspent": [...]}
    listtransactions                                {"transactions": [...]}
    send ADDRESS AMOUNT [--feerate SAT_VB] [--no-rbf] {"txid","fee"} (fee in BTC)
    sendmany ADDR=AMOUNT ... | sendmany '{"addr": amount, ...}' [--feerate SAT_VB]
    bumpfee TXID [--feerate SAT_VB]                 {"txid","origfee","fee","errors"}
    sync                                            {"height","hash","blocks","rolled_back"}
    dumpmnemonic                                    {"mnemonic"} (asks for the passphrase)
    info                                            name, network, path, accounts (no node)

Amounts are BTC as Core takes them (decimal, at most 8 places). Commands that need
chain data sync with the node first (a progress bar on stderr for long syncs when it
is a terminal). The wallet passphrase comes from COIN_WALLET_PASSPHRASE or a prompt
(asked twice on create/restore).

Errors: one line ``error: <message>`` on stderr and exit status 1, never a traceback:
wrong passphrase, bad address or amount, insufficient funds, node unreachable, an
error the node returned, a missing wallet.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from coin.config import CLI_ARGS, Arg, Config, ConfigError, help_message, parse_args
from coin.crypto.address import InvalidAddress
from coin.rpc.client import ConnectionFailed, RPCClient, RPCClientError, RPCError

from . import store
from .accounts import ScriptType
from .bip39 import InvalidMnemonic
from .history import get_balances, list_transactions, list_unspent
from .spend import COIN, FeeRate, SigningError, SpendError, bump_fee, send
from .sync import ChainFollower, SyncError

__all__ = ["WALLET_ARGS", "main", "parse_amount", "wallet_path"]

PASSPHRASE_ENV = "COIN_WALLET_PASSPHRASE"
MNEMONIC_ENV = "COIN_WALLET_MNEMONIC"
_MAX_MONEY = 21_000_000 * COIN

_FROM_CLI = {a.name: a for a in CLI_ARGS}
#: The global flags: coin-cli's connection flags plus -wallet.
WALLET_ARGS: tuple[Arg, ...] = tuple(
    [_FROM_CLI[n] for n in ("conf", "datadir", "version", "help", "chain", "regtest", "rpcconnect",
                            "rpccookiefile", "rpcport", "rpcuser", "rpcpassword",
                            "rpcclienttimeout")]
    + [Arg("wallet", "str", "default", "Use the wallet <name>: <datadir>/<netdir>/wallets/<name>.sqlite",
           "Options", "<name>")]
)

_TYPES = {"bech32": ScriptType.P2WPKH, "p2sh-segwit": ScriptType.P2SH_P2WPKH,
          "legacy": ScriptType.P2PKH}
_HEADER = "coin-wallet: an HD wallet that pays through any coind over JSON-RPC"
_USAGE = (f"{_HEADER}\n\nUsage: coin-wallet [options] <command> [command options] [--json]\n\n"
          "Commands: create, restore, getnewaddress, getbalance, listunspent, listtransactions,\n"
          "send, sendmany, bumpfee, sync, dumpmnemonic, info (coin-wallet <command> --help)\n")


class _Failure(Exception):
    """A failure printed as ``error: <message>`` (exit 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D401 - argparse's hook
        raise _Failure(f"{self.prog}: {message}")


# --- values -------------------------------------------------------------------------


def parse_amount(text: str) -> int:
    """A BTC amount as Core's AmountFromValue: decimal, at most 8 places, > 0 and at
    most 21e6 BTC. Returns satoshis; _Failure ("Invalid amount" / "Amount out of range")."""
    try:
        d = Decimal(str(text).strip())
    except InvalidOperation:
        raise _Failure(f"Invalid amount: {text!r}") from None
    if not d.is_finite():
        raise _Failure(f"Invalid amount: {text!r}")
    sats = d * COIN
    if sats != sats.to_integral_value():
        raise _Failure(f"Invalid amount: {text!r} (more than 8 decimal places)")
    sats = int(sats)
    if sats <= 0 or sats > _MAX_MONEY:
        raise _Failure(f"Amount out of range: {text}")
    return sats


def _height(text: str) -> int:
    """A block height argument (argparse type): an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a block height: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a block height must be 0 or more, not {value}")
    return value


def _feerate(text: str | None) -> FeeRate | None:
    if text is None:
        return None
    try:
        return FeeRate.from_sat_per_vb(text)
    except SpendError as e:
        raise _Failure(str(e)) from None


class _BTC(int):
    """Satoshis printed as a BTC JSON number with 8 decimals."""

    def __str__(self) -> str:
        sign = "-" if self < 0 else ""
        q, r = divmod(abs(int(self)), COIN)
        return f"{sign}{q}.{r:08d}"


def _dumps(obj: Any, indent: int = 0) -> str:
    """JSON with _BTC amounts as exact 8-decimal numbers (Core's layout, 2-space indent)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, _BTC):
        return str(obj)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list | tuple):
        if not obj:
            return "[]"
        return "[\n" + ",\n".join(inner + _dumps(v, indent + 2) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def wallet_path(config: Config, name: str) -> Path:
    """``<datadir>/<netdir>/wallets/<name>.sqlite`` (a plain name, no path parts)."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise _Failure(f"invalid wallet name {name!r}")
    return config.net_datadir / "wallets" / f"{name}.sqlite"


# --- the pieces commands share ------------------------------------------------------


class _Context:
    def __init__(self, config: Config, args: argparse.Namespace):
        self.config = config
        self.args = args
        self.name = config.get("wallet", "default") or "default"
        self.path = wallet_path(config, self.name)
        self._rpc = None
        self._wallet = None

    def rpc(self) -> RPCClient:
        if self._rpc is None:
            self._rpc = make_rpc(self.config)
        return self._rpc

    def wallet(self):
        if self._wallet is None:
            if not self.path.is_file():
                raise _Failure(f"no wallet {self.name!r} at {self.path} (create it with "
                               f"'coin-wallet create' or 'coin-wallet restore')")
            self._wallet = store.open(self.path)
            if self._wallet.network != self.config.chain:
                raise _Failure(f"wallet {self.name!r} is for {self._wallet.network}, not {self.config.chain}")
        return self._wallet

    def unlock(self):
        w = self.wallet()
        if w.is_locked:
            w.unlock(_passphrase(f"Passphrase for wallet {self.name!r}: ", confirm=False))
        return w

    def sync(self):
        w = self.wallet()
        bar = _ProgressBar(sys.stderr)
        try:
            return ChainFollower(w, self.rpc(), progress=bar).sync()
        finally:
            bar.close()

    def close(self):
        if self._wallet is not None:
            self._wallet.close()


def make_rpc(config: Config) -> RPCClient:
    """The node's RPC client, as coin-cli builds it (tests replace this function)."""
    return RPCClient.from_config(config)


def _passphrase(prompt: str, confirm: bool) -> str:
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        if not env:
            raise _Failure(f"{PASSPHRASE_ENV} is empty")
        return env
    try:
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat the passphrase: ") != first:
            raise _Failure("the passphrases do not match")
    except EOFError:
        raise _Failure(f"no passphrase given (set {PASSPHRASE_ENV} or run in a terminal)") from None
    if not first:
        raise _Failure("an empty passphrase is not allowed")
    return first


class _ProgressBar:
    """A one-line progress bar on a terminal (nothing when `stream` is not a TTY or the
    sync is short)."""

    def __init__(self, stream, minimum: int = 200):
        self.stream = stream
        self.minimum = minimum
        self.drawn = False
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or total < self.minimum:
            return
        width = 30
        filled = width * done // max(total, 1)
        self.stream.write(f"\rsyncing [{'#' * filled}{' ' * (width - filled)}] {done}/{total} blocks")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _out(args, obj: dict, text: str) -> None:
    if args.json:
        print(_dumps(obj))
    elif text:
        print(text)


# --- commands -----------------------------------------------------------------------


def _node_tip(config: Config) -> int | None:
    """The node's height if it answers quickly, else None (create must work offline)."""
    try:
        client = make_rpc(config)
        client.timeout = 3.0
        return int(client.call("getblockcount"))
    except (RPCClientError, RPCError, ValueError, TypeError, OSError):
        return None


def cmd_create(ctx: _Context) -> None:
    a = ctx.args
    if ctx.path.exists():
        raise _Failure(f"wallet {ctx.name!r} already exists at {ctx.path}")
    birthday = a.birthday
    if birthday is None:
        tip = _node_tip(ctx.config)
        birthday = tip if tip is not None else 0
    passphrase = _passphrase("Passphrase to encrypt the new wallet: ", confirm=True)
    w = store.create(ctx.path, passphrase, ctx.config.chain, None, name=ctx.name,
                     birthday_height=birthday, strength=128 if a.words == 12 else 256)
    ctx._wallet = w
    first = w.get_new_address(ScriptType.P2WPKH)
    _out(a, {"name": ctx.name, "path": str(ctx.path), "network": w.network,
             "birthday": birthday, "address": first.address},
         f"Created wallet {ctx.name!r} at {ctx.path}\nFirst address: {first.address}\n"
         f"Write down the recovery words: coin-wallet -wallet={ctx.name} dumpmnemonic")


def cmd_restore(ctx: _Context) -> None:
    a = ctx.args
    if ctx.path.exists():
        raise _Failure(f"wallet {ctx.name!r} already exists at {ctx.path}")
    words = a.mnemonic if a.mnemonic is not None else os.environ.get(MNEMONIC_ENV)
    if words is None:
        try:
            words = getpass.getpass("Recovery words: ")
        except EOFError:
            raise _Failure(f"no recovery words given (--mnemonic or {MNEMONIC_ENV})") from None
    words = " ".join(words.split())
    from .bip39 import validate_mnemonic

    validate_mnemonic(words)   # before asking for a passphrase
    passphrase = _passphrase("Passphrase to encrypt the restored wallet: ", confirm=True)
    w = store.create(ctx.path, passphrase, ctx.config.chain, words, name=ctx.name,
                     birthday_height=a.birthday or 0)
    ctx._wallet = w
    _out(a, {"name": ctx.name, "path": str(ctx.path), "network": w.network,
             "birthday": a.birthday or 0},
         f"Restored wallet {ctx.name!r} at {ctx.path}; it rescans from height "
         f"{a.birthday or 0} at the next command that needs the chain ('coin-wallet sync').")


def cmd_getnewaddress(ctx: _Context) -> None:
    addr = ctx.wallet().get_new_address(_TYPES[ctx.args.type])
    _out(ctx.args, {"address": addr.address}, addr.address)


def cmd_getbalance(ctx: _Context) -> None:
    ctx.sync()
    b = get_balances(ctx.wallet())
    obj = {"balance": _BTC(b.balance), "confirmed": _BTC(b.confirmed),
           "unconfirmed": _BTC(b.unconfirmed), "immature": _BTC(b.immature)}
    _out(ctx.args, obj, "\n".join(f"{k}: {v}" for k, v in obj.items()))


def cmd_listunspent(ctx: _Context) -> None:
    ctx.sync()
    rows = list_unspent(ctx.wallet())
    for r in rows:
        r["amount"] = _BTC(r["amount"])
        r["path"] = "m/" + "/".join(f"{i & 0x7FFFFFFF}'" if i & 0x80000000 else str(i)
                                    for i in r["path"]) if r["path"] else None
    text = "\n".join(f"{r['txid']}:{r['vout']} {r['amount']} {r['address']} "
                     f"conf={r['confirmations']}{'' if r['spendable'] else ' (immature)'}"
                     for r in rows)
    _out(ctx.args, {"unspent": rows}, text or "no unspent coins")


def cmd_listtransactions(ctx: _Context) -> None:
    ctx.sync()
    rows = list_transactions(ctx.wallet())
    for r in rows:
        r["amount"] = _BTC(r["amount"])
        if "fee" in r:
            r["fee"] = _BTC(r["fee"])
    text = "\n".join(f"{r['txid']} {r['category']:8} {r['amount']} conf={r['confirmations']}"
                     for r in rows)
    _out(ctx.args, {"transactions": rows}, text or "no transactions")


def _send(ctx: _Context, payments: list[tuple[str, int]]) -> None:
    a = ctx.args
    rate = _feerate(a.feerate)
    ctx.sync()
    w = ctx.unlock()
    res = send(w, ctx.rpc(), payments, rate, rbf=not a.no_rbf, conf_target=a.conf_target)
    _out(a, {"txid": res.txid, "fee": _BTC(res.fee)}, res.txid)


def cmd_send(ctx: _Context) -> None:
    _send(ctx, [(ctx.args.address, parse_amount(ctx.args.amount))])


def cmd_sendmany(ctx: _Context) -> None:
    items = ctx.args.payments
    payments: list[tuple[str, int]] = []
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        try:
            obj = json.loads(items[0], parse_float=Decimal)
        except ValueError as e:
            raise _Failure(f"sendmany: bad JSON: {e}") from None
        if not isinstance(obj, dict) or not obj:
            raise _Failure("sendmany: expected a JSON object {\"address\": amount, ...}")
        payments = [(k, parse_amount(str(v))) for k, v in obj.items()]
    else:
        for item in items:
            addr, sep, amount = item.partition("=")
            if not sep or not addr:
                raise _Failure(f"sendmany: expected ADDRESS=AMOUNT, not {item!r}")
            payments.append((addr, parse_amount(amount)))
    _send(ctx, payments)


def cmd_bumpfee(ctx: _Context) -> None:
    a = ctx.args
    rate = _feerate(a.feerate)
    ctx.sync()
    w = ctx.unlock()
    res = bump_fee(w, ctx.rpc(), a.txid, rate)
    _out(a, {"txid": res.txid, "origfee": _BTC(res.origfee), "fee": _BTC(res.fee),
             "errors": list(res.errors)}, res.txid)


def cmd_sync(ctx: _Context) -> None:
    r = ctx.sync()
    _out(ctx.args, {"height": r.tip_height, "hash": r.tip_hash, "blocks": r.blocks,
                    "rolled_back": r.rolled_back},
         f"synced to height {r.tip_height} ({r.tip_hash}): {r.blocks} blocks read"
         + (f", {r.rolled_back} rolled back" if r.rolled_back else ""))


def cmd_dumpmnemonic(ctx: _Context) -> None:
    words = ctx.unlock().mnemonic()
    _out(ctx.args, {"mnemonic": words}, words)


def cmd_info(ctx: _Context) -> None:
    w = ctx.wallet()
    best = w.best_block()
    accounts = [{"type": acc.script_type.value,
                 "path": "m/" + "/".join(f"{i & 0x7FFFFFFF}'" for i in acc.path),
                 "xpub": acc.xpub} for acc in w.accounts()]
    obj = {"name": w.name, "network": w.network, "path": str(w.path),
           "birthday": w.birthday_height,
           "synced_height": best[1] if best else None,
           "synced_hash": best[0][::-1].hex() if best else None,
           "accounts": accounts, "addresses": len(w.addresses()),
           "transactions": len(w.transactions())}
    text = "\n".join(f"{k}: {v}" for k, v in obj.items() if k != "accounts")
    text += "".join(f"\naccount {x['type']} {x['path']} {x['xpub']}" for x in accounts)
    _out(ctx.args, obj, text)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="coin-wallet", add_help=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def command(name, fn, helptext):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(fn=fn)
        return p

    p = command("create", cmd_create, "create a new wallet")
    p.add_argument("--words", type=int, choices=(12, 24), default=12)
    p.add_argument("--birthday", type=_height, default=None, metavar="HEIGHT",
                   help="first block to scan (default: the node's tip if it answers, else 0)")
    p = command("restore", cmd_restore, "restore a wallet from its recovery words")
    p.add_argument("--mnemonic", default=None, metavar="WORDS")
    p.add_argument("--birthday", type=_height, default=0, metavar="HEIGHT")
    p = command("getnewaddress", cmd_getnewaddress, "a new receiving address")
    p.add_argument("--type", choices=tuple(_TYPES), default="bech32")
    command("getbalance", cmd_getbalance, "balances in BTC")
    command("listunspent", cmd_listunspent, "unspent coins")
    command("listtransactions", cmd_listtransactions, "wallet transactions")
    for name, fn, helptext in (("send", cmd_send, "pay an address"),
                               ("sendmany", cmd_sendmany, "pay several addresses")):
        p = command(name, fn, helptext)
        if name == "send":
            p.add_argument("address")
            p.add_argument("amount", help="BTC")
        else:
            p.add_argument("payments", nargs="+", metavar="ADDRESS=AMOUNT")
        p.add_argument("--feerate", default=None, metavar="SAT_VB")
        p.add_argument("--conf-target", type=int, default=6, dest="conf_target")
        p.add_argument("--no-rbf", action="store_true", dest="no_rbf")
    p = command("bumpfee", cmd_bumpfee, "replace an unconfirmed payment with a higher fee")
    p.add_argument("txid")
    p.add_argument("--feerate", default=None, metavar="SAT_VB")
    command("sync", cmd_sync, "read new blocks and the mempool from the node")
    command("dumpmnemonic", cmd_dumpmnemonic, "print the recovery words")
    command("info", cmd_info, "wallet name, network, accounts, sync state")
    return parser


def _short_connection_error(e: ConnectionFailed, config: Config) -> str:
    first = str(e).splitlines()[0] if str(e) else "could not connect to the node"
    return f"{first} (is coind running? start it or pass -rpcconnect/-rpcport)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run coin-wallet; returns the exit status (0, or 1 after a one-line error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_args(argv, args=WALLET_ARGS, allow_positional=True,
                            ignore_unknown_conf=True, create_default_datadir=False)
    except ConfigError as e:
        msg = str(e)
        print(msg if msg.startswith("Error") else f"Error: {msg}", file=sys.stderr)
        return 1
    if config.get_bool("help", False) or not config.positional:
        sys.stdout.write(help_message(WALLET_ARGS, header=_USAGE))
        return 0 if config.get_bool("help", False) else 1
    if config.get_bool("version", False):
        print(_HEADER)
        return 0
    ctx = None
    try:
        args = _build_parser().parse_args(config.positional)
        ctx = _Context(config, args)
        args.fn(ctx)
        return 0
    except SystemExit as e:   # argparse --help
        return int(e.code or 0)
    except ConnectionFailed as e:
        print(f"error: {_short_connection_error(e, config)}", file=sys.stderr)
    except RPCError as e:
        print(f"error: the node refused: {e.message} (code {e.code})", file=sys.stderr)
    except (_Failure, store.WalletError, store.WrongPassphrase, InvalidMnemonic, InvalidAddress,
            SpendError, SyncError, SigningError, RPCClientError, ConfigError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
    except OSError as e:
        print(f"error: {e.strerror or e}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - the contract: one line, never a traceback
        print(f"error: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
    finally:
        if ctx is not None:
            ctx.close()
    return 1


if __name__ == "__main__":
    sys.exit(main())
