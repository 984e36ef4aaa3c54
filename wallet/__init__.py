"""coin.wallet: an HD wallet that talks to a node only over JSON-RPC.

Purpose: hold a user's keys (one BIP-0039 mnemonic per wallet), derive BIP-0044/49/84
accounts and addresses from it, and keep the wallet's view of the chain (its
transactions, coins and sync point) in one encrypted SQLite file. It imports only
coin.params, coin.primitives, coin.crypto, coin.script, coin.config and the RPC
client (coin.rpc.client): never chain, mempool, p2p or node internals.

Outline:
- `bip39`: mnemonics (English): generate from `secrets`, validate, stretch to a seed.
- `bip32`: `ExtendedKey` (CKDpriv/CKDpub, hardened steps, paths, fingerprints,
  xprv/xpub/tprv/tpub and SLIP-0132 y/z/u/v serialisations, strict parsing).
- `accounts`: `Account` per purpose (84 P2WPKH default, 49 P2SH-P2WPKH, 44 P2PKH),
  receive/change chains, `DerivedAddress` (address, scriptPubKey, pubkey, redeem
  script), gap-limit discovery (`scan_chain`, `GapWindow`).
- `crypter`: scrypt passphrase key, random master key, AES-256-GCM per secret.
- `store`: the wallet file (`create`, `open`, `Wallet.unlock`), its schema, and the
  records a chain follower and a spender read and write.
- `sync`: `ChainFollower` (batched getblockhash + raw getblock, reorg rollback by
  stored block hashes, mempool view, gap-limit discovery as scripts get used).
- `spend`: `FeeRate`, exact vsize estimates, dust, Core's branch-and-bound selection
  with a largest-first fallback, change, signing (P2WPKH, P2SH-P2WPKH, P2PKH) checked
  by coin.script.verify_input, `send` and `bump_fee` (BIP-0125).
- `history`: balances (confirmed / unconfirmed / immature), unspent coins, history.
- `cli`: `coin-wallet` (`main(argv=None)`), every command with `--json`.

Error contract: bad input raises ValueError subclasses with a message that says what
is wrong and never contains secret material: `InvalidMnemonic`, `InvalidChildKey`,
and plain ValueError for malformed paths or extended keys. The store raises
`WrongPassphrase`, `WalletLocked` and `WalletError`. Spending raises `SpendError`
(a ValueError) and its subclass `InsufficientFunds` (amounts needed/available);
`SigningError` if a signature fails its own verification (nothing is broadcast).
Syncing raises `SyncError`; RPC errors of coin.rpc.client pass through. The CLI turns
every one of these into one `error: ...` line and exit status 1. Secrets never appear in repr(),
str(), log lines or exception messages, and never reach the disk unencrypted.

BIPs: BIP-0032, BIP-0039, BIP-0043, BIP-0044, BIP-0049, BIP-0084, BIP-0125,
BIP-0141/0143 (weight, segwit v0 signing); SLIP-0132 prefixes.
"""
