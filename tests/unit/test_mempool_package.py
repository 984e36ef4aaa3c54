"""coin.mempool.pool._package_shape_error: Core's IsWellFormedPackage, in its order."""

from coin.mempool.pool import MAX_PACKAGE_WEIGHT, _package_shape_error
from coin.primitives import OutPoint, Transaction, TxIn, TxOut


def _tx(prevouts, n_out=1, script=b"\x51"):
    return Transaction(2, [TxIn(OutPoint(p[0], p[1]), b"", 0xFFFFFFFF) for p in prevouts],
                       [TxOut(1000, script) for _ in range(n_out)], 0)


def test_package_shapes_in_cores_order():
    a = _tx([(b"\x01" * 32, 0)])
    b = _tx([(a.txid_bytes, 0)])
    c = _tx([(b"\x02" * 32, 0)])
    assert _package_shape_error([a, b]) is None
    assert _package_shape_error([a, c, b]) is None
    assert _package_shape_error([b, a]) == "package-not-sorted"
    assert _package_shape_error([a, a]) == "package-contains-duplicates"
    twin = _tx([(b"\x01" * 32, 0)], n_out=2)            # spends a's coin too
    assert _package_shape_error([a, twin]) == "conflict-in-package"
    many = [_tx([(bytes([i]) * 32, 1)]) for i in range(26)]
    assert _package_shape_error(many) == "package-too-many-transactions"
    big = [_tx([(bytes([i]) * 32, 2)], script=b"\x6a" + b"\x00" * 60_000) for i in range(2)]
    assert sum(t.weight for t in big) > MAX_PACKAGE_WEIGHT
    assert _package_shape_error(big) == "package-too-large"
    assert _package_shape_error(big[:1]) is None          # one transaction: its own size rules
    no_inputs = Transaction(2, [], [TxOut(1000, b"\x51")], 0)
    assert _package_shape_error([a, no_inputs]) == "conflict-in-package"   # IsConsistentPackage


def test_package_limits_without_carve_out_and_cores_messages():
    """Core's package test-accept: no CPFP carve-out (m_allow_carveouts false), so a
    child over its parent's descendant limit fails on its own (too-long-mempool-chain),
    not as a package error; CheckPackageLimits' own parent count has no "possibly"."""
    from test_mempool_support import Env

    env = Env()
    u, v = env.fund(2)
    parent = env.spend([u], n_outputs=30, fee=5000)
    env.pool.accept(parent)
    outs = env.utxos(parent)
    for o in outs[:24]:
        env.pool.accept(env.spend([o], fee=500))
    unrelated = env.spend([v], fee=1000)
    c = env.spend([outs[24]], fee=500)
    assert env.pool.accept(c, test_only=True)                 # alone: the carve-out admits it
    error, results = env.pool.test_accept_package([unrelated, c])
    assert error is None and list(results) == [c.wtxid_bytes]
    assert results[c.wtxid_bytes].reason == "too-long-mempool-chain"

    env = Env()
    us = env.fund(25)
    parents = []
    for utxo in us[:24]:
        p = env.spend([utxo], fee=1000)
        env.pool.accept(p)
        parents.append(p)
    a = env.spend([env.utxos(p)[0] for p in parents], fee=20_000)   # 24 in-pool parents: fine alone
    b = env.spend([env.utxos(a)[0]], fee=1000)
    assert env.pool.accept(a, test_only=True)
    error, results = env.pool.test_accept_package([a, b])
    assert error == "package-mempool-limits, too many unconfirmed parents [limit: 25]" and results == {}
