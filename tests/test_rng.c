/*
 * test_rng.c - tests of src/rng.c: golden values from the independent Python
 * implementation (tests/ref/rng_ref.py -> tests/ref/rng_golden.h) and the published
 * xoshiro256** vector, determinism, stream independence, and statistical checks of the
 * uniform, normal, bounded-integer and permutation draws.
 *
 * Statistical tolerances. Every check uses a fixed seed, so it is deterministic; the
 * bounds are chosen so that a correct generator passes for all but a tiny fraction of
 * seeds. A sample mean of N values with variance v passes within 5 standard errors,
 * 5 sqrt(v / N) (two-sided chance of failing 5.7e-7 under the normal approximation). A
 * sample moment E[x^k] is checked the same way, with v = E[x^2k] - E[x^k]^2. Chi-square
 * statistics with df <= 9 must stay below 50 (upper tail below 1e-7 for df <= 9).
 */
#include "../src/internal.h"
#include "harness.h"
#include "ref/rng_golden.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_BIG 1000000

/* |m - expect| <= 5 sqrt(var / n), reported with its name */
#define CHECK_MOMENT(name, m, expect, var, n)                                              \
    CHECK(fabs((m) - (expect)) <= 5.0 * sqrt((var) / (double)(n)),                          \
          "%s = %.6g, expected %.6g +- %.3g", name, (m), (double)(expect),                  \
          5.0 * sqrt((var) / (double)(n)))

static double chi_square(const long *counts, int k, long n)
{
    double e = (double)n / k, chi = 0.0;
    for (int i = 0; i < k; i++) chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
    return chi;
}

/* ------------------------------------------------------------------------------------ */
/* golden values */

static void test_published_vector(void)
{
    ds_rng r = {{1, 2, 3, 4}, 0.0, 0};
    for (int i = 0; i < 10; i++) {
        uint64_t x = ds_rng_u64(&r);
        CHECK(x == golden_xoshiro_1234[i], "output %d = %016llx", i, (unsigned long long)x);
    }
}

static void test_golden_u64(void)
{
    ds_rng r;
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 8; i++) {
        uint64_t x = ds_rng_u64(&r);
        CHECK(x == golden_seed42_u64[i], "seed 42 output %d = %016llx", i,
              (unsigned long long)x);
    }
    ds_rng_seed(&r, 0);
    for (int i = 0; i < 4; i++) {
        uint64_t x = ds_rng_u64(&r);
        CHECK(x == golden_seed0_u64[i], "seed 0 output %d = %016llx", i, (unsigned long long)x);
    }
    for (int a = 0; a < 4; a++) {
        uint64_t x = ds_seed_mix(42, (uint64_t)a);
        CHECK(x == golden_seed_mix42[a], "ds_seed_mix(42, %d) = %016llx", a,
              (unsigned long long)x);
    }
    ds_rng r0 = ds_rng_split(42, 0), r1 = ds_rng_split(42, 1);
    for (int i = 0; i < 4; i++) {
        uint64_t x0 = ds_rng_u64(&r0), x1 = ds_rng_u64(&r1);
        CHECK(x0 == golden_split42_0_u64[i], "split(42, 0) output %d = %016llx", i,
              (unsigned long long)x0);
        CHECK(x1 == golden_split42_1_u64[i], "split(42, 1) output %d = %016llx", i,
              (unsigned long long)x1);
    }
}

static void test_golden_derived(void)
{
    ds_rng r;
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 4; i++) {
        double u = ds_rng_uniform(&r);
        CHECK(u == golden_seed42_uniform[i], "uniform %d = %a, expected %a", i, u,
              golden_seed42_uniform[i]);
    }
    /* libm's log/cos/sin may differ in the last bit between C libraries */
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 6; i++)
        CHECK_CLOSE(ds_rng_normal(&r), golden_seed42_normal[i], 1e-14, 1e-13);
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 16; i++) {
        uint64_t x = ds_rng_below(&r, 10);
        CHECK(x == golden_seed42_below10[i], "below(10) draw %d = %llu", i,
              (unsigned long long)x);
    }
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 8; i++) {
        uint64_t x = ds_rng_below(&r, UINT64_C(3) << 30);
        CHECK(x == golden_seed42_below_mid[i], "below(3*2^30) draw %d = %llu", i,
              (unsigned long long)x);
    }
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 4; i++) {
        uint64_t x = ds_rng_below(&r, UINT64_C(1) << 32);
        CHECK(x == golden_seed42_below_2_32[i], "below(2^32) draw %d = %llu", i,
              (unsigned long long)x);
    }
    ds_rng_seed(&r, 42);
    for (int i = 0; i < 4; i++) {
        uint64_t x = ds_rng_below(&r, UINT64_C(3) << 62);
        CHECK(x == golden_seed42_below_big[i], "below(3*2^62) draw %d = %016llx", i,
              (unsigned long long)x);
    }
    ds_rng_seed(&r, 42);
    int perm[10];
    ds_rng_permutation(&r, perm, 10);
    for (int i = 0; i < 10; i++)
        CHECK(perm[i] == golden_seed42_perm10[i], "perm[%d] = %d", i, perm[i]);
}

/* ------------------------------------------------------------------------------------ */
/* determinism and streams */

static void test_same_seed_same_sequence(void)
{
    ds_rng a, b;
    ds_rng_seed(&a, 12345);
    ds_rng_seed(&b, 12345);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= ds_rng_u64(&a) == ds_rng_u64(&b);
    CHECK(same, "two generators seeded with 12345 diverged");
    /* a copy forks the stream, including a pending Box-Muller spare */
    (void)ds_rng_normal(&a);
    ds_rng c = a;
    CHECK(ds_rng_normal(&a) == ds_rng_normal(&c), "a copied generator gave another spare");
    CHECK(ds_rng_u64(&a) == ds_rng_u64(&c), "a copied generator diverged");
    /* split is a pure function of (seed, stream) */
    ds_rng s1 = ds_rng_split(7, 3), s2 = ds_rng_split(7, 3);
    CHECK(memcmp(s1.s, s2.s, sizeof s1.s) == 0, "split(7, 3) twice gave two states");
    /* reseeding clears the spare */
    ds_rng_seed(&a, 1);
    (void)ds_rng_normal(&a);
    ds_rng_seed(&a, 1);
    ds_rng_seed(&b, 1);
    CHECK(ds_rng_normal(&a) == ds_rng_normal(&b), "reseeding kept a stale spare");
}

/* Pearson correlation of the uniforms of two generators over n draws. */
static double correlation(ds_rng a, ds_rng b, int n)
{
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (int i = 0; i < n; i++) {
        double x = ds_rng_uniform(&a), y = ds_rng_uniform(&b);
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    double ca = saa - sa * sa / n, cb = sbb - sb * sb / n, cab = sab - sa * sb / n;
    return cab / sqrt(ca * cb);
}

static void test_streams_differ(void)
{
    /* no two of these (seed, stream) pairs may share a first output */
    const uint64_t seeds[] = {0, 1, 2, 42, 43};
    uint64_t first[5][4];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) {
            ds_rng r = ds_rng_split(seeds[i], (uint64_t)j);
            first[i][j] = ds_rng_u64(&r);
        }
    int distinct = 1;
    for (int p = 0; p < 20; p++)
        for (int q = p + 1; q < 20; q++) distinct &= first[p / 4][p % 4] != first[q / 4][q % 4];
    CHECK(distinct, "two (seed, stream) pairs gave the same first output");

    /* neighbouring streams and seeds are uncorrelated: under independence the sample
     * correlation of n pairs has standard error 1 / sqrt(n) */
    const int n = N_BIG;
    double lim = 5.0 / sqrt((double)n);
    double r01 = correlation(ds_rng_split(42, 0), ds_rng_split(42, 1), n);
    double r4243 = correlation(ds_rng_split(42, 0), ds_rng_split(43, 0), n);
    ds_rng a, b;
    ds_rng_seed(&a, 42);
    ds_rng_seed(&b, 43);
    double rs = correlation(a, b, n);
    CHECK(fabs(r01) < lim, "corr(split(42,0), split(42,1)) = %g", r01);
    CHECK(fabs(r4243) < lim, "corr(split(42,0), split(43,0)) = %g", r4243);
    CHECK(fabs(rs) < lim, "corr(seed 42, seed 43) = %g", rs);
    /* and the lagged correlation within one stream */
    ds_rng c = ds_rng_split(5, 0), d = c;
    (void)ds_rng_uniform(&d);
    double lag = correlation(c, d, n);
    CHECK(fabs(lag) < lim, "lag-1 autocorrelation = %g", lag);
}

/* ------------------------------------------------------------------------------------ */
/* distributions */

static void test_uniform(void)
{
    ds_rng r;
    ds_rng_seed(&r, 2024);
    const int n = N_BIG;
    double s1 = 0, s2 = 0, lo = 1, hi = 0;
    long odd = 0, bins[10] = {0};
    int in_range = 1, grid = 1;
    for (int i = 0; i < n; i++) {
        double u = ds_rng_uniform(&r);
        in_range &= u >= 0.0 && u < 1.0;
        double k = u * 9007199254740992.0; /* u * 2^53 must be an integer */
        grid &= k == floor(k);
        odd += (long)fmod(k, 2.0);
        bins[(int)(u * 10)]++;
        s1 += u;
        s2 += u * u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    CHECK(in_range, "a uniform draw left [0, 1)");
    CHECK(grid, "a uniform draw is not a multiple of 2^-53");
    /* U[0,1): E u = 1/2, E u^2 = 1/3, Var u = 1/12, Var u^2 = 1/5 - 1/9 = 4/45 */
    CHECK_MOMENT("mean", s1 / n, 0.5, 1.0 / 12, n);
    CHECK_MOMENT("E u^2", s2 / n, 1.0 / 3, 4.0 / 45, n);
    /* the lowest bit of the 53 is a fair coin */
    CHECK_MOMENT("low bit", (double)odd / n, 0.5, 0.25, n);
    double chi = chi_square(bins, 10, n);
    CHECK(chi < 50, "chi-square over 10 bins = %g", chi);
    /* P(min > 20 / n) = (1 - 20/n)^n ~ e^-20 */
    CHECK(lo < 20.0 / n && hi > 1 - 20.0 / n, "extremes %g, %g", lo, hi);
}

static void test_uniform_extremes(void)
{
    /* xoshiro256** outputs 0 when s1 == 0: the state {1, 0, 0, 0} yields 0 first */
    ds_rng r = {{1, 0, 0, 0}, 0.0, 0};
    CHECK(ds_rng_uniform(&r) == 0.0, "uniform of output 0 is not 0");
    /* 1 - u1 = 1 then: Box-Muller must give r = 0, not NaN */
    ds_rng z = {{1, 0, 0, 0}, 0.0, 0};
    double x = ds_rng_normal(&z), y = ds_rng_normal(&z);
    CHECK(x == 0.0 && y == 0.0, "normal at u1 = 0: %g %g", x, y);
}

static void test_normal(void)
{
    ds_rng r;
    ds_rng_seed(&r, 99);
    const int n = N_BIG;
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, amax = 0;
    long beyond2 = 0;
    int finite = 1;
    for (int i = 0; i < n; i++) {
        double z = ds_rng_normal(&r);
        finite &= isfinite(z);
        s1 += z;
        s2 += z * z;
        s3 += z * z * z;
        s4 += z * z * z * z;
        if (fabs(z) > amax) amax = fabs(z);
        beyond2 += fabs(z) > 2.0;
    }
    CHECK(finite, "a normal draw is not finite");
    /* N(0,1) moments E z^k = 0, 1, 0, 3, (5) 0, (6) 15, (8) 105: Var z = 1, Var z^2 = 2,
     * Var z^3 = 15, Var z^4 = 105 - 9 = 96 */
    CHECK_MOMENT("mean", s1 / n, 0.0, 1.0, n);
    CHECK_MOMENT("E z^2", s2 / n, 1.0, 2.0, n);
    CHECK_MOMENT("E z^3", s3 / n, 0.0, 15.0, n);
    CHECK_MOMENT("E z^4", s4 / n, 3.0, 96.0, n);
    /* P(|z| > 2) = 0.04550026 */
    const double p2 = 0.0455002638963584;
    CHECK_MOMENT("P(|z| > 2)", (double)beyond2 / n, p2, p2 * (1 - p2), n);
    /* 53-bit uniforms bound |z| by sqrt(2 * 53 ln 2) = 8.57; the largest of 10^6 normals
     * is beyond 4 with probability 1 - (1 - 6.3e-5)^(10^6) ~ 1 */
    CHECK(amax < 8.58 && amax > 4.0, "max |z| = %g", amax);
}

static void test_normal_pairs(void)
{
    /* both Box-Muller outputs are used: two normals take exactly two u64 draws */
    ds_rng a, b;
    ds_rng_seed(&a, 3);
    ds_rng_seed(&b, 3);
    (void)ds_rng_normal(&a);
    (void)ds_rng_normal(&a);
    (void)ds_rng_u64(&b);
    (void)ds_rng_u64(&b);
    CHECK(memcmp(a.s, b.s, sizeof a.s) == 0 && !a.has_spare, "a pair used other than 2 draws");
    /* consecutive outputs (cos then sin of one pair) are uncorrelated */
    ds_rng_seed(&a, 4);
    const int n = N_BIG / 2;
    double sxy = 0;
    for (int i = 0; i < n; i++) {
        double x = ds_rng_normal(&a), y = ds_rng_normal(&a);
        sxy += x * y;
    }
    CHECK_MOMENT("E[x y] within a pair", sxy / n, 0.0, 1.0, n);
}

static void test_below(void)
{
    ds_rng r;
    ds_rng_seed(&r, 11);
    CHECK(ds_rng_below(&r, 1) == 0, "below(1) != 0");
    CHECK(ds_rng_below(&r, 0) == 0, "below(0) != 0");
    const int ks[] = {2, 3, 5, 7, 10};
    for (int t = 0; t < 5; t++) {
        int k = ks[t];
        long counts[10] = {0};
        const long n = N_BIG;
        int ok = 1;
        for (long i = 0; i < n; i++) {
            uint64_t x = ds_rng_below(&r, (uint64_t)k);
            ok &= x < (uint64_t)k;
            if (x < (uint64_t)k) counts[x]++;
        }
        CHECK(ok, "below(%d) returned a value >= %d", k, k);
        double chi = chi_square(counts, k, n);
        CHECK(chi < 50, "below(%d): chi-square %g with %d df", k, chi, k - 1);
    }
    /* n = 3 * 2^62: plain `x % n` would land below 2^62 half the time (those residues
     * have two preimages), an unbiased draw one third of the time */
    const uint64_t big = UINT64_C(3) << 62;
    long low = 0;
    const long n = N_BIG;
    int ok = 1;
    for (long i = 0; i < n; i++) {
        uint64_t x = ds_rng_below(&r, big);
        ok &= x < big;
        low += x < (UINT64_C(1) << 62);
    }
    CHECK(ok, "below(3*2^62) out of range");
    CHECK_MOMENT("P(below(3*2^62) < 2^62)", (double)low / n, 1.0 / 3, 2.0 / 9, n);
    /* the largest n */
    uint64_t top = UINT64_MAX;
    ok = 1;
    for (int i = 0; i < 1000; i++) ok &= ds_rng_below(&r, top) < top;
    CHECK(ok, "below(2^64 - 1) out of range");
}

static void test_permutation(void)
{
    ds_rng r;
    ds_rng_seed(&r, 77);
    ds_rng_permutation(&r, NULL, 0); /* nothing to do, must not touch the pointer */
    int one = -1;
    ds_rng_permutation(&r, &one, 1);
    CHECK(one == 0, "permutation of 1 = %d", one);

    enum { M = 1000 };
    static int perm[M];
    static char seen[M];
    ds_rng_permutation(&r, perm, M);
    int ok = 1, moved = 0;
    for (int i = 0; i < M; i++) {
        ok &= perm[i] >= 0 && perm[i] < M && !seen[perm[i]];
        if (perm[i] >= 0 && perm[i] < M) seen[perm[i]] = 1;
        moved += perm[i] != i;
    }
    CHECK(ok, "not a permutation of 0..%d", M - 1);
    CHECK(moved > M / 2, "only %d of %d moved", moved, M);

    /* n = 5: every value equally likely at every position (chi-square, 4 df each) and all
     * 120 orderings equally likely (119 df: mean 119, sd 15.4; 240 is 7.8 sd out) */
    const long n = 200000;
    long pos[5][5] = {{0}};
    static long orders[3125];
    int p5[5];
    for (long i = 0; i < n; i++) {
        ds_rng_permutation(&r, p5, 5);
        int code = 0;
        for (int j = 0; j < 5; j++) {
            pos[j][p5[j]]++;
            code = code * 5 + p5[j];
        }
        orders[code]++;
    }
    for (int j = 0; j < 5; j++) {
        double chi = chi_square(pos[j], 5, n);
        CHECK(chi < 50, "position %d: chi-square %g", j, chi);
    }
    long counts[120];
    int k = 0;
    for (int c = 0; c < 3125; c++)
        if (orders[c]) {
            if (k < 120) counts[k] = orders[c];
            k++;
        }
    CHECK(k == 120, "%d distinct orderings of 5, expected 120", k);
    if (k == 120) {
        double chi = chi_square(counts, 120, n);
        CHECK(chi < 240, "orderings: chi-square %g with 119 df", chi);
    }
}

int main(void)
{
    RUN(test_published_vector);
    RUN(test_golden_u64);
    RUN(test_golden_derived);
    RUN(test_same_seed_same_sequence);
    RUN(test_streams_differ);
    RUN(test_uniform);
    RUN(test_uniform_extremes);
    RUN(test_normal);
    RUN(test_normal_pairs);
    RUN(test_below);
    RUN(test_permutation);
    return HARNESS_DONE();
}
