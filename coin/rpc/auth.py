"""RPC authentication: the ``.cookie`` file, ``-rpcuser``/``-rpcpassword``, ``-rpcauth``.

As Bitcoin Core (src/httprpc.cpp, src/rpc/request.cpp):

* With no ``-rpcpassword``, the node writes ``<netdatadir>/.cookie`` (or
  ``-rpccookiefile``) at start-up: ``__cookie__:<64 lowercase hex>`` with no trailing
  newline, written to ``.cookie.tmp`` then renamed, mode 0600 (``-rpccookieperms=
  group|all`` widen it), and deletes it on clean shutdown (only if it wrote it).
  ``-norpccookiefile`` disables it.
* ``-rpcuser``/``-rpcpassword`` and every ``-rpcauth=<user>:<salt>$<hmac>`` add
  credentials; hmac = hex(HMAC-SHA256(key=salt, msg=password)). Every credential is
  kept salted and compared in constant time.
* :meth:`RPCAuth.check` takes the ``Authorization`` header and returns the user name or
  None. The header must be ``Basic <base64(user:password)>``.

This module is stdlib-only: coin-cli imports :func:`read_cookie`.

Errors: :func:`RPCAuth.from_config` raises :class:`coin.config.ConfigError`
(``Invalid -rpcauth argument.``, cookie write failures). The cookie's value is never
logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from coin.config import Config, ConfigError

__all__ = [
    "COOKIEAUTH_USER",
    "RPCAuth",
    "delete_cookie",
    "generate_cookie",
    "hmac_password",
    "read_cookie",
]

COOKIEAUTH_USER = "__cookie__"
_COOKIE_PERMS = {"owner": 0o600, "group": 0o640, "all": 0o644}


def hmac_password(salt: str, password: str) -> str:
    """hex(HMAC-SHA256(key=salt, msg=password)), the ``-rpcauth`` hash."""
    return hmac.new(salt.encode("utf-8"), password.encode("utf-8"), sha256).hexdigest()


def generate_cookie(path: Path, perms: str = "owner") -> str:
    """Write a fresh cookie file atomically; return ``__cookie__:<hex>``.

    Raises ConfigError if it cannot be written.
    """
    mode = _COOKIE_PERMS.get(perms)
    if mode is None:
        raise ConfigError(f"Invalid -rpccookieperms={perms}; must be one of 'owner', 'group', or 'all'.")
    secret = f"{COOKIEAUTH_USER}:{secrets.token_bytes(32).hex()}"
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, secret.encode("ascii"))
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(f"Unable to open cookie authentication file {tmp} for writing: {e.strerror}") from None
    return secret


def read_cookie(path: Path) -> str | None:
    """The ``user:password`` from a cookie file's first line, or None if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    line = text.split("\n", 1)[0].rstrip("\r")
    return line if ":" in line else None


def delete_cookie(path: Path) -> None:
    """Remove the cookie file; a missing file is fine."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@dataclass
class RPCAuth:
    """The accepted credentials: (user, salt, hmac-hex) triples."""

    credentials: list[tuple[str, str, str]] = field(default_factory=list)
    cookie_path: Path | None = None
    _cookie_written: bool = False

    def add_password(self, user: str, password: str) -> None:
        salt = secrets.token_hex(16)
        self.credentials.append((user, salt, hmac_password(salt, password)))

    def add_rpcauth(self, spec: str) -> None:
        """Add one ``user:salt$hash`` entry; ConfigError ``Invalid -rpcauth argument.``."""
        user, sep, rest = spec.partition(":")
        salt, dollar, digest = rest.partition("$")
        if not sep or not dollar or not user or not salt or not digest:
            raise ConfigError("Invalid -rpcauth argument.")
        self.credentials.append((user, salt, digest.lower()))

    @classmethod
    def from_config(cls, config: Config) -> RPCAuth:
        """Credentials from the configuration; does NOT write the cookie (see :meth:`write_cookie`)."""
        auth = cls()
        password = config.get("rpcpassword", "") or ""
        if password == "":
            auth.cookie_path = config.get_path("rpccookiefile", ".cookie")
        else:
            auth.add_password(config.get("rpcuser", "") or "", password)
        for spec in config.get_list("rpcauth"):
            auth.add_rpcauth(spec)
        return auth

    def write_cookie(self, perms: str = "owner") -> Path | None:
        """Generate the cookie (if cookie auth is on); returns its path."""
        if self.cookie_path is None:
            return None
        secret = generate_cookie(self.cookie_path, perms)
        user, _, password = secret.partition(":")
        self.add_password(user, password)
        self._cookie_written = True
        return self.cookie_path

    def remove_cookie(self) -> None:
        """Delete the cookie if this process wrote it."""
        if self._cookie_written and self.cookie_path is not None:
            delete_cookie(self.cookie_path)
            self._cookie_written = False

    def check_user_password(self, user: str, password: str) -> bool:
        ok = False
        for cred_user, salt, digest in self.credentials:
            user_ok = hmac.compare_digest(cred_user.encode("utf-8"), user.encode("utf-8"))
            pass_ok = hmac.compare_digest(digest, hmac_password(salt, password))
            ok |= user_ok and pass_ok
        return ok

    def check(self, header: str | None) -> str | None:
        """The authenticated user for an ``Authorization`` header, else None."""
        if not header or not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if ":" not in decoded:
            return None
        user, _, password = decoded.partition(":")
        return user if self.check_user_password(user, password) else None
