"""cffi build script for the proof-of-work scanner (placeholder until the miner lands)."""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef("int coin_miner_version(void);")
ffibuilder.set_source("coin._miner", "int coin_miner_version(void) { return 0; }")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
