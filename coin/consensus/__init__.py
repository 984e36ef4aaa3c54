"""coin.consensus: Bitcoin's consensus rules as pure functions over primitives and a UTXO view.

Outline (one module per concept; import the submodules, this package re-exports nothing):
- `constants`: Core's limits and flags (MAX_BLOCK_WEIGHT, MAX_MONEY, COINBASE_MATURITY,
  SEQUENCE_*, LOCKTIME_*, ...) and `money_range`.
- `errors`: `Rejection(reason, debug, kind, ban_score)` and `InternalError`.
- `pow`: compact bits, targets, work, retargeting.
- `subsidy`: `get_block_subsidy`.
- `coins`: `Coin`, the `CoinsView` protocol, `MemoryCoinsView`.
- `undo`: `TxUndo`, `BlockUndo` and their byte layout.
- `tx_check`: `check_transaction` (CheckTransaction).
- `tx_verify`: `is_final_tx`, BIP-0068 sequence locks, `check_tx_inputs` (CheckTxInputs).
- `witness`: BIP-0141 witness commitment lookup and check, block weight.
- `block_check`: CheckBlockHeader, CheckBlock, ContextualCheckBlockHeader,
  ContextualCheckBlock; the BIP-0034 height script.
- `flags`: `get_block_script_flags` (GetBlockScriptFlags).
- `connect`: `connect_block` / `disconnect_block` (ConnectBlock / DisconnectBlock without
  storage).

Error contract: every rule violation raises `Rejection` with Bitcoin Core's reject reason
(`bad-txns-inputs-missingorspent`, `bad-cb-amount`, `high-hash`, ...); broken invariants of
ours (corrupt undo data, overwriting an unspent coin) raise `InternalError`. Predicates
such as `is_final_tx` and `sequence_locks` return booleans and leave the reason to the
caller (blocks: bad-txns-nonfinal; mempool: non-final / non-BIP68-final).

BIPs: BIP-0016 (P2SH flag), BIP-0030, BIP-0034, BIP-0065/0066/0112/0147 flag heights,
BIP-0068, BIP-0113, BIP-0141 (commitment, weight, sigop cost), CVE-2012-2459 and
CVE-2018-17144 checks. Taproot (BIP-0341/342) is not part of the rules yet.
"""

__all__: list[str] = []
