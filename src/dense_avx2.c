/*
 * dense_avx2.c - the dense layer's three products with AVX2 and FMA (x86-64 only;
 * compiled for any x86-64 and entered only when the processor has both, see kernel.c).
 *
 * The same scheme as dense_avx512.c with the 16 ymm registers: a 6 x 16 tile of the
 * result in 12 accumulators, each step k broadcasting A(r,k) for the 6 rows into one row
 * of B (two vectors). Forward is blocked over I and copies its weight panels first (and,
 * for tall products, its row tiles); backward_input computes dinp^T = weight @ dout^T and stores each tile
 * transposed through a small buffer (tall batches: dinp = dout @ weight^T as forward, with
 * transposed weight panels); backward_weight runs one shard of rows at a time against a
 * contiguous copy of dout's column panel (tall batches with scratch: blocked and copied
 * as BLAS does).
 * Every result element is one chain of fused multiply-adds in the reference order (see
 * internal.h), so this kernel gives the same bits as the AVX-512 one. Edges use masked
 * loads and stores; missing rows of a tile repeat a valid row and are not stored.
 */
#include "internal.h"

#if defined(DS_HAVE_X86_KERNELS)

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define T256 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

/* register tile MR x NR; blocks of I for forward at most KC long (PK when copied) */
enum { MR = 6, NR = 16, KC = 256, PK = DS_PACK_K_MAX };
/* forward copies its weight panels (kc x 16) for this many rows or more: in place, rows
 * of a weight whose stride is a multiple of 1 KB share a few cache sets (64 x 784 x 256:
 * 76% of peak copied, 71% in place, on Zen 3) */
enum { COPY_W_ROWS = 4 * MR };
/* rows of dout backward_weight copies at a time (whole shards) */
enum { W_ROWS = 4 * DS_SHARD_ROWS };

typedef struct {
    __m256i m0, m1; /* lanes 0-7 and 8-15 of a row of 16 */
} row_mask;

INLINE T256 row_mask masks(int nr)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    row_mask m;
    m.m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    m.m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
    return m;
}

/* acc[r][v] += A(r,k) * B(k, 8v + lane) for k in [0, K). ap[r] points at A(r,0); A(r,k) is
 * ap[r][k * aks]. B(k,n) is b[k * ldb + n]; lanes beyond the masks read as 0. */
INLINE T256 void tile_fma(int K, const float *const ap[MR], ptrdiff_t aks, const float *b,
                          ptrdiff_t ldb, row_mask m, int full, __m256 acc[MR][2])
{
    for (int k = 0; k < K; k++) {
        __m256 b0, b1;
        if (full) {
            b0 = _mm256_loadu_ps(b);
            b1 = _mm256_loadu_ps(b + 8);
        } else {
            b0 = _mm256_maskload_ps(b, m.m0);
            b1 = _mm256_maskload_ps(b + 8, m.m1);
        }
        const ptrdiff_t ka = (ptrdiff_t)k * aks;
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 x = _mm256_broadcast_ss(ap[r] + ka);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
        b += ldb;
    }
}

/* rows of a tile: r < mr at a + r * rs, the missing ones repeat row mr - 1 */
INLINE void row_ptrs(const float *ap[MR], const float *a, ptrdiff_t rs, int mr)
{
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) ap[r] = a + (ptrdiff_t)(r < mr ? r : mr - 1) * rs;
}

INLINE T256 void store_row(float *p, row_mask m, int full, __m256 v0, __m256 v1)
{
    if (full) {
        _mm256_storeu_ps(p, v0);
        _mm256_storeu_ps(p + 8, v1);
    } else {
        _mm256_maskstore_ps(p, m.m0, v0);
        _mm256_maskstore_ps(p + 8, m.m1, v1);
    }
}

/* ---------------------------------------------------------------------------------- */
/* forward */

/* z (and relu) for rows b..b+mr-1, columns o..o+nr-1, the I-block k0..k0+kc-1: weight
 * rows at wb (stride ldb), inp rows in place or, when apack is not NULL, copied k-major */
INLINE T256 void fwd_tile_t(const ds_dense_fwd_args *g, int b, int mr, int o, int nr, int k0,
                            int kc, const float *wb, ptrdiff_t ldb, const float *apack,
                            int full)
{
    const int I = g->I, O = g->O;
    const row_mask m = masks(nr);
    __m256 acc[MR][2];
    float *z = g->z + (size_t)b * O + o;
    if (k0 == 0) {
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
        if (g->bias) {
            c0 = _mm256_maskload_ps(g->bias + o, m.m0);
            c1 = _mm256_maskload_ps(g->bias + o + 8, m.m1);
        }
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            acc[r][0] = c0;
            acc[r][1] = c1;
        }
    } else {
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            const float *zr = z + (size_t)(r < mr ? r : mr - 1) * O;
            acc[r][0] = _mm256_maskload_ps(zr, m.m0);
            acc[r][1] = _mm256_maskload_ps(zr + 8, m.m1);
        }
    }
    const float *ap[MR];
    if (apack) {
        row_ptrs(ap, apack, 1, MR);
        tile_fma(kc, ap, MR, wb, ldb, m, full, acc);
    } else {
        row_ptrs(ap, g->inp + (size_t)b * I + k0, I, mr);
        tile_fma(kc, ap, 1, wb, ldb, m, full, acc);
    }
    const int relu = k0 + kc == I && g->a;
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        store_row(z + (size_t)r * O, m, full, acc[r][0], acc[r][1]);
        /* max(z, +0) returns +0 for z = -0 and NaN, as relu in act.c does */
        if (relu)
            store_row(g->a + (size_t)(b + r) * O + o, m, full, _mm256_max_ps(acc[r][0], zero),
                      _mm256_max_ps(acc[r][1], zero));
    }
}

/* one instance for whole tiles, one for edges: each keeps its accumulators in registers */
NOINLINE T256 void fwd_tile_full(const ds_dense_fwd_args *g, int b, int o, int k0, int kc,
                                 const float *wb, ptrdiff_t ldb, const float *apack)
{
    fwd_tile_t(g, b, MR, o, NR, k0, kc, wb, ldb, apack, 1);
}

NOINLINE T256 void fwd_tile_edge(const ds_dense_fwd_args *g, int b, int mr, int o, int nr,
                                 int k0, int kc, const float *wb, ptrdiff_t ldb)
{
    fwd_tile_t(g, b, mr, o, nr, k0, kc, wb, ldb, NULL, 0);
}

/* Stores r (8 rows of 8) transposed: d + j * ldd receives lane j of the 8 rows. */
INLINE T256 void store_transposed_8x8(float *d, ptrdiff_t ldd, const __m256 r[8])
{
    /* t: pairs of rows interleaved; u: four rows' lanes j and j + 4 */
    __m256 t[8], u[8];
    for (int q = 0; q < 4; q++) {
        t[2 * q] = _mm256_unpacklo_ps(r[2 * q], r[2 * q + 1]);
        t[2 * q + 1] = _mm256_unpackhi_ps(r[2 * q], r[2 * q + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3, rows 4-7 */
        u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);     /* lanes 0, 4 */
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);     /* lanes 1, 5 */
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44); /* lanes 2, 6 */
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE); /* lanes 3, 7 */
    }
    for (int j = 0; j < 4; j++) {
        _mm256_storeu_ps(d + (ptrdiff_t)j * ldd, _mm256_permute2f128_ps(u[j], u[4 + j], 0x20));
        _mm256_storeu_ps(d + (ptrdiff_t)(j + 4) * ldd,
                         _mm256_permute2f128_ps(u[j], u[4 + j], 0x31));
    }
}

/* weight^T rows k0..k0+kc-1, columns o..o+nr-1 (kc <= PK; the rest of the panel's
 * 8-row blocks and columns zero) copied to panel[k * NR + n] = weight[(o + n) * I + k0 + k],
 * when the product reads the weight transposed (I x O here is the K x N of the product) */
INLINE T256 void pack_wt_panel(float *panel, const float *weight, int I, int o, int nr, int k0,
                               int kc)
{
    for (int n8 = 0; n8 < NR; n8 += 8) {
        const float *src[8];
#pragma GCC unroll 8
        for (int q = 0; q < 8; q++)
            src[q] = n8 + q < nr ? weight + (size_t)(o + n8 + q) * I + k0 : NULL;
        for (int k = 0; k < kc; k += 8) {
            const __m256i m = masks(kc - k).m0;
            __m256 r[8];
#pragma GCC unroll 8
            for (int q = 0; q < 8; q++)
                r[q] = src[q] ? _mm256_maskload_ps(src[q] + k, m) : _mm256_setzero_ps();
            store_transposed_8x8(panel + (size_t)k * NR + n8, NR, r);
        }
    }
}

/* rows 0..kc-1 of the nr (<= NR) columns at src (rows ld apart) to panel, rows NR apart,
 * zero beyond nr */
INLINE T256 void copy_panel(float *panel, const float *src, ptrdiff_t ld, int kc, int nr)
{
    const row_mask m = masks(nr);
    for (int k = 0; k < kc; k++) {
        const float *s = src + (size_t)k * ld;
        _mm256_store_ps(panel + k * NR, _mm256_maskload_ps(s, m.m0));
        _mm256_store_ps(panel + k * NR + 8, _mm256_maskload_ps(s + 8, m.m1));
    }
}

/* z = inp @ weight for rows [b0,b1) and columns [o0,o1), the weight given transposed with
 * wt (backward_input's dout @ weight^T): blocks of I outermost, one weight panel (kc x 16)
 * for every row tile; with many rows or a transposed weight the panel and (given scratch,
 * many rows) the row tiles are copied first (see dense_avx512.c). */
INLINE T256 void rows_product(const ds_dense_fwd_args *g, int b0, int b1, int o0, int o1,
                              float *scratch, int wt)
{
    const int I = g->I, O = g->O;
    const int pack = b1 - b0 >= DS_PACK_MIN_ROWS;
    float *apack = pack ? scratch : NULL;
    const int copyw = pack || b1 - b0 >= COPY_W_ROWS;
    const int kmax = copyw || wt ? PK : KC;
    const int nk = I > 0 ? (I + kmax - 1) / kmax : 1; /* I = 0 still sets z = bias */
    float panel[PK * NR] __attribute__((aligned(32)));
    int k0 = 0;
    for (int kb = 0; kb < nk; kb++) {
        const int k1 = (int)((long)I * (kb + 1) / nk), kc = k1 - k0;
        if (apack) /* tile t at apack + t * MR * PK, t[k * MR + r] */
            for (int b = b0; b + MR <= b1; b += MR) {
                float *t = apack + (size_t)(b - b0) * PK;
                const float *rows = g->inp + (size_t)b * I + k0;
                for (int q = 0; q < MR; q++)
                    for (int k = 0; k < kc; k++) t[k * MR + q] = rows[(size_t)q * I + k];
            }
        for (int o = o0; o < o1; o += NR) {
            const int nr = o1 - o < NR ? o1 - o : NR;
            const float *wb = g->weight + (size_t)k0 * O + o;
            ptrdiff_t ldb = O;
            if (wt) {
                pack_wt_panel(panel, g->weight, I, o, nr, k0, kc);
                wb = panel;
                ldb = NR;
            } else if (copyw) {
                copy_panel(panel, wb, O, kc, nr);
                wb = panel;
                ldb = NR;
            }
            for (int b = b0; b < b1; b += MR) {
                const int mr = b1 - b < MR ? b1 - b : MR;
                if (mr == MR && nr == NR)
                    fwd_tile_full(g, b, o, k0, kc, wb, ldb,
                                  apack ? apack + (size_t)(b - b0) * PK : NULL);
                else fwd_tile_edge(g, b, mr, o, nr, k0, kc, wb, ldb);
            }
        }
        k0 = k1;
    }
}

T256 static void fwd(const ds_dense_fwd_args *g, int b0, int b1, int o0, int o1,
                     float *scratch)
{
    rows_product(g, b0, b1, o0, o1, scratch, 0);
}

/* the 8 x 8 block in r (row i in r[i]) transposed in place */
INLINE T256 void transpose8_regs(__m256 r[8])
{
    __m256 t[8];
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) { /* pairs of rows interleaved */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) { /* then pairs of pairs: 4 x 4 blocks per lane */
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) { /* the lanes: rows 0-3 low, 4-7 high */
        t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) r[i] = t[i];
}

/* dst (8 x 8, rows ld_d apart) = src (8 x 8, rows ld_s apart) transposed */
INLINE T256 void transpose8(float *dst, size_t ld_d, const float *src, size_t ld_s)
{
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (size_t)i * ld_s);
    transpose8_regs(r);
    for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (size_t)i * ld_d, r[i]);
}

/* ---------------------------------------------------------------------------------- */
/* backward_input: dinp^T = weight @ dout^T, tiles over (i, b) */

/* doutT's columns b..b+nr-1 are at bp, rows ldb apart (doutT itself, or a copy) */
INLINE T256 void bwd_inp_tile_t(const ds_dense_bwd_inp_args *g, int b, int nr, int i, int mr,
                                const float *bp, ptrdiff_t ldb, int full)
{
    const int I = g->I, O = g->O;
    const row_mask m = masks(nr);
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    const float *ap[MR];
    row_ptrs(ap, g->weight + (size_t)i * O, O, mr);
    tile_fma(O, ap, 1, bp, ldb, m, full, acc);
    float *d = g->dinp + (size_t)b * I + i;
    if (full) { /* each half transposed in registers: 16 rows of dinp, 6 floats each */
#pragma GCC unroll 2
        for (int v = 0; v < 2; v++) {
            __m256 t[8];
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) t[r] = acc[r][v];
            t[6] = t[7] = _mm256_setzero_ps();
            transpose8_regs(t);
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                float *dj = d + (size_t)(8 * v + j) * I;
                _mm_storeu_ps(dj, _mm256_castps256_ps128(t[j]));
                _mm_storel_pi((__m64 *)(dj + 4), _mm256_extractf128_ps(t[j], 1));
            }
        }
        return;
    }
    float tmp[MR][NR] __attribute__((aligned(32)));
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm256_store_ps(tmp[r], acc[r][0]);
        _mm256_store_ps(tmp[r] + 8, acc[r][1]);
    }
    for (int j = 0; j < nr; j++)
        for (int r = 0; r < mr; r++) d[(size_t)j * I + r] = tmp[r][j];
}

NOINLINE T256 void bwd_inp_tile_full(const ds_dense_bwd_inp_args *g, int b, int i,
                                     const float *bp, ptrdiff_t ldb)
{
    bwd_inp_tile_t(g, b, NR, i, MR, bp, ldb, 1);
}

NOINLINE T256 void bwd_inp_tile_edge(const ds_dense_bwd_inp_args *g, int b, int nr, int i,
                                     int mr, const float *bp, ptrdiff_t ldb)
{
    bwd_inp_tile_t(g, b, nr, i, mr, bp, ldb, 0);
}

/* backward_input copies doutT's 16-column panels (O x 16) when O is at most this: rows of
 * doutT a multiple of 256 bytes apart share a few cache sets (on Zen 3, 64 x 784 x 256:
 * 75-78% of peak copied, 64% in place; 64 x 256 x 128: 71-72% against 63%) */
enum { BI_COPY_O = 512 };

/* Batches of DS_PACK_MIN_ROWS rows or more compute dinp = dout @ weight^T directly, as
 * forward computes z; smaller ones compute dinp^T from doutT. */
T256 static void bwd_inp(const ds_dense_bwd_inp_args *g, int b0, int b1, int i0, int i1,
                         float *scratch)
{
    if (g->B >= DS_PACK_MIN_ROWS) {
        const ds_dense_fwd_args f = {g->dinp, NULL, g->dout, g->weight, NULL, g->B, g->O, g->I};
        rows_product(&f, b0, b1, i0, i1, scratch, 1);
        return;
    }
    const int B = g->B, O = g->O, copy = O <= BI_COPY_O && i1 - i0 > 2 * MR;
    float panel[BI_COPY_O * NR] __attribute__((aligned(32)));
    for (int b = b0; b < b1; b += NR) {
        int nr = b1 - b < NR ? b1 - b : NR;
        const float *bp = g->doutT + b;
        ptrdiff_t ldb = B;
        if (copy) {
            copy_panel(panel, bp, B, O, nr);
            bp = panel;
            ldb = NR;
        }
        for (int i = i0; i < i1; i += MR) {
            int mr = i1 - i < MR ? i1 - i : MR;
            if (mr == MR && nr == NR) bwd_inp_tile_full(g, b, i, bp, ldb);
            else bwd_inp_tile_edge(g, b, nr, i, mr, bp, ldb);
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* backward_weight: dweight += per shard inp^T @ dout, tiles over (i, o) */

/* one (i, o) tile over rows r0..r0+rows-1 of the batch: each shard in turn, its sum added
 * to (or, the very first with set, stored in) the tile's sums at c (rows ldc apart: dweight
 * or a copy). A(r, k) = inp[(r0 + k) I + i + r] is at a[k * aks + r] (inp in place or a
 * copied tile); dout's columns o..o+15 of these rows are in panel (stride NR). */
INLINE T256 void bwd_w_tile_t(int set, float *c, ptrdiff_t ldc, int mr, int nr, int r0,
                              int rows, const float *a, ptrdiff_t aks, const float *panel,
                              int full)
{
    const row_mask m = masks(nr);
    for (int s0 = r0; s0 < r0 + rows; s0 += DS_SHARD_ROWS) {
        const int ks = r0 + rows - s0 < DS_SHARD_ROWS ? r0 + rows - s0 : DS_SHARD_ROWS;
        __m256 acc[MR][2];
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        const float *ap[MR];
        row_ptrs(ap, a + (s0 - r0) * aks, 1, mr);
        tile_fma(ks, ap, aks, panel + (size_t)(s0 - r0) * NR, NR, m, full, acc);
        const int add = !(set && s0 == 0);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            if (r >= mr) break;
            float *cr = c + r * ldc;
            if (add) {
                __m256 v0, v1;
                if (full) {
                    v0 = _mm256_loadu_ps(cr);
                    v1 = _mm256_loadu_ps(cr + 8);
                } else {
                    v0 = _mm256_maskload_ps(cr, m.m0);
                    v1 = _mm256_maskload_ps(cr + 8, m.m1);
                }
                acc[r][0] = _mm256_add_ps(v0, acc[r][0]);
                acc[r][1] = _mm256_add_ps(v1, acc[r][1]);
            }
            store_row(cr, m, full, acc[r][0], acc[r][1]);
        }
    }
}

NOINLINE T256 void bwd_w_tile_full(int set, float *c, ptrdiff_t ldc, int r0, int rows,
                                   const float *a, ptrdiff_t aks, const float *panel)
{
    bwd_w_tile_t(set, c, ldc, MR, NR, r0, rows, a, aks, panel, 1);
}

NOINLINE T256 void bwd_w_tile_edge(int set, float *c, ptrdiff_t ldc, int mr, int nr, int r0,
                                   int rows, const float *a, ptrdiff_t aks, const float *panel)
{
    bwd_w_tile_t(set, c, ldc, mr, nr, r0, rows, a, aks, panel, 0);
}

/* Tall batches with scratch, blocked as in dense_avx512.c: blocks of WNC columns and WMC
 * rows of dweight summed in a contiguous copy (tiles of MR x NR), blocks of WKC batch rows
 * (whole shards) of inp^T and dout copied, the next block's sources prefetched. */
enum { WKC = 128, WMC = 32 * MR, WNC = 256 };
/* a copied tile of inp^T keeps rows 8 floats apart: whole aligned vectors */
enum { AS = 8 };
#define W_APACK ((size_t)WMC / MR * AS * WKC)
#define W_BPACK ((size_t)WKC * WNC)
#define W_CBUF ((size_t)WMC * WNC)
_Static_assert(WKC % DS_SHARD_ROWS == 0, "blocks of whole shards");
_Static_assert(W_APACK + W_BPACK + W_CBUF + 8 <= DS_PACK_W_FLOATS,
               "scratch for backward_weight");

/* prefetches the lines of rows [r0, r1) of a (stride ld floats), columns [c0, c1) */
INLINE T256 void prefetch_rows(const float *a, size_t ld, int r0, int r1, int c0, int c1)
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
    balanced(i0, i1, MR, (int)nib, (int)(n / nr % nib), &w->ib, &w->ib1);
    w->r0 = (int)(n % nr) * WKC;
    w->rows = B - w->r0 < WKC ? B - w->r0 : WKC;
}

/* dweight's block w to or from cbuf (tile (t, p) at (p * WMC / MR + t) * MR * NR) */
INLINE T256 void cbuf_copy(const ds_dense_bwd_w_args *g, const wblock *w, float *cbuf, int out)
{
    const int O = g->O;
    for (int i = w->ib; i < w->ib1; i++) {
        const int t = (i - w->ib) / MR, r = (i - w->ib) % MR;
        float *d = g->dweight + (size_t)i * O;
        for (int o = w->ob; o < w->ob1; o += NR) {
            float *c = cbuf + ((size_t)(o - w->ob) / NR * (WMC / MR) + t) * MR * NR + r * NR;
            const row_mask m = masks(w->ob1 - o);
            if (out) {
                store_row(d + o, m, w->ob1 - o >= NR, _mm256_load_ps(c), _mm256_load_ps(c + 8));
            } else {
                _mm256_store_ps(c, _mm256_maskload_ps(d + o, m.m0));
                _mm256_store_ps(c + 8, _mm256_maskload_ps(d + o + 8, m.m1));
            }
        }
    }
}

T256 static void bwd_w_packed(const ds_dense_bwd_w_args *g, int i0, int i1, int o0, int o1,
                              float *scratch)
{
    const int B = g->B, I = g->I, O = g->O;
    scratch = (float *)(((uintptr_t)scratch + 31) & ~(uintptr_t)31); /* 32-byte aligned */
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
            for (int i = w.ib; i < w.ib1; i += MR) {
                const int mr = w.ib1 - i < MR ? w.ib1 - i : MR;
                _mm256_store_ps(apack + (size_t)(i - w.ib) / MR * AS * WKC + k * AS,
                                _mm256_maskload_ps(src + i, masks(mr).m0));
            }
            const float *d = g->dout + (size_t)(w.r0 + k) * O;
            for (int o = w.ob; o < w.ob1; o += NR) {
                const row_mask m = masks(w.ob1 - o);
                float *p = bpack + (size_t)(o - w.ob) * WKC + k * NR;
                _mm256_store_ps(p, _mm256_maskload_ps(d + o, m.m0));
                _mm256_store_ps(p + 8, _mm256_maskload_ps(d + o + 8, m.m1));
            }
        }
        /* every tile whole (the copies are padded with zeros); each call also fetches
         * its share of the next block's sources (`step` rows), and of its part of dweight
         * (`wstep` rows) when that is new */
        const int n_tiles = (w.ib1 - w.ib + MR - 1) / MR;
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
                    bwd_w_tile_full(g->set, cbuf + ((size_t)p * (WMC / MR) + t) * MR * NR, NR,
                                    w.r0, w.rows, at, AS, bt);
                } else {
                    const int i = w.ib + t * MR, o = w.ob + p * NR;
                    const int mr = w.ib1 - i < MR ? w.ib1 - i : MR;
                    const int nr = w.ob1 - o < NR ? w.ob1 - o : NR;
                    float *c = g->dweight + (size_t)i * O + o;
                    if (mr == MR && nr == NR)
                        bwd_w_tile_full(g->set, c, O, w.r0, w.rows, at, AS, bt);
                    else bwd_w_tile_edge(g->set, c, O, mr, nr, w.r0, w.rows, at, AS, bt);
                }
            }
        }
        if (sum_in_cbuf && w.r0 + w.rows == B) cbuf_copy(g, &w, cbuf, 1);
    }
}

/* Otherwise, for each column panel, W_ROWS rows of dout at a time are first copied to a
 * contiguous buffer that serves every row tile from L1, and inp is read in place; the
 * copies are made only where they pay (see dense_avx512.c). */
T256 static void bwd_w(const ds_dense_bwd_w_args *g, int i0, int i1, int o0, int o1,
                       float *scratch)
{
    const int B = g->B, I = g->I, O = g->O;
    if (i0 >= i1 || o0 >= o1) return;
    if (scratch && B >= DS_PACK_MIN_ROWS && (I % 512 == 0 || O % 1024 == 0)) {
        bwd_w_packed(g, i0, i1, o0, o1, scratch);
        return;
    }
    float panel[W_ROWS * NR] __attribute__((aligned(32)));
    for (int o = o0; o < o1; o += NR) {
        const int nr = o1 - o < NR ? o1 - o : NR;
        const row_mask m = masks(nr);
        for (int r0 = 0; r0 < B; r0 += W_ROWS) {
            const int rows = B - r0 < W_ROWS ? B - r0 : W_ROWS;
            for (int r = 0; r < rows; r++) {
                const float *src = g->dout + (size_t)(r0 + r) * O + o;
                _mm256_store_ps(panel + r * NR, _mm256_maskload_ps(src, m.m0));
                _mm256_store_ps(panel + r * NR + 8, _mm256_maskload_ps(src + 8, m.m1));
            }
            for (int i = i0; i < i1; i += MR) {
                const int mr = i1 - i < MR ? i1 - i : MR;
                const float *a = g->inp + (size_t)r0 * I + i;
                float *c = g->dweight + (size_t)i * O + o;
                if (mr == MR && nr == NR) bwd_w_tile_full(g->set, c, O, r0, rows, a, I, panel);
                else bwd_w_tile_edge(g->set, c, O, mr, nr, r0, rows, a, I, panel);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* relu backward, and the transposed copy backward_input reads */

T256 static void relu_bwd(float *g, const float *z, float *gT, int B, int O, int o0, int o1)
{
    const __m256 zero = _mm256_setzero_ps();
    /* z > 0 is false for NaN and -0, which then give +0, as act.c's relu backward */
    for (int b = 0; b < B; b++) {
        float *gr = g + (size_t)b * O;
        const float *zr = z + (size_t)b * O;
        int o = o0;
        for (; o + 8 <= o1; o += 8) {
            __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(zr + o), zero, _CMP_GT_OQ);
            _mm256_storeu_ps(gr + o, _mm256_and_ps(pos, _mm256_loadu_ps(gr + o)));
        }
        for (; o < o1; o++) gr[o] = zr[o] > 0.0f ? gr[o] : 0.0f;
    }
    if (!gT) return;
    enum { T = 8 };
    for (int b0 = 0; b0 < B; b0 += T)
        for (int c0 = o0; c0 < o1; c0 += T) {
            int b1 = b0 + T < B ? b0 + T : B, c1 = c0 + T < o1 ? c0 + T : o1;
            if (b1 - b0 == T && c1 - c0 == T) {
                transpose8(gT + (size_t)c0 * B + b0, B, g + (size_t)b0 * O + c0, O);
                continue;
            }
            for (int o = c0; o < c1; o++)
                for (int b = b0; b < b1; b++) gT[(size_t)o * B + b] = g[(size_t)b * O + o];
        }
}

const ds_dense_kernels ds_dense_kernels_avx2 = {DS_KERNEL_AVX2, DS_PACK_MIN_ROWS, fwd,
                                                bwd_inp, bwd_w, relu_bwd,
                                                &ds_sparse_kernels_avx2};

#else
typedef int ds_dense_avx2_empty; /* ISO C wants something in a translation unit */
#endif
