"""What the wallet holds and did: balances, unspent coins, the transaction list.

Read-only views over the store, computed against the wallet's synced tip:

- `get_balances(wallet)` -> `Balances`: `confirmed` (mature coins in blocks),
  `unconfirmed` (coins of transactions still in the mempool), `immature` (coinbase
  outputs until Core's maturity: depth >= COINBASE_MATURITY + 1), `trusted_pending`
  (the part of `unconfirmed` that is change of our own transactions) and `balance` =
  confirmed + trusted_pending: what `send` may spend now (Core's getbalance).
- `list_unspent(wallet)`: one entry per unspent coin, as Core's listunspent.
- `list_transactions(wallet)`: one entry per wallet transaction, oldest first, with
  Core's categories (`send`, `receive`, `generate`, `immature`), the net amount, the
  fee we paid and the confirmations.

Amounts are integer satoshis here; the CLI prints BTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from coin.crypto.address import script_to_address

from .spend import blocks_to_maturity

__all__ = ["Balances", "get_balances", "list_transactions", "list_unspent"]


@dataclass(frozen=True, slots=True)
class Balances:
    confirmed: int
    unconfirmed: int
    immature: int
    trusted_pending: int

    @property
    def balance(self) -> int:
        return self.confirmed + self.trusted_pending


def _tip(wallet) -> int | None:
    best = wallet.best_block()
    return None if best is None else best[1]


def _from_me(wallet, txid_bytes: bytes, cache: dict) -> bool:
    if txid_bytes not in cache:
        rec = wallet.get_transaction(txid_bytes)
        tx = rec.tx if rec is not None else None
        cache[txid_bytes] = tx is not None and not tx.is_coinbase() and all(
            wallet.coin(i.prevout.txid_bytes, i.prevout.index) is not None for i in tx.inputs)
    return cache[txid_bytes]


def get_balances(wallet) -> Balances:
    tip = _tip(wallet)
    confirmed = unconfirmed = immature = trusted = 0
    cache: dict = {}
    for c in wallet.coins():
        if blocks_to_maturity(c.coinbase, c.height, tip):
            if c.height is not None:
                immature += c.value
            continue
        if c.height is not None:
            confirmed += c.value
        else:
            unconfirmed += c.value
            if _from_me(wallet, c.txid_bytes, cache):
                trusted += c.value
    return Balances(confirmed, unconfirmed, immature, trusted)


def list_unspent(wallet) -> list[dict]:
    """Unspent coins (immature ones included, flagged not spendable), oldest first."""
    tip = _tip(wallet)
    out = []
    cache: dict = {}
    for c in wallet.coins():
        rec = wallet.lookup_script(c.script_pubkey)
        confirmations = 0 if c.height is None or tip is None else tip - c.height + 1
        mature = not blocks_to_maturity(c.coinbase, c.height, tip)
        safe = c.height is not None or _from_me(wallet, c.txid_bytes, cache)
        out.append({
            "txid": c.txid,
            "vout": c.vout,
            "address": rec.address if rec is not None else script_to_address(c.script_pubkey,
                                                                             wallet.params),
            "script_type": rec.script_type.value if rec is not None else None,
            "path": rec.path if rec is not None else None,
            "amount": c.value,
            "confirmations": confirmations,
            "coinbase": c.coinbase,
            "spendable": mature and (c.height is not None or safe),
            "safe": safe,
        })
    return out


def list_transactions(wallet) -> list[dict]:
    """One entry per wallet transaction (oldest first): txid, category, amount (net to
    us; negative for a send, excluding the fee), fee (negative, sends only),
    confirmations, blockheight, blockhash, time, addresses (ours it paid or, for a
    send, the destinations)."""
    tip = _tip(wallet)
    coins = {(c.txid_bytes, c.vout): c for c in wallet.coins(include_spent=True)}
    out = []
    for rec in wallet.transactions():
        tx = rec.tx
        debit = 0
        all_mine = not tx.is_coinbase()
        for txin in tx.inputs:
            c = coins.get((txin.prevout.txid_bytes, txin.prevout.index))
            if c is None:
                all_mine = False
            else:
                debit += c.value
        mine = [(n, o) for n, o in enumerate(tx.outputs) if wallet.is_mine(o.script_pubkey)]
        credit = sum(o.value for _, o in mine)
        confirmations = 0 if rec.height is None or tip is None else tip - rec.height + 1
        entry = {"txid": rec.txid, "confirmations": confirmations,
                 "blockheight": rec.height,
                 "blockhash": rec.block_hash_bytes[::-1].hex() if rec.block_hash_bytes else None,
                 "time": rec.time if rec.time is not None else rec.received_time}
        if debit and all_mine:
            fee = debit - sum(o.value for o in tx.outputs)
            external = [o for o in tx.outputs if not wallet.is_mine(o.script_pubkey)]
            entry.update(category="send", amount=-sum(o.value for o in external), fee=-fee,
                         addresses=[script_to_address(o.script_pubkey, wallet.params)
                                    for o in external])
        else:
            if tx.is_coinbase():
                category = "immature" if blocks_to_maturity(True, rec.height, tip) else "generate"
            else:
                category = "receive"
            entry.update(category=category, amount=credit - debit,
                         addresses=[script_to_address(o.script_pubkey, wallet.params)
                                    for _, o in mine])
        entry["bip125_replaceable"] = "no" if rec.height is not None else (
            "yes" if any(i.sequence < 0xFFFFFFFE for i in tx.inputs) else "unknown")
        out.append(entry)
    return out
