"""Fee estimation (coin.mempool.fees): fed by a real pool and real blocks."""

import pytest
from test_mempool_support import Env

from coin.mempool.fees import INSUFFICIENT_DATA, FeeEstimator, smart_fee_result


def _feed(env, utxos, rates, blocks_to_confirm=1):
    """Accept one tx per sat/vB rate in `rates`, then mine them after `blocks_to_confirm`."""
    txs = []
    for u, rate in zip(utxos, rates, strict=False):
        probe = env.spend([u], fee=0)
        txs.append(env.spend([u], fee=rate * probe.vsize))
    for tx in txs:
        env.pool.accept(tx)
    for _ in range(blocks_to_confirm - 1):
        env.mine([])
    env.mine(txs)
    return txs


def test_insufficient_data_before_blocks():
    est = FeeEstimator()
    env = Env(fee_estimator=est)
    assert smart_fee_result(est, env.pool, 6) == {"errors": [INSUFFICIENT_DATA], "blocks": 0}
    with pytest.raises(ValueError):
        est.estimate_smart_fee(0)
    with pytest.raises(ValueError):
        est.estimate_smart_fee(1009)
    with pytest.raises(ValueError):
        smart_fee_result(est, env.pool, 6, "fast")


def test_estimate_after_enough_blocks():
    est = FeeEstimator()
    env = Env(n_blocks=130, fee_estimator=est)
    env.mine([])                          # the estimator learns the tip height
    utxos = env.fund(200)
    assert est.estimate_smart_fee(2) == (0, 0)
    i = 0
    for _ in range(12):
        _feed(env, utxos[i:i + 15], [10] * 15)
        i += 15
    rate, blocks = est.estimate_smart_fee(2)
    assert blocks == 2
    # every tracked transaction paid 10 sat/vB (10000 sat/kvB, up to vsize rounding)
    assert 9_900 <= rate <= 10_100
    result = smart_fee_result(est, env.pool, 2)
    assert result == {"feerate": rate, "blocks": 2}
    # a long target is capped at half the blocks seen since tracking began
    assert est.estimate_smart_fee(1008)[1] == est.block_span() // 2
    assert smart_fee_result(est, env.pool, 1)["blocks"] == 2   # target 1 is answered as 2


def test_estimate_never_below_relay_floor():
    est = FeeEstimator()
    env = Env(n_blocks=130, fee_estimator=est, min_relay_fee=1000)
    env.mine([])
    utxos = env.fund(100)
    for k in range(6):
        _feed(env, utxos[k * 15:(k + 1) * 15], [2] * 15)
    rate, _ = est.estimate_smart_fee(2)
    assert 1_900 <= rate <= 2_100
    env.pool.policy = type(env.pool.policy)(min_relay_fee=5000)
    assert smart_fee_result(est, env.pool, 2)["feerate"] == 5000


def test_slow_confirmations_raise_the_short_estimate():
    est = FeeEstimator()
    env = Env(n_blocks=130, fee_estimator=est)
    env.mine([])
    utxos = env.fund(200)
    # high payers confirm in the next block, low payers only three blocks later
    for k in range(8):
        chunk = utxos[k * 20:(k + 1) * 20]
        fast = chunk[:10]
        slow = chunk[10:]
        slow_txs = []
        for u in slow:
            probe = env.spend([u], fee=0)
            tx = env.spend([u], fee=2 * probe.vsize)
            env.pool.accept(tx)
            slow_txs.append(tx)
        _feed(env, fast, [50] * 10)
        env.mine([])
        env.mine(slow_txs)
    fast_rate, _ = est.estimate_smart_fee(2)
    assert fast_rate >= 40_000          # only the 50 sat/vB bucket confirms within 2 blocks
    # within 6 blocks (half target 3: the slow ones' 3 blocks) 2 sat/vB is enough
    slow_rate, blocks = est.estimate_smart_fee(6)
    assert blocks == 6 and 1_900 <= slow_rate <= 2_100
    assert est.remove_tx(b"\x00" * 32) is False
