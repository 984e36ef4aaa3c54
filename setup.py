"""Build glue that pyproject.toml cannot express: the cffi extension and the package map.

`native/build_miner.py` compiles native/sha256d.c into `coin._miner`, and
`native/build_ecdsa.py` native/ecdsa_batch.c into `coin._ecdsa`, at install time
(both `pip install .` and `pip install -e .`). `wallet/` and `regtest/` sit at the top
of the checkout but install as `coin.wallet` and `coin.regtest`.
"""

from setuptools import find_packages, setup

_ROOTS = {"coin": "coin", "coin.wallet": "wallet", "coin.regtest": "regtest"}


def _packages() -> list[str]:
    found = []
    for name, folder in _ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return found


setup(
    packages=_packages(),
    package_dir=_ROOTS,
    cffi_modules=["native/build_miner.py:ffibuilder", "native/build_ecdsa.py:ffibuilder"],
)
