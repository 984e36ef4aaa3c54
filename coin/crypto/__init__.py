"""coin.crypto: hashes, ECDSA signatures, keys and addresses.

Outline:
- ``hashes``  SHA-256, SHA-256d, RIPEMD-160, HASH160, BIP-0340 tagged hashes.
- ``der``     DER signature encodings: Core's IsValidSignatureEncoding (BIP-0066),
              IsLowDERSignature (BIP-0062 low S) and the lax pre-BIP66 parser.
- ``ecc``     secp256k1 ECDSA behind one interface, two backends: libsecp256k1 via
              coincurve (default) and pure-Python ``ecdsa`` (fallback, and the
              differential-test oracle). ``set_backend`` / ``get_backend`` /
              ``COIN_ECDSA_BACKEND``. Verify is Core's CPubKey::Verify; sign is
              RFC 6979, low S, strict DER; key parsing and BIP-0032 tweaks.
- ``base58``  Base58 and Base58Check.
- ``bech32``  Bech32 / Bech32m strings and segwit addresses (BIP-0173, BIP-0350).
- ``keys``    WIF private keys.
- ``address`` address <-> scriptPubKey for P2PKH, P2SH, P2WPKH, P2WSH, P2TR and other
              witness versions; scriptPubKey template builders.

Error contract: verification answers False for anything a peer could send (bad key,
unparseable signature) and never raises on it; decoders of strings (Base58Check,
Bech32, WIF, addresses) raise ValueError (``InvalidAddress`` for addresses);
key operations raise ValueError on invalid keys or tweaks. Nothing here knows about a
"current network": the network's prefixes come in as a ChainParams argument.

BIPs: BIP-0062 (low S), BIP-0066 (strict DER), BIP-0141 (witness programs),
BIP-0173 (Bech32), BIP-0350 (Bech32m), BIP-0340 (tagged hashes), RFC 6979.
"""

__all__: list[str] = []
