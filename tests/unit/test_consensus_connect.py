"""connect_block / disconnect_block: UTXO bookkeeping, undo data, BIP30, script flags."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from blockbuilder import OP_TRUE_SCRIPT, BlockBuilder, MemoryChain

from coin.consensus.coins import Coin, MemoryCoinsView
from coin.consensus.connect import connect_block, disconnect_block, is_bip30_repeat
from coin.consensus.errors import InternalError, Rejection
from coin.consensus.flags import get_block_script_flags
from coin.consensus.undo import BlockUndo, TxUndo
from coin.mining.template import create_block
from coin.params import get_params
from coin.primitives import OutPoint, TxOut
from coin.script import verify_transaction
from coin.script.flags import Flags
from coin.serialize import hex_to_hash


def _naive_utxo_set(blocks):
    """Independent oracle: every spendable output ever created minus every one spent."""
    created, spent = {}, set()
    for block in blocks[1:]:          # the genesis output is not spendable
        for tx in block.txs:
            if not tx.is_coinbase():
                spent.update(txin.prevout for txin in tx.inputs)
            for i, out in enumerate(tx.outputs):
                if not (out.script_pubkey[:1] == b"\x6a" or len(out.script_pubkey) > 10_000):
                    created[OutPoint(tx.txid_bytes, i)] = out
    return {op: out for op, out in created.items() if op not in spent}


@pytest.fixture(scope="module")
def busy_chain():
    """180 regtest blocks; from 151 on, blocks spend coinbases and each other's outputs."""
    rng = random.Random(7)
    builder = BlockBuilder()
    blocks = builder.build_chain(150)
    wallet = []   # Utxos paying the builder, spendable once mined
    next_coinbase = 1
    for _ in range(30):
        height = builder.tip.height + 1
        txs = []
        for _ in range(rng.randint(1, 4)):
            inputs = []
            if next_coinbase <= height - 100:
                inputs.append(builder.coinbase_utxo(next_coinbase))
                next_coinbase += 1
            while wallet and (not inputs or rng.random() < 0.5):
                inputs.append(wallet.pop(rng.randrange(len(wallet))))
            if sum(u.txout.value for u in inputs) < 20_000:
                continue
            kind = rng.choice([builder.p2wpkh, builder.p2pkh, OP_TRUE_SCRIPT])
            tx = builder.spend(inputs, n_outputs=rng.randint(1, 3), fee=rng.randint(0, 5000),
                               script_pubkey=kind)
            txs.append(tx)
            # Sometimes spend the new outputs within the same block.
            if rng.random() < 0.3:
                child = builder.spend(builder.utxos_of(tx)[:1], n_outputs=2, fee=100)
                txs.append(child)
                wallet.extend(builder.utxos_of(child))
                wallet.extend(builder.utxos_of(tx)[1:])
            else:
                wallet.extend(builder.utxos_of(tx))
        if rng.random() < 0.3 and next_coinbase <= height - 100:
            burn = builder.spend([builder.coinbase_utxo(next_coinbase)],
                                 outputs=[TxOut(0, b"\x6a\x04data"), TxOut(10**8, builder.p2wpkh)])
            next_coinbase += 1
            txs.append(burn)
        blocks.append(builder.next_block(txs))
    return builder, [builder.params.genesis, *blocks]


def test_connect_then_disconnect_restores_every_coin_set(busy_chain):
    builder, blocks = busy_chain
    chain = MemoryChain(builder.params)
    snapshots = [dict(chain.view.coins)]
    for block in blocks[1:]:
        chain.process_block(block)
        snapshots.append(dict(chain.view.coins))
    assert chain.height == 180
    assert sum(len(b.txs) for b in blocks[151:]) > 100
    # The view holds exactly the outputs an independent tally says are unspent,
    # with the right heights and coinbase flags.
    oracle = _naive_utxo_set(blocks)
    assert {op: c.output for op, c in chain.view.coins.items()} == oracle
    for height, block in enumerate(blocks[1:], 1):
        for i, _ in enumerate(block.txs[0].outputs):
            coin = chain.view.get_coin(OutPoint(block.txs[0].txid_bytes, i))
            assert coin is None or (coin.height == height and coin.is_coinbase)
    # Undo data survives its byte encoding; disconnecting walks back through every state.
    while chain.height > 0:
        height = chain.height
        undo = chain.undos[-1]
        assert BlockUndo.from_bytes(undo.to_bytes()) == undo
        assert len(undo.txs) == len(chain.blocks[-1].txs) - 1
        assert chain.disconnect_tip() is True
        assert chain.view.coins == snapshots[height - 1], f"after disconnecting {height}"
    assert chain.view.coins == {}


def test_executor_and_sigcache_give_the_same_result(busy_chain):
    from coin.script.sigcache import SignatureCache
    builder, blocks = busy_chain
    serial = MemoryChain(builder.params)
    for block in blocks[1:]:
        serial.process_block(block)
    cache = SignatureCache(10_000)
    with ThreadPoolExecutor(2) as executor:
        for n in range(2):
            parallel = MemoryChain(builder.params)
            for block in blocks[1:]:
                parallel.process_block(block, executor=executor, sigcache=cache)
            assert parallel.view.coins == serial.view.coins
            assert parallel.undos == serial.undos
            if n == 0:
                # Block validation only reads the cache (as Core's); fill it as the
                # mempool would, so that the second pass finds every signature there.
                assert len(cache) == 0
                for block in blocks[1:]:
                    for tx in block.txs[1:]:
                        spent = [builder.outputs[txin.prevout] for txin in tx.inputs]
                        verify_transaction(tx, spent, Flags.P2SH | Flags.WITNESS, sigcache=cache)
        assert cache.hits > 0


def test_undo_records_the_spent_coins(busy_chain):
    builder, blocks = busy_chain
    chain = MemoryChain(builder.params)
    for block in blocks[1:160]:
        chain.process_block(block)
    before = chain.view.copy()
    chain.process_block(blocks[160])
    undo = chain.undos[-1]
    assert len(undo.txs) > 1
    for tx, txundo in zip(blocks[160].txs[1:], undo.txs, strict=True):
        assert len(txundo.spent) == len(tx.inputs)
        for txin, coin in zip(tx.inputs, txundo.spent, strict=True):
            # Either it was in the UTXO set before the block, or created earlier in it.
            expected = before.get_coin(txin.prevout)
            if expected is not None:
                assert coin == expected
            else:
                assert coin.height == 160 and not coin.is_coinbase


def test_unclean_and_corrupt_disconnects(busy_chain):
    builder, blocks = busy_chain
    chain = MemoryChain(builder.params)
    for block in blocks[1:171]:
        chain.process_block(block)
    block, undo = chain.blocks[-1], chain.undos[-1]
    # Corrupt undo data: wrong number of TxUndo, wrong number of coins.
    with pytest.raises(InternalError):
        disconnect_block(block, BlockUndo(undo.txs[:-1]), chain.view.copy())
    bad = BlockUndo((TxUndo(undo.txs[0].spent + undo.txs[0].spent),) + undo.txs[1:])
    with pytest.raises(InternalError):
        disconnect_block(block, bad, chain.view.copy())
    # A created output that is already gone makes the disconnect unclean but complete.
    view = chain.view.copy()
    txid = block.txs[0].txid_bytes
    assert view.spend_coin(OutPoint(txid, 0)) is not None
    assert disconnect_block(block, undo, view, height=170) is False
    reference = chain.view.copy()
    assert disconnect_block(block, undo, reference, height=170) is True
    assert view.coins == reference.coins
    # A wrong height for the created coins is unclean too.
    assert disconnect_block(block, undo, chain.view.copy(), height=171) is False


# -- BIP30 ------------------------------------------------------------------------------

class _Entry:
    """Stand-in entry whose hash we choose (for the BIP34 hash shortcut)."""

    def __init__(self, height, hash_bytes, prev=None, ancestors=None):
        self.height = height
        self.hash_bytes = hash_bytes
        self.prev = prev
        self.ancestors = ancestors or {}

    def get_ancestor(self, height):
        return self if height == self.height else self.ancestors.get(height)

    def median_time_past(self):
        return 1_500_000_000


def _coinbase_block(height, params):
    return create_block(b"\x33" * 32, height, [], 1_500_000_000, params.pow_limit_bits, params,
                        OP_TRUE_SCRIPT)


@pytest.mark.parametrize("height,bip34_hash_matches,enforced", [
    (300_000, True, False),       # BIP34 active on the known chain: BIP30 skipped
    (300_000, False, True),       # another chain at the BIP34 height: enforced
    (1_983_702, True, True),      # indicated heights of old coinbases: enforced again
])
def test_bip30_bip34_shortcut(height, bip34_hash_matches, enforced):
    params = get_params("main")
    block = _coinbase_block(height, params)
    coinbase = block.txs[0]
    bip34_hash = hex_to_hash(params.bip34_hash) if bip34_hash_matches else b"\x44" * 32
    ancestor = _Entry(params.bip34_height, bip34_hash)
    prev = _Entry(height - 1, block.header.prev_hash_bytes, ancestors={params.bip34_height: ancestor})
    entry = _Entry(height, block.hash_bytes, prev)
    view = MemoryCoinsView()
    view.add_coin(OutPoint(coinbase.txid_bytes, 0), Coin(coinbase.outputs[0], 1, True), False)
    if enforced:
        with pytest.raises(Rejection, match="bad-txns-BIP30"):
            connect_block(block, entry, view, params)
    else:
        connect_block(block, entry, view, params)   # a coinbase may overwrite (Core's AddCoin)
        assert view.get_coin(OutPoint(coinbase.txid_bytes, 0)).height == height


def test_bip30_repeats():
    assert is_bip30_repeat(91842, hex_to_hash(
        "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec"))
    assert is_bip30_repeat(91880, hex_to_hash(
        "00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721"))
    assert not is_bip30_repeat(91843, hex_to_hash(
        "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec"))
    params = get_params("main")
    for height, hash_hex in params.bip30_exceptions.items():
        assert is_bip30_repeat(height, hex_to_hash(hash_hex))


# -- script flags -----------------------------------------------------------------------

def test_block_script_flags_main():
    p = get_params("main")
    h = b"\x55" * 32
    base = Flags.P2SH | Flags.WITNESS
    assert get_block_script_flags(1, h, p) == base
    assert get_block_script_flags(277_647, h, p) == base
    assert get_block_script_flags(p.bip66_height - 1, h, p) == base
    assert get_block_script_flags(p.bip66_height, h, p) == base | Flags.DERSIG
    assert get_block_script_flags(p.bip65_height, h, p) == base | Flags.DERSIG | Flags.CHECKLOCKTIMEVERIFY
    all_flags = (base | Flags.DERSIG | Flags.CHECKLOCKTIMEVERIFY | Flags.CHECKSEQUENCEVERIFY
                 | Flags.NULLDUMMY)
    assert get_block_script_flags(p.csv_height, h, p) == all_flags & ~Flags.NULLDUMMY
    assert get_block_script_flags(p.segwit_height, h, p) == all_flags
    # Core's BIP16 exception block (height 170060) is verified without any flag.
    assert get_block_script_flags(170_060, hex_to_hash(p.p2sh_exception_block_hash), p) == Flags.NONE
    # Taproot is not among our rules: its exception block gets what every block gets.
    assert get_block_script_flags(692_261, hex_to_hash(p.taproot_exception_block_hash), p) == all_flags
    assert not get_block_script_flags(800_000, h, p) & Flags.TAPROOT


def test_block_script_flags_regtest():
    p = get_params("regtest")
    h = b"\x55" * 32
    assert get_block_script_flags(0, h, p) == Flags.P2SH | Flags.WITNESS | Flags.NULLDUMMY
    assert get_block_script_flags(1, h, p) == (
        Flags.P2SH | Flags.WITNESS | Flags.NULLDUMMY | Flags.DERSIG
        | Flags.CHECKLOCKTIMEVERIFY | Flags.CHECKSEQUENCEVERIFY)
