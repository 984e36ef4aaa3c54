"""cffi build script (out-of-line API mode) for `coin._miner`, the proof-of-work scanner.

setup.py names it as `native/build_miner.py:ffibuilder`; `pip install -e .` compiles it.
Run directly (`python native/build_miner.py`) it builds the extension into coin/ in place.

The C source, native/sha256d.c, picks its SHA-NI, AVX2 or portable path at run time, so the
extension is built with default flags plus -O3 and runs on any CPU.
"""

import sys
from pathlib import Path

from cffi import FFI

__all__ = ["ffibuilder"]

HERE = Path(__file__).resolve().parent

CDEF = """
int coin_has_sha_ni(void);
int coin_has_avx2(void);
int coin_scan(const unsigned char *header, const unsigned char *target,
              uint32_t start_nonce, uint64_t count, int *stop, int impl,
              uint32_t *nonce_out, uint64_t *hashes_out);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "coin._miner",
    '#include "sha256d.c"\n',
    include_dirs=[str(HERE)],
    depends=[str(HERE / "sha256d.c")],
    extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
)

if __name__ == "__main__":
    # Built in a scratch directory (the checkout's own setup files must not take part),
    # then copied next to the package's sources.
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ffibuilder.compile(tmpdir=tmp, verbose=True), HERE.parent / "coin")
