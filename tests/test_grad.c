/*
 * test_grad.c - finite-difference checks of every activation, every loss, the dense
 * layer, dropout and whole multi-layer models.
 *
 * Tolerances. Everything runs in float32 (about 7 significant digits) with losses summed
 * in double. A central difference (f(x+h) - f(x-h)) / 2h has truncation error
 * h^2 f'''/6 and rounding error about eps32 |f| / h. With h = 1e-2 and |f| <= 10 that is
 * at most ~1e-4 + 1e-4; we allow |num - ana| <= 2e-3 + 2e-2 |ana|, which still catches
 * any wrong factor, sign or missing term (those give errors of order |ana|). Points are
 * drawn away from kinks (relu, leaky_relu, elu at 0, hard_sigmoid at its corners, MAE and
 * Huber at their switch points). Each check also fails when the gradient is all zero.
 */
#include "harness.h"
#include "../src/internal.h"

#include <stdlib.h>
#include <string.h>

#define H 1e-2f
#define ATOL 2e-3
#define RTOL 2e-2

static float frand(ds_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)ds_rng_uniform(r);
}

/* a value in [lo, hi] at least `gap` away from every kink in kinks[] */
static float away_from(ds_rng *r, float lo, float hi, const float *kinks, int nk, float gap)
{
    for (;;) {
        float v = frand(r, lo, hi);
        int ok = 1;
        for (int i = 0; i < nk; i++)
            if (fabsf(v - kinks[i]) < gap) ok = 0;
        if (ok) return v;
    }
}

/* ---------------------------------------------------------------------------------- */
/* activations: dz = act'(z) * dout against d/dz of sum(dout * act(z)) */

static void check_activation(ds_act_kind kind, ds_keras_version kv)
{
    enum { N = 3, W = 5 };
    ds_rng r = ds_rng_split(7, (uint64_t)kind);
    ds_activation a = ds_activation_defaults(kind);
    float kinks[2] = {0.0f, 0.0f};
    int nk = 1;
    if (kind == DS_ACT_HARD_SIGMOID) {
        float c = kv == DS_KERAS_3 ? 3.0f : 2.5f;
        kinks[0] = -c;
        kinks[1] = c;
        nk = 2;
    }
    float z[N * W], dout[N * W], out[N * W], dz[N * W], zp[N * W], op[N * W];
    for (int i = 0; i < N * W; i++) {
        z[i] = away_from(&r, -3.5f, 3.5f, kinks, nk, 0.1f);
        dout[i] = frand(&r, -1.0f, 1.0f);
    }
    ds_act_forward(&a, kv, out, z, N, W);
    ds_act_backward(&a, kv, dz, dout, z, out, N, W);
    double max_abs = 0.0;
    for (int i = 0; i < N * W; i++) {
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(zp, z, sizeof z);
            zp[i] += sgn ? -H : H;
            ds_act_forward(&a, kv, op, zp, N, W);
            double s = 0.0;
            for (int j = 0; j < N * W; j++) s += (double)dout[j] * (double)op[j];
            f[sgn] = s;
        }
        double num = (f[0] - f[1]) / (2.0 * (double)H);
        CHECK(fabs(num - (double)dz[i]) <= ATOL + RTOL * fabs(num),
              "%s (keras %d) z=%g: numeric %.6g analytic %.6g", ds_act_kind_name(kind), (int)kv,
              (double)z[i], num, (double)dz[i]);
        if (fabs((double)dz[i]) > max_abs) max_abs = fabs((double)dz[i]);
    }
    CHECK(max_abs > 1e-3, "%s: gradient is all zero", ds_act_kind_name(kind));
}

static void test_activation_gradients(void)
{
    for (int k = 0; k < DS_ACT_COUNT; k++) check_activation((ds_act_kind)k, DS_KERAS_2);
    check_activation(DS_ACT_HARD_SIGMOID, DS_KERAS_3);
}

static void test_activation_values(void)
{
    /* spot values from the formulas */
    ds_activation a;
    float z[4] = {-2.0f, -0.5f, 0.5f, 2.0f}, o[4];
    a = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_act_forward(&a, DS_KERAS_2, o, z, 1, 4);
    CHECK_CLOSE(o[3], 0.880797078, 1e-6, 0);
    a = ds_activation_defaults(DS_ACT_HARD_SIGMOID);
    ds_act_forward(&a, DS_KERAS_2, o, z, 1, 4);
    CHECK_CLOSE(o[2], 0.6, 1e-6, 0);
    ds_act_forward(&a, DS_KERAS_3, o, z, 1, 4);
    CHECK_CLOSE(o[2], 0.5 + 0.5 / 6.0, 1e-6, 0);
    a = ds_activation_defaults(DS_ACT_LEAKY_RELU);
    ds_act_forward(&a, DS_KERAS_2, o, z, 1, 4);
    CHECK_CLOSE(o[0], -0.6, 1e-6, 0);
    a = ds_activation_defaults(DS_ACT_SELU);
    ds_act_forward(&a, DS_KERAS_2, o, z, 1, 4);
    CHECK_CLOSE(o[0], 1.0507009873554805 * 1.6732632423543772 * (exp(-2.0) - 1.0), 1e-6, 0);
    a = ds_activation_defaults(DS_ACT_GELU);
    ds_act_forward(&a, DS_KERAS_2, o, z, 1, 4);
    CHECK_CLOSE(o[3], 1.954499736, 1e-6, 0);
    a = ds_activation_defaults(DS_ACT_SOFTPLUS);
    float big[2] = {100.0f, -100.0f};
    ds_act_forward(&a, DS_KERAS_2, o, big, 1, 2);
    CHECK_CLOSE(o[0], 100.0, 1e-5, 0);
    CHECK(o[1] >= 0.0f && o[1] < 1e-30f, "softplus(-100) = %g", (double)o[1]);
    a = ds_activation_defaults(DS_ACT_SOFTMAX);
    float zs[3] = {1000.0f, 1000.0f, -1000.0f};
    ds_act_forward(&a, DS_KERAS_2, o, zs, 1, 3);
    CHECK_CLOSE(o[0], 0.5, 1e-7, 0);
    CHECK_CLOSE(o[2], 0.0, 1e-7, 0);
    ds_activation p;
    CHECK(ds_activation_parse("leaky_relu(alpha=0.1)", &p, NULL) == DS_OK, "parse");
    CHECK(p.kind == DS_ACT_LEAKY_RELU && p.alpha == 0.1f, "alpha %g", (double)p.alpha);
    ds_error e;
    CHECK(ds_activation_parse("relux", &p, &e) == DS_ERR_ARG && strstr(e.message, "relux"),
          "unknown activation message: %s", e.message);
    CHECK(ds_activation_parse("relu(alpha=2)", &p, &e) == DS_ERR_ARG &&
              strstr(e.message, "alpha"),
          "relu takes no alpha: %s", e.message);
}

/* ---------------------------------------------------------------------------------- */
/* losses: the gradient returned for z (logit forms) or out against finite differences */

static double loss_sum(const ds_loss *l, ds_loss_input in, ds_act_kind act, const float *z,
                       const float *y, int n, int w)
{
    float out[64];
    ds_activation a = ds_activation_defaults(act);
    ds_act_forward(&a, DS_KERAS_2, out, z, n, w);
    return ds_loss_compute(l, in, out, z, y, n, w, NULL, 1.0f);
}

static void check_loss(ds_loss l, ds_loss_input in, ds_act_kind act, int w)
{
    enum { N = 4 };
    ds_rng r = ds_rng_split(11, (uint64_t)l.kind * 10 + (uint64_t)in);
    float z[64], y[64], out[64], dz[64], dout[64], zp[64];
    int ny = l.kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : w;
    for (int i = 0; i < N * w; i++) z[i] = frand(&r, -2.0f, 2.0f);
    for (int i = 0; i < N; i++) {
        int cls = (int)ds_rng_below(&r, (uint64_t)w);
        for (int j = 0; j < ny; j++) {
            float *yi = &y[i * ny + j];
            if (l.kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) *yi = (float)cls;
            else if (l.kind == DS_LOSS_CATEGORICAL_CROSSENTROPY) *yi = j == cls ? 1.0f : 0.0f;
            else if (l.kind == DS_LOSS_BINARY_CROSSENTROPY) *yi = (float)ds_rng_below(&r, 2);
            else *yi = frand(&r, -1.0f, 1.0f);
        }
    }
    /* keep MAE / Huber away from their switch points */
    if (l.kind == DS_LOSS_MEAN_ABSOLUTE_ERROR || l.kind == DS_LOSS_HUBER)
        for (int i = 0; i < N * w; i++) {
            float kinks[2] = {y[i] - l.delta, y[i] + l.delta};
            float k0[1] = {y[i]};
            z[i] = l.kind == DS_LOSS_HUBER ? away_from(&r, -3.0f, 3.0f, kinks, 2, 0.1f)
                                            : away_from(&r, -3.0f, 3.0f, k0, 1, 0.1f);
        }
    ds_activation a = ds_activation_defaults(act);
    ds_act_forward(&a, DS_KERAS_2, out, z, N, w);
    float scale = 1.0f / N;
    ds_loss_compute(&l, in, out, z, y, N, w, dz, scale);
    if (in == DS_LOSS_FROM_PROBS) { /* gradient is w.r.t. out: chain through act */
        memcpy(dout, dz, sizeof(float) * (size_t)(N * w));
        ds_act_backward(&a, DS_KERAS_2, dz, dout, z, out, N, w);
    }
    double max_abs = 0.0;
    for (int i = 0; i < N * w; i++) {
        memcpy(zp, z, sizeof(float) * (size_t)(N * w));
        zp[i] = z[i] + H;
        double fp = loss_sum(&l, in, act, zp, y, N, w) / N;
        zp[i] = z[i] - H;
        double fm = loss_sum(&l, in, act, zp, y, N, w) / N;
        double num = (fp - fm) / (2.0 * (double)H);
        CHECK(fabs(num - (double)dz[i]) <= ATOL / 4 + RTOL * fabs(num),
              "%s input %d: numeric %.6g analytic %.6g", ds_loss_kind_name(l.kind), (int)in, num,
              (double)dz[i]);
        if (fabs((double)dz[i]) > max_abs) max_abs = fabs((double)dz[i]);
    }
    CHECK(max_abs > 1e-3, "%s: gradient is all zero", ds_loss_kind_name(l.kind));
}

static void test_loss_gradients(void)
{
    ds_loss bce = ds_loss_defaults(DS_LOSS_BINARY_CROSSENTROPY);
    check_loss(bce, DS_LOSS_FROM_SIGMOID_LOGITS, DS_ACT_SIGMOID, 1);
    check_loss(bce, DS_LOSS_FROM_SIGMOID_LOGITS, DS_ACT_SIGMOID, 3);
    check_loss(bce, DS_LOSS_FROM_PROBS, DS_ACT_SIGMOID, 2);
    bce.label_smoothing = 0.2f;
    check_loss(bce, DS_LOSS_FROM_SIGMOID_LOGITS, DS_ACT_SIGMOID, 1);
    ds_loss cce = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
    check_loss(cce, DS_LOSS_FROM_SOFTMAX_LOGITS, DS_ACT_SOFTMAX, 3);
    check_loss(cce, DS_LOSS_FROM_PROBS, DS_ACT_SOFTMAX, 4);
    check_loss(cce, DS_LOSS_FROM_PROBS, DS_ACT_SIGMOID, 3); /* unnormalized outputs */
    cce.label_smoothing = 0.1f;
    check_loss(cce, DS_LOSS_FROM_SOFTMAX_LOGITS, DS_ACT_SOFTMAX, 3);
    ds_loss scce = ds_loss_defaults(DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
    check_loss(scce, DS_LOSS_FROM_SOFTMAX_LOGITS, DS_ACT_SOFTMAX, 3);
    check_loss(scce, DS_LOSS_FROM_PROBS, DS_ACT_SOFTMAX, 3);
    check_loss(ds_loss_defaults(DS_LOSS_MEAN_SQUARED_ERROR), DS_LOSS_FROM_PROBS, DS_ACT_LINEAR, 2);
    check_loss(ds_loss_defaults(DS_LOSS_MEAN_SQUARED_ERROR), DS_LOSS_FROM_PROBS, DS_ACT_TANH, 2);
    check_loss(ds_loss_defaults(DS_LOSS_MEAN_ABSOLUTE_ERROR), DS_LOSS_FROM_PROBS, DS_ACT_LINEAR,
               2);
    check_loss(ds_loss_defaults(DS_LOSS_HUBER), DS_LOSS_FROM_PROBS, DS_ACT_LINEAR, 2);
}

static void test_loss_values(void)
{
    /* hand-computed values from the formulas */
    ds_loss bce = ds_loss_defaults(DS_LOSS_BINARY_CROSSENTROPY);
    float z0[1] = {0.0f}, p0[1] = {0.5f}, y1[1] = {1.0f};
    CHECK_CLOSE(ds_loss_compute(&bce, DS_LOSS_FROM_SIGMOID_LOGITS, p0, z0, y1, 1, 1, NULL, 1),
                0.693147181, 1e-7, 0);
    /* a saturated logit stays finite and exact from z: BCE(z=-30, y=1) = 30 + log1p(e^-30) */
    float zs[1] = {-30.0f}, ps[1] = {0.0f};
    CHECK_CLOSE(ds_loss_compute(&bce, DS_LOSS_FROM_SIGMOID_LOGITS, ps, zs, y1, 1, 1, NULL, 1),
                30.0, 1e-5, 0);
    /* from probabilities, tf.keras 2.x clips p to [eps, 1-eps] and adds eps in the log */
    CHECK_CLOSE(ds_loss_compute(&bce, DS_LOSS_FROM_PROBS, ps, NULL, y1, 1, 1, NULL, 1),
                -log(2e-7), 1e-4, 0);
    ds_loss cce = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
    float zc[3] = {1.0f, 2.0f, 3.0f}, pc[3], yc[3] = {0, 0, 1};
    ds_activation sm = ds_activation_defaults(DS_ACT_SOFTMAX);
    ds_act_forward(&sm, DS_KERAS_2, pc, zc, 1, 3);
    double expect = -(3.0 - log(exp(1.0) + exp(2.0) + exp(3.0)));
    CHECK_CLOSE(ds_loss_compute(&cce, DS_LOSS_FROM_SOFTMAX_LOGITS, pc, zc, yc, 1, 3, NULL, 1),
                expect, 1e-6, 0);
    CHECK_CLOSE(ds_loss_compute(&cce, DS_LOSS_FROM_PROBS, pc, zc, yc, 1, 3, NULL, 1), expect,
                1e-6, 0);
    ds_loss hub = ds_loss_defaults(DS_LOSS_HUBER);
    float ph[2] = {0.5f, 3.0f}, yh[2] = {0.0f, 0.0f};
    /* mean(0.5 * 0.25, 1 * (3 - 0.5)) = (0.125 + 2.5) / 2 */
    CHECK_CLOSE(ds_loss_compute(&hub, DS_LOSS_FROM_PROBS, ph, NULL, yh, 1, 2, NULL, 1), 1.3125,
                1e-7, 0);
    /* binary accuracy: strict > 0.5 */
    float pa[4] = {0.5f, 0.51f, 0.2f, 0.9f}, ya[4] = {0, 1, 0, 0};
    double acc = 0.0;
    ds_metric_accumulate(DS_METRIC_BINARY_ACCURACY, pa, ya, 4, 1, &acc);
    CHECK_CLOSE(acc, 3.0, 0, 0);
    CHECK(ds_metric_resolve(DS_METRIC_ACCURACY, DS_LOSS_BINARY_CROSSENTROPY, 1) ==
              DS_METRIC_BINARY_ACCURACY, "binary");
    CHECK(ds_metric_resolve(DS_METRIC_ACCURACY, DS_LOSS_CATEGORICAL_CROSSENTROPY, 3) ==
              DS_METRIC_CATEGORICAL_ACCURACY, "categorical");
    CHECK(ds_metric_resolve(DS_METRIC_ACCURACY, DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3) ==
              DS_METRIC_SPARSE_CATEGORICAL_ACCURACY, "sparse");
}

/* ---------------------------------------------------------------------------------- */
/* whole models: every parameter and a random direction */

/* mean batch loss in training mode, with a fixed dropout stream */
static double model_loss(ds_model *m, const float *x, const float *y, int n, uint64_t dseed)
{
    ds_rng r = ds_rng_split(dseed, 0);
    double l;
    ds_model_train_batch_grad(m, x, y, n, &r, &l, NULL);
    return l;
}

typedef struct {
    int n_layers;
    int units[5];
    ds_act_kind act[5];
    float dropout_after_first; /* 0 = none */
    ds_loss_kind loss;
} model_case;

static void check_model(const model_case *mc, int n_in, int n)
{
    ds_model *m;
    CHECK_OK(ds_model_create(&m, n_in, NULL));
    for (int k = 0; k < mc->n_layers; k++) {
        ds_dense_config c = ds_dense_defaults(mc->units[k]);
        c.activation = ds_activation_defaults(mc->act[k]);
        c.bias_initializer = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
        c.bias_initializer.stddev = 0.5;
        CHECK_OK(ds_model_add_dense(m, &c, NULL));
        if (k == 0 && mc->dropout_after_first > 0)
            CHECK_OK(ds_model_add_dropout(m, mc->dropout_after_first, NULL));
    }
    CHECK_OK(ds_model_build(m, 3, NULL));
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(mc->loss);
    CHECK_OK(ds_model_compile(m, &cc, NULL));
    int w = ds_model_n_outputs(m);
    int ny = mc->loss == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : w;
    float *x = malloc(sizeof(float) * (size_t)(n * n_in));
    float *y = malloc(sizeof(float) * (size_t)(n * ny));
    ds_rng r = ds_rng_split(5, 1);
    for (int i = 0; i < n * n_in; i++) x[i] = frand(&r, -1.5f, 1.5f);
    for (int i = 0; i < n; i++) {
        int cls = (int)ds_rng_below(&r, (uint64_t)w);
        for (int j = 0; j < ny; j++) {
            float v;
            if (mc->loss == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) v = (float)cls;
            else if (mc->loss == DS_LOSS_CATEGORICAL_CROSSENTROPY) v = j == cls ? 1.0f : 0.0f;
            else if (mc->loss == DS_LOSS_BINARY_CROSSENTROPY) v = (float)ds_rng_below(&r, 2);
            else v = frand(&r, -1.0f, 1.0f);
            y[i * ny + j] = v;
        }
    }
    size_t np = ds_model_n_params(m);
    float *p = ds_model_params(m);
    float *ana = malloc(sizeof(float) * np);
    ds_model_zero_grad(m);
    model_loss(m, x, y, n, 99);
    memcpy(ana, ds_model_grads(m), sizeof(float) * np);

    /* accumulation: a second backward without zeroing doubles the gradient */
    model_loss(m, x, y, n, 99);
    int doubled = 1;
    for (size_t i = 0; i < np; i++)
        if (fabsf(ds_model_grads(m)[i] - 2.0f * ana[i]) > 1e-6f * (1.0f + fabsf(ana[i])))
            doubled = 0;
    CHECK(doubled, "two backwards without zero_grad must give twice the gradient");

    double max_abs = 0.0;
    int bad = 0;
    for (size_t i = 0; i < np; i++) {
        float keep = p[i];
        p[i] = keep + H;
        double fp = model_loss(m, x, y, n, 99);
        p[i] = keep - H;
        double fm = model_loss(m, x, y, n, 99);
        p[i] = keep;
        double num = (fp - fm) / (2.0 * (double)H);
        if (fabs(num - (double)ana[i]) > ATOL + RTOL * fabs(num)) {
            if (bad++ < 5)
                fprintf(stderr, "  param %zu: numeric %.6g analytic %.6g\n", i, num,
                        (double)ana[i]);
        }
        if (fabs((double)ana[i]) > max_abs) max_abs = fabs((double)ana[i]);
    }
    CHECK(bad == 0, "%d of %zu parameters disagree (first act %s, loss %s)", bad, np,
          ds_act_kind_name(mc->act[0]), ds_loss_kind_name(mc->loss));
    CHECK(max_abs > 1e-3, "gradient is all zero");

    /* directional check: L(p + h d) - L(p - h d) ~ 2h grad . d for a random unit d */
    float *d = malloc(sizeof(float) * np);
    double norm = 0.0, dot = 0.0;
    for (size_t i = 0; i < np; i++) {
        d[i] = (float)ds_rng_normal(&r);
        norm += (double)d[i] * (double)d[i];
    }
    norm = sqrt(norm);
    float *keep = malloc(sizeof(float) * np);
    memcpy(keep, p, sizeof(float) * np);
    for (size_t i = 0; i < np; i++) {
        d[i] = (float)((double)d[i] / norm);
        dot += (double)d[i] * (double)ana[i];
        p[i] = keep[i] + H * d[i];
    }
    double fp = model_loss(m, x, y, n, 99);
    for (size_t i = 0; i < np; i++) p[i] = keep[i] - H * d[i];
    double fm = model_loss(m, x, y, n, 99);
    memcpy(p, keep, sizeof(float) * np);
    double num = (fp - fm) / (2.0 * (double)H);
    CHECK(fabs(num - dot) <= ATOL + RTOL * fabs(num), "directional: numeric %.6g analytic %.6g",
          num, dot);
    free(d);
    free(keep);
    free(ana);
    free(x);
    free(y);
    ds_model_free(m);
}

static void test_model_gradients(void)
{
    /* every activation in a hidden layer of a 3-layer model */
    for (int k = 0; k < DS_ACT_COUNT; k++) {
        if (k == DS_ACT_RELU || k == DS_ACT_LEAKY_RELU || k == DS_ACT_HARD_SIGMOID) continue;
        model_case mc = {3, {5, 4, 1}, {(ds_act_kind)k, DS_ACT_TANH, DS_ACT_SIGMOID}, 0,
                         DS_LOSS_BINARY_CROSSENTROPY};
        check_model(&mc, 3, 6);
    }
    /* kinked activations: the check sums over many rows and a kink is hit with
     * probability 0, but a parameter step of h can still cross one; a wide tolerance
     * would hide bugs, so these run on their own with small inputs to the kink */
    model_case relu = {2, {6, 3}, {DS_ACT_RELU, DS_ACT_SOFTMAX}, 0,
                       DS_LOSS_CATEGORICAL_CROSSENTROPY};
    check_model(&relu, 4, 5);
    model_case leaky = {2, {6, 2}, {DS_ACT_LEAKY_RELU, DS_ACT_LINEAR}, 0,
                        DS_LOSS_MEAN_SQUARED_ERROR};
    check_model(&leaky, 4, 5);
    /* every loss on its usual head */
    model_case heads[] = {
        {2, {4, 3}, {DS_ACT_TANH, DS_ACT_SOFTMAX}, 0, DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY},
        {2, {4, 2}, {DS_ACT_ELU, DS_ACT_LINEAR}, 0, DS_LOSS_MEAN_ABSOLUTE_ERROR},
        {2, {4, 2}, {DS_ACT_SELU, DS_ACT_LINEAR}, 0, DS_LOSS_HUBER},
        {2, {4, 3}, {DS_ACT_SIGMOID, DS_ACT_SIGMOID}, 0, DS_LOSS_BINARY_CROSSENTROPY},
        /* a deeper stack and a dropout layer (its mask is fixed by the stream) */
        {5, {7, 6, 5, 4, 3}, {DS_ACT_TANH, DS_ACT_SWISH, DS_ACT_GELU, DS_ACT_SOFTPLUS,
                              DS_ACT_SOFTMAX}, 0.3f, DS_LOSS_CATEGORICAL_CROSSENTROPY},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) check_model(&heads[i], 3, 40);
}

/* the dense kernel against a plain double-precision reference, batch over many shards */
static void test_dense_kernel(void)
{
    enum { B = 70, I = 5, O = 3 };
    ds_rng r = ds_rng_split(1, 2);
    float x[B * I], w[I * O], b[O], out[B * O], dout[B * O], dinp[B * I], dw[I * O], db[O];
    float scratch[I * O + O];
    for (int i = 0; i < B * I; i++) x[i] = frand(&r, -1, 1);
    for (int i = 0; i < I * O; i++) w[i] = frand(&r, -1, 1);
    for (int i = 0; i < O; i++) b[i] = frand(&r, -1, 1);
    for (int i = 0; i < B * O; i++) dout[i] = frand(&r, -1, 1);
    ds_dense_forward(out, x, w, b, B, I, O);
    memset(dw, 0, sizeof dw);
    memset(db, 0, sizeof db);
    ds_dense_backward(dinp, dw, db, dout, x, w, scratch, B, I, O);
    for (int bb = 0; bb < B; bb++)
        for (int o = 0; o < O; o++) {
            double s = (double)b[o];
            for (int i = 0; i < I; i++) s += (double)x[bb * I + i] * (double)w[i * O + o];
            CHECK_CLOSE(out[bb * O + o], s, 1e-5, 1e-5);
        }
    for (int i = 0; i < I; i++)
        for (int o = 0; o < O; o++) {
            double s = 0;
            for (int bb = 0; bb < B; bb++) s += (double)x[bb * I + i] * (double)dout[bb * O + o];
            CHECK_CLOSE(dw[i * O + o], s, 1e-5, 1e-5);
        }
    for (int o = 0; o < O; o++) {
        double s = 0;
        for (int bb = 0; bb < B; bb++) s += (double)dout[bb * O + o];
        CHECK_CLOSE(db[o], s, 1e-5, 1e-5);
    }
    for (int bb = 0; bb < B; bb++)
        for (int i = 0; i < I; i++) {
            double s = 0;
            for (int o = 0; o < O; o++) s += (double)dout[bb * O + o] * (double)w[i * O + o];
            CHECK_CLOSE(dinp[bb * I + i], s, 1e-5, 1e-5);
        }
}

int main(void)
{
    RUN(test_activation_values);
    RUN(test_activation_gradients);
    RUN(test_loss_values);
    RUN(test_loss_gradients);
    RUN(test_dense_kernel);
    RUN(test_model_gradients);
    return HARNESS_DONE();
}
