/*
 * sparsity.c - which inputs of a batch are zero, and whether a dense layer's products
 * should skip them (see "skipping zero inputs" in internal.h).
 *
 * Before a layer's forward product, its input batch is described (one pass, cut among
 * the model's threads by blocks of rows) and the zero-skipping products are chosen when
 * they leave out enough of the terms: at most DS_SPARSE_MAX_DENSITY of the dense kernel's
 * work. A layer whose inputs turn out dense is not described again for the next
 * SPARSE_IDLE batches, so dense data pays for one pass in 64. Either way the results are
 * the same bits: only the time changes.
 */
#include "internal.h"

#include <stdlib.h>

enum { SPARSE_IDLE = 63 };

void ds_sparsity_free(ds_sparsity *sp)
{
    if (!sp) return;
    free(sp->rows);
    free(sp->len);
    free(sp->idx);
    free(sp->val);
    free(sp->bits);
    free(sp->wpack);
    free(sp->mask);
    free(sp);
}

ds_sparsity *ds_sparsity_create(int rows, int I, int O)
{
    ds_sparsity *sp = calloc(1, sizeof *sp);
    if (!sp) return NULL;
    size_t blocks = ((size_t)rows + DS_SPARSE_BLOCK - 1) / DS_SPARSE_BLOCK;
    size_t pairs = blocks * (DS_SPARSE_BLOCK / 2);
    sp->stride = (size_t)I + 16;
    sp->words = ((size_t)I + 63) / 64;
    sp->rows = malloc(sizeof(int) * 2 * pairs);
    sp->len = calloc(pairs, sizeof(int));
    sp->idx = malloc(sizeof(int) * pairs * sp->stride);
    sp->val = malloc(sizeof(float) * 2 * pairs * sp->stride);
    sp->bits = malloc(sizeof(uint64_t) * blocks * DS_SPARSE_BLOCK * sp->words);
    sp->mask = malloc(sizeof(uint32_t) * blocks * (size_t)I);
    size_t panels = ((size_t)O + DS_SPARSE_PANEL - 1) / DS_SPARSE_PANEL;
    /* 64-byte aligned for the kernels' aligned loads (the size is a multiple of 512) */
    sp->wpack = aligned_alloc(64, sizeof(float) * panels * (size_t)I * DS_SPARSE_PANEL);
    sp->O = O;
    if (!sp->rows || !sp->len || !sp->idx || !sp->val || !sp->bits || !sp->mask || !sp->wpack) {
        ds_sparsity_free(sp);
        return NULL;
    }
    sp->cap_rows = rows;
    sp->cap_cols = I;
    return sp;
}

int ds_sparsity_eligible(const ds_exec *x, int I, int O)
{
    return x && x->skip_zeros && x->kern && x->kern->sparse && x->sparse &&
           ds_sparsity_shape(I, O);
}

typedef struct {
    ds_sparsity *sp;
    const ds_sparse_kernels *k;
    const float *inp;
    int B, parts;
    long fwd[DS_MAX_THREADS], bwd[DS_MAX_THREADS];
} build_job;

static void build_task(void *ctx, int t, int thread)
{
    (void)thread;
    build_job *j = ctx;
    const int blocks = (j->B + DS_SPARSE_BLOCK - 1) / DS_SPARSE_BLOCK;
    const int s0 = (int)((long)blocks * t / j->parts), s1 = (int)((long)blocks * (t + 1) / j->parts);
    const int r0 = s0 * DS_SPARSE_BLOCK;
    const int r1 = s1 * DS_SPARSE_BLOCK < j->B ? s1 * DS_SPARSE_BLOCK : j->B;
    j->fwd[t] = j->bwd[t] = 0;
    if (r0 < r1) j->k->build(j->sp, j->inp, r0, r1, &j->fwd[t], &j->bwd[t]);
}

void ds_sparsity_prepare(const ds_exec *x, ds_sparsity *sp, const float *inp, int B, int I)
{
    sp->fwd = sp->bwd = 0;
    sp->B = B;
    sp->I = I;
    if (B < 2 || B > sp->cap_rows || I != sp->cap_cols) return;
    if (sp->idle > 0) {
        sp->idle--;
        return;
    }
    build_job j;
    j.sp = sp;
    j.k = x->kern->sparse;
    j.inp = inp;
    j.B = B;
    const int blocks = (B + DS_SPARSE_BLOCK - 1) / DS_SPARSE_BLOCK;
    int parts = ds_pool_parts(x->pool);
    /* (784-256-128-10's second layer, 64 x 256, on 2 threads: 9.2-13.0 us against
     * 12.4-14.8 on one, since its forward is cut by the same blocks of rows) */
    if ((long)B * I < DS_PAR_MIN_WORK / 32) parts = 1;
    j.parts = parts < blocks ? parts : blocks;
    ds_pool_run(j.parts > 1 ? x->pool : NULL, j.parts, build_task, &j);
    long ft = 0, bt = 0;
    for (int t = 0; t < j.parts; t++) {
        ft += j.fwd[t];
        bt += j.bwd[t];
    }
    /* the dense kernels compute B x I terms per output column (the pairs and column pairs
     * count the same way, with a missing partner as zeros) */
    const double dense = 2.0 * ((B + 1) / 2) * (double)I;
    sp->fwd = (double)ft <= DS_SPARSE_MAX_DENSITY * dense;
    const double bwd_dense = (double)B * 2.0 * ((I + 1) / 2);
    sp->bwd = (double)bt <= DS_SPARSE_MAX_DENSITY * bwd_dense;
    /* far from worth it (not merely near the bound): leave the next batches dense */
    if ((double)ft > 0.9 * dense && (double)bt > 0.9 * bwd_dense) sp->idle = SPARSE_IDLE;
}

