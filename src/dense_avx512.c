/*
 * dense_avx512.c - the dense layer's three products with AVX-512 (x86-64 only; compiled
 * for any x86-64 and entered only when the processor has AVX-512, see kernel.c).
 *
 * One kind of register tile serves all three: an 8 x 32 block of the result in 16 zmm
 * accumulators (12 x 32 in 24 for backward_weight); each step k broadcasts A(r,k) for
 * each row and multiplies it into one row of B (two vectors). A is read through per-row
 * pointers (row-major or k-major), B through its row stride:
 *   forward          z (B,O) = inp (B,I) @ weight (I,O): A = inp rows, B = weight rows;
 *                    blocked over I so a block of inp's columns stays in cache while the
 *                    weight panels pass; bias starts the sums, relu can be applied as the
 *                    tile is stored; tall products copy their panels first (see fwd)
 *   backward_input   under DS_PACK_MIN_ROWS rows, dinp^T (I,B) = weight (I,O) @ dout^T
 *                    (O,B): A = weight rows, B = the transposed dout; each tile is
 *                    transposed back as it is stored. Taller batches: dinp (B,I) = dout
 *                    (B,O) @ weight^T as forward, with weight^T panels transposed into
 *                    the panel buffer
 *   backward_weight  dweight (I,O) += inp^T (I,B) @ dout (B,O), one shard of rows at a
 *                    time: A = inp read down its columns, B = dout's column panel copied
 *                    to a contiguous buffer; tall batches with scratch copy blocks of
 *                    both operands and of dweight's sums, as BLAS does (see bwd_w_packed)
 * Every result element is one chain of fused multiply-adds in the reference order (see
 * internal.h), whatever the tile, block or thread it falls in. Edges use masked loads
 * and stores; missing rows of a tile repeat a valid row and are not stored.
 */
#include "internal.h"

#if defined(DS_HAVE_X86_KERNELS)

#include <immintrin.h>
#include <stdint.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

/* register tile MR x NR; blocks of I for forward at most KC long (DS_PACK_K when packed) */
enum { MR = 8, NR = 32, KC = 256 };
/* backward_weight: rows of dout copied at a time (whole shards), and a taller tile of
 * MW x NR (24 accumulators): each shard restarts its sums, so more work per restart */
enum { W_ROWS = 2 * DS_SHARD_ROWS, MW = 12 };

/* acc[r][v] += A(r,k) * B(k, 16v + lane) for r in [0, R), k in [0, K) (R a constant once
 * inlined). ap[r] points at A(r,0); A(r,k) is ap[r][k * aks]. B(k,n) is b[k * ldb + n];
 * lanes beyond the masks read as 0. */
INLINE T512 void tile_fma_r(int R, int K, const float *const *ap, ptrdiff_t aks,
                            const float *b, ptrdiff_t ldb, __mmask16 m0, __mmask16 m1, int full,
                            __m512 (*acc)[2])
{
    for (int k = 0; k < K; k++) {
        __m512 b0, b1;
        if (full) {
            b0 = _mm512_loadu_ps(b);
            b1 = _mm512_loadu_ps(b + 16);
        } else {
            b0 = _mm512_maskz_loadu_ps(m0, b);
            b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        }
        const ptrdiff_t ka = (ptrdiff_t)k * aks;
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(ap[r][ka]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
        b += ldb;
    }
}

INLINE T512 void tile_fma(int K, const float *const ap[MR], ptrdiff_t aks, const float *b,
                          ptrdiff_t ldb, __mmask16 m0, __mmask16 m1, int full,
                          __m512 acc[MR][2])
{
    tile_fma_r(MR, K, ap, aks, b, ldb, m0, m1, full, acc);
}

INLINE T512 void masks(int nr, __mmask16 *m0, __mmask16 *m1)
{
    *m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1u);
    *m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (1u << (nr - 16)) - 1u);
}

/* rows of a tile: r < mr at a + r * rs, the missing ones repeat row mr - 1 */
INLINE void row_ptrs(const float *ap[MR], const float *a, ptrdiff_t rs, int mr)
{
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) ap[r] = a + (ptrdiff_t)(r < mr ? r : mr - 1) * rs;
}

/* Stores r (8 rows, 16 lanes) transposed: d + j * ldd receives lane j of the 8 rows. */
INLINE T512 void store_transposed_8x16(float *d, ptrdiff_t ldd, const __m512 r[8])
{
    /* per 128-bit lane q: t0 = r0[4q] r1[4q] r0[4q+1] r1[4q+1], t1 the same for 4q+2, 4q+3 */
    __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(r[0], r[1]));
    __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(r[0], r[1]));
    __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(r[2], r[3]));
    __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(r[2], r[3]));
    __m512d t4 = _mm512_castps_pd(_mm512_unpacklo_ps(r[4], r[5]));
    __m512d t5 = _mm512_castps_pd(_mm512_unpackhi_ps(r[4], r[5]));
    __m512d t6 = _mm512_castps_pd(_mm512_unpacklo_ps(r[6], r[7]));
    __m512d t7 = _mm512_castps_pd(_mm512_unpackhi_ps(r[6], r[7]));
    /* u[s] lane q: rows 0-3 of column 4q + s; w[s]: rows 4-7 */
    __m512 u[4], w[4];
    u[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    w[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t4, t6));
    w[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t4, t6));
    w[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t5, t7));
    w[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t5, t7));
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i hi =
        _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int s = 0; s < 4; s++) {
        __m512 a = _mm512_permutex2var_ps(u[s], lo, w[s]); /* columns s, 4 + s */
        __m512 b = _mm512_permutex2var_ps(u[s], hi, w[s]); /* columns 8 + s, 12 + s */
        _mm256_storeu_ps(d + (ptrdiff_t)s * ldd, _mm512_castps512_ps256(a));
        _mm256_storeu_ps(d + (ptrdiff_t)(4 + s) * ldd, _mm512_extractf32x8_ps(a, 1));
        _mm256_storeu_ps(d + (ptrdiff_t)(8 + s) * ldd, _mm512_castps512_ps256(b));
        _mm256_storeu_ps(d + (ptrdiff_t)(12 + s) * ldd, _mm512_extractf32x8_ps(b, 1));
    }
}

/* inp rows b..b+7, columns k0..k0+kc-1 copied k-major: t[k * MR + r] */
INLINE T512 void pack_a_tile(float *t, const float *inp, ptrdiff_t I, int b, int k0, int kc)
{
    const float *rows = inp + (size_t)b * I + k0;
    int k = 0;
    for (; k + 16 <= kc; k += 16) {
        __m512 r[MR];
#pragma GCC unroll 8
        for (int q = 0; q < MR; q++) r[q] = _mm512_loadu_ps(rows + q * I + k);
        store_transposed_8x16(t + k * MR, MR, r);
    }
    for (; k < kc; k++)
        for (int q = 0; q < MR; q++) t[k * MR + q] = rows[q * I + k];
}

/* ---------------------------------------------------------------------------------- */
/* forward */

/* z (and relu) for rows b..b+mr-1, columns o..o+nr-1, the I-block k0..k0+kc-1: weight
 * rows at wb (stride ldb), inp rows in place or, when apack is not NULL, copied k-major */
INLINE T512 void fwd_tile_t(const ds_dense_fwd_args *g, int b, int mr, int o, int nr, int k0,
                            int kc, const float *wb, ptrdiff_t ldb, const float *apack,
                            int full)
{
    const int I = g->I, O = g->O;
    __mmask16 m0, m1;
    masks(nr, &m0, &m1);
    __m512 acc[MR][2];
    float *z = g->z + (size_t)b * O + o;
    if (k0 == 0) {
        __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
        if (g->bias) {
            c0 = _mm512_maskz_loadu_ps(m0, g->bias + o);
            c1 = _mm512_maskz_loadu_ps(m1, g->bias + o + 16);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            acc[r][0] = c0;
            acc[r][1] = c1;
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const float *zr = z + (size_t)(r < mr ? r : mr - 1) * O;
            acc[r][0] = _mm512_maskz_loadu_ps(m0, zr);
            acc[r][1] = _mm512_maskz_loadu_ps(m1, zr + 16);
        }
    }
    const float *ap[MR];
    if (apack) {
        row_ptrs(ap, apack, 1, MR);
        tile_fma(kc, ap, MR, wb, ldb, m0, m1, full, acc);
    } else {
        row_ptrs(ap, g->inp + (size_t)b * I + k0, I, mr);
        tile_fma(kc, ap, 1, wb, ldb, m0, m1, full, acc);
    }
    const int last = k0 + kc == I;
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        _mm512_mask_storeu_ps(z + (size_t)r * O, m0, acc[r][0]);
        _mm512_mask_storeu_ps(z + (size_t)r * O + 16, m1, acc[r][1]);
        if (last && g->a) {
            float *a = g->a + (size_t)(b + r) * O + o;
            /* max(z, +0) returns +0 for z = -0 and NaN, as relu in act.c does */
            _mm512_mask_storeu_ps(a, m0, _mm512_max_ps(acc[r][0], zero));
            _mm512_mask_storeu_ps(a + 16, m1, _mm512_max_ps(acc[r][1], zero));
        }
    }
}

/* one instance for whole tiles, one for edges: each keeps its accumulators in registers */
NOINLINE T512 void fwd_tile_full(const ds_dense_fwd_args *g, int b, int o, int k0, int kc,
                                 const float *wb, ptrdiff_t ldb, const float *apack)
{
    fwd_tile_t(g, b, MR, o, NR, k0, kc, wb, ldb, apack, 1);
}

NOINLINE T512 void fwd_tile_edge(const ds_dense_fwd_args *g, int b, int mr, int o, int nr,
                                 int k0, int kc, const float *wb, ptrdiff_t ldb)
{
    fwd_tile_t(g, b, mr, o, nr, k0, kc, wb, ldb, NULL, 0);
}

/* weight^T rows k0..k0+kc-1, columns o..o+nr-1 (kc <= DS_PACK_K; the rest of the panel's
 * 16-row blocks and columns zero) copied to panel[k * NR + n] = weight[(o + n) * I + k0 + k],
 * when the product reads the weight transposed (I x O here is the K x N of the product) */
INLINE T512 void pack_wt_panel(float *panel, const float *weight, int I, int o, int nr, int k0,
                               int kc)
{
    for (int n8 = 0; n8 < NR; n8 += 8) {
        const float *src[8];
#pragma GCC unroll 8
        for (int q = 0; q < 8; q++)
            src[q] = n8 + q < nr ? weight + (size_t)(o + n8 + q) * I + k0 : NULL;
        for (int k = 0; k < kc; k += 16) {
            const __mmask16 m = (__mmask16)(kc - k >= 16 ? 0xFFFF : (1u << (kc - k)) - 1u);
            __m512 r[8];
#pragma GCC unroll 8
            for (int q = 0; q < 8; q++)
                r[q] = src[q] ? _mm512_maskz_loadu_ps(m, src[q] + k) : _mm512_setzero_ps();
            store_transposed_8x16(panel + (size_t)k * NR + n8, NR, r);
        }
    }
}

/* z (B,O) = inp (B,I) @ weight (I,O) for rows [b0,b1) and columns [o0,o1); with wt, the
 * weight is given transposed, as an (O,I) array (backward_input's dout @ weight^T).
 * Blocks of I (balanced, at most KC long) outermost, so that a block of inp's columns
 * stays in cache while every column panel of weight passes; within a block, one panel of
 * weight (kc x 32) serves every row tile. With many rows (DS_PACK_MIN_ROWS) or a
 * transposed weight the panel is first copied to a contiguous buffer, which then stays in
 * L1, and with scratch the row tiles of the inp block are copied k-major too: rows a
 * multiple of 4 KB apart would otherwise fall in the same few cache sets. */
INLINE T512 void rows_product(const ds_dense_fwd_args *g, int b0, int b1, int o0, int o1,
                              float *scratch, int wt)
{
    const int I = g->I, O = g->O;
    const int pack = b1 - b0 >= DS_PACK_MIN_ROWS;
    float *apack = pack ? scratch : NULL;
    const int kmax = pack || wt ? DS_PACK_K : KC;
    const int nk = I > 0 ? (I + kmax - 1) / kmax : 1; /* I = 0 still sets z = bias */
    float panel[DS_PACK_K * NR] __attribute__((aligned(64)));
    int k0 = 0;
    for (int kb = 0; kb < nk; kb++) {
        const int k1 = (int)((long)I * (kb + 1) / nk), kc = k1 - k0;
        if (apack) /* tile t at apack + t * MR * DS_PACK_K */
            for (int b = b0; b + MR <= b1; b += MR)
                pack_a_tile(apack + (size_t)(b - b0) * DS_PACK_K, g->inp, I, b, k0, kc);
        for (int o = o0; o < o1; o += NR) {
            const int nr = o1 - o < NR ? o1 - o : NR;
            const float *wb = g->weight + (size_t)k0 * O + o;
            ptrdiff_t ldb = O;
            if (wt) {
                pack_wt_panel(panel, g->weight, I, o, nr, k0, kc);
                wb = panel;
                ldb = NR;
            } else if (pack) {
                __mmask16 m0, m1;
                masks(nr, &m0, &m1);
                for (int k = 0; k < kc; k++) {
                    const float *src = wb + (size_t)k * O;
                    _mm512_store_ps(panel + k * NR, _mm512_maskz_loadu_ps(m0, src));
                    _mm512_store_ps(panel + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
                }
                wb = panel;
                ldb = NR;
            }
            for (int b = b0; b < b1; b += MR) {
                const int mr = b1 - b < MR ? b1 - b : MR;
                if (mr == MR && nr == NR)
                    fwd_tile_full(g, b, o, k0, kc, wb, ldb,
                                  apack ? apack + (size_t)(b - b0) * DS_PACK_K : NULL);
                else fwd_tile_edge(g, b, mr, o, nr, k0, kc, wb, ldb);
            }
        }
        k0 = k1;
    }
}

T512 static void fwd(const ds_dense_fwd_args *g, int b0, int b1, int o0, int o1,
                     float *scratch)
{
    rows_product(g, b0, b1, o0, o1, scratch, 0);
}

/* ---------------------------------------------------------------------------------- */
/* backward_input: dinp^T = weight @ dout^T, tiles over (i, b) */

/* one (i, b) tile: rows i..i+mr-1 of weight against columns b..b+nr-1 of dout^T */
INLINE T512 void bwd_inp_tile_t(const ds_dense_bwd_inp_args *g, int b, int nr, int i, int mr,
                                int full)
{
    const int B = g->B, I = g->I, O = g->O;
    __mmask16 m0, m1;
    masks(nr, &m0, &m1);
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const float *ap[MR];
    row_ptrs(ap, g->weight + (size_t)i * O, O, mr);
    tile_fma(O, ap, 1, g->doutT + b, B, m0, m1, full, acc);
    float *d = g->dinp + (size_t)b * I + i;
    if (full) {
        __m512 h[MR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) h[r] = acc[r][0];
        store_transposed_8x16(d, I, h);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) h[r] = acc[r][1];
        store_transposed_8x16(d + (size_t)16 * I, I, h);
        return;
    }
    float tmp[MR][NR] __attribute__((aligned(64)));
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm512_store_ps(tmp[r], acc[r][0]);
        _mm512_store_ps(tmp[r] + 16, acc[r][1]);
    }
    for (int j = 0; j < nr; j++)
        for (int r = 0; r < mr; r++) d[(size_t)j * I + r] = tmp[r][j];
}

NOINLINE T512 void bwd_inp_tile_full(const ds_dense_bwd_inp_args *g, int b, int i)
{
    bwd_inp_tile_t(g, b, NR, i, MR, 1);
}

NOINLINE T512 void bwd_inp_tile_edge(const ds_dense_bwd_inp_args *g, int b, int nr, int i,
                                     int mr)
{
    bwd_inp_tile_t(g, b, nr, i, mr, 0);
}

/* Batches of DS_PACK_MIN_ROWS rows or more compute dinp = dout @ weight^T directly, as
 * forward computes z (dout's row blocks copied k-major to scratch, weight^T panels
 * transposed into a stack buffer); smaller ones compute dinp^T from doutT. */
T512 static void bwd_inp(const ds_dense_bwd_inp_args *g, int b0, int b1, int i0, int i1,
                         float *scratch)
{
    if (g->B >= DS_PACK_MIN_ROWS) {
        const ds_dense_fwd_args f = {g->dinp, NULL, g->dout, g->weight, NULL, g->B, g->O, g->I};
        rows_product(&f, b0, b1, i0, i1, scratch, 1);
        return;
    }
    for (int b = b0; b < b1; b += NR) {
        int nr = b1 - b < NR ? b1 - b : NR;
        for (int i = i0; i < i1; i += MR) {
            int mr = i1 - i < MR ? i1 - i : MR;
            if (mr == MR && nr == NR) bwd_inp_tile_full(g, b, i);
            else bwd_inp_tile_edge(g, b, nr, i, mr);
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* backward_weight: dweight += per shard inp^T @ dout, tiles over (i, o) */

/* dout rows r0..r0+rows-1, columns o..o+nr-1 to panel[r * NR + n] (the rest zero) */
INLINE T512 void pack_dout_panel(float *panel, const ds_dense_bwd_w_args *g, int r0, int rows,
                                 int o, int nr)
{
    __mmask16 m0, m1;
    masks(nr, &m0, &m1);
    for (int r = 0; r < rows; r++) {
        const float *src = g->dout + (size_t)(r0 + r) * g->O + o;
        _mm512_store_ps(panel + r * NR, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(panel + r * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
}

/* one (i, o) tile over rows r0..r0+rows-1 of the batch: each shard in turn, its sum added
 * to (or, the very first with set, stored in) the tile's sums at c (rows ldc apart: dweight
 * or a copy). A(r, k) = inp[(r0 + k) I + i + r] is at a[k * aks + r] (inp in place or a
 * copied tile); dout's columns o..o+31 of these rows are in panel (stride NR). */
INLINE T512 void bwd_w_tile_t(int set, float *c, ptrdiff_t ldc, int mr, int nr, int r0,
                              int rows, const float *a, ptrdiff_t aks, const float *panel,
                              int full)
{
    __mmask16 m0, m1;
    masks(nr, &m0, &m1);
    for (int s0 = r0; s0 < r0 + rows; s0 += DS_SHARD_ROWS) {
        const int ks = r0 + rows - s0 < DS_SHARD_ROWS ? r0 + rows - s0 : DS_SHARD_ROWS;
        __m512 acc[MW][2];
#pragma GCC unroll 16
        for (int r = 0; r < MW; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        const float *ap[MW];
#pragma GCC unroll 16
        for (int r = 0; r < MW; r++) ap[r] = a + (s0 - r0) * aks + (r < mr ? r : mr - 1);
        tile_fma_r(MW, ks, ap, aks, panel + (size_t)(s0 - r0) * NR, NR, m0, m1, full, acc);
        const int add = !(set && s0 == 0);
#pragma GCC unroll 16
        for (int r = 0; r < MW; r++) {
            if (r >= mr) break;
            float *cr = c + r * ldc;
            if (add) {
                acc[r][0] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), acc[r][0]);
                acc[r][1] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), acc[r][1]);
            }
            _mm512_mask_storeu_ps(cr, m0, acc[r][0]);
            _mm512_mask_storeu_ps(cr + 16, m1, acc[r][1]);
        }
    }
}

NOINLINE T512 void bwd_w_tile_full(int set, float *c, ptrdiff_t ldc, int r0, int rows,
                                   const float *a, ptrdiff_t aks, const float *panel)
{
    bwd_w_tile_t(set, c, ldc, MW, NR, r0, rows, a, aks, panel, 1);
}

NOINLINE T512 void bwd_w_tile_edge(int set, float *c, ptrdiff_t ldc, int mr, int nr, int r0,
                                   int rows, const float *a, ptrdiff_t aks, const float *panel)
{
    bwd_w_tile_t(set, c, ldc, mr, nr, r0, rows, a, aks, panel, 0);
}

/* Tall batches with scratch, blocked as BLAS does: for each block of WNC columns and WMC
 * rows of dweight, the block's sums are copied to a contiguous buffer (tiles of MW x NR;
 * dweight's rows, O apart, would evict each other) and, for each block of WKC batch rows
 * (whole shards), its parts of inp^T (tiles of MW rows, k-major) and of dout (panels of
 * NR columns) too; a dout panel then stays in L1 while the inp tiles pass. The copies
 * read their sources from L3 and wait for them, so the next block's sources are
 * prefetched a little at a time while the current one is computed. */
enum { WKC = 128, WMC = 16 * MW, WNC = 256 };
/* a copied tile of inp^T keeps rows 16 floats apart: whole aligned vectors */
enum { AS = 16 };
#define W_APACK ((size_t)WMC / MW * AS * WKC)
#define W_BPACK ((size_t)WKC * WNC)
#define W_CBUF ((size_t)WMC * WNC)
_Static_assert(WKC % DS_SHARD_ROWS == 0, "blocks of whole shards");
_Static_assert(W_APACK + W_BPACK + W_CBUF + 16 <= DS_PACK_W_FLOATS,
               "scratch for backward_weight");

/* prefetches the lines of rows [r0, r1) of a (stride ld floats), columns [c0, c1) */
INLINE T512 void prefetch_rows(const float *a, size_t ld, int r0, int r1, int c0, int c1)
{
    for (int r = r0; r < r1; r++) {
        const char *p = (const char *)(a + (size_t)r * ld + c0);
        const char *e = (const char *)(a + (size_t)r * ld + c1);
        for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64)
            _mm_prefetch(p, _MM_HINT_T1);
    }
}

/* [lo, hi) of part p of [a, b) cut into `parts` runs of whole units, balanced */
INLINE void balanced(int a, int b, int unit, int parts, int p, int *lo, int *hi)
{
    const long units = (b - a + unit - 1) / unit;
    *lo = a + (int)(units * p / parts) * unit;
    *hi = a + (int)(units * (p + 1) / parts) * unit;
    if (*hi > b) *hi = b;
}

/* block n of bwd_w_packed's loops: columns outermost, then rows of dweight, then rows of
 * the batch; blocks of dweight balanced, of at most WNC columns and WMC rows */
typedef struct {
    int ob, ob1, ib, ib1, r0, rows;
} wblock;

INLINE void wblock_at(long n, int i0, int i1, int o0, int o1, int B, wblock *w)
{
    const long nob = (o1 - o0 + WNC - 1) / WNC, nib = (i1 - i0 + WMC - 1) / WMC;
    const long nr = (B + WKC - 1) / WKC;
    balanced(o0, o1, NR, (int)nob, (int)(n / (nib * nr)), &w->ob, &w->ob1);
    balanced(i0, i1, MW, (int)nib, (int)(n / nr % nib), &w->ib, &w->ib1);
    w->r0 = (int)(n % nr) * WKC;
    w->rows = B - w->r0 < WKC ? B - w->r0 : WKC;
}

/* dweight's block w to or from cbuf (tile (t, p) at (p * WMC / MW + t) * MW * NR) */
INLINE T512 void cbuf_copy(const ds_dense_bwd_w_args *g, const wblock *w, float *cbuf, int out)
{
    const int O = g->O;
    for (int i = w->ib; i < w->ib1; i++) {
        const int t = (i - w->ib) / MW, r = (i - w->ib) % MW;
        float *d = g->dweight + (size_t)i * O;
        for (int o = w->ob; o < w->ob1; o += NR) {
            float *c = cbuf + ((size_t)(o - w->ob) / NR * (WMC / MW) + t) * MW * NR + r * NR;
            __mmask16 m0, m1;
            masks(w->ob1 - o, &m0, &m1);
            if (out) {
                _mm512_mask_storeu_ps(d + o, m0, _mm512_load_ps(c));
                _mm512_mask_storeu_ps(d + o + 16, m1, _mm512_load_ps(c + 16));
            } else {
                _mm512_store_ps(c, _mm512_maskz_loadu_ps(m0, d + o));
                _mm512_store_ps(c + 16, _mm512_maskz_loadu_ps(m1, d + o + 16));
            }
        }
    }
}

T512 static void bwd_w_packed(const ds_dense_bwd_w_args *g, int i0, int i1, int o0, int o1,
                              float *scratch)
{
    const int B = g->B, I = g->I, O = g->O;
    scratch = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* 64-byte aligned */
    float *apack = scratch;           /* tile t at t * AS * WKC: [k * AS + r] */
    float *bpack = apack + W_APACK;   /* panel p at p * WKC * NR: [k * NR + n] */
    float *cbuf = bpack + W_BPACK;    /* see cbuf_copy */
    const long n_blocks = (long)((o1 - o0 + WNC - 1) / WNC) * ((i1 - i0 + WMC - 1) / WMC) *
                          ((B + WKC - 1) / WKC);
    /* with one block of batch rows, each tile of dweight is visited once: no copy */
    const int sum_in_cbuf = B > WKC;
    wblock w, nx = {0, 0, 0, 0, 0, 0};
    wblock_at(0, i0, i1, o0, o1, B, &w);
    for (long n = 0; n < n_blocks; n++, w = nx) {
        const int more = n + 1 < n_blocks;
        if (more) wblock_at(n + 1, i0, i1, o0, o1, B, &nx);
        if (sum_in_cbuf && w.r0 == 0 && !g->set) cbuf_copy(g, &w, cbuf, 0);
        /* row by row, so that each row of the sources is read once, in order; rows and
         * columns beyond the block are zero */
        for (int k = 0; k < w.rows; k++) {
            const float *src = g->inp + (size_t)(w.r0 + k) * I;
            for (int i = w.ib; i < w.ib1; i += MW) {
                const int mr = w.ib1 - i < MW ? w.ib1 - i : MW;
                _mm512_store_ps(apack + (size_t)(i - w.ib) / MW * AS * WKC + k * AS,
                                _mm512_maskz_loadu_ps((__mmask16)((1u << mr) - 1u), src + i));
            }
            const float *d = g->dout + (size_t)(w.r0 + k) * O;
            for (int o = w.ob; o < w.ob1; o += NR) {
                __mmask16 m0, m1;
                masks(w.ob1 - o, &m0, &m1);
                float *p = bpack + (size_t)(o - w.ob) * WKC + k * NR;
                _mm512_store_ps(p, _mm512_maskz_loadu_ps(m0, d + o));
                _mm512_store_ps(p + 16, _mm512_maskz_loadu_ps(m1, d + o + 16));
            }
        }
        /* every tile whole (the copies are padded with zeros); each call also fetches
         * its share of the next block's sources (`step` rows), and of its part of dweight
         * (`wstep` rows) when that is new */
        const int n_tiles = (w.ib1 - w.ib + MW - 1) / MW;
        const int n_calls = (w.ob1 - w.ob + NR - 1) / NR * n_tiles;
        const int step = more ? (nx.rows + n_calls - 1) / n_calls : 0;
        const int new_w = more && sum_in_cbuf && nx.r0 == 0 && !g->set;
        const int wstep = new_w ? (nx.ib1 - nx.ib + n_calls - 1) / n_calls : 0;
        int pf = 0, pfw = 0;
        for (int p = 0; p * NR < w.ob1 - w.ob; p++) {
            const float *bt = bpack + (size_t)p * NR * WKC;
            for (int t = 0; t < n_tiles; t++) {
                if (pf < nx.rows && step) {
                    const int e = nx.rows - pf < step ? nx.rows : pf + step;
                    prefetch_rows(g->inp, (size_t)I, nx.r0 + pf, nx.r0 + e, nx.ib, nx.ib1);
                    prefetch_rows(g->dout, (size_t)O, nx.r0 + pf, nx.r0 + e, nx.ob, nx.ob1);
                    pf = e;
                }
                if (pfw < nx.ib1 - nx.ib && wstep) {
                    const int e = nx.ib1 - nx.ib - pfw < wstep ? nx.ib1 - nx.ib : pfw + wstep;
                    prefetch_rows(g->dweight, (size_t)O, nx.ib + pfw, nx.ib + e, nx.ob, nx.ob1);
                    pfw = e;
                }
                const float *at = apack + (size_t)t * AS * WKC;
                if (sum_in_cbuf) {
                    bwd_w_tile_full(g->set, cbuf + ((size_t)p * (WMC / MW) + t) * MW * NR, NR,
                                    w.r0, w.rows, at, AS, bt);
                } else {
                    const int i = w.ib + t * MW, o = w.ob + p * NR;
                    const int mr = w.ib1 - i < MW ? w.ib1 - i : MW;
                    const int nr = w.ob1 - o < NR ? w.ob1 - o : NR;
                    float *c = g->dweight + (size_t)i * O + o;
                    if (mr == MW && nr == NR)
                        bwd_w_tile_full(g->set, c, O, w.r0, w.rows, at, AS, bt);
                    else bwd_w_tile_edge(g->set, c, O, mr, nr, w.r0, w.rows, at, AS, bt);
                }
            }
        }
        if (sum_in_cbuf && w.r0 + w.rows == B) cbuf_copy(g, &w, cbuf, 1);
    }
}

/* Otherwise, for each column panel, W_ROWS rows of dout at a time are first copied to a
 * contiguous buffer, which then serves every row tile of dweight from L1 (dout's rows, O
 * apart, would share a few cache sets), and inp is read in place. That is as fast or
 * faster (5-10% at 128-1024 x 784 x 256) unless the rows of inp read down a column are a
 * multiple of 2 KB apart or those of dweight a multiple of 4 KB (then 2x and 1.2x slower
 * at 1024 x 1024 x 256 and 1024 x 784 x 1024): only then are the copies made. */
T512 static void bwd_w(const ds_dense_bwd_w_args *g, int i0, int i1, int o0, int o1,
                       float *scratch)
{
    const int B = g->B, I = g->I, O = g->O;
    if (i0 >= i1 || o0 >= o1) return;
    if (scratch && B >= DS_PACK_MIN_ROWS && (I % 512 == 0 || O % 1024 == 0)) {
        bwd_w_packed(g, i0, i1, o0, o1, scratch);
        return;
    }
    float panel[W_ROWS * NR] __attribute__((aligned(64)));
    for (int o = o0; o < o1; o += NR) {
        const int nr = o1 - o < NR ? o1 - o : NR;
        for (int r0 = 0; r0 < B; r0 += W_ROWS) {
            const int rows = B - r0 < W_ROWS ? B - r0 : W_ROWS;
            pack_dout_panel(panel, g, r0, rows, o, nr);
            for (int i = i0; i < i1; i += MW) {
                const int mr = i1 - i < MW ? i1 - i : MW;
                const float *a = g->inp + (size_t)r0 * I + i;
                float *c = g->dweight + (size_t)i * O + o;
                if (mr == MW && nr == NR)
                    bwd_w_tile_full(g->set, c, O, r0, rows, a, I, panel);
                else bwd_w_tile_edge(g->set, c, O, mr, nr, r0, rows, a, I, panel);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* relu backward, and the transposed copy backward_input reads */

T512 static void relu_bwd(float *g, const float *z, float *gT, int B, int O, int o0, int o1)
{
    const __m512 zero = _mm512_setzero_ps();
    /* z > 0 is false for NaN and -0, which then give +0, as act.c's relu backward */
    for (int b = 0; b < B; b++) {
        float *gr = g + (size_t)b * O;
        const float *zr = z + (size_t)b * O;
        for (int o = o0; o < o1; o += 16) {
            __mmask16 m = (__mmask16)(o1 - o >= 16 ? 0xFFFF : (1u << (o1 - o)) - 1u);
            __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, zr + o), zero,
                                                    _CMP_GT_OQ);
            _mm512_mask_storeu_ps(gr + o, m, _mm512_maskz_loadu_ps(pos, gr + o));
        }
    }
    if (!gT) return;
    /* 16 x 16 blocks: gather 16 rows' column o with a strided pattern into one row of gT */
    for (int b0 = 0; b0 < B; b0 += 16) {
        __mmask16 m = (__mmask16)(B - b0 >= 16 ? 0xFFFF : (1u << (B - b0)) - 1u);
        const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                  10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(O));
        for (int o = o0; o < o1; o++) {
            __m512 col = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx,
                                                  g + (size_t)b0 * O + o, 4);
            _mm512_mask_storeu_ps(gT + (size_t)o * B + b0, m, col);
        }
    }
}

const ds_dense_kernels ds_dense_kernels_avx512 = {
    DS_KERNEL_AVX512, DS_PACK_MIN_ROWS, fwd, bwd_inp, bwd_w, relu_bwd, &ds_sparse_kernels_avx512};

#else
typedef int ds_dense_avx512_empty; /* ISO C wants something in a translation unit */
#endif
