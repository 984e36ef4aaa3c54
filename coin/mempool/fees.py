"""Fee estimation from confirmations: Core's CBlockPolicyEstimator (policy/fees.cpp), for
`estimatesmartfee`.

How it works (Core's design, kept; persistence of fee_estimates.dat left out):
transactions entering the pool with no in-pool parents are tracked by feerate bucket
(boundaries from 1000 sat/kvB up by 5% to 1e7, plus infinity) and by the height they
entered at. When a block confirms one, "confirmed within N blocks" is recorded for its
bucket in three horizons (short: 12 blocks, decay 0.962; medium: 48 blocks in periods
of 2, decay 0.9952; long: 1008 blocks in periods of 24, decay 0.99931), every average
decaying once a block. Transactions that leave the pool otherwise count as failures,
and those still waiting count against the buckets too. An estimate for a target walks
the buckets from the highest feerate down, grouping buckets until there are enough data
points, and keeps the lowest group whose success rate meets the threshold (60% for half
the target, 85% for the target, 95% for double the target); the answer is the average
feerate of the median transaction's bucket in that group.

`estimate_smart_fee(conf_target, conservative=False) -> (feerate sat/kvB or 0, target)`
is Core's estimateSmartFee: target 1 is treated as 2, the target is capped at half the
blocks seen since tracking began (so a fresh node answers 0: insufficient data), and the
result is the highest of the half/actual/double-target estimates (plus the conservative
one when asked or when nothing else answered). `smart_fee_result(...)` shapes the RPC
answer in satoshis, floored at the pool's minimum fee and the minimum relay fee.

The pool calls `process_transaction(entry, valid)`, `remove_tx(txid)` and
`process_block(height, entries)` (Mempool(fee_estimator=...)). Nothing here raises on
pool data; `estimate_smart_fee` raises ValueError for a target outside 1..1008.
"""

__all__ = [
    "FeeEstimator",
    "smart_fee_result",
    "MIN_BUCKET_FEERATE",
    "MAX_BUCKET_FEERATE",
    "FEE_SPACING",
    "INSUFFICIENT_DATA",
]

MIN_BUCKET_FEERATE = 1000.0
MAX_BUCKET_FEERATE = 1e7
FEE_SPACING = 1.05
INF_FEERATE = 1e99
HALF_SUCCESS_PCT = 0.6
SUCCESS_PCT = 0.85
DOUBLE_SUCCESS_PCT = 0.95
SUFFICIENT_FEETXS = 0.1
SUFFICIENT_TXS_SHORT = 0.5
SHORT_BLOCK_PERIODS, SHORT_SCALE, SHORT_DECAY = 12, 1, 0.962
MED_BLOCK_PERIODS, MED_SCALE, MED_DECAY = 24, 2, 0.9952
LONG_BLOCK_PERIODS, LONG_SCALE, LONG_DECAY = 42, 24, 0.99931
INSUFFICIENT_DATA = "Insufficient data or no feerate found"


def _buckets() -> list[float]:
    out = []
    b = MIN_BUCKET_FEERATE
    while b <= MAX_BUCKET_FEERATE:
        out.append(b)
        b *= FEE_SPACING
    out.append(INF_FEERATE)
    return out


class _TxConfirmStats:
    """Core's TxConfirmStats: decaying confirmation counts per (periods, bucket).

    Core multiplies every average by the decay once a block (UpdateMovingAverages). Here
    the decay is applied lazily: the lists hold each average divided by `_scale`, the
    product of the decays so far, so a block costs one multiplication instead of one per
    average (about 30,000; 1.7 ms of Python per block, every block of an initial sync).
    Reads multiply by `_scale`; additions add 1 / `_scale`; the lists are renormalised
    when `_scale` gets small. The figures equal Core's up to floating-point rounding.
    """

    _RENORMALISE_BELOW = 1e-100

    def __init__(self, buckets: list[float], periods: int, decay: float, scale: int):
        self.buckets = buckets
        self.decay = decay
        self.scale = scale
        nb = len(buckets)
        self._scale = 1.0
        self.conf_avg = [[0.0] * nb for _ in range(periods)]
        self.fail_avg = [[0.0] * nb for _ in range(periods)]
        self.tx_ct_avg = [0.0] * nb
        self.feerate_avg = [0.0] * nb
        self.unconf = [[0] * nb for _ in range(periods * scale)]
        self.old_unconf = [0] * nb

    @property
    def max_confirms(self) -> int:
        return self.scale * len(self.conf_avg)

    def clear_current(self, height: int) -> None:
        row = self.unconf[height % len(self.unconf)]
        if not any(row):
            return  # nothing tracked at that height: adding zeros would change nothing
        for j, n in enumerate(row):
            self.old_unconf[j] += n
            row[j] = 0

    def record(self, blocks_to_confirm: int, feerate: float, bucket: int) -> None:
        if blocks_to_confirm < 1:
            return
        one = 1.0 / self._scale
        periods_to_confirm = (blocks_to_confirm + self.scale - 1) // self.scale
        for i in range(periods_to_confirm, len(self.conf_avg) + 1):
            self.conf_avg[i - 1][bucket] += one
        self.tx_ct_avg[bucket] += one
        self.feerate_avg[bucket] += feerate * one

    def update_moving_averages(self) -> None:
        self._scale *= self.decay
        if self._scale < self._RENORMALISE_BELOW:
            k = self._scale
            self.conf_avg = [[v * k for v in row] for row in self.conf_avg]
            self.fail_avg = [[v * k for v in row] for row in self.fail_avg]
            self.tx_ct_avg = [v * k for v in self.tx_ct_avg]
            self.feerate_avg = [v * k for v in self.feerate_avg]
            self._scale = 1.0

    def new_tx(self, height: int, bucket: int) -> None:
        self.unconf[height % len(self.unconf)][bucket] += 1

    def remove_tx(self, entry_height: int, best_seen: int, bucket: int, in_block: bool) -> None:
        blocks_ago = best_seen - entry_height if best_seen else 0
        if blocks_ago < 0:
            return
        if blocks_ago >= len(self.unconf):
            if self.old_unconf[bucket] > 0:
                self.old_unconf[bucket] -= 1
        else:
            row = self.unconf[entry_height % len(self.unconf)]
            if row[bucket] > 0:
                row[bucket] -= 1
        if not in_block and blocks_ago >= self.scale:
            periods_ago = blocks_ago // self.scale
            one = 1.0 / self._scale
            for i in range(min(periods_ago, len(self.fail_avg))):
                self.fail_avg[i][bucket] += one

    def estimate_median_val(self, conf_target: int, sufficient: float, success: float,
                            height: int) -> float:
        """Core's EstimateMedianVal: -1 when no bucket range passes."""
        n_conf = total = fail = 0.0
        extra = 0
        period_target = (conf_target + self.scale - 1) // self.scale
        top = len(self.buckets) - 1
        cur_near = best_near = cur_far = best_far = top
        found = False
        bins = len(self.unconf)
        new_range = True
        k = self._scale
        conf_row = [v * k for v in self.conf_avg[period_target - 1]]
        fail_row = [v * k for v in self.fail_avg[period_target - 1]]
        tx_ct = [v * k for v in self.tx_ct_avg]
        feerate_avg = [v * k for v in self.feerate_avg]
        needed = sufficient / (1 - self.decay)
        for bucket in range(top, -1, -1):
            if new_range:
                cur_near = bucket
                new_range = False
            cur_far = bucket
            n_conf += conf_row[bucket]
            total += tx_ct[bucket]
            fail += fail_row[bucket]
            for confct in range(conf_target, self.max_confirms):
                extra += self.unconf[(height - confct) % bins][bucket]
            extra += self.old_unconf[bucket]
            if total >= needed:
                if n_conf / (total + fail + extra) < success:
                    continue
                found = True
                n_conf = total = fail = 0.0
                extra = 0
                best_near, best_far = cur_near, cur_far
                new_range = True
        lo, hi = min(best_near, best_far), max(best_near, best_far)
        tx_sum = sum(tx_ct[j] for j in range(lo, hi + 1))
        if found and tx_sum != 0:
            tx_sum /= 2
            for j in range(lo, hi + 1):
                if tx_ct[j] < tx_sum:
                    tx_sum -= tx_ct[j]
                else:
                    return feerate_avg[j] / tx_ct[j]
        return -1.0


class FeeEstimator:
    """Core's CBlockPolicyEstimator (three horizons), fed by the mempool."""

    def __init__(self):
        self.buckets = _buckets()
        self.short = _TxConfirmStats(self.buckets, SHORT_BLOCK_PERIODS, SHORT_DECAY, SHORT_SCALE)
        self.medium = _TxConfirmStats(self.buckets, MED_BLOCK_PERIODS, MED_DECAY, MED_SCALE)
        self.long = _TxConfirmStats(self.buckets, LONG_BLOCK_PERIODS, LONG_DECAY, LONG_SCALE)
        self._all = (self.medium, self.short, self.long)
        self.best_seen_height = 0
        self.first_recorded_height = 0
        self._tracked: dict[bytes, tuple[int, int]] = {}   # txid -> (height, bucket)

    def _bucket(self, feerate: float) -> int:
        lo, hi = 0, len(self.buckets) - 1
        while lo < hi:                  # first boundary >= feerate (std::map::lower_bound)
            mid = (lo + hi) // 2
            if self.buckets[mid] >= feerate:
                hi = mid
            else:
                lo = mid + 1
        return lo

    @staticmethod
    def _feerate(entry) -> int:
        return entry.fee * 1000 // entry.vsize if entry.vsize else 0

    def process_transaction(self, entry, valid: bool) -> None:
        """Track `entry` (Core's processTransaction) if it is valid for estimation (no
        in-pool parents, not a reorg re-add, chain current) and entered at the height
        the estimator has last seen."""
        if entry.txid_bytes in self._tracked or entry.height != self.best_seen_height:
            return
        if not valid:
            return
        bucket = self._bucket(float(self._feerate(entry)))
        self._tracked[entry.txid_bytes] = (entry.height, bucket)
        for stats in self._all:
            stats.new_tx(entry.height, bucket)

    def remove_tx(self, txid_bytes: bytes, in_block: bool = False) -> bool:
        """Stop tracking (left the pool: a failure unless `in_block`)."""
        pos = self._tracked.pop(txid_bytes, None)
        if pos is None:
            return False
        for stats in self._all:
            stats.remove_tx(pos[0], self.best_seen_height, pos[1], in_block)
        return True

    def process_block(self, height: int, entries) -> None:
        """Core's processBlock: a new block at `height` confirmed the pool `entries`."""
        if height <= self.best_seen_height:
            return  # side chains and reorgs are ignored
        self.best_seen_height = height
        for stats in self._all:
            stats.clear_current(height)
            stats.update_moving_averages()
        counted = 0
        for e in entries:
            pos = self._tracked.get(e.txid_bytes)
            if not self.remove_tx(e.txid_bytes, True):
                continue
            blocks = height - e.height
            if blocks <= 0:
                continue
            feerate = float(self._feerate(e))
            for stats in self._all:
                stats.record(blocks, feerate, pos[1])
            counted += 1
        if self.first_recorded_height == 0 and counted:
            self.first_recorded_height = height

    def block_span(self) -> int:
        if self.first_recorded_height == 0:
            return 0
        return self.best_seen_height - self.first_recorded_height

    def max_usable_estimate(self) -> int:
        return min(self.long.max_confirms, self.block_span() // 2)

    def _combined(self, target: int, success: float, check_shorter: bool) -> float:
        estimate = -1.0
        h = self.best_seen_height
        if not 1 <= target <= self.long.max_confirms:
            return estimate
        if target <= self.short.max_confirms:
            estimate = self.short.estimate_median_val(target, SUFFICIENT_TXS_SHORT, success, h)
        elif target <= self.medium.max_confirms:
            estimate = self.medium.estimate_median_val(target, SUFFICIENT_FEETXS, success, h)
        else:
            estimate = self.long.estimate_median_val(target, SUFFICIENT_FEETXS, success, h)
        if check_shorter:
            if target > self.medium.max_confirms:
                m = self.medium.estimate_median_val(self.medium.max_confirms, SUFFICIENT_FEETXS,
                                                    success, h)
                if m > 0 and (estimate == -1 or m < estimate):
                    estimate = m
            if target > self.short.max_confirms:
                s = self.short.estimate_median_val(self.short.max_confirms, SUFFICIENT_TXS_SHORT,
                                                   success, h)
                if s > 0 and (estimate == -1 or s < estimate):
                    estimate = s
        return estimate

    def _conservative(self, double_target: int) -> float:
        estimate = -1.0
        h = self.best_seen_height
        if double_target <= self.short.max_confirms:
            estimate = self.medium.estimate_median_val(double_target, SUFFICIENT_FEETXS,
                                                       DOUBLE_SUCCESS_PCT, h)
        if double_target <= self.medium.max_confirms:
            e = self.long.estimate_median_val(double_target, SUFFICIENT_FEETXS,
                                              DOUBLE_SUCCESS_PCT, h)
            estimate = max(estimate, e)
        return estimate

    def estimate_smart_fee(self, conf_target: int, conservative: bool = False) -> tuple[int, int]:
        """Core's estimateSmartFee: (feerate in sat/kvB, or 0 for no answer; the target
        the answer is for). ValueError for a target outside 1..1008."""
        if conf_target <= 0 or conf_target > self.long.max_confirms:
            raise ValueError("Invalid conf_target, must be between 1 and 1008")
        if conf_target == 1:
            conf_target = 2
        conf_target = min(conf_target, self.max_usable_estimate())
        if conf_target <= 1:
            return 0, conf_target
        median = self._combined(conf_target // 2, HALF_SUCCESS_PCT, True)
        median = max(median, self._combined(conf_target, SUCCESS_PCT, True))
        median = max(median, self._combined(2 * conf_target, DOUBLE_SUCCESS_PCT, not conservative))
        if conservative or median == -1:
            median = max(median, self._conservative(2 * conf_target))
        if median < 0:
            return 0, conf_target
        return int(round(median)), conf_target


def smart_fee_result(estimator: FeeEstimator, pool, conf_target: int, mode: str = "economical") -> dict:
    """estimatesmartfee's answer in satoshis: {"feerate": sat/kvB, "blocks": n} floored at
    the pool's minimum fee and the minimum relay fee, or {"errors": [INSUFFICIENT_DATA],
    "blocks": n}. `mode` is "economical", "conservative" or "unset" (economical, as
    Core v28). ValueError for a bad target or mode (RPC: -8)."""
    mode = mode.lower()
    if mode not in ("unset", "economical", "conservative"):
        raise ValueError('Invalid estimate_mode parameter, must be one of: "unset", '
                         '"economical", "conservative"')
    rate, blocks = estimator.estimate_smart_fee(conf_target, mode == "conservative")
    if rate == 0:
        return {"errors": [INSUFFICIENT_DATA], "blocks": blocks}
    floor = max(pool.get_min_fee().per_kvb, pool.policy.min_relay_fee) if pool is not None else 0
    return {"feerate": max(rate, floor), "blocks": blocks}
