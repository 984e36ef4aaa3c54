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
