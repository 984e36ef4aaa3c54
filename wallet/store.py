"""The wallet file: one SQLite database per wallet, secrets encrypted at rest.

The caller chooses the path (the CLI uses `<datadir>/<network>/wallets/<name>.sqlite`).
The file is created 0600, runs in WAL mode with secure_delete on, and every write is
one `BEGIN IMMEDIATE ... COMMIT` transaction.

Schema (version 1):

    meta          key TEXT PRIMARY KEY, value TEXT
                  version, wallet_id (random, hex), name, network, created_time,
                  birthday_height
    kdf           one row: salt, scrypt n/r/p, the master key encrypted under the
                  passphrase key (see `coin.wallet.crypter`)
    secrets       name TEXT PRIMARY KEY, ciphertext BLOB: "mnemonic" (UTF-8 words),
                  "mnemonic_passphrase", "seed" (the 64-byte BIP-0039 seed)
    accounts      id, script_type, purpose, coin_type, account, xpub (public node only),
                  master_fingerprint, next_receive, next_change
    addresses     script_pubkey PRIMARY KEY, account_id, chain, idx, address, pubkey,
                  used; the look-ahead window of every chain (gap limit 20)
    transactions  txid (internal order) PRIMARY KEY, raw_hex, block_hash, height, time,
                  received_time
    coins         (txid, vout) PRIMARY KEY, value, script_pubkey, height, coinbase,
                  spent_by (txid of the spender or NULL)
    sync_state    one row: best block hash and height
    block_hashes  height PRIMARY KEY, hash: the chain the wallet has seen, for finding
                  the fork point of a reorganisation

Hashes are stored as raw 32 bytes in internal order; amounts as integer satoshis.

Private material (mnemonic, its passphrase, seed, anything derived from them) is only
ever written encrypted: AES-256-GCM under a random master key, which is itself
encrypted under scrypt(passphrase). Each ciphertext's associated data binds it to this
wallet's id and to its field. Public data (accounts, addresses, history, coins) needs
no passphrase: `open(path)` reads it; `unlock(passphrase)` gives access to the keys.

Errors: `WrongPassphrase` when the passphrase does not open the master key;
`WalletLocked` when a secret is needed and the wallet is locked; `WalletError` for a
missing/unsupported/corrupt file; FileExistsError from `create` over an existing file.
"""

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from coin.params import get_params
from coin.primitives import Transaction

from . import crypter
from .accounts import (
    CHANGE,
    GAP_LIMIT,
    RECEIVE,
    Account,
    DerivedAddress,
    ScriptType,
    scripts_for_pubkey,
)
from .bip32 import HARDENED, ExtendedKey
from .bip39 import generate_mnemonic, mnemonic_to_seed, validate_mnemonic
from .crypter import (
    CorruptSecret,
    KdfParams,
    WrongPassphrase,
    decrypt,
    derive_passphrase_key,
    encrypt,
    new_master_key,
    new_salt,
)

__all__ = [
    "SCHEMA_VERSION",
    "AddressRecord",
    "CoinRecord",
    "TxRecord",
    "Wallet",
    "WalletError",
    "WalletLocked",
    "WrongPassphrase",
    "create",
    "open",
    "open_wallet",
]

SCHEMA_VERSION = 1
DEFAULT_SCRIPT_TYPES = (ScriptType.P2WPKH, ScriptType.P2SH_P2WPKH, ScriptType.P2PKH)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE kdf (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    method TEXT NOT NULL, salt BLOB NOT NULL, n INTEGER NOT NULL, r INTEGER NOT NULL,
    p INTEGER NOT NULL, encrypted_master_key BLOB NOT NULL
);
CREATE TABLE secrets (name TEXT PRIMARY KEY, ciphertext BLOB NOT NULL);
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    script_type TEXT NOT NULL, purpose INTEGER NOT NULL, coin_type INTEGER NOT NULL,
    account INTEGER NOT NULL, xpub TEXT NOT NULL, master_fingerprint BLOB NOT NULL,
    next_receive INTEGER NOT NULL DEFAULT 0, next_change INTEGER NOT NULL DEFAULT 0,
    UNIQUE (purpose, coin_type, account)
);
CREATE TABLE addresses (
    script_pubkey BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    chain INTEGER NOT NULL, idx INTEGER NOT NULL,
    address TEXT NOT NULL, pubkey BLOB NOT NULL, used INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, chain, idx)
);
CREATE TABLE transactions (
    txid BLOB PRIMARY KEY, raw_hex TEXT NOT NULL,
    block_hash BLOB, height INTEGER, time INTEGER, received_time INTEGER NOT NULL
);
CREATE INDEX transactions_height ON transactions(height);
CREATE TABLE coins (
    txid BLOB NOT NULL, vout INTEGER NOT NULL, value INTEGER NOT NULL,
    script_pubkey BLOB NOT NULL, height INTEGER, coinbase INTEGER NOT NULL DEFAULT 0,
    spent_by BLOB,
    PRIMARY KEY (txid, vout)
);
CREATE INDEX coins_unspent ON coins(spent_by);
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), best_hash BLOB, best_height INTEGER
);
CREATE TABLE block_hashes (height INTEGER PRIMARY KEY, hash BLOB NOT NULL);
"""


class WalletError(Exception):
    """The wallet file is missing, of an unsupported version, or inconsistent."""


class WalletLocked(WalletError):
    """A secret is needed and the wallet has not been unlocked."""


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """A row of `addresses` joined with its account."""

    script_pubkey: bytes
    address: str
    script_type: ScriptType
    account: int
    chain: int
    index: int
    pubkey: bytes
    used: bool
    path: tuple[int, ...]

    def derived(self) -> DerivedAddress:
        script, redeem = scripts_for_pubkey(self.script_type, self.pubkey)
        return DerivedAddress(self.script_type, self.account, self.chain, self.index, self.path,
                              self.pubkey, script, self.address, redeem)


@dataclass(frozen=True, slots=True)
class TxRecord:
    txid_bytes: bytes
    raw_hex: str
    block_hash_bytes: bytes | None
    height: int | None
    time: int | None
    received_time: int

    @property
    def txid(self) -> str:
        return self.txid_bytes[::-1].hex()

    @property
    def tx(self) -> Transaction:
        return Transaction.from_hex(self.raw_hex)


@dataclass(frozen=True, slots=True)
class CoinRecord:
    txid_bytes: bytes
    vout: int
    value: int
    script_pubkey: bytes
    height: int | None
    coinbase: bool
    spent_by: bytes | None

    @property
    def txid(self) -> str:
        return self.txid_bytes[::-1].hex()


def _aad(wallet_id: str, label: str) -> bytes:
    return f"coin-wallet/v{SCHEMA_VERSION}/{wallet_id}/{label}".encode()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def create(path, passphrase: str, network: str, mnemonic: str | None = None, *,
           mnemonic_passphrase: str = "", name: str | None = None, birthday_height: int = 0,
           script_types=DEFAULT_SCRIPT_TYPES, scrypt_n: int | None = None,
           strength: int = 128, gap_limit: int = GAP_LIMIT) -> "Wallet":
    """Create a new wallet file at `path` and return it, unlocked.

    A fresh mnemonic of `strength` bits is generated unless one is given (validated:
    InvalidMnemonic). Account 0 of each of `script_types` is created (BIP-0084 first:
    the default for new addresses) with `gap_limit` receive and change addresses.
    `scrypt_n` defaults to crypter.DEFAULT_SCRYPT_N (2**15, r=8, p=1: 32 MiB).
    Raises FileExistsError if `path` exists, ValueError for an empty passphrase, a
    negative birthday height, an unknown network or scrypt parameters below the minimum.
    """
    if not passphrase:
        raise ValueError("a wallet passphrase is required (secrets are always encrypted)")
    if birthday_height < 0:
        raise ValueError(f"birthday height must be 0 or more, not {birthday_height}")
    params = get_params(network)
    mnemonic = generate_mnemonic(strength) if mnemonic is None else validate_mnemonic(mnemonic)
    seed = mnemonic_to_seed(mnemonic, mnemonic_passphrase)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    conn = None
    try:
        conn = _connect(path)
        wallet_id = os.urandom(16).hex()
        kdf = KdfParams(new_salt(), scrypt_n or crypter.DEFAULT_SCRYPT_N)
        master_key = new_master_key()
        passphrase_key = derive_passphrase_key(passphrase, kdf)
        with _transaction(conn):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = {
                "version": str(SCHEMA_VERSION), "wallet_id": wallet_id,
                "name": name if name is not None else path.stem, "network": params.name,
                "created_time": str(int(time.time())), "birthday_height": str(birthday_height),
                "gap_limit": str(gap_limit),
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            conn.execute(
                "INSERT INTO kdf VALUES (1, 'scrypt', ?, ?, ?, ?, ?)",
                (kdf.salt, kdf.n, kdf.r, kdf.p,
                 encrypt(passphrase_key, master_key, _aad(wallet_id, "master_key"))),
            )
            secrets = {
                "mnemonic": mnemonic.encode(),
                "mnemonic_passphrase": mnemonic_passphrase.encode(),
                "seed": seed,
            }
            for label, plain in secrets.items():
                conn.execute("INSERT INTO secrets VALUES (?, ?)",
                             (label, encrypt(master_key, plain, _aad(wallet_id, label))))
            conn.execute("INSERT INTO sync_state VALUES (1, NULL, NULL)")
        wallet = Wallet(path, conn)
        wallet._master_key = master_key
        wallet._seed = seed
        for st in script_types:
            wallet.add_account(st, 0)
        return wallet
    except BaseException:
        if conn is not None:
            conn.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(str(path) + suffix)
            except FileNotFoundError:
                pass
        raise


def open(path, passphrase: str | None = None) -> "Wallet":  # noqa: A001 - the brief's name
    """Open an existing wallet; unlock it too if `passphrase` is given.

    Raises WalletError if there is no wallet file at `path` or its version is not
    supported, WrongPassphrase if the passphrase is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise WalletError(f"no wallet file at {path}")
    try:
        conn = _connect(path)
    except sqlite3.DatabaseError as exc:
        raise WalletError(f"{path} is not a wallet file: {exc}") from None
    try:
        wallet = Wallet(path, conn)
        if passphrase is not None:
            wallet.unlock(passphrase)
    except BaseException:
        conn.close()
        raise
    return wallet


open_wallet = open


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Wallet:
    """An open wallet file. Public data is always readable; keys need `unlock()`.

    Not thread-safe: one Wallet per thread (SQLite serialises writers across them).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._master_key: bytes | None = None
        self._seed: bytes | None = None
        self._master_node: ExtendedKey | None = None
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise WalletError(f"{path} is not a wallet file: {exc}") from None
        if meta.get("version") != str(SCHEMA_VERSION):
            raise WalletError(f"unsupported wallet version {meta.get('version')!r}")
        missing = {"wallet_id", "name", "network", "created_time", "birthday_height"} - set(meta)
        if missing:
            raise WalletError(f"wallet file lacks {', '.join(sorted(missing))}")
        self.wallet_id: str = meta["wallet_id"]
        self.name: str = meta["name"]
        self.network: str = meta["network"]
        self.params = get_params(self.network)
        self.created_time = int(meta["created_time"])
        self.birthday_height = int(meta["birthday_height"])
        self.gap_limit = int(meta.get("gap_limit", GAP_LIMIT))
        self._accounts: dict[int, Account] = {}
        self._batch_depth = 0

    # --- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        self.lock()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Wallet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "locked" if self.is_locked else "unlocked"
        return f"Wallet({self.name!r}, network={self.network}, {state}, path={str(self.path)!r})"

    __str__ = __repr__

    def _write(self):
        if self._conn is None:
            raise WalletError("wallet is closed")
        if self._batch_depth:
            return nullcontext(self._conn)
        return _transaction(self._conn)

    @contextmanager
    def batch(self) -> Iterator["Wallet"]:
        """Group many writes into ONE transaction (a chain follower's block range):
        everything inside commits together or not at all. Re-entrant."""
        if self._conn is None:
            raise WalletError("wallet is closed")
        if self._batch_depth:
            self._batch_depth += 1
            try:
                yield self
            finally:
                self._batch_depth -= 1
            return
        with _transaction(self._conn):
            self._batch_depth = 1
            try:
                yield self
            finally:
                self._batch_depth = 0

    def _query(self, sql: str, args=()) -> list[tuple]:
        if self._conn is None:
            raise WalletError("wallet is closed")
        return self._conn.execute(sql, args).fetchall()

    # --- secrets ------------------------------------------------------------------

    @property
    def is_locked(self) -> bool:
        return self._master_key is None

    def _kdf(self) -> tuple[KdfParams, bytes]:
        rows = self._query("SELECT salt, n, r, p, encrypted_master_key FROM kdf WHERE id = 1")
        if not rows:
            raise WalletError("wallet file has no key record")
        salt, n, r, p, blob = rows[0]
        return KdfParams(salt, n, r, p), blob

    def _open_master_key(self, passphrase: str) -> bytes:
        kdf, blob = self._kdf()
        key = derive_passphrase_key(passphrase, kdf)
        try:
            return decrypt(key, blob, _aad(self.wallet_id, "master_key"))
        except CorruptSecret:
            raise WrongPassphrase(f"wrong passphrase for wallet {self.name!r}") from None

    def _secret(self, label: str, master_key: bytes | None = None) -> bytes:
        key = master_key or self._master_key
        if key is None:
            raise WalletLocked(f"wallet {self.name!r} is locked; unlock it with its passphrase")
        rows = self._query("SELECT ciphertext FROM secrets WHERE name = ?", (label,))
        if not rows:
            raise WalletError(f"wallet has no {label} (watch-only?)")
        try:
            return decrypt(key, rows[0][0], _aad(self.wallet_id, label))
        except CorruptSecret:
            raise WalletError(f"stored {label} failed authentication: the file is corrupt") from None

    def unlock(self, passphrase: str) -> None:
        """Decrypt the master key and the seed into memory. WrongPassphrase if wrong."""
        master_key = self._open_master_key(passphrase)
        seed = self._secret("seed", master_key)
        self._master_key = master_key
        self._seed = seed
        self._master_node = None
        self._accounts.clear()

    def lock(self) -> None:
        """Forget the decrypted keys (Python cannot wipe memory; the references go)."""
        self._master_key = None
        self._seed = None
        self._master_node = None
        self._accounts.clear()

    def change_passphrase(self, old: str, new: str) -> None:
        """Re-encrypt the master key under `new` with a fresh salt. WrongPassphrase if `old` is."""
        if not new:
            raise ValueError("a wallet passphrase is required")
        master_key = self._open_master_key(old)
        kdf_old, _ = self._kdf()
        kdf = KdfParams(new_salt(), kdf_old.n, kdf_old.r, kdf_old.p)
        blob = encrypt(derive_passphrase_key(new, kdf), master_key, _aad(self.wallet_id, "master_key"))
        with self._write() as c:
            c.execute("UPDATE kdf SET salt = ?, n = ?, r = ?, p = ?, encrypted_master_key = ? "
                      "WHERE id = 1", (kdf.salt, kdf.n, kdf.r, kdf.p, blob))

    def mnemonic(self) -> str:
        """The recovery words (WalletLocked if locked). Show them to the user; never log them."""
        return self._secret("mnemonic").decode()

    def _master(self) -> ExtendedKey:
        if self._seed is None:
            raise WalletLocked(f"wallet {self.name!r} is locked; unlock it with its passphrase")
        if self._master_node is None:
            self._master_node = ExtendedKey.from_seed(self._seed)
        return self._master_node

    # --- accounts -----------------------------------------------------------------

    def _account_row(self, script_type: ScriptType, index: int):
        rows = self._query(
            "SELECT id, xpub, master_fingerprint FROM accounts "
            "WHERE purpose = ? AND coin_type = ? AND account = ?",
            (script_type.purpose, self.params.bip44_coin_type, index),
        )
        return rows[0] if rows else None

    def add_account(self, script_type: ScriptType = ScriptType.P2WPKH, index: int = 0) -> Account:
        """Create account `index` of `script_type` (needs the wallet unlocked) and fill its
        look-ahead windows. Returns the existing account if there is one."""
        if self._account_row(script_type, index) is not None:
            return self.account(script_type, index)
        account = Account.from_master(self._master(), self.params, script_type, index)
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO accounts (script_type, purpose, coin_type, account, xpub, "
                "master_fingerprint) VALUES (?, ?, ?, ?, ?, ?)",
                (script_type.value, script_type.purpose, self.params.bip44_coin_type, index,
                 account.xpub, account.master_fingerprint),
            )
            account_id = cur.lastrowid
            for chain in (RECEIVE, CHANGE):
                self._insert_addresses(c, account_id, account, chain, range(0, self.gap_limit))
        return account

    def accounts(self) -> list[Account]:
        """Every account in the file (with private nodes if unlocked)."""
        rows = self._query("SELECT script_type, account FROM accounts ORDER BY id")
        return [self.account(ScriptType(st), idx) for st, idx in rows]

    def account(self, script_type: ScriptType = ScriptType.P2WPKH, index: int = 0) -> Account:
        """The account (watch-only while locked). WalletError if it does not exist."""
        row = self._account_row(script_type, index)
        if row is None:
            raise WalletError(f"no {script_type.value} account {index}")
        account_id, xpub, fingerprint = row
        cached = self._accounts.get(account_id)
        if cached is not None:
            return cached
        if self.is_locked:
            account = Account.from_xpub(xpub, self.params, script_type, index, fingerprint)
        else:
            account = Account.from_master(self._master(), self.params, script_type, index)
            if account.xpub != xpub:
                raise WalletError("stored account xpub does not match the seed")
        self._accounts[account_id] = account
        return account

    def _insert_addresses(self, c, account_id: int, account: Account, chain: int,
                          indices: range) -> list[DerivedAddress]:
        out = [account.derive(chain, i) for i in indices]
        c.executemany(
            "INSERT OR IGNORE INTO addresses (script_pubkey, account_id, chain, idx, address, "
            "pubkey) VALUES (?, ?, ?, ?, ?, ?)",
            [(a.script_pubkey, account_id, chain, a.index, a.address, a.pubkey) for a in out],
        )
        return out

    def _top_up(self, c, account_id: int, script_type: ScriptType, index: int, chain: int,
                ) -> list[DerivedAddress]:
        (highest_used, derived_end), = c.execute(
            "SELECT COALESCE(MAX(CASE WHEN used THEN idx END), -1), COALESCE(MAX(idx), -1) + 1 "
            "FROM addresses WHERE account_id = ? AND chain = ?", (account_id, chain)).fetchall()
        column = "next_receive" if chain == RECEIVE else "next_change"
        (next_index,), = c.execute(f"SELECT {column} FROM accounts WHERE id = ?",
                                   (account_id,)).fetchall()
        end = max(highest_used + 1, next_index) + self.gap_limit
        if end <= derived_end:
            return []
        account = self.account(script_type, index)
        return self._insert_addresses(c, account_id, account, chain, range(derived_end, end))

    # --- addresses ----------------------------------------------------------------

    def get_new_address(self, script_type: ScriptType = ScriptType.P2WPKH, account: int = 0,
                        chain: int = RECEIVE) -> DerivedAddress:
        """Hand out the next address of a chain (past every used and issued one) and
        keep `gap_limit` addresses derived beyond it. Works while locked."""
        row = self._account_row(script_type, account)
        if row is None:
            raise WalletError(f"no {script_type.value} account {account}")
        if chain not in (RECEIVE, CHANGE):
            raise ValueError("chain must be 0 (receive) or 1 (change)")
        account_id = row[0]
        column = "next_receive" if chain == RECEIVE else "next_change"
        with self._write() as c:
            (next_index,), = c.execute(f"SELECT {column} FROM accounts WHERE id = ?",
                                       (account_id,)).fetchall()
            (highest_used,), = c.execute(
                "SELECT COALESCE(MAX(idx), -1) FROM addresses WHERE account_id = ? AND chain = ? "
                "AND used", (account_id, chain)).fetchall()
            index = max(next_index, highest_used + 1)
            c.execute(f"UPDATE accounts SET {column} = ? WHERE id = ?", (index + 1, account_id))
            self._top_up(c, account_id, script_type, account, chain)
            rows = c.execute("SELECT script_pubkey FROM addresses WHERE account_id = ? AND "
                             "chain = ? AND idx = ?", (account_id, chain, index)).fetchall()
        return self.lookup_script(rows[0][0]).derived()

    def peek_address(self, script_type: ScriptType = ScriptType.P2WPKH, account: int = 0,
                     chain: int = CHANGE) -> DerivedAddress:
        """The address `get_new_address` would hand out next, WITHOUT reserving it (a
        spender's change: it becomes used, and so skipped, once the payment is recorded;
        a payment that fails leaves no gap in the chain)."""
        row = self._account_row(script_type, account)
        if row is None:
            raise WalletError(f"no {script_type.value} account {account}")
        column = "next_receive" if chain == RECEIVE else "next_change"
        (next_index,), = self._query(f"SELECT {column} FROM accounts WHERE id = ?", (row[0],))
        (highest_used,), = self._query(
            "SELECT COALESCE(MAX(idx), -1) FROM addresses WHERE account_id = ? AND chain = ? "
            "AND used", (row[0], chain))
        return self.account(script_type, account).derive(chain, max(next_index, highest_used + 1))

    def get_change_address(self, script_type: ScriptType = ScriptType.P2WPKH,
                           account: int = 0) -> DerivedAddress:
        return self.get_new_address(script_type, account, CHANGE)

    _ADDRESS_SELECT = (
        "SELECT a.script_pubkey, a.address, ac.script_type, ac.account, a.chain, a.idx, "
        "a.pubkey, a.used, ac.purpose, ac.coin_type FROM addresses a "
        "JOIN accounts ac ON ac.id = a.account_id "
    )

    @staticmethod
    def _address_record(row) -> AddressRecord:
        script, address, st, account, chain, idx, pubkey, used, purpose, coin_type = row
        path = (purpose | HARDENED, coin_type | HARDENED, account | HARDENED, chain, idx)
        return AddressRecord(script, address, ScriptType(st), account, chain, idx, pubkey,
                             bool(used), path)

    def lookup_script(self, script_pubkey: bytes) -> AddressRecord | None:
        """The wallet's address for `script_pubkey`, or None if it is not ours."""
        rows = self._query(self._ADDRESS_SELECT + "WHERE a.script_pubkey = ?", (script_pubkey,))
        return self._address_record(rows[0]) if rows else None

    def is_mine(self, script_pubkey: bytes) -> bool:
        return bool(self._query("SELECT 1 FROM addresses WHERE script_pubkey = ?", (script_pubkey,)))

    def addresses(self) -> list[AddressRecord]:
        rows = self._query(self._ADDRESS_SELECT + "ORDER BY a.account_id, a.chain, a.idx")
        return [self._address_record(r) for r in rows]

    def watched_scripts(self) -> set[bytes]:
        """Every scriptPubKey inside the look-ahead windows (what a chain follower matches)."""
        return {r[0] for r in self._query("SELECT script_pubkey FROM addresses")}

    def mark_used(self, script_pubkey: bytes) -> list[DerivedAddress]:
        """Flag a script as used and extend its chain's window; returns the addresses newly
        derived (the follower must watch them too). No-op for a script not ours."""
        record = self.lookup_script(script_pubkey)
        if record is None:
            return []
        row = self._account_row(record.script_type, record.account)
        with self._write() as c:
            c.execute("UPDATE addresses SET used = 1 WHERE script_pubkey = ?", (script_pubkey,))
            return self._top_up(c, row[0], record.script_type, record.account, record.chain)

    def private_key(self, script_pubkey: bytes) -> bytes:
        """The 32-byte private key for one of our scripts. WalletLocked, or KeyError if not ours."""
        record = self.lookup_script(script_pubkey)
        if record is None:
            raise KeyError("script is not in this wallet")
        if self.is_locked:
            raise WalletLocked(f"wallet {self.name!r} is locked; unlock it with its passphrase")
        account = self.account(record.script_type, record.account)
        return account.private_key(record.chain, record.index)

    # --- transactions and coins ---------------------------------------------------

    def add_transaction(self, tx, block_hash_bytes: bytes | None = None,
                        height: int | None = None, time_: int | None = None) -> bytes:
        """Record (or update the confirmation of) a transaction; returns its txid bytes.

        `tx` is a Transaction or its serialisation (parsed: DecodeError if malformed).
        """
        if not isinstance(tx, Transaction):
            tx = Transaction.from_bytes(bytes(tx))
        with self._write() as c:
            c.execute(
                "INSERT INTO transactions (txid, raw_hex, block_hash, height, time, received_time) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (txid) DO UPDATE SET "
                "block_hash = excluded.block_hash, height = excluded.height, time = excluded.time",
                (tx.txid_bytes, tx.to_hex(), block_hash_bytes, height, time_, int(time.time())),
            )
        return tx.txid_bytes

    def get_transaction(self, txid_bytes: bytes) -> TxRecord | None:
        rows = self._query("SELECT txid, raw_hex, block_hash, height, time, received_time "
                           "FROM transactions WHERE txid = ?", (txid_bytes,))
        return TxRecord(*rows[0]) if rows else None

    def transactions(self) -> list[TxRecord]:
        rows = self._query("SELECT txid, raw_hex, block_hash, height, time, received_time "
                           "FROM transactions ORDER BY height IS NULL, height, received_time")
        return [TxRecord(*r) for r in rows]

    def add_coin(self, txid_bytes: bytes, vout: int, value: int, script_pubkey: bytes,
                 height: int | None, coinbase: bool = False) -> None:
        """Record an output paying us (or update its height)."""
        with self._write() as c:
            c.execute(
                "INSERT INTO coins (txid, vout, value, script_pubkey, height, coinbase) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (txid, vout) DO UPDATE SET "
                "height = excluded.height",
                (txid_bytes, vout, value, script_pubkey, height, int(coinbase)),
            )

    def mark_spent(self, txid_bytes: bytes, vout: int, spent_by: bytes | None) -> None:
        """Set (or with None clear) the spender of one of our coins."""
        with self._write() as c:
            c.execute("UPDATE coins SET spent_by = ? WHERE txid = ? AND vout = ?",
                      (spent_by, txid_bytes, vout))

    def coins(self, include_spent: bool = False) -> list[CoinRecord]:
        sql = "SELECT txid, vout, value, script_pubkey, height, coinbase, spent_by FROM coins"
        if not include_spent:
            sql += " WHERE spent_by IS NULL"
        rows = self._query(sql + " ORDER BY height IS NULL, height, txid, vout")
        return [CoinRecord(t, v, val, s, h, bool(cb), sb) for t, v, val, s, h, cb, sb in rows]

    def coin(self, txid_bytes: bytes, vout: int) -> CoinRecord | None:
        """One of our coins (spent or not) by outpoint, or None."""
        rows = self._query("SELECT txid, vout, value, script_pubkey, height, coinbase, spent_by "
                           "FROM coins WHERE txid = ? AND vout = ?", (txid_bytes, vout))
        if not rows:
            return None
        t, v, val, s, h, cb, sb = rows[0]
        return CoinRecord(t, v, val, s, h, bool(cb), sb)

    def outpoints(self) -> set[tuple[bytes, int]]:
        """(txid bytes, vout) of every coin the wallet has recorded, spent or not."""
        return {(t, v) for t, v in self._query("SELECT txid, vout FROM coins")}

    def unconfirmed_txids(self) -> list[bytes]:
        return [r[0] for r in self._query("SELECT txid FROM transactions WHERE height IS NULL")]

    def remove_transaction(self, txid_bytes: bytes) -> None:
        """Forget a transaction that left the chain and the mempool (conflicted, replaced,
        or a disconnected coinbase): its record, the coins it created, and its spends
        (the coins it spent become unspent again)."""
        with self._write() as c:
            c.execute("DELETE FROM transactions WHERE txid = ?", (txid_bytes,))
            c.execute("DELETE FROM coins WHERE txid = ?", (txid_bytes,))
            c.execute("UPDATE coins SET spent_by = NULL WHERE spent_by = ?", (txid_bytes,))

    def balance(self) -> int:
        """Sum of unspent coins in satoshis (confirmed or not; maturity is the caller's)."""
        (total,), = self._query("SELECT COALESCE(SUM(value), 0) FROM coins WHERE spent_by IS NULL")
        return total

    # --- sync state ---------------------------------------------------------------

    def best_block(self) -> tuple[bytes, int] | None:
        """(hash bytes, height) of the last block processed, or None before the first."""
        rows = self._query("SELECT best_hash, best_height FROM sync_state WHERE id = 1")
        if not rows or rows[0][0] is None:
            return None
        return rows[0][0], rows[0][1]

    def set_best_block(self, hash_bytes: bytes, height: int) -> None:
        """Record that block `height` = `hash_bytes` has been processed (and is the tip)."""
        with self._write() as c:
            c.execute("INSERT OR REPLACE INTO block_hashes VALUES (?, ?)", (height, hash_bytes))
            c.execute("UPDATE sync_state SET best_hash = ?, best_height = ? WHERE id = 1",
                      (hash_bytes, height))

    def block_hash(self, height: int) -> bytes | None:
        rows = self._query("SELECT hash FROM block_hashes WHERE height = ?", (height,))
        return rows[0][0] if rows else None

    def rewind(self, height: int) -> None:
        """Undo everything above `height` (a reorganisation's fork point): forget those
        block hashes, make their transactions and coins unconfirmed, set the tip back."""
        with self._write() as c:
            c.execute("DELETE FROM block_hashes WHERE height > ?", (height,))
            c.execute("UPDATE transactions SET block_hash = NULL, height = NULL, time = NULL "
                      "WHERE height > ?", (height,))
            c.execute("UPDATE coins SET height = NULL WHERE height > ?", (height,))
            rows = c.execute("SELECT hash FROM block_hashes WHERE height = ?", (height,)).fetchall()
            if rows:
                c.execute("UPDATE sync_state SET best_hash = ?, best_height = ? WHERE id = 1",
                          (rows[0][0], height))
            else:
                c.execute("UPDATE sync_state SET best_hash = NULL, best_height = NULL WHERE id = 1")

