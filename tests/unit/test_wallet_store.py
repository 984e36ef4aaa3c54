"""coin.wallet.store: the encrypted SQLite wallet file.

Secrets are checked against the raw bytes of the database and its -wal file, in every
encoding a leak could take (text, raw bytes, hex, WIF, xprv).
"""

import os
import sqlite3
import stat

import pytest

from coin.crypto.keys import wif_encode
from coin.params import get_params
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.wallet import crypter, store
from coin.wallet.accounts import CHANGE, GAP_LIMIT, RECEIVE, ScriptType
from coin.wallet.bip32 import ExtendedKey
from coin.wallet.bip39 import InvalidMnemonic, mnemonic_to_seed
from coin.wallet.store import WalletError, WalletLocked, WrongPassphrase

PASS = "correct horse battery staple"
WORDS = "legal winner thank year wave sausage worth useful legal winner thank yellow"
REGTEST = get_params("regtest")


@pytest.fixture(autouse=True)
def fast_kdf(request, monkeypatch):
    """scrypt at n=2**10 so the suite stays fast; `real_kdf` tests keep the real minimum."""
    if "real_kdf" not in request.fixturenames:
        monkeypatch.setattr(crypter, "MIN_SCRYPT_N", 2**10)
        monkeypatch.setattr(crypter, "DEFAULT_SCRYPT_N", 2**10)


@pytest.fixture
def real_kdf():
    """Requested by tests that must run with the real scrypt parameters."""


@pytest.fixture
def wallet_path(tmp_path):
    return tmp_path / "regtest" / "wallets" / "alice.sqlite"


def _file_bytes(path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-journal"):
        p = f"{path}{suffix}"
        if os.path.exists(p):
            with open(p, "rb") as f:  # noqa: PTH123
                data += f.read()
    return data


def _secret_needles(words: str, mnemonic_passphrase: str = "") -> list[bytes]:
    seed = mnemonic_to_seed(words, mnemonic_passphrase)
    master = ExtendedKey.from_seed(seed)
    needles = [words.encode(), seed, seed.hex().encode(), master.key, master.chain_code,
               master.xprv(REGTEST).encode(), PASS.encode()]
    # Consecutive word pairs catch a mnemonic stored in any separator-joined form.
    w = words.split()
    needles += [f"{a} {b}".encode() for a, b in zip(w, w[1:], strict=False)]
    for purpose in (84, 49, 44):
        account = master.derive(f"m/{purpose}'/1'/0'")
        needles += [account.key, account.chain_code, account.xprv(REGTEST).encode()]
        for chain in (0, 1):
            for index in range(3):
                priv = account.child(chain).child(index).key
                needles += [priv, priv.hex().encode(), wif_encode(priv, REGTEST).encode()]
    if mnemonic_passphrase:
        needles.append(mnemonic_passphrase.encode())
    return needles


def _tx(n: int) -> Transaction:
    return Transaction(2, [TxIn(OutPoint(bytes([n]) * 32, 0))],
                       [TxOut(50_000 + n, b"\x00\x14" + bytes(20))], 0)


def test_create_open_round_trip(wallet_path):
    w = store.create(wallet_path, PASS, "regtest", WORDS, birthday_height=7)
    first = w.get_new_address()
    xpubs = [a.xpub for a in w.accounts()]
    wallet_id = w.wallet_id
    w.close()
    assert stat.S_IMODE(os.stat(wallet_path).st_mode) == 0o600
    with store.open(wallet_path) as w2:
        assert w2.is_locked
        assert (w2.name, w2.network, w2.birthday_height) == ("alice", "regtest", 7)
        assert w2.wallet_id == wallet_id
        assert [a.xpub for a in w2.accounts()] == xpubs
        assert [a.script_type for a in w2.accounts()] == [
            ScriptType.P2WPKH, ScriptType.P2SH_P2WPKH, ScriptType.P2PKH]
        assert w2.lookup_script(first.script_pubkey).address == first.address
        second = w2.get_new_address()  # public operations work while locked
        assert second.index == first.index + 1
        with pytest.raises(WalletLocked):
            w2.mnemonic()
        with pytest.raises(WalletLocked):
            w2.private_key(first.script_pubkey)
        with pytest.raises(WalletLocked):
            w2.add_account(ScriptType.P2WPKH, 1)
        w2.unlock(PASS)
        assert w2.mnemonic() == WORDS
        master = ExtendedKey.from_seed(mnemonic_to_seed(WORDS))
        assert w2.private_key(first.script_pubkey) == master.derive("m/84'/1'/0'/0/0").key
        w2.lock()
        with pytest.raises(WalletLocked):
            w2.mnemonic()
    with store.open(wallet_path, PASS) as w3:
        assert not w3.is_locked and w3.mnemonic() == WORDS


def test_wrong_passphrase_fails_cleanly(wallet_path):
    store.create(wallet_path, PASS, "regtest", WORDS).close()
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        store.open(wallet_path, PASS + "!")
    with store.open(wallet_path) as w:
        with pytest.raises(WrongPassphrase):
            w.unlock("")
        assert w.is_locked
        w.unlock(PASS)


def test_change_passphrase(wallet_path):
    with store.create(wallet_path, PASS, "regtest", WORDS) as w:
        with pytest.raises(WrongPassphrase):
            w.change_passphrase("nope", "new one")
        w.change_passphrase(PASS, "new one")
    with pytest.raises(WrongPassphrase):
        store.open(wallet_path, PASS)
    with store.open(wallet_path, "new one") as w:
        assert w.mnemonic() == WORDS


def test_no_secret_in_the_file(wallet_path):
    bip39_pass = "my extra words"
    w = store.create(wallet_path, PASS, "regtest", WORDS, mnemonic_passphrase=bip39_pass)
    for _ in range(5):
        w.mark_used(w.get_new_address().script_pubkey)
    w.get_change_address()
    w.unlock(PASS)
    w.add_account(ScriptType.P2WPKH, 1)
    w.add_transaction(_tx(1), b"\x11" * 32, 101, 1_700_000_000)
    w.change_passphrase(PASS, PASS)
    needles = _secret_needles(WORDS, bip39_pass)
    assert os.path.exists(f"{wallet_path}-wal")  # still open: the WAL holds recent pages
    for phase in ("open", "closed"):
        raw = _file_bytes(wallet_path)
        assert len(raw) > 10_000
        leaks = [n for n in needles if n in raw]
        assert not leaks, f"{phase}: {len(leaks)} secrets found in the wallet file"
        w.close()
    # The test itself can fail: the public data is there in clear.
    raw = _file_bytes(wallet_path)
    with store.open(wallet_path) as w:
        assert w.account().xpub.encode() in raw
        assert w.addresses()[0].address.encode() in raw


def test_secrets_not_in_repr_or_errors(wallet_path):
    w = store.create(wallet_path, PASS, "regtest", WORDS)
    texts = [repr(w), str(w), repr(w.account()), repr(w.get_new_address()),
             repr(w.addresses()[:3])]
    try:
        store.open(wallet_path, "bad")
    except WrongPassphrase as exc:
        texts.append(str(exc))
    needles = _secret_needles(WORDS)
    for text in texts:
        for n in needles:
            assert n.decode("latin-1") not in text
            assert n.hex() not in text
    w.close()


def test_secret_blobs_bound_to_wallet_and_field(tmp_path):
    a = store.create(tmp_path / "a.sqlite", PASS, "regtest", WORDS)
    b = store.create(tmp_path / "b.sqlite", PASS, "regtest")
    a.close()
    b.close()
    # Give b a's mnemonic ciphertext (same passphrase, different wallet id / master key).
    ca, cb = sqlite3.connect(tmp_path / "a.sqlite"), sqlite3.connect(tmp_path / "b.sqlite")
    blob = ca.execute("SELECT ciphertext FROM secrets WHERE name='mnemonic'").fetchone()[0]
    cb.execute("UPDATE secrets SET ciphertext=? WHERE name='mnemonic'", (blob,))
    cb.commit()
    # Swap the seed's ciphertext into the mnemonic field of a.
    seed_blob = ca.execute("SELECT ciphertext FROM secrets WHERE name='seed'").fetchone()[0]
    ca.execute("UPDATE secrets SET ciphertext=? WHERE name='mnemonic'", (seed_blob,))
    ca.commit()
    ca.close()
    cb.close()
    for name in ("a.sqlite", "b.sqlite"):
        with store.open(tmp_path / name, PASS) as w, pytest.raises(WalletError, match="mnemonic"):
            w.mnemonic()


def test_real_kdf_parameters(wallet_path, real_kdf):
    with store.create(wallet_path, PASS, "regtest", WORDS):
        pass
    conn = sqlite3.connect(wallet_path)
    method, salt, n, r, p = conn.execute("SELECT method, salt, n, r, p FROM kdf").fetchone()
    conn.close()
    assert (method, n, r, p) == ("scrypt", 2**15, 8, 1) and len(salt) == 16
    with pytest.raises(WrongPassphrase):
        store.open(wallet_path, "wrong")
    store.open(wallet_path, PASS).close()


def test_create_refuses_bad_input(wallet_path, real_kdf):
    with pytest.raises(ValueError):
        store.create(wallet_path, "", "regtest")
    with pytest.raises(InvalidMnemonic):
        store.create(wallet_path, PASS, "regtest", "abandon " * 12)
    assert not wallet_path.exists()
    with pytest.raises(ValueError):
        store.create(wallet_path, PASS, "regtest", scrypt_n=2**10)
    assert not wallet_path.exists()
    with pytest.raises(ValueError, match="birthday"):   # a wallet that could never sync
        store.create(wallet_path, PASS, "regtest", birthday_height=-1)
    assert not wallet_path.exists()
    store.create(wallet_path, PASS, "regtest").close()
    with pytest.raises(FileExistsError):
        store.create(wallet_path, PASS, "regtest")
    with pytest.raises(WalletError):
        store.open(wallet_path.with_name("missing.sqlite"))
    garbage = wallet_path.with_name("garbage.sqlite")
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(WalletError, match="not a wallet"):
        store.open(garbage)
    empty_db = wallet_path.with_name("other.sqlite")
    sqlite3.connect(empty_db).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(WalletError):
        store.open(empty_db)


def test_generated_mnemonic_is_stored(wallet_path):
    with store.create(wallet_path, PASS, "main", strength=256) as w:
        words = w.mnemonic()
        assert len(words.split()) == 24
        master = ExtendedKey.from_seed(mnemonic_to_seed(words))
        assert w.account().xpub == master.derive("m/84'/0'/0'").xpub(get_params("main"))
        assert w.get_new_address().address.startswith("bc1q")


def test_lookahead_window_and_used_flags(wallet_path):
    with store.create(wallet_path, PASS, "regtest", WORDS,
                      script_types=(ScriptType.P2WPKH,)) as w:
        assert len(w.watched_scripts()) == 2 * GAP_LIMIT
        account = w.account()
        far = account.derive(RECEIVE, GAP_LIMIT - 1)
        assert w.is_mine(far.script_pubkey)
        assert not w.is_mine(account.derive(RECEIVE, GAP_LIMIT).script_pubkey)
        new = w.mark_used(far.script_pubkey)
        assert [a.index for a in new] == list(range(GAP_LIMIT, 2 * GAP_LIMIT))
        assert w.lookup_script(far.script_pubkey).used
        assert w.mark_used(b"\x6a") == []  # not ours
        # The next address handed out skips past the used one.
        assert w.get_new_address().index == GAP_LIMIT
        change = w.get_change_address()
        assert (change.chain, change.index) == (CHANGE, 0)
        assert change.address == account.derive(CHANGE, 0).address


def test_p2sh_address_has_redeem_script(wallet_path):
    with store.create(wallet_path, PASS, "regtest", WORDS) as w:
        a = w.get_new_address(ScriptType.P2SH_P2WPKH)
        assert a.address.startswith("2") and a.redeem_script[:2] == b"\x00\x14"
        assert w.lookup_script(a.script_pubkey).derived() == a


def test_transactions_coins_and_sync_state(wallet_path):
    with store.create(wallet_path, PASS, "regtest", WORDS,
                      script_types=(ScriptType.P2WPKH,)) as w:
        assert w.best_block() is None
        tx1, tx2 = _tx(1), _tx(2)
        assert w.add_transaction(tx1.to_bytes(), b"\x01" * 32, 101, 1000) == tx1.txid_bytes
        w.add_transaction(tx2)  # unconfirmed
        script = w.get_new_address().script_pubkey
        w.add_coin(tx1.txid_bytes, 0, 50_001, script, 101, coinbase=False)
        w.add_coin(tx2.txid_bytes, 0, 50_002, script, None)
        assert w.balance() == 100_003
        w.mark_spent(tx1.txid_bytes, 0, tx2.txid_bytes)
        assert w.balance() == 50_002
        assert [c.txid for c in w.coins(include_spent=True)] == [tx1.txid, tx2.txid]
        for h in range(99, 103):
            w.set_best_block(bytes([h]) * 32, h)
        assert w.best_block() == (bytes([102]) * 32, 102)
        rec = w.get_transaction(tx1.txid_bytes)
        assert (rec.txid, rec.height, rec.tx) == (tx1.txid, 101, tx1)
        w.rewind(100)
        assert w.best_block() == (bytes([100]) * 32, 100)
        assert w.block_hash(101) is None and w.block_hash(100) == bytes([100]) * 32
        assert w.get_transaction(tx1.txid_bytes).height is None
        assert all(c.height is None for c in w.coins(include_spent=True))
        w.add_transaction(tx1, b"\x02" * 32, 101, 2000)  # re-confirmed on the new branch
        assert w.get_transaction(tx1.txid_bytes).block_hash_bytes == b"\x02" * 32
    with store.open(wallet_path) as w:
        assert len(w.transactions()) == 2 and w.balance() == 50_002


def test_write_is_atomic(wallet_path):
    with store.create(wallet_path, PASS, "regtest", WORDS) as w:
        before = len(w.watched_scripts())
        with pytest.raises(RuntimeError), w._write() as c:
            c.execute("UPDATE accounts SET next_receive = 99")
            raise RuntimeError("boom")
        assert w.get_new_address().index == 0
        assert len(w.watched_scripts()) == before + 1
