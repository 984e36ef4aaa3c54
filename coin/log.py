"""Logging as Bitcoin Core does it: ``debug.log`` in the network datadir, categories.

Every component logs through the standard :mod:`logging` module under the ``coin``
logger. Plain messages (Core's ``LogPrintf`` / ``LogInfo``) use ``INFO`` on any logger
below ``coin``; category debug messages (Core's ``LogDebug(BCLog::NET, ...)``) use
``DEBUG`` on ``coin.<category>`` (or a child, e.g. ``coin.net.peer``) and are written
only when the category is enabled by ``-debug=<category>`` (``-debug``, ``-debug=1`` or
``-debug=all`` enable all; ``-debug=0`` / ``none`` none; ``-debugexclude`` wins) or the
``logging`` RPC. Use :func:`get_logger`::

    log = get_logger("net")
    log.debug("received: %s (%d bytes) peer=%d", cmd, size, peer_id)  # "[net] received: ..."
    log.info("New block-relay-only v1 peer connected")

Line format (``-logtimestamps``, default on)::

    2026-11-26T03:17:00Z message
    2026-11-26T03:17:00.123456Z [net] message      (with -logtimemicros; category debug)

Destinations: ``<netdatadir>/debug.log`` (``-debuglogfile=<file>``, ``-nodebuglogfile``
disables it) through a :class:`logging.handlers.WatchedFileHandler`, so log rotation
(moving the file away) or a SIGHUP (:meth:`NodeLogging.reopen`) starts a new file; and
stdout with ``-printtoconsole``.

Secrets (the RPC cookie, ``-rpcpassword``, ``-rpcauth``) are never passed to the
logger; :meth:`coin.config.Config.logged_args` masks them.

Errors: an unknown category in ``-debug`` / ``-debugexclude`` raises
:class:`coin.config.ConfigError` (``Unsupported logging category -debug=foo.``, as
Core), so coind exits 1 at start-up.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from coin.config import Config, ConfigError

__all__ = [
    "CATEGORIES",
    "NodeLogging",
    "ROOT_LOGGER",
    "get_logger",
    "parse_categories",
]

ROOT_LOGGER = "coin"

#: Debug categories, named as Bitcoin Core's BCLog flags (those that apply to coin).
CATEGORIES: tuple[str, ...] = (
    "addrman",
    "bench",
    "blockstorage",
    "cmpctblock",
    "coindb",
    "estimatefee",
    "http",
    "leveldb",
    "lock",
    "mempool",
    "mempoolrej",
    "mining",
    "net",
    "prune",
    "rand",
    "reindex",
    "rpc",
    "txpackages",
    "validation",
)

_ALL_WORDS = ("", "1", "all")
_NONE_WORDS = ("0", "none")

_SHRINK_LIMIT = 11 * 1000 * 1000
_SHRINK_KEEP = 10 * 1000 * 1000


def get_logger(category: str | None = None) -> logging.Logger:
    """The ``coin`` logger, or ``coin.<category>`` for a debug category."""
    if category is None:
        return logging.getLogger(ROOT_LOGGER)
    return logging.getLogger(f"{ROOT_LOGGER}.{category}")


def parse_categories(include: Iterable[str], exclude: Iterable[str], flag: str = "-debug") -> set[str]:
    """The enabled categories for ``-debug`` values ``include`` and ``-debugexclude``
    values ``exclude``. Raises ConfigError ``Unsupported logging category -debug=foo.``.
    """
    enabled: set[str] = set()
    for value in include:
        word = value.strip().lower()
        if word in _NONE_WORDS:
            enabled.clear()
            # Core: -debug=0 / none disables all, ignoring other -debug values
            return set()
        if word in _ALL_WORDS:
            enabled.update(CATEGORIES)
        elif word in CATEGORIES:
            enabled.add(word)
        else:
            raise ConfigError(f"Unsupported logging category {flag}={value}.")
    for value in exclude:
        word = value.strip().lower()
        if word in ("1", "all"):
            enabled.clear()
        elif word in CATEGORIES:
            enabled.discard(word)
        else:
            raise ConfigError(f"Unsupported logging category -debugexclude={value}.")
    return enabled


class _CoreFormatter(logging.Formatter):
    """``<ISO8601 UTC>Z [category] message`` as Core's BCLog::Logger::LogPrintStr."""

    def __init__(self, timestamps: bool, micros: bool, thread_names: bool) -> None:
        super().__init__()
        self._timestamps = timestamps
        self._micros = micros
        self._thread_names = thread_names

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        prefix = ""
        if record.levelno <= logging.DEBUG:
            name = record.name
            if name.startswith(ROOT_LOGGER + "."):
                category = name[len(ROOT_LOGGER) + 1 :].split(".", 1)[0]
                prefix = f"[{category}] "
        elif record.levelno >= logging.ERROR:
            prefix = "[error] "
        elif record.levelno >= logging.WARNING:
            prefix = "[warning] "
        if self._thread_names:
            prefix = f"[{record.threadName}] " + prefix
        if record.exc_info:
            message = message + "\n" + self.formatException(record.exc_info)
        if self._timestamps:
            t = record.created
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            if self._micros:
                stamp += f".{int((t % 1) * 1_000_000):06d}"
            return f"{stamp}Z {prefix}{message}"
        return prefix + message


class NodeLogging:
    """The node's logging set-up: which categories are on, and where lines go.

    ``NodeLogging(config)`` validates ``-debug`` (raises ConfigError); :meth:`start`
    opens debug.log / the console; :meth:`stop` closes them; :meth:`reopen` is for
    SIGHUP. :meth:`enable` / :meth:`disable` / :meth:`categories` back the ``logging``
    RPC.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._enabled = parse_categories(config.get_list("debug"), config.get_list("debugexclude"))
        self.print_to_console = config.get_bool("printtoconsole", False)
        self.path: Path | None = config.get_path("debuglogfile", "debug.log")
        self._formatter = _CoreFormatter(
            config.get_bool("logtimestamps", True),
            config.get_bool("logtimemicros", False),
            config.get_bool("logthreadnames", False),
        )
        self._handlers: list[logging.Handler] = []
        self._saved_propagate = True

    # -- categories -----------------------------------------------------------

    @property
    def enabled(self) -> frozenset[str]:
        return frozenset(self._enabled)

    def is_enabled(self, category: str) -> bool:
        return category in self._enabled

    def categories(self) -> dict[str, bool]:
        """Every category and whether it is on (the ``logging`` RPC's result)."""
        return {c: c in self._enabled for c in CATEGORIES}

    def enable(self, category: str) -> bool:
        """Enable ``category`` (or all for ``all`` / ``1``); False if unknown."""
        word = category.lower()
        if word in ("1", "all"):
            self._enabled.update(CATEGORIES)
        elif word in CATEGORIES:
            self._enabled.add(word)
        else:
            return False
        self._apply_levels()
        return True

    def disable(self, category: str) -> bool:
        """Disable ``category`` (or all for ``all`` / ``1``); False if unknown."""
        word = category.lower()
        if word in ("1", "all"):
            self._enabled.clear()
        elif word in CATEGORIES:
            self._enabled.discard(word)
        else:
            return False
        self._apply_levels()
        return True

    def _apply_levels(self) -> None:
        for category in CATEGORIES:
            get_logger(category).setLevel(logging.DEBUG if category in self._enabled else logging.INFO)

    # -- destinations -----------------------------------------------------------

    def start(self) -> None:
        """Open debug.log (creating its directory) and the console handler."""
        root = get_logger()
        root.setLevel(logging.INFO)
        self._saved_propagate = root.propagate
        root.propagate = False
        self._apply_levels()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.config.get_bool("shrinkdebugfile", False):
                _shrink(self.path)
            handler: logging.Handler = logging.handlers.WatchedFileHandler(self.path, encoding="utf-8")
            handler.setFormatter(self._formatter)
            self._handlers.append(handler)
        if self.print_to_console:
            console = logging.StreamHandler(sys.stdout)
            console.setFormatter(self._formatter)
            self._handlers.append(console)
        for h in self._handlers:
            root.addHandler(h)

    def reopen(self) -> None:
        """Close and reopen debug.log (SIGHUP, after logrotate moved the file)."""
        for h in self._handlers:
            if isinstance(h, logging.handlers.WatchedFileHandler):
                h.acquire()
                try:
                    if h.stream is not None:
                        h.stream.close()
                    h.stream = h._open()
                    h._statstream()
                finally:
                    h.release()

    def stop(self) -> None:
        """Flush and detach every handler."""
        root = get_logger()
        for h in self._handlers:
            root.removeHandler(h)
            try:
                h.flush()
                h.close()
            except Exception:  # noqa: BLE001 - closing a log file must not fail shutdown
                pass
        self._handlers.clear()
        root.propagate = self._saved_propagate


def _shrink(path: Path) -> None:
    """Core's ShrinkDebugFile: above ~11 MB keep the last 10 MB."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size <= _SHRINK_LIMIT:
        return
    with open(path, "rb") as f:
        f.seek(-_SHRINK_KEEP, 2)
        tail = f.read()
    with open(path, "wb") as f:
        f.write(tail)
