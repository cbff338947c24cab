/*
 * loss.c - losses and metrics with Keras's names and formulas (Keras losses and metrics).
 * Each loss is a mean over the last axis per sample (crossentropies: a sum over
 * classes), then summed over rows; the caller divides by the batch size.
 *
 * Sigmoid and softmax outputs paired with their crossentropy read the pre-activation
 * z, as TensorFlow-backed Keras does ("logits recovery"), so the loss stays exact and
 * finite however saturated the output is:
 *   BCE(z, y)  = max(z, 0) - z y + log(1 + e^-|z|),      d/dz = sigmoid(z) - y
 *   CCE(z, y)  = -sum_k y_k log_softmax(z)_k,             d/dz_j = p_j sum_k y_k - y_j
 * Other outputs use tf.keras 2.x's clipped formulas on the probabilities:
 *   BCE(p, y)  = -(y log(p' + eps) + (1 - y) log(1 - p' + eps)),  p' = clip(p, eps, 1 - eps)
 *   CCE(p, y)  = -sum_k y_k log clip(p_k / sum_j p_j, eps, 1 - eps)
 * where clipping passes no gradient (as tf.clip_by_value). eps = 1e-7.
 * All accumulation is in double.
 */
#include "internal.h"
#include "mathf.h"

#include <math.h>
#include <string.h>

static const char *const loss_names[DS_LOSS_COUNT] = {
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error",  "mean_absolute_error",      "huber"};

const char *ds_loss_kind_name(ds_loss_kind k)
{
    return (k >= 0 && k < DS_LOSS_COUNT) ? loss_names[k] : "unknown";
}

ds_status ds_loss_kind_parse(const char *name, ds_loss_kind *out)
{
    static const struct {
        const char *alias;
        ds_loss_kind kind;
    } aliases[] = {{"bce", DS_LOSS_BINARY_CROSSENTROPY},
                   {"cce", DS_LOSS_CATEGORICAL_CROSSENTROPY},
                   {"scce", DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY},
                   {"mse", DS_LOSS_MEAN_SQUARED_ERROR},
                   {"mae", DS_LOSS_MEAN_ABSOLUTE_ERROR},
                   {"huber_loss", DS_LOSS_HUBER}};
    if (!name) return DS_ERR_ARG;
    for (int k = 0; k < DS_LOSS_COUNT; k++)
        if (ds_streq_nocase(name, loss_names[k])) {
            *out = (ds_loss_kind)k;
            return DS_OK;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (ds_streq_nocase(name, aliases[i].alias)) {
            *out = aliases[i].kind;
            return DS_OK;
        }
    return DS_ERR_ARG;
}

ds_loss ds_loss_defaults(ds_loss_kind k)
{
    ds_loss l;
    l.kind = k;
    l.delta = 1.0f;
    l.label_smoothing = 0.0f;
    return l;
}

ds_status ds_loss_parse(const char *spec, ds_loss *out, ds_error *err)
{
    ds_spec s;
    ds_status st = ds_spec_parse(spec, &s, "loss", err);
    if (st) return st;
    ds_loss_kind k;
    if (ds_loss_kind_parse(s.name, &k))
        return ds_fail(err, DS_ERR_ARG,
                       "unknown loss '%s' (known: binary_crossentropy, "
                       "categorical_crossentropy, sparse_categorical_crossentropy, "
                       "mean_squared_error, mean_absolute_error, huber)",
                       s.name);
    ds_loss l = ds_loss_defaults(k);
    int used[DS_SPEC_MAX_ARGS] = {0};
    const ds_spec_arg *a;
    double v;
    if (k == DS_LOSS_HUBER && (a = ds_spec_get(&s, "delta", 0, used))) {
        if ((st = ds_spec_number(a->value, &v, s.name, "delta", err))) return st;
        if (!(v > 0)) return ds_fail(err, DS_ERR_ARG, "huber: delta=%s must be > 0", a->value);
        l.delta = (float)v;
    }
    if ((k == DS_LOSS_BINARY_CROSSENTROPY || k == DS_LOSS_CATEGORICAL_CROSSENTROPY) &&
        (a = ds_spec_get(&s, "label_smoothing", 0, used))) {
        if ((st = ds_spec_number(a->value, &v, s.name, "label_smoothing", err))) return st;
        if (v < 0 || v > 1)
            return ds_fail(err, DS_ERR_ARG, "%s: label_smoothing=%s must be in [0, 1]", s.name,
                           a->value);
        l.label_smoothing = (float)v;
    }
    if ((st = ds_spec_check_used(&s, used, "loss", err))) return st;
    *out = l;
    return DS_OK;
}

static const char *const metric_names[DS_METRIC_COUNT] = {
    "accuracy",           "binary_accuracy",    "categorical_accuracy",
    "sparse_categorical_accuracy", "mean_squared_error", "mean_absolute_error"};

const char *ds_metric_kind_name(ds_metric_kind k)
{
    return (k >= 0 && k < DS_METRIC_COUNT) ? metric_names[k] : "unknown";
}

ds_status ds_metric_kind_parse(const char *name, ds_metric_kind *out)
{
    if (!name) return DS_ERR_ARG;
    for (int k = 0; k < DS_METRIC_COUNT; k++)
        if (ds_streq_nocase(name, metric_names[k])) {
            *out = (ds_metric_kind)k;
            return DS_OK;
        }
    if (ds_streq_nocase(name, "acc")) *out = DS_METRIC_ACCURACY;
    else if (ds_streq_nocase(name, "mse")) *out = DS_METRIC_MEAN_SQUARED_ERROR;
    else if (ds_streq_nocase(name, "mae")) *out = DS_METRIC_MEAN_ABSOLUTE_ERROR;
    else return DS_ERR_ARG;
    return DS_OK;
}

ds_metric_kind ds_metric_resolve(ds_metric_kind k, ds_loss_kind loss, int n_outputs)
{
    if (k != DS_METRIC_ACCURACY) return k;
    /* tf.keras 2.x compile_utils: binary for binary_crossentropy or a single output,
     * sparse for sparse_categorical_crossentropy, categorical otherwise */
    if (loss == DS_LOSS_BINARY_CROSSENTROPY || n_outputs == 1) return DS_METRIC_BINARY_ACCURACY;
    if (loss == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
        return DS_METRIC_SPARSE_CATEGORICAL_ACCURACY;
    return DS_METRIC_CATEGORICAL_ACCURACY;
}

ds_status ds_loss_check(const ds_loss *loss, int n_outputs, ds_error *err)
{
    if (loss->kind < 0 || loss->kind >= DS_LOSS_COUNT)
        return ds_fail(err, DS_ERR_ARG, "loss: unknown kind %d", (int)loss->kind);
    if ((loss->kind == DS_LOSS_CATEGORICAL_CROSSENTROPY ||
         loss->kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) &&
        n_outputs < 2)
        return ds_fail(err, DS_ERR_SHAPE,
                       "%s needs an output layer of 2 or more units, the model has %d "
                       "(use binary_crossentropy for one sigmoid unit)",
                       ds_loss_kind_name(loss->kind), n_outputs);
    if (loss->kind == DS_LOSS_HUBER && !(loss->delta > 0.0f))
        return ds_fail(err, DS_ERR_ARG, "huber: delta must be > 0");
    if (loss->label_smoothing < 0.0f || loss->label_smoothing > 1.0f)
        return ds_fail(err, DS_ERR_ARG, "%s: label_smoothing must be in [0, 1]",
                       ds_loss_kind_name(loss->kind));
    return DS_OK;
}


static inline float clipf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Binary crossentropy from the logits of one sigmoid unit, without smoothing: the
 * general case's operations in the same order, without its per-row dispatch. The terms
 * of a block of rows first (a loop the compiler vectorizes), then their sum in order. */
DS_VECTOR_CLONES static double bce_logits_one_unit(const float *z, const float *y, int n,
                                                   float *dz, float factor, float *sig)
{
    double total = 0.0;
    float term[64], eb[64];
    for (int r0 = 0; r0 < n; r0 += 64) {
        int m = n - r0 < 64 ? n - r0 : 64;
        const float *zb = z + r0, *yb = y + r0;
        for (int i = 0; i < m; i++) {
            float x = zb[i], t = yb[i];
            float e = ds_expf(-fabsf(x));
            eb[i] = e;
            term[i] = (x > 0.0f ? x : 0.0f) - x * t + ds_log1pf_unit(e);
        }
        if (dz && sig) { /* with the sigmoid itself, as act.c computes it */
            float *db = dz + r0, *sb = sig + r0;
            for (int i = 0; i < m; i++) {
                float x = zb[i], t = yb[i], e = eb[i];
                float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
                float sg = x >= 0.0f ? pos : neg;
                sb[i] = sg;
                db[i] = factor * (sg - t);
            }
        } else if (dz) {
            float *db = dz + r0;
            for (int i = 0; i < m; i++) {
                float x = zb[i], t = yb[i], e = eb[i];
                float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
                db[i] = factor * ((x >= 0.0f ? pos : neg) - t);
            }
        }
        for (int i = 0; i < m; i++) total += (double)term[i];
    }
    return total;
}

double ds_loss_bce_sigmoid_fused(const float *z, const float *y, int n, float *sig, float *dz,
                                 float scale)
{
    return bce_logits_one_unit(z, y, n, dz, scale, sig);
}

double ds_loss_compute(const ds_loss *loss, ds_loss_input in, const float *out,
                       const float *z, const float *y, int n, int w, float *dz, float scale)
{
    double total = 0.0;
    const float ls = loss->label_smoothing;
    const float inv_w = 1.0f / (float)w;
    if (loss->kind == DS_LOSS_BINARY_CROSSENTROPY && in == DS_LOSS_FROM_SIGMOID_LOGITS &&
        w == 1 && ls == 0.0f) {
        /* one sigmoid output, no smoothing (the course's logistic regression) */
        return bce_logits_one_unit(z, y, n, dz, scale * inv_w, NULL);
    }
    for (int r = 0; r < n; r++) {
        const float *o = out + (size_t)r * w;
        const float *zr = z ? z + (size_t)r * w : NULL;
        float *d = dz ? dz + (size_t)r * w : NULL;
        double row = 0.0;
        switch (loss->kind) {
        case DS_LOSS_BINARY_CROSSENTROPY: {
            const float *yr = y + (size_t)r * w;
            for (int j = 0; j < w; j++) {
                float t = yr[j] * (1.0f - ls) + 0.5f * ls;
                if (in == DS_LOSS_FROM_SIGMOID_LOGITS) {
                    /* float32 per element, as Keras computes; e^-|x| serves the loss and
                     * sigmoid(x) = 1 / (1 + e^-x) (x >= 0) or e^x / (1 + e^x) (x < 0) */
                    float x = zr[j];
                    float e = ds_expf(-fabsf(x));
                    row += (double)((x > 0.0f ? x : 0.0f) - x * t + ds_log1pf_unit(e));
                    if (d) {
                        float sg = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
                        d[j] = scale * inv_w * (sg - t);
                    }
                } else {
                    float p = clipf(o[j], DS_EPSILON, 1.0f - DS_EPSILON);
                    row -= (double)t * log((double)(p + DS_EPSILON)) +
                           (double)(1.0f - t) * log((double)(1.0f - p + DS_EPSILON));
                    if (d) {
                        int inside = o[j] > DS_EPSILON && o[j] < 1.0f - DS_EPSILON;
                        d[j] = inside ? scale * inv_w *
                                            (-(t / (p + DS_EPSILON)) +
                                             (1.0f - t) / (1.0f - p + DS_EPSILON))
                                      : 0.0f;
                    }
                }
            }
            row /= (double)w;
            break;
        }
        case DS_LOSS_CATEGORICAL_CROSSENTROPY:
        case DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY: {
            int sparse = loss->kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
            int cls = sparse ? (int)y[r] : -1;
            const float *yr = sparse ? NULL : y + (size_t)r * w;
            float lsm = sparse ? 0.0f : ls;
#define TARGET(j) (sparse ? ((j) == cls ? 1.0f : 0.0f) : yr[j] * (1.0f - lsm) + lsm / (float)w)
            if (in == DS_LOSS_FROM_SOFTMAX_LOGITS) {
                /* log_softmax(z)_j = z_j - max - log(sum_k e^(z_k - max)) */
                float mx = zr[0];
                for (int j = 1; j < w; j++) mx = zr[j] > mx ? zr[j] : mx;
                /* the exponentials as the softmax computes them (ds_expf), in pieces
                 * that vectorize, summed in order */
                double se = 0.0;
                for (int j0 = 0; j0 < w; j0 += 64) {
                    float e[64];
                    const int m = w - j0 < 64 ? w - j0 : 64;
                    for (int j = 0; j < m; j++) e[j] = ds_expf(zr[j0 + j] - mx);
                    for (int j = 0; j < m; j++) se += (double)e[j];
                }
                double lse = log(se);
                double ysum = 0.0;
                for (int j = 0; j < w; j++) {
                    float t = TARGET(j);
                    ysum += (double)t;
                    if (t != 0.0f) row -= (double)t * ((double)(zr[j] - mx) - lse);
                }
                if (d)
                    for (int j = 0; j < w; j++)
                        d[j] = scale * (o[j] * (float)ysum - TARGET(j));
            } else {
                double s = 0.0;
                for (int j = 0; j < w; j++) s += (double)o[j];
                float fs = (float)s;
                double gdotp = 0.0;
                for (int j = 0; j < w; j++) {
                    float t = TARGET(j);
                    float pn = o[j] / fs;
                    float p = clipf(pn, DS_EPSILON, 1.0f - DS_EPSILON);
                    if (t != 0.0f) row -= (double)t * log((double)p);
                    float g = (pn > DS_EPSILON && pn < 1.0f - DS_EPSILON) ? -t / p : 0.0f;
                    if (d) d[j] = g;
                    gdotp += (double)g * (double)pn;
                }
                /* through p_k = o_k / S: dl/do_j = (g_j - sum_k g_k p_k) / S */
                if (d)
                    for (int j = 0; j < w; j++) d[j] = scale * (d[j] - (float)gdotp) / fs;
            }
#undef TARGET
            break;
        }
        case DS_LOSS_MEAN_SQUARED_ERROR: {
            const float *yr = y + (size_t)r * w;
            for (int j = 0; j < w; j++) {
                float e = o[j] - yr[j];
                row += (double)e * (double)e;
                if (d) d[j] = scale * inv_w * 2.0f * e;
            }
            row /= (double)w;
            break;
        }
        case DS_LOSS_MEAN_ABSOLUTE_ERROR: {
            const float *yr = y + (size_t)r * w;
            for (int j = 0; j < w; j++) {
                float e = o[j] - yr[j];
                row += fabs((double)e);
                if (d) d[j] = scale * inv_w * (e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f));
            }
            row /= (double)w;
            break;
        }
        case DS_LOSS_HUBER: {
            /* 0.5 e^2 for |e| <= delta, delta (|e| - 0.5 delta) beyond */
            const float *yr = y + (size_t)r * w;
            const float dl = loss->delta;
            for (int j = 0; j < w; j++) {
                float e = o[j] - yr[j];
                float ae = fabsf(e);
                if (ae <= dl) {
                    row += 0.5 * (double)e * (double)e;
                    if (d) d[j] = scale * inv_w * e;
                } else {
                    row += (double)dl * ((double)ae - 0.5 * (double)dl);
                    if (d) d[j] = scale * inv_w * (e > 0.0f ? dl : -dl);
                }
            }
            row /= (double)w;
            break;
        }
        default:
            break;
        }
        total += row;
    }
    return total;
}

static int argmax(const float *v, int w)
{
    int best = 0;
    for (int j = 1; j < w; j++)
        if (v[j] > v[best]) best = j; /* first index wins on ties */
    return best;
}

void ds_metric_accumulate(ds_metric_kind k, const float *out, const float *y, int n, int w,
                          double *acc)
{
    double sum = 0.0;
    if (k == DS_METRIC_BINARY_ACCURACY && w == 1) {
        /* one output: count the rows where (p > 0.5) equals the label */
        int hits = 0;
        for (int r = 0; r < n; r++) hits += (out[r] > 0.5f ? 1.0f : 0.0f) == y[r];
        *acc += (double)hits;
        return;
    }
    for (int r = 0; r < n; r++) {
        const float *o = out + (size_t)r * w;
        switch (k) {
        case DS_METRIC_BINARY_ACCURACY: {
            /* prediction 1 when p > 0.5 (strictly), compared with y; mean over outputs */
            const float *yr = y + (size_t)r * w;
            int hits = 0;
            for (int j = 0; j < w; j++) hits += (o[j] > 0.5f ? 1.0f : 0.0f) == yr[j];
            sum += (double)hits / (double)w;
            break;
        }
        case DS_METRIC_CATEGORICAL_ACCURACY:
            sum += argmax(o, w) == argmax(y + (size_t)r * w, w);
            break;
        case DS_METRIC_SPARSE_CATEGORICAL_ACCURACY:
            sum += argmax(o, w) == (int)y[r];
            break;
        case DS_METRIC_MEAN_SQUARED_ERROR:
        case DS_METRIC_MEAN_ABSOLUTE_ERROR: {
            const float *yr = y + (size_t)r * w;
            double s = 0.0;
            for (int j = 0; j < w; j++) {
                double e = (double)o[j] - (double)yr[j];
                s += k == DS_METRIC_MEAN_SQUARED_ERROR ? e * e : fabs(e);
            }
            sum += s / (double)w;
            break;
        }
        default:
            break;
        }
    }
    *acc += sum;
}
