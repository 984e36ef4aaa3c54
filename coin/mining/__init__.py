"""coin.mining: finding proof of work for block headers.

Outline:
- `scanner`: `scan(header, target, start_nonce, count, stop=None)` over the native
  scanner `coin._miner` (native/sha256d.c: midstate, precomputed message schedule,
  SHA-NI or AVX2 chosen at run time, portable C elsewhere) and `scan_python`, its
  pure-Python twin with the same signature; `StopFlag`, `has_sha_ni()`, `has_avx2()`.
- `miner`: `Miner`, which splits the 2**32 nonces of one header across threads (the
  native scanner releases the GIL) and `stop()`s them within milliseconds.
Block templates (coinbase, witness commitment, transaction selection) sit beside them.

Error contract: malformed arguments (a header that is not 80 bytes, a target outside
[0, 2**256), a nonce range outside [0, 2**32)) raise ValueError. Not finding a nonce is
not an error: the result is None and the caller changes the extranonce or the time.

Proof of work is Bitcoin's: the header's double SHA-256, read as a little-endian
256-bit number, must be <= the target the header's bits encode.
"""

from coin.mining.miner import Miner
from coin.mining.scanner import (
    ScanResult,
    StopFlag,
    has_avx2,
    has_sha_ni,
    scan,
    scan_python,
)

__all__ = [
    "Miner",
    "ScanResult",
    "StopFlag",
    "has_avx2",
    "has_sha_ni",
    "scan",
    "scan_python",
]
