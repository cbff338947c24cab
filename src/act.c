/*
 * act.c - activation functions, forward and backward, by Keras's names and formulas.
 * Elementwise activations act on each value; softmax acts on each row. The backward
 * pass multiplies the upstream gradient by the derivative at the pre-activation z
 * (softmax: the Jacobian-vector product). Derivatives at kinks follow TensorFlow:
 * relu'(0) = 0, leaky_relu'(0) = alpha, elu'(0) = alpha e^0 ... (the left branch).
 * Nothing here clips a derivative; hard_sigmoid's derivative is 0 where it is flat.
 */
#include "internal.h"
#include "mathf.h"

#include <math.h>
#include <string.h>

/* SELU constants (Klambauer et al. 2017), as Keras uses them. */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

static const char *const act_names[DS_ACT_COUNT] = {
    "linear", "sigmoid", "tanh",        "relu",         "leaky_relu", "elu",    "selu",
    "softplus", "softsign", "hard_sigmoid", "swish", "gelu", "softmax"};

const char *ds_act_kind_name(ds_act_kind k)
{
    return (k >= 0 && k < DS_ACT_COUNT) ? act_names[k] : "unknown";
}

ds_status ds_act_kind_parse(const char *name, ds_act_kind *out)
{
    if (!name) return DS_ERR_ARG;
    for (int k = 0; k < DS_ACT_COUNT; k++)
        if (ds_streq_nocase(name, act_names[k])) {
            *out = (ds_act_kind)k;
            return DS_OK;
        }
    if (ds_streq_nocase(name, "none") || ds_streq_nocase(name, "identity")) {
        *out = DS_ACT_LINEAR;
        return DS_OK;
    }
    if (ds_streq_nocase(name, "silu")) {
        *out = DS_ACT_SWISH;
        return DS_OK;
    }
    return DS_ERR_ARG;
}

ds_activation ds_activation_defaults(ds_act_kind k)
{
    ds_activation a;
    a.kind = k;
    a.alpha = k == DS_ACT_LEAKY_RELU ? 0.3f : 1.0f;
    return a;
}

ds_status ds_activation_parse(const char *spec, ds_activation *out, ds_error *err)
{
    ds_spec s;
    ds_status st = ds_spec_parse(spec, &s, "activation", err);
    if (st) return st;
    ds_act_kind k;
    if (ds_act_kind_parse(s.name, &k))
        return ds_fail(err, DS_ERR_ARG,
                       "unknown activation '%s' (known: linear, sigmoid, tanh, relu, "
                       "leaky_relu, elu, selu, softplus, softsign, hard_sigmoid, swish, gelu, "
                       "softmax)",
                       s.name);
    ds_activation a = ds_activation_defaults(k);
    int used[DS_SPEC_MAX_ARGS] = {0};
    if (k == DS_ACT_LEAKY_RELU || k == DS_ACT_ELU) {
        const ds_spec_arg *arg = ds_spec_get(&s, "alpha", 0, used);
        if (!arg) arg = ds_spec_get(&s, "negative_slope", 0, used);
        if (arg) {
            double v;
            if ((st = ds_spec_number(arg->value, &v, s.name, "alpha", err))) return st;
            a.alpha = (float)v;
        }
    }
    if ((st = ds_spec_check_used(&s, used, "activation", err))) return st;
    *out = a;
    return DS_OK;
}

const char *ds_activation_str(const ds_activation *a, char *buf, size_t size)
{
    if ((a->kind == DS_ACT_LEAKY_RELU && a->alpha != 0.3f) ||
        (a->kind == DS_ACT_ELU && a->alpha != 1.0f))
        snprintf(buf, size, "%s(alpha=%.9g)", ds_act_kind_name(a->kind), (double)a->alpha);
    else
        snprintf(buf, size, "%s", ds_act_kind_name(a->kind));
    return buf;
}

/* sigmoid by the sign of x, so exp never overflows; selects, no branches, so that a
 * loop of it vectorizes */
static inline float sigmoidf(float x)
{
    float e = ds_expf(-fabsf(x));
    float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
    return x >= 0.0f ? pos : neg;
}

DS_VECTOR_CLONES static void sigmoid_loop(float *out, const float *z, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = sigmoidf(z[i]);
}

static void softmax_rows(float *out, const float *z, int n, int w)
{
    for (int r = 0; r < n; r++) {
        const float *zr = z + (size_t)r * w;
        float *o = out + (size_t)r * w;
        float mx = zr[0];
        for (int j = 1; j < w; j++) mx = zr[j] > mx ? zr[j] : mx;
        for (int j = 0; j < w; j++) o[j] = ds_expf(zr[j] - mx); /* vectorizes */
        double sum = 0.0;
        for (int j = 0; j < w; j++) sum += (double)o[j];
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < w; j++) o[j] *= inv;
    }
}

void ds_act_forward(const ds_activation *a, ds_keras_version kv, float *out, const float *z,
                    int n, int w)
{
    size_t len = (size_t)n * (size_t)w;
    float al = a->alpha;
    switch (a->kind) {
    case DS_ACT_LINEAR: /* x */
        if (out != z) memcpy(out, z, sizeof(float) * len);
        break;
    case DS_ACT_SIGMOID: /* 1 / (1 + e^-x) */
        sigmoid_loop(out, z, len);
        break;
    case DS_ACT_TANH:
        for (size_t i = 0; i < len; i++) out[i] = tanhf(z[i]);
        break;
    case DS_ACT_RELU: /* max(0, x) */
        for (size_t i = 0; i < len; i++) out[i] = z[i] > 0.0f ? z[i] : 0.0f;
        break;
    case DS_ACT_LEAKY_RELU: /* x > 0 ? x : alpha x */
        for (size_t i = 0; i < len; i++) out[i] = z[i] > 0.0f ? z[i] : al * z[i];
        break;
    case DS_ACT_ELU: /* x > 0 ? x : alpha (e^x - 1) */
        for (size_t i = 0; i < len; i++) out[i] = z[i] > 0.0f ? z[i] : al * expm1f(z[i]);
        break;
    case DS_ACT_SELU: /* scale (x > 0 ? x : alpha (e^x - 1)) */
        for (size_t i = 0; i < len; i++)
            out[i] = (float)SELU_SCALE *
                     (z[i] > 0.0f ? z[i] : (float)SELU_ALPHA * expm1f(z[i]));
        break;
    case DS_ACT_SOFTPLUS: /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|) */
        for (size_t i = 0; i < len; i++)
            out[i] = (z[i] > 0.0f ? z[i] : 0.0f) + ds_log1pf_unit(ds_expf(-fabsf(z[i])));
        break;
    case DS_ACT_SOFTSIGN: /* x / (1 + |x|) */
        for (size_t i = 0; i < len; i++) out[i] = z[i] / (1.0f + fabsf(z[i]));
        break;
    case DS_ACT_HARD_SIGMOID: {
        /* tf.keras 2.x: clip(0.2 x + 0.5, 0, 1); Keras 3: clip(x / 6 + 0.5, 0, 1) */
        float slope = kv == DS_KERAS_3 ? 1.0f / 6.0f : 0.2f;
        for (size_t i = 0; i < len; i++) {
            float v = slope * z[i] + 0.5f;
            out[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        break;
    }
    case DS_ACT_SWISH: /* x sigmoid(x) */
        for (size_t i = 0; i < len; i++) out[i] = z[i] * sigmoidf(z[i]);
        break;
    case DS_ACT_GELU: /* exact form (Keras approximate=False): 0.5 x (1 + erf(x / sqrt 2)) */
        for (size_t i = 0; i < len; i++)
            out[i] = 0.5f * z[i] * (1.0f + erff(z[i] * 0.70710678118654752f));
        break;
    case DS_ACT_SOFTMAX: /* e^(x_j - max) / sum_k e^(x_k - max), per row */
        softmax_rows(out, z, n, w);
        break;
    default:
        break;
    }
}

void ds_act_backward(const ds_activation *a, ds_keras_version kv, float *dz,
                     const float *dout, const float *z, const float *out, int n, int w)
{
    size_t len = (size_t)n * (size_t)w;
    float al = a->alpha;
    switch (a->kind) {
    case DS_ACT_LINEAR:
        if (dz != dout) memcpy(dz, dout, sizeof(float) * len);
        break;
    case DS_ACT_SIGMOID: /* s (1 - s) */
        for (size_t i = 0; i < len; i++) dz[i] = dout[i] * out[i] * (1.0f - out[i]);
        break;
    case DS_ACT_TANH: /* 1 - t^2 */
        for (size_t i = 0; i < len; i++) dz[i] = dout[i] * (1.0f - out[i] * out[i]);
        break;
    case DS_ACT_RELU:
        for (size_t i = 0; i < len; i++) dz[i] = z[i] > 0.0f ? dout[i] : 0.0f;
        break;
    case DS_ACT_LEAKY_RELU:
        for (size_t i = 0; i < len; i++) dz[i] = z[i] > 0.0f ? dout[i] : al * dout[i];
        break;
    case DS_ACT_ELU: /* x <= 0: alpha e^x = out + alpha */
        for (size_t i = 0; i < len; i++) dz[i] = z[i] > 0.0f ? dout[i] : dout[i] * (out[i] + al);
        break;
    case DS_ACT_SELU: /* scale (x > 0 ? 1 : alpha e^x) */
        for (size_t i = 0; i < len; i++)
            dz[i] = dout[i] * (float)SELU_SCALE *
                    (z[i] > 0.0f ? 1.0f : (float)SELU_ALPHA * ds_expf(z[i]));
        break;
    case DS_ACT_SOFTPLUS: /* sigmoid(x) */
        for (size_t i = 0; i < len; i++) dz[i] = dout[i] * sigmoidf(z[i]);
        break;
    case DS_ACT_SOFTSIGN: /* 1 / (1 + |x|)^2 */
        for (size_t i = 0; i < len; i++) {
            float d = 1.0f + fabsf(z[i]);
            dz[i] = dout[i] / (d * d);
        }
        break;
    case DS_ACT_HARD_SIGMOID: {
        /* slope inside the linear part, 0 where clipped (TensorFlow's gradient too) */
        float slope = kv == DS_KERAS_3 ? 1.0f / 6.0f : 0.2f;
        for (size_t i = 0; i < len; i++) {
            float v = slope * z[i] + 0.5f;
            dz[i] = (v > 0.0f && v < 1.0f) ? slope * dout[i] : 0.0f;
        }
        break;
    }
    case DS_ACT_SWISH: /* s + x s (1 - s) */
        for (size_t i = 0; i < len; i++) {
            float s = sigmoidf(z[i]);
            dz[i] = dout[i] * (s + z[i] * s * (1.0f - s));
        }
        break;
    case DS_ACT_GELU: /* Phi(x) + x phi(x) */
        for (size_t i = 0; i < len; i++) {
            float x = z[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = ds_expf(-0.5f * x * x) * 0.3989422804014327f;
            dz[i] = dout[i] * (cdf + x * pdf);
        }
        break;
    case DS_ACT_SOFTMAX: /* dz_j = s_j (dout_j - sum_k dout_k s_k), per row */
        for (int r = 0; r < n; r++) {
            const float *s = out + (size_t)r * w;
            const float *g = dout + (size_t)r * w;
            float *d = dz + (size_t)r * w;
            double dot = 0.0;
            for (int j = 0; j < w; j++) dot += (double)g[j] * (double)s[j];
            for (int j = 0; j < w; j++) d[j] = s[j] * (g[j] - (float)dot);
        }
        break;
    default:
        break;
    }
}
