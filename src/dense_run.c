/*
 * dense_run.c - running a dense layer's products for a model: which kernel computes them
 * and how they are split among the model's threads.
 *
 * Layers too small to gain (DS_FAST_MIN_WEIGHTS, DS_FAST_MIN_UNITS in descent.h) run the
 * reference kernels of dense.c on the calling thread, as do products of fewer than
 * DS_PAR_MIN_WORK multiply-adds when there are threads. Otherwise a product is cut into
 * rectangles of its result, one per thread, run as tasks of the model's pool (task t goes
 * first to thread t, so a thread keeps the same part of a layer from step to step).
 * Every kernel computes each element the same way whatever rectangle holds it, so the
 * split changes no bit (see internal.h); the choice of kernel depends only on the layer's
 * shape and the model's setting, never on the number of threads. The optimizer's update
 * of a layer runs in the same tasks, as soon as nothing reads the layer's weights.
 */
#include "internal.h"

#include <string.h>

/* Rectangles are cut along multiples of these, which suit every kernel's tiles. */
enum { ROW_UNIT = 8, COL_UNIT = 32 };

/* [lo, hi) of part p of n items cut into `parts` runs of whole units, balanced */
static void cut(int n, int unit, int parts, int p, int *lo, int *hi)
{
    int units = (n + unit - 1) / unit;
    int a = (int)((long)units * p / parts), b = (int)((long)units * (p + 1) / parts);
    *lo = a * unit < n ? a * unit : n;
    *hi = b * unit < n ? b * unit : n;
}

static int fast_shape(const ds_exec *x, int I, int O)
{
    return x && x->kern && (long)I * O >= DS_FAST_MIN_WEIGHTS && O >= DS_FAST_MIN_UNITS;
}

/* how many parts to cut a product of `work` multiply-adds into */
static int parts_for(const ds_exec *x, long work)
{
    int t = ds_pool_parts(x->pool);
    return (t > 1 && work >= DS_PAR_MIN_WORK) ? t : 1;
}

/* ---------------------------------------------------------------------------------- */
/* forward */

typedef struct {
    const ds_dense_kernels *kern;
    const ds_exec *x;
    const ds_sparsity *sp; /* skip inp's zeros, or NULL */
    ds_dense_fwd_args g;
    const ds_activation *act; /* applied per rectangle when elementwise, else NULL */
    ds_keras_version kv;
    float *a;
    int row_parts, col_parts;
} fwd_job;

static void fwd_task(void *ctx, int t, int thread)
{
    const fwd_job *j = ctx;
    int b0, b1, o0, o1;
    cut(j->g.B, ROW_UNIT, j->row_parts, t / j->col_parts, &b0, &b1);
    cut(j->g.O, COL_UNIT, j->col_parts, t % j->col_parts, &o0, &o1);
    if (b0 == b1 || o0 == o1) return;
    if (j->sp)
        j->kern->sparse->forward(&j->g, j->sp, b0, b1, o0, o1,
                                 j->x->sparse + (size_t)thread * j->x->sparse_stride);
    else
        j->kern->forward(&j->g, b0, b1, o0, o1,
                         j->x->pack ? j->x->pack + (size_t)thread * j->x->pack_stride : NULL);
    if (j->act) { /* elementwise: each row piece on its own */
        const size_t O = (size_t)j->g.O;
        for (int b = b0; b < b1; b++)
            ds_act_forward(j->act, j->kv, j->a + b * O + o0, j->g.z + b * O + o0, 1, o1 - o0);
    }
}

void ds_dense_forward_run(const ds_exec *x, const ds_activation *act, ds_keras_version kv,
                          float *z, float *a, const float *inp, const float *weight,
                          const float *bias, int B, int I, int O, const ds_sparsity *sp)
{
    if (!fast_shape(x, I, O)) {
        ds_dense_forward(z, inp, weight, bias, B, I, O);
        ds_act_forward(act, kv, a, z, B, O);
        return;
    }
    fwd_job j;
    j.kern = x->kern;
    j.x = x;
    j.sp = sp && sp->fwd && sp->B == B ? sp : NULL; /* sp: prepared for this batch */
    j.g = (ds_dense_fwd_args){z, NULL, inp, weight, bias, B, I, O};
    j.act = NULL;
    j.kv = kv;
    j.a = a;
    if (act->kind == DS_ACT_RELU) j.g.a = a; /* fused into the kernel's stores */
    else if (act->kind != DS_ACT_SOFTMAX) j.act = act;
    int parts = parts_for(x, (long)B * I * O);
    /* a quarter of that is still worth cutting by rows when no other work runs beside
     * it (784-256-128-10's last layer on 2 threads: 9.0-10.3 us against 10.6-12.5) */
    if (parts == 1 && (long)B * I * O >= DS_PAR_MIN_WORK / 4 && B >= 2 * ROW_UNIT)
        parts = ds_pool_parts(x->pool);
    int col_units = (O + COL_UNIT - 1) / COL_UNIT;
    j.col_parts = parts < col_units ? parts : col_units;
    /* skipping zeros, outputs that fit one panel are cut by rows, so that each thread
     * reads the packed panels whole (cut by columns, it would copy its part of them):
     * 784-256-128-10's second layer, 2 threads, 0.80 of the time */
    if (j.sp && O <= DS_SPARSE_PANEL) j.col_parts = 1;
    j.row_parts = (parts + j.col_parts - 1) / j.col_parts;
    ds_pool_run(parts > 1 ? x->pool : NULL, j.row_parts * j.col_parts, fwd_task, &j);
    if (act->kind == DS_ACT_SOFTMAX) ds_act_forward(act, kv, a, z, B, O);
}

/* ---------------------------------------------------------------------------------- */
/* optimizer updates */

/* Rows [i0, i1) of a layer's kernel take their update, and with `bias` its bias; with
 * u->pack, PACK_ROWS rows at a time, each block packed for forward while in cache. */
enum { PACK_ROWS = 16 };
static void update_rows(const ds_update *u, int i0, int i1, int bias)
{
    const size_t row = (size_t)u->O;
    if (u->pack) {
        for (int k0 = i0; k0 < i1; k0 += PACK_ROWS) {
            const int k1 = i1 - k0 < PACK_ROWS ? i1 : k0 + PACK_ROWS;
            ds_optim_update(u->opt, u->params, u->grads, u->w_off + (size_t)k0 * row,
                            u->w_off + (size_t)k1 * row);
            u->packer->pack_rows(u->pack->wpack, u->params + u->w_off, u->I, u->O, k0, k1);
        }
        if (bias && u->b_off >= 0)
            ds_optim_update(u->opt, u->params, u->grads, (size_t)u->b_off,
                            (size_t)u->b_off + row);
        return;
    }
    size_t lo = u->w_off + (size_t)i0 * row, hi = u->w_off + (size_t)i1 * row;
    bias = bias && u->b_off >= 0;
    if (bias && (size_t)u->b_off == hi) { /* the bias follows the kernel: one range */
        hi += row;
        bias = 0;
    }
    if (lo < hi) ds_optim_update(u->opt, u->params, u->grads, lo, hi);
    if (bias)
        ds_optim_update(u->opt, u->params, u->grads, (size_t)u->b_off, (size_t)u->b_off + row);
}

/* Part u of a layer's update: the rows part u of its backward_weight computed, so that the
 * thread that has those gradients in cache updates them; the bias with the last part. */
static void update_part(const ds_update *u, int part)
{
    int i0, i1;
    cut(u->I, ROW_UNIT, u->parts, part, &i0, &i1);
    update_rows(u, i0, i1, part == u->parts - 1);
}

static int update_parts(const ds_update *u) { return u->opt ? u->parts : 0; }

static void update_task(void *ctx, int t, int thread)
{
    (void)thread;
    update_part(ctx, t);
}

void ds_update_run(const ds_exec *x, const ds_update *u)
{
    int n = update_parts(u);
    ds_pool_run(n > 1 ? x->pool : NULL, n, update_task, (void *)u);
}

/* ---------------------------------------------------------------------------------- */
/* backward */

/* Tasks of a backward run, numbered so that part t of each piece of work goes first to
 * thread t (see pool.c): [0, P) dinp by columns i, [P, 2P) dweight by rows i (the last
 * also dbias; with the layer's own update when nothing reads its weights any more), then
 * [2P, 2P + U) another layer's update, cut as that layer's dweight was. Thread t thus
 * keeps the same rows of every layer's gradients and optimizer state from step to step.
 * (Cutting dweight by columns, as forward cuts its output, measured slower: the updates
 * then run over short strided rows.) */
typedef struct {
    const ds_dense_kernels *kern;
    const ds_exec *x;
    ds_dense_bwd_inp_args gi;
    ds_dense_bwd_w_args gw;
    float *dbias;
    const ds_sparsity *sp;    /* dweight skips inp's zeros, or NULL */
    const ds_update *own;     /* applied in the dweight tasks, or NULL */
    const ds_update *pending; /* another layer's update, run alongside, or NULL */
    const float *below_relu;  /* ds_dense_bwd's */
    float *below_T;
    int inp_parts, w_parts, upd_parts;
    const ds_balance *bal; /* dweight's cut, or NULL: even */
    double *took;          /* with bal: each task's seconds, or NULL */
} bwd_job;

/* dbias (O) += column sums of dout per shard, added in shard order (as dense.c); with
 * set, the first shard's sums are stored (as if dbias were zeroed first) */
static void bias_grad(float *dbias, const float *dout, int B, int O, int set)
{
    enum { CHUNK = 256 };
    float p[CHUNK];
    for (int c0 = 0; c0 < O; c0 += CHUNK) {
        int w = O - c0 < CHUNK ? O - c0 : CHUNK;
        for (int s0 = 0; s0 < B; s0 += DS_SHARD_ROWS) {
            int s1 = B - s0 < DS_SHARD_ROWS ? B : s0 + DS_SHARD_ROWS;
            memset(p, 0, sizeof(float) * (size_t)w);
            for (int b = s0; b < s1; b++) {
                const float *g = dout + (size_t)b * O + c0;
                for (int j = 0; j < w; j++) p[j] += g[j];
            }
            if (set && s0 == 0) memcpy(dbias + c0, p, sizeof(float) * (size_t)w);
            else
                for (int j = 0; j < w; j++) dbias[c0 + j] += p[j];
        }
    }
}

/* ---- following the work: ds_balance (internal.h) ---- */

/* bl holds an even cut of n rows into `parts` unless it already holds one for them */
static void balance_reset(ds_balance *bl, int n, int parts)
{
    const int units = (n + ROW_UNIT - 1) / ROW_UNIT;
    if (bl->parts == parts && bl->units == units) return;
    bl->parts = parts;
    bl->units = units;
    for (int p = 0; p <= parts; p++) bl->at[p] = (int)((long)units * p / parts);
}

/* [lo, hi) of part p of n rows as bl cuts them (NULL: evenly) */
static void balance_cut(const ds_balance *bl, int n, int parts, int p, int *lo, int *hi)
{
    if (!bl) {
        cut(n, ROW_UNIT, parts, p, lo, hi);
        return;
    }
    *lo = bl->at[p] * ROW_UNIT < n ? bl->at[p] * ROW_UNIT : n;
    *hi = bl->at[p + 1] * ROW_UNIT < n ? bl->at[p + 1] * ROW_UNIT : n;
}

/* After a run whose part p took busy[p] seconds in all (its tasks of every kind): each
 * boundary moves one unit of rows from the part that took longer to its neighbour when
 * the two differ by more than one unit's worth of the longer part's time; every part
 * keeps at least one unit. A single late run moves a boundary by one unit only. */
void ds_balance_adjust(ds_balance *bl, const double *busy)
{
    for (int p = 1; p < bl->parts; p++) {
        const double a = busy[p - 1], b = busy[p];
        const int na = bl->at[p] - bl->at[p - 1], nb = bl->at[p + 1] - bl->at[p];
        if (a > b && na > 1 && a - b > a / na) bl->at[p]--;
        else if (b > a && nb > 1 && b - a > b / nb) bl->at[p]++;
    }
}

static void bwd_work(const bwd_job *j, int t, int thread, float *scratch)
{
    int lo, hi;
    if (t < j->inp_parts) { /* dinp columns i, masked for the relu below */
        cut(j->gi.I, ROW_UNIT, j->inp_parts, t, &lo, &hi);
        if (lo == hi) return;
        j->kern->backward_input(&j->gi, 0, j->gi.B, lo, hi, scratch);
        if (j->below_relu)
            j->kern->relu_backward(j->gi.dinp, j->below_relu, j->below_T, j->gi.B, j->gi.I, lo,
                                   hi);
        return;
    }
    t -= j->inp_parts;
    if (t < j->w_parts) { /* dweight rows i (and dbias), then their update */
        const int last = t == j->w_parts - 1;
        balance_cut(j->bal, j->gw.I, j->w_parts, t, &lo, &hi);
        if (j->sp)
            j->kern->sparse->backward_weight(&j->gw, j->sp, lo, hi, 0, j->gw.O,
                                             j->x->sparse + (size_t)thread * j->x->sparse_stride);
        else if (lo < hi)
            j->kern->backward_weight(&j->gw, lo, hi, 0, j->gw.O, scratch);
        if (last && j->dbias) bias_grad(j->dbias, j->gw.dout, j->gw.B, j->gw.O, j->gw.set);
        if (j->own) update_rows(j->own, lo, hi, last);
        return;
    }
    update_part(j->pending, t - j->w_parts);
}

static void bwd_task(void *ctx, int t, int thread)
{
    const bwd_job *j = ctx;
    float *scratch = j->x->pack ? j->x->pack + (size_t)thread * j->x->pack_stride : NULL;
    const double t0 = j->took ? ds_seconds_now() : 0.0;
    bwd_work(j, t, thread, scratch);
    if (j->took) j->took[t] = ds_seconds_now() - t0;
}

/* doutT (O,B) = dout (B,O)^T, in blocks that stay in cache */
static void transpose(float *doutT, const float *dout, int B, int O)
{
    enum { T = 16 };
    for (int b0 = 0; b0 < B; b0 += T)
        for (int o0 = 0; o0 < O; o0 += T) {
            int b1 = b0 + T < B ? b0 + T : B, o1 = o0 + T < O ? o0 + T : O;
            for (int o = o0; o < o1; o++)
                for (int b = b0; b < b1; b++) doutT[(size_t)o * B + b] = dout[(size_t)b * O + o];
        }
}

int ds_dense_reads_doutT(const ds_exec *x, int B, int I, int O, int dinp)
{
    return fast_shape(x, I, O) && dinp && B < x->kern->doutT_below;
}

/* dinp = relu'(z) dinp for the layer below, and its transpose when asked, for a layer
 * that ran on the reference kernels */
static void mask_below(const ds_exec *x, const ds_dense_bwd *b)
{
    if (x && x->kern) {
        x->kern->relu_backward(b->dinp, b->below_relu, b->below_T, b->B, b->I, 0, b->I);
        return;
    }
    static const ds_activation relu = {DS_ACT_RELU, 0.0f};
    ds_act_backward(&relu, b->kv, b->dinp, b->dinp, b->below_relu, NULL, b->B, b->I);
    if (b->below_T) transpose(b->below_T, b->dinp, b->B, b->I);
}

int ds_dense_backward_parts(const ds_exec *x, int B, int I, int O)
{
    return fast_shape(x, I, O) ? parts_for(x, (long)B * I * O) : 1;
}

void ds_dense_backward_run(const ds_exec *x, const ds_dense_bwd *b)
{
    const int B = b->B, I = b->I, O = b->O;
    const int fast = fast_shape(x, I, O);
    const int relu = !b->g_is_dz && b->act->kind == DS_ACT_RELU;
    const int transposed = ds_dense_reads_doutT(x, B, I, O, b->dinp != NULL);
    const ds_update *own = b->own.opt && !b->dinp ? &b->own : NULL;
    if (fast && relu) {
        x->kern->relu_backward(b->g, b->z, transposed ? b->doutT : NULL, B, O, 0, O);
    } else {
        if (!b->g_is_dz) ds_act_backward(b->act, b->kv, b->g, b->g, b->z, b->a, B, O);
        if (transposed && !(b->g_is_dz && b->doutT_ready)) transpose(b->doutT, b->g, B, O);
    }
    if (!fast) {
        if (b->zero_first) {
            memset(b->dweight, 0, sizeof(float) * (size_t)I * (size_t)O);
            if (b->dbias) memset(b->dbias, 0, sizeof(float) * (size_t)O);
        }
        ds_dense_backward(b->dinp, b->dweight, b->dbias, b->g, b->inp, b->weight, b->scratch, B,
                          I, O);
        if (b->dinp && b->below_relu) mask_below(x, b);
        ds_update_run(x, &b->pending);
        if (own) ds_update_run(x, own);
        return;
    }
    bwd_job j;
    j.kern = x->kern;
    j.x = x;
    j.gi = (ds_dense_bwd_inp_args){b->dinp, b->g, b->doutT, b->weight, B, I, O};
    j.gw = (ds_dense_bwd_w_args){b->dweight, b->inp, b->g, B, I, O, b->zero_first};
    j.dbias = b->dbias;
    j.sp = b->sp && b->sp->bwd && b->sp->B == B && ds_sparsity_eligible(x, I, O) ? b->sp : NULL;
    j.own = own;
    j.pending = &b->pending;
    j.below_relu = b->dinp ? b->below_relu : NULL;
    j.below_T = b->below_T;
    int parts = parts_for(x, (long)B * I * O);
    j.inp_parts = b->dinp ? parts : 0;
    j.w_parts = parts;
    j.upd_parts = update_parts(&b->pending);
    int n = j.inp_parts + j.w_parts + j.upd_parts;
    /* a layer too small to cut still runs dinp and dweight side by side (784-256-128-10's
     * last layer on 2 threads: 17 us a step against 23) */
    const int side = parts == 1 && n > 1 && (long)B * I * O >= DS_PAR_MIN_WORK / 4 &&
                     ds_pool_parts(x->pool) > 1;
    /* dweight cut where the last runs put it: part p's tasks (dinp p, dweight p, the
     * pending update's part p) are what thread p runs first, so their times, summed,
     * say which thread waited for the other */
    double took[DS_POOL_MAX_TASKS];
    j.bal = NULL;
    j.took = NULL;
    if (b->bal && parts > 1 && (I + ROW_UNIT - 1) / ROW_UNIT >= 2 * parts &&
        n <= DS_POOL_MAX_TASKS) {
        balance_reset(b->bal, I, parts);
        j.bal = b->bal;
        j.took = took;
    }
    ds_pool_run(parts > 1 || j.upd_parts > 1 || side ? x->pool : NULL, n, bwd_task, &j);
    if (j.took) {
        double busy[DS_MAX_THREADS] = {0};
        for (int t = 0; t < n; t++) {
            const int part = t < j.inp_parts               ? t
                            : t < j.inp_parts + j.w_parts ? t - j.inp_parts
                                                          : t - j.inp_parts - j.w_parts;
            if (part < parts) busy[part] += took[t];
        }
        ds_balance_adjust(b->bal, busy);
    }
}
