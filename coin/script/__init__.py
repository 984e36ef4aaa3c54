"""coin.script: Bitcoin's Script, byte-exact with Bitcoin Core.

Purpose: decide whether a transaction input may spend the output it references, with
Core's exact semantics and error names, and provide what consensus and the wallet
need around that: signature hashes, standard templates, sigop counts, a signature
cache.

Outline:
- flags.py        `Flags` (Core's SCRIPT_VERIFY_*), mandatory / standard flag sets
- errors.py       `ScriptError(code, message)`: Core's error names and texts
- opcodes.py      the 256-entry opcode name table, constants, `iter_script`
- scriptnum.py    script numbers (CScriptNum) with explicit size limits
- sighash.py      legacy SignatureHash and BIP-0143, `PrecomputedTxData`
- interpreter.py  EvalScript / VerifyScript / witness programs, `verify_input` (exact
                  P2WPKH / P2PKH fast paths; ECDSA checks deferrable to the caller)
- standard.py     `classify` (Core's Solver), `script_to_asm`, script building helpers
- sigops.py       sigop counting (legacy, P2SH, witness, transaction cost)
- sigcache.py     `SignatureCache`: verified signatures, bounded and thread-safe

Error contract: a failed script raises `ScriptError` whose `.code` is Core's error
name (`EVAL_FALSE`, `SIG_DER`, ...) and `.message` Core's ScriptErrorString text.
Nothing here raises anything else on data from the network; asking for Taproot
verification (the TAPROOT flag on a witness v1 spend) raises NotImplementedError.

BIPs: BIP-0016 (P2SH), BIP-0062 (LOW_S, MINIMALDATA, ...: policy), BIP-0065
(CHECKLOCKTIMEVERIFY), BIP-0066 (strict DER), BIP-0112 (CHECKSEQUENCEVERIFY),
BIP-0141 / BIP-0143 (SegWit v0), BIP-0147 (NULLDUMMY). Not yet: BIP-0341/0342 (Taproot).
"""

from coin.script.errors import ScriptError
from coin.script.flags import (
    MANDATORY_SCRIPT_VERIFY_FLAGS,
    STANDARD_SCRIPT_VERIFY_FLAGS,
    Flags,
)
from coin.script.interpreter import verify_input, verify_script, verify_transaction
from coin.script.sigcache import SignatureCache
from coin.script.sighash import PrecomputedTxData

__all__ = [
    "Flags",
    "MANDATORY_SCRIPT_VERIFY_FLAGS",
    "STANDARD_SCRIPT_VERIFY_FLAGS",
    "ScriptError",
    "PrecomputedTxData",
    "SignatureCache",
    "verify_input",
    "verify_script",
    "verify_transaction",
]
