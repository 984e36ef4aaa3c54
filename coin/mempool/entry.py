"""One mempool entry (Core's CTxMemPoolEntry) and the pool's memory accounting.

An entry holds the transaction, its fees (base and modified by prioritisetransaction),
its sizes, when and at which height it entered, its sigop cost, the BIP-0068 lock points
it was accepted under, its direct in-pool parents and children, and the aggregate
statistics Core keeps incrementally: count / virtual size / modified fees / sigop cost of
the transaction with all its in-pool ancestors, and count / size / modified fees with all
its in-pool descendants (both including the transaction itself).

Entries hash by identity; the pool links them into a graph and keeps the aggregates
consistent (coin.mempool.pool). Nothing here raises.
"""

__all__ = ["MempoolEntry", "MEMPOOL_HEIGHT", "dynamic_usage"]

#: The height Core gives coins created by mempool transactions (CCoinsViewMemPool).
MEMPOOL_HEIGHT = 0x7FFFFFFF


def _malloc(n: int) -> int:
    """Core's memusage::MallocUsage on a 64-bit build: 16-byte granules, 16 bytes overhead."""
    return ((n + 31) >> 4) << 4 if n else 0


def dynamic_usage(tx) -> int:
    """Memory an entry for `tx` costs, modelled on Core's accounting (64-bit build).

    RecursiveDynamicUsage(tx) (input and output vectors, scripts longer than the 28-byte
    prevector inline buffer, witness stacks, the shared pointer), the multi-index node
    (MallocUsage(sizeof(CTxMemPoolEntry) + 15 pointers)), one mapNextTx node per input
    and the randomized-order slot. An approximation of Core's figure, not a measurement
    of this process; it is what -maxmempool is compared against.
    """
    n_in = len(tx.inputs)
    n_out = len(tx.outputs)
    usage = _malloc(104 * n_in) + _malloc(40 * n_out) + _malloc(112 + 16)
    for txin in tx.inputs:
        if len(txin.script_sig) > 28:
            usage += _malloc(len(txin.script_sig))
        if txin.witness:
            usage += _malloc(24 * len(txin.witness))
            for item in txin.witness:
                usage += _malloc(len(item))
    for txout in tx.outputs:
        if len(txout.script_pubkey) > 28:
            usage += _malloc(len(txout.script_pubkey))
    return usage + _malloc(264 + 15 * 8) + n_in * _malloc(48) + 16


class MempoolEntry:
    """A transaction in the pool with Core's per-entry statistics (fees in satoshis,
    sizes in virtual bytes as charged: sigop-adjusted, Core's GetTxSize)."""

    __slots__ = (
        "tx", "txid_bytes", "wtxid_bytes", "fee", "modified_fee", "vsize", "weight",
        "time", "height", "sigop_cost", "spends_coinbase", "entry_sequence", "lock_points",
        "usage", "parents", "children",
        "count_with_ancestors", "size_with_ancestors", "fees_with_ancestors",
        "sigops_with_ancestors",
        "count_with_descendants", "size_with_descendants", "fees_with_descendants",
    )

    def __init__(self, tx, fee: int, vsize: int, time: int, height: int, sigop_cost: int,
                 spends_coinbase: bool, entry_sequence: int, lock_points, *, fee_delta: int = 0):
        self.tx = tx
        self.txid_bytes = tx.txid_bytes
        self.wtxid_bytes = tx.wtxid_bytes
        self.fee = fee
        self.modified_fee = fee + fee_delta
        self.vsize = vsize
        self.weight = tx.weight
        self.time = time
        self.height = height
        self.sigop_cost = sigop_cost
        self.spends_coinbase = spends_coinbase
        self.entry_sequence = entry_sequence
        self.lock_points = lock_points
        self.usage = dynamic_usage(tx)
        self.parents: set[MempoolEntry] = set()
        self.children: set[MempoolEntry] = set()
        self.count_with_ancestors = 1
        self.size_with_ancestors = vsize
        self.fees_with_ancestors = self.modified_fee
        self.sigops_with_ancestors = sigop_cost
        self.count_with_descendants = 1
        self.size_with_descendants = vsize
        self.fees_with_descendants = self.modified_fee

    @property
    def txid(self) -> str:
        return self.tx.txid

    @property
    def wtxid(self) -> str:
        return self.tx.wtxid

    def __repr__(self) -> str:
        return (f"MempoolEntry({self.tx.txid}, fee={self.fee}, vsize={self.vsize}, "
                f"anc={self.count_with_ancestors}, desc={self.count_with_descendants})")
