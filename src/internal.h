/*
 * internal.h - private declarations shared by the library's modules and its tests.
 * Users include only descent.h; nothing here is a stable interface.
 */
#ifndef DS_INTERNAL_H
#define DS_INTERNAL_H

#include "descent.h"

#include <stdarg.h>

/* ---- errors (status.c) ---- */

/* Fills err (when not NULL) with status s and a printf-style message; returns s. */
ds_status ds_fail(ds_error *err, ds_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void ds_error_clear(ds_error *err);

/* Case-insensitive ASCII comparison, for name parsing. */
int ds_streq_nocase(const char *a, const char *b);

/* ---- activations (act.c) ---- */

/* out = act(z) over n rows of width w; row-wise for softmax. z and out may alias. */
void ds_act_forward(const ds_activation *a, ds_keras_version kv, float *out, const float *z,
                    int n, int w);
/* dz = act'(z) * dout (Jacobian product for softmax), given z and out = act(z).
 * dz is overwritten (not accumulated): the pre-activation gradient is a temporary. */
void ds_act_backward(const ds_activation *a, ds_keras_version kv, float *dz,
                     const float *dout, const float *z, const float *out, int n, int w);

/* ---- dense layer kernels (dense.c) ---- */

/* out (B,O) = inp (B,I) @ weight (I,O) + bias (O). bias may be NULL. */
void ds_dense_forward(float *out, const float *inp, const float *weight, const float *bias,
                      int B, int I, int O);
/* dinp (B,I) = dout (B,O) @ weight^T (overwritten; skipped when dinp is NULL);
 * dweight (I,O) += inp^T @ dout and dbias (O) += column sums of dout, computed per shard of
 * DS_SHARD_ROWS rows into `scratch` (I*O + O floats) and added in shard order. */
void ds_dense_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                       const float *inp, const float *weight, float *scratch, int B, int I,
                       int O);

/* ---- fast dense kernels (dense_portable.c, dense_avx2.c, dense_avx512.c) ----
 * The three products of a dense layer, each computing one rectangle of its result so
 * that a product can be split among threads. Every kernel computes each result element
 * with the same sequence of operations wherever the rectangle's edges fall, so results
 * never depend on how a product is split:
 *   forward:         z[b,o] = bias[o], then z[b,o] += inp[b,i] * weight[i,o] for i = 0..I-1
 *   backward_input:  dinp[b,i] = 0, then dinp[b,i] += dout[b,o] * weight[i,o] for o = 0..O-1
 *   backward_weight: for each shard of DS_SHARD_ROWS rows in order, p = 0,
 *                    p += inp[b,i] * dout[b,o] over the shard's rows b, then dweight[i,o] += p
 * The portable kernels round each product and sum (the reference bits, as
 * ds_dense_forward / ds_dense_backward); the AVX2 and AVX-512 kernels fuse each
 * multiply-add (one rounding), so they agree with each other but not with portable. */

typedef struct {
    float *z;            /* (B,O) out: pre-activation */
    float *a;            /* (B,O) out: relu(z) when not NULL (fused activation) */
    const float *inp;    /* (B,I) */
    const float *weight; /* (I,O) */
    const float *bias;   /* (O) or NULL */
    int B, I, O;
} ds_dense_fwd_args;

typedef struct {
    float *dinp;         /* (B,I) out, overwritten */
    const float *dout;   /* (B,O) */
    const float *doutT;  /* (O,B): dout transposed, when B < the kernel's doutT_below */
    const float *weight; /* (I,O) */
    int B, I, O;
} ds_dense_bwd_inp_args;

typedef struct {
    float *dweight;    /* (I,O) in/out: += (set: =) */
    const float *inp;  /* (B,I) */
    const float *dout; /* (B,O) */
    int B, I, O;
    int set; /* store rather than add the first shard: the bits of zeroing first, since a
              * shard's sum, started at +0, is never -0 */
} ds_dense_bwd_w_args;

/* Packing. Products over DS_PACK_MIN_ROWS batch rows or more may copy blocks of their
 * operands to a per-thread scratch buffer of ds_pack_floats(rows) floats (rows: the batch
 * rows B of the product, or b1 - b0 for forward), so that rows whose stride is a multiple
 * of 4 KB do not fight over the same cache sets:
 *   forward          blocks of inp, DS_PACK_K columns of every row at a time
 *   backward_input   blocks of dout, the same way (dinp = dout @ weight^T directly)
 *   backward_weight  blocks of inp^T and dout, at most DS_PACK_W_FLOATS floats
 * Scratch NULL copies nothing (or only to small stack buffers): slower, the same bits. */
#define DS_PACK_MIN_ROWS 128
#define DS_PACK_K 128
/* the longest block of I any kernel copies (dense_avx2.c's; dense_avx512.c's is DS_PACK_K) */
#define DS_PACK_K_MAX 256
#define DS_PACK_W_FLOATS ((size_t)120 * 1024)
static inline size_t ds_pack_floats(int rows)
{
    size_t f = ((size_t)rows + 16) * DS_PACK_K_MAX;
    return f > DS_PACK_W_FLOATS ? f : DS_PACK_W_FLOATS;
}

typedef struct {
    ds_kernel kind;
    /* backward_input reads doutT rather than dout for batches of fewer rows than this
     * (0: never) */
    int doutT_below;
    /* z, a for rows [b0,b1) and columns [o0,o1); scratch: ds_pack_floats(b1 - b0) floats
     * or NULL (then nothing is copied) */
    void (*forward)(const ds_dense_fwd_args *g, int b0, int b1, int o0, int o1,
                    float *scratch);
    /* dinp for rows [b0,b1) and columns [i0,i1); scratch: ds_pack_floats(g->B) floats or
     * NULL */
    void (*backward_input)(const ds_dense_bwd_inp_args *g, int b0, int b1, int i0, int i1,
                           float *scratch);
    /* dweight rows [i0,i1) and columns [o0,o1); scratch: ds_pack_floats(g->B) floats or
     * NULL */
    void (*backward_weight)(const ds_dense_bwd_w_args *g, int i0, int i1, int o0, int o1,
                            float *scratch);
    /* relu's backward in place over columns [o0,o1), g (B,O) = z > 0 ? g : 0 (act.c's
     * bits), and rows [o0,o1) of gT (O,B) = the result transposed when gT is not NULL */
    void (*relu_backward)(float *g, const float *z, float *gT, int B, int O, int o0, int o1);
    /* the zero-skipping products (see ds_sparsity below), or NULL when these kernels
     * have none */
    const struct ds_sparse_kernels *sparse;
} ds_dense_kernels;

extern const ds_dense_kernels ds_dense_kernels_portable;
/* (-DDS_NO_X86_KERNELS builds the portable kernels alone, as on other processors) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DS_NO_X86_KERNELS)
#define DS_HAVE_X86_KERNELS 1
extern const ds_dense_kernels ds_dense_kernels_avx2;
extern const ds_dense_kernels ds_dense_kernels_avx512;
extern const struct ds_sparse_kernels ds_sparse_kernels_avx512;
extern const struct ds_sparse_kernels ds_sparse_kernels_avx2;
#endif

/* ---- skipping zero inputs (sparsity.c; kernels in dense_sparse_avx512.c and
 * dense_sparse_avx2.c) ----
 * Where many inputs of a dense layer are exactly zero (the background pixels of an image,
 * the units relu switched off), forward and backward_weight can leave out the terms
 * inp[b,k] * w and inp[b,k] * dout[b,o] that are zero. Each result element is still one
 * chain of fused multiply-adds in the reference order, less terms that add an exact zero,
 * so results are the dense FMA kernels' bit for bit: a sum that is exactly zero may come
 * out as -0 rather than +0 (after an underflow), and a skipped 0 x inf makes no NaN.
 * ds_sparsity describes a batch's nonzero inputs in the two forms the kernels read:
 *   lists  per pair of rows of a block: the columns k where either row is nonzero,
 *          ascending: forward loads each weight row once for both rows of a pair. The
 *          rows are paired by their zeros (the sparsest row left with the row that adds
 *          the fewest columns to it), so that a pair's list is short: on Fashion-MNIST
 *          0.58 of the columns rather than 0.66 for rows 2p and 2p + 1
 *   masks  per block s of DS_SPARSE_BLOCK rows and column k: bit r set when
 *          inp[32 s + r, k] is nonzero: backward_weight takes columns in pairs (k, k + 1), which share
 *          the rows of dout they load (neighbouring pixels are often zero together)
 * A batch takes the zero-skipping products when they leave out enough terms
 * (DS_SPARSE_MAX_DENSITY); that decision changes speed, never a result. */
#define DS_SPARSE_MAX_DENSITY 0.75
/* rows described together: lists pair rows within a block, masks hold a bit per row of a
 * block (a shard of DS_SHARD_ROWS rows is whole blocks) */
#define DS_SPARSE_BLOCK 32
/* the forward kernels' column panel and the most rows of weight one copy of it holds */
#define DS_SPARSE_PANEL 128
#define DS_SPARSE_KMAX 1024

typedef struct {
    int B, I;          /* the batch described: inp (B,I), row-major */
    int fwd, bwd;      /* whether forward / backward_weight skip zeros for it */
    size_t stride;     /* ints between two pairs' lists: I + 16 (vector stores) */
    int *rows;         /* pair p's rows rows[2p] and rows[2p + 1] (-1: none); block s
                        * holds pairs DS_SPARSE_BLOCK / 2 * s onwards */
    int *len;          /* pair p's list length (0 for a pair without rows) */
    int *idx;          /* pair p's list at idx + p * stride */
    float *val;        /* with the list, the pair's inputs in its columns: row rows[2p]'s at
                        * val + 2p * stride, row rows[2p + 1]'s (or again the first's) at
                        * val + (2p + 1) * stride, so that forward reads them in order
                        * (filled by the builds whose forward reads them: AVX2) */
    uint64_t *bits;    /* the nonzero columns of the rows, a bit each (see the kernels) */
    size_t words;      /* (I + 63) / 64 */
    /* The layer's weights (I,O) as forward's panels (the kernels' pack_rows): the columns
     * 128q..128q+127 (zero beyond O) within wpack + q * I * DS_SPARSE_PANEL, as one panel
     * with rows of 128 (AVX-512) or as panels of at most 48 columns (AVX2). Written by the
     * optimizer's update right after it changes the weights (see ds_update.pack), read by
     * the next training step's forward instead of copying the panels there; wpack_ok says
     * it holds the weights as they are now. */
    float *wpack;
    int O, wpack_ok;
    uint32_t *mask;    /* mask[s * I + k] */
    int cap_rows, cap_cols;
    int idle;          /* batches left before a layer found dense looks again */
} ds_sparsity;

typedef struct ds_sparse_kernels {
    /* lists of the row pairs and masks of the blocks that rows [r0, r1) cover (r0 a
     * multiple of DS_SPARSE_BLOCK); returns the terms forward (list entries x 2 rows) and
     * backward_weight (rows of the column pairs' masks x 2 columns) would compute */
    void (*build)(ds_sparsity *sp, const float *inp, int r0, int r1, long *fwd_terms,
                  long *bwd_terms);
    /* forward over rows [b0,b1) and columns [o0,o1), as the forward kernel;
     * panel: ds_sparse_scratch floats of this thread */
    void (*forward)(const ds_dense_fwd_args *g, const ds_sparsity *sp, int b0, int b1,
                    int o0, int o1, float *panel);
    /* backward_weight for rows [i0,i1) (i0 even) and columns [o0,o1), as the
     * backward_weight kernel; scratch: ds_sparse_scratch floats */
    void (*backward_weight)(const ds_dense_bwd_w_args *g, const ds_sparsity *sp, int i0,
                            int i1, int o0, int o1, float *scratch);
    /* rows [k0, k1) of a weight (I,O) into wpack, laid out as this forward reads its
     * panels (ds_sparsity.wpack), by the update that just changed them */
    void (*pack_rows)(float *wpack, const float *weight, int I, int O, int k0, int k1);
    /* whether the update packs on one thread too (else only on several, where it spares
     * the weights a trip between processors) */
    int pack_alone;
} ds_sparse_kernels;

/* Helpers the zero-skipping kernels of every instruction set share. */

/* The terms backward_weight computes for a block's masks mk (I columns): the rows set in
 * either column of each pair (k, k + 1), twice. */
static inline long ds_sparse_bwd_terms(const uint32_t *mk, int I)
{
    long t = 0;
    for (int k = 0; k < I; k += 2)
        t += 2L * __builtin_popcount(mk[k] | (k + 1 < I ? mk[k + 1] : 0u));
    return t;
}

/* Pair p's rows among rows [b0, b1): 0 when neither; else *ra the first inside and *rb
 * the other (-1 when outside or none), *second whether *ra is the pair's second row. */
static inline int ds_sparse_pair_in(const ds_sparsity *sp, int p, int b0, int b1, int *ra,
                                    int *rb, int *second)
{
    const int a = sp->rows[2 * p], b = sp->rows[2 * p + 1];
    const int ia = a >= b0 && a < b1, ib = b >= b0 && b < b1;
    *ra = ia ? a : b;
    *rb = ia && ib ? b : -1;
    *second = !ia;
    return ia || ib;
}

/* The rows of shard s (a bit each, its two blocks' masks as one word) set in column i or,
 * when two, in column i + 1 */
static inline uint64_t ds_sparse_shard_rows(const ds_sparsity *sp, int s, int blocks, int i,
                                            int two)
{
    const int I = sp->I;
    const uint32_t *m0 = sp->mask + (size_t)(2 * s) * I;
    uint64_t bits = m0[i] | (two ? m0[i + 1] : 0u);
    if (2 * s + 1 < blocks)
        bits |= (uint64_t)(m0[I + i] | (two ? m0[I + i + 1] : 0u)) << DS_SPARSE_BLOCK;
    return bits;
}

/* Scratch per thread the zero-skipping kernels need for a layer of I inputs and O
 * outputs over batches of up to `rows` rows. */
static inline size_t ds_sparse_scratch(int rows, int I, int O)
{
    size_t panel = (size_t)(I < DS_SPARSE_KMAX ? I : DS_SPARSE_KMAX) * DS_SPARSE_PANEL;
    size_t blocks = ((size_t)rows + DS_SPARSE_BLOCK - 1) / DS_SPARSE_BLOCK;
    size_t dout = blocks * DS_SPARSE_BLOCK *
                  (((size_t)O + DS_SPARSE_PANEL - 1) / DS_SPARSE_PANEL * DS_SPARSE_PANEL);
    return (panel > dout ? panel : dout) + 16;
}

/* Elementwise loops of the activations and losses (src/mathf.h's functions) compiled
 * for AVX-512, AVX2 and the baseline, the best chosen when the program starts (GNU
 * ifunc). Every copy performs the same IEEE operations on each element (no fused
 * multiply-adds: -ffp-contract=off), so they give the same bits. */
#if defined(DS_HAVE_X86_KERNELS) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define DS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef DS_VECTOR_CLONES
#define DS_VECTOR_CLONES
#endif

/* The kernels for a choice (DS_KERNEL_AUTO: the best available); NULL when the choice
 * is not available on this machine. */
const ds_dense_kernels *ds_dense_kernels_for(ds_kernel k);

/* DESCENT_KERNEL from the environment: DS_KERNEL_AUTO when unset or empty; DS_ERR_ARG for
 * an unknown name or a kernel this machine cannot run. */
ds_status ds_kernel_from_env(ds_kernel *out, ds_error *err);

/* ---- thread pool (pool.c) ---- */

typedef struct ds_pool ds_pool;
/* thread: 0 for the caller of ds_pool_run, 1 .. n_threads - 1 for the workers */
typedef void (*ds_task_fn)(void *ctx, int task, int thread);

/* Runs of more tasks than this run on the caller alone. */
#define DS_POOL_MAX_TASKS 256
/* n_threads - 1 workers (2 <= n_threads <= DS_MAX_THREADS) besides the caller. Task t of
 * a run goes first to thread t mod n_threads. */
ds_status ds_pool_create(ds_pool **out, int n_threads, ds_error *err);
void ds_pool_free(ds_pool *p);
int ds_pool_threads(const ds_pool *p); /* 1 for NULL */
/* How many parts to cut work into now: ds_pool_threads, or 1 while the pool finds its
 * workers absent (the machine's other processors busy elsewhere: the caller then waited
 * longer for them than it worked itself), until it tries them again. Which it is never
 * changes a result: work is cut so that any cut gives the same bits. Caller only. */
int ds_pool_parts(ds_pool *p);
/* Runs fn(ctx, t, thread) for t in [0, n_tasks) on the workers and the caller; returns
 * when all are done. A NULL pool runs them in order on the caller (thread 0). */
void ds_pool_run(ds_pool *p, int n_tasks, ds_task_fn fn, void *ctx);
/* Seconds on the monotonic clock (for timing work, never for results). */
double ds_seconds_now(void);
/* Marks the start of a training step (caller only, before any of its work): the pool
 * times the steps and now and then tries a few the other way, alone or with every
 * thread, keeping whichever ran faster (pool.c). NULL: nothing. */
void ds_pool_step(ds_pool *p);
/* The same with the time given (seconds; for the tests) */
void ds_pool_step_at(ds_pool *p, double now);
/* Whether the pool chose to run the present step alone (0 for NULL). */
int ds_pool_held(const ds_pool *p);
/* The median of n (<= 16) step times, and whether a trial's median beats the choice's
 * by enough to switch (pool.c's rule, for its tests). */
double ds_pool_median(const double *v, int n);
int ds_pool_prefers(double chosen, double trial);

/* ---- losses (loss.c) ---- */

/* How the loss reads the output layer. */
typedef enum {
    DS_LOSS_FROM_PROBS = 0,   /* clipped formulas on the activated output */
    DS_LOSS_FROM_SIGMOID_LOGITS, /* output is sigmoid: use the pre-activation (stable) */
    DS_LOSS_FROM_SOFTMAX_LOGITS  /* output is softmax: use log-softmax of the pre-activation */
} ds_loss_input;

/* The SUM over n rows of the per-sample losses (double; divide by the batch size for
 * Keras's sum_over_batch_size mean) and, when dz is not NULL, `scale` times the gradient
 * of that sum with respect to the loss's input (z for the logits forms, out otherwise),
 * written to dz (n, w). Pass scale = 1/B so shards of one batch share the divisor.
 * y is (n, w), or (n, 1) class indices for sparse categorical crossentropy. */
double ds_loss_compute(const ds_loss *loss, ds_loss_input in, const float *out,
                       const float *z, const float *y, int n, int w, float *dz,
                       float scale);
/* ds_loss_compute for binary crossentropy without smoothing on one sigmoid unit's logits
 * z (n rows), which also writes the unit's output sig = sigmoid(z) with act.c's bits: the
 * training step then skips the activation and computes e^-|z| once. dz must not be NULL. */
double ds_loss_bce_sigmoid_fused(const float *z, const float *y, int n, float *sig, float *dz,
                                 float scale);
/* Per-row correct counts and error sums for metrics, added into acc[i] for each metric. */
void ds_metric_accumulate(ds_metric_kind k, const float *out, const float *y, int n, int w,
                          double *acc);
/* Resolves DS_METRIC_ACCURACY as tf.keras 2.x does from the loss and output width. */
ds_metric_kind ds_metric_resolve(ds_metric_kind k, ds_loss_kind loss, int n_outputs);
/* Checks that loss and output width fit; DS_ERR_SHAPE with a message otherwise. */
ds_status ds_loss_check(const ds_loss *loss, int n_outputs, ds_error *err);

/* Tiny constant for clipping probabilities, Keras's backend.epsilon(). */
#define DS_EPSILON 1e-7f

/* ---- optimizer state and step (optim.c) ---- */

typedef struct {
    size_t offset, size; /* a tensor's span in the parameter arena */
} ds_tensor_span;

typedef struct {
    ds_optimizer cfg;
    ds_keras_version keras;
    int64_t iterations;
    size_t n;          /* number of parameters */
    float *slot[3];    /* per-parameter state, mirroring the arena; NULL when unused */
    double nadam_prod; /* Nadam: product of the momentum schedule u_1..u_t */
    double lr_scale;   /* multiplier set by ReduceLROnPlateau, starts at 1 */
} ds_optim_state;

/* Allocates and zeroes the slots the optimizer needs (Adagrad's accumulator starts at
 * initial_accumulator_value). Frees any earlier slots of st. */
ds_status ds_optim_init(ds_optim_state *st, const ds_optimizer *cfg, ds_keras_version kv,
                        size_t n, ds_error *err);
/* Back to the state right after ds_optim_init (iterations 0, slots reset). */
void ds_optim_reset(ds_optim_state *st);
void ds_optim_free(ds_optim_state *st);
/* The learning rate the next step uses: schedule(iterations), legacy decay, lr_scale. */
double ds_optim_current_lr(const ds_optim_state *st);
/* One step over all parameters: clipping (per tensor for clipnorm, over all tensors for
 * global_clipnorm; modifies grad), decoupled weight decay, the update rule, then
 * iterations += 1. */
void ds_optim_step(ds_optim_state *st, float *param, float *grad,
                   const ds_tensor_span *tensors, int n_tensors);
/* The same step in pieces, so that it can follow each gradient as soon as it is known:
 * ds_optim_update applies clipvalue, decay and the rule to elements [lo, hi) (state is
 * only read, so disjoint ranges may run concurrently), ds_optim_finish ends the step
 * (iterations += 1). Only when ds_optim_elementwise (no clipnorm or global_clipnorm,
 * which need every gradient first); then update over all elements and finish equal
 * ds_optim_step bit for bit. */
int ds_optim_elementwise(const ds_optim_state *st);
void ds_optim_update(const ds_optim_state *st, float *param, float *grad, size_t lo, size_t hi);
void ds_optim_finish(ds_optim_state *st);

/* ---- running a dense layer (dense_run.c) ---- */

/* How a model runs its products: kernels (NULL: the reference kernels of dense.c) and
 * threads (pool NULL: the caller only). */
typedef struct {
    const ds_dense_kernels *kern;
    ds_pool *pool;
    float *pack;        /* per thread, pack_stride floats each; NULL: no packing */
    size_t pack_stride; /* ds_pack_floats(the rows reserved) */
    float *sparse;        /* per thread, sparse_stride floats each, for the zero-skipping
                             kernels; NULL: none */
    size_t sparse_stride; /* ds_sparse_scratch of the largest layer that may skip zeros */
    int skip_zeros;       /* ds_model_set_skip_zeros */
} ds_exec;

/* A description for batches of up to `rows` rows of I inputs, or NULL (out of memory). */
ds_sparsity *ds_sparsity_create(int rows, int I, int O);
void ds_sparsity_free(ds_sparsity *sp);
/* Whether a layer of I inputs and O outputs is wide enough to skip zeros at all (its
 * description and scratch are then allocated with the model's work buffers). */
static inline int ds_sparsity_shape(int I, int O)
{
    return I >= 32 && O >= 32 && (long)I * O >= DS_FAST_MIN_WEIGHTS;
}
/* Whether such a layer skips zeros with x's kernels and setting. */
int ds_sparsity_eligible(const ds_exec *x, int I, int O);
/* Describes inp (B,I) in sp and decides sp->fwd and sp->bwd (both 0 when B exceeds
 * sp's rows or I its columns), on x's threads. */
void ds_sparsity_prepare(const ds_exec *x, ds_sparsity *sp, const float *inp, int B, int I);

/* Products below this many multiply-adds stay on the calling thread. */
#define DS_PAR_MIN_WORK (1L << 18)

/* z (B,O) = inp @ weight + bias, then a = act(z); skipping inp's zeros when sp (NULL:
 * never; else ds_sparsity_prepare'd for inp with x) chose to. */
void ds_dense_forward_run(const ds_exec *x, const ds_activation *act, ds_keras_version kv,
                          float *z, float *a, const float *inp, const float *weight,
                          const float *bias, int B, int I, int O, const ds_sparsity *sp);
/* A dense layer's optimizer update (opt NULL: none), cut into `parts` blocks of rows like
 * the layer's backward_weight tasks, so that each part is updated where its gradients
 * were computed: the kernel (I,O) at w_off in the arenas, the bias (O) at b_off (-1:
 * none) with the last part. */
typedef struct {
    const ds_optim_state *opt;
    float *params, *grads;
    size_t w_off;
    ptrdiff_t b_off;
    int I, O, parts;
    ds_sparsity *pack; /* when not NULL: each part also writes its updated rows to
                        * pack->wpack with packer->pack_rows (the caller sets
                        * pack->wpack_ok: nothing reads it before all parts ran) */
    const struct ds_sparse_kernels *packer;
} ds_update;

/* How many blocks of rows ds_dense_backward_run cuts a layer's weight gradient into. */
int ds_dense_backward_parts(const ds_exec *x, int B, int I, int O);

/* One dense layer's backward pass. */
/* Where a layer's backward cuts its weight gradient among the threads, kept from step to
 * step: part p has the rows [at[p], at[p + 1]) in units of ROW_UNIT rows (dense_run.c).
 * Each step measures every thread's share of the run and moves a boundary by one unit
 * toward the thread that finished first when the two differ by more than a unit's time,
 * so the parts follow the work (the weight gradient skipping zeros does per row as much
 * as that input has nonzeros) and the speed of each processor. Where a boundary lies
 * changes no bit of any result (see the kernels' contract above). */
typedef struct {
    int parts, units; /* the cut held (0: none yet, cut evenly) */
    int at[DS_MAX_THREADS + 1];
} ds_balance;

typedef struct {
    const ds_activation *act;
    ds_keras_version kv;
    int g_is_dz;        /* g already holds dL/dz (fused softmax or sigmoid loss, or the
                           layer above masked it with below_relu) */
    int doutT_ready;    /* with g_is_dz: doutT already holds g transposed (below_T above) */
    float *g;           /* (B,O) in: dL/da; out: dL/dz */
    const float *z, *a; /* (B,O) the forward pass's pre-activation and output */
    float *dinp;        /* (B,I) out, or NULL */
    const float *below_relu; /* with dinp: the layer below's z (B,I) when its activation
                                is relu; dinp is then masked by it, becoming that layer's
                                dL/dz (on the threads that compute it) */
    float *below_T;     /* with below_relu: the masked dinp transposed (I,B), where the
                           layer below reads it so (ds_dense_reads_doutT), or NULL */
    float *dweight;     /* (I,O) += */
    float *dbias;       /* (O) +=, or NULL */
    const float *inp, *weight;
    float *scratch;     /* ds_dense_backward's (I*O + O) */
    float *doutT;       /* (O*B) for kernels that read dL/dz transposed */
    int B, I, O;
    int zero_first;     /* set dweight and dbias to zero first (then = rather than +=) */
    const ds_sparsity *sp; /* describes inp (as in the forward pass), or NULL */
    ds_update own;      /* this layer's update, applied here when dinp is NULL (nothing
                           reads the weights afterwards); else the caller runs it later */
    ds_update pending;  /* an update to run alongside (another layer's parameters) */
    ds_balance *bal;    /* the layer's cut of dweight, adjusted by each run; NULL: even */
} ds_dense_bwd;

/* Whether ds_dense_backward_run reads dL/dz transposed (ds_dense_bwd.doutT) for a layer
 * of I inputs and O outputs over B rows, with or without dinp. */
int ds_dense_reads_doutT(const ds_exec *x, int B, int I, int O, int dinp);
/* dz = act'(z) dL/da in place, then ds_dense_backward's results, plus b->pending, plus
 * b->own when dinp is NULL. */
void ds_dense_backward_run(const ds_exec *x, const ds_dense_bwd *b);
/* Runs an update alone, split among the threads. */
void ds_update_run(const ds_exec *x, const ds_update *u);
/* Moves bl's boundaries after a run in which part p's tasks took busy[p] seconds. */
void ds_balance_adjust(ds_balance *bl, const double *busy);

/* ---- the model (model.c) ---- */

typedef struct {
    ds_layer_kind kind;
    char name[32];
    int n_in, n_out;
    ds_dense_config dense; /* dense only */
    float rate;            /* dropout only */
    ptrdiff_t w_off, b_off; /* in the arena; -1 when absent */
    ds_balance bal;         /* dense: how its backward is cut among threads */
} ds_layer;

struct ds_model {
    int n_inputs;
    int n_layers, cap_layers;
    ds_layer *layers;
    ds_keras_version keras;

    int built;
    uint64_t seed;
    size_t n_params;
    float *params; /* (n_params) */
    float *grads;  /* (n_params) */
    float *scratch; /* largest I*O + O of any dense layer: a shard's partial gradients */
    int n_tensors;
    ds_tensor_span *tensors;

    int compiled;
    ds_compile_config compile;
    ds_metric_kind resolved[4]; /* metrics after resolving "accuracy" */
    ds_loss_input loss_input;
    ds_optim_state opt;

    /* work buffers, sized for cap_rows rows: for layer k, z[k] (pre-activation, dense)
     * or the dropout mask, and a[k] (its output); two gradient buffers of the widest
     * layer. */
    int cap_rows;
    float **z, **a;
    float *d0, *d1;
    float *dT, *dT2; /* a layer's output gradient transposed, for the vector kernels, and
                        the layer below's, written by this layer's backward */
    ds_sparsity **sp; /* per layer: its input batch's zeros, NULL where never skipped */
    int pack_next;    /* the next training step follows this one directly (fit's loop):
                       * updates pack the weights for its forward (ds_model_pack_next) */

    /* speed: the kernel choice (resolved, never AUTO) and how products run */
    ds_kernel kernel;
    ds_exec exec; /* exec.pool is NULL with one thread */
};

/* Makes the work buffers hold at least `rows` rows (allocates only when growing). */
ds_status ds_model_reserve(ds_model *m, int rows, ds_error *err);
/* Forward pass over n rows into the work buffers; training turns dropout on. */
void ds_model_forward(ds_model *m, const float *x, int n, int training, ds_rng *dropout_rng);
/* For a compiled model that has reserved n rows: a forward pass over n rows in
 * inference mode (dropout off), then the backward pass of `scale` times the summed loss,
 * added (+=) into the gradient arena. z[k] and a[k] keep the forward values. With
 * scale = 1/N for N rows split into chunks of a multiple of DS_SHARD_ROWS, the chunks
 * together add exactly what one ds_model_train_batch_grad over the N rows adds (when the
 * model has no active dropout). Returns the summed loss of the n rows. */
double ds_model_inference_grad(ds_model *m, const float *x, const float *y, int n,
                               float scale);
/* fit's training step on n rows (work buffers reserved): forward, loss (mean in *loss),
 * backward and the optimizer step, the update fused into the backward pass when the
 * optimizer allows (same bits as zero_grad, train_batch_grad, then ds_optim_step).
 * Returns 0 without touching the parameters when stop_nonfinite and the loss is NaN or
 * infinite, else 1. */
int ds_model_train_step(ds_model *m, const float *x, const float *y, int n,
                        ds_rng *dropout_rng, int stop_nonfinite, double *loss);
/* Whether the next ds_model_train_step is followed directly by another, on the same
 * weights (nothing else reads or writes them in between): its updates then also write
 * the weights packed as the next forward reads them (ds_sparsity.wpack).
 * ds_model_pack_drop ends that: no packed copy is used after it. */
void ds_model_pack_next(ds_model *m, int on);
void ds_model_pack_drop(ds_model *m);
/* Width of the widest layer or input. */
int ds_model_max_width(const ds_model *m);

/* ---- fit (fit.c) ---- */

/* The checks fit makes of a labelled data set against a compiled model: feature and
 * target widths (DS_ERR_SHAPE) and, for sparse categorical crossentropy, integer class
 * indices in range (DS_ERR_ARG). `what` starts the message ("fit", "diagnostics"). */
ds_status ds_check_labelled(const ds_model *m, const ds_dataset *d, const char *what,
                            ds_error *err);

/* ---- history (history.c) ---- */

/* Makes sure the columns `names` exist and that `rows` more rows fit without
 * allocating, so that fit's epochs allocate nothing. */
ds_status ds_history_reserve(ds_history *h, int n, const char *const *names, int rows,
                             ds_error *err);

/* ---- data sets (dataset.c) ---- */

struct ds_dataset {
    int n, n_x, n_y;
    float *x; /* (n, n_x) */
    float *y; /* (n, n_y) or NULL */
};

#endif /* DS_INTERNAL_H */
