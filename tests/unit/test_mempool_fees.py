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


class _EagerStats:
    """Core's UpdateMovingAverages done eagerly (every average times the decay each
    block), wrapped around one horizon of a FeeEstimator, to check the lazy decay."""

    def __init__(self, stats):
        self.stats = stats

    def true_values(self):
        k = self.stats._scale
        return ([[v * k for v in row] for row in self.stats.conf_avg],
                [[v * k for v in row] for row in self.stats.fail_avg],
                [v * k for v in self.stats.tx_ct_avg], [v * k for v in self.stats.feerate_avg])


def test_lazy_decay_matches_cores_eager_decay(monkeypatch):
    import random
    from types import SimpleNamespace

    from coin.mempool import fees

    # Renormalise often, so the test crosses that path many times.
    monkeypatch.setattr(fees._TxConfirmStats, "_RENORMALISE_BELOW", 0.5)
    lazy = FeeEstimator()
    eager = {name: _EagerReference(getattr(lazy, name)) for name in ("short", "medium", "long")}
    rng = random.Random(7)
    pending = []
    for height in range(1, 400):
        confirmed = [e for e in pending if rng.random() < 0.4]
        pending = [e for e in pending if e not in confirmed]
        lazy.process_block(height, confirmed)
        for ref in eager.values():
            ref.process_block(height, confirmed, lazy)
        for _ in range(rng.randrange(0, 6)):
            entry = SimpleNamespace(txid_bytes=rng.randbytes(32), fee=rng.randrange(100, 100_000),
                                    vsize=rng.randrange(100, 1000), height=height)
            lazy.process_transaction(entry, True)
            for ref in eager.values():
                ref.track(entry, lazy)
            pending.append(entry)
        if rng.random() < 0.05 and pending:  # a transaction leaves the pool unconfirmed
            gone = pending.pop(rng.randrange(len(pending)))
            lazy.remove_tx(gone.txid_bytes)
            for ref in eager.values():
                ref.record_failure(gone)
    for name, ref in eager.items():
        got = _EagerStats(getattr(lazy, name)).true_values()
        for mine, theirs in zip(got, ref.values(), strict=True):
            flat_mine = [x for row in mine for x in (row if isinstance(row, list) else [row])]
            flat_theirs = [x for row in theirs for x in (row if isinstance(row, list) else [row])]
            assert flat_mine == pytest.approx(flat_theirs, rel=1e-9, abs=1e-12), name


class _EagerReference:
    """An independent eager copy of one horizon's averages (Core's arithmetic)."""

    def __init__(self, stats):
        nb = len(stats.buckets)
        periods = len(stats.conf_avg)
        self.decay, self.scale = stats.decay, stats.scale
        self.conf = [[0.0] * nb for _ in range(periods)]
        self.fail = [[0.0] * nb for _ in range(periods)]
        self.txct = [0.0] * nb
        self.rate = [0.0] * nb
        self.tracked = {}
        self.best = 0

    def values(self):
        return self.conf, self.fail, self.txct, self.rate

    def track(self, entry, est):
        if entry.txid_bytes in est._tracked:
            self.tracked[entry.txid_bytes] = (entry.height, est._tracked[entry.txid_bytes][1], entry)

    def process_block(self, height, confirmed, est):
        d = self.decay
        self.best = height
        self.conf = [[v * d for v in row] for row in self.conf]
        self.fail = [[v * d for v in row] for row in self.fail]
        self.txct = [v * d for v in self.txct]
        self.rate = [v * d for v in self.rate]
        for e in confirmed:
            pos = self.tracked.pop(e.txid_bytes, None)
            if pos is None or height - pos[0] <= 0:
                continue
            blocks, bucket = height - pos[0], pos[1]
            for i in range((blocks + self.scale - 1) // self.scale, len(self.conf) + 1):
                self.conf[i - 1][bucket] += 1
            self.txct[bucket] += 1
            self.rate[bucket] += float(e.fee * 1000 // e.vsize)

    def record_failure(self, entry):
        pos = self.tracked.pop(entry.txid_bytes, None)
        if pos is None:
            return
        blocks_ago = self.best - pos[0]
        if blocks_ago >= self.scale:
            for i in range(min(blocks_ago // self.scale, len(self.fail))):
                self.fail[i][pos[1]] += 1
