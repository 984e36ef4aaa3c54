"""cffi build script (out-of-line API mode) for `coin._ecdsa`, batch ECDSA verification.

setup.py names it as `native/build_ecdsa.py:ffibuilder`; `pip install -e .` compiles it.
Run directly (`python native/build_ecdsa.py`) it builds the extension into coin/ in place.

native/ecdsa_batch.c links nothing: it calls libsecp256k1 through function pointers the
caller takes from coincurve's own cffi module (coin/crypto/ecc.py), so the build needs
no libsecp256k1 headers or library.
"""

import sys
from pathlib import Path

from cffi import FFI

__all__ = ["ffibuilder"]

HERE = Path(__file__).resolve().parent

CDEF = """
typedef struct { unsigned char data[64]; } coin_secp_pubkey;
typedef struct { unsigned char data[64]; } coin_secp_signature;
struct coin_secp_api {
    const void *ctx;
    int (*pubkey_parse)(const void *, coin_secp_pubkey *, const unsigned char *, size_t);
    int (*signature_parse_compact)(const void *, coin_secp_signature *, const unsigned char *);
    int (*signature_normalize)(const void *, coin_secp_signature *, const coin_secp_signature *);
    int (*verify)(const void *, const coin_secp_signature *, const unsigned char *, const coin_secp_pubkey *);
};
int64_t coin_ecdsa_verify_batch(const struct coin_secp_api *api, size_t n,
                                const unsigned char *pubkeys, const uint32_t *pub_off,
                                coin_secp_pubkey *parsed, unsigned char *states,
                                const unsigned char *sigs, const uint32_t *sig_off,
                                const unsigned char *msgs);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "coin._ecdsa",
    '#include "ecdsa_batch.c"\n',
    include_dirs=[str(HERE)],
    depends=[str(HERE / "ecdsa_batch.c")],
    extra_compile_args=[] if sys.platform == "win32" else ["-O2"],
)

if __name__ == "__main__":
    # Built in a scratch directory (the checkout's own setup files must not take part),
    # then copied next to the package's sources.
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ffibuilder.compile(tmpdir=tmp, verbose=True), HERE.parent / "coin")
