/*
 * dense_sparse_avx512.c - the dense layer's forward and weight-gradient products that
 * leave out zero inputs, with AVX-512 (see "skipping zero inputs" in internal.h; entered
 * only when the processor has AVX-512, like dense_avx512.c).
 *
 *   build            one pass over a batch's inputs, a block of 32 rows at a time: each
 *                    row's nonzero columns as bits; the rows paired by their zeros (the
 *                    sparsest row left with the row that adds the fewest columns, union
 *                    counts for 32 rows at once); from the bits, per pair the columns
 *                    where either row is nonzero (compress) and per column the rows that
 *                    are (a bit per row)
 *   forward          z (B,O) = inp (B,I) @ weight (I,O) + bias, a pair of rows by a panel
 *                    of up to 128 columns at a time (16 accumulators): for each k of the
 *                    pair's list, one row of the panel (8 vectors, copied to a contiguous
 *                    buffer first: weight rows a multiple of 1 KB apart share cache sets)
 *                    times each row's inp[b,k]
 *   backward_weight  dweight (I,O) += per shard inp^T @ dout, a pair of columns (k, k+1)
 *                    by a panel of up to 128 columns: for each row set in either column's
 *                    mask, one row of dout's panel (dout copied once to contiguous panels
 *                    per block) times inp[b,k] and inp[b,k+1], in blocks of DW_BLOCK rows
 *                    of dweight, so that a block's sums stay in L1 over the shards
 * Measured on Fashion-MNIST (half its pixels zero): pairing rows by their zeros leaves
 * 0.60 of the forward's terms rather than 0.66 for neighbouring rows, the weight gradient
 * keeps 0.55; see docs/PERFORMANCE.md for the times. Tiles for 2, 4, 6 and 8 vectors are
 * compiled, so a panel cut narrow among threads does no idle work, and backward_weight's
 * tiles of whole vectors store without masks (their sums stay in registers: 8% faster).
 * Every element's chain of fused multiply-adds is the dense kernels' (internal.h), less
 * the terms whose input is zero.
 */
#include "internal.h"

#if defined(DS_HAVE_X86_KERNELS)

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

enum { PW = DS_SPARSE_PANEL, NV = PW / 16, SR = DS_SPARSE_BLOCK, DW_BLOCK = 16 };
_Static_assert(DS_SPARSE_BLOCK == 32, "a block's rows are the bits of one mask word");
_Static_assert(DS_SHARD_ROWS == 2 * DS_SPARSE_BLOCK, "a shard's rows are one 64-bit word");

INLINE __mmask16 lanes(int n) { return (__mmask16)(n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1u); }

/* ---------------------------------------------------------------------------------- */
/* the description of a batch */

/* The block's rows' nonzero columns as bits, word w of row r at bits[w * SR + r] (W
 * words of 64 columns), so that one vector holds a word of 8 rows. */

/* u[r] = the number of columns nonzero in row a or row r, for the block's 32 rows (bytes
 * counted by nibbles through a table, then summed: AVX-512BW, no VPOPCNTDQ needed) */
T512 static void union_counts(const uint64_t *bits, size_t W, int a, int *u)
{
    const __m512i lut = _mm512_set4_epi32(0x04030302, 0x03020201, 0x03020201, 0x02010100);
    const __m512i low = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
    __m512i sum[SR / 8];
    for (int q = 0; q < SR / 8; q++) sum[q] = zero;
    for (size_t w0 = 0; w0 < W; w0 += 16) { /* bytes count at most 8 x 16 < 256 */
        const size_t w1 = W - w0 < 16 ? W : w0 + 16;
        __m512i acc[SR / 8];
        for (int q = 0; q < SR / 8; q++) acc[q] = zero;
        for (size_t w = w0; w < w1; w++) {
            const __m512i aw = _mm512_set1_epi64((long long)bits[w * SR + (size_t)a]);
            for (int q = 0; q < SR / 8; q++) {
                const __m512i v = _mm512_or_si512(_mm512_loadu_si512(bits + w * SR + 8 * q), aw);
                const __m512i lo = _mm512_and_si512(v, low);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
                acc[q] = _mm512_add_epi8(acc[q], _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo),
                                                                 _mm512_shuffle_epi8(lut, hi)));
            }
        }
        for (int q = 0; q < SR / 8; q++)
            sum[q] = _mm512_add_epi64(sum[q], _mm512_sad_epu8(acc[q], zero));
    }
    for (int q = 0; q < SR / 8; q++)
        _mm256_storeu_si256((__m256i *)(void *)(u + 8 * q), _mm512_cvtepi64_epi32(sum[q]));
}

/* the same with VPOPCNTDQ (Ice Lake, Zen 4 and later) */
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,fma"))) static void
union_counts_popcnt(const uint64_t *bits, size_t W, int a, int *u)
{
    __m512i sum[SR / 8];
    for (int q = 0; q < SR / 8; q++) sum[q] = _mm512_setzero_si512();
    for (size_t w = 0; w < W; w++) {
        const __m512i aw = _mm512_set1_epi64((long long)bits[w * SR + (size_t)a]);
        for (int q = 0; q < SR / 8; q++)
            sum[q] = _mm512_add_epi64(sum[q], _mm512_popcnt_epi64(_mm512_or_si512(
                                                  _mm512_loadu_si512(bits + w * SR + 8 * q), aw)));
    }
    for (int q = 0; q < SR / 8; q++)
        _mm256_storeu_si256((__m256i *)(void *)(u + 8 * q), _mm512_cvtepi64_epi32(sum[q]));
}

/* the first r in `left` (a bit per row) with the least v[r] */
INLINE T512 int first_least(const int *v, uint32_t left)
{
    const __m512i big = _mm512_set1_epi32(0x7FFFFFFF);
    const __mmask16 l0 = (__mmask16)(left & 0xFFFFu), l1 = (__mmask16)(left >> 16);
    const __m512i a = _mm512_mask_loadu_epi32(big, l0, v);
    const __m512i b = _mm512_mask_loadu_epi32(big, l1, v + 16);
    const __m512i least = _mm512_set1_epi32(_mm512_reduce_min_epi32(_mm512_min_epi32(a, b)));
    const uint32_t eq = (uint32_t)_mm512_mask_cmpeq_epi32_mask(l0, a, least) |
                        (uint32_t)_mm512_mask_cmpeq_epi32_mask(l1, b, least) << 16;
    return __builtin_ctz(eq);
}

/* pairs for the n rows of the block starting at row s0: repeatedly the sparsest row left
 * (the first of equals) with the row that adds the fewest columns to it (the first of
 * equals); a last row alone when n is odd. Pair slots the block does not fill get -1.
 * Which rows pair changes only the time, never a result. */
T512 static void pair_rows(ds_sparsity *sp, int s0, int n, const uint64_t *bits,
                           const int *count)
{
    uint32_t left = n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1u;
    int *pr = sp->rows + (size_t)s0; /* the block's pair slots: rows[s0 .. s0 + SR) */
    int p = 0, u[SR];
    void (*counts)(const uint64_t *, size_t, int, int *) =
        __builtin_cpu_supports("avx512vpopcntdq") ? union_counts_popcnt : union_counts;
    while (left) {
        const int a = first_least(count, left);
        left &= ~(1u << a);
        int b = -1;
        if (left) {
            counts(bits, sp->words, a, u);
            b = first_least(u, left);
            left &= ~(1u << b);
        }
        /* the lower row first: a pair's rows are read in memory order */
        pr[2 * p] = s0 + (b >= 0 && b < a ? b : a);
        pr[2 * p + 1] = b < 0 ? -1 : s0 + (b < a ? a : b);
        p++;
    }
    for (; p < SR / 2; p++) pr[2 * p] = pr[2 * p + 1] = -1;
}

T512 static void build(ds_sparsity *sp, const float *inp, int r0, int r1, long *fwd_terms,
                       long *bwd_terms)
{
    const int I = sp->I;
    const size_t W = sp->words;
    const __m512 zero = _mm512_setzero_ps();
    const __m512i step = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    long ft = 0, bt = 0;
    for (int s0 = r0; s0 < r1; s0 += SR) {
        const int rows = r1 - s0 < SR ? r1 - s0 : SR;
        uint64_t *bits = sp->bits + (size_t)(s0 / SR) * W * SR;
        /* each row's nonzero columns, 16 at a time (a chunk never straddles two words);
         * rows the block lacks are zero */
        int count[SR];
        const size_t whole = (size_t)I / 64; /* words of 64 columns, the rest masked */
        for (int r = 0; r < SR; r++) {
            const float *x = inp + (size_t)(s0 + r) * I;
            int c = 0;
            size_t w = 0;
            for (; r < rows && w < whole; w++) { /* four compares joined into one mask */
                const float *xw = x + 64 * w;
                const __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(xw), zero, _CMP_NEQ_UQ);
                const __mmask16 m1 =
                    _mm512_cmp_ps_mask(_mm512_loadu_ps(xw + 16), zero, _CMP_NEQ_UQ);
                const __mmask16 m2 =
                    _mm512_cmp_ps_mask(_mm512_loadu_ps(xw + 32), zero, _CMP_NEQ_UQ);
                const __mmask16 m3 =
                    _mm512_cmp_ps_mask(_mm512_loadu_ps(xw + 48), zero, _CMP_NEQ_UQ);
                const uint64_t v = _cvtmask64_u64(
                    _mm512_kunpackd(_mm512_kunpackw(m3, m2), _mm512_kunpackw(m1, m0)));
                bits[w * SR + (size_t)r] = v;
                c += __builtin_popcountll(v);
            }
            for (; w < W; w++) {
                uint64_t v = 0;
                for (int k = 64 * (int)w; r < rows && k < I && k < 64 * (int)w + 64; k += 16) {
                    const __mmask16 m = lanes(I - k);
                    const __mmask16 nz = _mm512_mask_cmp_ps_mask(
                        m, _mm512_maskz_loadu_ps(m, x + k), zero, _CMP_NEQ_UQ);
                    v |= (uint64_t)nz << (k % 64);
                }
                bits[w * SR + (size_t)r] = v;
                c += __builtin_popcountll(v);
            }
            count[r] = c;
        }
        pair_rows(sp, s0, rows, bits, count);
        /* lists: each pair's columns, compressed in a register and stored as a whole
         * vector (on some processors, Zen 4, a compressing store to memory is slow) */
        for (int p = s0 / 2; p < s0 / 2 + SR / 2; p++) {
            const int a = sp->rows[2 * p], b = sp->rows[2 * p + 1];
            int n = 0;
            if (a >= 0) {
                const int ra = a - s0, rb = b >= 0 ? b - s0 : ra;
                int *out = sp->idx + (size_t)p * sp->stride;
                for (int k = 0; k < I; k += 16) {
                    const uint64_t v = bits[(size_t)(k / 64) * SR + (size_t)ra] |
                                       bits[(size_t)(k / 64) * SR + (size_t)rb];
                    const __mmask16 nz = (__mmask16)(v >> (k % 64) & 0xFFFFu);
                    _mm512_storeu_si512((void *)(out + n),
                                        _mm512_maskz_compress_epi32(
                                            nz, _mm512_add_epi32(step, _mm512_set1_epi32(k))));
                    n += __builtin_popcount(nz);
                }
            }
            sp->len[p] = n;
            ft += 2L * n;
        }
        /* masks: 16 columns at a time, a bit per row */
        uint32_t *mk = sp->mask + (size_t)(s0 / SR) * I;
        for (int k = 0; k < I; k += 16) {
            const __mmask16 m = lanes(I - k);
            const uint64_t *bw = bits + (size_t)(k / 64) * SR;
            const int sh = k % 64;
            /* four chains of ors (missing rows' bits are zero) */
            __m512i acc[4];
            for (int q = 0; q < 4; q++) acc[q] = _mm512_setzero_si512();
            for (int r = 0; r < SR; r += 4)
                for (int q = 0; q < 4; q++)
                    acc[q] = _mm512_mask_or_epi32(acc[q], (__mmask16)(bw[r + q] >> sh & 0xFFFFu),
                                                  acc[q], _mm512_set1_epi32((int)(1u << (r + q))));
            _mm512_mask_storeu_epi32(
                mk + k, m,
                _mm512_or_si512(_mm512_or_si512(acc[0], acc[1]), _mm512_or_si512(acc[2], acc[3])));
        }
        bt += ds_sparse_bwd_terms(mk, I);
    }
    *fwd_terms = ft;
    *bwd_terms = bt;
}

/* ---------------------------------------------------------------------------------- */
/* forward */

/* a[v] += x0 * row[v], c[v] += x1 * row[v] for the 8 vectors of a panel row; the barrier
 * keeps the row in a register, where gcc would otherwise load it once per FMA */
#define ROW_FMA(row, v)                                                                  \
    do {                                                                                 \
        __m512 w_ = _mm512_load_ps((row) + 16 * (v));                                    \
        __asm__("" : "+v"(w_));                                                          \
        a[v] = _mm512_fmadd_ps(x0, w_, a[v]);                                            \
        c[v] = _mm512_fmadd_ps(x1, w_, c[v]);                                            \
    } while (0)
/* ROW_FMA for vectors 0..nv-1 (nv a constant once inlined) */
#define ROW_FMA_N(row, nv)                                                               \
    do {                                                                                 \
        ROW_FMA(row, 0); ROW_FMA(row, 1);                                                \
        if ((nv) > 2) { ROW_FMA(row, 2); ROW_FMA(row, 3); }                               \
        if ((nv) > 4) { ROW_FMA(row, 4); ROW_FMA(row, 5); }                               \
        if ((nv) > 6) { ROW_FMA(row, 6); ROW_FMA(row, 7); }                               \
    } while (0)

/* vectors a tile of nr columns needs, even: the kernels are compiled for 2, 4, 6 and 8 */
INLINE int even_vectors(int nr) { return (nr + 31) / 32 * 2; }

/* first list entry >= k */
INLINE int lower_bound(const int *v, int n, int k)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v[mid] < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* rows b (and b + 1 when two) for the panel's columns o..o+nr-1 and the weight rows
 * k0..k1-1 copied to panel (row k at panel + (k - k0) * PW) */
INLINE T512 void fwd_pair_t(const int nv, const ds_dense_fwd_args *g, const ds_sparsity *sp,
                            int p, int ra, int rb, int o, int nr, int k0, int k1,
                            const float *panel)
{
    const int I = g->I, O = g->O, two = rb >= 0;
    const float *r0 = g->inp + (size_t)ra * I, *r1 = two ? g->inp + (size_t)rb * I : r0;
    float *z0 = g->z + (size_t)ra * O + o, *z1 = g->z + (size_t)(two ? rb : ra) * O + o;
    __m512 a[NV], c[NV];
    if (k0 == 0) {
        for (int v = 0; v < nv; v++) {
            __mmask16 m = lanes(nr - 16 * v);
            a[v] = c[v] = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + o + 16 * v)
                                  : _mm512_setzero_ps();
        }
    } else {
        for (int v = 0; v < nv; v++) {
            __mmask16 m = lanes(nr - 16 * v);
            a[v] = _mm512_maskz_loadu_ps(m, z0 + 16 * v);
            c[v] = two ? _mm512_maskz_loadu_ps(m, z1 + 16 * v) : a[v];
        }
    }
    const int *ix = sp->idx + (size_t)p * sp->stride;
    int n = sp->len[p], j = 0;
    if (k0 > 0 || k1 < I) { /* this block's part of the list */
        j = lower_bound(ix, n, k0);
        n = lower_bound(ix, n, k1);
    }
    for (; j < n; j++) {
        const int k = ix[j];
        const __m512 x0 = _mm512_set1_ps(r0[k]), x1 = _mm512_set1_ps(r1[k]);
        const float *row = panel + (size_t)(k - k0) * PW;
        ROW_FMA_N(row, nv);
    }
    const int relu = k1 == I && g->a;
    float *a0 = relu ? g->a + (size_t)ra * O + o : NULL;
    float *a1 = relu ? g->a + (size_t)(two ? rb : ra) * O + o : NULL;
    const __m512 zero = _mm512_setzero_ps();
    for (int v = 0; v < nv; v++) {
        __mmask16 m = lanes(nr - 16 * v);
        if (!m) break;
        _mm512_mask_storeu_ps(z0 + 16 * v, m, a[v]);
        /* max(z, +0) returns +0 for z = -0 and NaN, as relu in act.c does */
        if (relu) _mm512_mask_storeu_ps(a0 + 16 * v, m, _mm512_max_ps(a[v], zero));
        if (two) {
            _mm512_mask_storeu_ps(z1 + 16 * v, m, c[v]);
            if (relu) _mm512_mask_storeu_ps(a1 + 16 * v, m, _mm512_max_ps(c[v], zero));
        }
    }
}

#define FWD_PAIR(nv)                                                                     \
    NOINLINE T512 void fwd_pair##nv(const ds_dense_fwd_args *g, const ds_sparsity *sp, int p, \
                                    int ra, int rb, int o, int nr, int k0, int k1,       \
                                    const float *panel)                                  \
    {                                                                                    \
        fwd_pair_t(nv, g, sp, p, ra, rb, o, nr, k0, k1, panel);                          \
    }
FWD_PAIR(2)
FWD_PAIR(4)
FWD_PAIR(6)
FWD_PAIR(8)

typedef void (*fwd_pair_fn)(const ds_dense_fwd_args *, const ds_sparsity *, int, int, int, int,
                            int, int, int, const float *);
static fwd_pair_fn const fwd_pairs[5] = {NULL, fwd_pair2, fwd_pair4, fwd_pair6, fwd_pair8};

/* the pairs of the blocks rows b0..b1-1 touch, each for its rows among them (a pair cut
 * by the range is computed for its row inside only) */
T512 static void fwd_rows(const ds_dense_fwd_args *g, const ds_sparsity *sp, int b0, int b1,
                          int o, int nr, int k0, int k1, const float *panel)
{
    const fwd_pair_fn pair = fwd_pairs[even_vectors(nr) / 2];
    for (int p = b0 / SR * (SR / 2); p < (b1 + SR - 1) / SR * (SR / 2); p++) {
        int ra, rb, second;
        if (ds_sparse_pair_in(sp, p, b0, b1, &ra, &rb, &second))
            pair(g, sp, p, ra, rb, o, nr, k0, k1, panel);
    }
}

T512 static void fwd(const ds_dense_fwd_args *g, const ds_sparsity *sp, int b0, int b1,
                     int o0, int o1, float *panel)
{
    const int I = g->I, O = g->O;
    const int nk = I > 0 ? (I + DS_SPARSE_KMAX - 1) / DS_SPARSE_KMAX : 1;
    panel = (float *)(((uintptr_t)panel + 63) & ~(uintptr_t)63); /* 64-byte aligned */
    /* the weights already packed by the last update (panels from column o0 on) */
    const int packed = sp->wpack_ok && sp->O == O && o0 % PW == 0;
    for (int o = o0; o < o1; o += PW) {
        const int nr = o1 - o < PW ? o1 - o : PW;
        const int nv = even_vectors(nr);
        if (packed) {
            fwd_rows(g, sp, b0, b1, o, nr, 0, I, sp->wpack + (size_t)(o / PW) * I * PW);
            continue;
        }
        int k0 = 0;
        for (int kb = 0; kb < nk; kb++) {
            /* the panel's rows k0..k1-1, columns beyond nr zero */
            const int k1 = (int)((long)I * (kb + 1) / nk);
            for (int k = k0; k < k1; k++) {
                const float *src = g->weight + (size_t)k * O + o;
                float *dst = panel + (size_t)(k - k0) * PW;
                for (int v = 0; v < nv; v++) {
                    __mmask16 m = lanes(nr - 16 * v);
                    _mm512_store_ps(dst + 16 * v, _mm512_maskz_loadu_ps(m, src + 16 * v));
                }
            }
            fwd_rows(g, sp, b0, b1, o, nr, k0, k1, panel);
            k0 = k1;
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* backward_weight */

/* the sums of one shard for columns i (and i + 1 when two) of inp, the panel's columns
 * o..o+nr-1: rows r of the shard set in bits, dout's rows at dp + r * PW; added to (or,
 * with store, stored in) dweight */
INLINE T512 void bwd_w_pair_t(const int nv, const int full, const ds_dense_bwd_w_args *g,
                              int s0, int i, int two, int o, int nr, uint64_t bits,
                              const float *dp, int store)
{
    const int I = g->I, O = g->O;
    __m512 a[NV], c[NV];
    for (int v = 0; v < nv; v++) a[v] = c[v] = _mm512_setzero_ps();
    const float *x = g->inp + (size_t)s0 * I + i;
    const int dx = two ? 1 : 0;
    while (bits) {
        const int r = __builtin_ctzll(bits);
        bits &= bits - 1;
        const float *xr = x + (size_t)r * I;
        const __m512 x0 = _mm512_set1_ps(xr[0]), x1 = _mm512_set1_ps(xr[dx]);
        const float *row = dp + (size_t)r * PW;
        ROW_FMA_N(row, nv);
    }
    float *w0 = g->dweight + (size_t)i * O + o, *w1 = w0 + O;
    if (full) { /* whole vectors: no masks, the sums stay in registers */
        if (store) {
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) _mm512_storeu_ps(w0 + 16 * v, a[v]);
            if (two) {
#pragma GCC unroll 8
                for (int v = 0; v < nv; v++) _mm512_storeu_ps(w1 + 16 * v, c[v]);
            }
        } else {
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                _mm512_storeu_ps(w0 + 16 * v, _mm512_add_ps(_mm512_loadu_ps(w0 + 16 * v), a[v]));
            if (two) {
#pragma GCC unroll 8
                for (int v = 0; v < nv; v++)
                    _mm512_storeu_ps(w1 + 16 * v,
                                     _mm512_add_ps(_mm512_loadu_ps(w1 + 16 * v), c[v]));
            }
        }
        return;
    }
    for (int v = 0; v < nv; v++) {
        __mmask16 m = lanes(nr - 16 * v);
        if (!m) break;
        if (store) {
            _mm512_mask_storeu_ps(w0 + 16 * v, m, a[v]);
            if (two) _mm512_mask_storeu_ps(w1 + 16 * v, m, c[v]);
        } else {
            _mm512_mask_storeu_ps(w0 + 16 * v, m,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m, w0 + 16 * v), a[v]));
            if (two)
                _mm512_mask_storeu_ps(
                    w1 + 16 * v, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, w1 + 16 * v), c[v]));
        }
    }
}

#define BWD_W_PAIR(nv)                                                                   \
    NOINLINE T512 void bwd_w_pair##nv(const ds_dense_bwd_w_args *g, int s0, int i, int two,  \
                                      int o, int nr, uint64_t bits, const float *dp,     \
                                      int store)                                         \
    {                                                                                    \
        bwd_w_pair_t(nv, 0, g, s0, i, two, o, nr, bits, dp, store);                      \
    }                                                                                    \
    NOINLINE T512 void bwd_w_full##nv(const ds_dense_bwd_w_args *g, int s0, int i, int two,  \
                                      int o, int nr, uint64_t bits, const float *dp,     \
                                      int store)                                         \
    {                                                                                    \
        bwd_w_pair_t(nv, 1, g, s0, i, two, o, nr, bits, dp, store);                      \
    }
BWD_W_PAIR(2)
BWD_W_PAIR(4)
BWD_W_PAIR(6)
BWD_W_PAIR(8)

typedef void (*bwd_w_pair_fn)(const ds_dense_bwd_w_args *, int, int, int, int, int, uint64_t,
                              const float *, int);
static bwd_w_pair_fn const bwd_w_pairs[5] = {NULL, bwd_w_pair2, bwd_w_pair4, bwd_w_pair6,
                                             bwd_w_pair8};
static bwd_w_pair_fn const bwd_w_fulls[5] = {NULL, bwd_w_full2, bwd_w_full4, bwd_w_full6,
                                             bwd_w_full8};

T512 static void bwd_w(const ds_dense_bwd_w_args *g, const ds_sparsity *sp, int i0, int i1,
                       int o0, int o1, float *scratch)
{
    const int B = g->B, O = g->O;
    if (i0 >= i1 || o0 >= o1) return;
    const int blocks = (B + SR - 1) / SR, panels = (o1 - o0 + PW - 1) / PW;
    const int shards = (B + DS_SHARD_ROWS - 1) / DS_SHARD_ROWS;
    /* dout's columns o0..o1-1, panel q and block s at scratch + (q * blocks + s) * SR * PW,
     * a row r at + r * PW (so a shard's two blocks follow each other); missing rows and
     * columns are never read */
    float *dpack = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (int b = 0; b < B; b++) {
        const float *src = g->dout + (size_t)b * O;
        for (int q = 0; q < panels; q++) {
            const int o = o0 + q * PW, nr = o1 - o < PW ? o1 - o : PW;
            float *dst = dpack + ((size_t)q * blocks + b / SR) * SR * PW + (size_t)(b % SR) * PW;
            for (int v = 0; v < even_vectors(nr); v++) {
                __mmask16 m = lanes(nr - 16 * v);
                _mm512_store_ps(dst + 16 * v, _mm512_maskz_loadu_ps(m, src + o + 16 * v));
            }
        }
    }
    for (int ib = i0; ib < i1; ib += DW_BLOCK) {
        const int ie = i1 - ib < DW_BLOCK ? i1 : ib + DW_BLOCK;
        for (int q = 0; q < panels; q++) {
            const int o = o0 + q * PW, nr = o1 - o < PW ? o1 - o : PW;
            const bwd_w_pair_fn pair =
                (nr % 32 == 0 ? bwd_w_fulls : bwd_w_pairs)[even_vectors(nr) / 2];
            for (int s = 0; s < shards; s++) {
                /* the shard's rows: blocks 2s and 2s + 1 (when the batch has it) */
                const float *dp = dpack + ((size_t)q * blocks + 2 * s) * SR * PW;
                const int store = g->set && s == 0;
                for (int i = ib; i < ie; i += 2) {
                    const int two = i + 1 < ie;
                    pair(g, s * DS_SHARD_ROWS, i, two, o, nr,
                         ds_sparse_shard_rows(sp, s, blocks, i, two), dp, store);
                }
            }
        }
    }
}

/* rows [k0, k1) of weight into panels of PW columns, rows PW floats apart */
static void pack_rows(float *wpack, const float *weight, int I, int O, int k0, int k1)
{
    for (int k = k0; k < k1; k++)
        for (int o = 0; o < O; o += PW) {
            const int nr = O - o < PW ? O - o : PW;
            float *dst = wpack + ((size_t)(o / PW) * I + (size_t)k) * PW;
            memcpy(dst, weight + (size_t)k * O + o, sizeof(float) * (size_t)nr);
            if (nr < PW) memset(dst + nr, 0, sizeof(float) * (size_t)(PW - nr));
        }
}

/* (packing on one thread measured no gain: 0.95-1.05 of the time either way) */
const ds_sparse_kernels ds_sparse_kernels_avx512 = {build, fwd, bwd_w, pack_rows, 0};

#else
typedef int ds_dense_sparse_avx512_empty; /* ISO C wants something in a translation unit */
#endif
