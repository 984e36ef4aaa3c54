"""The ``rawtransactions`` RPC group: decode, create, send and test raw transactions.

Methods: decoderawtransaction, decodescript, createrawtransaction, getrawtransaction,
sendrawtransaction, testmempoolaccept.

sendrawtransaction follows Core's BroadcastTransaction in order: decode (-22), burn
limit (-25), fee-rate cap (-8 for >= 1 BTC/kvB), outputs already in the UTXO set (-27
``Transaction outputs already in utxo set``), already in the mempool (returns the txid),
a test acceptance with the fee cap (-25 ``Fee exceeds maximum ...``), then acceptance:
missing inputs -25 with the reason, any other rejection -26 ``reason[, debug]``.

getrawtransaction finds transactions in the mempool or, with a `blockhash`, in that
block; there is no -txindex (Core's default), so a confirmed transaction needs its
block hash, and the error says so in Core's words.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from coin.consensus.errors import Rejection, RejectKind
from coin.crypto.address import (
    InvalidAddress,
    address_to_script,
    p2sh_script,
    p2wpkh_script,
    p2wsh_script,
    script_to_address,
)
from coin.crypto.hashes import hash160, sha256
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.rpc.core_write import script_to_univ, tx_to_univ
from coin.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ALREADY_IN_UTXO_SET,
    RPC_VERIFY_ERROR,
    RPC_VERIFY_REJECTED,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, get_int, rpc_method
from coin.rpc.univalue import type_name
from coin.rpc.util import (
    amount_from_value,
    help_example_cli,
    parse_hash_v,
    parse_verbosity,
    value_from_amount,
)
from coin.script.errors import ScriptError
from coin.script.opcodes import MAX_SCRIPT_ELEMENT_SIZE, MAX_SCRIPT_SIZE, OP_RETURN, iter_script
from coin.script.standard import build_script, classify
from coin.serialize import DecodeError

__all__ = [
    "createrawtransaction",
    "decoderawtransaction",
    "decodescript",
    "getrawtransaction",
    "sendrawtransaction",
    "testmempoolaccept",
    "parse_fee_rate",
    "fee_for_vsize",
]

COIN = 100_000_000
DEFAULT_MAX_RAW_TX_FEE_RATE = Decimal("0.10")  # BTC/kvB
MAX_BIP125_RBF_SEQUENCE = 0xFFFFFFFD
MAX_SEQUENCE_NONFINAL = 0xFFFFFFFE
_MAX_OPCODE = 0xB9  # OP_NOP10
# Opcodes that are OP_SUCCESS in tapscript (BIP-0342): such scripts are not wrapped.
_OP_SUCCESS = {80, 98, *range(126, 130), *range(131, 135), 137, 138, 141, 142, *range(149, 154),
               *range(187, 255)}


def _has_valid_ops(script: bytes) -> bool:
    """Core's CScript::HasValidOps: every push complete, no opcode above OP_NOP10, no
    push over 520 bytes."""
    try:
        return all(op <= _MAX_OPCODE and len(data or b"") <= MAX_SCRIPT_ELEMENT_SIZE
                   for op, data, _pos in iter_script(script))
    except ScriptError:
        return False


def _scripts_sane(tx: Transaction) -> bool:
    """Core's CheckTxScriptsSanity (core_read.cpp): plausible input (unless coinbase)
    and output scripts, the tie-breaker between the two readings of a hex string."""
    if not tx.is_coinbase():
        for txin in tx.inputs:
            if len(txin.script_sig) > MAX_SCRIPT_SIZE or not _has_valid_ops(txin.script_sig):
                return False
    return all(len(out.script_pubkey) <= MAX_SCRIPT_SIZE and _has_valid_ops(out.script_pubkey)
               for out in tx.outputs)


def _decode_tx(hexstring: str, message: str, *, try_no_witness: bool = True,
               try_witness: bool = True) -> Transaction:
    """Core's DecodeHexTx: the extended (BIP-0144) reading, or the legacy one (where an
    empty vin is not the segwit marker: a transaction without inputs, as
    createrawtransaction makes), whichever consumes the whole string; when both do,
    the one whose scripts are sane, the extended one first. -22 `message` otherwise."""
    try:
        data = bytes.fromhex(hexstring)
    except ValueError:
        raise RPCError(RPC_DESERIALIZATION_ERROR, message) from None
    extended = legacy = None
    if try_witness:
        try:
            extended = Transaction.from_bytes(data)
        except DecodeError:
            pass
        if extended is not None and _scripts_sane(extended):
            return extended
    if try_no_witness:
        try:
            legacy = Transaction.from_bytes(data, allow_witness=False)
        except DecodeError:
            pass
        if legacy is not None and _scripts_sane(legacy):
            return legacy
    if extended is not None:
        return extended
    if legacy is not None:
        return legacy
    raise RPCError(RPC_DESERIALIZATION_ERROR, message)


def parse_fee_rate(value: Any) -> int:
    """Core's ParseFeeRate: BTC/kvB -> sat/kvB; -8 for rates of 1 BTC/kvB or more."""
    rate = amount_from_value(value)
    if rate >= COIN:
        raise RPCError(RPC_INVALID_PARAMETER, "Fee rates larger than or equal to 1BTC/kvB are not accepted")
    return rate


def fee_for_vsize(rate_per_kvb: int, vsize: int) -> int:
    """Core's CFeeRate::GetFee: the fee for `vsize` bytes, rounded up."""
    return math.ceil(rate_per_kvb * vsize / 1000)


# -- decoding ---------------------------------------------------------------------------


@rpc_method(
    "decoderawtransaction",
    "rawtransactions",
    params=[
        Param("hexstring", "hex", "The transaction hex string"),
        Param("iswitness", "bool", "Whether the transaction hex is a serialized witness transaction.",
              optional=True, default_hint="depends on heuristic tests"),
    ],
    help="Return a JSON object representing the serialized, hex-encoded transaction.",
    result='{ "txid", "hash", "size", "vsize", "weight", "version", "locktime", "vin" : [...], "vout" : [...] }',
    examples=help_example_cli("decoderawtransaction", '"hexstring"'),
)
def decoderawtransaction(ctx: RPCContext, hexstring: str, iswitness: Any) -> dict[str, Any]:
    # iswitness true: the extended reading only; false: the legacy one only
    tx = _decode_tx(hexstring, "TX decode failed", try_no_witness=iswitness is None or not iswitness,
                    try_witness=iswitness is None or bool(iswitness))
    return tx_to_univ(tx, ctx.node.params, include_hex=False)


def _can_wrap(script: bytes, kind: str) -> bool:
    if kind not in ("multisig", "nonstandard", "pubkey", "pubkeyhash", "witness_v0_keyhash",
                    "witness_v0_scripthash"):
        return False
    if len(script) > MAX_SCRIPT_SIZE:
        return False
    try:
        for op, _data, _pos in iter_script(script):
            if op > _MAX_OPCODE or op in _OP_SUCCESS:
                return False
    except Exception:  # noqa: BLE001 - any parse failure: not wrappable (Core's HasValidOps)
        return False
    return True


@rpc_method(
    "decodescript",
    "rawtransactions",
    params=[Param("hexstring", "hex", "the hex-encoded script")],
    help="Decode a hex-encoded script.",
    result='{ "asm", "desc", "type", "address", "p2sh", "segwit" : { "asm", "hex", "type", "address", "desc", "p2sh-segwit" } }',
    examples=help_example_cli("decodescript", '"hexstring"'),
)
def decodescript(ctx: RPCContext, hexstring: str) -> dict[str, Any]:
    params = ctx.node.params
    try:
        script = bytes.fromhex(hexstring)
    except ValueError:
        raise RPCError(RPC_INVALID_PARAMETER, f"argument must be hexadecimal string (not '{hexstring}')") from None
    out = script_to_univ(script, params, include_hex=False)
    kind, solutions = classify(script)
    if _can_wrap(script, kind):
        out["p2sh"] = script_to_address(p2sh_script(hash160(script)), params)
        wrap_p2wsh = kind in ("nonstandard", "pubkeyhash") or (
            kind in ("multisig", "pubkey")
            and all(len(s) == 1 or len(s) == 33 for s in solutions))
        if wrap_p2wsh:
            if kind == "pubkey":
                segwit = p2wpkh_script(hash160(solutions[0]))
            elif kind == "pubkeyhash":
                segwit = p2wpkh_script(solutions[0])
            else:
                segwit = p2wsh_script(sha256(script))
            sr = script_to_univ(segwit, params)
            sr["p2sh-segwit"] = script_to_address(p2sh_script(hash160(segwit)), params)
            out["segwit"] = sr
    return out


# -- creating ---------------------------------------------------------------------------


def _outputs(outputs: Any, params) -> list[TxOut]:
    if isinstance(outputs, dict):
        pairs = [(k, v) for k, v in outputs.items()]
    elif isinstance(outputs, list):
        pairs = []
        for item in outputs:
            if not isinstance(item, dict) or len(item) != 1:
                raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, key-value pair must contain exactly one key")
            pairs.extend(item.items())
    else:
        raise RPCError(RPC_TYPE_ERROR, "Expected type object or array")
    result: list[TxOut] = []
    seen_addresses: set[str] = set()
    seen_data = False
    for key, value in pairs:
        if key == "data":
            if seen_data:
                raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, duplicate key: data")
            seen_data = True
            try:
                data = bytes.fromhex(value)
            except (TypeError, ValueError):
                raise RPCError(RPC_INVALID_PARAMETER, f"Data must be hexadecimal string (not '{value}')") from None
            result.append(TxOut(0, bytes([OP_RETURN]) + build_script([data])))
            continue
        try:
            script = address_to_script(key, params)
        except InvalidAddress:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid Bitcoin address: {key}") from None
        if key in seen_addresses:
            raise RPCError(RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {key}")
        seen_addresses.add(key)
        result.append(TxOut(amount_from_value(value), script))
    return result


@rpc_method(
    "createrawtransaction",
    "rawtransactions",
    params=[
        Param("inputs", "arr", "The inputs: [{\"txid\":\"hex\",\"vout\":n,\"sequence\":n}, ...]"),
        Param("outputs", "any", "The outputs: [{\"address\":amount}, {\"data\":\"hex\"}, ...]"),
        Param("locktime", "int64", "Raw locktime. Non-0 value also locktime-activates inputs", default=0),
        Param("replaceable", "bool", "Marks this transaction as BIP125-replaceable.", default=False),
    ],
    help="Create a transaction spending the given inputs and creating new outputs.\n"
         "Returns hex-encoded raw transaction.\nNote that the transaction's inputs are not signed, and\n"
         "it is not stored in the wallet or transmitted to the network.",
    result='"hex"    (string) hex string of the transaction',
    examples=help_example_cli("createrawtransaction", '"[{\\"txid\\":\\"myid\\",\\"vout\\":0}]" "[{\\"address\\":0.01}]"'),
)
def createrawtransaction(ctx: RPCContext, inputs: list, outputs: Any, locktime: int, replaceable: bool) -> str:
    if not 0 <= locktime <= 0xFFFFFFFF:
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, locktime out of range")
    txins = []
    for item in inputs:
        if not isinstance(item, dict):
            raise RPCError(RPC_TYPE_ERROR, "Expected type object")
        txid = parse_hash_v(item.get("txid"), "txid")
        vout = item.get("vout")
        if type_name(vout) != "number":
            raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, missing vout key")
        vout = get_int(vout, "int")
        if vout < 0:
            raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
        if replaceable:
            sequence = MAX_BIP125_RBF_SEQUENCE
        elif locktime:
            sequence = MAX_SEQUENCE_NONFINAL
        else:
            sequence = 0xFFFFFFFF
        if type_name(item.get("sequence")) == "number":  # Core ignores a non-number sequence
            sequence = get_int(item["sequence"], "int64")
            if not 0 <= sequence <= 0xFFFFFFFF:
                raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, sequence number is out of range")
        txins.append(TxIn(OutPoint(txid, vout), b"", sequence))
    tx = Transaction(2, txins, _outputs(outputs, ctx.node.params), locktime)
    return tx.to_bytes().hex()


# -- reading ----------------------------------------------------------------------------


@rpc_method(
    "getrawtransaction",
    "rawtransactions",
    params=[
        Param("txid", "hex", "The transaction id"),
        Param("verbosity|verbose", "any", "0 for hex-encoded data, 1 for a JSON object, and 2 for JSON object with "
              "fee and prevout", default=0, default_hint="0"),
        Param("blockhash", "hex", "The block in which to look for the transaction", optional=True),
    ],
    help="By default, this call only returns a transaction if it is in the mempool. If -txindex is enabled\n"
         "and no blockhash argument is passed, it will return the transaction if it is in the mempool or any block.\n"
         "If a blockhash argument is passed, it will return the transaction if\n"
         "the specified block is available and the transaction is in that block.",
    result='"data"  (verbosity 0)  or  { "in_active_chain", TxToUniv fields, "blockhash", "confirmations", "time", "blocktime" }',
    examples=help_example_cli("getrawtransaction", '"mytxid"'),
)
async def getrawtransaction(ctx: RPCContext, txid: str, verbosity: Any, blockhash: str | None) -> Any:
    txid_bytes = parse_hash_v(txid, "parameter 1")
    level = parse_verbosity(verbosity, 0)
    block_hash_bytes = parse_hash_v(blockhash, "parameter 3") if blockhash is not None else None
    node = ctx.node
    params = node.params

    def lookup() -> Any:
        cs = node.chainstate
        if txid_bytes == params.genesis.txs[0].txid_bytes:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "The genesis block coinbase is not considered an ordinary "
                           "transaction and cannot be retrieved")
        if block_hash_bytes is None:
            entry = node.mempool.get(txid_bytes) if node.mempool is not None else None
            if entry is None:
                raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool transaction. Use -txindex or provide a "
                               "block hash to enable blockchain transaction queries. Use gettransaction for wallet "
                               "transactions.")
            tx = entry.tx
            if level <= 0:
                return tx.to_bytes().hex()
            return tx_to_univ(tx, params)
        index_entry = cs.get_entry(block_hash_bytes)
        if index_entry is None:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found")
        if not index_entry.have_data:
            raise RPCError(RPC_MISC_ERROR, "Block not available")
        block = cs.get_block(index_entry)
        i = next((n for n, t in enumerate(block.txs) if t.txid_bytes == txid_bytes), None)
        if i is None:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block. Use "
                           "gettransaction for wallet transactions.")
        tx = block.txs[i]
        if level <= 0:
            return tx.to_bytes().hex()
        in_active = cs.chain.contains(index_entry)
        undo = None
        if level >= 2 and i > 0:
            block_undo = cs.get_undo(index_entry)
            undo = block_undo.txs[i - 1] if block_undo is not None else None
        result: dict[str, Any] = {"in_active_chain": in_active}
        result.update(tx_to_univ(tx, params, undo=undo, verbosity=3 if level >= 2 else 1))
        result["blockhash"] = index_entry.hash
        if in_active:
            result["confirmations"] = cs.tip.height - index_entry.height + 1
            result["time"] = index_entry.header.time
            result["blocktime"] = index_entry.header.time
        else:
            result["confirmations"] = 0
        return result

    return await node.run_validation(lookup)


# -- sending ----------------------------------------------------------------------------


def _is_burn(script: bytes) -> bool:
    """Core: an output that is unspendable (OP_RETURN or oversized) or has invalid opcodes."""
    if (script and script[0] == 0x6A) or len(script) > MAX_SCRIPT_SIZE:
        return True
    try:
        return any(op > _MAX_OPCODE for op, _d, _p in iter_script(script))
    except Exception:  # noqa: BLE001 - unparseable scripts are invalid ops
        return True


def _reject_to_rpc(r: Rejection) -> RPCError:
    """Core's HandleATMPError + the TransactionError -> RPC code mapping."""
    if r.kind is RejectKind.MISSING_INPUTS:
        return RPCError(RPC_VERIFY_ERROR, str(r))
    return RPCError(RPC_VERIFY_REJECTED, str(r))


@rpc_method(
    "sendrawtransaction",
    "rawtransactions",
    params=[
        Param("hexstring", "hex", "The hex string of the raw transaction"),
        Param("maxfeerate", "amount", "Reject transactions whose fee rate is higher than the specified value, "
              "expressed in BTC/kvB.\nFee rates larger than 1BTC/kvB are rejected.\nSet to 0 to accept any fee rate.",
              default=DEFAULT_MAX_RAW_TX_FEE_RATE, default_hint='"0.10"'),
        Param("maxburnamount", "amount", "Reject transactions with provably unspendable outputs (e.g. 'datacarrier' "
              "outputs that use the OP_RETURN opcode) greater than the specified value, expressed in BTC.",
              default=Decimal(0), default_hint='"0"'),
    ],
    help="Submit a raw transaction (serialized, hex-encoded) to local node and network.",
    result='"hex"    (string) The transaction hash in hex',
    examples=help_example_cli("sendrawtransaction", '"signedhex"'),
)
async def sendrawtransaction(ctx: RPCContext, hexstring: str, maxfeerate: Any, maxburnamount: Any) -> str:
    tx = _decode_tx(hexstring, "TX decode failed. Make sure the tx has at least one input.")
    max_burn = amount_from_value(maxburnamount)
    for out in tx.outputs:
        if _is_burn(out.script_pubkey) and out.value > max_burn:
            raise RPCError(RPC_VERIFY_ERROR, "Unspendable output exceeds maximum configured by user (maxburnamount)")
    rate = parse_fee_rate(maxfeerate)
    node = ctx.node

    def broadcast() -> str:
        cs, pool = node.chainstate, node.mempool
        for n in range(len(tx.outputs)):
            if cs.coins_tip.get_coin(OutPoint(tx.txid_bytes, n)) is not None:
                raise RPCError(RPC_VERIFY_ALREADY_IN_UTXO_SET, "Transaction outputs already in utxo set")
        if pool.get(tx.txid_bytes) is not None:
            return tx.txid
        max_fee = fee_for_vsize(rate, tx.vsize) if rate > 0 else None
        try:
            if max_fee is not None:
                result = pool.accept(tx, test_only=True)
                if result.fee > max_fee:
                    raise RPCError(RPC_VERIFY_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)")
            pool.accept(tx)
        except Rejection as r:
            raise _reject_to_rpc(r) from None
        return tx.txid

    return await node.run_validation(broadcast)


@rpc_method(
    "testmempoolaccept",
    "rawtransactions",
    params=[
        Param("rawtxs", "arr", "An array of hex strings of raw transactions."),
        Param("maxfeerate", "amount", "Reject transactions whose fee rate is higher than the specified value, "
              "expressed in BTC/kvB", default=DEFAULT_MAX_RAW_TX_FEE_RATE, default_hint='"0.10"'),
    ],
    help="Returns result of mempool acceptance tests indicating if raw transaction(s) (serialized, hex-encoded) "
         "would be accepted by mempool.\n\n"
         "If multiple transactions are passed in, parents must come before children and package policies apply: "
         "the transactions cannot conflict with any mempool transactions or each other.\n\n"
         "If one transaction fails, other transactions may not be fully validated (the 'allowed' key will be "
         "blank).\n\nThe maximum number of transactions allowed is 25.\n\n"
         "This checks if transactions violate the consensus or policy rules.\n\nSee sendrawtransaction call.",
    result='[ { "txid", "wtxid", "package-error", "allowed", "vsize", '
           '"fees" : { "base", "effective-feerate", "effective-includes" }, "reject-reason" }, ... ]',
    examples=help_example_cli("testmempoolaccept", '\'["signedhex"]\''),
)
async def testmempoolaccept(ctx: RPCContext, rawtxs: list, maxfeerate: Any) -> list[dict[str, Any]]:
    if not 1 <= len(rawtxs) <= 25:
        raise RPCError(RPC_INVALID_PARAMETER, "Array must contain between 1 and 25 transactions.")
    rate = parse_fee_rate(maxfeerate)
    txs = [_decode_tx(h, f"TX decode failed: {h} Make sure the tx has at least one input.") for h in rawtxs]
    node = ctx.node

    def test() -> list[dict[str, Any]]:
        # One transaction: Core's ProcessTransaction; several: a package
        # (ProcessNewPackage, test_accept), where a transaction left unvalidated by an
        # earlier failure gets no "allowed", and a package-wide failure is reported on
        # every entry as "package-error".
        if len(txs) == 1:
            package_error = None
            try:
                outcomes: dict[bytes, Any] = {txs[0].wtxid_bytes: node.mempool.accept(txs[0], test_only=True)}
            except Rejection as rej:
                outcomes = {txs[0].wtxid_bytes: rej}
        else:
            package_error, outcomes = node.mempool.test_accept_package(txs)
        results = []
        exit_early = False
        for tx in txs:
            item: dict[str, Any] = {"txid": tx.txid, "wtxid": tx.wtxid}
            if package_error is not None:
                item["package-error"] = package_error
            r = outcomes.get(tx.wtxid_bytes)
            if exit_early or r is None:
                results.append(item)
                continue
            if isinstance(r, Rejection):
                item["allowed"] = False
                item["reject-reason"] = "missing-inputs" if r.kind is RejectKind.MISSING_INPUTS else r.reason
                results.append(item)
                continue
            # Core caps on the vsize it reports: the sigop-adjusted one (-bytespersigop);
            # the transactions after one over the cap are left unreported.
            if rate > 0 and r.fee > fee_for_vsize(rate, r.vsize):
                item["allowed"] = False
                item["reject-reason"] = "max-fee-exceeded"
                results.append(item)
                exit_early = True
                continue
            item["allowed"] = True
            item["vsize"] = r.vsize
            item["fees"] = {
                "base": value_from_amount(r.fee),
                "effective-feerate": value_from_amount(r.effective_feerate),
                "effective-includes": [tx.wtxid],
            }
            results.append(item)
        return results

    return await node.run_validation(test)
