/*
 * dense_sparse_avx2.c - the dense layer's forward and weight-gradient products that leave
 * out zero inputs, with AVX2 and FMA (see "skipping zero inputs" in internal.h; entered
 * only when the processor has them, like dense_avx2.c). The same description of a batch
 * as dense_sparse_avx512.c, laid out the same way, and the same pairs of rows; the
 * products are cut to the 16 ymm registers:
 *
 *   build            one pass over a batch's inputs, 8 columns at a time: a compare gives
 *                    the row's nonzero columns as bits (movemask) and, or'ed into the
 *                    block's column masks, a bit per row; rows paired by their zeros as in
 *                    the AVX-512 build (union counts with POPCNT); each pair's list from its
 *                    union bits, a byte at a time through a table of bit positions, and
 *                    beside it the two rows' inputs in those columns (the same positions
 *                    permute the 8 inputs), so that forward reads them in order (its
 *                    minimum time over 41 rounds 236-257 us against 256-269 reading the
 *                    rows, 64 x 784 x 256 on Fashion-MNIST, Zen 3)
 *   forward          z (B,O) = inp (B,I) @ weight (I,O) + bias, a pair of rows by a panel
 *                    of at most 48 columns (12 accumulators): for each k of the pair's
 *                    list, one row of the panel (6 vectors) times each row's inp[b,k].
 *                    The panel is copied, KB rows of weight at a time, to a contiguous
 *                    buffer that every pair then reads (weight rows 1 KB apart share
 *                    cache sets), unless the update packed the weights as these panels
 *                    (pack_rows); a pair's list is followed block by block from a cursor,
 *                    its sums kept in z between blocks. Blocks of 256 rows measured best
 *                    (the same product, medians: 243-260 us against 246-266 for 128,
 *                    286-302 for 64, 266-285 for a single block)
 *   backward_weight  dweight (I,O) += per shard inp^T @ dout, a pair of columns (k, k+1)
 *                    by a panel of at most 48 columns: for each row set in either column's
 *                    mask, one row of dout's panel (copied once to contiguous panels) times
 *                    inp[b,k] and inp[b,k+1]; a panel at a time over every column pair, so
 *                    that the panel stays in L1
 * Every element's chain of fused multiply-adds is the dense AVX2 kernels' (internal.h),
 * less the terms whose input is zero: the same bits as dense_avx2.c and dense_avx512.c.
 */
#include "internal.h"

#if defined(DS_HAVE_X86_KERNELS)

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define T256 __attribute__((target("avx2,fma,popcnt")))
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

/* SR rows a block; panels of at most TW columns (NV vectors); forward's weight blocks of
 * at most KB rows (KB x TW floats, 48 KB); backward's column blocks of DW_BLOCK */
enum { SR = DS_SPARSE_BLOCK, PW = DS_SPARSE_PANEL, NV = 6, TW = 8 * NV, KB = 256, DW_BLOCK = 16 };
_Static_assert(DS_SPARSE_BLOCK == 32, "a block's rows are the bits of one mask word");
_Static_assert(DS_SHARD_ROWS == 2 * DS_SPARSE_BLOCK, "a shard's rows are one 64-bit word");

/* byte m's set bits' positions, the j-th in byte j (filled before main) */
static uint64_t bit_positions[256];

__attribute__((constructor)) static void fill_bit_positions(void)
{
    for (int m = 0; m < 256; m++) {
        uint64_t v = 0;
        int j = 0;
        for (int i = 0; i < 8; i++)
            if (m >> i & 1) v |= (uint64_t)i << (8 * j++);
        bit_positions[m] = v;
    }
}

/* lanes 0..n-1 of 8 set */
INLINE T256 __m256i lanes8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Panels: the columns [o0, o1) cut at multiples of PW (the packed weights' panels), each
 * piece into panels of at most TW columns, multiples of 16 but for the last; panel q of n
 * covers [*lo, *hi). The cut never changes a result. */
static int panel_count(int o0, int o1)
{
    int n = 0;
    for (int p = o0; p < o1;) {
        const int e = (p / PW + 1) * PW < o1 ? (p / PW + 1) * PW : o1;
        n += (e - p + TW - 1) / TW;
        p = e;
    }
    return n;
}

static void panel_at(int o0, int o1, int q, int *lo, int *hi)
{
    for (int p = o0; p < o1;) {
        const int e = (p / PW + 1) * PW < o1 ? (p / PW + 1) * PW : o1;
        const int np = (e - p + TW - 1) / TW, units = (e - p + 15) / 16;
        if (q < np) {
            const int a = p + 16 * (units * q / np), b = p + 16 * (units * (q + 1) / np);
            *lo = a;
            *hi = b < e ? b : e;
            return;
        }
        q -= np;
        p = e;
    }
    *lo = *hi = o1;
}

/* vectors a panel of nr columns takes: 2, 4 or 6 (the tiles compiled) */
INLINE int even_vectors(int nr) { return (nr + 15) / 16 * 2; }

/* ---------------------------------------------------------------------------------- */
/* the description of a batch */

/* u[r] = the number of columns nonzero in row a or row r, for the rows r in `left` */
T256 static void union_counts(const uint64_t *bits, size_t W, int a, uint32_t left, int *u)
{
    uint64_t aw[DS_SPARSE_KMAX / 64];
    const size_t wn = W < DS_SPARSE_KMAX / 64 ? W : DS_SPARSE_KMAX / 64;
    for (size_t w = 0; w < wn; w++) aw[w] = bits[w * SR + (size_t)a];
    for (uint32_t l = left; l; l &= l - 1) { /* a sum in registers per row, four chains */
        const int r = __builtin_ctz(l);
        const uint64_t *br = bits + r;
        int c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        size_t w = 0;
        for (; w + 4 <= wn; w += 4) {
            c0 += __builtin_popcountll(br[w * SR] | aw[w]);
            c1 += __builtin_popcountll(br[(w + 1) * SR] | aw[w + 1]);
            c2 += __builtin_popcountll(br[(w + 2) * SR] | aw[w + 2]);
            c3 += __builtin_popcountll(br[(w + 3) * SR] | aw[w + 3]);
        }
        for (; w < wn; w++) c0 += __builtin_popcountll(br[w * SR] | aw[w]);
        for (; w < W; w++) /* inputs beyond DS_SPARSE_KMAX */
            c0 += __builtin_popcountll(br[w * SR] | bits[w * SR + (size_t)a]);
        u[r] = c0 + c1 + c2 + c3;
    }
}

/* the first r in `left` (a bit per row) with the least v[r] */
static int first_least(const int *v, uint32_t left)
{
    int best = -1;
    for (uint32_t l = left; l; l &= l - 1) {
        const int r = __builtin_ctz(l);
        if (best < 0 || v[r] < v[best]) best = r;
    }
    return best;
}

/* the pairs of a block, by the AVX-512 build's rule: repeatedly the sparsest row left
 * (the first of equals) with the row that adds the fewest columns to it */
T256 static void pair_rows(ds_sparsity *sp, int s0, int n, const uint64_t *bits,
                           const int *count)
{
    uint32_t left = n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1u;
    int *pr = sp->rows + (size_t)s0;
    int p = 0, u[SR];
    while (left) {
        const int a = first_least(count, left);
        left &= ~(1u << a);
        int b = -1;
        if (left) {
            union_counts(bits, sp->words, a, left, u);
            b = first_least(u, left);
            left &= ~(1u << b);
        }
        pr[2 * p] = s0 + (b >= 0 && b < a ? b : a);
        pr[2 * p + 1] = b < 0 ? -1 : s0 + (b < a ? a : b);
        p++;
    }
    for (; p < SR / 2; p++) pr[2 * p] = pr[2 * p + 1] = -1;
}

T256 static void build(ds_sparsity *sp, const float *inp, int r0, int r1, long *fwd_terms,
                       long *bwd_terms)
{
    const int I = sp->I;
    const size_t W = sp->words;
    const __m256 zero = _mm256_setzero_ps();
    const __m256i tail = lanes8(I % 8 ? I % 8 : 8);
    const int whole = I / 8 * 8;
    long ft = 0, bt = 0;
    for (int s0 = r0; s0 < r1; s0 += SR) {
        const int rows = r1 - s0 < SR ? r1 - s0 : SR;
        uint64_t *bits = sp->bits + (size_t)(s0 / SR) * W * SR;
        uint32_t *mk = sp->mask + (size_t)(s0 / SR) * I;
        memset(mk, 0, sizeof(uint32_t) * (size_t)I);
        int count[SR];
        for (int r = 0; r < SR; r++) {
            if (r >= rows) { /* rows the block lacks are zero */
                for (size_t w = 0; w < W; w++) bits[w * SR + (size_t)r] = 0;
                count[r] = 0;
                continue;
            }
            const float *x = inp + (size_t)(s0 + r) * I;
            const __m256i bit = _mm256_set1_epi32((int)(1u << r));
            uint64_t v = 0;
            int c = 0, k = 0;
            for (; k + 64 <= I; k += 64) { /* whole words */
                v = 0;
#pragma GCC unroll 8
                for (int q = 0; q < 64; q += 8) {
                    const __m256i nz = _mm256_castps_si256(
                        _mm256_cmp_ps(_mm256_loadu_ps(x + k + q), zero, _CMP_NEQ_UQ));
                    v |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(nz)) << q;
                    __m256i *mp = (__m256i *)(void *)(mk + k + q);
                    _mm256_storeu_si256(mp, _mm256_or_si256(_mm256_loadu_si256(mp),
                                                            _mm256_and_si256(nz, bit)));
                }
                bits[(size_t)(k / 64) * SR + (size_t)r] = v;
                c += __builtin_popcountll(v);
            }
            v = 0;
            for (; k < whole; k += 8) { /* the last word's whole vectors */
                const __m256i nz =
                    _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(x + k), zero, _CMP_NEQ_UQ));
                v |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(nz)) << (k % 64);
                __m256i *mp = (__m256i *)(void *)(mk + k);
                _mm256_storeu_si256(mp, _mm256_or_si256(_mm256_loadu_si256(mp),
                                                        _mm256_and_si256(nz, bit)));
                if (k + 8 >= I) { /* the row's last */
                    bits[(size_t)(k / 64) * SR + (size_t)r] = v;
                    c += __builtin_popcountll(v);
                }
            }
            if (k < I) { /* the last columns, masked (lanes beyond I read as zero) */
                const __m256i nz = _mm256_castps_si256(
                    _mm256_cmp_ps(_mm256_maskload_ps(x + k, tail), zero, _CMP_NEQ_UQ));
                v |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(nz)) << (k % 64);
                int *mp = (int *)(mk + k);
                _mm256_maskstore_epi32(mp, tail, _mm256_or_si256(_mm256_maskload_epi32(mp, tail),
                                                                 _mm256_and_si256(nz, bit)));
                bits[(size_t)(k / 64) * SR + (size_t)r] = v;
                c += __builtin_popcountll(v);
            }
            count[r] = c;
        }
        pair_rows(sp, s0, rows, bits, count);
        /* lists: each pair's columns, a byte of its union bits at a time */
        for (int p = s0 / 2; p < s0 / 2 + SR / 2; p++) {
            const int a = sp->rows[2 * p], b = sp->rows[2 * p + 1];
            int n = 0;
            if (a >= 0) {
                const int ra = a - s0, rb = b >= 0 ? b - s0 : ra;
                int *out = sp->idx + (size_t)p * sp->stride;
                float *v0 = sp->val + (size_t)(2 * p) * sp->stride, *v1 = v0 + sp->stride;
                const float *xa = inp + (size_t)(s0 + ra) * I, *xb = inp + (size_t)(s0 + rb) * I;
                for (size_t w = 0; w < W; w++) {
                    const uint64_t v = bits[w * SR + (size_t)ra] | bits[w * SR + (size_t)rb];
                    for (int q = 0; q < 64 && v >> q; q += 8) {
                        const unsigned m = (unsigned)(v >> q) & 0xFFu;
                        const int k = (int)(64 * w) + q;
                        const __m256i pos = _mm256_cvtepu8_epi32(
                            _mm_cvtsi64_si128((long long)bit_positions[m]));
                        _mm256_storeu_si256((__m256i *)(void *)(out + n),
                                            _mm256_add_epi32(pos, _mm256_set1_epi32(k)));
                        /* the 8 columns' inputs, those in the list moved to its order */
                        const __m256i in = lanes8(I - k);
                        _mm256_storeu_ps(v0 + n, _mm256_permutevar8x32_ps(
                                                     _mm256_maskload_ps(xa + k, in), pos));
                        _mm256_storeu_ps(v1 + n, _mm256_permutevar8x32_ps(
                                                     _mm256_maskload_ps(xb + k, in), pos));
                        n += __builtin_popcount(m);
                    }
                }
            }
            sp->len[p] = n;
            ft += 2L * n;
        }
        bt += ds_sparse_bwd_terms(mk, I);
    }
    *fwd_terms = ft;
    *bwd_terms = bt;
}

/* ---------------------------------------------------------------------------------- */
/* forward */

/* a[v] += x0 * row[v], c[v] += x1 * row[v] for the nv vectors of a panel row; the barrier
 * keeps the row in a register, where gcc would otherwise load it once per FMA */
#define ROW_FMA(row, v)                                                                  \
    do {                                                                                 \
        __m256 w_ = _mm256_load_ps((row) + 8 * (v));                                     \
        __asm__("" : "+x"(w_));                                                          \
        a[v] = _mm256_fmadd_ps(x0, w_, a[v]);                                            \
        c[v] = _mm256_fmadd_ps(x1, w_, c[v]);                                            \
    } while (0)
#define ROW_FMA_N(row, nv)                                                               \
    do {                                                                                 \
        ROW_FMA(row, 0); ROW_FMA(row, 1);                                                \
        if ((nv) > 2) { ROW_FMA(row, 2); ROW_FMA(row, 3); }                               \
        if ((nv) > 4) { ROW_FMA(row, 4); ROW_FMA(row, 5); }                               \
    } while (0)

INLINE T256 __m256 load_part(const float *p, int n, int full)
{
    return full || n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes8(n));
}

INLINE T256 void store_part(float *p, int n, int full, __m256 v)
{
    if (full || n >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, lanes8(n), v);
}

/* rows ra (and rb when >= 0) for the panel's columns o..o+nr-1 and the list entries from
 * *cur on below k1, their inputs at x0 and x1 (in list order), the weight rows k0..k1-1
 * at buf (row k at buf + (k - k0) * 8 nv); *cur moves past them */
INLINE T256 void fwd_pair_t(const int nv, const int full, const ds_dense_fwd_args *g,
                            const ds_sparsity *sp, int p, int ra, int rb, const float *xa,
                            const float *xb, int o, int nr, int k0, int k1, const float *buf,
                            int *cur)
{
    const int I = g->I, O = g->O, two = rb >= 0, ld = 8 * nv;
    float *z0 = g->z + (size_t)ra * O + o, *z1 = g->z + (size_t)(two ? rb : ra) * O + o;
    __m256 a[NV], c[NV];
    if (k0 == 0) {
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++)
            a[v] = c[v] = g->bias && 8 * v < nr ? load_part(g->bias + o + 8 * v, nr - 8 * v, full)
                                                : _mm256_setzero_ps();
    } else {
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++) {
            a[v] = 8 * v < nr ? load_part(z0 + 8 * v, nr - 8 * v, full) : _mm256_setzero_ps();
            c[v] = two && 8 * v < nr ? load_part(z1 + 8 * v, nr - 8 * v, full) : a[v];
        }
    }
    const int *ix = sp->idx + (size_t)p * sp->stride;
    const int n = sp->len[p];
    int j = *cur;
    for (; j < n && ix[j] < k1; j++) {
        const int k = ix[j];
        const __m256 x0 = _mm256_broadcast_ss(xa + j), x1 = _mm256_broadcast_ss(xb + j);
        const float *row = buf + (size_t)(k - k0) * ld;
        ROW_FMA_N(row, nv);
    }
    *cur = j;
    const int relu = k1 == I && g->a;
    float *a0 = relu ? g->a + (size_t)ra * O + o : NULL;
    float *a1 = relu ? g->a + (size_t)(two ? rb : ra) * O + o : NULL;
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) {
        if (8 * v >= nr) continue;
        const int m = nr - 8 * v;
        store_part(z0 + 8 * v, m, full, a[v]);
        /* max(z, +0) returns +0 for z = -0 and NaN, as relu in act.c does */
        if (relu) store_part(a0 + 8 * v, m, full, _mm256_max_ps(a[v], zero));
        if (two) {
            store_part(z1 + 8 * v, m, full, c[v]);
            if (relu) store_part(a1 + 8 * v, m, full, _mm256_max_ps(c[v], zero));
        }
    }
}

typedef void (*fwd_pair_fn)(const ds_dense_fwd_args *, const ds_sparsity *, int, int, int,
                            const float *, const float *, int, int, int, int, const float *,
                            int *);
#define FWD_PAIR(nv)                                                                     \
    NOINLINE T256 void fwd_pair##nv(const ds_dense_fwd_args *g, const ds_sparsity *sp, int p, \
                                    int ra, int rb, const float *xa, const float *xb, int o, \
                                    int nr, int k0, int k1, const float *buf, int *cur)  \
    {                                                                                    \
        fwd_pair_t(nv, 0, g, sp, p, ra, rb, xa, xb, o, nr, k0, k1, buf, cur);            \
    }                                                                                    \
    NOINLINE T256 void fwd_full##nv(const ds_dense_fwd_args *g, const ds_sparsity *sp, int p, \
                                    int ra, int rb, const float *xa, const float *xb, int o, \
                                    int nr, int k0, int k1, const float *buf, int *cur)  \
    {                                                                                    \
        fwd_pair_t(nv, 1, g, sp, p, ra, rb, xa, xb, o, nr, k0, k1, buf, cur);            \
    }
FWD_PAIR(2)
FWD_PAIR(4)
FWD_PAIR(6)
static fwd_pair_fn const fwd_pairs[4] = {NULL, fwd_pair2, fwd_pair4, fwd_pair6};
static fwd_pair_fn const fwd_fulls[4] = {NULL, fwd_full2, fwd_full4, fwd_full6};

/* the weight rows k0..k1-1, columns o..o+nr-1, to buf (rows of 8 nv floats, zero beyond
 * nr) */
INLINE T256 void copy_block(float *buf, const float *weight, int O, int o, int nr, int k0,
                            int k1)
{
    const int nv = even_vectors(nr), ld = 8 * nv;
    for (int k = k0; k < k1; k++) {
        const float *s = weight + (size_t)k * O + o;
        float *d = buf + (size_t)(k - k0) * ld;
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++)
            _mm256_store_ps(d + 8 * v, 8 * v < nr ? load_part(s + 8 * v, nr - 8 * v, 0)
                                                  : _mm256_setzero_ps());
    }
}

/* The packed layout: the panels of all O columns (panel_at(0, O, ...)), the one starting
 * at column o at wpack + (o / PW) * I * PW + (o % PW) * I, its rows 8 nv floats apart
 * (a piece's panels are multiples of 16 wide but its last, whose rows round up to 16:
 * they fill at most PW floats a row of the piece). */
INLINE float *packed_panel(float *wpack, int I, int o)
{
    return wpack + (size_t)(o / PW) * I * PW + (size_t)(o % PW) * I;
}

static void pack_rows(float *wpack, const float *weight, int I, int O, int k0, int k1)
{
    const int panels = panel_count(0, O);
    for (int q = 0; q < panels; q++) {
        int o, oe;
        panel_at(0, O, q, &o, &oe);
        const int nr = oe - o, ld = 8 * even_vectors(nr);
        float *dst = packed_panel(wpack, I, o);
        for (int k = k0; k < k1; k++) {
            memcpy(dst + (size_t)k * ld, weight + (size_t)k * O + o, sizeof(float) * (size_t)nr);
            if (nr < ld) memset(dst + (size_t)k * ld + nr, 0, sizeof(float) * (size_t)(ld - nr));
        }
    }
}

T256 static void fwd(const ds_dense_fwd_args *g, const ds_sparsity *sp, int b0, int b1,
                     int o0, int o1, float *scratch)
{
    const int I = g->I, O = g->O;
    /* the buffer, 32-byte aligned, then a list cursor per pair (within ds_sparse_scratch:
     * at most 3/8 of its weight panel, and a pair's int per 128 floats of its dout) */
    float *buf = (float *)(((uintptr_t)scratch + 31) & ~(uintptr_t)31);
    int *cur = (int *)(buf + (size_t)(I < KB ? I : KB) * TW);
    const int p0 = b0 / SR * (SR / 2), p1 = (b1 + SR - 1) / SR * (SR / 2);
    /* the packed panels hold the weights, and these columns are whole panels of them */
    const int packed = sp->wpack_ok && sp->O == O && o0 % PW == 0 && (o1 % PW == 0 || o1 == O);
    const int nk = I > 0 ? (I + KB - 1) / KB : 1;
    const int panels = panel_count(o0, o1);
    for (int q = 0; q < panels; q++) {
        int o, oe;
        panel_at(o0, o1, q, &o, &oe);
        const int nr = oe - o, nv = even_vectors(nr);
        const fwd_pair_fn pair = (nr == 8 * nv ? fwd_fulls : fwd_pairs)[nv / 2];
        for (int p = p0; p < p1; p++) cur[p - p0] = 0;
        int k0 = 0;
        for (int kb = 0; kb < nk; kb++) {
            const int k1 = (int)((long)I * (kb + 1) / nk);
            const float *blk = buf;
            if (packed) blk = packed_panel(sp->wpack, I, o) + (size_t)k0 * (8 * nv);
            else copy_block(buf, g->weight, O, o, nr, k0, k1);
            /* the pairs of the blocks rows b0..b1-1 touch, each for its rows among them
             * (a pair cut by the range is computed for its row inside only) */
            for (int p = p0; p < p1; p++) {
                int ra, rb, second;
                if (!ds_sparse_pair_in(sp, p, b0, b1, &ra, &rb, &second)) continue;
                /* the inputs of ra, then of rb (again ra's when the pair's other row is
                 * outside the range) */
                const float *xa = sp->val + (size_t)(2 * p + second) * sp->stride;
                const float *xb = rb >= 0 ? xa + sp->stride : xa;
                pair(g, sp, p, ra, rb, xa, xb, o, nr, k0, k1, blk, &cur[p - p0]);
            }
            k0 = k1;
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* backward_weight */

/* the sums of one shard for columns i (and i + 1 when two) of inp, the panel's columns
 * o..o+nr-1: rows r of the shard set in bits, dout's rows at dp + r * 8 nv; added to (or,
 * with store, stored in) dweight */
INLINE T256 void bwd_w_pair_t(const int nv, const int full, const ds_dense_bwd_w_args *g,
                              int s0, int i, int two, int o, int nr, uint64_t bits,
                              const float *dp, int store)
{
    const int I = g->I, O = g->O, ld = 8 * nv;
    __m256 a[NV], c[NV];
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) a[v] = c[v] = _mm256_setzero_ps();
    const float *x = g->inp + (size_t)s0 * I + i;
    const int dx = two ? 1 : 0;
    while (bits) {
        const int r = __builtin_ctzll(bits);
        bits &= bits - 1;
        const float *xr = x + (size_t)r * I;
        const __m256 x0 = _mm256_broadcast_ss(xr), x1 = _mm256_broadcast_ss(xr + dx);
        const float *row = dp + (size_t)r * ld;
        ROW_FMA_N(row, nv);
    }
    float *w0 = g->dweight + (size_t)i * O + o, *w1 = w0 + O;
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) {
        if (8 * v >= nr) continue;
        const int m = nr - 8 * v;
        if (store) {
            store_part(w0 + 8 * v, m, full, a[v]);
            if (two) store_part(w1 + 8 * v, m, full, c[v]);
        } else {
            store_part(w0 + 8 * v, m, full, _mm256_add_ps(load_part(w0 + 8 * v, m, full), a[v]));
            if (two)
                store_part(w1 + 8 * v, m, full,
                           _mm256_add_ps(load_part(w1 + 8 * v, m, full), c[v]));
        }
    }
}

typedef void (*bwd_w_pair_fn)(const ds_dense_bwd_w_args *, int, int, int, int, int, uint64_t,
                              const float *, int);
#define BWD_W_PAIR(nv)                                                                   \
    NOINLINE T256 void bwd_w_pair##nv(const ds_dense_bwd_w_args *g, int s0, int i, int two,  \
                                      int o, int nr, uint64_t bits, const float *dp,     \
                                      int store)                                         \
    {                                                                                    \
        bwd_w_pair_t(nv, 0, g, s0, i, two, o, nr, bits, dp, store);                      \
    }                                                                                    \
    NOINLINE T256 void bwd_w_full##nv(const ds_dense_bwd_w_args *g, int s0, int i, int two,  \
                                      int o, int nr, uint64_t bits, const float *dp,     \
                                      int store)                                         \
    {                                                                                    \
        bwd_w_pair_t(nv, 1, g, s0, i, two, o, nr, bits, dp, store);                      \
    }
BWD_W_PAIR(2)
BWD_W_PAIR(4)
BWD_W_PAIR(6)
static bwd_w_pair_fn const bwd_w_pairs[4] = {NULL, bwd_w_pair2, bwd_w_pair4, bwd_w_pair6};
static bwd_w_pair_fn const bwd_w_fulls[4] = {NULL, bwd_w_full2, bwd_w_full4, bwd_w_full6};

T256 static void bwd_w(const ds_dense_bwd_w_args *g, const ds_sparsity *sp, int i0, int i1,
                       int o0, int o1, float *scratch)
{
    const int B = g->B, O = g->O;
    if (i0 >= i1 || o0 >= o1) return;
    const int blocks = (B + SR - 1) / SR, shards = (B + DS_SHARD_ROWS - 1) / DS_SHARD_ROWS;
    const int panels = panel_count(o0, o1);
    /* dout's columns o0..o1-1 as contiguous panels: panel q (8 nv_q floats a row) and
     * block s at dpack + (off_q + s * SR * 8 nv_q), off_q the panels before it; the rows
     * of a shard's two blocks follow each other. Their widths add up to at most o1 - o0
     * rounded up to 16 per piece of PW columns: within ds_sparse_scratch. */
    float *dpack = (float *)(((uintptr_t)scratch + 31) & ~(uintptr_t)31);
    size_t off = 0;
    for (int q = 0; q < panels; q++) {
        int o, oe;
        panel_at(o0, o1, q, &o, &oe);
        const int nr = oe - o, nv = even_vectors(nr), ld = 8 * nv;
        float *pq = dpack + off;
        off += (size_t)blocks * SR * (size_t)ld;
        for (int b = 0; b < B; b++) {
            const float *src = g->dout + (size_t)b * O + o;
            float *dst = pq + (size_t)b * ld;
#pragma GCC unroll 6
            for (int v = 0; v < nv; v++)
                _mm256_store_ps(dst + 8 * v, 8 * v < nr ? load_part(src + 8 * v, nr - 8 * v, 0)
                                                        : _mm256_setzero_ps());
        }
        const bwd_w_pair_fn pair = (nr == ld ? bwd_w_fulls : bwd_w_pairs)[nv / 2];
        for (int ib = i0; ib < i1; ib += DW_BLOCK) {
            const int ie = i1 - ib < DW_BLOCK ? i1 : ib + DW_BLOCK;
            for (int s = 0; s < shards; s++) {
                /* the shard's rows: blocks 2s and 2s + 1 (when the batch has it) */
                const float *dp = pq + (size_t)(2 * s) * SR * ld;
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

/* packing on one thread too: forward then reads the panels in place instead of copying
 * them (W2's model on Fashion-MNIST, Zen 3: 0.983-0.988 of the time without, alternating
 * epochs in one process) */
const ds_sparse_kernels ds_sparse_kernels_avx2 = {build, fwd, bwd_w, pack_rows, 1};

#else
typedef int ds_dense_sparse_avx2_empty; /* ISO C wants something in a translation unit */
#endif
