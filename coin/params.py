"""Chain parameters: one `ChainParams` per network, passed explicitly to every component.

Networks: `main` (Bitcoin's mainnet rules and history) and `regtest` (Bitcoin Core's
regtest: trivial proof of work, no retargeting, halving every 150 blocks, soft forks
active from the start). There is no global "current network": call
`get_params(name)` and pass the result along.

The genesis blocks are built from their fields here (not parsed from stored hex), so
their hashes are a check on the primitives: main 000000000019d6…e26f, regtest
0f9188f1…2206.
"""

from dataclasses import dataclass, field

from coin.primitives import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from coin.primitives.transaction import NULL_HASH

__all__ = ["ChainParams", "get_params", "NETWORKS", "COIN", "MAX_MONEY", "NO_TIMEOUT"]

COIN = 100_000_000
NO_TIMEOUT = 2**63 - 1  # Core's Consensus::BIP9Deployment::NO_TIMEOUT
MAX_MONEY = 21_000_000 * COIN

_GENESIS_SCRIPT_SIG = (
    bytes.fromhex("04ffff001d010445")
    + b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks"
)
_GENESIS_PUBKEY = bytes.fromhex(
    "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb6"
    "49f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
)


def _genesis_block(time: int, nonce: int, bits: int, version: int = 1,
                   reward: int = 50 * COIN) -> Block:
    """Core's CreateGenesisBlock: one coinbase paying `reward` to Satoshi's key (P2PK)."""
    coinbase = Transaction(
        version=1,
        inputs=[TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), _GENESIS_SCRIPT_SIG, 0xFFFFFFFF)],
        outputs=[TxOut(reward, bytes([len(_GENESIS_PUBKEY)]) + _GENESIS_PUBKEY + b"\xac")],
        lock_time=0,
    )
    header = BlockHeader(version, NULL_HASH, coinbase.txid_bytes, time, bits, nonce)
    return Block(header, [coinbase])


@dataclass(frozen=True)
class ChainParams:
    """Every consensus constant and network setting of one chain (rpc.md section 4)."""

    name: str                         # "main" or "regtest" (Core's chain names)
    genesis: Block
    magic: bytes                      # P2P message start
    default_port: int                 # P2P
    rpc_port: int
    datadir_suffix: str               # network subdirectory of the datadir ("" for main)

    pow_limit: int
    pow_limit_bits: int
    pow_target_timespan: int
    pow_target_spacing: int
    pow_no_retargeting: bool
    pow_allow_min_difficulty: bool
    subsidy_halving_interval: int
    coinbase_maturity: int

    bip34_height: int
    bip34_hash: str | None
    bip65_height: int
    bip66_height: int
    csv_height: int
    segwit_height: int
    # Blocks whose scripts Core verifies with fewer flags (GetBlockScriptFlags).
    p2sh_exception_block_hash: str | None
    taproot_exception_block_hash: str | None
    # BIP30 is not enforced for these two mainnet blocks (height -> hash), as in Core.
    bip30_exceptions: dict[int, str] = field(default_factory=dict)

    base58_pubkey_prefix: int = 0
    base58_script_prefix: int = 5
    wif_prefix: int = 128
    xpub_prefix: bytes = bytes.fromhex("0488B21E")
    xprv_prefix: bytes = bytes.fromhex("0488ADE4")
    bech32_hrp: str = "bc"
    bip44_coin_type: int = 0

    max_tip_age: int = 24 * 60 * 60   # IBD ends once the tip is younger than this
    rule_change_window: int = 2016
    rule_change_threshold: int = 1815
    # BIP-0009 deployments still signalled by version bits: (name, bit, start time,
    # timeout, min activation height). Everything else is buried (heights above).
    version_bits_deployments: tuple[tuple[str, int, int, int, int], ...] = ()

    @property
    def genesis_hash_bytes(self) -> bytes:
        return self.genesis.hash_bytes

    @property
    def genesis_hash(self) -> str:
        return self.genesis.hash

    @property
    def difficulty_adjustment_interval(self) -> int:
        return self.pow_target_timespan // self.pow_target_spacing


_MAIN = ChainParams(
    name="main",
    genesis=_genesis_block(time=1231006505, nonce=2083236893, bits=0x1D00FFFF),
    magic=bytes.fromhex("f9beb4d9"),
    default_port=8333,
    rpc_port=8332,
    datadir_suffix="",
    pow_limit=0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    pow_limit_bits=0x1D00FFFF,
    pow_target_timespan=14 * 24 * 60 * 60,
    pow_target_spacing=10 * 60,
    pow_no_retargeting=False,
    pow_allow_min_difficulty=False,
    subsidy_halving_interval=210_000,
    coinbase_maturity=100,
    bip34_height=227931,
    bip34_hash="000000000000024b89b42a942fe0d9fea3bb44ab7bd1b19115dd6a759c0808b8",
    bip65_height=388381,
    bip66_height=363725,
    csv_height=419328,
    segwit_height=481824,
    p2sh_exception_block_hash="00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22",
    taproot_exception_block_hash="0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad",
    bip30_exceptions={
        91842: "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec",
        91880: "00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721",
    },
)

_REGTEST = ChainParams(
    name="regtest",
    genesis=_genesis_block(time=1296688602, nonce=2, bits=0x207FFFFF),
    magic=bytes.fromhex("fabfb5da"),
    default_port=18444,
    rpc_port=18443,
    datadir_suffix="regtest",
    pow_limit=0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    pow_limit_bits=0x207FFFFF,
    pow_target_timespan=14 * 24 * 60 * 60,
    pow_target_spacing=10 * 60,
    pow_no_retargeting=True,
    pow_allow_min_difficulty=True,
    subsidy_halving_interval=150,
    coinbase_maturity=100,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=0,
    p2sh_exception_block_hash=None,
    taproot_exception_block_hash=None,
    base58_pubkey_prefix=111,
    base58_script_prefix=196,
    wif_prefix=239,
    xpub_prefix=bytes.fromhex("043587CF"),
    xprv_prefix=bytes.fromhex("04358394"),
    bech32_hrp="bcrt",
    bip44_coin_type=1,
    rule_change_window=144,
    rule_change_threshold=108,
    version_bits_deployments=(("testdummy", 28, 0, NO_TIMEOUT, 0),),
)

NETWORKS: dict[str, ChainParams] = {"main": _MAIN, "regtest": _REGTEST}


def get_params(name: str) -> ChainParams:
    """The parameters of network `name` ("main" or "regtest"); ValueError otherwise."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown chain {name!r} (expected one of: {', '.join(NETWORKS)})") from None
