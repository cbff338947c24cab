/*
 * test_kernels.c - the fast dense kernels against the reference kernels of dense.c, the
 * kernel choice (DESCENT_KERNEL, ds_model_set_kernel) and threads: any number of
 * threads must give the same bits as one.
 *
 * The zero-skipping kernels (dense_sparse_avx512.c, dense_sparse_avx2.c) must give the
 * full kernels' bits exactly, the AVX2 and AVX-512 ones describe a batch alike, and a
 * model skipping zeros must give the bits of one that does not, on any number of threads.
 *
 * Tolerance. A vector kernel fuses each multiply-add, the reference rounds the product
 * and the sum; both follow the same order. Each result lies within about K eps S of the
 * exact value, where K is the number of terms and S the sum of their magnitudes, which
 * we get by running the reference kernel on absolute values. We allow
 * |fast - ref| <= 1e-6 + 2 (K + 2) eps S, an absolute plus relative (to S) tolerance
 * that a wrong index, sign or missing term exceeds by orders of magnitude.
 */
#include "harness.h"
#include "../src/internal.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_count.h" /* n_allocs, COUNT_MALLOC */

static float *rnd(ds_rng *r, size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * ds_rng_uniform(r) - 1.0);
    return p;
}

static float *absolute(const float *p, size_t n)
{
    float *q = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) q[i] = fabsf(p[i]);
    return q;
}

/* counts elements outside the tolerance; prints the first few */
static int compare(const char *what, const float *got, const float *ref, const float *mag,
                   size_t n, int K)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-6 + 2.0 * (K + 2) * (double)FLT_EPSILON * (double)mag[i];
        if (!(fabs((double)got[i] - (double)ref[i]) <= tol) && bad++ < 3)
            fprintf(stderr, "  %s[%zu] = %.9g, reference %.9g (tolerance %.3g)\n", what, i,
                    (double)got[i], (double)ref[i], tol);
    }
    return bad;
}

static int kernels_available(const ds_dense_kernels **ks)
{
    int n = 0;
    for (int k = DS_KERNEL_PORTABLE; k < DS_KERNEL_COUNT; k++)
        if (ds_kernel_available((ds_kernel)k)) ks[n++] = ds_dense_kernels_for((ds_kernel)k);
    return n;
}

/* ---------------------------------------------------------------------------------- */
/* relu's backward over a range of columns, and the transposed copy */

/* Every kernel's relu_backward on random shapes and column ranges against act.c's relu
 * backward, bit for bit: the range's columns masked (NaN, -0 and +0 in z give +0), the
 * others untouched, and the range's rows of gT the result transposed (the others
 * untouched). Shapes cross the vector widths and the 8 x 8 transposes' edges. */
static void test_relu_backward_ranges(void)
{
    static const ds_activation relu = {DS_ACT_RELU, 0.0f};
    const ds_dense_kernels *ks[DS_KERNEL_COUNT];
    int nk = kernels_available(ks), bad = 0, shapes = 0;
    ds_rng r = ds_rng_split(31, 0);
    for (int s = 0; s < 120; s++) {
        const int B = 1 + (int)(ds_rng_uniform(&r) * 70), O = 1 + (int)(ds_rng_uniform(&r) * 300);
        int o0 = (int)(ds_rng_uniform(&r) * O), o1 = o0 + (int)(ds_rng_uniform(&r) * (O - o0 + 1));
        if (s % 3 == 0) o0 = 0, o1 = O; /* whole rows, as a layer's own backward asks */
        const size_t n = (size_t)B * O;
        float *g0 = rnd(&r, n), *z = rnd(&r, n), *want = malloc(sizeof(float) * n);
        float *wantT = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
        float *gT = malloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i += 7) z[i] = i % 3 ? 0.0f : -0.0f;
        z[n / 2] = NAN;
        /* the reference: act.c on the range's columns, row by row */
        memcpy(want, g0, sizeof(float) * n);
        for (size_t i = 0; i < n; i++) wantT[i] = -7.0f;
        for (int b = 0; b < B && o1 > o0; b++) {
            float *w = want + (size_t)b * O + o0;
            ds_act_backward(&relu, DS_KERAS_3, w, w, z + (size_t)b * O + o0, NULL, 1, o1 - o0);
        }
        for (int o = o0; o < o1; o++)
            for (int b = 0; b < B; b++) wantT[(size_t)o * B + b] = want[(size_t)b * O + o];
        for (int q = 0; q < nk; q++)
            for (int transposed = 0; transposed < 2; transposed++) {
                memcpy(g, g0, sizeof(float) * n);
                for (size_t i = 0; i < n; i++) gT[i] = -7.0f;
                ks[q]->relu_backward(g, z, transposed ? gT : NULL, B, O, o0, o1);
                int ok = memcmp(g, want, sizeof(float) * n) == 0 &&
                         (!transposed || memcmp(gT, wantT, sizeof(float) * n) == 0);
                if (!ok && bad++ < 3)
                    fprintf(stderr, "  %s: B %d O %d columns [%d, %d)%s differ\n",
                            ds_kernel_name(ks[q]->kind), B, O, o0, o1,
                            transposed ? " transposed" : "");
                shapes++;
            }
        free(g0), free(z), free(want), free(wantT), free(g), free(gT);
    }
    CHECK(bad == 0, "%d of %d relu backward runs differ from act.c", bad, shapes);
    CHECK(shapes == 240 * nk, "ran %d", shapes);
}

/* ---------------------------------------------------------------------------------- */
/* each kernel against the reference */

/* one shape: forward (with and without bias, fused relu), backward_input and
 * backward_weight (onto nonzero gradients) for kernel k; returns failures */
static int check_shape(const ds_dense_kernels *k, int B, int I, int O, uint64_t seed)
{
    ds_rng r = ds_rng_split(seed, (uint64_t)(B * 1000003 + I * 1009 + O));
    size_t nx = (size_t)B * I, nw = (size_t)I * O, ny = (size_t)B * O;
    float *inp = rnd(&r, nx), *w = rnd(&r, nw), *bias = rnd(&r, (size_t)O);
    float *dout = rnd(&r, ny), *dw0 = rnd(&r, nw + (size_t)O);
    float *ainp = absolute(inp, nx), *aw = absolute(w, nw), *abias = absolute(bias, (size_t)O);
    float *adout = absolute(dout, ny), *adw0 = absolute(dw0, nw + (size_t)O);
    float *z = malloc(sizeof(float) * ny), *a = malloc(sizeof(float) * ny);
    float *zr = malloc(sizeof(float) * ny), *mag = malloc(sizeof(float) * (nw + ny + nx + 1));
    float *relu = malloc(sizeof(float) * ny);
    float *doutT = malloc(sizeof(float) * ny);
    float *dinp = malloc(sizeof(float) * (nx + 1)), *dinpr = malloc(sizeof(float) * (nx + 1));
    float *dw = malloc(sizeof(float) * (nw + 1)), *dwr = malloc(sizeof(float) * (nw + O));
    float *scratch = malloc(sizeof(float) * (nw + (size_t)O));
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++) doutT[(size_t)o * B + b] = dout[(size_t)b * O + o];
    int bad = 0;
    char what[96];

    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bi = with_bias ? bias : NULL;
        ds_dense_fwd_args g = {z, with_bias ? a : NULL, inp, w, bi, B, I, O};
        /* with scratch, tall products copy inp blocks: the same bits (backward_weight copies
         * only for I a multiple of 512 or O of 1024, hence those shapes below) */
        float *scr = malloc(sizeof(float) * ds_pack_floats(B));
        k->forward(&g, 0, B, 0, O, scr);
        memcpy(relu, z, sizeof(float) * ny);
        k->forward(&g, 0, B, 0, O, NULL);
        if (memcmp(relu, z, sizeof(float) * ny) != 0) {
            fprintf(stderr, "  %s forward %dx%dx%d: scratch changes the bits\n",
                    ds_kernel_name(k->kind), B, I, O);
            bad++;
        }
        free(scr);
        ds_dense_forward(zr, inp, w, bi, B, I, O);
        ds_dense_forward(mag, ainp, aw, with_bias ? abias : NULL, B, I, O);
        snprintf(what, sizeof what, "%s forward %dx%dx%d bias %d", ds_kernel_name(k->kind), B,
                 I, O, with_bias);
        bad += compare(what, z, zr, mag, ny, I);
        if (k->kind == DS_KERNEL_PORTABLE && memcmp(z, zr, sizeof(float) * ny) != 0) {
            fprintf(stderr, "  %s: portable differs from the reference bits\n", what);
            bad++;
        }
        if (with_bias) { /* the fused relu is act.c's relu of z, bit for bit */
            ds_activation act = ds_activation_defaults(DS_ACT_RELU);
            ds_act_forward(&act, DS_KERAS_2, relu, z, B, O);
            if (memcmp(relu, a, sizeof(float) * ny) != 0) {
                fprintf(stderr, "  %s: fused relu differs from relu(z)\n", what);
                bad++;
            }
        }
    }

    /* with scratch, tall products copy their operands: the same bits */
    float *scr = malloc(sizeof(float) * ds_pack_floats(B));
    ds_dense_bwd_inp_args gi = {dinp, dout, doutT, w, B, I, O};
    k->backward_input(&gi, 0, B, 0, I, NULL);
    memcpy(dinpr, dinp, sizeof(float) * nx);
    k->backward_input(&gi, 0, B, 0, I, scr);
    if (memcmp(dinpr, dinp, sizeof(float) * nx) != 0) {
        fprintf(stderr, "  %s backward_input %dx%dx%d: scratch changes the bits\n",
                ds_kernel_name(k->kind), B, I, O);
        bad++;
    }
    /* backward: reference dinp and dweight (+= onto dw0) */
    memcpy(dwr, dw0, sizeof(float) * (nw + (size_t)O));
    ds_dense_backward(dinpr, dwr, dwr + nw, dout, inp, w, scratch, B, I, O);
    float *mag_inp = mag;
    /* magnitudes of dinp: |dout| @ |w|^T, via the reference with dweight discarded */
    float *dummy = calloc(nw + (size_t)O, sizeof(float));
    ds_dense_backward(mag_inp, dummy, NULL, adout, ainp, aw, scratch, B, I, O);
    snprintf(what, sizeof what, "%s backward_input %dx%dx%d", ds_kernel_name(k->kind), B, I, O);
    bad += compare(what, dinp, dinpr, mag_inp, nx, O);

    memcpy(dw, dw0, sizeof(float) * nw);
    ds_dense_bwd_w_args gw = {dw, inp, dout, B, I, O, 0};
    k->backward_weight(&gw, 0, I, 0, O, NULL);
    float *dwn = malloc(sizeof(float) * (nw + 1));
    memcpy(dwn, dw, sizeof(float) * nw);
    memcpy(dw, dw0, sizeof(float) * nw);
    k->backward_weight(&gw, 0, I, 0, O, scr);
    if (memcmp(dwn, dw, sizeof(float) * nw) != 0) {
        fprintf(stderr, "  %s backward_weight %dx%dx%d: scratch changes the bits\n",
                ds_kernel_name(k->kind), B, I, O);
        bad++;
    }
    memcpy(mag, adw0, sizeof(float) * nw);
    ds_dense_backward(NULL, mag, NULL, adout, ainp, aw, scratch, B, I, O);
    snprintf(what, sizeof what, "%s backward_weight %dx%dx%d", ds_kernel_name(k->kind), B, I,
             O);
    bad += compare(what, dw, dwr, mag, nw, B);
    if (k->kind == DS_KERNEL_PORTABLE &&
        (memcmp(dinp, dinpr, sizeof(float) * nx) || memcmp(dw, dwr, sizeof(float) * nw))) {
        fprintf(stderr, "  %s: portable differs from the reference bits\n", what);
        bad++;
    }
    /* set: the bits of adding onto zeros, whatever dweight held (with and without
     * scratch) */
    memset(dw, 0, sizeof(float) * nw);
    k->backward_weight(&gw, 0, I, 0, O, NULL);
    float *dws = malloc(sizeof(float) * (nw + 1));
    for (int with_scratch = 0; with_scratch < 2; with_scratch++) {
        for (size_t q = 0; q < nw; q++) dws[q] = NAN;
        ds_dense_bwd_w_args gs = {dws, inp, dout, B, I, O, 1};
        k->backward_weight(&gs, 0, I, 0, O, with_scratch ? scr : NULL);
        if (memcmp(dw, dws, sizeof(float) * nw) != 0) {
            fprintf(stderr, "  %s: set differs from adding onto zeros (scratch %d)\n", what,
                    with_scratch);
            bad++;
        }
    }
    free(dws);
    free(dwn);
    free(scr);

    free(inp), free(w), free(bias), free(dout), free(dw0), free(ainp), free(aw), free(abias);
    free(adout), free(adw0), free(z), free(a), free(zr), free(mag), free(relu), free(doutT);
    free(dinp), free(dinpr), free(dw), free(dwr), free(scratch), free(dummy);
    return bad;
}

static const int sizes[] = {1, 3, 7, 15, 16, 17, 31, 33, 63, 65, 127, 129};
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])

static void test_kernels_match_reference(void)
{
    const ds_dense_kernels *ks[DS_KERNEL_COUNT];
    int nk = kernels_available(ks);
    int shapes = 0;
    for (int q = 0; q < nk; q++) {
        for (int ib = 0; ib < N_SIZES; ib++)
            for (int ii = 0; ii < N_SIZES; ii++)
                for (int io = 0; io < N_SIZES; io++) {
                    int B = sizes[ib], I = sizes[ii], O = sizes[io];
                    if ((long)B * I * O > 300000) continue;
                    int bad = check_shape(ks[q], B, I, O, 1);
                    CHECK(bad == 0, "%s %dx%dx%d: %d elements off", ds_kernel_name(ks[q]->kind),
                          B, I, O, bad);
                    shapes++;
                }
        static const int big[][3] = {{64, 784, 256}, {64, 256, 128}, {64, 128, 10},
                                     {33, 784, 17},  {65, 784, 129}, {100, 784, 1},
                                     {7, 0, 5},      {129, 129, 129}, {300, 400, 300},
                                     {128, 17, 33},  {160, 33, 0},    {300, 512, 300},
                                     {130, 33, 1024}, {128, 512, 33}};
        for (size_t s = 0; s < sizeof big / sizeof big[0]; s++) {
            int bad = check_shape(ks[q], big[s][0], big[s][1], big[s][2], 2);
            CHECK(bad == 0, "%s %dx%dx%d: %d elements off", ds_kernel_name(ks[q]->kind),
                  big[s][0], big[s][1], big[s][2], bad);
        }
    }
    printf("  %d kernels, %d shapes each\n", nk, shapes / (nk ? nk : 1));
}

/* ---------------------------------------------------------------------------------- */
/* bits do not depend on how a product is cut */

/* cuts [0, n) at c random points into pieces; returns the number of pieces */
static int random_cuts(ds_rng *r, int n, int *at, int max)
{
    int m = 0;
    at[m++] = 0;
    while (m < max - 1 && at[m - 1] < n) {
        int step = 1 + (int)ds_rng_below(r, (uint64_t)(n / 2 + 1));
        at[m] = at[m - 1] + step < n ? at[m - 1] + step : n;
        m++;
    }
    if (at[m - 1] != n) at[m++] = n;
    return m - 1;
}

static void test_split_does_not_change_bits(void)
{
    const ds_dense_kernels *ks[DS_KERNEL_COUNT];
    int nk = kernels_available(ks);
    static const int shapes[][3] = {{77, 120, 96},  {64, 784, 65},   {45, 33, 129},
                                    {5, 300, 40},   {300, 140, 70},  {257, 33, 129},
                                    {300, 400, 300}, {300, 512, 300}, {130, 33, 1024}};
    for (int q = 0; q < nk; q++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int B = shapes[s][0], I = shapes[s][1], O = shapes[s][2];
            ds_rng r = ds_rng_split(3, s);
            size_t ny = (size_t)B * O, nx = (size_t)B * I, nw = (size_t)I * O;
            float *inp = rnd(&r, nx), *w = rnd(&r, nw), *bias = rnd(&r, (size_t)O);
            float *dout = rnd(&r, ny), *dw0 = rnd(&r, nw), *doutT = malloc(sizeof(float) * ny);
            for (int b = 0; b < B; b++)
                for (int o = 0; o < O; o++) doutT[(size_t)o * B + b] = dout[(size_t)b * O + o];
            float *z1 = malloc(sizeof(float) * ny), *z2 = malloc(sizeof(float) * ny);
            float *a1 = malloc(sizeof(float) * ny), *a2 = malloc(sizeof(float) * ny);
            float *d1 = malloc(sizeof(float) * nx), *d2 = malloc(sizeof(float) * nx);
            float *w1 = malloc(sizeof(float) * nw), *w2 = malloc(sizeof(float) * nw);
            ds_dense_fwd_args f1 = {z1, a1, inp, w, bias, B, I, O};
            ds_dense_fwd_args f2 = {z2, a2, inp, w, bias, B, I, O};
            ds_dense_bwd_inp_args i1 = {d1, dout, doutT, w, B, I, O};
            ds_dense_bwd_inp_args i2 = {d2, dout, doutT, w, B, I, O};
            memcpy(w1, dw0, sizeof(float) * nw);
            memcpy(w2, dw0, sizeof(float) * nw);
            ds_dense_bwd_w_args g1 = {w1, inp, dout, B, I, O, 0};
            ds_dense_bwd_w_args g2 = {w2, inp, dout, B, I, O, 0};
            float *scr = malloc(sizeof(float) * ds_pack_floats(B));
            ks[q]->forward(&f1, 0, B, 0, O, scr);
            ks[q]->backward_input(&i1, 0, B, 0, I, scr);
            ks[q]->backward_weight(&g1, 0, I, 0, O, scr);
            int rows[64], cols[64];
            for (int trial = 0; trial < 3; trial++) {
                int nr = random_cuts(&r, B, rows, 64), nc = random_cuts(&r, O, cols, 64);
                for (int a = 0; a < nr; a++)
                    for (int c = 0; c < nc; c++)
                        ks[q]->forward(&f2, rows[a], rows[a + 1], cols[c], cols[c + 1],
                                       (a + c) % 2 ? scr : NULL);
                nc = random_cuts(&r, I, cols, 64);
                for (int a = 0; a < nr; a++)
                    for (int c = 0; c < nc; c++)
                        ks[q]->backward_input(&i2, rows[a], rows[a + 1], cols[c], cols[c + 1],
                                              (a + c) % 2 ? scr : NULL);
                memcpy(w2, dw0, sizeof(float) * nw);
                nr = random_cuts(&r, I, rows, 64);
                nc = random_cuts(&r, O, cols, 64);
                for (int a = 0; a < nr; a++)
                    for (int c = 0; c < nc; c++)
                        ks[q]->backward_weight(&g2, rows[a], rows[a + 1], cols[c], cols[c + 1],
                                               (a + c) % 2 ? scr : NULL);
                CHECK(memcmp(z1, z2, sizeof(float) * ny) == 0 &&
                          memcmp(a1, a2, sizeof(float) * ny) == 0,
                      "%s forward %dx%dx%d: pieces differ from the whole",
                      ds_kernel_name(ks[q]->kind), B, I, O);
                CHECK(memcmp(d1, d2, sizeof(float) * nx) == 0,
                      "%s backward_input %dx%dx%d: pieces differ", ds_kernel_name(ks[q]->kind),
                      B, I, O);
                CHECK(memcmp(w1, w2, sizeof(float) * nw) == 0,
                      "%s backward_weight %dx%dx%d: pieces differ", ds_kernel_name(ks[q]->kind),
                      B, I, O);
            }
            free(scr), free(inp), free(w), free(bias), free(dout), free(dw0), free(doutT);
            free(z1);
            free(z2), free(a1), free(a2), free(d1), free(d2), free(w1), free(w2);
        }
}

/* avx2 and avx512 both compute one fused chain per element: the same bits */
static void test_vector_kernels_agree(void)
{
    if (!ds_kernel_available(DS_KERNEL_AVX2) || !ds_kernel_available(DS_KERNEL_AVX512)) {
        printf("  skipped: needs both avx2 and avx512\n");
        return;
    }
    const ds_dense_kernels *k2 = ds_dense_kernels_for(DS_KERNEL_AVX2);
    const ds_dense_kernels *k5 = ds_dense_kernels_for(DS_KERNEL_AVX512);
    for (int s = 0; s < N_SIZES; s++) {
        int B = sizes[s], I = sizes[(s + 5) % N_SIZES] + 20, O = sizes[(s + 3) % N_SIZES];
        ds_rng r = ds_rng_split(4, (uint64_t)s);
        size_t ny = (size_t)B * O, nx = (size_t)B * I, nw = (size_t)I * O;
        float *inp = rnd(&r, nx), *w = rnd(&r, nw), *bias = rnd(&r, (size_t)O);
        float *dout = rnd(&r, ny), *doutT = malloc(sizeof(float) * ny);
        for (int b = 0; b < B; b++)
            for (int o = 0; o < O; o++) doutT[(size_t)o * B + b] = dout[(size_t)b * O + o];
        float *out[2][3];
        for (int v = 0; v < 2; v++) {
            const ds_dense_kernels *k = v ? k5 : k2;
            out[v][0] = malloc(sizeof(float) * ny);
            out[v][1] = malloc(sizeof(float) * nx);
            out[v][2] = calloc(nw, sizeof(float));
            ds_dense_fwd_args f = {out[v][0], NULL, inp, w, bias, B, I, O};
            ds_dense_bwd_inp_args gi = {out[v][1], dout, doutT, w, B, I, O};
            ds_dense_bwd_w_args gw = {out[v][2], inp, dout, B, I, O, 0};
            k->forward(&f, 0, B, 0, O, NULL);
            float *scr = malloc(sizeof(float) * ds_pack_floats(B));
            k->backward_input(&gi, 0, B, 0, I, scr);
            k->backward_weight(&gw, 0, I, 0, O, scr);
            free(scr);
        }
        CHECK(memcmp(out[0][0], out[1][0], sizeof(float) * ny) == 0 &&
                  memcmp(out[0][1], out[1][1], sizeof(float) * nx) == 0 &&
                  memcmp(out[0][2], out[1][2], sizeof(float) * nw) == 0,
              "avx2 and avx512 differ at %dx%dx%d", B, I, O);
        for (int v = 0; v < 2; v++)
            for (int i = 0; i < 3; i++) free(out[v][i]);
        free(inp), free(w), free(bias), free(dout), free(doutT);
    }
}

/* ---------------------------------------------------------------------------------- */
/* the kernel choice */

static void test_kernel_names_and_env(void)
{
    ds_kernel k;
    CHECK(ds_kernel_parse("AVX512", &k) == DS_OK && k == DS_KERNEL_AVX512, "parse avx512");
    CHECK(ds_kernel_parse("portable", &k) == DS_OK && k == DS_KERNEL_PORTABLE, "parse");
    CHECK(ds_kernel_parse("sse", &k) == DS_ERR_ARG, "parse sse");
    CHECK(strcmp(ds_kernel_name(DS_KERNEL_AVX2), "avx2") == 0, "name");
    CHECK(ds_kernel_available(DS_KERNEL_PORTABLE) && ds_kernel_available(DS_KERNEL_AUTO),
          "portable always available");
    CHECK(ds_kernel_best() != DS_KERNEL_AUTO && ds_kernel_available(ds_kernel_best()), "best");

    const char *old = getenv("DESCENT_KERNEL");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    ds_model *m = NULL;
    for (int q = DS_KERNEL_AUTO; q < DS_KERNEL_COUNT; q++) {
        setenv("DESCENT_KERNEL", ds_kernel_name((ds_kernel)q), 1);
        ds_error e = {0};
        ds_status s = ds_model_create(&m, 4, &e);
        if (ds_kernel_available((ds_kernel)q)) {
            ds_kernel want = q == DS_KERNEL_AUTO ? ds_kernel_best() : (ds_kernel)q;
            CHECK(s == DS_OK && ds_model_kernel(m) == want, "DESCENT_KERNEL=%s gives %s",
                  ds_kernel_name((ds_kernel)q), m ? ds_kernel_name(ds_model_kernel(m)) : "-");
        } else {
            CHECK(s == DS_ERR_ARG && strstr(e.message, "DESCENT_KERNEL"),
                  "unavailable kernel must be refused: %s", e.message);
        }
        ds_model_free(m);
        m = NULL;
    }
    setenv("DESCENT_KERNEL", "fast", 1);
    ds_error e = {0};
    CHECK(ds_model_create(&m, 4, &e) == DS_ERR_ARG && m == NULL &&
              strstr(e.message, "DESCENT_KERNEL=fast"),
          "bad DESCENT_KERNEL: %s", e.message);
    if (old) setenv("DESCENT_KERNEL", saved, 1);
    else unsetenv("DESCENT_KERNEL");
    CHECK_OK(ds_model_create(&m, 4, NULL));
    CHECK(ds_model_set_kernel(m, DS_KERNEL_PORTABLE, NULL) == DS_OK &&
              ds_model_kernel(m) == DS_KERNEL_PORTABLE,
          "set_kernel portable");
    CHECK(ds_model_threads(m) == 1, "one thread by default");
    CHECK(ds_model_set_threads(m, 0, &e) == DS_ERR_ARG, "0 threads");
    CHECK(ds_model_set_threads(m, DS_MAX_THREADS + 1, &e) == DS_ERR_ARG, "too many threads");
    CHECK(ds_model_set_threads(m, 3, NULL) == DS_OK && ds_model_threads(m) == 3, "3 threads");
    CHECK(ds_model_set_threads(m, 1, NULL) == DS_OK && ds_model_threads(m) == 1, "back to 1");
    const char *sz = getenv("DESCENT_SKIP_ZEROS"); /* (the suite may run with it set) */
    CHECK(ds_model_skip_zeros(m) == !(sz && !strcmp(sz, "0")),
          "zero skipping on by default, unless DESCENT_SKIP_ZEROS=0");
    ds_model_free(m);

    old = getenv("DESCENT_SKIP_ZEROS");
    saved[0] = 0;
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("DESCENT_SKIP_ZEROS", "0", 1);
    CHECK(ds_model_create(&m, 4, NULL) == DS_OK && ds_model_skip_zeros(m) == 0,
          "DESCENT_SKIP_ZEROS=0 turns it off");
    ds_model_free(m);
    m = NULL;
    setenv("DESCENT_SKIP_ZEROS", "yes", 1);
    CHECK(ds_model_create(&m, 4, &e) == DS_ERR_ARG && m == NULL &&
              strstr(e.message, "DESCENT_SKIP_ZEROS=yes"),
          "bad DESCENT_SKIP_ZEROS: %s", e.message);
    if (old) setenv("DESCENT_SKIP_ZEROS", saved, 1);
    else unsetenv("DESCENT_SKIP_ZEROS");
}

/* ---------------------------------------------------------------------------------- */
/* threads: the same bits as one thread */

enum { N_IN = 120, N_OUT = 10 };

/* a dense layer of `units` with activation `act` */
static void add_dense(ds_model *m, int units, ds_act_kind act)
{
    ds_dense_config c = ds_dense_defaults(units);
    c.activation = ds_activation_defaults(act);
    ds_model_add_dense(m, &c, NULL);
}

/* builds with `seed` and compiles for categorical crossentropy under opt */
static void build_cce(ds_model *m, uint64_t seed, ds_optimizer opt)
{
    ds_model_build(m, seed, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
    cc.optimizer = opt;
    ds_model_compile(m, &cc, NULL);
}

static ds_model *make_mlp_opt(ds_kernel kernel, int threads, int dropout, ds_optimizer opt)
{
    ds_model *m = NULL;
    ds_model_create(&m, N_IN, NULL);
    ds_model_set_kernel(m, kernel, NULL);
    ds_model_set_threads(m, threads, NULL);
    ds_dense_config c = ds_dense_defaults(96);
    c.activation = ds_activation_defaults(DS_ACT_RELU);
    c.bias_initializer = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
    ds_model_add_dense(m, &c, NULL);
    if (dropout) ds_model_add_dropout(m, 0.2f, NULL);
    add_dense(m, 64, DS_ACT_TANH);
    add_dense(m, N_OUT, DS_ACT_SOFTMAX);
    build_cce(m, 11, opt);
    return m;
}

static ds_model *make_mlp(ds_kernel kernel, int threads)
{
    ds_optimizer o = ds_optimizer_defaults(DS_OPT_SGD);
    o.momentum = 0.9;
    return make_mlp_opt(kernel, threads, 1, o);
}

static ds_dataset *make_data(int n)
{
    ds_rng r = ds_rng_split(21, 0);
    float *x = rnd(&r, (size_t)n * N_IN), *y = calloc((size_t)n * N_OUT, sizeof(float));
    for (int i = 0; i < n; i++) y[(size_t)i * N_OUT + ds_rng_below(&r, N_OUT)] = 1.0f;
    ds_dataset *d = NULL;
    ds_dataset_create(&d, n, N_IN, N_OUT, x, y, NULL);
    free(x);
    free(y);
    return d;
}

/* gradients and losses of four batches (77, 45, 100 and 160 rows: tall batches copy their
 * operands to scratch), then params after fit */
typedef struct {
    float *grads[4];
    double loss[4];
    float *params;
    double hist[4];
    float *pred; /* predictions for 300 rows after fit: tall products pack their panels */
} run_result;

/* four batches of train_batch_grad (rows[b] rows each, dropout drawn when `drop`), then
 * fit for 2 epochs of `batch` rows with a validation split, into res */
static void train_and_record(ds_model *m, const ds_dataset *d, const int rows[4], int drop,
                             int batch, run_result *res)
{
    size_t np = ds_model_n_params(m);
    int r0 = 0;
    for (int b = 0; b < 4; b++) {
        ds_rng rng = ds_rng_split(5, (uint64_t)b);
        ds_model_zero_grad(m);
        CHECK_OK(ds_model_train_batch_grad(m, d->x + (size_t)r0 * d->n_x,
                                           d->y + (size_t)r0 * d->n_y, rows[b],
                                           drop ? &rng : NULL, &res->loss[b], NULL));
        res->grads[b] = malloc(sizeof(float) * np);
        memcpy(res->grads[b], ds_model_grads(m), sizeof(float) * np);
        r0 += rows[b];
    }
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = batch;
    fo.epochs = 2;
    fo.validation_split = 0.1;
    ds_history *h = NULL;
    ds_history_create(&h, NULL);
    CHECK_OK(ds_model_fit(m, d, &fo, h, NULL));
    res->hist[0] = ds_history_get(h, 0, ds_history_find(h, "loss"));
    res->hist[1] = ds_history_get(h, 1, ds_history_find(h, "loss"));
    res->hist[2] = ds_history_get(h, 1, ds_history_find(h, "val_loss"));
    res->hist[3] = ds_history_get(h, 1, ds_history_find(h, "val_accuracy"));
    res->params = malloc(sizeof(float) * np);
    memcpy(res->params, ds_model_params(m), sizeof(float) * np);
    ds_history_free(h);
}

/* predictions for the first 300 rows (tall products pack their panels), into res */
static void record_predictions(ds_model *m, const ds_dataset *d, run_result *res)
{
    res->pred = malloc(sizeof(float) * 300 * (size_t)d->n_y);
    CHECK_OK(ds_model_predict(m, d->x, 300, res->pred, NULL));
}

static void run_model(ds_kernel kernel, int threads, const ds_dataset *d, run_result *res)
{
    ds_model *m = make_mlp(kernel, threads);
    static const int rows[4] = {77, 45, 100, 160};
    train_and_record(m, d, rows, 1, 45, res);
    record_predictions(m, d, res);
    ds_model_free(m);
}

static void free_result(run_result *r)
{
    for (int b = 0; b < 4; b++) free(r->grads[b]);
    free(r->params);
    free(r->pred);
}

/* ---------------------------------------------------------------------------------- */
/* zero skipping: the same bits as the full products */

/* inp (B,I) with zeros: each row keeps a random band of columns (an image's object on a
 * blank background), within it entries are zero with probability p_in */
static float *sparse_rows(ds_rng *r, int B, int I, double p_in)
{
    float *x = rnd(r, (size_t)B * I);
    for (int b = 0; b < B; b++) {
        int lo = (int)ds_rng_below(r, (uint64_t)I), hi = lo + (int)ds_rng_below(r, (uint64_t)(I - lo) + 1);
        for (int k = 0; k < I; k++)
            if (k < lo || k >= hi || ds_rng_uniform(r) < p_in) x[(size_t)b * I + k] = 0.0f;
    }
    return x;
}

/* forward (with and without relu, bias) and backward_weight (set and add) of the
 * zero-skipping kernels against the full AVX-512 kernels, memcmp, over random rectangles;
 * returns failures */
static int check_sparse_shape(const ds_dense_kernels *k, int B, int I, int O, double p_in,
                              uint64_t seed)
{
    ds_rng r = ds_rng_split(seed, (uint64_t)(B * 1000003 + I * 1009 + O));
    size_t nw = (size_t)I * O, ny = (size_t)B * O;
    float *inp = sparse_rows(&r, B, I, p_in), *w = rnd(&r, nw), *bias = rnd(&r, (size_t)O);
    float *dout = rnd(&r, ny), *dw0 = rnd(&r, nw);
    float *z1 = malloc(sizeof(float) * ny), *a1 = malloc(sizeof(float) * ny);
    float *z2 = malloc(sizeof(float) * ny), *a2 = malloc(sizeof(float) * ny);
    float *w1 = malloc(sizeof(float) * nw), *w2 = malloc(sizeof(float) * nw);
    float *scratch = malloc(sizeof(float) * ds_sparse_scratch(B, I, O) * 2);
    ds_sparsity *sp = ds_sparsity_create(B, I, O);
    int bad = 0;
    long ft, bt;
    sp->B = B;
    sp->I = I;
    k->sparse->build(sp, inp, 0, B, &ft, &bt);
    for (int variant = 0; variant < 2; variant++) {
        ds_dense_fwd_args g1 = {z1, variant ? a1 : NULL, inp, w, variant ? bias : NULL, B, I, O};
        ds_dense_fwd_args g2 = {z2, variant ? a2 : NULL, inp, w, variant ? bias : NULL, B, I, O};
        k->forward(&g1, 0, B, 0, O, NULL);
        memset(z2, 0xff, sizeof(float) * ny);
        memset(a2, 0xff, sizeof(float) * ny);
        /* a few rectangles that tile the product: a cut at any row (it may part the
         * rows of a pair), cuts of 32 columns */
        int bc = (int)ds_rng_below(&r, (uint64_t)B + 1);
        int oc = 32 * (int)ds_rng_below(&r, (uint64_t)(O / 32) + 1);
        const int rows[3] = {0, bc, B}, cols[3] = {0, oc, O};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                if (rows[i] < rows[i + 1] && cols[j] < cols[j + 1])
                    k->sparse->forward(&g2, sp, rows[i], rows[i + 1], cols[j], cols[j + 1],
                                       scratch);
        if (memcmp(z1, z2, sizeof(float) * ny)) bad++;
        if (variant && memcmp(a1, a2, sizeof(float) * ny)) bad++;
        if (bad && bad < 3)
            fprintf(stderr, "  sparse forward %dx%dx%d (zeros %.2f, variant %d) differs\n", B, I,
                    O, p_in, variant);
    }
    for (int set = 0; set < 2; set++) {
        memcpy(w1, dw0, sizeof(float) * nw);
        memcpy(w2, dw0, sizeof(float) * nw);
        ds_dense_bwd_w_args g1 = {w1, inp, dout, B, I, O, set};
        ds_dense_bwd_w_args g2 = {w2, inp, dout, B, I, O, set};
        k->backward_weight(&g1, 0, I, 0, O, NULL);
        int ic = 2 * (int)ds_rng_below(&r, (uint64_t)(I / 2) + 1);
        int oc = 32 * (int)ds_rng_below(&r, (uint64_t)(O / 32) + 1);
        const int rows[3] = {0, ic, I}, cols[3] = {0, oc, O};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                if (rows[i] < rows[i + 1] && cols[j] < cols[j + 1])
                    k->sparse->backward_weight(&g2, sp, rows[i], rows[i + 1], cols[j], cols[j + 1],
                                               scratch);
        if (memcmp(w1, w2, sizeof(float) * nw) && bad++ < 3)
            fprintf(stderr, "  sparse backward_weight %dx%dx%d (zeros %.2f, set %d) differs\n", B,
                    I, O, p_in, set);
    }
    ds_sparsity_free(sp);
    free(inp), free(w), free(bias), free(dout), free(dw0), free(z1), free(a1), free(z2);
    free(a2), free(w1), free(w2), free(scratch);
    return bad;
}

static void test_sparse_kernels_same_bits(void)
{
    const ds_dense_kernels *ks[DS_KERNEL_COUNT];
    int nk = kernels_available(ks), tried = 0;
    int with_sparse = 0;
    for (int q = 0; q < nk; q++) {
        if (!ks[q]->sparse) {
            CHECK(ks[q]->kind == DS_KERNEL_PORTABLE, "%s has zero-skipping kernels",
                  ds_kernel_name(ks[q]->kind));
            continue;
        }
        with_sparse++;
        static const int Bs[] = {1, 2, 3, 31, 32, 33, 64, 65, 97};
        static const int Is[] = {32, 33, 63, 200, 784, 1500};
        static const int Os[] = {32, 33, 64, 100, 128, 129, 256, 300};
        static const double ps[] = {0.0, 0.5, 0.9, 1.0};
        int bad = 0;
        for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
            for (size_t i = 0; i < sizeof Is / sizeof *Is; i++)
                for (size_t o = 0; o < sizeof Os / sizeof *Os; o++) {
                    bad += check_sparse_shape(ks[q], Bs[b], Is[i], Os[o], ps[(b + i + o) % 4],
                                              (uint64_t)tried);
                    tried++;
                }
        CHECK(bad == 0, "%s: %d zero-skipping products differ from the full ones (%d shapes)",
              ds_kernel_name(ks[q]->kind), bad, tried);
    }
    CHECK(with_sparse == nk - 1 && tried == 9 * 6 * 8 * with_sparse,
          "%d shapes tried for %d kernels", tried, with_sparse);
}

/* the AVX2 and AVX-512 builds describe a batch alike: the same pairs, lists and masks */
static void test_sparse_builds_agree(void)
{
    if (!ds_kernel_available(DS_KERNEL_AVX2) || !ds_kernel_available(DS_KERNEL_AVX512)) {
        printf("  skipped: needs both avx2 and avx512\n");
        return;
    }
    const ds_sparse_kernels *k2 = ds_dense_kernels_for(DS_KERNEL_AVX2)->sparse;
    const ds_sparse_kernels *k5 = ds_dense_kernels_for(DS_KERNEL_AVX512)->sparse;
    static const int Bs[] = {1, 31, 64, 97}, Is[] = {32, 63, 64, 200, 784};
    int same = 1, n = 0;
    for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
        for (size_t i = 0; i < sizeof Is / sizeof *Is; i++) {
            const int B = Bs[b], I = Is[i];
            ds_rng r = ds_rng_split(11, (uint64_t)(B * 1000 + I));
            float *inp = sparse_rows(&r, B, I, 0.5);
            ds_sparsity *sp[2] = {ds_sparsity_create(B, I, 32), ds_sparsity_create(B, I, 32)};
            long ft[2], bt[2];
            for (int v = 0; v < 2; v++) {
                sp[v]->B = B;
                sp[v]->I = I;
                (v ? k5 : k2)->build(sp[v], inp, 0, B, &ft[v], &bt[v]);
            }
            const int blocks = (B + DS_SPARSE_BLOCK - 1) / DS_SPARSE_BLOCK;
            const int pairs = blocks * DS_SPARSE_BLOCK / 2;
            same &= ft[0] == ft[1] && bt[0] == bt[1];
            same &= !memcmp(sp[0]->rows, sp[1]->rows, sizeof(int) * 2 * (size_t)pairs);
            same &= !memcmp(sp[0]->len, sp[1]->len, sizeof(int) * (size_t)pairs);
            same &= !memcmp(sp[0]->mask, sp[1]->mask, sizeof(uint32_t) * (size_t)blocks * I);
            for (int p = 0; p < pairs; p++)
                same &= !memcmp(sp[0]->idx + (size_t)p * sp[0]->stride,
                                sp[1]->idx + (size_t)p * sp[1]->stride,
                                sizeof(int) * (size_t)sp[0]->len[p]);
            n++;
            ds_sparsity_free(sp[0]);
            ds_sparsity_free(sp[1]);
            free(inp);
        }
    CHECK(same && n == 20, "avx2 and avx512 builds differ (%d batches)", n);
}

/* The best kernels, which skip zeros; NULL (after checking that they are the portable
 * ones: no x86 vector kernels here) when they do not */
static const ds_dense_kernels *zero_skipping_kernels(void)
{
    const ds_dense_kernels *k = ds_dense_kernels_for(DS_KERNEL_AUTO);
    if (k->sparse) return k;
    CHECK(k->kind == DS_KERNEL_PORTABLE, "%s has no zero skipping", ds_kernel_name(k->kind));
    return NULL;
}

/* A layer's backward with its own update, on two threads, skipping zeros or not: the
 * update covers every row once whatever number of parts it was sized for (the pool may
 * answer another number between the caller's question and the run's), and the weights
 * end as on one thread, also when a ds_balance cuts the weight gradient unevenly (one
 * unit of rows to the first thread, or all but one) */
static void test_backward_update_parts(void)
{
    const ds_dense_kernels *k = zero_skipping_kernels();
    if (!k) return;
    enum { B = 64, I = 300, O = 256 };
    const size_t nw = (size_t)I * O, np = nw + O;
    ds_pool *pool = NULL;
    CHECK_OK(ds_pool_create(&pool, 2, NULL));
    ds_rng r = ds_rng_split(21, 0);
    float *inp = sparse_rows(&r, B, I, 0.5), *g0 = rnd(&r, (size_t)B * O), *w0 = rnd(&r, np);
    float *z = rnd(&r, (size_t)B * O), *g = malloc(sizeof(float) * B * O);
    float *params[4];
    for (int v = 0; v < 4; v++) params[v] = malloc(sizeof(float) * np);
    const int units = (I + 7) / 8;
    int kept = 1;
    float *grads = malloc(sizeof(float) * np);
    const size_t ss = ds_sparse_scratch(B, I, O);
    float *scratch = malloc(sizeof(float) * ss * 2);
    ds_optimizer cfg = ds_optimizer_defaults(DS_OPT_SGD);
    ds_optim_state opt;
    memset(&opt, 0, sizeof opt);
    CHECK_OK(ds_optim_init(&opt, &cfg, DS_KERAS_2, np, NULL));
    const ds_activation relu = ds_activation_defaults(DS_ACT_RELU);
    int same = 1, skipped = 0;
    for (int skip = 0; skip < 2; skip++)
        for (int sized = 1; sized <= 3; sized++)
            for (int v = 0; v < 4; v++) { /* v = 0: one thread; 1: two; 2, 3: two, uneven */
                ds_exec x = {k, v ? pool : NULL, NULL, 0, scratch, ss, skip};
                ds_sparsity *sp = ds_sparsity_create(B, I, O);
                ds_sparsity_prepare(&x, sp, inp, B, I);
                memcpy(params[v], w0, sizeof(float) * np);
                memcpy(g, g0, sizeof(float) * B * O);
                for (size_t i = 0; i < np; i++) grads[i] = NAN; /* no stale gradient */
                ds_dense_bwd b;
                memset(&b, 0, sizeof b);
                b.act = &relu;
                b.kv = DS_KERAS_2;
                b.g = g;
                b.z = z;
                b.dweight = grads;
                b.dbias = grads + nw;
                b.inp = inp;
                b.weight = params[v];
                b.B = B;
                b.I = I;
                b.O = O;
                b.zero_first = 1;
                b.sp = sp;
                b.own = (ds_update){&opt, params[v], grads, 0, (ptrdiff_t)nw, I, O, sized, NULL,
                                    NULL};
                ds_balance bal = {2, units, {0, v == 2 ? 1 : units - 1, units}};
                b.bal = v >= 2 ? &bal : NULL;
                skipped += sp->bwd && ds_sparsity_eligible(&x, I, O) && v < 2;
                ds_dense_backward_run(&x, &b);
                if (v) same &= memcmp(params[0], params[v], sizeof(float) * np) == 0;
                /* the run may move the boundary a unit, never past a part's last unit */
                if (v >= 2) kept &= bal.at[1] >= 1 && bal.at[1] <= units - 1 && bal.at[2] == units;
                ds_sparsity_free(sp);
            }
    CHECK(same, "updated weights differ between one and two threads");
    CHECK(kept, "a run moved an uneven cut out of bounds");
    CHECK(skipped == 6, "zeros skipped in %d of 6 runs", skipped);
    ds_optim_free(&opt);
    ds_pool_free(pool);
    free(inp), free(g0), free(w0), free(z), free(g);
    for (int v = 0; v < 4; v++) free(params[v]);
    free(grads), free(scratch);
}

/* ds_balance_adjust: a boundary moves one unit from the part that took longer, only when
 * the two differ by more than a unit's time, and never empties a part */
static void test_balance_adjust(void)
{
    ds_balance b = {2, 98, {0, 49, 98}};
    double busy[3] = {110e-6, 118e-6, 0};
    ds_balance_adjust(&b, busy); /* 8 us apart, a unit of the second is 2.4 us */
    CHECK(b.at[1] == 50, "toward the faster first part: boundary %d, want 50", b.at[1]);
    busy[0] = 118e-6, busy[1] = 117e-6;
    ds_balance_adjust(&b, busy); /* within a unit's time: stays */
    CHECK(b.at[1] == 50, "within a unit: boundary %d, want 50", b.at[1]);
    busy[0] = 200e-6, busy[1] = 100e-6;
    ds_balance_adjust(&b, busy);
    CHECK(b.at[1] == 49, "toward the faster second part: boundary %d, want 49", b.at[1]);
    ds_balance one = {2, 2, {0, 1, 2}};
    busy[0] = 1.0, busy[1] = 0.0;
    ds_balance_adjust(&one, busy);
    CHECK(one.at[1] == 1, "a part of one unit was emptied: boundary %d", one.at[1]);
    ds_balance three = {3, 30, {0, 10, 20, 30}};
    double t3[3] = {30e-6, 10e-6, 10e-6};
    ds_balance_adjust(&three, t3);
    CHECK(three.at[1] == 9 && three.at[2] == 20, "three parts: %d %d, want 9 20", three.at[1],
          three.at[2]);
}

/* the decision: dense inputs take the full products, mostly-zero ones skip */
static void test_sparse_decision(void)
{
    const ds_dense_kernels *k = zero_skipping_kernels();
    if (!k) return;
    enum { B = 64, I = 784, O = 256 };
    float *scratch = malloc(sizeof(float) * ds_sparse_scratch(B, I, O));
    ds_exec x = {k, NULL, NULL, 0, scratch, ds_sparse_scratch(B, I, O), 1};
    ds_rng r = ds_rng_split(3, 0);
    float *dense = rnd(&r, (size_t)B * I), *sparse = sparse_rows(&r, B, I, 0.5);
    float *zeros = calloc((size_t)B * I, sizeof(float));
    ds_sparsity *sp = ds_sparsity_create(B, I, O);
    ds_sparsity_prepare(&x, sp, dense, B, I);
    CHECK(!sp->fwd && !sp->bwd, "dense input: fwd %d bwd %d", sp->fwd, sp->bwd);
    CHECK(sp->idle > 0, "dense input: the next batches are not looked at");
    sp->idle = 0;
    ds_sparsity_prepare(&x, sp, sparse, B, I);
    CHECK(sp->fwd && sp->bwd, "mostly zero input: fwd %d bwd %d", sp->fwd, sp->bwd);
    ds_sparsity_prepare(&x, sp, zeros, B, I);
    CHECK(sp->fwd && sp->bwd && sp->len[0] == 0, "all zeros: fwd %d bwd %d", sp->fwd, sp->bwd);
    ds_sparsity_prepare(&x, sp, sparse, B + 1, I);
    CHECK(!sp->fwd && !sp->bwd, "more rows than described: full products");
    /* rows that are nonzero in the left half and in the right half by turns: rows 2p and
     * 2p + 1 together cover every column, so forward skips only when rows pair by their
     * zeros (each pair within one half) */
    float *halves = calloc((size_t)B * I, sizeof(float));
    for (int b = 0; b < B; b++)
        for (int c = b % 2 ? I / 2 : 0; c < (b % 2 ? I : I / 2); c++)
            halves[(size_t)b * I + c] = 1.0f + (float)c;
    ds_sparsity_prepare(&x, sp, halves, B, I);
    CHECK(sp->fwd && sp->bwd, "halves: fwd %d bwd %d", sp->fwd, sp->bwd);
    int seen[B] = {0}, paired_well = 1;
    for (int p = 0; p < B / 2; p++) {
        const int a = sp->rows[2 * p], b = sp->rows[2 * p + 1];
        if (a >= 0 && a < B) seen[a]++;
        if (b >= 0 && b < B) seen[b]++;
        paired_well &= a >= 0 && b >= 0 && a % 2 == b % 2 && sp->len[p] == I / 2;
    }
    int once = 1;
    for (int b = 0; b < B; b++) once &= seen[b] == 1;
    CHECK(once, "every row in exactly one pair");
    CHECK(paired_well, "rows paired within their half, lists of I / 2 columns");
    free(halves);
    x.skip_zeros = 0;
    CHECK(!ds_sparsity_eligible(&x, I, O), "skip_zeros off");
    ds_sparsity_free(sp);
    free(scratch), free(dense), free(sparse), free(zeros);
}

/* a model on mostly-zero data: skipping zeros or not, on 1, 2 or 3 threads, the same
 * gradients, losses, weights and predictions */
enum { SP_IN = 300, SP_OUT = 10 };

/* SP_IN-width-128-SP_OUT */
static ds_model *make_sparse_mlp_width(int skip, int threads, int width)
{
    ds_model *m = NULL;
    ds_model_create(&m, SP_IN, NULL);
    ds_model_set_threads(m, threads, NULL);
    CHECK_OK(ds_model_set_skip_zeros(m, skip, NULL));
    CHECK(ds_model_skip_zeros(m) == skip, "skip_zeros reads back");
    add_dense(m, width, DS_ACT_RELU);
    add_dense(m, 128, DS_ACT_RELU);
    add_dense(m, SP_OUT, DS_ACT_SOFTMAX);
    ds_optimizer o = ds_optimizer_defaults(DS_OPT_SGD);
    o.momentum = 0.9;
    build_cce(m, 5, o);
    return m;
}

static ds_model *make_sparse_mlp(int skip, int threads)
{
    return make_sparse_mlp_width(skip, threads, 256);
}

/* mostly-zero rows: 300 inputs, one-hot targets over SP_OUT classes */
static ds_dataset *make_sparse_data(int n)
{
    ds_rng r = ds_rng_split(8, 0);
    float *x = sparse_rows(&r, n, SP_IN, 0.3), *y = calloc((size_t)n * SP_OUT, sizeof(float));
    for (int i = 0; i < n; i++) y[(size_t)i * SP_OUT + ds_rng_below(&r, SP_OUT)] = 1.0f;
    ds_dataset *d = NULL;
    ds_dataset_create(&d, n, SP_IN, SP_OUT, x, y, NULL);
    free(x);
    free(y);
    return d;
}

static void run_sparse_model(int skip, int threads, const ds_dataset *d, run_result *res)
{
    ds_model *m = make_sparse_mlp(skip, threads);
    static const int rows[4] = {64, 45, 100, 160};
    train_and_record(m, d, rows, 0, 64, res);
    /* the last batch of the first layer skipped zeros in both products (where the
     * model's kernels can: not under DESCENT_KERNEL=portable) */
    if (skip && ds_sparsity_eligible(&m->exec, SP_IN, 256))
        CHECK(m->sp && m->sp[0] && m->sp[0]->fwd && m->sp[0]->bwd, "zeros were skipped");
    else if (m->sp && m->sp[0])
        CHECK(!m->sp[0]->fwd && !m->sp[0]->bwd, "zeros not skipped");
    record_predictions(m, d, res);
    ds_model_free(m);
}

static void test_skip_zeros_same_bits(void)
{
    ds_dataset *d = make_sparse_data(900);
    size_t np = (size_t)SP_IN * 256 + 256 + 256 * 128 + 128 + 128 * SP_OUT + SP_OUT;
    run_result ref;
    run_sparse_model(0, 1, d, &ref);
    CHECK(isfinite(ref.hist[1]) && ref.hist[1] < ref.hist[0], "trains: %g -> %g", ref.hist[0],
          ref.hist[1]);
    for (int skip = 0; skip < 2; skip++)
        for (int t = 1; t <= 3; t++) {
            if (!skip && t == 1) continue;
            run_result got;
            run_sparse_model(skip, t, d, &got);
            for (int b = 0; b < 4; b++) {
                CHECK(memcmp(ref.grads[b], got.grads[b], sizeof(float) * np) == 0,
                      "skip %d, %d threads: gradients of batch %d differ", skip, t, b);
                CHECK(memcmp(&ref.loss[b], &got.loss[b], sizeof(double)) == 0,
                      "skip %d, %d threads: loss of batch %d differs", skip, t, b);
            }
            CHECK(memcmp(ref.params, got.params, sizeof(float) * np) == 0,
                  "skip %d, %d threads: trained weights differ", skip, t);
            CHECK(memcmp(ref.hist, got.hist, sizeof ref.hist) == 0,
                  "skip %d, %d threads: history differs", skip, t);
            CHECK(memcmp(ref.pred, got.pred, sizeof(float) * 300 * SP_OUT) == 0,
                  "skip %d, %d threads: predictions differ", skip, t);
            free_result(&got);
        }
    free_result(&ref);
    ds_dataset_free(d);
}

/* the weights packed for forward by the update: an exact copy of the updated weights,
 * used by the next step only, never after anything else could have changed them */
static int nudge_weights(ds_model *m, int epoch, int batch, int n_batches, double loss,
                         void *user)
{
    (void)epoch, (void)batch, (void)n_batches, (void)loss, (void)user;
    ds_model_params(m)[3] += 0.25f; /* a weight of the first layer */
    return 0;
}

static int count_reports(int epoch, int batch, int n_batches, double loss, void *user)
{
    (void)epoch, (void)batch, (void)n_batches, (void)loss, (void)user;
    return 0;
}

static void test_packed_weights(void)
{
    if (!zero_skipping_kernels()) return;
    ds_dataset *d = make_sparse_data(600);
    ds_model *m = make_sparse_mlp(1, 2); /* (one thread does not pack) */
    CHECK_OK(ds_model_reserve(m, 64, NULL)); /* work buffers, as fit reserves them */
    const ds_sparsity *sp = m->sp[0];
    const float *w = ds_model_params(m); /* the first layer's kernel (SP_IN, 256) */
    double loss;
    if (!ds_sparsity_eligible(&m->exec, SP_IN, 256)) { /* DESCENT_KERNEL=portable */
        ds_model_pack_next(m, 1);
        CHECK(ds_model_train_step(m, d->x, d->y, 64, NULL, 0, &loss), "step");
        CHECK(!sp->fwd && !sp->wpack_ok, "kernels without zero skipping: nothing packed");
        ds_model_free(m);
        ds_dataset_free(d);
        return;
    }
    ds_model_pack_next(m, 1);
    CHECK(ds_model_train_step(m, d->x, d->y, 64, NULL, 0, &loss), "step");
    CHECK(sp->fwd && sp->wpack_ok, "skipped zeros, packed: fwd %d ok %d", sp->fwd, sp->wpack_ok);
    /* packing the weights as they are now into a copy of the panels changes nothing */
    const ds_sparse_kernels *sk = m->exec.kern->sparse;
    const size_t nwp = (size_t)2 * SP_IN * DS_SPARSE_PANEL;
    float *again = malloc(sizeof(float) * nwp);
    memcpy(again, sp->wpack, sizeof(float) * nwp);
    sk->pack_rows(again, w, SP_IN, 256, 0, SP_IN);
    CHECK(memcmp(again, sp->wpack, sizeof(float) * nwp) == 0,
          "the packed panels are the updated weights");
    free(again);
    if (m->exec.kern->kind == DS_KERNEL_AVX512) { /* its layout: panels of 128 columns */
        int same = 1;
        for (int k = 0; k < SP_IN; k++)
            for (int q = 0; q < 2; q++)
                same &= memcmp(sp->wpack + ((size_t)q * SP_IN + k) * DS_SPARSE_PANEL,
                               w + (size_t)k * 256 + q * DS_SPARSE_PANEL,
                               sizeof(float) * DS_SPARSE_PANEL) == 0;
        CHECK(same, "avx512: rows of 128 columns");
    } else { /* avx2: panels of 32, 48 and 48 columns in each 128 */
        static const int start[3] = {0, 32, 80}, width[3] = {32, 48, 48};
        int same = 1;
        for (int q = 0; q < 2; q++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < SP_IN; k++)
                    same &= memcmp(sp->wpack + ((size_t)q * DS_SPARSE_PANEL + start[j]) * SP_IN +
                                       (size_t)k * width[j],
                                   w + (size_t)k * 256 + q * DS_SPARSE_PANEL + start[j],
                                   sizeof(float) * (size_t)width[j]) == 0;
        CHECK(same, "avx2: panels of 32 and 48 columns");
    }
    ds_model_pack_next(m, 0);
    CHECK(ds_model_train_step(m, d->x + 64 * SP_IN, d->y + 64 * SP_OUT, 64, NULL, 0, &loss),
          "step");
    CHECK(!sp->wpack_ok, "read once, not packed again");
    ds_model_pack_next(m, 1);
    CHECK(ds_model_train_step(m, d->x, d->y, 64, NULL, 0, &loss), "step");
    ds_model_pack_drop(m);
    CHECK(!sp->wpack_ok && !m->pack_next, "dropped");
    ds_model_free(m);
    m = make_sparse_mlp(1, 1);
    CHECK_OK(ds_model_reserve(m, 64, NULL));
    ds_model_pack_next(m, 1);
    CHECK(ds_model_train_step(m, d->x, d->y, 64, NULL, 0, &loss), "step");
    CHECK(m->sp[0]->fwd && m->sp[0]->wpack_ok == m->exec.kern->sparse->pack_alone,
          "one thread skips zeros, packs only where the kernels pack alone (%d)",
          m->sp[0]->wpack_ok);
    ds_model_free(m);

    /* weights changed between two fits, and by a callback after every batch (with a
     * progress report too): models that pack train as one that does not skip zeros (and
     * so never packs), on 1 (where the kernels pack alone), 2 and 3 threads (3 cut the
     * 256 columns at 64 and 160, off the panels: those parts copy), also with a first
     * layer of 200 units (its last panel 72 columns wide) */
    static const int widths[2] = {256, 200};
    float *ref = NULL; /* the weights the model on one thread, not skipping, ends with */
    for (int wi = 0; wi < 2; wi++)
        for (int v = 0; v <= 3; v++) {
            const int skip = v > 0, t = v > 0 ? v : 1;
            m = make_sparse_mlp_width(skip, t, widths[wi]);
            const size_t np = ds_model_n_params(m);
            ds_fit_options fo = ds_fit_defaults();
            fo.batch_size = 64;
            fo.epochs = 1;
            CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
            for (int k = 0; k < SP_IN * widths[wi]; k += 7) ds_model_params(m)[k] *= 0.5f;
            CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
            fo.on_progress = count_reports; /* leaves the weights alone: packing goes on */
            CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
            fo.on_batch_end = nudge_weights;
            CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
            if (!skip) {
                free(ref);
                ref = malloc(sizeof(float) * np);
                memcpy(ref, ds_model_params(m), sizeof(float) * np);
            } else {
                CHECK(memcmp(ref, ds_model_params(m), sizeof(float) * np) == 0,
                      "width %d, %d threads: weights changed outside the step train the same "
                      "with and without packing",
                      widths[wi], t);
            }
            ds_model_free(m);
        }
    free(ref);
    ds_dataset_free(d);
}

static void test_threads_same_bits(void)
{
    ds_dataset *d = make_data(500);
    ds_model *probe = make_mlp(DS_KERNEL_PORTABLE, 1);
    size_t np = ds_model_n_params(probe);
    ds_model_free(probe);
    for (int q = DS_KERNEL_PORTABLE; q < DS_KERNEL_COUNT; q++) {
        if (!ds_kernel_available((ds_kernel)q)) continue;
        run_result one, many;
        run_model((ds_kernel)q, 1, d, &one);
        CHECK(isfinite(one.hist[1]) && one.hist[1] < one.hist[0] + 0.5, "%s trains: %g -> %g",
              ds_kernel_name((ds_kernel)q), one.hist[0], one.hist[1]);
        for (int t = 2; t <= 3; t++) {
            run_model((ds_kernel)q, t, d, &many);
            for (int b = 0; b < 4; b++) {
                CHECK(memcmp(one.grads[b], many.grads[b], sizeof(float) * np) == 0,
                      "%s, %d threads: gradients of batch %d differ", ds_kernel_name((ds_kernel)q),
                      t, b);
                CHECK(memcmp(&one.loss[b], &many.loss[b], sizeof(double)) == 0,
                      "%s, %d threads: loss of batch %d differs", ds_kernel_name((ds_kernel)q), t,
                      b);
            }
            CHECK(memcmp(one.params, many.params, sizeof(float) * np) == 0,
                  "%s, %d threads: trained weights differ", ds_kernel_name((ds_kernel)q), t);
            CHECK(memcmp(one.hist, many.hist, sizeof one.hist) == 0,
                  "%s, %d threads: history differs", ds_kernel_name((ds_kernel)q), t);
            CHECK(memcmp(one.pred, many.pred, sizeof(float) * 300 * N_OUT) == 0,
                  "%s, %d threads: predictions differ", ds_kernel_name((ds_kernel)q), t);
            free_result(&many);
        }
        free_result(&one);
    }
    ds_dataset_free(d);
}

/* every kernel trains the same model to nearly the same place */
static void test_kernels_train_alike(void)
{
    ds_dataset *d = make_data(500);
    run_result ref;
    run_model(DS_KERNEL_PORTABLE, 1, d, &ref);
    for (int q = DS_KERNEL_AVX2; q < DS_KERNEL_COUNT; q++) {
        if (!ds_kernel_available((ds_kernel)q)) continue;
        run_result r;
        run_model((ds_kernel)q, 1, d, &r);
        for (int b = 0; b < 4; b++) CHECK_CLOSE(r.loss[b], ref.loss[b], 1e-6, 1e-5);
        CHECK_CLOSE(r.hist[1], ref.hist[1], 1e-5, 1e-4);
        CHECK_CLOSE(r.hist[2], ref.hist[2], 1e-5, 1e-4);
        free_result(&r);
    }
    free_result(&ref);
    ds_dataset_free(d);
}

/* fit updates each layer during the backward pass; the bits must be those of
 * zero_grad, train_batch_grad, apply_gradients */
static void test_fused_step_same_bits(void)
{
    ds_dataset *d = make_data(200);
    ds_optimizer opts[9];
    int n_opts = 0;
    opts[n_opts] = ds_optimizer_defaults(DS_OPT_SGD);
    opts[n_opts++].momentum = 0.9;
    opts[n_opts] = ds_optimizer_defaults(DS_OPT_SGD);
    opts[n_opts].momentum = 0.5;
    opts[n_opts++].nesterov = 1;
    opts[n_opts++] = ds_optimizer_defaults(DS_OPT_ADAM);
    opts[n_opts++] = ds_optimizer_defaults(DS_OPT_ADAMW);
    opts[n_opts++] = ds_optimizer_defaults(DS_OPT_NADAM);
    opts[n_opts] = ds_optimizer_defaults(DS_OPT_RMSPROP);
    opts[n_opts++].momentum = 0.5;
    opts[n_opts] = ds_optimizer_defaults(DS_OPT_ADAGRAD);
    opts[n_opts++].clipvalue = 0.01;
    opts[n_opts] = ds_optimizer_defaults(DS_OPT_SGD);
    opts[n_opts++].clipnorm = 0.1; /* not elementwise: the unfused path */
    opts[n_opts++] = ds_optimizer_defaults(DS_OPT_ADAMAX);
    ds_kernel kernels[2] = {DS_KERNEL_PORTABLE, ds_kernel_best()};
    for (int q = 0; q < 2; q++)
        for (int t = 1; t <= 2; t++)
            for (int i = 0; i < n_opts; i++) {
                ds_model *a = make_mlp_opt(kernels[q], t, 0, opts[i]);
                ds_model *b = make_mlp_opt(kernels[q], t, 0, opts[i]);
                ds_fit_options fo = ds_fit_defaults();
                fo.batch_size = 45;
                fo.shuffle = 0;
                CHECK_OK(ds_model_fit(a, d, &fo, NULL, NULL));
                for (int r0 = 0; r0 < d->n; r0 += 45) {
                    int nb = d->n - r0 < 45 ? d->n - r0 : 45;
                    ds_model_zero_grad(b);
                    CHECK_OK(ds_model_train_batch_grad(b, d->x + (size_t)r0 * N_IN,
                                                       d->y + (size_t)r0 * N_OUT, nb, NULL, NULL,
                                                       NULL));
                    CHECK_OK(ds_model_apply_gradients(b, NULL));
                }
                CHECK(memcmp(ds_model_params(a), ds_model_params(b),
                             sizeof(float) * ds_model_n_params(a)) == 0,
                      "%s, %d threads, %s: fit's fused step differs from the separate one",
                      ds_kernel_name(kernels[q]), t, ds_opt_kind_name(opts[i].kind));
                CHECK(ds_model_iterations(a) == ds_model_iterations(b), "iterations");
                ds_model_free(a);
                ds_model_free(b);
            }
    ds_dataset_free(d);
}

#ifdef COUNT_MALLOC
static long allocs_after_first = -1, allocs_at_end;
static int count_batches(ds_model *m, int epoch, int batch, int n_batches, double loss, void *u)
{
    (void)m, (void)n_batches, (void)loss, (void)u;
    if (epoch == 0 && batch == 0) allocs_after_first = n_allocs;
    allocs_at_end = n_allocs;
    return 0;
}
#endif

static void test_threaded_fit_allocates_nothing(void)
{
#ifdef COUNT_MALLOC
    ds_dataset *d = make_data(400);
    ds_model *m = make_mlp(ds_kernel_best(), 1);
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 70;
    fo.epochs = 3;
    fo.threads = 2;
    fo.validation_split = 0.2;
    fo.on_batch_end = count_batches;
    CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
    CHECK(ds_model_threads(m) == 2, "fit's threads option stays with the model");
    CHECK(allocs_after_first >= 0 && allocs_at_end == allocs_after_first,
          "%ld allocations after the first batch", allocs_at_end - allocs_after_first);
    ds_model_free(m);
    ds_dataset_free(d);
    /* skipping zeros on two threads: the descriptions and scratch exist before the loop */
    d = make_sparse_data(600);
    m = make_sparse_mlp(1, 2);
    allocs_after_first = -1;
    CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
    CHECK(!ds_sparsity_eligible(&m->exec, SP_IN, 256) || (m->sp && m->sp[0] && m->sp[0]->fwd),
          "zeros were skipped");
    CHECK(allocs_after_first >= 0 && allocs_at_end == allocs_after_first,
          "skipping zeros: %ld allocations after the first batch",
          allocs_at_end - allocs_after_first);
    ds_model_free(m);
    ds_dataset_free(d);
#else
    printf("  skipped: no allocation counter in this build\n");
#endif
}

/* the pool leaves out a worker it keeps waiting for, and later tries it again: the
 * caller's task takes 0.2 ms, a worker's 5 ms (it sleeps) */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void slow_worker_task(void *ctx, int t, int thread)
{
    (void)ctx, (void)t;
    if (thread == 0) {
        double end = now_s() + 2e-4;
        while (now_s() < end) {
        }
    } else {
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
    }
}

static void quick_task(void *ctx, int t, int thread)
{
    (void)ctx, (void)t, (void)thread;
    double end = now_s() + 1e-4;
    while (now_s() < end) {
    }
}

/* n steps on a synthetic clock: each takes `alone` or `threaded` seconds as the pool
 * chose at its start (times 1 + noise * a uniform in [-1, 1], and every 100th step, one
 * that ends an epoch, 40 ms more); returns the first step that ran alone, or -1 */
static int pool_steps(ds_pool *p, double *clock, int n, double alone, double threaded,
                      double noise, ds_rng *r)
{
    int first = -1;
    for (int s = 0; s < n; s++) {
        ds_pool_step_at(p, *clock);
        const int held = ds_pool_held(p);
        if (held && first < 0) first = s;
        CHECK(ds_pool_parts(p) == (held ? 1 : 2), "parts %d while held %d", ds_pool_parts(p),
              held);
        *clock += (held ? alone : threaded) * (1.0 + noise * (2.0 * ds_rng_uniform(r) - 1.0));
        if (s % 100 == 99) *clock += 0.04;
    }
    return first;
}

/* The pool's choice by step times (pool.c), on a synthetic clock */
static void test_pool_chooses_by_step_time(void)
{
    double v3[3] = {3, 1, 2}, v4[4] = {4, 1, 3, 2};
    CHECK(ds_pool_median(v3, 3) == 2.0 && ds_pool_median(v4, 4) == 2.5, "medians %g %g",
          ds_pool_median(v3, 3), ds_pool_median(v4, 4));
    CHECK(ds_pool_prefers(100, 94) && !ds_pool_prefers(100, 96) && !ds_pool_prefers(100, 0),
          "the switching rule");
    ds_pool *p = NULL;
    CHECK_OK(ds_pool_create(&p, 2, NULL));
    if (!p) return; /* CHECK_OK has already failed the test: nothing to run the steps on */
    ds_rng r = ds_rng_split(5, 0);
    double clock = 1000.0;
    /* the same speed either way (3% noise, epoch ends): the workers stay */
    int first = pool_steps(p, &clock, 6000, 500e-6, 500e-6, 0.03, &r);
    CHECK(first < 0 || ds_pool_held(p) == 0, "equal speeds: alone from step %d on", first);
    int trials = 0;
    for (int s = 0; s < 6000; s++)
        trials += pool_steps(p, &clock, 1, 500e-6, 500e-6, 0.03, &r) == 0;
    CHECK(trials < 6000 / 100, "equal speeds: %d of 6000 steps ran alone (trials too often)",
          trials);
    /* threaded steps slower than lone ones (the far processors): the pool goes alone
     * after a slow-down is seen (16 steps) and a trial (17) */
    first = pool_steps(p, &clock, 200, 500e-6, 650e-6, 0.03, &r);
    CHECK(first >= 0 && first <= 40, "slower threads: alone from step %d", first);
    pool_steps(p, &clock, 20, 500e-6, 650e-6, 0.03, &r);
    CHECK(ds_pool_held(p) == 1, "slower threads: the pool went back to them");
    /* ... and back to the workers once they are faster again, within its alone period */
    pool_steps(p, &clock, 1200, 500e-6, 300e-6, 0.03, &r);
    CHECK(ds_pool_held(p) == 0, "faster threads: still alone after 1200 steps");
    ds_pool_free(p);
}

static void test_pool_leaves_out_absent_worker(void)
{
    ds_pool *p = NULL;
    CHECK_OK(ds_pool_create(&p, 2, NULL));
    if (!p) return;
    CHECK(ds_pool_parts(p) == 2, "a new pool cuts work in %d", ds_pool_parts(p));
    for (int r = 0; r < 64; r++) ds_pool_run(p, 2, slow_worker_task, NULL);
    int first = ds_pool_parts(p);
    CHECK(first == 1, "after 64 runs spent waiting for the worker, work is still cut in %d",
          first);
    int calls = 1;
    while (ds_pool_parts(p) == 1 && calls < 1000000) calls++;
    CHECK(calls > 100 && calls < 1000000, "the worker was left out for %d calls", calls);
    CHECK(ds_pool_parts(p) == 2, "the worker was not tried again");
    /* one hiccup in a window (the worker descheduled once) leaves the workers in */
    for (int r = 0; r < 64; r++)
        ds_pool_run(p, 2, r == 10 ? slow_worker_task : quick_task, NULL);
    CHECK(ds_pool_parts(p) == 2, "one slow run out of 64 left the worker out");
    ds_pool_free(p);
}

int main(void)
{
    RUN(test_kernels_match_reference);
    RUN(test_relu_backward_ranges);
    RUN(test_pool_leaves_out_absent_worker);
    RUN(test_pool_chooses_by_step_time);
    RUN(test_split_does_not_change_bits);
    RUN(test_vector_kernels_agree);
    RUN(test_kernel_names_and_env);
    RUN(test_threads_same_bits);
    RUN(test_sparse_kernels_same_bits);
    RUN(test_sparse_builds_agree);
    RUN(test_backward_update_parts);
    RUN(test_balance_adjust);
    RUN(test_sparse_decision);
    RUN(test_skip_zeros_same_bits);
    RUN(test_packed_weights);
    RUN(test_kernels_train_alike);
    RUN(test_fused_step_same_bits);
    RUN(test_threaded_fit_allocates_nothing);
    return HARNESS_DONE();
}
