/*
 * test_mathf.c - descent's own float exponential and log(1 + e) (src/mathf.h) against
 * libm in double precision, and the vectorized loops that use them (the sigmoid, the
 * one-unit binary crossentropy) against the same formulas evaluated one element at a
 * time: the same bits, whichever instruction set the loops were compiled for.
 */
#include "harness.h"
#include "../src/internal.h"
#include "../src/mathf.h"

#include <stdint.h>
#include <string.h>

/* |got - want| in units of the spacing of floats at want (want rounded to float) */
static double ulp_error(float got, double want)
{
    float w = (float)want;
    if (w == 0.0f) return got == 0.0f ? 0.0 : (got == got ? fabs((double)got) / 1.4e-45 : 1e9);
    float up = nextafterf(fabsf(w), INFINITY);
    return fabs((double)got - want) / (double)(up - fabsf(w));
}

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void test_expf_accuracy(void)
{
    /* every 97th float in the range where the result is finite and nonzero */
    double worst = 0.0;
    float worst_x = 0.0f;
    long n = 0;
    for (uint64_t b = 0; b < UINT64_C(0x100000000); b += 97) {
        float x = from_bits((uint32_t)b);
        if (!(x > -103.0f && x < 88.7f)) continue;
        double e = ulp_error(ds_expf(x), exp((double)x));
        n++;
        if (e > worst) worst = e, worst_x = x;
    }
    CHECK(n > 10000000, "only %ld points", n);
    CHECK(worst <= 1.0, "ds_expf: %.3f ulp at %.9g", worst, (double)worst_x);
    printf("  ds_expf: largest error %.3f ulp (x = %.9g) over %ld points\n", worst,
           (double)worst_x, n);
}

static void test_expf_special(void)
{
    CHECK(ds_expf(0.0f) == 1.0f, "e^0 = %.9g", (double)ds_expf(0.0f));
    CHECK(ds_expf(-0.0f) == 1.0f, "e^-0");
    CHECK(ds_expf(-INFINITY) == 0.0f, "e^-inf = %.9g", (double)ds_expf(-INFINITY));
    CHECK(ds_expf(-200.0f) == 0.0f, "e^-200");
    CHECK(isinf(ds_expf(INFINITY)) && ds_expf(INFINITY) > 0, "e^inf");
    CHECK(isinf(ds_expf(100.0f)), "e^100 = %.9g", (double)ds_expf(100.0f));
    CHECK(isnan(ds_expf(NAN)), "e^nan");
    /* the subnormal results are right too */
    float sub = ds_expf(-100.0f);
    CHECK(sub > 0.0f && sub < 1.2e-38f, "e^-100 = %.9g", (double)sub);
    CHECK(ulp_error(sub, exp(-100.0)) <= 1.0, "e^-100 = %.9g, want %.9g", (double)sub,
          exp(-100.0));
    CHECK(ulp_error(ds_expf(88.7f), exp((double)88.7f)) <= 1.0, "e^88.7");
    CHECK(ulp_error(ds_expf(1.0f), exp(1.0)) <= 1.0, "e^1 = %.9g", (double)ds_expf(1.0f));
}

static void test_log1pf_unit(void)
{
    double worst = 0.0;
    float worst_x = 0.0f;
    long n = 0;
    /* every float in [0, 1]: about a billion; every 13th keeps the test quick */
    for (uint32_t b = 0; b <= 0x3f800000u; b += 13) {
        float e = from_bits(b);
        double err = ulp_error(ds_log1pf_unit(e), log1p((double)e));
        n++;
        if (err > worst) worst = err, worst_x = e;
    }
    double err1 = ulp_error(ds_log1pf_unit(1.0f), log(2.0));
    if (err1 > worst) worst = err1, worst_x = 1.0f;
    CHECK(worst <= 2.0, "ds_log1pf_unit: %.3f ulp at %.9g", worst, (double)worst_x);
    CHECK(ds_log1pf_unit(0.0f) == 0.0f, "log1p(0)");
    CHECK(isnan(ds_log1pf_unit(NAN)), "log1p(nan)");
    /* tiny arguments keep their relative accuracy: log1p(e) = e (1 - e/2 + ...) */
    CHECK(ds_log1pf_unit(1e-30f) == 1e-30f, "log1p(1e-30) = %.9g", (double)ds_log1pf_unit(1e-30f));
    printf("  ds_log1pf_unit: largest error %.3f ulp (e = %.9g) over %ld points\n", worst,
           (double)worst_x, n);
}

/* inputs from -120 to 120, with NaN, infinities and signed zeros among them */
static int make_inputs(float *z, int n)
{
    ds_rng r;
    ds_rng_seed(&r, 7);
    for (int i = 0; i < n; i++) z[i] = (float)(240.0 * ds_rng_uniform(&r) - 120.0);
    for (int i = 0; i < n; i += 7) z[i] *= 0.01f; /* many near 0 */
    z[3] = 0.0f;
    z[5] = -0.0f;
    z[11] = INFINITY;
    z[13] = -INFINITY;
    z[17] = NAN;
    return n;
}

static float sigmoid_scalar(float x)
{
    volatile float e = ds_expf(-fabsf(x)); /* volatile: keep this one element at a time */
    float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
    return x >= 0.0f ? pos : neg;
}

static void test_sigmoid_loop_bits(void)
{
    enum { N = 1000 };
    float z[N], out[N];
    make_inputs(z, N);
    ds_activation a = {.kind = DS_ACT_SIGMOID};
    for (int n = 1; n <= N; n += (n < 40 ? 1 : 97)) { /* every remainder of the vector width */
        ds_act_forward(&a, DS_KERAS_2, out, z, 1, n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            float want = sigmoid_scalar(z[i]);
            if (memcmp(&want, &out[i], sizeof want) != 0 && bad++ == 0)
                CHECK(0, "n=%d: sigmoid(%.9g) = %.9g, one at a time %.9g", n, (double)z[i],
                      (double)out[i], (double)want);
        }
    }
    ds_act_forward(&a, DS_KERAS_2, out, z, 1, N);
    CHECK(out[17] != out[17], "sigmoid(nan) = %g", (double)out[17]);
    CHECK(out[11] == 1.0f && out[13] == 0.0f, "sigmoid(+-inf) = %g, %g", (double)out[11],
          (double)out[13]);
    for (int i = 0; i < N; i++)
        if (i != 17) CHECK(out[i] >= 0.0f && out[i] <= 1.0f, "sigmoid(%g) = %g", (double)z[i], (double)out[i]);
}

static void test_bce_loop_bits(void)
{
    enum { N = 300 };
    float z[N], y[N], out[N], dz[N];
    make_inputs(z, N);
    z[17] = 3.0f; /* no NaN here: the sum would be NaN */
    z[11] = 90.0f;
    z[13] = -90.0f;
    ds_rng r;
    ds_rng_seed(&r, 8);
    for (int i = 0; i < N; i++) y[i] = ds_rng_uniform(&r) < 0.5 ? 0.0f : 1.0f;
    y[7] = 0.25f; /* soft targets go the same way */
    ds_activation a = {.kind = DS_ACT_SIGMOID};
    ds_loss loss = {.kind = DS_LOSS_BINARY_CROSSENTROPY};
    for (int n = 1; n <= N; n += (n < 70 ? 1 : 53)) {
        ds_act_forward(&a, DS_KERAS_2, out, z, n, 1);
        double got = ds_loss_compute(&loss, DS_LOSS_FROM_SIGMOID_LOGITS, out, z, y, n, 1, dz,
                                     0.5f);
        double want = 0.0;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            float x = z[i], t = y[i];
            volatile float e = ds_expf(-fabsf(x));
            float term = (x > 0.0f ? x : 0.0f) - x * t + ds_log1pf_unit(e);
            want += (double)term;
            float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
            float d = 0.5f * 1.0f * ((x >= 0.0f ? pos : neg) - t);
            if (memcmp(&d, &dz[i], sizeof d) != 0 && bad++ == 0)
                CHECK(0, "n=%d: dz[%d] = %.9g, one at a time %.9g", n, i, (double)dz[i], (double)d);
        }
        CHECK(memcmp(&got, &want, sizeof got) == 0, "n=%d: loss sum %.17g, one at a time %.17g",
              n, got, want);
        /* and against the textbook formula in double */
        double ref = 0.0;
        for (int i = 0; i < n; i++) {
            double x = (double)z[i], t = (double)y[i];
            ref += (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
        }
        CHECK_CLOSE(got, ref, 1e-6 * n, 1e-6);
    }
}

/* The training step of one sigmoid unit under binary crossentropy takes the sigmoid from
 * the loss (one e^-|z| for both): the unit's output after the step has the bits the
 * activation would have given, and the loss those of ds_loss_compute. */
static void test_fused_sigmoid_step(void)
{
    enum { N = 37, I = 4 };
    float x[N * I], y[N];
    ds_rng r;
    ds_rng_seed(&r, 11);
    for (int i = 0; i < N * I; i++) x[i] = (float)(6.0 * ds_rng_uniform(&r) - 3.0);
    for (int i = 0; i < N; i++) y[i] = ds_rng_uniform(&r) < 0.5 ? 0.0f : 1.0f;
    ds_model *m = NULL;
    CHECK_OK(ds_model_create(&m, I, NULL));
    if (!m) return;
    ds_dense_config d = ds_dense_defaults(1);
    d.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    CHECK_OK(ds_model_add_dense(m, &d, NULL));
    CHECK_OK(ds_model_build(m, 5, NULL));
    ds_compile_config cc = ds_compile_defaults(); /* binary_crossentropy, rmsprop */
    CHECK_OK(ds_model_compile(m, &cc, NULL));
    CHECK_OK(ds_model_reserve(m, N, NULL));
    for (int step = 0; step < 3; step++) {
        double loss = 0.0;
        CHECK(ds_model_train_step(m, x, y, N, NULL, 1, &loss), "step %d", step);
        const float *z = m->z[0], *a = m->a[0];
        float want[N];
        ds_activation sig = {.kind = DS_ACT_SIGMOID};
        ds_act_forward(&sig, DS_KERAS_2, want, z, N, 1);
        CHECK(memcmp(want, a, sizeof want) == 0, "step %d: the output differs from sigmoid(z)",
              step);
        double ref = ds_loss_compute(&cc.loss, DS_LOSS_FROM_SIGMOID_LOGITS, a, z, y, N, 1, NULL,
                                     1.0f) / N;
        CHECK(memcmp(&ref, &loss, sizeof ref) == 0, "step %d: loss %.17g, ds_loss_compute %.17g",
              step, loss, ref);
    }
    ds_model_free(m);
}

int main(void)
{
    RUN(test_expf_accuracy);
    RUN(test_expf_special);
    RUN(test_log1pf_unit);
    RUN(test_sigmoid_loop_bits);
    RUN(test_bce_loop_bits);
    RUN(test_fused_sigmoid_step);
    return HARNESS_DONE();
}
