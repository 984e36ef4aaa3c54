"""BIP-0044/49/84 accounts: purpose'/coin_type'/account'/chain/index, addresses and look-ahead.

An `Account` is one account-level node (m/purpose'/coin_type'/account') and the script
type its purpose implies:

    BIP-0084  purpose 84  P2WPKH        bc1q... (the default)
    BIP-0049  purpose 49  P2SH-P2WPKH   3... / 2...
    BIP-0044  purpose 44  P2PKH         1... / m... n...

The coin type comes from the network's `ChainParams.bip44_coin_type` (0 on main, 1 on
test networks). Chain 0 is receive, chain 1 change. Addresses are derived from the
account's public node (no secrets needed to watch); `private_key()` needs the private
node, which the store keeps encrypted.

Discovery follows BIP-0044's gap limit of 20: `scan_chain` derives until 20 unused
addresses follow the last used one; `GapWindow` keeps the same window up to date as a
chain follower marks scripts used, telling it which new indices to watch.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

from coin.crypto.address import p2pkh_script, p2sh_script, p2wpkh_script, script_to_address
from coin.crypto.hashes import hash160

from .bip32 import HARDENED, ExtendedKey, format_path

__all__ = [
    "CHANGE",
    "GAP_LIMIT",
    "RECEIVE",
    "Account",
    "DerivedAddress",
    "GapWindow",
    "ScriptType",
    "account_path",
    "scan_chain",
    "scripts_for_pubkey",
]

RECEIVE = 0
CHANGE = 1
GAP_LIMIT = 20


class ScriptType(Enum):
    """The single-key script types and the BIP-0043 purpose each account uses."""

    P2WPKH = "p2wpkh"
    P2SH_P2WPKH = "p2sh-p2wpkh"
    P2PKH = "p2pkh"

    @property
    def purpose(self) -> int:
        return _PURPOSE[self]

    @classmethod
    def from_purpose(cls, purpose: int) -> "ScriptType":
        for st, p in _PURPOSE.items():
            if p == purpose:
                return st
        raise ValueError(f"no single-key script type for purpose {purpose}")


_PURPOSE = {ScriptType.P2WPKH: 84, ScriptType.P2SH_P2WPKH: 49, ScriptType.P2PKH: 44}


def account_path(script_type: ScriptType, params, account: int = 0) -> tuple[int, ...]:
    """(purpose', coin_type', account') for the network of `params`."""
    if not 0 <= account < HARDENED:
        raise ValueError("account index must be 0..2**31-1")
    return (
        script_type.purpose | HARDENED,
        params.bip44_coin_type | HARDENED,
        account | HARDENED,
    )


@dataclass(frozen=True, slots=True)
class DerivedAddress:
    """One address of an account, with what a signer needs for it (no private key).

    `redeem_script` is the P2SH-P2WPKH witness program (the scriptSig push), else None.
    `script_code` is BIP-0143's scriptCode for the segwit types and the scriptPubKey
    itself for P2PKH.
    """

    script_type: ScriptType
    account: int
    chain: int
    index: int
    path: tuple[int, ...]
    pubkey: bytes
    script_pubkey: bytes
    address: str
    redeem_script: bytes | None

    @property
    def key_hash(self) -> bytes:
        return hash160(self.pubkey)

    @property
    def script_code(self) -> bytes:
        return p2pkh_script(hash160(self.pubkey))

    @property
    def path_str(self) -> str:
        return format_path(self.path)


def scripts_for_pubkey(script_type: ScriptType, pubkey: bytes) -> tuple[bytes, bytes | None]:
    """(scriptPubKey, redeem_script or None) paying to the 33-byte `pubkey`."""
    h = hash160(pubkey)
    if script_type is ScriptType.P2WPKH:
        return p2wpkh_script(h), None
    if script_type is ScriptType.P2SH_P2WPKH:
        redeem = p2wpkh_script(h)
        return p2sh_script(hash160(redeem)), redeem
    return p2pkh_script(h), None


class Account:
    """One BIP-0044/49/84 account for a network. Derives addresses; caches chain nodes.

    Build it from the master node (`from_master`, private) or from the account's
    extended public key (`from_xpub`, watch-only).
    """

    __slots__ = ("params", "script_type", "index", "_node", "_chains", "master_fingerprint")

    def __init__(self, node: ExtendedKey, params, script_type: ScriptType, index: int = 0,
                 master_fingerprint: bytes = b"\x00\x00\x00\x00"):
        if node.depth != 3:
            raise ValueError(f"account key must be at depth 3, not {node.depth}")
        if node.child_number != index | HARDENED:
            raise ValueError("account key's child number does not match the account index")
        self.params = params
        self.script_type = script_type
        self.index = index
        self.master_fingerprint = master_fingerprint
        self._node = node
        self._chains: dict[int, ExtendedKey] = {}

    @classmethod
    def from_master(cls, master: ExtendedKey, params, script_type: ScriptType = ScriptType.P2WPKH,
                    index: int = 0) -> "Account":
        """Derive m/purpose'/coin_type'/index' from the (private) master node."""
        node = master.derive(account_path(script_type, params, index))
        return cls(node, params, script_type, index, master.fingerprint)

    @classmethod
    def from_xpub(cls, xpub: str, params, script_type: ScriptType, index: int = 0,
                  master_fingerprint: bytes = b"\x00\x00\x00\x00") -> "Account":
        """A watch-only account from its xpub/tpub (or SLIP-0132 ypub/zpub/upub/vpub)."""
        node = ExtendedKey.from_string(xpub, params)
        if node.is_private:
            node = node.neuter()
        return cls(node, params, script_type, index, master_fingerprint)

    @property
    def can_sign(self) -> bool:
        return self._node.is_private

    @property
    def path(self) -> tuple[int, ...]:
        return account_path(self.script_type, self.params, self.index)

    @property
    def xpub(self) -> str:
        """The account's public node under the network's own prefix (xpub/tpub)."""
        return self._node.xpub(self.params)

    def slip132_xpub(self) -> str:
        """The public node under SLIP-0132's prefix for this script type (ypub/zpub/...)."""
        return self._node.xpub(self.params, self.script_type.value)

    def slip132_xprv(self) -> str:
        """The private node under SLIP-0132's prefix (ValueError if watch-only)."""
        return self._node.xprv(self.params, self.script_type.value)

    def watch_only(self) -> "Account":
        """The same account without its private node."""
        return Account(self._node.neuter(), self.params, self.script_type, self.index,
                       self.master_fingerprint)

    def _chain(self, chain: int) -> ExtendedKey:
        if chain not in (RECEIVE, CHANGE):
            raise ValueError("chain must be 0 (receive) or 1 (change)")
        node = self._chains.get(chain)
        if node is None:
            node = self._node.neuter().child(chain)
            self._chains[chain] = node
        return node

    def derive(self, chain: int, index: int) -> DerivedAddress:
        """The address at chain/index (public derivation; index 0..2**31-1)."""
        if not 0 <= index < HARDENED:
            raise ValueError("address index must be 0..2**31-1")
        pubkey = self._chain(chain).child(index).public_key
        script_pubkey, redeem = scripts_for_pubkey(self.script_type, pubkey)
        return DerivedAddress(
            script_type=self.script_type,
            account=self.index,
            chain=chain,
            index=index,
            path=(*self.path, chain, index),
            pubkey=pubkey,
            script_pubkey=script_pubkey,
            address=script_to_address(script_pubkey, self.params),
            redeem_script=redeem,
        )

    def private_key(self, chain: int, index: int) -> bytes:
        """The 32-byte private key for chain/index; ValueError for a watch-only account."""
        if not self._node.is_private:
            raise ValueError("watch-only account has no private keys")
        if chain not in (RECEIVE, CHANGE) or not 0 <= index < HARDENED:
            raise ValueError("bad chain or index")
        return self._node.child(chain).child(index).key

    def addresses(self, chain: int, start: int, stop: int) -> Iterator[DerivedAddress]:
        for i in range(start, stop):
            yield self.derive(chain, i)

    def __repr__(self) -> str:
        kind = "private" if self.can_sign else "watch-only"
        return (f"Account({self.script_type.value}, {format_path(self.path)}, {kind}, "
                f"network={self.params.name})")


class GapWindow:
    """The look-ahead window of one chain: every index below `end` is watched.

    `end` is highest_used + 1 + gap_limit (so a fresh chain watches 0..gap_limit-1).
    `mark_used(i)` moves the window and returns the range of indices newly inside it,
    which the caller derives and starts watching (Electrum's and Core's top-up).
    """

    __slots__ = ("gap_limit", "highest_used")

    def __init__(self, gap_limit: int = GAP_LIMIT, highest_used: int = -1):
        if gap_limit < 1:
            raise ValueError("gap limit must be at least 1")
        self.gap_limit = gap_limit
        self.highest_used = highest_used

    @property
    def end(self) -> int:
        return self.highest_used + 1 + self.gap_limit

    def mark_used(self, index: int) -> range:
        old_end = self.end
        if index > self.highest_used:
            self.highest_used = index
        return range(old_end, self.end)


def scan_chain(derive: Callable[[int], DerivedAddress], is_used: Callable[[bytes], bool],
               gap_limit: int = GAP_LIMIT) -> tuple[list[DerivedAddress], int]:
    """Derive a chain until `gap_limit` consecutive unused scripts follow the last used one.

    `derive(i)` gives the address at index i; `is_used(script_pubkey)` says whether it
    has history. Returns (every address derived, highest used index or -1).
    """
    window = GapWindow(gap_limit)
    found: list[DerivedAddress] = []
    i = 0
    while i < window.end:
        addr = derive(i)
        found.append(addr)
        if is_used(addr.script_pubkey):
            window.mark_used(i)
        i += 1
    return found, window.highest_used
