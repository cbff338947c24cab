/*
 * test_diag.c - ds_model_diagnostics on constructed cases: dead and saturated units with
 * weights set by hand, the saturation bounds value by value, zeros initialization keeping
 * a layer's units identical through training, the probe gradient against
 * ds_model_train_batch_grad, norms, update ratios and output statistics against direct
 * computations, fit unchanged by diagnostics in its epoch callback, and the errors.
 */
#include "harness.h"
#include "testdata.h"
#include "../src/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------- */
/* helpers */

/* n rows of n_x N(0,1) features (n_x >= 2) and 0/1 targets: x0 + x1 > 0 (n_y 1), the
 * pair (x0 > 0, x0 + x1 > 0) (n_y 2), or one-hot argmax(x0, x1, x2) (n_y 3) */
static ds_dataset *probe_set(int n, int n_x, int n_y, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)n_x);
    float *y = malloc(sizeof(float) * (size_t)n * (size_t)n_y);
    ds_rng r = ds_rng_split(seed, DS_STREAM_USER);
    for (int i = 0; i < n; i++) {
        float *xi = x + (size_t)i * n_x, *yi = y + (size_t)i * n_y;
        for (int j = 0; j < n_x; j++) xi[j] = (float)ds_rng_normal(&r);
        if (n_y == 1) {
            yi[0] = xi[0] + xi[1] > 0.0f ? 1.0f : 0.0f;
        } else if (n_y == 2) {
            yi[0] = xi[0] > 0.0f ? 1.0f : 0.0f;
            yi[1] = xi[0] + xi[1] > 0.0f ? 1.0f : 0.0f;
        } else {
            int best = 0;
            for (int j = 1; j < n_y && j < n_x; j++) best = xi[j] > xi[best] ? j : best;
            for (int j = 0; j < n_y; j++) yi[j] = j == best ? 1.0f : 0.0f;
        }
    }
    ds_dataset *d = NULL;
    ds_dataset_create(&d, n, n_x, n_y, x, y, NULL);
    free(x);
    free(y);
    return d;
}

/* A dense stack: units[k] with acts[k]; a negative unit count adds dropout(0.25) there.
 * Kernels from kinit, biases zero; built from seed and compiled with loss and adam. */
static ds_model *stack(int n_in, int n, const int *units, const ds_act_kind *acts,
                       ds_init_kind kinit, uint64_t seed, ds_loss_kind loss)
{
    ds_model *m = NULL;
    ds_model_create(&m, n_in, NULL);
    for (int k = 0; k < n; k++) {
        if (units[k] < 0) {
            ds_model_add_dropout(m, 0.25f, NULL);
            continue;
        }
        ds_dense_config c = ds_dense_defaults(units[k]);
        c.activation = ds_activation_defaults(acts[k]);
        c.kernel_initializer = ds_initializer_defaults(kinit);
        ds_model_add_dense(m, &c, NULL);
    }
    ds_model_build(m, seed, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(loss);
    cc.optimizer = ds_optimizer_defaults(DS_OPT_ADAM);
    cc.optimizer.learning_rate = 0.01;
    ds_model_compile(m, &cc, NULL);
    return m;
}

static double norm_of(const float *a, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)a[i];
    return sqrt(s);
}

static size_t kernel_size(const ds_model *m, int k)
{
    int n_in = k ? ds_model_layer_units(m, k - 1) : ds_model_n_inputs(m);
    return (size_t)n_in * (size_t)ds_model_layer_units(m, k);
}

/* ---------------------------------------------------------------------------------- */
/* dead relu units */

static void test_dead_relu(void)
{
    int units[2] = {6, 1};
    ds_act_kind acts[2] = {DS_ACT_RELU, DS_ACT_SIGMOID};
    ds_model *m = stack(3, 2, units, acts, DS_INIT_GLOROT_UNIFORM, 1,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_dataset *p = probe_set(100, 3, 1, 2);
    float *bias = ds_model_params(m) + ds_model_bias_offset(m, 0);
    ds_layer_diag d[2];

    /* |x @ kernel| stays far below 100 for N(0,1) inputs and glorot weights */
    for (int j = 0; j < 6; j++) bias[j] = -100.0f;
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].dead == 1.0, "bias -100: dead %.9g", d[0].dead);
    CHECK(d[0].act_mean == 0.0 && d[0].act_std == 0.0, "all outputs 0");
    CHECK(d[0].grad_norm == 0.0, "no gradient through dead units: %.9g", d[0].grad_norm);
    CHECK(isnan(d[0].saturated), "relu has no saturation bound");
    CHECK(isnan(d[1].dead), "dead applies to relu only");

    for (int j = 0; j < 6; j++) bias[j] = 100.0f;
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].dead == 0.0, "bias +100: dead %.9g", d[0].dead);

    bias[0] = bias[3] = -100.0f;
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK_CLOSE(d[0].dead, 2.0 / 6.0, 1e-15, 0);

    /* a unit alive on a single probe row is not dead: only row 99 has x0 = 1000 */
    for (int j = 0; j < 6; j++) bias[j] = -100.0f;
    float *kernel = ds_model_params(m) + ds_model_kernel_offset(m, 0);
    for (int j = 0; j < 6; j++) kernel[j] = j == 2 ? 1.0f : 0.0f; /* row i = 0 */
    float x[3 * 100], y[100];
    memcpy(x, ds_dataset_x(p), sizeof x);
    memcpy(y, ds_dataset_y(p), sizeof y);
    for (int i = 0; i < 100; i++) x[3 * i] = i == 99 ? 1000.0f : 0.0f;
    ds_dataset *q;
    ds_dataset_create(&q, 100, 3, 1, x, y, NULL);
    CHECK_OK(ds_model_diagnostics(m, q, 0, NULL, d, NULL));
    CHECK_CLOSE(d[0].dead, 5.0 / 6.0, 1e-15, 0);
    CHECK_OK(ds_model_diagnostics(m, q, 99, NULL, d, NULL));
    CHECK(d[0].dead == 1.0, "the first 99 rows only: dead %.9g", d[0].dead);
    ds_dataset_free(q);
    ds_dataset_free(p);
    ds_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* saturation */

static void test_saturated_tanh(void)
{
    int units[2] = {5, 1};
    ds_act_kind acts[2] = {DS_ACT_TANH, DS_ACT_SIGMOID};
    ds_model *m = stack(3, 2, units, acts, DS_INIT_GLOROT_UNIFORM, 3,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_dataset *p = probe_set(200, 3, 1, 4);
    float *kernel = ds_model_params(m) + ds_model_kernel_offset(m, 0);
    float orig[15];
    memcpy(orig, kernel, sizeof orig);
    ds_layer_diag d[2];

    for (int i = 0; i < 15; i++) kernel[i] = 1000.0f * orig[i];
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].saturated > 0.98, "huge weights: saturated %.9g", d[0].saturated);
    CHECK(d[0].act_std > 0.9, "outputs near +-1: std %.9g", d[0].act_std);

    for (int i = 0; i < 15; i++) kernel[i] = 1e-3f * orig[i];
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].saturated == 0.0, "small weights: saturated %.9g", d[0].saturated);
    CHECK(isnan(d[0].dead), "dead applies to relu only");
    ds_dataset_free(p);
    ds_model_free(m);
}

/* One input, two units with kernel (1, 1) and bias 0, so z = x on both units: the
 * saturated fraction counts exactly the probe values beyond the bound. */
static void check_bound(ds_act_kind kind, ds_keras_version kv, double expect)
{
    static const float xs[10] = {-5.0f, -4.01f, -3.5f, -2.9f, -2.4f, 0.0f,
                                 1.99f, 2.01f,  2.6f,  3.01f};
    float y[20] = {0};
    int units[1] = {2};
    ds_act_kind acts[1] = {kind};
    ds_model *m = stack(1, 1, units, acts, DS_INIT_ONES, 0, DS_LOSS_MEAN_SQUARED_ERROR);
    ds_model_set_keras_version(m, kv);
    ds_dataset *p;
    ds_dataset_create(&p, 10, 1, 2, xs, y, NULL);
    ds_layer_diag d;
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, &d, NULL));
    if (isnan(expect))
        CHECK(isnan(d.saturated), "%s: saturated %.9g, expected NaN", ds_act_kind_name(kind),
              d.saturated);
    else
        CHECK(d.saturated == expect, "%s (keras %d): saturated %.9g, expected %.9g",
              ds_act_kind_name(kind), (int)kv, d.saturated, expect);
    ds_dataset_free(p);
    ds_model_free(m);
}

static void test_saturation_bounds(void)
{
    check_bound(DS_ACT_SIGMOID, DS_KERAS_2, 2.0 / 10.0);      /* -5, -4.01 */
    check_bound(DS_ACT_TANH, DS_KERAS_2, 8.0 / 10.0);         /* all but 0, 1.99 */
    check_bound(DS_ACT_SOFTSIGN, DS_KERAS_2, 4.0 / 10.0);     /* -5, -4.01, -3.5, 3.01 */
    check_bound(DS_ACT_HARD_SIGMOID, DS_KERAS_2, 6.0 / 10.0); /* |x| >= 2.5 */
    check_bound(DS_ACT_HARD_SIGMOID, DS_KERAS_3, 4.0 / 10.0); /* |x| >= 3 */
    check_bound(DS_ACT_RELU, DS_KERAS_2, (double)NAN);
    check_bound(DS_ACT_LINEAR, DS_KERAS_2, (double)NAN);
    check_bound(DS_ACT_SOFTMAX, DS_KERAS_2, (double)NAN);
    /* the documented derivatives at the bounds */
    double s = 1.0 / (1.0 + exp(-4.0)), t = tanh(2.0);
    CHECK(s * (1.0 - s) < 0.018 && 1.0 - t * t < 0.071, "derivatives at the bounds");
}

/* ---------------------------------------------------------------------------------- */
/* symmetry under zeros initialization */

typedef struct {
    ds_dataset *probe;
    int epochs_seen;
    int identical[2];     /* layer 0 identical: [0] after every epoch, [1] after any epoch */
    double max_gap;       /* layer 0, largest over epochs */
    double weight_norm;   /* layer 0, at the last epoch */
    float *before;        /* the previous epoch's parameters */
    double ratio;         /* layer 0 update ratio, at the last epoch */
    double grad_norm[2];  /* both layers, at the last epoch */
    ds_status status;
} sym_log;

static int log_symmetry(ds_model *m, int epoch, const ds_history *h, void *user)
{
    (void)h;
    (void)epoch;
    sym_log *s = user;
    ds_layer_diag d[2];
    ds_status st = ds_model_diagnostics(m, s->probe, 200, s->epochs_seen ? s->before : NULL,
                                        d, NULL);
    if (st) s->status = st;
    s->identical[0] &= d[0].identical_units;
    s->identical[1] |= d[0].identical_units;
    if (d[0].max_unit_gap > s->max_gap || isnan(d[0].max_unit_gap)) s->max_gap = d[0].max_unit_gap;
    s->weight_norm = d[0].weight_norm;
    s->ratio = d[0].update_ratio;
    s->grad_norm[0] = d[0].grad_norm;
    s->grad_norm[1] = d[1].grad_norm;
    memcpy(s->before, ds_model_params(m), sizeof(float) * ds_model_n_params(m));
    s->epochs_seen++;
    return 0;
}

/* banknotes 4-8-1 with hidden activation act and kernels from kinit (both layers, since
 * the symmetry needs identical outgoing weights too), 6 epochs of adam(0.01) */
static sym_log train_banknotes(const td_table *t, ds_act_kind act, ds_init_kind kinit,
                               ds_init_kind out_init)
{
    sym_log s;
    memset(&s, 0, sizeof s);
    s.identical[0] = 1;
    ds_dataset *train, *test;
    td_make(t, 4, 2, 0, 0.3, 11, &train, &test);
    int units[2] = {8, 1};
    ds_act_kind acts[2] = {act, DS_ACT_SIGMOID};
    ds_model *m = stack(4, 2, units, acts, kinit, 5, DS_LOSS_BINARY_CROSSENTROPY);
    if (out_init != kinit) {
        /* rebuild the output kernel with its own initializer */
        ds_initializer oi = ds_initializer_defaults(out_init);
        ds_rng r = ds_rng_split(99, 1);
        ds_initializer_fill(&oi, ds_model_params(m) + ds_model_kernel_offset(m, 1), 8, 1, &r,
                            NULL);
    }
    s.probe = test;
    s.before = malloc(sizeof(float) * ds_model_n_params(m));
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 16;
    fo.epochs = 6;
    fo.on_epoch_end = log_symmetry;
    fo.user = &s;
    s.status = ds_model_fit(m, train, &fo, NULL, NULL);
    free(s.before);
    s.before = NULL;
    ds_model_free(m);
    ds_dataset_free(train);
    ds_dataset_free(test);
    return s;
}

static void test_zeros_symmetry(void)
{
    td_table t;
    CHECK(td_read("data/banknotes.csv", &t) == 0, "cannot read data/banknotes.csv");
    if (t.n == 0) return;

    /* sigmoid: every hidden unit outputs 0.5 and gets the same gradient, so the units
     * move, but together */
    sym_log s = train_banknotes(&t, DS_ACT_SIGMOID, DS_INIT_ZEROS, DS_INIT_ZEROS);
    CHECK(s.status == DS_OK && s.epochs_seen == 6, "status %d, epochs %d", (int)s.status,
          s.epochs_seen);
    CHECK(s.identical[0] == 1, "sigmoid, zeros: units identical after every epoch");
    CHECK(s.max_gap == 0.0, "sigmoid, zeros: max gap %.9g", s.max_gap);
    CHECK(s.weight_norm > 0.1, "sigmoid, zeros: the kernel moved (norm %.9g)", s.weight_norm);
    CHECK(s.ratio > 0.0 && isfinite(s.ratio), "update ratio %.9g", s.ratio);
    CHECK(s.grad_norm[0] > 0.0, "sigmoid, zeros: gradient %.9g", s.grad_norm[0]);

    /* tanh: tanh(0) = 0 blocks every kernel gradient, the units never move */
    s = train_banknotes(&t, DS_ACT_TANH, DS_INIT_ZEROS, DS_INIT_ZEROS);
    CHECK(s.status == DS_OK && s.epochs_seen == 6, "status %d", (int)s.status);
    CHECK(s.identical[0] == 1 && s.max_gap == 0.0, "tanh, zeros: identical, gap %.9g",
          s.max_gap);
    CHECK(s.weight_norm == 0.0, "tanh, zeros: kernel norm %.9g", s.weight_norm);
    CHECK(s.grad_norm[0] == 0.0 && s.grad_norm[1] == 0.0, "tanh, zeros: gradients %.9g %.9g",
          s.grad_norm[0], s.grad_norm[1]);
    CHECK(isnan(s.ratio), "update ratio from a zero kernel is NaN: %.9g", s.ratio);

    /* glorot_uniform: never identical */
    s = train_banknotes(&t, DS_ACT_SIGMOID, DS_INIT_GLOROT_UNIFORM, DS_INIT_GLOROT_UNIFORM);
    CHECK(s.status == DS_OK, "status %d", (int)s.status);
    CHECK(s.identical[1] == 0 && s.max_gap > 0.1, "glorot: identical %d, gap %.9g",
          s.identical[1], s.max_gap);
    s = train_banknotes(&t, DS_ACT_TANH, DS_INIT_GLOROT_UNIFORM, DS_INIT_GLOROT_UNIFORM);
    CHECK(s.identical[1] == 0 && s.max_gap > 0.1, "glorot tanh: identical %d, gap %.9g",
          s.identical[1], s.max_gap);

    /* zeros in the hidden layer only: distinct outgoing weights break the symmetry */
    s = train_banknotes(&t, DS_ACT_TANH, DS_INIT_ZEROS, DS_INIT_GLOROT_UNIFORM);
    CHECK(s.status == DS_OK, "status %d", (int)s.status);
    CHECK(s.identical[1] == 0 && s.max_gap > 0.0, "hidden zeros only: identical %d, gap %.9g",
          s.identical[1], s.max_gap);
    free(t.v);
}

static void test_unit_gap_values(void)
{
    int units[2] = {4, 1};
    ds_act_kind acts[2] = {DS_ACT_TANH, DS_ACT_LINEAR};
    ds_model *m = stack(3, 2, units, acts, DS_INIT_ZEROS, 0, DS_LOSS_MEAN_SQUARED_ERROR);
    ds_dataset *p = probe_set(10, 3, 1, 6);
    float *kernel = ds_model_params(m) + ds_model_kernel_offset(m, 0); /* (3,4) */
    float *bias = ds_model_params(m) + ds_model_bias_offset(m, 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) kernel[i * 4 + j] = 0.5f * (float)(i + 1);
    for (int j = 0; j < 4; j++) bias[j] = -1.0f;
    ds_layer_diag d[2];
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].identical_units == 1 && d[0].max_unit_gap == 0.0, "equal nonzero units");
    CHECK(d[1].identical_units == 0 && isnan(d[1].max_unit_gap), "one unit: not applicable");

    kernel[2 * 4 + 3] += 0.25f; /* input 2, unit 3 */
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].identical_units == 0, "one weight differs");
    CHECK_CLOSE(d[0].max_unit_gap, 0.25, 1e-7, 0);

    kernel[2 * 4 + 3] -= 0.25f;
    bias[1] = -0.5f;
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].identical_units == 0, "a bias differs");
    CHECK_CLOSE(d[0].max_unit_gap, 0.5, 0, 0);

    bias[1] = -1.0f;
    kernel[0] = NAN;
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(d[0].identical_units == 0 && isnan(d[0].max_unit_gap), "NaN weight: gap %.9g",
          d[0].max_unit_gap);
    ds_dataset_free(p);
    ds_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* the probe gradient */

/* the probe gradient against one ds_model_train_batch_grad over the same rows */
static void check_grad(ds_model *m, const ds_dataset *p, int max_rows, const char *what)
{
    int n_layers = ds_model_n_layers(m);
    size_t np = ds_model_n_params(m);
    int rows = max_rows ? max_rows : ds_dataset_rows(p);
    ds_layer_diag d[8];
    float *g = malloc(sizeof(float) * np);
    CHECK_OK(ds_model_diagnostics(m, p, max_rows, NULL, d, NULL));
    memcpy(g, ds_model_grads(m), sizeof(float) * np);

    ds_model_zero_grad(m);
    double loss;
    CHECK_OK(ds_model_train_batch_grad(m, ds_dataset_x(p), ds_dataset_y(p), rows, NULL, &loss,
                                       NULL));
    const float *ref = ds_model_grads(m);
    double diff = 0.0, ref_norm = norm_of(ref, np);
    for (size_t i = 0; i < np; i++) {
        double e = (double)g[i] - (double)ref[i];
        diff += e * e;
    }
    CHECK(sqrt(diff) <= 1e-6 * ref_norm && ref_norm > 0, "%s: arena differs by %.3g of %.3g",
          what, sqrt(diff), ref_norm);
    /* chunks of a multiple of DS_SHARD_ROWS add the same shard sums in the same order */
    CHECK(memcmp(g, ref, sizeof(float) * np) == 0, "%s: not bit for bit", what);
    for (int k = 0; k < n_layers; k++) {
        ptrdiff_t off = ds_model_kernel_offset(m, k);
        if (off < 0) {
            CHECK(isnan(d[k].grad_norm), "%s: layer %d without kernel", what, k);
            continue;
        }
        double r = norm_of(ref + off, kernel_size(m, k));
        CHECK(fabs(d[k].grad_norm - r) <= 1e-6 * r && r > 0,
              "%s: layer %d grad_norm %.9g, reference %.9g", what, k, d[k].grad_norm, r);
    }
    free(g);
}

static void test_grad_norm(void)
{
    /* 300 rows: a fresh model processes them in chunks of 256 + 44; once its buffers
     * hold 300 rows, in one pass. Both must equal the single pass of train_batch_grad. */
    int units[3] = {8, 5, 1};
    ds_act_kind acts[3] = {DS_ACT_TANH, DS_ACT_RELU, DS_ACT_SIGMOID};
    ds_model *m = stack(3, 3, units, acts, DS_INIT_GLOROT_UNIFORM, 7,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_dataset *p = probe_set(300, 3, 1, 8);
    CHECK(m->cap_rows < 300, "fresh model: %d rows of buffers", m->cap_rows);
    check_grad(m, p, 0, "bce, chunked");
    check_grad(m, p, 0, "bce, one pass");
    check_grad(m, p, 100, "bce, first 100 rows");
    check_grad(m, p, 1, "bce, first row");
    ds_model_free(m);

    /* softmax + categorical crossentropy (logits path), with dropout (off in both) */
    int units2[4] = {6, -1, 4, 3};
    ds_act_kind acts2[4] = {DS_ACT_ELU, DS_ACT_LINEAR, DS_ACT_SIGMOID, DS_ACT_SOFTMAX};
    m = stack(3, 4, units2, acts2, DS_INIT_HE_NORMAL, 9, DS_LOSS_CATEGORICAL_CROSSENTROPY);
    ds_dataset *p3 = probe_set(333, 3, 3, 10);
    check_grad(m, p3, 0, "cce, chunked");
    check_grad(m, p3, 0, "cce, one pass");
    ds_model_free(m);

    /* mean squared error on a linear output */
    int units3[2] = {7, 2};
    ds_act_kind acts3[2] = {DS_ACT_SOFTSIGN, DS_ACT_LINEAR};
    m = stack(3, 2, units3, acts3, DS_INIT_GLOROT_NORMAL, 11, DS_LOSS_MEAN_SQUARED_ERROR);
    ds_dataset *p2 = probe_set(70, 3, 2, 12);
    check_grad(m, p2, 0, "mse");
    check_grad(m, p2, 33, "mse, first 33 rows");
    ds_model_free(m);
    ds_dataset_free(p);
    ds_dataset_free(p2);
    ds_dataset_free(p3);
}

/* ---------------------------------------------------------------------------------- */
/* norms and update ratio */

static void test_norms_and_update_ratio(void)
{
    int units[3] = {6, -1, 2};
    ds_act_kind acts[3] = {DS_ACT_RELU, DS_ACT_LINEAR, DS_ACT_SIGMOID};
    ds_model *m = stack(4, 3, units, acts, DS_INIT_GLOROT_UNIFORM, 13,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_dataset *p = probe_set(40, 4, 2, 14);
    size_t np = ds_model_n_params(m);
    float *params = ds_model_params(m);
    float *bias = params + ds_model_bias_offset(m, 0);
    for (int j = 0; j < 6; j++) bias[j] = 0.1f * (float)(j + 1); /* a nonzero bias norm */
    float *before = malloc(sizeof(float) * np);
    memcpy(before, params, sizeof(float) * np);
    ds_layer_diag d[3];

    CHECK_OK(ds_model_diagnostics(m, p, 0, before, d, NULL));
    for (int k = 0; k < 3; k += 2) {
        ptrdiff_t wo = ds_model_kernel_offset(m, k), bo = ds_model_bias_offset(m, k);
        CHECK_CLOSE(d[k].weight_norm, norm_of(params + wo, kernel_size(m, k)), 0, 1e-12);
        CHECK_CLOSE(d[k].bias_norm, norm_of(params + bo, (size_t)ds_model_layer_units(m, k)),
                    0, 1e-12);
        CHECK(d[k].update_ratio == 0.0, "layer %d: before == now: ratio %.9g", k,
              d[k].update_ratio);
    }
    CHECK(d[0].bias_norm > 0.9, "bias norm %.9g", d[0].bias_norm);
    CHECK(isnan(d[1].weight_norm) && isnan(d[1].bias_norm) && isnan(d[1].grad_norm) &&
              isnan(d[1].update_ratio) && isnan(d[1].saturated) && isnan(d[1].dead) &&
              isnan(d[1].max_unit_gap) && d[1].identical_units == 0,
          "dropout: only the output statistics apply");

    /* a known change: layer 0's kernel + delta e_0 gives ratio |delta| / ||before||;
     * scaling layer 2's kernel by 1.5 gives 0.5 */
    float *k0 = params + ds_model_kernel_offset(m, 0);
    float *k2 = params + ds_model_kernel_offset(m, 2);
    k0[0] += 0.375f;
    for (size_t i = 0; i < kernel_size(m, 2); i++) k2[i] *= 1.5f;
    bias[0] += 5.0f; /* biases do not enter the kernel's ratio */
    CHECK_OK(ds_model_diagnostics(m, p, 0, before, d, NULL));
    double b0 = norm_of(before + ds_model_kernel_offset(m, 0), kernel_size(m, 0));
    CHECK_CLOSE(d[0].update_ratio, 0.375 / b0, 0, 1e-6);
    CHECK_CLOSE(d[2].update_ratio, 0.5, 0, 1e-6);

    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(isnan(d[0].update_ratio) && isnan(d[2].update_ratio), "no snapshot: NaN");
    memset(before, 0, sizeof(float) * np);
    CHECK_OK(ds_model_diagnostics(m, p, 0, before, d, NULL));
    CHECK(isnan(d[0].update_ratio), "zero snapshot: NaN, got %.9g", d[0].update_ratio);

    /* diagnostics leave the parameters alone */
    memcpy(before, params, sizeof(float) * np);
    CHECK_OK(ds_model_diagnostics(m, p, 0, NULL, d, NULL));
    CHECK(memcmp(before, params, sizeof(float) * np) == 0, "parameters untouched");

    /* no bias */
    ds_model *nb;
    ds_model_create(&nb, 4, NULL);
    ds_dense_config c = ds_dense_defaults(2);
    c.use_bias = 0;
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_model_add_dense(nb, &c, NULL);
    ds_compile_config cc = ds_compile_defaults();
    ds_model_compile(nb, &cc, NULL);
    CHECK_OK(ds_model_diagnostics(nb, p, 0, NULL, d, NULL));
    CHECK(isnan(d[0].bias_norm) && d[0].weight_norm > 0, "use_bias 0: bias norm NaN");
    ds_model_free(nb);
    free(before);
    ds_dataset_free(p);
    ds_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* output statistics */

static void test_act_stats(void)
{
    /* 600 rows, so the statistics are merged over chunks */
    int units[4] = {9, -1, 5, 1};
    ds_act_kind acts[4] = {DS_ACT_GELU, DS_ACT_LINEAR, DS_ACT_SIGMOID, DS_ACT_SIGMOID};
    ds_model *m = stack(3, 4, units, acts, DS_INIT_GLOROT_UNIFORM, 15,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_dataset *p = probe_set(600, 3, 1, 16);
    for (int pass = 0; pass < 2; pass++) {
        int rows = pass ? 450 : 0;
        int n = rows ? rows : 600;
        ds_layer_diag d[4];
        CHECK_OK(ds_model_diagnostics(m, p, rows, NULL, d, NULL));
        for (int k = 0; k < 4; k++) {
            int w = ds_model_layer_units(m, k);
            float *o = malloc(sizeof(float) * (size_t)n * (size_t)w);
            CHECK_OK(ds_model_layer_outputs(m, k, ds_dataset_x(p), n, o, NULL));
            size_t len = (size_t)n * (size_t)w;
            double mean = 0.0, var = 0.0;
            for (size_t i = 0; i < len; i++) mean += (double)o[i];
            mean /= (double)len;
            for (size_t i = 0; i < len; i++) var += ((double)o[i] - mean) * ((double)o[i] - mean);
            double sd = sqrt(var / (double)len);
            CHECK_CLOSE(d[k].act_mean, mean, 1e-12, 1e-10);
            CHECK_CLOSE(d[k].act_std, sd, 1e-12, 1e-10);
            free(o);
        }
        CHECK(d[1].act_mean == d[0].act_mean, "dropout is the identity in inference");
    }
    ds_dataset_free(p);
    ds_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* fit is unchanged by diagnostics in its epoch callback */

typedef struct {
    ds_dataset *probe;
    ds_status status;
} diag_cb;

static int diag_each_epoch(ds_model *m, int epoch, const ds_history *h, void *user)
{
    (void)epoch;
    (void)h;
    diag_cb *c = user;
    ds_layer_diag d[4];
    ds_status s = ds_model_diagnostics(m, c->probe, 0, NULL, d, NULL);
    if (s) c->status = s;
    return 0;
}

static void test_fit_unchanged(void)
{
    ds_dataset *train = probe_set(150, 3, 1, 17), *probe = probe_set(500, 3, 1, 18);
    int units[4] = {8, -1, 4, 1};
    ds_act_kind acts[4] = {DS_ACT_RELU, DS_ACT_LINEAR, DS_ACT_TANH, DS_ACT_SIGMOID};
    ds_model *a = stack(3, 4, units, acts, DS_INIT_GLOROT_UNIFORM, 19,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_model *b = stack(3, 4, units, acts, DS_INIT_GLOROT_UNIFORM, 19,
                        DS_LOSS_BINARY_CROSSENTROPY);
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 16;
    fo.epochs = 4;
    fo.validation_split = 0.2;
    ds_history *ha, *hb;
    ds_history_create(&ha, NULL);
    ds_history_create(&hb, NULL);
    CHECK_OK(ds_model_fit(a, train, &fo, ha, NULL));
    diag_cb c = {probe, DS_OK};
    fo.on_epoch_end = diag_each_epoch;
    fo.user = &c;
    CHECK_OK(ds_model_fit(b, train, &fo, hb, NULL));
    CHECK(c.status == DS_OK, "diagnostics status %d", (int)c.status);
    CHECK(memcmp(ds_model_params(a), ds_model_params(b),
                 sizeof(float) * ds_model_n_params(a)) == 0,
          "same weights with and without diagnostics");
    const double *la = ds_history_series(ha, "val_loss"), *lb = ds_history_series(hb, "val_loss");
    CHECK(la && lb && memcmp(la, lb, sizeof(double) * 4) == 0, "same validation losses");
    ds_history_free(ha);
    ds_history_free(hb);
    ds_model_free(a);
    ds_model_free(b);
    ds_dataset_free(train);
    ds_dataset_free(probe);
}

/* ---------------------------------------------------------------------------------- */
/* errors */

static void test_errors(void)
{
    ds_dataset *p = probe_set(20, 3, 1, 20);
    ds_layer_diag d[2];
    ds_error e;

    ds_model *m;
    ds_model_create(&m, 3, NULL);
    ds_dense_config c = ds_dense_defaults(1);
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, 1, NULL);
    memset(&e, 0, sizeof e);
    CHECK(ds_model_diagnostics(m, p, 0, NULL, d, &e) == DS_ERR_STATE, "not compiled");
    CHECK(strstr(e.message, "not compiled") != NULL, "message: %s", e.message);

    ds_compile_config cc = ds_compile_defaults();
    CHECK_OK(ds_model_compile(m, &cc, NULL));
    CHECK(ds_model_diagnostics(NULL, p, 0, NULL, d, NULL) == DS_ERR_ARG, "NULL model");
    CHECK(ds_model_diagnostics(m, NULL, 0, NULL, d, NULL) == DS_ERR_ARG, "NULL probe");
    memset(&e, 0, sizeof e);
    CHECK(ds_model_diagnostics(m, p, 0, NULL, NULL, &e) == DS_ERR_ARG, "NULL out");
    CHECK(strstr(e.message, "out") != NULL, "message: %s", e.message);
    CHECK(ds_model_diagnostics(m, p, -1, NULL, d, NULL) == DS_ERR_ARG, "max_rows < 0");

    ds_dataset *wide = probe_set(20, 4, 1, 21);
    memset(&e, 0, sizeof e);
    CHECK(ds_model_diagnostics(m, wide, 0, NULL, d, &e) == DS_ERR_SHAPE, "4 features");
    CHECK(strstr(e.message, "4 features") && strstr(e.message, "expects 3"), "message: %s",
          e.message);
    ds_dataset *two = probe_set(20, 3, 2, 22);
    CHECK(ds_model_diagnostics(m, two, 0, NULL, d, NULL) == DS_ERR_SHAPE, "2 targets");
    ds_dataset *unlabelled;
    ds_dataset_create(&unlabelled, 20, 3, 0, ds_dataset_x(p), NULL, NULL);
    CHECK(ds_model_diagnostics(m, unlabelled, 0, NULL, d, NULL) == DS_ERR_SHAPE, "no targets");
    ds_dataset *empty;
    ds_dataset_create(&empty, 0, 3, 1, NULL, NULL, NULL);
    CHECK(ds_model_diagnostics(m, empty, 0, NULL, d, NULL) == DS_ERR_ARG, "no rows");
    /* max_rows beyond the rows: all rows */
    CHECK_OK(ds_model_diagnostics(m, p, 1000, NULL, d, NULL));

    ds_dataset_free(wide);
    ds_dataset_free(two);
    ds_dataset_free(unlabelled);
    ds_dataset_free(empty);
    ds_dataset_free(p);
    ds_model_free(m);
}

int main(void)
{
    RUN(test_dead_relu);
    RUN(test_saturated_tanh);
    RUN(test_saturation_bounds);
    RUN(test_zeros_symmetry);
    RUN(test_unit_gap_values);
    RUN(test_grad_norm);
    RUN(test_norms_and_update_ratio);
    RUN(test_act_stats);
    RUN(test_fit_unchanged);
    RUN(test_errors);
    return HARNESS_DONE();
}
