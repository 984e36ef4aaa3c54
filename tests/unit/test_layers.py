"""The import graph points one way: primitives <- script <- consensus <- chain <- mempool <-
p2p / rpc / mining <- node (DESIGN.md). The wallet sees only the node's lower layers.

Every `import` and `from ... import` in coin/ and wallet/ is read with ast (module level
and inside functions alike) and checked against the layer table below.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower number = lower layer. A module may import only from its own layer or below.
LAYERS = {
    "coin.serialize": 0,
    "coin.crypto": 0,
    "coin.log": 0,
    "coin.config": 0,
    "coin.primitives": 1,
    "coin.params": 2,
    "coin.script": 3,
    "coin.consensus": 4,
    "coin.chain": 5,
    "coin.mempool": 6,
    "coin.mining": 7,
    "coin.p2p": 7,
    "coin.rpc": 8,
    "coin.node": 9,
    "coin.cli": 10,
    "coin.regtest": 11,
}
# Peers on the same rank that must not import each other.
SEPARATE = [("coin.mining", "coin.p2p")]
WALLET_MAY_IMPORT = ("coin.primitives", "coin.crypto", "coin.script", "coin.serialize",
                     "coin.params", "coin.wallet", "coin.rpc.client", "coin.config")


def _layer_of(module: str) -> str | None:
    best = None
    for name in LAYERS:
        if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best)):
            best = name
    return best


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "wallet":
        parts = ["coin", "wallet"] + parts[1:]
    elif parts[0] == "regtest":
        parts = ["coin", "regtest"] + parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append(name)
    return [name for name in found if name == "coin" or name.startswith("coin.")]


def _sources():
    for folder in ("coin", "wallet", "regtest"):
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path):
    module = _module_name(path)
    bad = []
    for target in _imports(path, module):
        if module.startswith("coin.wallet"):
            if not target.startswith(WALLET_MAY_IMPORT):
                bad.append(target)
            continue
        mine, theirs = _layer_of(module), _layer_of(target)
        if mine is None or theirs is None:
            continue
        if LAYERS[theirs] > LAYERS[mine] or (mine, theirs) in SEPARATE or (theirs, mine) in SEPARATE:
            bad.append(target)
    assert not bad, f"{module} imports upward or sideways: {bad}"
