/*
 * test_init.c - tests of src/init.c: every initializer's moments and range against its
 * formula, the worked numbers of Keras's variance scaling, orthogonality, exact constants,
 * determinism, the bias rule, and parsing/printing of specs.
 *
 * Statistical tolerances. Each sample has N >= 2 10^5 values from a fixed seed, so the
 * tests are deterministic; the bounds are set so a correct sampler passes for all but a
 * tiny fraction of seeds:
 *   - a sample mean of N values with variance v: within 5 standard errors, 5 sqrt(v / N)
 *     (two-sided failure chance 5.7e-7 under the normal approximation);
 *   - a sample variance: within 5 sigma^2 sqrt((kappa - 1) / N), kappa = E x^4 / sigma^4
 *     (1.8 uniform, 3 normal, 2.36554 normal truncated at 2 sigma);
 *   - the fourth moment E x^4 / sigma^4: within 5 sqrt(Var(x^4) / N) / sigma^4, with
 *     Var(x^4) / sigma^8 = 5.76 (uniform), 96 (normal), 21.5938 (truncated), which tells
 *     the three distributions apart even at equal variance;
 *   - the extremes of U[a, b): min < a + 20 (b - a) / N and max > b - 20 (b - a) / N
 *     (each fails with probability (1 - 20/N)^N ~ e^-20 = 2e-9);
 *   - the extremes of a normal truncated at 2 sigma: max > 2 sigma - 0.01 sigma, as the
 *     density there is phi(2) / 0.9545 = 0.0566 / sigma, so no draw in that band has
 *     probability exp(-N 0.0566 0.01) < e^-113;
 *   - hard bounds (no value outside [a, b) or beyond 2 sigma) hold exactly, in double.
 */
#include "../src/internal.h"
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_DRAWS 200000
#define TRUNC_STD 0.87962566103423978

/* kappa = E x^4 / sigma^4 and Var(x^4) / sigma^8 for each distribution */
#define KAPPA_UNIFORM 1.8
#define KAPPA_NORMAL 3.0
#define KAPPA_TRUNC 2.3655367171296495
#define V4_UNIFORM 5.76
#define V4_NORMAL 96.0
#define V4_TRUNC 21.593827205387953
#define P_BEYOND_2SD 0.0455002638963584 /* P(|z| > 2) for z ~ N(0,1) */

/* ------------------------------------------------------------------------------------ */
/* helpers */

static ds_initializer parse_ok(const char *spec)
{
    ds_initializer x = ds_initializer_defaults(DS_INIT_ZEROS);
    ds_error e = {0};
    ds_status st = ds_initializer_parse(spec, &x, &e);
    CHECK(st == DS_OK, "parse '%s': %s", spec, e.message);
    return x;
}

/* n values drawn by filling (fi, fo) kernels (a bias of fo values when fi == 0) one after
 * another from one generator seeded with `seed`. Caller frees. */
static float *draw(const ds_initializer *init, int fi, int fo, size_t n, uint64_t seed)
{
    size_t chunk = fi == 0 ? (size_t)fo : (size_t)fi * (size_t)fo;
    float *w = calloc(n, sizeof *w), *tmp = malloc(chunk * sizeof *tmp);
    ds_rng r;
    ds_rng_seed(&r, seed);
    for (size_t got = 0; got < n;) {
        ds_error e = {0};
        ds_status st = ds_initializer_fill(init, tmp, fi, fo, &r, &e);
        CHECK(st == DS_OK, "fill (%d, %d): %s", fi, fo, e.message);
        if (st != DS_OK) break;
        size_t take = chunk < n - got ? chunk : n - got;
        memcpy(w + got, tmp, take * sizeof *w);
        got += take;
    }
    free(tmp);
    return w;
}

typedef struct {
    size_t n;
    double mean, var, m4, min, max; /* m4 = E (x - mean)^4 */
} stats;

static stats stats_of(const float *w, size_t n)
{
    stats s = {n, 0, 0, 0, HUGE_VAL, -HUGE_VAL};
    for (size_t i = 0; i < n; i++) {
        double x = (double)w[i];
        s.mean += x;
        if (x < s.min) s.min = x;
        if (x > s.max) s.max = x;
    }
    s.mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = (double)w[i] - s.mean;
        s.var += d * d;
        s.m4 += d * d * d * d;
    }
    s.var /= (double)n;
    s.m4 /= (double)n;
    return s;
}

/* Mean, variance and fourth moment against mean mu and variance v of a distribution with
 * kurtosis kappa and Var(x^4) / v^4 = v4 (tolerances in the file header). */
static void check_moments(const char *what, stats s, double mu, double v, double kappa,
                          double v4)
{
    double n = (double)s.n;
    double tol_mean = 5.0 * sqrt(v / n);
    double tol_var = 5.0 * v * sqrt((kappa - 1.0) / n);
    double tol_k = 5.0 * sqrt(v4 / n);
    CHECK(fabs(s.mean - mu) <= tol_mean, "%s: mean %.6g, expected %.6g +- %.2g", what,
          s.mean, mu, tol_mean);
    CHECK(fabs(s.var - v) <= tol_var, "%s: variance %.6g, expected %.6g +- %.2g", what, s.var,
          v, tol_var);
    double k = v > 0 ? s.m4 / (v * v) : 0;
    CHECK(fabs(k - kappa) <= tol_k, "%s: E x^4 / sigma^4 %.4g, expected %.4g +- %.2g", what,
          k, kappa, tol_k);
}

/* U[lo, hi): moments, hard range and extremes. */
static void check_uniform(const char *what, const float *w, size_t n, double lo, double hi)
{
    stats s = stats_of(w, n);
    double width = hi - lo;
    check_moments(what, s, (lo + hi) / 2, width * width / 12, KAPPA_UNIFORM, V4_UNIFORM);
    CHECK(s.min >= lo && s.max < hi, "%s: range [%.9g, %.9g] leaves [%.9g, %.9g)", what, s.min,
          s.max, lo, hi);
    double slack = 20.0 * width / (double)n;
    CHECK(s.min < lo + slack && s.max > hi - slack, "%s: extremes %.9g, %.9g too far inside",
          what, s.min, s.max);
}

/* N(mean, sd^2) truncated at 2 sd (kept sd_pre before truncation). */
static void check_truncated(const char *what, const float *w, size_t n, double mean,
                            double sd_pre)
{
    stats s = stats_of(w, n);
    double sd_post = sd_pre * TRUNC_STD;
    check_moments(what, s, mean, sd_post * sd_post, KAPPA_TRUNC, V4_TRUNC);
    /* the bounds exactly as the rule states them, in double */
    double lo = mean - 2.0 * sd_pre, hi = mean + 2.0 * sd_pre;
    CHECK(s.min >= lo && s.max <= hi, "%s: range [%.9g, %.9g] beyond 2 sigma [%.9g, %.9g]",
          what, s.min, s.max, lo, hi);
    CHECK(s.max > hi - 0.01 * sd_pre && s.min < lo + 0.01 * sd_pre,
          "%s: extremes %.9g, %.9g far from the cut at +-2 sigma", what, s.min, s.max);
}

/* N(mean, sd^2), untruncated. */
static void check_normal(const char *what, const float *w, size_t n, double mean, double sd)
{
    stats s = stats_of(w, n);
    check_moments(what, s, mean, sd * sd, KAPPA_NORMAL, V4_NORMAL);
    size_t beyond = 0;
    for (size_t i = 0; i < n; i++) beyond += fabs((double)w[i] - mean) > 2.0 * sd;
    double p = (double)beyond / (double)n, tol = 5.0 * sqrt(P_BEYOND_2SD / (double)n);
    CHECK(fabs(p - P_BEYOND_2SD) <= tol, "%s: fraction beyond 2 sigma %.5f, expected %.5f",
          what, p, P_BEYOND_2SD);
}

/* A variance-scaling draw with s = scale / n: all three distributions have variance s. */
static void check_vs(const char *what, const float *w, size_t n, double s, ds_distribution d)
{
    switch (d) {
    case DS_DIST_UNIFORM: check_uniform(what, w, n, -sqrt(3 * s), sqrt(3 * s)); break;
    case DS_DIST_UNTRUNCATED_NORMAL: check_normal(what, w, n, 0.0, sqrt(s)); break;
    case DS_DIST_TRUNCATED_NORMAL: check_truncated(what, w, n, 0.0, sqrt(s) / TRUNC_STD); break;
    }
}

/* ------------------------------------------------------------------------------------ */
/* constant initializers */

static void test_constants(void)
{
    float w[12 + 1];
    ds_rng r;
    ds_rng_seed(&r, 1);
    const struct {
        const char *spec;
        float expect;
    } cases[] = {
        {"zeros", 0.0f}, {"ones", 1.0f}, {"constant", 0.0f}, {"constant(0.5)", 0.5f},
        {"constant(value=-0.1)", -0.1f}, {"zero", 0.0f}, {"one", 1.0f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds_initializer init = parse_ok(cases[c].spec);
        for (int i = 0; i < 13; i++) w[i] = 7.0f;
        ds_rng before = r;
        CHECK_OK(ds_initializer_fill(&init, w, 3, 4, &r, NULL));
        int exact = 1;
        for (int i = 0; i < 12; i++) exact &= memcmp(&w[i], &cases[c].expect, sizeof(float)) == 0;
        CHECK(exact, "%s: kernel not exactly %g", cases[c].spec, (double)cases[c].expect);
        CHECK(w[12] == 7.0f, "%s: wrote past the kernel", cases[c].spec);
        CHECK(memcmp(before.s, r.s, sizeof r.s) == 0, "%s: consumed random numbers",
              cases[c].spec);
        /* a bias of 5 (fan_in = 0); no generator needed */
        for (int i = 0; i < 13; i++) w[i] = 7.0f;
        CHECK_OK(ds_initializer_fill(&init, w, 0, 5, NULL, NULL));
        exact = 1;
        for (int i = 0; i < 5; i++) exact &= memcmp(&w[i], &cases[c].expect, sizeof(float)) == 0;
        CHECK(exact && w[5] == 7.0f, "%s: bias of 5 wrong", cases[c].spec);
    }
}

/* ------------------------------------------------------------------------------------ */
/* random_uniform, random_normal, truncated_normal */

static void test_random_uniform(void)
{
    ds_initializer init = parse_ok("random_uniform");
    float *w = draw(&init, 4, 50000, N_DRAWS, 10);
    check_uniform("random_uniform default", w, N_DRAWS, -0.05, 0.05);
    free(w);
    init = parse_ok("uniform(minval=-0.1, maxval=0.3)");
    w = draw(&init, 7, 3, N_DRAWS, 11); /* the fans play no part */
    check_uniform("uniform(-0.1, 0.3)", w, N_DRAWS, -0.1, 0.3);
    free(w);
}

static void test_uniform_rounding(void)
{
    /* [1 - 1e-8, 1 + 1e-7) holds one float, 1: draws above 1 + 2^-24 round up to
     * 1 + 2^-23 >= maxval and must be moved down. [1 - 5e-8, 1 + 1e-8) also holds only 1:
     * draws below 1 - 2^-25 round down to 1 - 2^-24 < minval and must be moved up. */
    const char *specs[] = {"random_uniform(minval=0.99999999, maxval=1.0000001)",
                           "random_uniform(minval=0.99999995, maxval=1.00000001)"};
    for (int c = 0; c < 2; c++) {
        ds_initializer init = parse_ok(specs[c]);
        float *w = draw(&init, 1, 10000, 10000, 12);
        int all_one = 1;
        for (int i = 0; i < 10000; i++) all_one &= w[i] == 1.0f;
        CHECK(all_one, "%s: a value other than 1", specs[c]);
        free(w);
    }
    /* no float at all in the interval: refused */
    ds_initializer x;
    ds_error e = {0};
    CHECK(ds_initializer_parse("random_uniform(minval=1.00000001, maxval=1.00000002)", &x,
                               &e) == DS_ERR_ARG && strstr(e.message, "minval"),
          "empty float interval accepted: %s", e.message);
}

static void test_random_normal(void)
{
    ds_initializer init = parse_ok("random_normal(mean=1, stddev=2)");
    float *w = draw(&init, 4, 50000, N_DRAWS, 20);
    check_normal("random_normal(1, 2)", w, N_DRAWS, 1.0, 2.0);
    free(w);
    init = parse_ok("normal");
    w = draw(&init, 100, 2000, N_DRAWS, 21);
    check_normal("normal default", w, N_DRAWS, 0.0, 0.05);
    free(w);
}

static void test_truncated_normal(void)
{
    /* no 0.8796 correction: the std after truncation is 0.8796 stddev */
    ds_initializer init = parse_ok("truncated_normal(mean=0.5, stddev=0.1)");
    float *w = draw(&init, 4, 50000, N_DRAWS, 30);
    check_truncated("truncated_normal(0.5, 0.1)", w, N_DRAWS, 0.5, 0.1);
    free(w);
    init = parse_ok("truncated_normal");
    w = draw(&init, 3, 3, N_DRAWS, 31);
    check_truncated("truncated_normal default", w, N_DRAWS, 0.0, 0.05);
    free(w);
    /* mean 1, stddev 5.5e-8: the cut 1 + 1.1e-7 lies between the floats 1 and 1 + 2^-23,
     * so draws with z > 1.08 (about 12% of them) round beyond it and must be moved back */
    init = parse_ok("truncated_normal(mean=1, stddev=5.5e-8)");
    w = draw(&init, 1, 10000, 10000, 32);
    double lo = 1.0 - 2.0 * 5.5e-8, hi = 1.0 + 2.0 * 5.5e-8;
    int inside = 1, top = 0;
    for (int i = 0; i < 10000; i++) {
        inside &= (double)w[i] >= lo && (double)w[i] <= hi;
        top += w[i] == 1.0f;
    }
    CHECK(inside, "a value rounded beyond the 2 stddev cut");
    CHECK(top > 5000, "only %d of 10000 at 1", top);
    free(w);
}

/* ------------------------------------------------------------------------------------ */
/* variance scaling and its presets */

static void test_variance_scaling(void)
{
    /* kernel (3, 7): fan_in 3, fan_out 7, fan_avg 5; scale 1.5 */
    const char *modes[] = {"fan_in", "fan_out", "fan_avg"};
    const double fans[] = {3, 7, 5};
    const char *dists[] = {"truncated_normal", "untruncated_normal", "uniform"};
    const ds_distribution dist_of[] = {DS_DIST_TRUNCATED_NORMAL, DS_DIST_UNTRUNCATED_NORMAL,
                                       DS_DIST_UNIFORM};
    for (int m = 0; m < 3; m++)
        for (int d = 0; d < 3; d++) {
            char spec[128];
            snprintf(spec, sizeof spec, "variance_scaling(scale=1.5, mode=%s, distribution=%s)",
                     modes[m], dists[d]);
            ds_initializer init = parse_ok(spec);
            float *w = draw(&init, 3, 7, N_DRAWS, (uint64_t)(40 + 3 * m + d));
            check_vs(spec, w, N_DRAWS, 1.5 / fans[m], dist_of[d]);
            free(w);
        }
    /* the default: scale 1, fan_in, truncated normal */
    ds_initializer init = parse_ok("variance_scaling");
    float *w = draw(&init, 4, 50000, N_DRAWS, 49);
    check_vs("variance_scaling default", w, N_DRAWS, 1.0 / 4, DS_DIST_TRUNCATED_NORMAL);
    free(w);
}

/* Each preset is a variance_scaling call (keras: GlorotUniform etc.): written out here
 * independently of init.c's table. */
static const struct {
    const char *name;
    const char *vs; /* the same initializer as variance_scaling */
    double scale;
    int mode; /* 0 fan_in, 1 fan_out, 2 fan_avg */
    ds_distribution dist;
} presets[] = {
    {"glorot_uniform", "variance_scaling(1, fan_avg, uniform)", 1, 2, DS_DIST_UNIFORM},
    {"glorot_normal", "variance_scaling(1, fan_avg, truncated_normal)", 1, 2,
     DS_DIST_TRUNCATED_NORMAL},
    {"he_uniform", "variance_scaling(2, fan_in, uniform)", 2, 0, DS_DIST_UNIFORM},
    {"he_normal", "variance_scaling(2, fan_in, truncated_normal)", 2, 0,
     DS_DIST_TRUNCATED_NORMAL},
    {"lecun_uniform", "variance_scaling(1, fan_in, uniform)", 1, 0, DS_DIST_UNIFORM},
    {"lecun_normal", "variance_scaling(1, fan_in, normal)", 1, 0, DS_DIST_TRUNCATED_NORMAL},
    {"he_normal_untruncated", "variance_scaling(2, fan_in, untruncated_normal)", 2, 0,
     DS_DIST_UNTRUNCATED_NORMAL},
    {"glorot_normal_untruncated", "variance_scaling(1, fan_avg, untruncated_normal)", 1, 2,
     DS_DIST_UNTRUNCATED_NORMAL},
    {"lecun_normal_untruncated", "variance_scaling(1, fan_in, untruncated_normal)", 1, 0,
     DS_DIST_UNTRUNCATED_NORMAL},
};

static void test_presets(void)
{
    /* kernel (4, 3): fan_in 4, fan_avg 3.5 */
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        ds_initializer init = parse_ok(presets[p].name);
        double fan = presets[p].mode == 0 ? 4.0 : presets[p].mode == 1 ? 3.0 : 3.5;
        float *w = draw(&init, 4, 3, N_DRAWS, 50 + p);
        check_vs(presets[p].name, w, N_DRAWS, presets[p].scale / fan, presets[p].dist);
        /* byte-identical to the spelled-out variance_scaling */
        ds_initializer vs = parse_ok(presets[p].vs);
        float *v = draw(&vs, 4, 3, 1200, 50 + p);
        CHECK(memcmp(w, v, 1200 * sizeof *w) == 0, "%s differs from %s", presets[p].name,
              presets[p].vs);
        free(w);
        free(v);
    }
}

/* Worked numbers for the course's shapes. */
static void test_worked_numbers(void)
{
    /* banknotes Dense(4 -> 1): glorot_uniform limit sqrt(6/5) = 1.095445 */
    CHECK_CLOSE(sqrt(6.0 / 5.0), 1.095445, 1e-6, 0);
    ds_initializer init = parse_ok("glorot_uniform");
    float *w = draw(&init, 4, 1, N_DRAWS, 60);
    check_uniform("banknotes glorot_uniform", w, N_DRAWS, -1.095446, 1.095446);
    free(w);
    /* lecun_uniform limit sqrt(3/4) = 0.866025 */
    CHECK_CLOSE(sqrt(3.0 / 4.0), 0.866025, 1e-6, 0);
    init = parse_ok("lecun_uniform");
    w = draw(&init, 4, 1, N_DRAWS, 61);
    check_uniform("banknotes lecun_uniform", w, N_DRAWS, -0.866026, 0.866026);
    free(w);
    /* he_normal, fan_in 4: pre-truncation sigma sqrt(0.5) / 0.879626 = 0.803873, cut at
     * +-1.607746 (twice the rounded sigma; 2 * 0.80387239 = 1.6077448), std after
     * truncation sqrt(0.5) = 0.707107. fan_out plays no part, so one (4, 50000) kernel. */
    CHECK_CLOSE(sqrt(0.5) / TRUNC_STD, 0.803873, 1e-6, 0);
    init = parse_ok("he_normal");
    w = draw(&init, 4, 50000, N_DRAWS, 62);
    check_truncated("banknotes he_normal", w, N_DRAWS, 0.0, sqrt(0.5) / TRUNC_STD);
    stats s = stats_of(w, N_DRAWS);
    CHECK(s.max <= 1.607746 && s.min >= -1.607746, "he_normal(4) range [%g, %g]", s.min, s.max);
    CHECK(fabs(sqrt(s.var) - 0.707107) <= 5.0 * 0.707107 * sqrt((KAPPA_TRUNC - 1) / 4 / N_DRAWS),
          "he_normal(4) std %.6f, expected 0.707107", sqrt(s.var));
    free(w);
    /* wines Dense(13 -> 5, he_normal): sigma sqrt(2/13) / 0.879626 = 0.445908, std after
     * truncation 0.392232 (std error of a sample std: sigma sqrt((kappa - 1) / 4N)) */
    CHECK_CLOSE(sqrt(2.0 / 13.0) / TRUNC_STD, 0.445908, 1e-6, 0);
    w = draw(&init, 13, 5, N_DRAWS, 63);
    s = stats_of(w, N_DRAWS);
    check_truncated("wines he_normal", w, N_DRAWS, 0.0, sqrt(2.0 / 13.0) / TRUNC_STD);
    CHECK(fabs(sqrt(s.var) - 0.392232) <= 5.0 * 0.392232 * sqrt((KAPPA_TRUNC - 1) / 4 / N_DRAWS),
          "he_normal(13) std %.6f, expected 0.392232", sqrt(s.var));
    CHECK(s.max <= 2 * 0.445908 + 1e-6 && s.min >= -2 * 0.445908 - 1e-6,
          "he_normal(13) range [%g, %g]", s.min, s.max);
    free(w);
}

/* ------------------------------------------------------------------------------------ */
/* shapes: bias vectors, empty and bad shapes */

static void test_bias_rule(void)
{
    /* a bias of n values: fan_in = fan_out = n, so he_uniform's limit is sqrt(6 / n) and
     * glorot_uniform's sqrt(6 / 2n); exactly n values written */
    enum { N = N_DRAWS };
    float *w = malloc((N + 1) * sizeof *w);
    ds_rng r;
    ds_rng_seed(&r, 70);
    ds_initializer init = parse_ok("he_uniform");
    w[N] = 7.0f;
    CHECK_OK(ds_initializer_fill(&init, w, 0, N, &r, NULL));
    CHECK(w[N] == 7.0f, "bias fill wrote past n values");
    check_uniform("he_uniform bias", w, N, -sqrt(6.0 / N), sqrt(6.0 / N));
    init = parse_ok("glorot_uniform");
    CHECK_OK(ds_initializer_fill(&init, w, 0, N, &r, NULL));
    check_uniform("glorot_uniform bias", w, N, -sqrt(3.0 / N), sqrt(3.0 / N));
    init = parse_ok("variance_scaling(mode=fan_out, distribution=untruncated_normal)");
    CHECK_OK(ds_initializer_fill(&init, w, 0, N, &r, NULL));
    check_normal("variance_scaling fan_out bias", w, N, 0.0, sqrt(1.0 / N));
    free(w);

    /* small biases drawn many times: n = 3 gives he_normal sigma sqrt(2/3) / 0.8796 */
    init = parse_ok("he_normal");
    w = draw(&init, 0, 3, N_DRAWS, 71);
    check_truncated("he_normal bias of 3", w, N_DRAWS, 0.0, sqrt(2.0 / 3.0) / TRUNC_STD);
    free(w);
}

static void test_shapes(void)
{
    ds_rng r;
    ds_rng_seed(&r, 80);
    float w[4] = {7, 7, 7, 7};
    ds_error e = {0};
    ds_initializer orth = parse_ok("orthogonal"), id = parse_ok("identity");
    ds_initializer he = parse_ok("he_normal");
    CHECK(ds_initializer_fill(&orth, w, 0, 4, &r, &e) == DS_ERR_SHAPE,
          "orthogonal accepted a bias");
    CHECK(strstr(e.message, "orthogonal") != NULL, "message: %s", e.message);
    CHECK(ds_initializer_fill(&id, w, 0, 4, &r, &e) == DS_ERR_SHAPE, "identity accepted a bias");
    CHECK(ds_initializer_fill(&he, w, -1, 4, &r, &e) == DS_ERR_SHAPE, "negative fan_in");
    CHECK(ds_initializer_fill(&he, w, 2, -1, &r, &e) == DS_ERR_SHAPE, "negative fan_out");
    CHECK(w[0] == 7.0f, "a refused fill wrote");
    /* empty shapes: nothing to do, even without an array */
    CHECK_OK(ds_initializer_fill(&he, NULL, 3, 0, &r, NULL));
    CHECK_OK(ds_initializer_fill(&he, NULL, 0, 0, &r, NULL));
    CHECK_OK(ds_initializer_fill(&orth, NULL, 5, 0, &r, NULL));
    /* missing array or generator */
    CHECK(ds_initializer_fill(&he, NULL, 2, 2, &r, &e) == DS_ERR_ARG, "NULL array accepted");
    CHECK(ds_initializer_fill(&he, w, 2, 2, NULL, &e) == DS_ERR_ARG, "NULL rng accepted");
    CHECK(ds_initializer_fill(&orth, w, 2, 2, NULL, &e) == DS_ERR_ARG, "NULL rng accepted");
    CHECK_OK(ds_initializer_fill(&id, w, 2, 2, NULL, NULL));
    CHECK(ds_initializer_fill(NULL, w, 2, 2, &r, &e) == DS_ERR_ARG, "NULL initializer");
    /* fill checks its initializer first */
    ds_initializer bad = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
    bad.stddev = -1;
    CHECK(ds_initializer_fill(&bad, w, 2, 2, &r, &e) == DS_ERR_ARG, "stddev -1 filled");
}

/* ------------------------------------------------------------------------------------ */
/* orthogonal and identity */

/* max |G - gain^2 I| over the Gram matrix of the columns (tall) or rows (wide) of w. */
static double gram_error(const float *w, int rows, int cols, double gain)
{
    int tall = rows >= cols, k = tall ? cols : rows, len = tall ? rows : cols;
    double worst = 0.0;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double dot = 0.0;
            for (int t = 0; t < len; t++) {
                double x = tall ? (double)w[t * cols + a] : (double)w[a * cols + t];
                double y = tall ? (double)w[t * cols + b] : (double)w[b * cols + t];
                dot += x * y;
            }
            double err = fabs(dot - (a == b ? gain * gain : 0.0));
            if (err > worst) worst = err;
        }
    return worst;
}

static void test_orthogonal(void)
{
    const int shapes[][2] = {{50, 20}, {20, 50}, {30, 30}, {100, 1}, {1, 100}, {1, 1}, {7, 6}};
    const double gains[] = {1.0, 2.0, -0.5};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int g = 0; g < 3; g++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            char spec[64];
            snprintf(spec, sizeof spec, "orthogonal(gain=%g)", gains[g]);
            ds_initializer init = parse_ok(spec);
            float *w = malloc((size_t)rows * cols * sizeof *w);
            ds_rng r = ds_rng_split(90, s * 3 + g);
            CHECK_OK(ds_initializer_fill(&init, w, rows, cols, &r, NULL));
            /* float rounding of each entry (relative 6e-8) over <= 100 terms */
            double err = gram_error(w, rows, cols, gains[g]);
            CHECK(err <= 1e-5 * gains[g] * gains[g], "%s (%d, %d): |Q^T Q - gain^2 I| = %g",
                  spec, rows, cols, err);
            free(w);
        }
    /* The sign correction makes Q Haar-distributed: W[0][0] is the first coordinate of a
     * uniform unit vector in R^5, so it is positive half the time, has mean 0 and
     * variance 1/5. Householder without the correction always gives W[0][0] < 0. */
    const int dims[][2] = {{5, 3}, {3, 5}};
    for (int d = 0; d < 2; d++) {
        ds_initializer init = parse_ok("orthogonal");
        enum { T = 20000 };
        float *w = draw(&init, dims[d][0], dims[d][1], (size_t)T * 15, 95 + d);
        double pos = 0, sum = 0;
        for (int t = 0; t < T; t++) {
            double x = (double)w[(size_t)t * 15];
            pos += x > 0;
            sum += x;
        }
        CHECK(fabs(pos / T - 0.5) <= 5.0 * sqrt(0.25 / T), "(%d, %d): W[0][0] > 0 in %.4f",
              dims[d][0], dims[d][1], pos / T);
        CHECK(fabs(sum / T) <= 5.0 * sqrt(0.2 / T), "(%d, %d): mean W[0][0] = %.4f", dims[d][0],
              dims[d][1], sum / T);
        free(w);
    }
}

static void test_identity(void)
{
    const int shapes[][2] = {{3, 5}, {5, 3}, {4, 4}};
    ds_initializer init = parse_ok("identity(gain=0.5)");
    for (int s = 0; s < 3; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        float w[25];
        CHECK_OK(ds_initializer_fill(&init, w, rows, cols, NULL, NULL));
        int exact = 1;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) exact &= w[i * cols + j] == (i == j ? 0.5f : 0.0f);
        CHECK(exact, "identity (%d, %d) not exact", rows, cols);
    }
}

/* ------------------------------------------------------------------------------------ */
/* determinism */

static void test_determinism(void)
{
    for (int k = 0; k < DS_INIT_COUNT; k++) {
        ds_initializer init = ds_initializer_defaults((ds_init_kind)k);
        const char *name = ds_init_kind_name((ds_init_kind)k);
        enum { R = 40, C = 30 };
        float a[R * C], b[R * C], c[R * C];
        ds_rng ra = ds_rng_split(100, 1), rb = ds_rng_split(100, 1), rc = ds_rng_split(101, 1);
        CHECK_OK(ds_initializer_fill(&init, a, R, C, &ra, NULL));
        CHECK_OK(ds_initializer_fill(&init, b, R, C, &rb, NULL));
        CHECK_OK(ds_initializer_fill(&init, c, R, C, &rc, NULL));
        CHECK(memcmp(a, b, sizeof a) == 0, "%s: same seed, different bytes", name);
        int random = k != DS_INIT_ZEROS && k != DS_INIT_ONES && k != DS_INIT_CONSTANT &&
                     k != DS_INIT_IDENTITY;
        int same = 0;
        for (int i = 0; i < R * C; i++) same += a[i] == c[i];
        if (random)
            CHECK(same < R * C / 100, "%s: another seed repeats %d of %d values", name, same,
                  R * C);
        else
            CHECK(same == R * C, "%s: deterministic initializer varies with the seed", name);
    }
}

/* ------------------------------------------------------------------------------------ */
/* names, parsing and printing */

static void test_names(void)
{
    for (int k = 0; k < DS_INIT_COUNT; k++) {
        ds_init_kind back = DS_INIT_COUNT;
        CHECK(ds_init_kind_parse(ds_init_kind_name((ds_init_kind)k), &back) == DS_OK &&
                  back == (ds_init_kind)k,
              "kind %d: name '%s' does not parse back", k, ds_init_kind_name((ds_init_kind)k));
    }
    const struct {
        const char *alias;
        ds_init_kind kind;
    } aliases[] = {
        {"zero", DS_INIT_ZEROS},          {"Zeros", DS_INIT_ZEROS},
        {"one", DS_INIT_ONES},            {"Ones", DS_INIT_ONES},
        {"Constant", DS_INIT_CONSTANT},   {"uniform", DS_INIT_RANDOM_UNIFORM},
        {"RandomUniform", DS_INIT_RANDOM_UNIFORM}, {"normal", DS_INIT_RANDOM_NORMAL},
        {"RandomNormal", DS_INIT_RANDOM_NORMAL}, {"TruncatedNormal", DS_INIT_TRUNCATED_NORMAL},
        {"VarianceScaling", DS_INIT_VARIANCE_SCALING},
        {"GlorotUniform", DS_INIT_GLOROT_UNIFORM}, {"xavier_uniform", DS_INIT_GLOROT_UNIFORM},
        {"GlorotNormal", DS_INIT_GLOROT_NORMAL}, {"HeNormal", DS_INIT_HE_NORMAL},
        {"HeUniform", DS_INIT_HE_UNIFORM}, {"LecunNormal", DS_INIT_LECUN_NORMAL},
        {"LecunUniform", DS_INIT_LECUN_UNIFORM}, {"Orthogonal", DS_INIT_ORTHOGONAL},
        {"Identity", DS_INIT_IDENTITY},   {"HE_NORMAL", DS_INIT_HE_NORMAL},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        ds_init_kind k = DS_INIT_COUNT;
        CHECK(ds_init_kind_parse(aliases[i].alias, &k) == DS_OK && k == aliases[i].kind,
              "'%s' parsed as %d", aliases[i].alias, (int)k);
    }
    /* PyTorch names whose meaning differs from the Keras initializer they resemble */
    const char *refused[] = {"kaiming_normal", "kaiming_uniform", "xavier_normal", "",
                             "he-normal", "glorot"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ds_init_kind k;
        CHECK(ds_init_kind_parse(refused[i], &k) == DS_ERR_ARG, "'%s' accepted", refused[i]);
    }
    ds_init_kind k;
    CHECK(ds_init_kind_parse(NULL, &k) == DS_ERR_ARG, "NULL accepted");
    CHECK(strcmp(ds_init_kind_name(DS_INIT_COUNT), "unknown") == 0, "name of DS_INIT_COUNT");
}

static int same_initializer(const ds_initializer *a, const ds_initializer *b)
{
    return a->kind == b->kind && a->value == b->value && a->minval == b->minval &&
           a->maxval == b->maxval && a->mean == b->mean && a->stddev == b->stddev &&
           a->scale == b->scale && a->mode == b->mode && a->distribution == b->distribution &&
           a->gain == b->gain;
}

static void test_str_round_trip(void)
{
    const struct {
        const char *spec, *canonical;
    } cases[] = {
        {"he_normal", "he_normal"},
        {"HeNormal()", "he_normal"},
        {"xavier_uniform", "glorot_uniform"},
        {"zero", "zeros"},
        {"uniform", "random_uniform(minval=-0.05, maxval=0.05)"},
        {"random_uniform(minval=-0.1, maxval=0.1)", "random_uniform(minval=-0.1, maxval=0.1)"},
        {"random_uniform(-1, 2)", "random_uniform(minval=-1, maxval=2)"},
        {"normal", "random_normal(mean=0, stddev=0.05)"},
        {"truncated_normal(stddev=0.1)", "truncated_normal(mean=0, stddev=0.1)"},
        {"constant(0.5)", "constant(value=0.5)"},
        {"constant(value=0.30000000000000004)", "constant(value=0.30000000000000004)"},
        {"constant(1e-300)", "constant(value=1e-300)"},
        {"variance_scaling(scale=2, mode=fan_avg, distribution=uniform)",
         "variance_scaling(scale=2, mode=fan_avg, distribution=uniform)"},
        {"variance_scaling",
         "variance_scaling(scale=1, mode=fan_in, distribution=truncated_normal)"},
        {"VarianceScaling(2.0, 'fan_out', \"untruncated_normal\")",
         "variance_scaling(scale=2, mode=fan_out, distribution=untruncated_normal)"},
        {"variance_scaling(distribution=normal)",
         "variance_scaling(scale=1, mode=fan_in, distribution=truncated_normal)"},
        {"variance_scaling(mode=FAN_AVG)",
         "variance_scaling(scale=1, mode=fan_avg, distribution=truncated_normal)"},
        {"orthogonal(gain=2)", "orthogonal(gain=2)"},
        {"orthogonal", "orthogonal(gain=1)"},
        {"identity(0.5)", "identity(gain=0.5)"},
        {"he_normal_untruncated", "he_normal_untruncated"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds_initializer a = parse_ok(cases[c].spec);
        char buf[256], buf2[256];
        ds_initializer_str(&a, buf, sizeof buf);
        CHECK(strcmp(buf, cases[c].canonical) == 0, "'%s' printed as '%s', expected '%s'",
              cases[c].spec, buf, cases[c].canonical);
        ds_initializer b = parse_ok(buf);
        CHECK(same_initializer(&a, &b), "'%s' does not round-trip", buf);
        CHECK(strcmp(ds_initializer_str(&b, buf2, sizeof buf2), buf) == 0, "'%s' then '%s'",
              buf, buf2);
    }
    /* every kind's defaults round-trip */
    for (int k = 0; k < DS_INIT_COUNT; k++) {
        ds_initializer a = ds_initializer_defaults((ds_init_kind)k), b;
        char buf[256];
        ds_initializer_str(&a, buf, sizeof buf);
        b = parse_ok(buf);
        CHECK(same_initializer(&a, &b), "defaults of %s do not round-trip ('%s')",
              ds_init_kind_name((ds_init_kind)k), buf);
    }
    /* awkward numbers round-trip exactly */
    ds_initializer a = ds_initializer_defaults(DS_INIT_RANDOM_UNIFORM), b;
    a.minval = -1.0 / 3.0;
    a.maxval = 0.1 + 0.2;
    char buf[256];
    b = parse_ok(ds_initializer_str(&a, buf, sizeof buf));
    CHECK(same_initializer(&a, &b), "'%s' does not round-trip", buf);
    /* a small buffer is truncated, never overrun */
    char small[8];
    memset(small, 'x', sizeof small);
    ds_initializer_str(&a, small, 6);
    CHECK(strlen(small) == 5 && small[6] == 'x', "small buffer: '%.8s'", small);
}

static void test_bad_specs(void)
{
    const struct {
        const char *spec;
        const char *words[2]; /* the message must name these (initializer, argument) */
    } cases[] = {
        {"random_uniform(minval=0.1, maxval=-0.1)", {"random_uniform", "minval"}},
        {"random_uniform(minval=0.1, maxval=0.1)", {"random_uniform", "maxval"}},
        {"random_uniform(minval=x)", {"random_uniform", "minval"}},
        {"random_normal(stdev=1)", {"random_normal", "stdev"}},
        {"truncated_normal(stddev=-1)", {"truncated_normal", "stddev"}},
        {"random_normal(mean=1e39)", {"random_normal", "mean"}},
        {"variance_scaling(scale=0)", {"variance_scaling", "scale"}},
        {"variance_scaling(scale=-2)", {"variance_scaling", "scale"}},
        {"variance_scaling(mode=fan_sideways)", {"variance_scaling", "mode"}},
        {"variance_scaling(distribution=cauchy)", {"variance_scaling", "distribution"}},
        {"variance_scaling(1, fan_in, uniform, 4)", {"variance_scaling", "positional"}},
        {"constant(abc)", {"constant", "value"}},
        {"constant(1e39)", {"constant", "value"}},
        {"orthogonal(gain=inf)", {"orthogonal", "gain"}},
        {"identity(gain=nan)", {"identity", "gain"}},
        {"he_normal(scale=2)", {"he_normal", "scale"}},
        {"glorot_uniform(seed=1)", {"glorot_uniform", "seed"}},
        {"random_uniform(seed=3)", {"random_uniform", "seed"}},
        {"zeros(1)", {"zeros", "positional"}},
        {"kaiming_normal", {"kaiming_normal", "he_normal_untruncated"}},
        {"kaiming_uniform", {"kaiming_uniform", "he_uniform"}},
        {"xavier_normal", {"xavier_normal", "glorot_normal_untruncated"}},
        {"nonsense", {"nonsense", "glorot_uniform"}},
        {"he_normal(", {"initializer", "he_normal"}},
        {"", {"initializer", ""}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds_initializer out = ds_initializer_defaults(DS_INIT_GLOROT_UNIFORM);
        out.gain = 123.0;
        ds_error e = {0};
        ds_status st = ds_initializer_parse(cases[c].spec, &out, &e);
        CHECK(st == DS_ERR_ARG && e.status == DS_ERR_ARG, "'%s': status %d", cases[c].spec,
              (int)st);
        for (int w = 0; w < 2; w++)
            CHECK(strstr(e.message, cases[c].words[w]) != NULL,
                  "'%s': message '%s' does not name '%s'", cases[c].spec, e.message,
                  cases[c].words[w]);
        CHECK(out.kind == DS_INIT_GLOROT_UNIFORM && out.gain == 123.0,
              "'%s': failed parse changed the output", cases[c].spec);
    }
    ds_initializer out;
    CHECK(ds_initializer_parse(NULL, &out, NULL) == DS_ERR_ARG, "NULL spec accepted");
    CHECK(ds_initializer_parse("he_normal(x=1)", &out, NULL) == DS_ERR_ARG, "x=1 accepted");
}

static void test_check(void)
{
    ds_error e = {0};
    for (int k = 0; k < DS_INIT_COUNT; k++) {
        ds_initializer x = ds_initializer_defaults((ds_init_kind)k);
        CHECK(ds_initializer_check(&x, &e) == DS_OK, "defaults of %s: %s",
              ds_init_kind_name((ds_init_kind)k), e.message);
    }
    ds_initializer x = ds_initializer_defaults(DS_INIT_COUNT);
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG, "kind DS_INIT_COUNT accepted");
    CHECK(ds_initializer_check(NULL, &e) == DS_ERR_ARG, "NULL accepted");

    x = ds_initializer_defaults(DS_INIT_VARIANCE_SCALING);
    x.mode = (ds_fan_mode)7;
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG && strstr(e.message, "mode"),
          "mode 7: %s", e.message);
    x = ds_initializer_defaults(DS_INIT_VARIANCE_SCALING);
    x.distribution = (ds_distribution)-1;
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG && strstr(e.message, "distribution"),
          "distribution -1: %s", e.message);
    x = ds_initializer_defaults(DS_INIT_VARIANCE_SCALING);
    x.scale = 1e200;
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG && strstr(e.message, "scale"),
          "scale 1e200: %s", e.message);
    x = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
    x.stddev = (double)NAN;
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG && strstr(e.message, "stddev"),
          "stddev NaN: %s", e.message);
    x = ds_initializer_defaults(DS_INIT_RANDOM_UNIFORM);
    x.minval = -HUGE_VAL;
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG && strstr(e.message, "minval"),
          "minval -inf: %s", e.message);
    x = ds_initializer_defaults(DS_INIT_ORTHOGONAL);
    x.gain = HUGE_VAL;
    CHECK(ds_initializer_check(&x, &e) == DS_ERR_ARG && strstr(e.message, "gain"),
          "gain inf: %s", e.message);
    /* fields of other kinds are ignored */
    x = ds_initializer_defaults(DS_INIT_HE_NORMAL);
    x.stddev = -1;
    x.scale = -1;
    CHECK(ds_initializer_check(&x, &e) == DS_OK, "he_normal judged by unrelated fields");
    /* stddev 0 is allowed: every value is the mean */
    x = ds_initializer_defaults(DS_INIT_TRUNCATED_NORMAL);
    x.mean = 0.25;
    x.stddev = 0;
    float w[6];
    ds_rng r;
    ds_rng_seed(&r, 5);
    CHECK_OK(ds_initializer_fill(&x, w, 2, 3, &r, NULL));
    int all = 1;
    for (int i = 0; i < 6; i++) all &= w[i] == 0.25f;
    CHECK(all, "stddev 0 does not give the mean");
}

int main(void)
{
    RUN(test_constants);
    RUN(test_random_uniform);
    RUN(test_uniform_rounding);
    RUN(test_random_normal);
    RUN(test_truncated_normal);
    RUN(test_variance_scaling);
    RUN(test_presets);
    RUN(test_worked_numbers);
    RUN(test_bias_rule);
    RUN(test_shapes);
    RUN(test_orthogonal);
    RUN(test_identity);
    RUN(test_determinism);
    RUN(test_names);
    RUN(test_str_round_trip);
    RUN(test_bad_specs);
    RUN(test_check);
    return HARNESS_DONE();
}
