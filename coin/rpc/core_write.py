"""Core's JSON shapes for scripts, transactions, headers and blocks (src/core_write.cpp,
rpc/blockchain.cpp), with Core's key order.

- `script_to_univ`: `{asm, desc, hex, address?, type}` (ScriptToUniv);
- `tx_to_univ`: TxToUniv (`txid, hash, version, size, vsize, weight, locktime, vin,
  vout, fee?, blockhash?, hex?`), with `fee` and `vin[].prevout` when undo data is given;
- `header_to_json` / `block_to_json`: getblockheader / getblock (verbosity 1-3).

Amounts are `Decimal` with 8 places (printed `50.00000000`); hashes display hex.
"""

from __future__ import annotations

from typing import Any

from coin.consensus.pow import bits_to_target, get_difficulty
from coin.crypto.address import script_to_address
from coin.primitives import Block, Transaction
from coin.rpc.util import value_from_amount
from coin.script.descriptor import infer_descriptor
from coin.script.standard import classify, script_to_asm

__all__ = ["script_to_univ", "script_sig_to_univ", "tx_to_univ", "header_to_json",
           "block_to_json", "chainwork_hex", "target_hex"]


def chainwork_hex(work: int) -> str:
    return f"{work:064x}"


def target_hex(bits: int) -> str:
    try:
        return f"{bits_to_target(bits):064x}"
    except ValueError:
        return "0" * 64


def script_to_univ(script: bytes, params, *, include_hex: bool = True,
                   include_address: bool = True) -> dict[str, Any]:
    """Core's ScriptToUniv for a scriptPubKey."""
    out: dict[str, Any] = {"asm": script_to_asm(script)}
    if include_address:
        out["desc"] = infer_descriptor(script, params)
    if include_hex:
        out["hex"] = script.hex()
    kind, _ = classify(script)
    if include_address and kind != "pubkey":
        address = script_to_address(script, params)
        if address is not None:
            out["address"] = address
    out["type"] = kind
    return out


def script_sig_to_univ(script_sig: bytes) -> dict[str, Any]:
    """A scriptSig as Core shows it in `vin`: asm with sighash types decoded, and hex."""
    return {"asm": script_to_asm(script_sig, attempt_sighash_decode=True), "hex": script_sig.hex()}


def tx_to_univ(tx: Transaction, params, *, block_hash: str | None = None, include_hex: bool = True,
               undo=None, verbosity: int = 2) -> dict[str, Any]:
    """Core's TxToUniv.

    `undo` is the transaction's TxUndo (the coins it spent) when known: it adds `fee`
    and, at verbosity 3, `vin[].prevout`.
    """
    entry: dict[str, Any] = {
        "txid": tx.txid,
        "hash": tx.wtxid,
        "version": tx.version,
        "size": tx.total_size,
        "vsize": tx.vsize,
        "weight": tx.weight,
        "locktime": tx.lock_time,
    }
    coinbase = tx.is_coinbase()
    have_undo = undo is not None and not coinbase
    amt_in = 0
    vin = []
    for i, txin in enumerate(tx.inputs):
        item: dict[str, Any] = {}
        if coinbase:
            item["coinbase"] = txin.script_sig.hex()
        else:
            item["txid"] = txin.prevout.txid
            item["vout"] = txin.prevout.index
            item["scriptSig"] = script_sig_to_univ(txin.script_sig)
        if txin.witness:
            item["txinwitness"] = [w.hex() for w in txin.witness]
        if have_undo:
            spent = undo.spent[i]
            amt_in += spent.output.value
            if verbosity >= 3:
                item["prevout"] = {
                    "generated": spent.is_coinbase,
                    "height": spent.height,
                    "value": value_from_amount(spent.output.value),
                    "scriptPubKey": script_to_univ(spent.output.script_pubkey, params),
                }
        item["sequence"] = txin.sequence
        vin.append(item)
    entry["vin"] = vin
    entry["vout"] = [
        {"value": value_from_amount(out.value), "n": n, "scriptPubKey": script_to_univ(out.script_pubkey, params)}
        for n, out in enumerate(tx.outputs)
    ]
    if have_undo:
        entry["fee"] = value_from_amount(amt_in - sum(out.value for out in tx.outputs))
    if block_hash is not None:
        entry["blockhash"] = block_hash
    if include_hex:
        entry["hex"] = tx.to_bytes().hex()
    return entry


def _next_and_depth(chain_tip, chain_contains, entry):
    """Core's ComputeNextBlockAndDepth: (confirmations, next entry or None)."""
    if chain_contains(entry):
        nxt = chain_tip.get_ancestor(entry.height + 1) if entry.height < chain_tip.height else None
        return chain_tip.height - entry.height + 1, nxt
    return -1, None


def header_to_json(entry, chain_tip, chain_contains, n_tx: int | None = None) -> dict[str, Any]:
    """Core's blockheaderToJSON for a block index entry."""
    header = entry.header
    confirmations, nxt = _next_and_depth(chain_tip, chain_contains, entry)
    out: dict[str, Any] = {
        "hash": entry.hash,
        "confirmations": confirmations,
        "height": entry.height,
        "version": header.version,
        "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
        "merkleroot": header.merkle_root,
        "time": header.time,
        "mediantime": entry.median_time_past(),
        "nonce": header.nonce,
        "bits": f"{header.bits:08x}",
        "target": target_hex(header.bits),
        "difficulty": get_difficulty(header.bits),
        "chainwork": chainwork_hex(entry.chain_work),
        "nTx": entry.n_tx if n_tx is None else n_tx,
    }
    if entry.prev is not None:
        out["previousblockhash"] = entry.prev.hash
    if nxt is not None:
        out["nextblockhash"] = nxt.hash
    return out


def block_to_json(block: Block, entry, chain_tip, chain_contains, params, *, verbosity: int = 1,
                  undo=None) -> dict[str, Any]:
    """Core's blockToJSON: header fields, sizes, and `tx` as txids (1) or objects (2, 3)."""
    out = header_to_json(entry, chain_tip, chain_contains, n_tx=len(block.txs))
    out["strippedsize"] = block.base_size
    out["size"] = block.total_size
    out["weight"] = block.weight
    if verbosity <= 1:
        out["tx"] = [tx.txid for tx in block.txs]
    else:
        txs = []
        for i, tx in enumerate(block.txs):
            tx_undo = undo.txs[i - 1] if (undo is not None and i > 0) else None
            txs.append(tx_to_univ(tx, params, include_hex=True, undo=tx_undo, verbosity=verbosity))
        out["tx"] = txs
    return out
