/*
 * sha256d.c - the proof-of-work scanner behind coin._miner.
 *
 * One entry point, coin_scan(): given an 80-byte block header (its nonce field is
 * ignored), a 32-byte target in little-endian order, a start nonce and a count, it
 * hashes header(nonce) with double SHA-256 for nonce = start .. start+count-1 and
 * stops at the first nonce whose hash, read as a little-endian 256-bit number, is
 * <= target (Bitcoin's CheckProofOfWork comparison). It polls *stop every
 * COIN_STOP_POLL nonces and returns early when it is non-zero.
 *
 * Per nonce the work is two SHA-256 compressions, not three:
 *   - the first 64 header bytes are compressed once per call (the midstate);
 *   - the second block (header bytes 64..79 + padding) has 12 constant message
 *     words; rounds 0..2 (and most of round 3) do not depend on the nonce and are
 *     precomputed, as are the nonce-free parts of the message schedule;
 *   - the second SHA-256 runs over the 32-byte digest with constant padding words;
 *     it stops after round 60, which already fixes the hash's last word H7 (the
 *     most significant 32 bits of the little-endian number): a nonce is only
 *     fully hashed and compared when that word is <= the target's top word.
 *
 * Three implementations, picked at run time (cpuid):
 *   - SHA-NI (x86 SHA extensions), two nonces interleaved to hide the latency of
 *     sha256rnds2;
 *   - AVX2, eight nonces in the lanes of 256-bit vectors (the portable path's code
 *     over GCC/Clang vector types), for x86 CPUs without SHA-NI;
 *   - portable C, fully unrolled, for every other CPU and architecture.
 * The x86 paths are compiled through per-function target attributes, so the file
 * builds with default flags and runs on every x86-64.
 *
 * The GIL is released by cffi around the call (out-of-line API mode).
 */

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define COIN_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define COIN_STOP_POLL 4096u

enum { COIN_IMPL_AUTO = 0, COIN_IMPL_PORTABLE = 1, COIN_IMPL_SHANI = 2, COIN_IMPL_AVX2 = 3 };

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

static inline uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t le32(const unsigned char *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static inline uint32_t bswap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);
}

/* ---- reference SHA-256 (midstate, verification of candidates) ---------------------- */

static void compress_ref(uint32_t s[8], const uint32_t in[16])
{
    uint32_t w[64];
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 16; i++)
        w[i] = in[i];
    for (int i = 16; i < 64; i++)
        w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) + w[i - 16];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K[i] + w[i];
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d;
    s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

static void load_block(uint32_t w[16], const unsigned char *p)
{
    for (int i = 0; i < 16; i++)
        w[i] = be32(p + 4 * i);
}

/* Double SHA-256 of the header with `nonce` in bytes 76..79; out in internal byte order. */
static void sha256d_header(const unsigned char *header, uint32_t nonce, unsigned char out[32])
{
    uint32_t s[8], w[16];
    memcpy(s, IV, sizeof s);
    load_block(w, header);
    compress_ref(s, w);
    load_block(w, header + 64);
    w[3] = bswap32(nonce);
    w[4] = 0x80000000u;
    for (int i = 5; i < 15; i++)
        w[i] = 0;
    w[15] = 640;
    compress_ref(s, w);
    for (int i = 0; i < 8; i++)
        w[i] = s[i];
    w[8] = 0x80000000u;
    for (int i = 9; i < 15; i++)
        w[i] = 0;
    w[15] = 256;
    memcpy(s, IV, sizeof s);
    compress_ref(s, w);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s[i] >> 8);
        out[4 * i + 3] = (unsigned char)s[i];
    }
}

/* hash <= target, both 32 bytes read as little-endian 256-bit numbers. */
static int hash_meets_target(const unsigned char hash[32], const unsigned char target[32])
{
    for (int i = 31; i >= 0; i--) {
        if (hash[i] != target[i])
            return hash[i] < target[i];
    }
    return 1;
}

/* Full check of a candidate that passed the H7 filter. */
static int verify(const unsigned char *header, const unsigned char *target, uint32_t nonce)
{
    unsigned char hash[32];
    sha256d_header(header, nonce, hash);
    return hash_meets_target(hash, target);
}

/* ---- per-header precomputation shared by both paths -------------------------------- */

typedef struct {
    uint32_t mid[8];   /* state after the first 64 bytes */
    uint32_t w0, w1, w2; /* block-2 words: merkle root tail, time, bits */
    uint32_t top;      /* target's most significant 32 bits */
} scan_ctx;

static void ctx_init(scan_ctx *c, const unsigned char *header, const unsigned char *target)
{
    uint32_t w[16];
    memcpy(c->mid, IV, sizeof c->mid);
    load_block(w, header);
    compress_ref(c->mid, w);
    c->w0 = be32(header + 64);
    c->w1 = be32(header + 68);
    c->w2 = be32(header + 72);
    c->top = le32(target + 28);
}

/* ---- portable path ------------------------------------------------------------------ */

/* RTYPE: the type of a working variable (uint32_t here, a vector in the AVX2 path) */
#define RTYPE uint32_t
#define RND(a, b, c, d, e, f, g, h, i)                                          \
    do {                                                                        \
        RTYPE t1_ = (h) + BSIG1(e) + CH(e, f, g) + K[i] + w[i];                 \
        RTYPE t2_ = BSIG0(a) + MAJ(a, b, c);                                    \
        (d) += t1_;                                                             \
        (h) = t1_ + t2_;                                                        \
    } while (0)

#define R0(i) RND(a, b, c, d, e, f, g, h, i)
#define R1(i) RND(h, a, b, c, d, e, f, g, i)
#define R2(i) RND(g, h, a, b, c, d, e, f, i)
#define R3(i) RND(f, g, h, a, b, c, d, e, i)
#define R4(i) RND(e, f, g, h, a, b, c, d, i)
#define R5(i) RND(d, e, f, g, h, a, b, c, i)
#define R6(i) RND(c, d, e, f, g, h, a, b, i)
#define R7(i) RND(b, c, d, e, f, g, h, a, i)
#define R8(i) R0(i); R1(i + 1); R2(i + 2); R3(i + 3); R4(i + 4); R5(i + 5); R6(i + 6); R7(i + 7)
#define WX(i) w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) + w[i - 16]
#define WX8(i) WX(i); WX(i + 1); WX(i + 2); WX(i + 3); WX(i + 4); WX(i + 5); WX(i + 6); WX(i + 7)

/* What block 2 of the first SHA-256 owes nothing to the nonce: the state after rounds
 * 0..2, round 3 but for its "+ W3", and the nonce-free terms of W16..W19. */
typedef struct {
    uint32_t p[8];      /* state (roles a..h) after round 2 */
    uint32_t pre_a;     /* a after round 3, minus W3 */
    uint32_t pre_e;     /* e after round 3, minus W3 */
    uint32_t w16, w17, w18_base, w19_base;
} block2_pre;

static block2_pre block2_precompute(const scan_ctx *cx)
{
    block2_pre r;
    uint32_t a = cx->mid[0], b = cx->mid[1], c = cx->mid[2], d = cx->mid[3];
    uint32_t e = cx->mid[4], f = cx->mid[5], g = cx->mid[6], h = cx->mid[7];
    uint32_t w[3] = {cx->w0, cx->w1, cx->w2};
    R0(0); R1(1); R2(2);
    /* roles after 3 rounds: a..h live in f,g,h,a,b,c,d,e */
    r.p[0] = f; r.p[1] = g; r.p[2] = h; r.p[3] = a;
    r.p[4] = b; r.p[5] = c; r.p[6] = d; r.p[7] = e;
    const uint32_t t1 = r.p[7] + BSIG1(r.p[4]) + CH(r.p[4], r.p[5], r.p[6]) + K[3];
    r.pre_a = t1 + BSIG0(r.p[0]) + MAJ(r.p[0], r.p[1], r.p[2]);
    r.pre_e = r.p[3] + t1;
    r.w16 = SSIG0(cx->w1) + cx->w0;                 /* W14 = W9 = 0 */
    r.w17 = SSIG1(640u) + SSIG0(cx->w2) + cx->w1;   /* W15 = 640, W10 = 0 */
    r.w18_base = SSIG1(r.w16) + cx->w2;             /* + SSIG0(W3) */
    r.w19_base = SSIG1(r.w17) + SSIG0(0x80000000u); /* + W3 */
    return r;
}

static int scan_portable(const scan_ctx *cx, const unsigned char *header,
                         const unsigned char *target, uint32_t start, uint64_t count,
                         volatile int *stop, uint32_t *nonce_out, uint64_t *hashes_out)
{
    const block2_pre pr = block2_precompute(cx);
    const uint32_t *p = pr.p;
    const uint32_t pre_a = pr.pre_a, pre_e = pr.pre_e, w16 = pr.w16, w17 = pr.w17;
    const uint32_t w18_base = pr.w18_base, w19_base = pr.w19_base;
    const uint32_t top = cx->top;
    const uint32_t *mid = cx->mid;

    uint64_t done = 0;
    while (done < count) {
        uint64_t batch = count - done;
        if (batch > COIN_STOP_POLL)
            batch = COIN_STOP_POLL;
        if (stop && *stop)
            break;
        for (uint64_t k = 0; k < batch; k++) {
            const uint32_t nonce = start + (uint32_t)(done + k);
            const uint32_t w3 = bswap32(nonce);
            uint32_t w[64];
            uint32_t a, b, c, d, e, f, g, h;
            uint32_t s0, s1, s2, s3, s4, s5, s6, s7;

            /* block 2 of the first SHA-256: rounds 4..63 */
            w[3] = w3;
            w[4] = 0x80000000u;
            w[5] = 0; w[6] = 0; w[7] = 0; w[8] = 0; w[9] = 0; w[10] = 0; w[11] = 0;
            w[12] = 0; w[13] = 0; w[14] = 0;
            w[15] = 640u;
            w[16] = w16;
            w[17] = w17;
            w[18] = w18_base + SSIG0(w3);
            w[19] = w19_base + w3;
            WX(20); WX(21); WX(22); WX(23);
            WX8(24); WX8(32); WX8(40); WX8(48); WX8(56);
            /* after round 3 the roles a..h sit in e,f,g,h,a,b,c,d */
            e = pre_a + w3; f = p[0]; g = p[1]; h = p[2];
            a = pre_e + w3; b = p[4]; c = p[5]; d = p[6];
            R4(4); R5(5); R6(6); R7(7);
            R8(8); R8(16); R8(24); R8(32); R8(40); R8(48); R8(56);
            s0 = mid[0] + a; s1 = mid[1] + b; s2 = mid[2] + c; s3 = mid[3] + d;
            s4 = mid[4] + e; s5 = mid[5] + f; s6 = mid[6] + g; s7 = mid[7] + h;

            /* second SHA-256 over the 32-byte digest: rounds 0..60 fix H7 */
            w[0] = s0; w[1] = s1; w[2] = s2; w[3] = s3;
            w[4] = s4; w[5] = s5; w[6] = s6; w[7] = s7;
            w[8] = 0x80000000u;
            w[9] = 0; w[10] = 0; w[11] = 0; w[12] = 0; w[13] = 0; w[14] = 0;
            w[15] = 256u;
            WX8(16); WX8(24); WX8(32); WX8(40); WX8(48);
            WX(56); WX(57); WX(58); WX(59); WX(60);
            a = IV[0]; b = IV[1]; c = IV[2]; d = IV[3];
            e = IV[4]; f = IV[5]; g = IV[6]; h = IV[7];
            R8(0); R8(8); R8(16); R8(24); R8(32); R8(40); R8(48);
            R0(56); R1(57); R2(58); R3(59); R4(60);
            /* e after round 60 (now in h) is the final h before the feed-forward */
            if (bswap32(IV[7] + h) <= top && verify(header, target, nonce)) {
                *nonce_out = nonce;
                *hashes_out = done + k + 1;
                return 1;
            }
        }
        done += batch;
    }
    *hashes_out = done;
    return 0;
}

/* ---- SHA-NI path -------------------------------------------------------------------- */

#ifdef COIN_X86

#define SHANI_FN __attribute__((target("sha,sse4.1")))
#define SHANI_INLINE static inline __attribute__((always_inline, target("sha,sse4.1")))

#define RNDS2 _mm_sha256rnds2_epu32

SHANI_INLINE __m128i kv(int i)
{
    return _mm_loadu_si128((const __m128i *)&K[4 * i]);
}

/* Four rounds for each of two independent states; m = W + K. */
SHANI_INLINE void qr2(__m128i s0[2], __m128i s1[2], __m128i ma, __m128i mb)
{
    s1[0] = RNDS2(s1[0], s0[0], ma);
    s1[1] = RNDS2(s1[1], s0[1], mb);
    s0[0] = RNDS2(s0[0], s1[0], _mm_shuffle_epi32(ma, 0x0e));
    s0[1] = RNDS2(s0[1], s1[1], _mm_shuffle_epi32(mb, 0x0e));
}

/* m2 = msg2(m2 + alignr(m1, m0, 4), m1): schedule words 16.. from the previous ones */
SHANI_INLINE __m128i msgc(__m128i m0, __m128i m1, __m128i m2)
{
    return _mm_sha256msg2_epu32(_mm_add_epi32(m2, _mm_alignr_epi8(m1, m0, 4)), m1);
}

/* (A..D),(E..H) word order to the ABEF/CDGH lanes sha256rnds2 works on */
SHANI_INLINE void to_abef(__m128i *s0, __m128i *s1)
{
    const __m128i t1 = _mm_shuffle_epi32(*s0, 0xB1);
    const __m128i t2 = _mm_shuffle_epi32(*s1, 0x1B);
    *s0 = _mm_alignr_epi8(t1, t2, 0x08);
    *s1 = _mm_blend_epi16(t2, t1, 0xF0);
}

SHANI_INLINE void from_abef(__m128i *s0, __m128i *s1)
{
    const __m128i t1 = _mm_shuffle_epi32(*s0, 0x1B);
    const __m128i t2 = _mm_shuffle_epi32(*s1, 0xB1);
    *s0 = _mm_blend_epi16(t1, t2, 0xF0);
    *s1 = _mm_alignr_epi8(t2, t1, 0x08);
}

SHANI_FN static int scan_shani(const scan_ctx *cx, const unsigned char *header,
                               const unsigned char *target, uint32_t start, uint64_t count,
                               volatile int *stop, uint32_t *nonce_out, uint64_t *hashes_out)
{
    __m128i mid0 = _mm_loadu_si128((const __m128i *)&cx->mid[0]);
    __m128i mid1 = _mm_loadu_si128((const __m128i *)&cx->mid[4]);
    to_abef(&mid0, &mid1);
    __m128i iv0 = _mm_loadu_si128((const __m128i *)&IV[0]);
    __m128i iv1 = _mm_loadu_si128((const __m128i *)&IV[4]);
    to_abef(&iv0, &iv1);

    /* block 2: W0..W3 = merkle tail, time, bits, nonce; W4..W15 = padding */
    const __m128i b2m0 = _mm_set_epi32(0, (int)cx->w2, (int)cx->w1, (int)cx->w0);
    const __m128i b2m1 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
    const __m128i b2m2 = _mm_setzero_si128();
    const __m128i b2m3 = _mm_set_epi32(640, 0, 0, 0);
    /* rounds 0,1 do not depend on the nonce */
    const __m128i msg03 = _mm_add_epi32(b2m0, kv(0));
    const __m128i pre_abef = RNDS2(mid1, mid0, msg03);
    const __m128i pre_cdgh = mid0;
    const __m128i msg23 = _mm_shuffle_epi32(msg03, 0x0e);
    /* block 3 padding: W8 = 0x80000000, W15 = 256 */
    const __m128i b3m2 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
    const __m128i b3m3 = _mm_set_epi32(256, 0, 0, 0);
    const uint32_t top = cx->top;

    uint64_t done = 0;
    while (done < count) {
        uint64_t batch = count - done;
        if (batch > COIN_STOP_POLL)
            batch = COIN_STOP_POLL;
        if (stop && *stop)
            break;
        for (uint64_t k = 0; k < batch; k += 2) {
            const uint32_t na = start + (uint32_t)(done + k);
            /* an odd tail hashes the last nonce twice */
            const uint32_t nb = (k + 1 < batch) ? na + 1 : na;
            const uint32_t wa = bswap32(na), wb = bswap32(nb);
            __m128i s0[2], s1[2], ma[4], mb[4];

            /* rounds 2,3 (W3 = nonce), then 4..63 of block 2 */
            {
                const __m128i xa = _mm_insert_epi32(msg23, (int)(wa + K[3]), 1);
                const __m128i xb = _mm_insert_epi32(msg23, (int)(wb + K[3]), 1);
                s0[0] = RNDS2(pre_cdgh, pre_abef, xa);
                s0[1] = RNDS2(pre_cdgh, pre_abef, xb);
                s1[0] = pre_abef;
                s1[1] = pre_abef;
            }
            ma[0] = _mm_insert_epi32(b2m0, (int)wa, 3);
            mb[0] = _mm_insert_epi32(b2m0, (int)wb, 3);
            ma[1] = mb[1] = b2m1;
            ma[2] = mb[2] = b2m2;
            ma[3] = mb[3] = b2m3;
            qr2(s0, s1, _mm_add_epi32(ma[1], kv(1)), _mm_add_epi32(mb[1], kv(1)));
            ma[0] = _mm_sha256msg1_epu32(ma[0], ma[1]);
            mb[0] = _mm_sha256msg1_epu32(mb[0], mb[1]);
            qr2(s0, s1, _mm_add_epi32(ma[2], kv(2)), _mm_add_epi32(mb[2], kv(2)));
            ma[1] = _mm_sha256msg1_epu32(ma[1], ma[2]);
            mb[1] = _mm_sha256msg1_epu32(mb[1], mb[2]);
            qr2(s0, s1, _mm_add_epi32(ma[3], kv(3)), _mm_add_epi32(mb[3], kv(3)));
#pragma GCC unroll 16
            for (int g = 4; g < 16; g++) {
                const int n = g & 3, p1 = (g + 3) & 3, p2 = (g + 2) & 3;
                ma[n] = msgc(ma[p2], ma[p1], ma[n]);
                mb[n] = msgc(mb[p2], mb[p1], mb[n]);
                if (g < 14) {
                    ma[p2] = _mm_sha256msg1_epu32(ma[p2], ma[p1]);
                    mb[p2] = _mm_sha256msg1_epu32(mb[p2], mb[p1]);
                }
                qr2(s0, s1, _mm_add_epi32(ma[n], kv(g)), _mm_add_epi32(mb[n], kv(g)));
            }
            s0[0] = _mm_add_epi32(s0[0], mid0);
            s1[0] = _mm_add_epi32(s1[0], mid1);
            s0[1] = _mm_add_epi32(s0[1], mid0);
            s1[1] = _mm_add_epi32(s1[1], mid1);
            from_abef(&s0[0], &s1[0]);
            from_abef(&s0[1], &s1[1]);

            /* the second SHA-256: W0..W7 = the digest words, then padding */
            ma[0] = s0[0]; ma[1] = s1[0]; ma[2] = b3m2; ma[3] = b3m3;
            mb[0] = s0[1]; mb[1] = s1[1]; mb[2] = b3m2; mb[3] = b3m3;
            s0[0] = s0[1] = iv0;
            s1[0] = s1[1] = iv1;
            qr2(s0, s1, _mm_add_epi32(ma[0], kv(0)), _mm_add_epi32(mb[0], kv(0)));
            qr2(s0, s1, _mm_add_epi32(ma[1], kv(1)), _mm_add_epi32(mb[1], kv(1)));
            ma[0] = _mm_sha256msg1_epu32(ma[0], ma[1]);
            mb[0] = _mm_sha256msg1_epu32(mb[0], mb[1]);
            qr2(s0, s1, _mm_add_epi32(ma[2], kv(2)), _mm_add_epi32(mb[2], kv(2)));
            ma[1] = _mm_sha256msg1_epu32(ma[1], ma[2]);
            mb[1] = _mm_sha256msg1_epu32(mb[1], mb[2]);
            qr2(s0, s1, _mm_add_epi32(ma[3], kv(3)), _mm_add_epi32(mb[3], kv(3)));
#pragma GCC unroll 16
            for (int g = 4; g < 15; g++) {
                const int n = g & 3, p1 = (g + 3) & 3, p2 = (g + 2) & 3;
                ma[n] = msgc(ma[p2], ma[p1], ma[n]);
                mb[n] = msgc(mb[p2], mb[p1], mb[n]);
                if (g < 14) {
                    ma[p2] = _mm_sha256msg1_epu32(ma[p2], ma[p1]);
                    mb[p2] = _mm_sha256msg1_epu32(mb[p2], mb[p1]);
                }
                qr2(s0, s1, _mm_add_epi32(ma[n], kv(g)), _mm_add_epi32(mb[n], kv(g)));
            }
            /* rounds 60,61 only: afterwards lane 0 (F) of the new ABEF holds e60,
             * which is the final h, so H7 = IV7 + e60 */
            {
                __m128i ta, tb;
                ma[3] = msgc(ma[1], ma[2], ma[3]);
                mb[3] = msgc(mb[1], mb[2], mb[3]);
                ta = RNDS2(s1[0], s0[0], _mm_add_epi32(ma[3], kv(15)));
                tb = RNDS2(s1[1], s0[1], _mm_add_epi32(mb[3], kv(15)));
                const uint32_t ha = bswap32(IV[7] + (uint32_t)_mm_cvtsi128_si32(ta));
                const uint32_t hb = bswap32(IV[7] + (uint32_t)_mm_cvtsi128_si32(tb));
                if (ha <= top && verify(header, target, na)) {
                    *nonce_out = na;
                    *hashes_out = done + k + 1;
                    return 1;
                }
                if (nb != na && hb <= top && verify(header, target, nb)) {
                    *nonce_out = nb;
                    *hashes_out = done + k + 2;
                    return 1;
                }
            }
        }
        done += batch;
    }
    *hashes_out = done;
    return 0;
}

static int cpu_has_sha_ni(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 19)) || !(c & (1u << 9))) /* SSE4.1, SSSE3 */
        return 0;
    if (__get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* SHA */
}

#else /* not x86 */

static int cpu_has_sha_ni(void)
{
    return 0;
}

#endif

/* ---- AVX2 path: eight nonces a lane each (GCC/Clang vector extensions) -------------- */

#if defined(COIN_X86) && defined(__GNUC__)
#define COIN_HAVE_AVX2 1

typedef uint32_t v8u __attribute__((vector_size(32)));
#undef RTYPE
#define RTYPE v8u

__attribute__((target("avx2"))) static int
scan_avx2(const scan_ctx *cx, const unsigned char *header, const unsigned char *target,
          uint32_t start, uint64_t count, volatile int *stop, uint32_t *nonce_out,
          uint64_t *hashes_out)
{
    /* the same precomputation as the portable path, scalar, broadcast into lanes */
    const block2_pre pr = block2_precompute(cx);
    const uint32_t *p = pr.p;
    const uint32_t pre_a = pr.pre_a, pre_e = pr.pre_e, w16 = pr.w16, w17 = pr.w17;
    const uint32_t w18_base = pr.w18_base, w19_base = pr.w19_base;
    const uint32_t top = cx->top;
    const uint32_t *mid = cx->mid;
    const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7};
    const v8u zero = {0, 0, 0, 0, 0, 0, 0, 0};

    uint64_t done = 0;
    while (done < count) {
        uint64_t batch = count - done;
        if (batch > COIN_STOP_POLL)
            batch = COIN_STOP_POLL;
        if (stop && *stop)
            break;
        for (uint64_t k = 0; k < batch; k += 8) {
            const uint32_t n0 = start + (uint32_t)(done + k);
            const v8u nonce = zero + n0 + lane;
            /* byte swap each lane: W3 is the nonce read big-endian */
            const v8u w3 = (nonce >> 24) | ((nonce >> 8) & 0xff00u) | ((nonce << 8) & 0xff0000u) |
                           (nonce << 24);
            v8u w[64];
            v8u a, b, c, d, e, f, g, h;
            v8u s0, s1, s2, s3, s4, s5, s6, s7;

            w[4] = zero + 0x80000000u;
            w[5] = zero; w[6] = zero; w[7] = zero; w[8] = zero; w[9] = zero; w[10] = zero;
            w[11] = zero; w[12] = zero; w[13] = zero; w[14] = zero;
            w[15] = zero + 640u;
            w[16] = zero + w16;
            w[17] = zero + w17;
            w[18] = w18_base + SSIG0(w3);
            w[19] = w19_base + w3;
            WX(20); WX(21); WX(22); WX(23);
            WX8(24); WX8(32); WX8(40); WX8(48); WX8(56);
            e = pre_a + w3; f = zero + p[0]; g = zero + p[1]; h = zero + p[2];
            a = pre_e + w3; b = zero + p[4]; c = zero + p[5]; d = zero + p[6];
            R4(4); R5(5); R6(6); R7(7);
            R8(8); R8(16); R8(24); R8(32); R8(40); R8(48); R8(56);
            s0 = mid[0] + a; s1 = mid[1] + b; s2 = mid[2] + c; s3 = mid[3] + d;
            s4 = mid[4] + e; s5 = mid[5] + f; s6 = mid[6] + g; s7 = mid[7] + h;

            w[0] = s0; w[1] = s1; w[2] = s2; w[3] = s3;
            w[4] = s4; w[5] = s5; w[6] = s6; w[7] = s7;
            w[8] = zero + 0x80000000u;
            w[9] = zero; w[10] = zero; w[11] = zero; w[12] = zero; w[13] = zero; w[14] = zero;
            w[15] = zero + 256u;
            WX8(16); WX8(24); WX8(32); WX8(40); WX8(48);
            WX(56); WX(57); WX(58); WX(59); WX(60);
            a = zero + IV[0]; b = zero + IV[1]; c = zero + IV[2]; d = zero + IV[3];
            e = zero + IV[4]; f = zero + IV[5]; g = zero + IV[6]; h = zero + IV[7];
            R8(0); R8(8); R8(16); R8(24); R8(32); R8(40); R8(48);
            R0(56); R1(57); R2(58); R3(59); R4(60);
            h += IV[7];
            const uint64_t lanes = batch - k < 8 ? batch - k : 8;
            for (uint64_t i = 0; i < lanes; i++) {
                if (bswap32(h[i]) <= top && verify(header, target, n0 + (uint32_t)i)) {
                    *nonce_out = n0 + (uint32_t)i;
                    *hashes_out = done + k + i + 1;
                    return 1;
                }
            }
        }
        done += batch;
    }
    *hashes_out = done;
    return 0;
}

static int cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

#else

static int cpu_has_avx2(void)
{
    return 0;
}

#endif

/* ---- entry points ------------------------------------------------------------------- */

int coin_has_sha_ni(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = cpu_has_sha_ni();
    return cached;
}

int coin_has_avx2(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = cpu_has_avx2();
    return cached;
}

/*
 * Returns 1 and sets *nonce_out when a nonce in [start, start+count) meets the target,
 * 0 when none does (or *stop was raised), -1 when `impl` asks for a path this CPU
 * lacks (SHA-NI, AVX2) or count reaches past 2**32. `impl`: 0 auto (SHA-NI, else AVX2,
 * else portable), 1 portable C, 2 SHA-NI, 3 AVX2. *hashes_out is the number of nonces tried.
 */
int coin_scan(const unsigned char *header, const unsigned char *target, uint32_t start_nonce,
              uint64_t count, volatile int *stop, int impl, uint32_t *nonce_out,
              uint64_t *hashes_out)
{
    scan_ctx cx;
    *hashes_out = 0;
    if (count > (uint64_t)0x100000000ull - start_nonce)
        return -1;
    if (impl == COIN_IMPL_AUTO)
        impl = coin_has_sha_ni() ? COIN_IMPL_SHANI
               : coin_has_avx2() ? COIN_IMPL_AVX2
                                 : COIN_IMPL_PORTABLE;
    if ((impl == COIN_IMPL_SHANI && !coin_has_sha_ni()) ||
        (impl == COIN_IMPL_AVX2 && !coin_has_avx2()))
        return -1;
    if (count == 0)
        return 0;
    ctx_init(&cx, header, target);
#ifdef COIN_X86
    if (impl == COIN_IMPL_SHANI)
        return scan_shani(&cx, header, target, start_nonce, count, stop, nonce_out, hashes_out);
#endif
#ifdef COIN_HAVE_AVX2
    if (impl == COIN_IMPL_AVX2)
        return scan_avx2(&cx, header, target, start_nonce, count, stop, nonce_out, hashes_out);
#endif
    return scan_portable(&cx, header, target, start_nonce, count, stop, nonce_out, hashes_out);
}
