/*
 * diag.c - per-layer training diagnostics on a probe set (descent.h, docs/DIAGNOSTICS.md):
 * kernel, bias and gradient norms, the update-to-weight ratio, output mean and standard
 * deviation, saturated and dead units, and exact symmetry between a layer's units.
 *
 * The probe rows run forward in inference mode and backward once, in chunks whose size
 * is a multiple of DS_SHARD_ROWS with the loss gradient scaled by 1/N for all N rows: the
 * per-shard partial gradients are then added in the same order as in one pass over all
 * rows, so the gradient equals ds_model_train_batch_grad's on the N rows bit for bit.
 * Activation statistics are merged chunk by chunk (Chan, Golub and LeVeque's pairwise
 * update of mean and sum of squared deviations), in double.
 * Left out: gradients and ratios of biases, per-unit values, anything about the optimizer.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per chunk when the probe is larger than the model's work buffers; a multiple of
 * DS_SHARD_ROWS. */
#define DIAG_CHUNK 256

/* ---------------------------------------------------------------------------------- */
/* per-value predicates */

/* 1 when the activation of kind k has a saturation bound (descent.h) */
static int has_saturation(ds_act_kind k)
{
    return k == DS_ACT_SIGMOID || k == DS_ACT_TANH || k == DS_ACT_SOFTSIGN ||
           k == DS_ACT_HARD_SIGMOID;
}

/* 1 when pre-activation z is beyond the saturation bound of kind k */
static int is_saturated(ds_act_kind k, ds_keras_version kv, float z)
{
    switch (k) {
    case DS_ACT_SIGMOID: return fabsf(z) > DS_DIAG_SIGMOID_BOUND;
    case DS_ACT_TANH: return fabsf(z) > DS_DIAG_TANH_BOUND;
    case DS_ACT_SOFTSIGN: return fabsf(z) > DS_DIAG_SOFTSIGN_BOUND;
    case DS_ACT_HARD_SIGMOID: {
        /* flat exactly where act.c's backward gives 0: the same float expression */
        float v = (kv == DS_KERAS_3 ? 1.0f / 6.0f : 0.2f) * z + 0.5f;
        return !(v > 0.0f && v < 1.0f);
    }
    default: return 0;
    }
}

/* ---------------------------------------------------------------------------------- */
/* norms and symmetry of one dense layer's parameters */

/* ||a||_2 of n floats, in double */
static double norm2(const float *a, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)a[i];
    return sqrt(s);
}

/* ||a - b||_2 of n floats, in double */
static double dist2(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return sqrt(s);
}

/* weight (I,O), bias (O) or NULL: the largest |w_ij - w_i0| over inputs i and units j
 * (bias as one more input); *identical = 1 when every unit equals unit 0 exactly. NaN
 * weights make the gap NaN and the units not identical. */
static double unit_gap(const float *weight, const float *bias, int I, int O, int *identical)
{
    double gap = 0.0;
    int same = 1;
    for (int i = 0; i <= I; i++) {
        const float *row = i < I ? weight + (size_t)i * O : bias;
        if (!row) continue;
        for (int j = 1; j < O; j++) {
            if (row[j] != row[0]) same = 0;
            double d = fabs((double)row[j] - (double)row[0]);
            if (d > gap || isnan(d)) gap = d; /* a NaN, once taken, stays */
        }
    }
    *identical = same;
    return gap;
}

/* ---------------------------------------------------------------------------------- */
/* output statistics, accumulated over chunks */

typedef struct {
    double count; /* values seen */
    double mean;  /* their mean */
    double m2;    /* sum of squared deviations from the mean */
    double n_sat; /* saturated (row, unit) pre-activations */
} diag_acc;

/* Merges the n values of v into acc: the chunk's own mean and squared deviations
 * (two passes, in double), then the pairwise update. */
static void acc_merge(diag_acc *acc, const float *v, size_t n)
{
    if (n == 0) return;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)v[i];
    double cm = sum / (double)n, cm2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)v[i] - cm;
        cm2 += d * d;
    }
    double nb = (double)n, tot = acc->count + nb;
    double delta = cm - acc->mean;
    acc->mean += delta * nb / tot;
    acc->m2 += cm2 + delta * delta * acc->count * nb / tot;
    acc->count = tot;
}

/* ---------------------------------------------------------------------------------- */
/* the diagnostics */

ds_status ds_model_diagnostics(ds_model *m, const ds_dataset *probe, int max_rows,
                               const float *params_before, ds_layer_diag *out,
                               ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "diagnostics: the model is NULL");
    if (!probe) return ds_fail(err, DS_ERR_ARG, "diagnostics: the probe data set is NULL");
    if (!out) return ds_fail(err, DS_ERR_ARG, "diagnostics: out is NULL");
    if (!m->compiled)
        return ds_fail(err, DS_ERR_STATE,
                       "diagnostics: the model is not compiled (call ds_model_compile)");
    if (max_rows < 0)
        return ds_fail(err, DS_ERR_ARG, "diagnostics: max_rows=%d must be >= 0 (0 = all rows)",
                       max_rows);
    if (probe->n < 1) return ds_fail(err, DS_ERR_ARG, "diagnostics: the probe set has no rows");
    ds_status s = ds_check_labelled(m, probe, "diagnostics: probe", err);
    if (s) return s;

    int n = max_rows > 0 && max_rows < probe->n ? max_rows : probe->n;
    /* all rows at once when they fit, else chunks of a multiple of DS_SHARD_ROWS */
    int chunk = n;
    if (chunk > DIAG_CHUNK && chunk > m->cap_rows)
        chunk = m->cap_rows > DIAG_CHUNK ? m->cap_rows - m->cap_rows % DS_SHARD_ROWS
                                         : DIAG_CHUNK;
    if ((s = ds_model_reserve(m, chunk, err))) return s;

    /* scratch: accumulators per layer, an "ever nonzero" flag per relu unit */
    int n_layers = m->n_layers;
    size_t n_flags = 0;
    for (int k = 0; k < n_layers; k++) n_flags += (size_t)m->layers[k].n_out;
    diag_acc *acc = calloc((size_t)n_layers, sizeof *acc);
    unsigned char *alive = calloc(n_flags, 1);
    if (!acc || !alive) {
        free(acc);
        free(alive);
        return ds_fail(err, DS_ERR_NOMEM, "diagnostics: out of memory");
    }

    ds_model_zero_grad(m);
    float scale = 1.0f / (float)n; /* as ds_model_train_batch_grad's 1/B for B = n */
    int n_y = probe->n_y;
    for (int r0 = 0; r0 < n; r0 += chunk) {
        int nb = n - r0 < chunk ? n - r0 : chunk;
        ds_model_inference_grad(m, probe->x + (size_t)r0 * probe->n_x,
                                probe->y + (size_t)r0 * n_y, nb, scale);
        unsigned char *flags = alive;
        for (int k = 0; k < n_layers; k++) {
            const ds_layer *l = &m->layers[k];
            int w = l->n_out;
            size_t len = (size_t)nb * (size_t)w;
            acc_merge(&acc[k], m->a[k], len);
            if (l->kind == DS_LAYER_DENSE) {
                ds_act_kind ak = l->dense.activation.kind;
                if (has_saturation(ak)) {
                    size_t c = 0;
                    for (size_t i = 0; i < len; i++)
                        c += (size_t)is_saturated(ak, m->keras, m->z[k][i]);
                    acc[k].n_sat += (double)c;
                }
                if (ak == DS_ACT_RELU)
                    for (size_t i = 0; i < len; i++)
                        if (m->a[k][i] != 0.0f) flags[i % (size_t)w] = 1;
            }
            flags += w;
        }
    }

    const unsigned char *flags = alive;
    for (int k = 0; k < n_layers; k++) {
        const ds_layer *l = &m->layers[k];
        ds_layer_diag *d = &out[k];
        int I = l->n_in, O = l->n_out;
        d->weight_norm = d->bias_norm = d->grad_norm = d->update_ratio = (double)NAN;
        d->saturated = d->dead = d->max_unit_gap = (double)NAN;
        d->identical_units = 0;
        d->act_mean = acc[k].mean;
        d->act_std = sqrt(acc[k].m2 / acc[k].count);
        if (l->kind == DS_LAYER_DENSE) {
            size_t nw = (size_t)I * (size_t)O;
            const float *weight = m->params + l->w_off;
            const float *bias = l->b_off >= 0 ? m->params + l->b_off : NULL;
            d->weight_norm = norm2(weight, nw);
            if (bias) d->bias_norm = norm2(bias, (size_t)O);
            d->grad_norm = norm2(m->grads + l->w_off, nw);
            if (params_before) {
                double before = norm2(params_before + l->w_off, nw);
                if (before > 0.0)
                    d->update_ratio = dist2(weight, params_before + l->w_off, nw) / before;
            }
            ds_act_kind ak = l->dense.activation.kind;
            if (has_saturation(ak)) d->saturated = acc[k].n_sat / acc[k].count;
            if (ak == DS_ACT_RELU) {
                int n_dead = 0;
                for (int j = 0; j < O; j++) n_dead += !flags[j];
                d->dead = (double)n_dead / (double)O;
            }
            if (O >= 2) d->max_unit_gap = unit_gap(weight, bias, I, O, &d->identical_units);
        }
        flags += O;
    }
    free(acc);
    free(alive);
    return DS_OK;
}
