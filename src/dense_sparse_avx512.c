/*
 * dense_sparse_avx512.c - the dense layer's forward and weight-gradient products that
 * leave out zero inputs, with AVX-512 (see "skipping zero inputs" in internal.h; entered
 * only when the processor has AVX-512, like dense_avx512.c).
 *
 *   build            one pass over a batch's inputs: per pair of rows the columns where
 *                    either is nonzero (compare, compress), per shard and column the rows
 *                    that are (a bit per row)
 *   forward          z (B,O) = inp (B,I) @ weight (I,O) + bias, a pair of rows by a panel
 *                    of up to 128 columns at a time (16 accumulators): for each k of the
 *                    pair's list, one row of the panel (8 vectors, copied to a contiguous
 *                    buffer first: weight rows a multiple of 1 KB apart share cache sets)
 *                    times each row's inp[b,k]
 *   backward_weight  dweight (I,O) += per shard inp^T @ dout, a pair of columns (k, k+1)
 *                    by a panel of up to 128 columns: for each row set in either column's
 *                    mask, one row of dout's panel (dout copied once to contiguous panels
 *                    per shard) times inp[b,k] and inp[b,k+1], in blocks of DW_BLOCK rows
 *                    of dweight, so that a block's sums stay in L1 over the shards
 * Measured inside training on Fashion-MNIST (half its pixels zero; 63% of the forward's
 * and 55% of the weight gradient's terms left): the first layer's forward in 0.81 and its
 * weight gradient in 0.78 of the full kernels' time (docs/PERFORMANCE.md). Tiles for 2,
 * 4, 6 and 8 vectors are compiled, so a panel cut narrow among threads does no idle work.
 * Every element's chain of fused multiply-adds is the dense kernels' (internal.h), less
 * the terms whose input is zero.
 */
#include "internal.h"

#if defined(DS_HAVE_X86_KERNELS)

#include <immintrin.h>
#include <stdint.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

enum { PW = DS_SPARSE_PANEL, NV = PW / 16, SR = DS_SHARD_ROWS, DW_BLOCK = 16 };
_Static_assert(DS_SHARD_ROWS == 32, "a shard's rows are the bits of one mask word");

INLINE __mmask16 lanes(int n) { return (__mmask16)(n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1u); }

/* ---------------------------------------------------------------------------------- */
/* the description of a batch */

T512 static void build(ds_sparsity *sp, const float *inp, int r0, int r1, long *fwd_terms,
                       long *bwd_terms)
{
    const int I = sp->I;
    const __m512 zero = _mm512_setzero_ps();
    const __m512i step = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    long ft = 0, bt = 0;
    /* lists: pair p covers rows 2p and 2p + 1 (a missing last row counts as zeros) */
    for (int b = r0; b < r1; b += 2) {
        const float *x0 = inp + (size_t)b * I, *x1 = b + 1 < r1 ? x0 + I : NULL;
        int *out = sp->idx + (size_t)(b / 2) * sp->stride, n = 0;
        for (int k = 0; k < I; k += 16) {
            const __mmask16 m = lanes(I - k);
            __mmask16 nz = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x0 + k), zero,
                                                   _CMP_NEQ_UQ);
            if (x1)
                nz |= _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x1 + k), zero,
                                              _CMP_NEQ_UQ);
            /* compress in a register, then store the whole vector: on some processors
             * (Zen 4) a compressing store to memory is slow */
            _mm512_storeu_si512((void *)(out + n),
                                _mm512_maskz_compress_epi32(
                                    nz, _mm512_add_epi32(step, _mm512_set1_epi32(k))));
            n += __builtin_popcount(nz);
        }
        sp->len[b / 2] = n;
        ft += 2L * n;
    }
    /* masks: shard by shard, 16 columns at a time, one bit per row */
    for (int s0 = r0; s0 < r1; s0 += SR) {
        const int rows = r1 - s0 < SR ? r1 - s0 : SR;
        uint32_t *mk = sp->mask + (size_t)(s0 / SR) * I;
        for (int k = 0; k < I; k += 16) {
            const __mmask16 m = lanes(I - k);
            __m512i acc = _mm512_setzero_si512();
            for (int r = 0; r < rows; r++) {
                __mmask16 nz = _mm512_mask_cmp_ps_mask(
                    m, _mm512_maskz_loadu_ps(m, inp + (size_t)(s0 + r) * I + k), zero,
                    _CMP_NEQ_UQ);
                acc = _mm512_mask_or_epi32(acc, nz, acc, _mm512_set1_epi32((int)(1u << r)));
            }
            _mm512_mask_storeu_epi32(mk + k, m, acc);
        }
        for (int k = 0; k < I; k += 2) {
            uint32_t u = mk[k] | (k + 1 < I ? mk[k + 1] : 0u);
            bt += 2L * __builtin_popcount(u);
        }
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
                            int b, int two, int o, int nr, int k0, int k1, const float *panel)
{
    const int I = g->I, O = g->O;
    const float *r0 = g->inp + (size_t)b * I, *r1 = two ? r0 + I : r0;
    float *z0 = g->z + (size_t)b * O + o, *z1 = z0 + O;
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
    const int *ix = sp->idx + (size_t)(b / 2) * sp->stride;
    int n = sp->len[b / 2], j = 0;
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
    float *a0 = relu ? g->a + (size_t)b * O + o : NULL, *a1 = a0 ? a0 + O : NULL;
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
    NOINLINE T512 void fwd_pair##nv(const ds_dense_fwd_args *g, const ds_sparsity *sp, int b, \
                                    int two, int o, int nr, int k0, int k1,              \
                                    const float *panel)                                  \
    {                                                                                    \
        fwd_pair_t(nv, g, sp, b, two, o, nr, k0, k1, panel);                             \
    }
FWD_PAIR(2)
FWD_PAIR(4)
FWD_PAIR(6)
FWD_PAIR(8)

typedef void (*fwd_pair_fn)(const ds_dense_fwd_args *, const ds_sparsity *, int, int, int, int,
                            int, int, const float *);
static fwd_pair_fn const fwd_pairs[5] = {NULL, fwd_pair2, fwd_pair4, fwd_pair6, fwd_pair8};

T512 static void fwd(const ds_dense_fwd_args *g, const ds_sparsity *sp, int b0, int b1,
                     int o0, int o1, float *panel)
{
    const int I = g->I, O = g->O;
    const int nk = I > 0 ? (I + DS_SPARSE_KMAX - 1) / DS_SPARSE_KMAX : 1;
    panel = (float *)(((uintptr_t)panel + 63) & ~(uintptr_t)63); /* 64-byte aligned */
    int k0 = 0;
    for (int kb = 0; kb < nk; kb++) {
        const int k1 = (int)((long)I * (kb + 1) / nk);
        for (int o = o0; o < o1; o += PW) {
            const int nr = o1 - o < PW ? o1 - o : PW;
            /* the panel's rows k0..k1-1, columns beyond nr zero */
            const int nv = even_vectors(nr);
            for (int k = k0; k < k1; k++) {
                const float *src = g->weight + (size_t)k * O + o;
                float *dst = panel + (size_t)(k - k0) * PW;
                for (int v = 0; v < nv; v++) {
                    __mmask16 m = lanes(nr - 16 * v);
                    _mm512_store_ps(dst + 16 * v, _mm512_maskz_loadu_ps(m, src + 16 * v));
                }
            }
            const fwd_pair_fn pair = fwd_pairs[nv / 2];
            for (int b = b0; b < b1; b += 2) pair(g, sp, b, b + 1 < b1, o, nr, k0, k1, panel);
        }
        k0 = k1;
    }
}

/* ---------------------------------------------------------------------------------- */
/* backward_weight */

/* the sums of one shard for columns i (and i + 1 when two) of inp, the panel's columns
 * o..o+nr-1: rows r of the shard set in bits, dout's rows at dp + r * PW; added to (or,
 * with store, stored in) dweight */
INLINE T512 void bwd_w_pair_t(const int nv, const ds_dense_bwd_w_args *g, int s0, int i,
                              int two, int o, int nr, uint32_t bits, const float *dp, int store)
{
    const int I = g->I, O = g->O;
    __m512 a[NV], c[NV];
    for (int v = 0; v < nv; v++) a[v] = c[v] = _mm512_setzero_ps();
    const float *x = g->inp + (size_t)s0 * I + i;
    const int dx = two ? 1 : 0;
    while (bits) {
        const int r = __builtin_ctz(bits);
        bits &= bits - 1;
        const float *xr = x + (size_t)r * I;
        const __m512 x0 = _mm512_set1_ps(xr[0]), x1 = _mm512_set1_ps(xr[dx]);
        const float *row = dp + (size_t)r * PW;
        ROW_FMA_N(row, nv);
    }
    float *w0 = g->dweight + (size_t)i * O + o, *w1 = w0 + O;
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
                                      int o, int nr, uint32_t bits, const float *dp,     \
                                      int store)                                         \
    {                                                                                    \
        bwd_w_pair_t(nv, g, s0, i, two, o, nr, bits, dp, store);                         \
    }
BWD_W_PAIR(2)
BWD_W_PAIR(4)
BWD_W_PAIR(6)
BWD_W_PAIR(8)

typedef void (*bwd_w_pair_fn)(const ds_dense_bwd_w_args *, int, int, int, int, int, uint32_t,
                              const float *, int);
static bwd_w_pair_fn const bwd_w_pairs[5] = {NULL, bwd_w_pair2, bwd_w_pair4, bwd_w_pair6,
                                             bwd_w_pair8};

T512 static void bwd_w(const ds_dense_bwd_w_args *g, const ds_sparsity *sp, int i0, int i1,
                       int o0, int o1, float *scratch)
{
    const int B = g->B, I = g->I, O = g->O;
    if (i0 >= i1 || o0 >= o1) return;
    const int shards = (B + SR - 1) / SR, panels = (o1 - o0 + PW - 1) / PW;
    /* dout's columns o0..o1-1, panel q and shard s at scratch + (q * shards + s) * SR * PW,
     * a row r at + r * PW; missing rows and columns are never read */
    float *dpack = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (int b = 0; b < B; b++) {
        const float *src = g->dout + (size_t)b * O;
        for (int q = 0; q < panels; q++) {
            const int o = o0 + q * PW, nr = o1 - o < PW ? o1 - o : PW;
            float *dst = dpack + ((size_t)q * shards + b / SR) * SR * PW + (size_t)(b % SR) * PW;
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
            const bwd_w_pair_fn pair = bwd_w_pairs[even_vectors(nr) / 2];
            for (int s = 0; s < shards; s++) {
                const uint32_t *mk = sp->mask + (size_t)s * I;
                const float *dp = dpack + ((size_t)q * shards + s) * SR * PW;
                const int store = g->set && s == 0;
                for (int i = ib; i < ie; i += 2) {
                    const int two = i + 1 < ie;
                    pair(g, s * SR, i, two, o, nr, mk[i] | (two ? mk[i + 1] : 0u), dp, store);
                }
            }
        }
    }
}

const ds_sparse_kernels ds_sparse_kernels_avx512 = {build, fwd, bwd_w};

#else
typedef int ds_dense_sparse_avx512_empty; /* ISO C wants something in a translation unit */
#endif
