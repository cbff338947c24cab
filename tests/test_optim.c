/*
 * test_optim.c - optimizers: golden trajectories from tests/ref/optim_ref.py (an
 * independent NumPy implementation), single steps worked out by hand from the formulas
 * section 2, learning-rate schedules, clipping per tensor, state slots, and the spec
 * parser/printer with its error messages.
 */
#include "../src/internal.h"
#include "harness.h"
#include "ref/optim_golden.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Field by field (memcmp would also compare padding bytes). */
static int schedule_equal(const ds_schedule *a, const ds_schedule *b)
{
    if (a->kind != b->kind || a->decay_steps != b->decay_steps ||
        a->decay_rate != b->decay_rate || a->staircase != b->staircase ||
        a->alpha != b->alpha || a->n_boundaries != b->n_boundaries)
        return 0;
    for (int i = 0; i < DS_SCHEDULE_MAX_BOUNDARIES; i++)
        if (a->boundaries[i] != b->boundaries[i] || a->values[i] != b->values[i]) return 0;
    return a->values[DS_SCHEDULE_MAX_BOUNDARIES] == b->values[DS_SCHEDULE_MAX_BOUNDARIES];
}

static int opt_equal(const ds_optimizer *a, const ds_optimizer *b)
{
    return a->kind == b->kind && a->learning_rate == b->learning_rate &&
           a->momentum == b->momentum && a->nesterov == b->nesterov && a->rho == b->rho &&
           a->epsilon == b->epsilon && a->centered == b->centered && a->beta_1 == b->beta_1 &&
           a->beta_2 == b->beta_2 && a->amsgrad == b->amsgrad &&
           a->weight_decay == b->weight_decay &&
           a->initial_accumulator_value == b->initial_accumulator_value &&
           a->decay == b->decay && a->clipnorm == b->clipnorm && a->clipvalue == b->clipvalue &&
           a->global_clipnorm == b->global_clipnorm && schedule_equal(&a->schedule, &b->schedule);
}

static ds_optimizer parse_ok(const char *spec)
{
    ds_optimizer o = ds_optimizer_defaults(DS_OPT_SGD);
    ds_error err = {0};
    ds_status s = ds_optimizer_parse(spec, &o, &err);
    CHECK(s == DS_OK, "parse '%s': %s", spec, err.message);
    return o;
}

/* Runs `steps` steps of constant gradient g on one parameter starting at w0. */
static float run_scalar(const char *spec, ds_keras_version kv, float w0, float g, int steps)
{
    ds_optimizer o = parse_ok(spec);
    ds_optim_state st;
    memset(&st, 0, sizeof st);
    ds_error err = {0};
    ds_status s = ds_optim_init(&st, &o, kv, 1, &err);
    CHECK(s == DS_OK, "init '%s': %s", spec, err.message);
    float w = w0;
    for (int i = 0; i < steps && s == DS_OK; i++) {
        float gi = g;
        ds_optim_step(&st, &w, &gi, NULL, 0);
    }
    ds_optim_free(&st);
    return w;
}

/* ---- golden trajectories ---- */

/* Tolerance: both sides compute in float32 with double per-step scalars, but the order
 * of operations may differ (e.g. TF-kernel forms, fused multiply-add under clang), so
 * each update can differ by a few ulps. The parameters are O(1) (float32 ulp <= 2.4e-7
 * for |w| < 2) and there are 6 steps, so 1e-6 absolute plus 1e-6 relative allows
 * ~5-10 ulps of drift, while every rule difference the tests look for (epsilon inside
 * or outside the square root with g ~ 1e-4, Nadam's schedule, a missing bias
 * correction) moves some parameter by more than 1e-5. */
#define GOLD_ATOL 1e-6
#define GOLD_RTOL 1e-6

static void test_golden_trajectories(void)
{
    ds_tensor_span spans[OG_N_SPANS];
    for (int i = 0; i < OG_N_SPANS; i++) {
        spans[i].offset = og_spans[i][0];
        spans[i].size = og_spans[i][1];
    }
    for (int c = 0; c < OG_N_CASES; c++) {
        const og_case *gc = &og_cases[c];
        ds_optimizer o = parse_ok(gc->spec);
        ds_optim_state st;
        memset(&st, 0, sizeof st);
        ds_error err = {0};
        ds_status s = ds_optim_init(&st, &o, (ds_keras_version)gc->keras, OG_N, &err);
        CHECK(s == DS_OK, "%s: init: %s", gc->name, err.message);
        if (s != DS_OK) continue;
        float w[OG_N], g[OG_N];
        memcpy(w, og_w0, sizeof w);
        int bad = 0;
        for (int t = 0; t < OG_STEPS && !bad; t++) {
            memcpy(g, og_grad[t], sizeof g);
            ds_optim_step(&st, w, g, spans, OG_N_SPANS);
            for (int i = 0; i < OG_N; i++) {
                double want = (double)gc->w[t][i];
                if (fabs((double)w[i] - want) > GOLD_ATOL + GOLD_RTOL * fabs(want)) {
                    CHECK(0, "%s (%s, keras %d): step %d param %d = %.9g, expected %.9g",
                          gc->name, gc->spec, gc->keras, t + 1, i, (double)w[i], want);
                    bad = 1;
                    break;
                }
            }
        }
        CHECK(bad || st.iterations == OG_STEPS, "%s: iterations %lld", gc->name,
              (long long)st.iterations);
        ds_optim_free(&st);
    }
}

static const og_case *golden(const char *name)
{
    for (int c = 0; c < OG_N_CASES; c++)
        if (strcmp(og_cases[c].name, name) == 0) return &og_cases[c];
    return NULL;
}

/* The golden cases must tell the Keras 2 and Keras 3 rules apart, or the trajectory
 * test would not catch a swapped rule. */
static void test_golden_discriminates_versions(void)
{
    const char *pairs[][2] = {
        {"rmsprop_k2", "rmsprop_k3"},
        {"rmsprop_centered_k2", "rmsprop_centered_k3"},
        {"adagrad_acc0_k2", "adagrad_acc0_k3"},
        {"nadam_k2", "nadam_k3"},
    };
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        const og_case *a = golden(pairs[p][0]), *b = golden(pairs[p][1]);
        CHECK(a && b, "missing golden case %s or %s", pairs[p][0], pairs[p][1]);
        if (!a || !b) continue;
        double maxdiff = 0.0;
        for (int i = 0; i < OG_N; i++) {
            double d = fabs((double)a->w[OG_STEPS - 1][i] - (double)b->w[OG_STEPS - 1][i]);
            if (d > maxdiff) maxdiff = d;
        }
        CHECK(maxdiff > 1e-5, "%s vs %s differ by only %g", a->name, b->name, maxdiff);
    }
    /* with momentum, tf.keras 2.x's RMSprop kernel also puts epsilon inside: same rule */
    const og_case *a = golden("rmsprop_momentum_k2"), *b = golden("rmsprop_momentum_k3");
    CHECK(a && b, "missing rmsprop momentum cases");
    if (a && b)
        for (int i = 0; i < OG_N; i++)
            CHECK_CLOSE(a->w[OG_STEPS - 1][i], b->w[OG_STEPS - 1][i], 0.0, 0.0);
}

/* ---- single steps worked out by hand ---- */

static void test_hand_steps(void)
{
    /* RMSprop, Keras 3: v = 0.1 * 0.25 = 0.025; step = 0.01 * 0.5 / sqrt(0.025 + 1e-7) */
    CHECK_CLOSE(1.0f - run_scalar("rmsprop(0.01)", DS_KERAS_3, 1.0f, 0.5f, 1), 0.0316227,
                1e-6, 0.0);
    /* tf.keras 2.x: 0.005 / (sqrt(0.025) + 1e-7), the same to 6 digits at this size */
    CHECK_CLOSE(1.0f - run_scalar("rmsprop(0.01)", DS_KERAS_2, 1.0f, 0.5f, 1), 0.0316226,
                1e-6, 0.0);
    /* ... but not for g = 1e-4: v = 1e-9, sqrt(v) = 3.162e-5 against sqrt(v + eps) = 3.178e-4 */
    CHECK_CLOSE(-run_scalar("rmsprop(0.01)", DS_KERAS_2, 0.0f, 1e-4f, 1),
                0.01 * 1e-4 / (sqrt(1e-9) + 1e-7), 1e-8, 1e-4);
    CHECK_CLOSE(-run_scalar("rmsprop(0.01)", DS_KERAS_3, 0.0f, 1e-4f, 1),
                0.01 * 1e-4 / sqrt(1e-9 + 1e-7), 1e-9, 1e-4);

    /* Adagrad(0.01), a = 0.1 + 0.25 = 0.35: step = 0.005 / sqrt(0.35) = 0.0084515 */
    CHECK_CLOSE(1.0f - run_scalar("adagrad(0.01)", DS_KERAS_3, 1.0f, 0.5f, 1), 0.0084515,
                1e-6, 0.0);
    CHECK_CLOSE(1.0f - run_scalar("adagrad(0.01)", DS_KERAS_2, 1.0f, 0.5f, 1), 0.0084515,
                1e-6, 0.0);
    /* with a zero initial accumulator the first step is exactly eta (up to eps) */
    CHECK_CLOSE(-run_scalar("adagrad(0.01, 0)", DS_KERAS_2, 0.0f, 0.5f, 1), 0.01, 0.0, 1e-6);

    /* Adam's first step is eta sign(g) (1 - eps / (sqrt(0.001) |g|)) */
    CHECK_CLOSE(run_scalar("adam", DS_KERAS_3, 0.0f, 0.5f, 1), -0.001, 0.0, 1e-5);
    CHECK_CLOSE(run_scalar("adam", DS_KERAS_3, 0.0f, -2.0f, 1), 0.001, 0.0, 1e-5);
    /* ... and slightly less for small g: 0.1 sqrt(0.001) g / (sqrt(0.001) g + eps) */
    CHECK_CLOSE(run_scalar("adam(0.1)", DS_KERAS_2, 0.0f, 3e-3f, 1),
                -0.1 * sqrt(0.001) * 3e-3 / (sqrt(0.001) * 3e-3 + 1e-7), 0.0, 1e-5);
    /* with a constant gradient, m/sqrt(v) stays 1 after bias correction: t steps of eta */
    CHECK_CLOSE(run_scalar("adam", DS_KERAS_3, 0.0f, 0.5f, 5), -0.005, 0.0, 1e-5);

    /* SGD(0.1), g = 1, two steps. momentum 0.3: v1 = -0.1, w1 = 0.9;
     * v2 = 0.3 * -0.1 - 0.1 = -0.13, w2 = 0.77. Nesterov: w1 = 1 - 0.03 - 0.1 = 0.87;
     * w2 = 0.87 + 0.3 * -0.13 - 0.1 = 0.731. Plain: 0.8. */
    CHECK_CLOSE(run_scalar("sgd(0.1, momentum=0.3)", DS_KERAS_2, 1.0f, 1.0f, 1), 0.9, 1e-6, 0);
    CHECK_CLOSE(run_scalar("sgd(0.1, momentum=0.3)", DS_KERAS_2, 1.0f, 1.0f, 2), 0.77, 1e-6, 0);
    CHECK_CLOSE(run_scalar("sgd(0.1, 0.3, true)", DS_KERAS_2, 1.0f, 1.0f, 1), 0.87, 1e-6, 0);
    CHECK_CLOSE(run_scalar("sgd(0.1, 0.3, true)", DS_KERAS_2, 1.0f, 1.0f, 2), 0.731, 1e-6, 0);
    CHECK_CLOSE(run_scalar("sgd(0.1)", DS_KERAS_2, 1.0f, 1.0f, 2), 0.8, 1e-6, 0);

    /* Adadelta default, g = 0.5: Ag = 0.05 * 0.25 = 0.0125;
     * delta = -sqrt(1e-7) / sqrt(0.0125 + 1e-7) * 0.5 = -1.414208e-3; w += 0.001 delta */
    CHECK_CLOSE(run_scalar("adadelta", DS_KERAS_3, 0.0f, 0.5f, 1),
                0.001 * -sqrt(1e-7) / sqrt(0.0125 + 1e-7) * 0.5, 0.0, 1e-5);

    /* Adamax, g = 0.5: m = 0.05, u = 0.5, step = 0.001 * 0.05 / (0.1 * (0.5 + 1e-7)) */
    CHECK_CLOSE(run_scalar("adamax", DS_KERAS_3, 0.0f, 0.5f, 1), -0.001 * 0.05 / 0.05, 0, 1e-5);

    /* AdamW with g = 0: only the decoupled decay moves w: w (1 - eta wd) */
    CHECK_CLOSE(run_scalar("adamw", DS_KERAS_3, 2.0f, 0.0f, 1), 2.0 * (1.0 - 0.001 * 0.004),
                2.5e-7, 0.0);
    CHECK_CLOSE(run_scalar("adamw(0.01, 0.1)", DS_KERAS_3, 2.0f, 0.0f, 3),
                2.0 * pow(1.0 - 0.01 * 0.1, 3), 1e-6, 0.0);
    /* and any optimizer takes weight_decay: SGD(0.1, weight_decay=0.5), g = 1:
     * w = 1 - 0.1 * 0.5 * 1 - 0.1 * 1 = 0.85 */
    CHECK_CLOSE(run_scalar("sgd(0.1, weight_decay=0.5)", DS_KERAS_2, 1.0f, 1.0f, 1), 0.85,
                1e-6, 0.0);
    /* Adam without weight decay leaves w alone for g = 0 */
    CHECK_CLOSE(run_scalar("adam", DS_KERAS_3, 2.0f, 0.0f, 3), 2.0, 0.0, 0.0);

    /* Nadam, Keras 3, g = 0.5, first step: u1 = 0.9 (1 - 0.5 * 0.96) = 0.468,
     * u2 = 0.9 (1 - 0.5 * 0.9216) = 0.48528; m = 0.05, v = 0.00025;
     * mhat = u2 m / (1 - u1 u2) + (1 - u1) g / (1 - u1); vhat = v / 0.001 */
    {
        double u1 = 0.9 * (1 - 0.5 * 0.96), u2 = 0.9 * (1 - 0.5 * 0.96 * 0.96);
        double mhat = u2 * 0.05 / (1 - u1 * u2) + (1 - u1) * 0.5 / (1 - u1);
        double want = -0.001 * mhat / (sqrt(0.00025 / 0.001) + 1e-7);
        CHECK_CLOSE(run_scalar("nadam", DS_KERAS_3, 0.0f, 0.5f, 1), want, 0.0, 1e-5);
    }
}

/* ---- schedules ---- */

static void test_schedules(void)
{
    ds_optimizer o = parse_ok("sgd(learning_rate=exponential_decay(0.1, decay_steps=10, "
                              "decay_rate=0.5))");
    CHECK(o.schedule.kind == DS_SCHEDULE_EXPONENTIAL, "kind %d", (int)o.schedule.kind);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 0), 0.1, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 5), 0.1 * sqrt(0.5), 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 10), 0.05, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 30), 0.0125, 0, 1e-12);
    o.schedule.staircase = 1;
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 19), 0.05, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 20), 0.025, 0, 1e-12);

    o = parse_ok("adam(learning_rate=inverse_time_decay(0.1, 10, 1.0))");
    CHECK(o.schedule.kind == DS_SCHEDULE_INVERSE_TIME, "kind %d", (int)o.schedule.kind);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 0), 0.1, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 5), 0.1 / 1.5, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 10), 0.05, 0, 1e-12);
    o = parse_ok("adam(learning_rate=inverse_time_decay(0.1, 10, 1.0, staircase=true))");
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 15), 0.05, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 20), 0.1 / 3.0, 0, 1e-12);

    /* Keras: values[0] while step <= boundaries[0], values[i] for b[i-1] < step <= b[i] */
    o = parse_ok("sgd(learning_rate=piecewise_constant_decay(boundaries=[100, 200], "
                 "values=[1, 0.5, 0.1]))");
    CHECK(o.schedule.kind == DS_SCHEDULE_STEP && o.schedule.n_boundaries == 2, "step schedule");
    CHECK_CLOSE(o.learning_rate, 1.0, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 0), 1.0, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 100), 1.0, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 101), 0.5, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 200), 0.5, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 201), 0.1, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 100000), 0.1, 0, 0);
    /* the alias "step", positional lists, ';' and space separators */
    ds_optimizer o2 = parse_ok("sgd(learning_rate=step([100; 200], [1 0.5 0.1]))");
    CHECK(schedule_equal(&o.schedule, &o2.schedule), "step alias differs");

    /* cosine: lr ((1 - alpha) 0.5 (1 + cos(pi min(step, T) / T)) + alpha) */
    o = parse_ok("rmsprop(learning_rate=cosine_decay(0.1, decay_steps=100, alpha=0.1))");
    CHECK(o.schedule.kind == DS_SCHEDULE_COSINE, "kind %d", (int)o.schedule.kind);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 0), 0.1, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 50), 0.1 * (0.9 * 0.5 + 0.1), 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 25),
                0.1 * (0.9 * 0.5 * (1 + cos(3.14159265358979323846 / 4)) + 0.1), 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 100), 0.01, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 500), 0.01, 0, 1e-12);
    o = parse_ok("rmsprop(learning_rate=CosineDecay(0.1, 100))");
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 100), 0.0, 1e-15, 0);

    /* tf.keras 2.x legacy decay: lr / (1 + decay * iterations), after the schedule */
    o = parse_ok("sgd(lr=0.1, decay=0.01)");
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 0), 0.1, 0, 1e-12);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 100), 0.05, 0, 1e-12);
    o = parse_ok("sgd(learning_rate=ExponentialDecay(0.1, 10, 0.5), decay=0.01)");
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 100), 0.1 * pow(0.5, 10) / 2.0, 0, 1e-12);

    /* constant */
    o = parse_ok("adam");
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 0), 0.001, 0, 0);
    CHECK_CLOSE(ds_optimizer_learning_rate(&o, 123456), 0.001, 0, 0);

    /* the state's current rate follows iterations and lr_scale (ReduceLROnPlateau) */
    o = parse_ok("sgd(learning_rate=exponential_decay(0.1, 1, 0.5))");
    ds_optim_state st;
    memset(&st, 0, sizeof st);
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_2, 1, NULL));
    float w = 0.0f, g = 1.0f;
    CHECK_CLOSE(ds_optim_current_lr(&st), 0.1, 0, 1e-12);
    ds_optim_step(&st, &w, &g, NULL, 0);
    CHECK_CLOSE(w, -0.1, 1e-7, 0);
    CHECK_CLOSE(ds_optim_current_lr(&st), 0.05, 0, 1e-12);
    st.lr_scale = 0.5;
    CHECK_CLOSE(ds_optim_current_lr(&st), 0.025, 0, 1e-12);
    g = 1.0f;
    ds_optim_step(&st, &w, &g, NULL, 0);
    CHECK_CLOSE(w, -0.125, 1e-7, 0);
    ds_optim_free(&st);
}

/* ---- clipping ---- */

static void test_clipping_per_tensor(void)
{
    ds_tensor_span spans[2] = {{0, 2}, {2, 3}};
    ds_optim_state st;
    memset(&st, 0, sizeof st);

    /* clipnorm 1: tensor A (3, 4) has norm 5 -> (0.6, 0.8); tensor B's norm 0.3 stays */
    ds_optimizer o = parse_ok("sgd(learning_rate=1, clipnorm=1)");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_2, 5, NULL));
    float w[5] = {0}, g[5] = {3.0f, 4.0f, 0.1f, 0.2f, 0.2f};
    const float want[5] = {-0.6f, -0.8f, -0.1f, -0.2f, -0.2f};
    ds_optim_step(&st, w, g, spans, 2);
    for (int i = 0; i < 5; i++) {
        CHECK_CLOSE(w[i], want[i], 1e-6, 0);
        CHECK_CLOSE(g[i], -want[i], 1e-6, 0); /* the gradient is clipped in place */
    }

    /* without spans the arena is one tensor: norm sqrt(25.09) */
    float w1[5] = {0}, g1[5] = {3.0f, 4.0f, 0.1f, 0.2f, 0.2f};
    ds_optim_reset(&st);
    ds_optim_step(&st, w1, g1, NULL, 0);
    double norm = sqrt(25.09);
    CHECK_CLOSE(w1[0], -3.0 / norm, 1e-6, 0);
    CHECK_CLOSE(w1[4], -0.2 / norm, 1e-6, 0);
    ds_optim_free(&st);

    /* global_clipnorm 1: every entry scaled by 1 / sqrt(25.09), whatever the spans */
    o = parse_ok("sgd(learning_rate=1, global_clipnorm=1)");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_3, 5, NULL));
    float w2[5] = {0}, g2[5] = {3.0f, 4.0f, 0.1f, 0.2f, 0.2f};
    ds_optim_step(&st, w2, g2, spans, 2);
    CHECK_CLOSE(w2[0], -3.0 / norm, 1e-6, 0);
    CHECK_CLOSE(w2[2], -0.1 / norm, 1e-6, 0);
    /* a gradient already inside the norm is untouched */
    float w3[5] = {0}, g3[5] = {0.1f, 0.2f, 0.3f, 0.1f, 0.1f};
    ds_optim_step(&st, w3, g3, spans, 2);
    CHECK_CLOSE(w3[2], -0.3, 1e-7, 0);
    ds_optim_free(&st);

    /* clipvalue 0.5: elementwise */
    o = parse_ok("sgd(learning_rate=1, clipvalue=0.5)");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_2, 5, NULL));
    float w4[5] = {0}, g4[5] = {3.0f, -4.0f, 0.1f, -0.5f, 0.5f};
    ds_optim_step(&st, w4, g4, spans, 2);
    CHECK_CLOSE(w4[0], -0.5, 0, 0);
    CHECK_CLOSE(w4[1], 0.5, 0, 0);
    CHECK_CLOSE(w4[2], -0.1, 1e-8, 0);
    CHECK_CLOSE(w4[3], 0.5, 0, 0);
    ds_optim_free(&st);
}

/* ---- state ---- */

static void test_slots_and_reset(void)
{
    struct {
        const char *spec;
        int used[3];
    } cases[] = {
        {"sgd", {0, 0, 0}},
        {"sgd(momentum=0.3)", {1, 0, 0}},
        {"rmsprop", {1, 0, 0}},
        {"rmsprop(centered=true, momentum=0.1)", {1, 1, 1}},
        {"rmsprop(momentum=0.1)", {1, 0, 1}},
        {"adam", {1, 1, 0}},
        {"adam(amsgrad=true)", {1, 1, 1}},
        {"adamw", {1, 1, 0}},
        {"adagrad", {1, 0, 0}},
        {"adadelta", {1, 1, 0}},
        {"adamax", {1, 1, 0}},
        {"nadam", {1, 1, 0}},
    };
    ds_optim_state st;
    memset(&st, 0, sizeof st);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds_optimizer o = parse_ok(cases[c].spec);
        CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_3, 7, NULL)); /* re-init frees the old */
        for (int i = 0; i < 3; i++)
            CHECK((st.slot[i] != NULL) == cases[c].used[i], "%s: slot %d %s", cases[c].spec,
                  i, st.slot[i] ? "allocated" : "missing");
        CHECK(st.iterations == 0 && st.n == 7 && st.lr_scale == 1.0 && st.nadam_prod == 1.0,
              "%s: fresh state", cases[c].spec);
    }
    ds_optim_free(&st);
    ds_optim_free(&st); /* twice is harmless */
    ds_optim_free(NULL);

    /* Adagrad's accumulator starts at initial_accumulator_value */
    ds_optimizer o = parse_ok("adagrad(initial_accumulator_value=0.25)");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_2, 3, NULL));
    for (int i = 0; i < 3; i++) CHECK_CLOSE(st.slot[0][i], 0.25, 0, 0);
    ds_optim_free(&st);

    /* reset gives back the state right after init: the same trajectory again */
    o = parse_ok("nadam(learning_rate=0.01)");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_3, OG_N, NULL));
    float run1[OG_N], run2[OG_N], g[OG_N];
    memcpy(run1, og_w0, sizeof run1);
    for (int t = 0; t < OG_STEPS; t++) {
        memcpy(g, og_grad[t], sizeof g);
        ds_optim_step(&st, run1, g, NULL, 0);
    }
    st.lr_scale = 0.1;
    ds_optim_reset(&st);
    CHECK(st.iterations == 0 && st.nadam_prod == 1.0 && st.lr_scale == 1.0, "reset scalars");
    memcpy(run2, og_w0, sizeof run2);
    for (int t = 0; t < OG_STEPS; t++) {
        memcpy(g, og_grad[t], sizeof g);
        ds_optim_step(&st, run2, g, NULL, 0);
    }
    CHECK(memcmp(run1, run2, sizeof run1) == 0, "reset: trajectories differ");
    ds_optim_free(&st);

    /* zero parameters: nothing allocated, steps still count */
    o = parse_ok("adam");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_3, 0, NULL));
    ds_optim_step(&st, NULL, NULL, NULL, 0);
    CHECK(st.iterations == 1, "iterations %lld", (long long)st.iterations);
    ds_optim_free(&st);

    /* init refuses a bad configuration or Keras version and keeps the old state */
    ds_error err = {0};
    o = parse_ok("sgd(momentum=0.5)");
    CHECK_OK(ds_optim_init(&st, &o, DS_KERAS_2, 4, NULL));
    float *old = st.slot[0];
    ds_optimizer bad = o;
    bad.learning_rate = -1.0;
    CHECK(ds_optim_init(&st, &bad, DS_KERAS_2, 4, &err) == DS_ERR_ARG, "bad lr accepted");
    CHECK(strstr(err.message, "learning_rate") != NULL, "message: %s", err.message);
    CHECK(ds_optim_init(&st, &o, (ds_keras_version)4, 4, &err) == DS_ERR_ARG, "keras 4");
    CHECK(st.slot[0] == old, "state changed by a failed init");
    ds_optim_free(&st);
}

/* ---- names, defaults, parse and str ---- */

static void test_names_and_defaults(void)
{
    for (int k = 0; k < DS_OPT_COUNT; k++) {
        ds_opt_kind back = DS_OPT_COUNT;
        const char *name = ds_opt_kind_name((ds_opt_kind)k);
        CHECK(ds_opt_kind_parse(name, &back) == DS_OK && back == (ds_opt_kind)k, "%s", name);
        ds_optimizer d = ds_optimizer_defaults((ds_opt_kind)k);
        CHECK(d.kind == (ds_opt_kind)k, "kind");
        CHECK_CLOSE(d.learning_rate, k == DS_OPT_SGD ? 0.01 : 0.001, 0, 0);
        CHECK_CLOSE(d.epsilon, 1e-7, 0, 0);
        CHECK(d.schedule.kind == DS_SCHEDULE_CONSTANT, "schedule");
        CHECK(d.clipnorm == 0 && d.clipvalue == 0 && d.global_clipnorm == 0 && d.decay == 0,
              "%s: clipping or decay on by default", name);
        CHECK(ds_optimizer_check(&d, NULL) == DS_OK, "%s defaults fail the check", name);
    }
    ds_opt_kind k;
    CHECK(ds_opt_kind_parse("RMSprop", &k) == DS_OK && k == DS_OPT_RMSPROP, "RMSprop");
    CHECK(ds_opt_kind_parse("SGD", &k) == DS_OK && k == DS_OPT_SGD, "SGD");
    CHECK(ds_opt_kind_parse("AdamW", &k) == DS_OK && k == DS_OPT_ADAMW, "AdamW");
    CHECK(ds_opt_kind_parse("adamz", &k) == DS_ERR_ARG, "adamz");
    CHECK(ds_opt_kind_parse("", &k) == DS_ERR_ARG, "empty");
    CHECK(strcmp(ds_opt_kind_name(DS_OPT_NADAM), "nadam") == 0, "nadam");

    ds_optimizer d = ds_optimizer_defaults(DS_OPT_RMSPROP);
    CHECK(d.rho == 0.9 && d.momentum == 0.0 && !d.centered, "rmsprop defaults");
    d = ds_optimizer_defaults(DS_OPT_ADADELTA);
    CHECK(d.rho == 0.95, "adadelta rho %g", d.rho);
    d = ds_optimizer_defaults(DS_OPT_ADAM);
    CHECK(d.beta_1 == 0.9 && d.beta_2 == 0.999 && !d.amsgrad && d.weight_decay == 0.0,
          "adam defaults");
    d = ds_optimizer_defaults(DS_OPT_ADAMW);
    CHECK(d.weight_decay == 0.004 && d.beta_1 == 0.9 && d.beta_2 == 0.999, "adamw defaults");
    d = ds_optimizer_defaults(DS_OPT_ADAGRAD);
    CHECK(d.initial_accumulator_value == 0.1, "adagrad defaults");
    d = ds_optimizer_defaults(DS_OPT_SGD);
    CHECK(d.momentum == 0.0 && !d.nesterov, "sgd defaults");
}

static void test_parse_and_str(void)
{
    char buf[512], buf2[512];
    struct {
        const char *spec, *canonical;
    } cases[] = {
        {"sgd", "sgd(learning_rate=0.01)"},
        {"SGD(learning_rate=0.01, momentum=0.3, nesterov=True)",
         "sgd(learning_rate=0.01, momentum=0.3, nesterov=true)"},
        {"sgd(0.1, 0.9, true)", "sgd(learning_rate=0.1, momentum=0.9, nesterov=true)"},
        {"rmsprop(0.01)", "rmsprop(learning_rate=0.01)"},
        {"rmsprop(0.01, 0.8, 0.5, 1e-6, yes)",
         "rmsprop(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=1e-06, centered=true)"},
        {"Adam(lr=0.002, amsgrad=True)", "adam(learning_rate=0.002, amsgrad=true)"},
        {"adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)",
         "adam(learning_rate=0.001)"},
        {"adamw", "adamw(learning_rate=0.001)"},
        {"adamw(0.01, 0)", "adamw(learning_rate=0.01, weight_decay=0)"},
        {"adagrad(0.01, 0)", "adagrad(learning_rate=0.01, initial_accumulator_value=0)"},
        {"adadelta(1.0, 0.9)", "adadelta(learning_rate=1, rho=0.9)"},
        {"adamax(beta_2=0.99)", "adamax(learning_rate=0.001, beta_2=0.99)"},
        {"nadam(clipnorm=1, decay=1e-4, weight_decay=0.01)",
         "nadam(learning_rate=0.001, weight_decay=0.01, clipnorm=1, decay=0.0001)"},
        {"adam(global_clipnorm=2.5)", "adam(learning_rate=0.001, global_clipnorm=2.5)"},
        {"sgd(clipvalue=0.5)", "sgd(learning_rate=0.01, clipvalue=0.5)"},
        {"adam(learning_rate=exponential_decay(0.01, decay_steps=100, decay_rate=0.9))",
         "adam(learning_rate=exponential_decay(initial_learning_rate=0.01, decay_steps=100, "
         "decay_rate=0.9))"},
        {"sgd(learning_rate=InverseTimeDecay(0.5, 10, 2, true), momentum=0.9)",
         "sgd(learning_rate=inverse_time_decay(initial_learning_rate=0.5, decay_steps=10, "
         "decay_rate=2, staircase=true), momentum=0.9)"},
        {"sgd(learning_rate=step([10, 20], [0.1, 0.01, 0.001]))",
         "sgd(learning_rate=piecewise_constant_decay(boundaries=[10, 20], "
         "values=[0.1, 0.01, 0.001]))"},
        {"rmsprop(learning_rate=cosine_decay(0.1, 1000, alpha=0.01))",
         "rmsprop(learning_rate=cosine_decay(initial_learning_rate=0.1, decay_steps=1000, "
         "alpha=0.01))"},
        {"sgd(learning_rate=cosine_decay(initial_learning_rate=0.1, decay_steps=50))",
         "sgd(learning_rate=cosine_decay(initial_learning_rate=0.1, decay_steps=50))"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds_optimizer o = parse_ok(cases[c].spec);
        ds_optimizer_str(&o, buf, sizeof buf);
        CHECK(strcmp(buf, cases[c].canonical) == 0, "str(parse('%s')) = '%s', expected '%s'",
              cases[c].spec, buf, cases[c].canonical);
        ds_optimizer o2 = parse_ok(buf);
        ds_optimizer_str(&o2, buf2, sizeof buf2);
        CHECK(strcmp(buf, buf2) == 0, "round trip '%s' -> '%s'", buf, buf2);
        CHECK(opt_equal(&o, &o2), "round trip changed the struct for '%s'", buf);
    }

    /* fields land where they should */
    ds_optimizer o = parse_ok("sgd(0.1, 0.9, true)");
    CHECK(o.kind == DS_OPT_SGD && o.learning_rate == 0.1 && o.momentum == 0.9 && o.nesterov,
          "sgd fields");
    o = parse_ok("rmsprop(0.01)");
    CHECK(o.kind == DS_OPT_RMSPROP && o.learning_rate == 0.01 && o.rho == 0.9, "rmsprop fields");
    o = parse_ok("adam(learning_rate=exponential_decay(0.01, decay_steps=100, decay_rate=0.9))");
    CHECK(o.learning_rate == 0.01 && o.schedule.decay_steps == 100 &&
              o.schedule.decay_rate == 0.9 && !o.schedule.staircase,
          "schedule fields");

    /* numbers that need all 17 digits survive the round trip */
    ds_optimizer x = ds_optimizer_defaults(DS_OPT_ADAM);
    x.learning_rate = 0.1 + 0.2;
    x.beta_2 = 1.0 / 3.0;
    x.epsilon = 1e-300;
    ds_optimizer_str(&x, buf, sizeof buf);
    ds_optimizer y = parse_ok(buf);
    CHECK(y.learning_rate == x.learning_rate && y.beta_2 == x.beta_2 && y.epsilon == x.epsilon,
          "exact round trip of '%s'", buf);

    /* a short buffer is truncated, terminated, and returned */
    char small[8];
    CHECK(ds_optimizer_str(&x, small, sizeof small) == small && strlen(small) == 7,
          "short buffer: '%s'", small);
}

static void test_errors(void)
{
    struct {
        const char *spec;
        const char *needle[2]; /* both must appear in the message */
    } cases[] = {
        {"sgd(learning_rate=-0.1)", {"sgd", "learning_rate=-0.1"}},
        {"adam(-1)", {"adam", "learning_rate"}},
        {"rmsprop(rho=1.5)", {"rmsprop: rho=1.5 must be in [0, 1)", "rho"}},
        {"adadelta(rho=1)", {"adadelta", "rho=1"}},
        {"foo", {"foo", "unknown"}},
        {"adamz(0.1)", {"adamz", "optimizer"}},
        {"adam(momentum=0.9)", {"adam", "momentum"}},
        {"sgd(rho=0.9)", {"sgd", "rho"}},
        {"adagrad(amsgrad=true)", {"adagrad", "amsgrad"}},
        {"sgd(clipnorm=1, clipvalue=0.5)", {"clipnorm", "clipvalue"}},
        {"adam(clipvalue=1, global_clipnorm=2)", {"clipvalue", "global_clipnorm"}},
        {"sgd(clipnorm=-1)", {"sgd", "clipnorm"}},
        {"sgd(learning_rate=0.1, lr=0.2)", {"sgd", "lr"}},
        {"sgd(0.1, learning_rate=0.2)", {"sgd", "learning_rate given twice"}},
        {"sgd(momentum=0.1, momentum=0.2)", {"sgd", "momentum given twice"}},
        {"sgd(momentum=1.5)", {"sgd", "momentum=1.5"}},
        {"sgd(momentum=abc)", {"sgd", "momentum"}},
        {"sgd(nesterov=maybe)", {"sgd", "nesterov"}},
        {"sgd(0.1, 0.2, true, 4)", {"sgd", "positional"}},
        {"adam(beta_1=1)", {"adam", "beta_1=1"}},
        {"nadam(beta_2=-0.1)", {"nadam", "beta_2"}},
        {"adam(epsilon=-1)", {"adam", "epsilon"}},
        {"adagrad(initial_accumulator_value=-1)", {"adagrad", "initial_accumulator_value"}},
        {"adam(weight_decay=-0.1)", {"adam", "weight_decay"}},
        {"sgd(decay=-1)", {"sgd", "decay"}},
        {"sgd(learning_rate=1e999)", {"sgd", "learning_rate"}},
        {"sgd(learning_rate=0.1", {"optimizer", ")"}},
        {"sgd(learning_rate=exponential_decay(0.1, decay_steps=0, decay_rate=0.5))",
         {"exponential_decay", "decay_steps=0"}},
        {"sgd(learning_rate=exponential_decay(0.1, decay_rate=0.5))",
         {"exponential_decay", "missing decay_steps"}},
        {"sgd(learning_rate=exponential_decay(0.1, 10, -0.5))", {"exponential_decay", "decay_rate"}},
        {"sgd(learning_rate=exponential_decay(0.1, 10, 0.5, foo=1))", {"foo", "unknown"}},
        {"sgd(learning_rate=inverse_time_decay(-0.1, 10, 0.5))", {"sgd", "learning_rate"}},
        {"sgd(learning_rate=cosine_decay(0.1, 10, alpha=2))", {"cosine_decay", "alpha=2"}},
        {"sgd(learning_rate=piecewise_constant_decay(boundaries=[20, 10], values=[1, 2, 3]))",
         {"piecewise_constant_decay", "boundaries"}},
        {"sgd(learning_rate=piecewise_constant_decay(boundaries=[10], values=[1, 2, 3]))",
         {"piecewise_constant_decay", "values"}},
        {"sgd(learning_rate=piecewise_constant_decay(boundaries=10, values=[1, 2]))",
         {"boundaries=10", "list"}},
        {"sgd(learning_rate=step([1,2,3,4,5,6,7,8,9], [1,1,1,1,1,1,1,1,1,1]))",
         {"boundaries", "more than 8"}},
        {"sgd(learning_rate=step([1, 2], [1, -2, 3]))", {"values[1]", ">= 0"}},
        {"sgd(learning_rate=step([1, x], [1, 2, 3]))", {"boundaries", "x"}},
        {"sgd(learning_rate=warmup(0.1))", {"warmup", "schedule"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds_optimizer o = ds_optimizer_defaults(DS_OPT_NADAM);
        ds_optimizer before = o;
        ds_error err = {0};
        ds_status s = ds_optimizer_parse(cases[c].spec, &o, &err);
        CHECK(s == DS_ERR_ARG, "'%s': status %d", cases[c].spec, (int)s);
        CHECK(err.status == DS_ERR_ARG, "'%s': err.status %d", cases[c].spec, (int)err.status);
        for (int i = 0; i < 2; i++)
            CHECK(strstr(err.message, cases[c].needle[i]) != NULL,
                  "'%s': message '%s' lacks '%s'", cases[c].spec, err.message,
                  cases[c].needle[i]);
        CHECK(opt_equal(&o, &before), "'%s': output changed on failure",
              cases[c].spec);
        CHECK(ds_optimizer_parse(cases[c].spec, &o, NULL) == DS_ERR_ARG, "NULL err");
    }

    /* structs built by hand go through the same check */
    ds_error err = {0};
    ds_optimizer o = ds_optimizer_defaults(DS_OPT_SGD);
    o.learning_rate = (double)NAN;
    CHECK(ds_optimizer_check(&o, &err) == DS_ERR_ARG && strstr(err.message, "learning_rate"),
          "NaN lr: %s", err.message);
    o.learning_rate = (double)INFINITY;
    CHECK(ds_optimizer_check(&o, &err) == DS_ERR_ARG, "inf lr");
    o = ds_optimizer_defaults(DS_OPT_RMSPROP);
    o.rho = 1.5;
    CHECK(ds_optimizer_check(&o, &err) == DS_ERR_ARG &&
              strcmp(err.message, "rmsprop: rho=1.5 must be in [0, 1)") == 0,
          "message: %s", err.message);
    o = ds_optimizer_defaults(DS_OPT_SGD);
    o.momentum = 1.0; /* Keras allows momentum in [0, 1] */
    CHECK(ds_optimizer_check(&o, &err) == DS_OK, "momentum 1 rejected: %s", err.message);
    o.kind = DS_OPT_COUNT;
    CHECK(ds_optimizer_check(&o, &err) == DS_ERR_ARG, "bad kind");
    o = ds_optimizer_defaults(DS_OPT_SGD);
    o.schedule.kind = DS_SCHEDULE_STEP;
    o.schedule.n_boundaries = 0;
    CHECK(ds_optimizer_check(&o, &err) == DS_ERR_ARG && strstr(err.message, "boundaries"),
          "no boundaries: %s", err.message);
}

/* spec.c treats [] like () so bracketed lists keep their commas */
static void test_spec_brackets(void)
{
    ds_spec s;
    CHECK_OK(ds_spec_parse("f([4, 5], a=[1, 2], b=3)", &s, "thing", NULL));
    CHECK(s.n_args == 3, "n_args %d", s.n_args);
    CHECK(s.args[0].key[0] == '\0' && strcmp(s.args[0].value, "[4, 5]") == 0, "arg 0: %s",
          s.args[0].value);
    CHECK(strcmp(s.args[1].key, "a") == 0 && strcmp(s.args[1].value, "[1, 2]") == 0,
          "arg 1: %s=%s", s.args[1].key, s.args[1].value);
    CHECK(strcmp(s.args[2].value, "3") == 0, "arg 2: %s", s.args[2].value);
    CHECK_OK(ds_spec_parse("g(x=h(1, [2, 3]), y=[(4, 5)])", &s, "thing", NULL));
    CHECK(s.n_args == 2 && strcmp(s.args[0].value, "h(1, [2, 3])") == 0 &&
              strcmp(s.args[1].value, "[(4, 5)]") == 0,
          "nested: %d args", s.n_args);
}

int main(void)
{
    RUN(test_golden_trajectories);
    RUN(test_golden_discriminates_versions);
    RUN(test_hand_steps);
    RUN(test_schedules);
    RUN(test_clipping_per_tensor);
    RUN(test_slots_and_reset);
    RUN(test_names_and_defaults);
    RUN(test_parse_and_str);
    RUN(test_errors);
    RUN(test_spec_brackets);
    return HARNESS_DONE();
}
