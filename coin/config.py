"""Bitcoin Core style configuration: command-line flags and ``coin.conf``.

Every flag the node (``coind``) or the client (``coin-cli``) understands is one row of
a table (:data:`NODE_ARGS`, :data:`CLI_ARGS`); the same rows drive ``-help``.

Command line (as Core's ``ArgsManager::ParseParameters``):

* ``-name=value``; ``-name`` alone means ``""`` (true for a boolean flag, "all" for
  ``-debug``); ``-noname`` means ``0`` and ``-noname=0`` means ``1``; a double dash
  ``--name`` is accepted too.
* Repeatable flags (``-addnode``, ``-connect``, ``-debug``, ``-loadblock``,
  ``-rpcallowip``, ``-rpcbind``, ...) collect every value; ``get_list`` returns them in
  order. For a single-valued flag the LAST command-line value wins.
* Parsing stops at the first token that does not start with ``-``; coind rejects such a
  token, coin-cli takes it as the method name.
* An unknown flag is the one-line error ``Error parsing command line arguments: Invalid
  parameter -foo`` (coind prints it after ``Error: `` and exits 1, as Core does).

Network: ``-regtest`` or ``-chain=main|regtest`` (both given = error; ``regtest=1`` or
``chain=`` in the top section of coin.conf also work). Data directories: the base
``-datadir`` (default ``~/.coin``; an explicitly given datadir must exist) holds
``coin.conf``; the *network* datadir is ``<datadir>/regtest/`` for regtest and the base
``<datadir>/`` itself for main (as Bitcoin Core, where mainnet has no sub-directory).
The network datadir holds ``.cookie``, ``.lock``, ``debug.log``, blocks and the
databases.

coin.conf (as Core's ``ReadConfigStream``): ``key=value`` lines, ``#`` comments, blank
lines, ``[main]`` / ``[regtest]`` sections that apply only to that network, and the
``regtest.key=value`` prefix form. The command line overrides the file; in the file
the FIRST value of a single-valued key wins. The network-only flags (``-addnode``,
``-bind``, ``-connect``, ``-port``, ``-rpcbind``, ``-rpcport``, ``-wallet``) in the top
section apply to main only and are ignored (with a warning) on regtest, exactly as
Core does. ``-conf`` is relative to the datadir; a missing explicitly named conf file is
an error, a missing default one is not. Unknown keys in coin.conf are an error for coind
and ignored by coin-cli (as Core).

Errors: every problem raises :class:`ConfigError` whose message is one line meant to be
printed after ``Error: ``.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Arg",
    "CLI_ARGS",
    "CONF_FILENAME",
    "Config",
    "ConfigError",
    "DEFAULT_DATADIR_NAME",
    "NETWORKS",
    "NODE_ARGS",
    "NetworkBase",
    "default_datadir",
    "help_message",
    "parse_args",
    "parse_conf_text",
]

CONF_FILENAME = "coin.conf"
DEFAULT_DATADIR_NAME = ".coin"


class ConfigError(Exception):
    """A configuration problem; ``str(e)`` is one line, printed after ``Error: ``."""


@dataclass(frozen=True, slots=True)
class NetworkBase:
    """What the configuration layer needs to know of a network (Core's CBaseChainParams)."""

    name: str
    data_subdir: str
    rpc_port: int
    p2p_port: int


NETWORKS: dict[str, NetworkBase] = {
    "main": NetworkBase("main", "", 8332, 8333),
    "regtest": NetworkBase("regtest", "regtest", 18443, 18444),
}


@dataclass(frozen=True, slots=True)
class Arg:
    """One flag: its name (no dash), kind, default as shown by -help, and help text.

    ``kind`` is one of ``bool``, ``int``, ``str``, ``list`` (repeatable), ``path``.
    ``network_only``: ignored in the top section of coin.conf on non-main networks.
    ``sensitive``: its value is never logged. ``command_line_only``: not allowed in
    coin.conf (``-conf``, ``-datadir`` as Core: datadir is only read from the command
    line here).
    """

    name: str
    kind: str
    default: str | None
    help: str
    category: str = "Options"
    hint: str = ""
    network_only: bool = False
    sensitive: bool = False
    command_line_only: bool = False

    def usage(self) -> str:
        if self.hint:
            return f"-{self.name}={self.hint}"
        return f"-{self.name}"


_OPT = "Options"
_CONN = "Connection options"
_DEBUG = "Debugging/Testing options"
_CHAIN = "Chain selection options"
_RELAY = "Node relay options"
_BLOCK = "Block creation options"
_RPC = "RPC server options"


def _chain_args() -> list[Arg]:
    return [
        Arg("chain", "str", "main", "Use the chain <chain> (default: main). Allowed values: main, regtest", _CHAIN, "<chain>"),
        Arg("regtest", "bool", "0", "Enter regression test mode, which uses a special chain in which blocks can be solved instantly. Equivalent to -chain=regtest.", _CHAIN),
    ]


def _common_args() -> list[Arg]:
    return [
        Arg("conf", "path", CONF_FILENAME, "Specify path to read-only configuration file. Relative paths will be prefixed by datadir location (only useable from command line, not configuration file)", _OPT, "<file>", command_line_only=True),
        Arg("datadir", "path", "~/" + DEFAULT_DATADIR_NAME, "Specify data directory (only useable from command line, not configuration file)", _OPT, "<dir>", command_line_only=True),
        Arg("version", "bool", "0", "Print version and exit", _OPT, command_line_only=True),
        Arg("help", "bool", "0", "Print this help message and exit (also -h, -?)", _OPT, command_line_only=True),
    ]


#: Every flag coind accepts. Components read them through :class:`Config`. A component
#: that needs a new flag adds a row here (and nowhere else).
NODE_ARGS: tuple[Arg, ...] = tuple(
    _common_args()
    + _chain_args()
    + [
        Arg("pid", "path", "coind.pid", "Specify pid file. Relative paths will be prefixed by a net-specific datadir location", _OPT, "<file>"),
        Arg("loadblock", "list", None, "Imports blocks from external file on startup (Bitcoin's blk?????.dat format)", _OPT, "<file>"),
        Arg("dbcache", "int", "300", "Maximum database cache size <n> MiB", _OPT, "<n>"),
        Arg("txindex", "bool", "0", "Maintain a full transaction index, used by the getrawtransaction rpc call", _OPT),
        Arg("reindex", "bool", "0", "If enabled, wipe chain state and block index, and rebuild them from blk*.dat files on disk", _OPT),
        Arg("reindex-chainstate", "bool", "0", "If enabled, wipe chain state, and rebuild it from blk*.dat files on disk", _OPT),
        Arg("persistmempool", "bool", "1", "Whether to save the mempool on shutdown and load on restart", _OPT),
        Arg("maxmempool", "int", "300", "Keep the transaction memory pool below <n> megabytes", _OPT, "<n>"),
        Arg("mempoolexpiry", "int", "336", "Do not keep transactions in the mempool longer than <n> hours", _OPT, "<n>"),
        Arg("blocksonly", "bool", "0", "Whether to reject transactions from network peers", _OPT),
        Arg("listen", "bool", "1", "Accept connections from outside (default: 1 if no -connect)", _CONN),
        Arg("port", "int", "8333, regtest: 18444", "Listen for connections on <port>", _CONN, "<port>", network_only=True),
        Arg("bind", "list", None, "Bind to given address and always listen on it (default: 0.0.0.0)", _CONN, "<addr>[:<port>]", network_only=True),
        Arg("connect", "list", None, "Connect only to the specified node; -noconnect disables automatic connections", _CONN, "<ip>", network_only=True),
        Arg("addnode", "list", None, "Add a node to connect to and attempt to keep the connection open", _CONN, "<ip>", network_only=True),
        Arg("seednode", "list", None, "Connect to a node to retrieve peer addresses, and disconnect", _CONN, "<ip>"),
        Arg("maxconnections", "int", "125", "Maintain at most <n> automatic connections to peers", _CONN, "<n>"),
        Arg("timeout", "int", "5000", "Specify socket connection timeout in milliseconds", _CONN, "<n>"),
        Arg("peertimeout", "int", "60", "Specify a p2p connection timeout delay in seconds", _CONN, "<n>"),
        Arg("bantime", "int", "86400", "Default duration (in seconds) of manually configured bans", _CONN, "<n>"),
        # -- p2p (coin.p2p.connman) --
        Arg("whitelist", "list", None, "Add permission flags to the peers connecting from the given IP address (e.g. 1.2.3.4) or CIDR-notated network (e.g. 1.2.3.0/24): they are never discouraged for misbehaviour, only disconnected. Can be specified multiple times.", _CONN, "<[permissions@]IP address or network>"),
        Arg("networkactive", "bool", "1", "Enable all P2P network activity (default: 1). Can be changed by the setnetworkactive RPC command", _CONN),
        Arg("autoconnect", "bool", "1, regtest: 0", "Open outbound connections to addresses learned from other peers (always off with -connect)", _CONN),
        Arg("dnsseed", "bool", "0", "Query for peer addresses via DNS lookup (coin has no DNS seeds)", _CONN),
        Arg("uacomment", "list", None, "Append comment to the user agent string", _CONN, "<cmt>"),
        Arg("acceptnonstdtxn", "bool", "0", "Relay and mine \"non-standard\" transactions (test networks only)", _RELAY),
        Arg("minrelaytxfee", "str", "0.00001", "Fees (in BTC/kvB) smaller than this are considered zero fee for relaying, mining and transaction creation", _RELAY, "<amt>"),
        Arg("incrementalrelayfee", "str", "0.00001", "Fee rate (in BTC/kvB) used to define cost of relay, used for mempool limiting and replacement policy", _RELAY, "<amt>"),
        Arg("dustrelayfee", "str", "0.00003", "Fee rate (in BTC/kvB) used to define dust", _RELAY, "<amt>"),
        Arg("datacarrier", "bool", "1", "Relay and mine data carrier transactions", _RELAY),
        Arg("datacarriersize", "int", "83", "Maximum size of data in data carrier transactions we relay and mine", _RELAY, "<n>"),
        Arg("permitbaremultisig", "bool", "1", "Relay non-P2SH multisig", _RELAY),
        Arg("bytespersigop", "int", "20", "Equivalent bytes per sigop in transactions for relay and mining", _RELAY, "<n>"),
        Arg("mempoolfullrbf", "bool", "1", "Accept transaction replace-by-fee without requiring replaceability signaling", _RELAY),
        Arg("limitancestorcount", "int", "25", "Do not accept transactions if number of in-mempool ancestors is <n> or more", _DEBUG, "<n>"),
        Arg("limitancestorsize", "int", "101", "Do not accept transactions whose size with all in-mempool ancestors exceeds <n> kilobytes", _DEBUG, "<n>"),
        Arg("limitdescendantcount", "int", "25", "Do not accept transactions if any ancestor would have <n> or more in-mempool descendants", _DEBUG, "<n>"),
        Arg("limitdescendantsize", "int", "101", "Do not accept transactions if any ancestor would have more than <n> kilobytes of in-mempool descendants", _DEBUG, "<n>"),
        Arg("blockmaxweight", "int", "3996000", "Set maximum BIP141 block weight", _BLOCK, "<n>"),
        Arg("blockmintxfee", "str", "0.00001", "Set lowest fee rate (in BTC/kvB) for transactions to be included in block creation", _BLOCK, "<amt>"),
        Arg("debug", "list", None, "Output debug and trace logging. <category> can be: all, 1 (= all), 0 or none, or a category name (see the logging RPC). Can be repeated.", _DEBUG, "<category>"),
        Arg("debugexclude", "list", None, "Exclude debug and trace logging for a category. Takes priority over -debug", _DEBUG, "<category>"),
        Arg("debuglogfile", "path", "debug.log", "Specify location of debug log file (relative to the network datadir); -nodebuglogfile disables writing the log to disk", _DEBUG, "<file>"),
        Arg("printtoconsole", "bool", "0", "Send trace/debug info to console (stdout)", _DEBUG),
        Arg("logtimestamps", "bool", "1", "Prepend debug output with timestamp", _DEBUG),
        Arg("logtimemicros", "bool", "0", "Add microsecond precision to debug timestamps", _DEBUG),
        Arg("logthreadnames", "bool", "0", "Prepend debug output with name of the originating thread", _DEBUG),
        Arg("shrinkdebugfile", "bool", "0", "Shrink debug.log file on client startup", _DEBUG),
        Arg("checkblocks", "int", "6", "How many blocks to check at startup (0 = all)", _DEBUG, "<n>"),
        Arg("checklevel", "int", "3", "How thorough the block verification of -checkblocks is (0-4)", _DEBUG, "<n>"),
        Arg("checkmempool", "int", "0, regtest: 1", "Run mempool consistency checks every <n> transactions", _DEBUG, "<n>"),
        Arg("checkblockindex", "bool", "0, regtest: 1", "Do a consistency check for the block tree and chainstate", _DEBUG),
        Arg("mocktime", "int", "0", "Replace actual time with <n> seconds since epoch (regtest only)", _DEBUG, "<n>"),
        Arg("stopatheight", "int", "0", "Stop running after reaching the given height in the main chain", _DEBUG, "<n>"),
        Arg("maxtipage", "int", "86400", "Maximum tip age in seconds to consider node in initial block download", _DEBUG, "<n>"),
        Arg("testactivationheight", "list", None, "Set the activation height of 'name' (segwit, bip34, dersig, cltv, csv). (regtest-only)", _DEBUG, "name@height."),
        Arg("server", "bool", "1", "Accept JSON-RPC commands (coind always serves RPC; -noserver disables it)", _RPC),
        Arg("rest", "bool", "0", "Accept public REST requests (not implemented)", _RPC),
        Arg("rpcallowip", "list", None, "Allow JSON-RPC connections from specified source. Valid values for <ip> are a single IP (e.g. 1.2.3.4), a network/netmask (e.g. 1.2.3.4/255.255.255.0), or a network/CIDR (e.g. 1.2.3.4/24).", _RPC, "<ip>"),
        Arg("rpcauth", "list", None, "Username and HMAC-SHA-256 hashed password for JSON-RPC connections. The field <userpw> comes in the format: <USERNAME>:<SALT>$<HASH>.", _RPC, "<userpw>", sensitive=True),
        Arg("rpcbind", "list", None, "Bind to given address to listen for JSON-RPC connections. Ignored unless -rpcallowip is also passed. (default: 127.0.0.1 and ::1)", _RPC, "<addr>[:port]", network_only=True),
        Arg("rpccookiefile", "path", ".cookie", "Location of the auth cookie. Relative paths will be prefixed by a net-specific datadir location. -norpccookiefile disables the cookie", _RPC, "<loc>"),
        Arg("rpccookieperms", "str", "owner", "Set permissions on the RPC auth cookie file so that it is readable by [owner|group|all]", _RPC, "<readable-by>"),
        Arg("rpcpassword", "str", None, "Password for JSON-RPC connections", _RPC, "<pw>", sensitive=True),
        Arg("rpcport", "int", "8332, regtest: 18443", "Listen for JSON-RPC connections on <port>", _RPC, "<port>", network_only=True),
        Arg("rpcthreads", "int", "16", "Set the number of threads to service RPC calls", _RPC, "<n>"),
        Arg("rpcuser", "str", None, "Username for JSON-RPC connections", _RPC, "<user>", sensitive=True),
        Arg("rpcworkqueue", "int", "64", "Set the maximum depth of the work queue to service RPC calls", _RPC, "<n>"),
        Arg("rpcservertimeout", "int", "30", "Timeout during HTTP requests (seconds)", _RPC, "<n>"),
    ]
)

#: Every flag coin-cli accepts (bitcoin-cli's, minus the wallet-only and -netinfo ones).
CLI_ARGS: tuple[Arg, ...] = tuple(
    _common_args()
    + _chain_args()
    + [
        Arg("named", "bool", "0", "Pass named instead of positional arguments", _OPT),
        Arg("rpcconnect", "str", "127.0.0.1", "Send commands to node running on <ip>", _OPT, "<ip>"),
        Arg("rpccookiefile", "path", ".cookie", "Location of the auth cookie. Relative paths will be prefixed by a net-specific datadir location.", _OPT, "<loc>"),
        Arg("rpcport", "int", "8332, regtest: 18443", "Connect to JSON-RPC on <port>", _OPT, "<port>", network_only=True),
        Arg("rpcuser", "str", None, "Username for JSON-RPC connections", _OPT, "<user>", sensitive=True),
        Arg("rpcpassword", "str", None, "Password for JSON-RPC connections", _OPT, "<pw>", sensitive=True),
        Arg("rpcclienttimeout", "int", "900", "Timeout in seconds during HTTP requests, or 0 for no timeout.", _OPT, "<n>"),
        Arg("rpcwait", "bool", "0", "Wait for RPC server to start", _OPT),
        Arg("rpcwaittimeout", "int", "0", "Timeout in seconds to wait for the RPC server to start, or 0 for no timeout.", _OPT, "<n>"),
        Arg("rpcwallet", "str", None, "Send RPC for non-default wallet on RPC server (needs to exactly match corresponding -wallet option passed to coind).", _OPT, "<walletname>"),
        Arg("stdin", "bool", "0", "Read extra arguments from standard input, one per line until EOF/Ctrl-D. When combined with -stdinrpcpass, the first line from standard input is used for the RPC password.", _OPT),
        Arg("stdinrpcpass", "bool", "0", "Read RPC password from standard input as a single line.", _OPT),
        Arg("getinfo", "bool", "0", "Get general information from the remote server (a human-readable summary of getnetworkinfo and getblockchaininfo).", _OPT),
    ]
)

# A parsed value: a string, or False for a negated flag (-nofoo).
_Value = str | bool


def default_datadir() -> Path:
    """``$HOME/.coin`` (Core uses ~/.bitcoin on Unix)."""
    return Path(os.path.expanduser("~")) / DEFAULT_DATADIR_NAME


def _interpret_bool(text: str) -> bool:
    """Core's InterpretBool: empty means true, else the integer value is non-zero."""
    if text == "":
        return True
    try:
        return int(text.strip()) != 0
    except ValueError:
        return False


@dataclass
class _Source:
    """Values of one source: name -> list of values in the order given."""

    values: dict[str, list[_Value]] = field(default_factory=dict)

    def add(self, name: str, value: _Value) -> None:
        self.values.setdefault(name, []).append(value)


def _split_flag(token: str) -> tuple[str, str | None]:
    """'-name=value' -> ('name', 'value'); '--name' -> ('name', None)."""
    body = token[2:] if token.startswith("--") else token[1:]
    if "=" in body:
        name, value = body.split("=", 1)
        return name, value
    return body, None


def _apply_negation(name: str, value: str | None) -> tuple[str, _Value, str | None]:
    """Turn -nofoo[=v] into ('foo', False) as Core does; return an optional warning."""
    if name.startswith("no") and len(name) > 2:
        base = name[2:]
        if value is None or _interpret_bool(value):
            return base, False, None
        # -nofoo=0 means foo=1
        return base, "1", f"parsed potentially confusing double-negative -{name}={value}"
    return name, ("" if value is None else value), None


@dataclass
class Config:
    """The parsed configuration of coind or coin-cli.

    ``chain`` is ``"main"`` or ``"regtest"``; ``datadir`` the base data directory;
    ``net_datadir`` the network's directory (``datadir`` itself for main);
    ``conf_path`` the coin.conf that was read (None if none was found);
    ``positional`` the tokens after the flags (coin-cli's method and arguments);
    ``warnings`` Core-style warnings collected while parsing (the node logs them).
    """

    chain: str
    datadir: Path
    net_datadir: Path
    conf_path: Path | None
    positional: list[str]
    warnings: list[str]
    table: dict[str, Arg]
    _cmdline: _Source
    _conf_net: _Source
    _conf_top: _Source
    _forced: _Source = field(default_factory=_Source)

    # -- access ------------------------------------------------------------

    @property
    def network(self) -> NetworkBase:
        return NETWORKS[self.chain]

    @property
    def rpc_port(self) -> int:
        return self.get_int("rpcport", self.network.rpc_port)

    @property
    def p2p_port(self) -> int:
        return self.get_int("port", self.network.p2p_port)

    def _sources(self, name: str) -> list[tuple[_Source, bool]]:
        """Sources in precedence order, each with a flag 'first value wins'."""
        sources: list[tuple[_Source, bool]] = [(self._forced, False), (self._cmdline, False), (self._conf_net, True)]
        arg = self.table.get(name)
        if not (arg is not None and arg.network_only and self.chain != "main"):
            sources.append((self._conf_top, True))
        return sources

    def _check(self, name: str) -> None:
        if name not in self.table:
            raise KeyError(f"unregistered configuration flag -{name}")

    def _setting(self, name: str) -> _Value | None:
        self._check(name)
        for source, first_wins in self._sources(name):
            values = source.values.get(name)
            if values:
                return values[0] if first_wins else values[-1]
        return None

    def is_set(self, name: str) -> bool:
        """True if the flag was given anywhere (negated counts as set)."""
        return self._setting(name) is not None

    def is_negated(self, name: str) -> bool:
        """True if the effective value is a negation (``-nofoo``)."""
        return self._setting(name) is False

    def get(self, name: str, default: str | None = None) -> str | None:
        """The effective string value; a negated flag reads as ``"0"``."""
        value = self._setting(name)
        if value is None:
            return default
        if value is False:
            return "0"
        return value

    def get_int(self, name: str, default: int) -> int:
        """The effective integer value; raises ConfigError if it is not an integer."""
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(value.strip()) if value.strip() else 0
        except ValueError:
            raise ConfigError(f"Invalid value for -{name}: '{value}' is not an integer") from None

    def get_bool(self, name: str, default: bool) -> bool:
        """Core's GetBoolArg: ``-foo`` / ``-foo=1`` true, ``-nofoo`` / ``-foo=0`` false."""
        value = self._setting(name)
        if value is None:
            return default
        if value is False:
            return False
        return _interpret_bool(value)

    def get_path(self, name: str, default: str | None, base: Path | None = None) -> Path | None:
        """A path value made absolute against ``base`` (default: the network datadir).

        None when unset and no default, or when negated (``-nofoo``).
        """
        value = self._setting(name)
        if value is False:
            return None
        text = default if value is None else value
        if text is None or text == "":
            return None
        path = Path(os.path.expanduser(text))
        if not path.is_absolute():
            path = (base if base is not None else self.net_datadir) / path
        return path

    def get_list(self, name: str) -> list[str]:
        """Every value of a repeatable flag (command line, then network section, then top
        section). A negation (``-noconnect``) drops everything given before it and
        everything from lower-precedence sources.
        """
        self._check(name)
        result: list[str] = []
        for source, _first in self._sources(name):
            values = source.values.get(name, [])
            negated_at = None
            for i, v in enumerate(values):
                if v is False:
                    negated_at = i
            kept = values[negated_at + 1 :] if negated_at is not None else values
            result.extend(v for v in kept if v is not False)
            if negated_at is not None:
                break
        return result

    def set(self, name: str, value: str | bool | Sequence[str]) -> None:
        """Force a value (highest precedence), as Core's ForceSetArg; for tests and -regtest defaults."""
        self._check(name)
        if isinstance(value, bool):
            self._forced.values[name] = ["1" if value else False]
        elif isinstance(value, str):
            self._forced.values[name] = [value]
        else:
            self._forced.values[name] = list(value)

    def logged_args(self) -> list[str]:
        """Lines describing every setting as Core logs them at start-up, secrets masked."""
        lines: list[str] = []
        for label, source in (("Config file arg", self._conf_top), (f"Config file arg [{self.chain}]", self._conf_net), ("Command-line arg", self._cmdline)):
            for name, values in source.values.items():
                arg = self.table.get(name)
                for v in values:
                    if arg is not None and arg.sensitive:
                        shown = "****"
                    elif v is False:
                        shown = "false"
                    else:
                        shown = f'"{v}"'
                    lines.append(f"{label}: {name}={shown}")
        return lines


def parse_conf_text(text: str, *, path: str = "coin.conf") -> tuple[_Source, dict[str, _Source], list[str]]:
    """Parse coin.conf text into (top section, {section: values}, warnings).

    Raises ConfigError on a line that is not ``key=value`` / ``[section]`` / comment.
    Keys are returned without validation (the caller checks them against its table).
    """
    top = _Source()
    sections: dict[str, _Source] = {}
    warnings: list[str] = []
    current = ""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw
        hash_at = line.find("#")
        if hash_at >= 0:
            before = line[:hash_at]
            if "=" in before and before.split("=", 1)[0].strip() == "rpcpassword":
                raise ConfigError(
                    f"Error reading configuration file: parse error on line {lineno}, using # in rpcpassword can be ambiguous and should be avoided"
                )
            line = before
        line = line.strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in NETWORKS:
                warnings.append(f"Section [{current}] is not recognized.")
            continue
        if line.startswith("-"):
            raise ConfigError(f"Error reading configuration file: parse error on line {lineno}: {line}, options in configuration file must be specified without leading -")
        if "=" not in line:
            msg = f"Error reading configuration file: parse error on line {lineno}: {line}"
            if line.startswith("no"):
                msg += f", if you intended to specify a negated option, use {line}=1 instead"
            raise ConfigError(msg)
        key, value = (part.strip() for part in line.split("=", 1))
        section = current
        if "." in key:
            prefix, key = key.split(".", 1)
            section = prefix
        name, val, warn = _apply_negation(key, value)
        if warn:
            warnings.append(warn)
        target = top if section == "" else sections.setdefault(section, _Source())
        target.add(name, val)
    return top, sections, warnings


def _table(args: Iterable[Arg]) -> dict[str, Arg]:
    return {a.name: a for a in args}


def parse_args(
    argv: Sequence[str],
    *,
    args: Iterable[Arg] = NODE_ARGS,
    allow_positional: bool = False,
    ignore_unknown_conf: bool = False,
    home_datadir: Path | None = None,
    create_default_datadir: bool = True,
) -> Config:
    """Parse a command line (without the program name) and the coin.conf it points to.

    ``allow_positional``: keep tokens after the first non-flag (coin-cli); otherwise
    such a token is an error (coind). ``ignore_unknown_conf``: skip unknown keys in
    coin.conf (coin-cli) instead of failing (coind). ``home_datadir`` overrides the
    default ``~/.coin`` (tests). Raises :class:`ConfigError` with Core's messages.
    """
    table = _table(args)
    cmdline = _Source()
    warnings: list[str] = []
    positional: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("-") or token == "-":
            if allow_positional:
                positional = tokens[i:]
                break
            raise ConfigError(f"Command line contains unexpected token '{token}', see coind -h for a list of options.")
        raw_name, value = _split_flag(token)
        if raw_name in ("h", "?"):
            raw_name = "help"
        name, val, warn = _apply_negation(raw_name, value)
        if name not in table:
            raise ConfigError(f"Error parsing command line arguments: Invalid parameter {token}")
        if warn:
            warnings.append(warn)
        cmdline.add(name, val)
        i += 1

    def cmd_value(name: str) -> _Value | None:
        values = cmdline.values.get(name)
        return values[-1] if values else None

    # -- data directory -----------------------------------------------------
    dd = cmd_value("datadir")
    if isinstance(dd, str) and dd != "":
        datadir = Path(os.path.expanduser(dd))
        if not datadir.is_dir():
            raise ConfigError(f'Specified data directory "{dd}" does not exist.')
        datadir = datadir.resolve()
    else:
        datadir = home_datadir if home_datadir is not None else default_datadir()
        if create_default_datadir:
            datadir.mkdir(parents=True, exist_ok=True)

    # -- coin.conf ----------------------------------------------------------
    conf_value = cmd_value("conf")
    conf_path: Path | None
    conf_top, conf_sections = _Source(), {}
    if conf_value is False:
        conf_path = None  # -noconf: read no file
    else:
        explicit = isinstance(conf_value, str) and conf_value != ""
        conf_name = conf_value if explicit else CONF_FILENAME
        conf_path = Path(os.path.expanduser(str(conf_name)))
        if not conf_path.is_absolute():
            conf_path = datadir / conf_path
        if conf_path.is_file():
            try:
                text = conf_path.read_text(encoding="utf-8")
            except OSError as e:
                raise ConfigError(f'Error reading configuration file: specified config file "{conf_name}" could not be opened ({e.strerror}).') from None
            conf_top, conf_sections, conf_warnings = parse_conf_text(text, path=str(conf_path))
            warnings.extend(conf_warnings)
        elif explicit:
            raise ConfigError(f'Error reading configuration file: specified config file "{conf_name}" could not be opened.')
        else:
            conf_path = None
        all_sources = [("", conf_top)] + list(conf_sections.items())
        for _section, source in all_sources:
            for key in list(source.values):
                arg = table.get(key)
                if arg is None:
                    if ignore_unknown_conf:
                        del source.values[key]
                        continue
                    raise ConfigError(f"Error reading configuration file: Invalid configuration value {key}")
                if arg.command_line_only:
                    if key == "conf":
                        raise ConfigError("Error reading configuration file: conf cannot be set in the configuration file; use includeconf= if you want to include additional config files")
                    if ignore_unknown_conf:
                        del source.values[key]
                        continue
                    raise ConfigError(f"Error reading configuration file: {key} can only be set on the command line")

    # -- network ------------------------------------------------------------
    chain = _select_chain(cmdline, conf_top)
    net = NETWORKS[chain]
    conf_net = conf_sections.get(chain, _Source())
    net_datadir = datadir / net.data_subdir if net.data_subdir else datadir
    if chain != "main":
        for name in conf_top.values:
            arg = table.get(name)
            if arg is not None and arg.network_only and name not in conf_net.values:
                warnings.append(f"Config setting for -{name} only applied on {chain} network when in [{chain}] section.")

    return Config(
        chain=chain,
        datadir=datadir,
        net_datadir=net_datadir,
        conf_path=conf_path,
        positional=positional,
        warnings=warnings,
        table=table,
        _cmdline=cmdline,
        _conf_net=conf_net,
        _conf_top=conf_top,
    )


def _select_chain(cmdline: _Source, conf_top: _Source) -> str:
    """Core's GetChainTypeString: -regtest / -chain, command line over coin.conf."""

    def pick(source: _Source, first: bool) -> tuple[bool, str | None]:
        regtest_vals = source.values.get("regtest") or []
        chain_vals = source.values.get("chain") or []
        regtest_v = (regtest_vals[0] if first else regtest_vals[-1]) if regtest_vals else None
        chain_v = (chain_vals[0] if first else chain_vals[-1]) if chain_vals else None
        regtest = regtest_v is not None and regtest_v is not False and _interpret_bool(regtest_v)
        chain = chain_v if isinstance(chain_v, str) and chain_v != "" else None
        return regtest, chain

    cmd_regtest, cmd_chain = pick(cmdline, first=False)
    conf_regtest, conf_chain = pick(conf_top, first=True)
    regtest = cmd_regtest or (conf_regtest and not cmdline.values.get("regtest"))
    chain = cmd_chain if cmd_chain is not None else conf_chain
    if regtest and chain is not None and chain != "regtest":
        raise ConfigError("Invalid combination of -regtest and -chain. Can use at most one.")
    if regtest:
        return "regtest"
    if chain is None:
        return "main"
    if chain not in NETWORKS:
        raise ConfigError(f"Unknown chain {chain}. Allowed values: {', '.join(NETWORKS)}")
    return chain


def help_message(args: Iterable[Arg], *, header: str) -> str:
    """Core-style -help text: ``header`` then each category's flags with wrapped help."""
    by_category: dict[str, list[Arg]] = {}
    for arg in args:
        by_category.setdefault(arg.category, []).append(arg)
    out = [header.rstrip("\n"), ""]
    for category, rows in by_category.items():
        out.append(f"{category}:")
        out.append("")
        for arg in sorted(rows, key=lambda a: a.name):
            out.append(f"  {arg.usage()}")
            text = arg.help
            if arg.default is not None and "(default" not in text:
                text = f"{text} (default: {arg.default})"
            out.extend(textwrap.wrap(text, width=79, initial_indent="       ", subsequent_indent="       "))
            out.append("")
    return "\n".join(out) + "\n"
