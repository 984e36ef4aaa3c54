/* Batch ECDSA verification over libsecp256k1, for block validation.
 *
 * Verifying a block's signatures one Python call at a time costs a Python round trip
 * and two GIL hand-offs per signature (signature parse, verify). Here a whole batch is
 * one call: cffi releases the GIL once, and every step of Bitcoin Core's
 * CPubKey::Verify runs in C for each signature:
 *
 *   - the public key's size must match its first byte (CPubKey::IsValid / GetLen),
 *     then secp256k1_ec_pubkey_parse;
 *   - the signature goes through ecdsa_signature_parse_der_lax (Core's pubkey.cpp,
 *     ported below line for line): the permissive DER reader that pre-BIP66
 *     signatures need; R or S over 32 bytes or >= n give a parsed but invalid
 *     signature, as in Core;
 *   - secp256k1_ecdsa_signature_normalize (libsecp256k1 verifies lower-S only), then
 *     secp256k1_ecdsa_verify.
 *
 * libsecp256k1 is not linked here: the project takes it from coincurve, whose cffi
 * module holds the library. The caller passes the five function pointers it needs and
 * coincurve's context (struct coin_secp_api); their C signatures are libsecp256k1's
 * stable public API, and its pubkey and signature objects are opaque 64-byte structs.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct { unsigned char data[64]; } coin_secp_pubkey;
typedef struct { unsigned char data[64]; } coin_secp_signature;

struct coin_secp_api {
    const void *ctx;
    int (*pubkey_parse)(const void *ctx, coin_secp_pubkey *pubkey, const unsigned char *input, size_t inputlen);
    int (*signature_parse_compact)(const void *ctx, coin_secp_signature *sig, const unsigned char *input64);
    int (*signature_normalize)(const void *ctx, coin_secp_signature *sigout, const coin_secp_signature *sigin);
    int (*verify)(const void *ctx, const coin_secp_signature *sig, const unsigned char *msghash32,
                  const coin_secp_pubkey *pubkey);
};

/* Core's ecdsa_signature_parse_der_lax (src/pubkey.cpp). */
static int parse_der_lax(const struct coin_secp_api *api, coin_secp_signature *sig,
                         const unsigned char *input, size_t inputlen)
{
    size_t rpos, rlen, spos, slen;
    size_t pos = 0;
    size_t lenbyte;
    unsigned char tmpsig[64] = {0};
    int overflow = 0;

    /* Hack to initialize sig with a correctly-parsed but invalid signature. */
    api->signature_parse_compact(api->ctx, sig, tmpsig);

    /* Sequence tag byte */
    if (pos == inputlen || input[pos] != 0x30) {
        return 0;
    }
    pos++;

    /* Sequence length bytes */
    if (pos == inputlen) {
        return 0;
    }
    lenbyte = input[pos++];
    if (lenbyte & 0x80) {
        lenbyte -= 0x80;
        if (lenbyte > inputlen - pos) {
            return 0;
        }
        pos += lenbyte;
    }

    /* Integer tag byte for R */
    if (pos == inputlen || input[pos] != 0x02) {
        return 0;
    }
    pos++;

    /* Integer length for R */
    if (pos == inputlen) {
        return 0;
    }
    lenbyte = input[pos++];
    if (lenbyte & 0x80) {
        lenbyte -= 0x80;
        if (lenbyte > inputlen - pos) {
            return 0;
        }
        while (lenbyte > 0 && input[pos] == 0) {
            pos++;
            lenbyte--;
        }
        if (lenbyte >= 4) {
            return 0;
        }
        rlen = 0;
        while (lenbyte > 0) {
            rlen = (rlen << 8) + input[pos];
            pos++;
            lenbyte--;
        }
    } else {
        rlen = lenbyte;
    }
    if (rlen > inputlen - pos) {
        return 0;
    }
    rpos = pos;
    pos += rlen;

    /* Integer tag byte for S */
    if (pos == inputlen || input[pos] != 0x02) {
        return 0;
    }
    pos++;

    /* Integer length for S */
    if (pos == inputlen) {
        return 0;
    }
    lenbyte = input[pos++];
    if (lenbyte & 0x80) {
        lenbyte -= 0x80;
        if (lenbyte > inputlen - pos) {
            return 0;
        }
        while (lenbyte > 0 && input[pos] == 0) {
            pos++;
            lenbyte--;
        }
        if (lenbyte >= 4) {
            return 0;
        }
        slen = 0;
        while (lenbyte > 0) {
            slen = (slen << 8) + input[pos];
            pos++;
            lenbyte--;
        }
    } else {
        slen = lenbyte;
    }
    if (slen > inputlen - pos) {
        return 0;
    }
    spos = pos;

    /* Ignore leading zeroes in R */
    while (rlen > 0 && input[rpos] == 0) {
        rlen--;
        rpos++;
    }
    /* Copy R value */
    if (rlen > 32) {
        overflow = 1;
    } else {
        memcpy(tmpsig + 32 - rlen, input + rpos, rlen);
    }

    /* Ignore leading zeroes in S */
    while (slen > 0 && input[spos] == 0) {
        slen--;
        spos++;
    }
    /* Copy S value */
    if (slen > 32) {
        overflow = 1;
    } else {
        memcpy(tmpsig + 64 - slen, input + spos, slen);
    }

    if (!overflow) {
        overflow = !api->signature_parse_compact(api->ctx, sig, tmpsig);
    }
    if (overflow) {
        /* Overwrite the result again with a correctly-parsed but invalid
           signature if parsing failed. */
        memset(tmpsig, 0, 64);
        api->signature_parse_compact(api->ctx, sig, tmpsig);
    }
    return 1;
}

/* CPubKey::GetLen: the size a serialized public key must have, by its first byte. */
static size_t pubkey_len(unsigned char header)
{
    if (header == 2 || header == 3) {
        return 33;
    }
    if (header == 4 || header == 6 || header == 7) {
        return 65;
    }
    return 0;
}

/* CPubKey::Verify of one (pubkey, DER signature, 32-byte message hash). `parsed` is
 * the public key as secp256k1_ec_pubkey_parse leaves it; when *state is 0 it is parsed
 * here (state becomes 1, or 2 if the key is invalid), when 1 it was parsed before. */
static int verify_one(const struct coin_secp_api *api, const unsigned char *pub, size_t publen,
                      coin_secp_pubkey *parsed, unsigned char *state,
                      const unsigned char *der, size_t derlen, const unsigned char *msg32)
{
    coin_secp_signature sig;

    if (*state == 0) {
        if (publen == 0 || pubkey_len(pub[0]) != publen || !api->pubkey_parse(api->ctx, parsed, pub, publen)) {
            *state = 2;
            return 0;
        }
        *state = 1;
    } else if (*state != 1) {
        return 0;
    }
    if (!parse_der_lax(api, &sig, der, derlen)) {
        return 0;
    }
    api->signature_normalize(api->ctx, &sig, &sig);
    return api->verify(api->ctx, &sig, msg32, parsed) == 1;
}

/* Verify n signatures, in order, stopping at the first that fails. The i-th public key
 * is pubkeys[pub_off[i] .. pub_off[i+1]), parsed[i] its parsed form when states[i] is 1
 * (the caller's cache; 0: parse it here, which sets states[i] to 1 or 2), its DER
 * signature (no sighash byte) sigs[sig_off[i] .. sig_off[i+1]), its message
 * msgs[32 * i .. 32 * i + 32). Returns the index of the first that fails, or -1 when
 * all verify. */
int64_t coin_ecdsa_verify_batch(const struct coin_secp_api *api, size_t n,
                                const unsigned char *pubkeys, const uint32_t *pub_off,
                                coin_secp_pubkey *parsed, unsigned char *states,
                                const unsigned char *sigs, const uint32_t *sig_off,
                                const unsigned char *msgs)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!verify_one(api, pubkeys + pub_off[i], pub_off[i + 1] - pub_off[i], parsed + i, states + i,
                        sigs + sig_off[i], sig_off[i + 1] - sig_off[i], msgs + 32 * i)) {
            return (int64_t)i;
        }
    }
    return -1;
}
