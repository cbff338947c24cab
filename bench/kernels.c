/*
 * kernels.c - descent's dense-layer products against OpenBLAS on one core, as a share of
 * the machine's measured FMA peak.
 *
 *   kernels [--rounds N] [--threads T] [--only ROW]   (ROW: 1-based row of the table)
 *
 * 1. For each product, every descent kernel is checked against the reference kernel of
 *    dense.c (and OpenBLAS against it too) with an absolute plus relative tolerance
 *    before anything is timed.
 * 2. Timing: each round runs the peak probe, every descent kernel and OpenBLAS in turn
 *    (about 40 ms each; default 7 rounds) and the median of each is reported, so that a
 *    noisy machine slows all alike. Percentages are of that row's median peak.
 * 3. The peak: probe.h (independent FMA chains in registers) on as many threads as the
 *    products use.
 *
 * Products (B = batch rows, I = inputs, O = outputs of a dense layer):
 *   forward          out (B,O) = inp (B,I) @ W (I,O)          sgemm NN, M=B N=O K=I
 *                    (no bias, which BLAS has no place for)
 *   backward_input   dinp (B,I) = dout (B,O) @ W^T            sgemm NT, M=B N=I K=O
 *                    (descent's time includes transposing dout when the kernel reads it
 *                    transposed, below doutT_below rows, as the library does)
 *   backward_weight  dW (I,O) += inp^T @ dout                 sgemm TN, M=I N=O K=B
 *                    (descent adds per shard of DS_SHARD_ROWS rows, in shard order)
 * GFLOP/s counts 2 B I O flops per product.
 */
#include "probe.h"

#include <cblas.h>
#undef I /* OpenBLAS's header pulls in <complex.h>; we name input features I */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { return probe_now(); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---------------------------------------------------------------------------------- */
/* products */

typedef enum { FORWARD, BACKWARD_INPUT, BACKWARD_WEIGHT } op_kind;
static const char *const op_names[] = {"forward", "backward_input", "backward_weight"};

typedef struct {
    op_kind op;
    int B, I, O;
    float *inp, *w, *bias, *dout, *doutT, *out, *dinp, *dw; /* dw has I*O + O floats */
    float *scratch; /* the reference's, and the kernels' (a pack per thread) */
} problem;

static float *rnd(size_t n, ds_rng *r)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * ds_rng_uniform(r) - 1.0);
    return p;
}

static problem make_problem(op_kind op, int B, int I, int O)
{
    ds_rng r = ds_rng_split(1, (uint64_t)op);
    problem p = {op, B, I, O, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    p.inp = rnd((size_t)B * I, &r);
    p.w = rnd((size_t)I * O, &r);
    p.bias = rnd((size_t)O, &r);
    p.dout = rnd((size_t)B * O, &r);
    p.doutT = rnd((size_t)B * O, &r);
    p.out = rnd((size_t)B * O, &r);
    p.dinp = rnd((size_t)B * I, &r);
    p.dw = rnd((size_t)I * O + (size_t)O, &r);
    size_t pack = ds_pack_floats(B) * DS_MAX_THREADS, ref = (size_t)I * O + (size_t)O;
    p.scratch = rnd(pack > ref ? pack : ref, &r);
    return p;
}

static void free_problem(problem *p)
{
    free(p->inp), free(p->w), free(p->bias), free(p->dout), free(p->doutT), free(p->out);
    free(p->dinp), free(p->dw), free(p->scratch);
}

typedef struct {
    const ds_dense_kernels *kern;
    const problem *p;
    int parts;
    float *scratch; /* per thread, ds_pack_floats(B) floats each */
} job;

/* [lo, hi) of part i of n items cut into `parts` runs of whole units of `unit` */
static void cut(int n, int unit, int parts, int i, int *lo, int *hi)
{
    int units = (n + unit - 1) / unit;
    *lo = units * i / parts * unit;
    *hi = units * (i + 1) / parts * unit;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

static void descent_task(void *ctx, int t, int thread)
{
    const job *j = ctx;
    const problem *p = j->p;
    float *scratch = j->scratch + ds_pack_floats(p->B) * thread;
    int lo, hi;
    switch (p->op) {
    case FORWARD: {
        ds_dense_fwd_args g = {p->out, NULL, p->inp, p->w, NULL, p->B, p->I, p->O};
        cut(p->O, 32, j->parts, t, &lo, &hi);
        if (lo < hi) j->kern->forward(&g, 0, p->B, lo, hi, scratch);
        break;
    }
    case BACKWARD_INPUT: {
        ds_dense_bwd_inp_args g = {p->dinp, p->dout, p->doutT, p->w, p->B, p->I, p->O};
        cut(p->I, 8, j->parts, t, &lo, &hi);
        if (lo < hi) j->kern->backward_input(&g, 0, p->B, lo, hi, scratch);
        break;
    }
    case BACKWARD_WEIGHT: {
        ds_dense_bwd_w_args g = {p->dw, p->inp, p->dout, p->B, p->I, p->O, 0};
        cut(p->I, 8, j->parts, t, &lo, &hi);
        if (lo < hi) j->kern->backward_weight(&g, lo, hi, 0, p->O, scratch);
        break;
    }
    }
}

/* one product with descent's kernel, on `pool` (NULL: the calling thread) */
static void run_descent(const ds_dense_kernels *kern, problem *p, ds_pool *pool)
{
    if (p->op == BACKWARD_INPUT && p->B < kern->doutT_below) /* as dense_run.c does */
        for (int b = 0; b < p->B; b++)
            for (int o = 0; o < p->O; o++)
                p->doutT[(size_t)o * p->B + b] = p->dout[(size_t)b * p->O + o];
    job j = {kern, p, ds_pool_threads(pool), p->scratch};
    ds_pool_run(pool, j.parts, descent_task, &j);
}

static void run_blas(problem *p)
{
    switch (p->op) {
    case FORWARD:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->B, p->O, p->I, 1.0f, p->inp,
                    p->I, p->w, p->O, 0.0f, p->out, p->O);
        break;
    case BACKWARD_INPUT:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->B, p->I, p->O, 1.0f, p->dout,
                    p->O, p->w, p->O, 0.0f, p->dinp, p->I);
        break;
    case BACKWARD_WEIGHT:
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->I, p->O, p->B, 1.0f, p->inp,
                    p->I, p->dout, p->O, 1.0f, p->dw, p->O);
        break;
    }
}

/* the result array of a problem and its length */
static float *result(problem *p, size_t *n)
{
    switch (p->op) {
    case FORWARD: *n = (size_t)p->B * p->O; return p->out;
    case BACKWARD_INPUT: *n = (size_t)p->B * p->I; return p->dinp;
    default: *n = (size_t)p->I * p->O; return p->dw;
    }
}

/* the reference result, and the magnitudes of its terms (for the tolerance) */
static void reference(problem *p, float *ref, float *mag)
{
    size_t nx = (size_t)p->B * p->I, nw = (size_t)p->I * p->O, ny = (size_t)p->B * p->O;
    float *ai = malloc(sizeof(float) * nx), *aw = malloc(sizeof(float) * nw);
    float *ad = malloc(sizeof(float) * ny), *ab = malloc(sizeof(float) * (size_t)p->O);
    for (size_t i = 0; i < nx; i++) ai[i] = fabsf(p->inp[i]);
    for (size_t i = 0; i < nw; i++) aw[i] = fabsf(p->w[i]);
    for (size_t i = 0; i < ny; i++) ad[i] = fabsf(p->dout[i]);
    for (int i = 0; i < p->O; i++) ab[i] = fabsf(p->bias[i]);
    float *tmp = malloc(sizeof(float) * (nw + (size_t)p->O));
    switch (p->op) {
    case FORWARD:
        ds_dense_forward(ref, p->inp, p->w, NULL, p->B, p->I, p->O);
        ds_dense_forward(mag, ai, aw, NULL, p->B, p->I, p->O);
        break;
    case BACKWARD_INPUT:
        ds_dense_backward(ref, tmp, NULL, p->dout, p->inp, p->w, p->scratch, p->B, p->I, p->O);
        ds_dense_backward(mag, tmp, NULL, ad, ai, aw, p->scratch, p->B, p->I, p->O);
        break;
    case BACKWARD_WEIGHT:
        memcpy(ref, p->dw, sizeof(float) * nw);
        ds_dense_backward(NULL, ref, NULL, p->dout, p->inp, p->w, p->scratch, p->B, p->I, p->O);
        for (size_t i = 0; i < nw; i++) mag[i] = fabsf(p->dw[i]);
        ds_dense_backward(NULL, mag, NULL, ad, ai, aw, p->scratch, p->B, p->I, p->O);
        break;
    }
    free(ai), free(aw), free(ad), free(ab), free(tmp);
}

/* checks one implementation against the reference; restores dw (accumulated into) */
static int check(problem *p, const ds_dense_kernels *kern, const char *name)
{
    size_t n;
    float *out = result(p, &n);
    float *ref = malloc(sizeof(float) * n), *mag = malloc(sizeof(float) * n);
    float *keep = malloc(sizeof(float) * n);
    reference(p, ref, mag);
    memcpy(keep, out, sizeof(float) * n);
    if (kern) run_descent(kern, p, NULL);
    else run_blas(p);
    int K = p->op == FORWARD ? p->I : p->op == BACKWARD_INPUT ? p->O : p->B;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-6 + 2.0 * (K + 2) * (double)FLT_EPSILON * (double)mag[i];
        if (!(fabs((double)out[i] - (double)ref[i]) <= tol)) bad++;
    }
    if (bad)
        fprintf(stderr, "kernels: %s %s %dx%dx%d: %zu of %zu results off the reference\n", name,
                op_names[p->op], p->B, p->I, p->O, bad, n);
    if (p->op == BACKWARD_WEIGHT) memcpy(out, keep, sizeof(float) * n);
    free(ref), free(mag), free(keep);
    return bad == 0;
}

/* median GFLOP/s of `rounds` rounds of the peak probe, each kernel and OpenBLAS, in turn */
static void time_problem(problem *p, const ds_dense_kernels *const *kerns, int n_kerns,
                         ds_pool *pool, int rounds, double *gflops /* n_kerns + 2 */)
{
    const double flops = 2.0 * p->B * p->I * p->O;
    int reps = (int)(40e6 / (flops / 100.0)); /* about 40 ms at 100 GFLOP/s */
    if (reps < 1) reps = 1;
    double t[8][64];
    for (int r = 0; r < rounds; r++) {
        t[n_kerns + 1][r] = probe_peak_threads(ds_pool_threads(pool), 20.0);
        for (int k = 0; k <= n_kerns; k++) {
            double t0 = now();
            for (int i = 0; i < reps; i++) {
                if (k < n_kerns) run_descent(kerns[k], p, pool);
                else run_blas(p);
            }
            t[k][r] = flops * reps / (now() - t0) / 1e9;
        }
    }
    for (int k = 0; k <= n_kerns + 1; k++) gflops[k] = median(t[k], rounds);
}

static void cpu_name(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, size, "%s", c);
            }
            break;
        }
    fclose(f);
}

int main(int argc, char **argv)
{
    int rounds = 7, threads = 1, only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: kernels [--rounds N] [--threads T] [--only ROW]\n");
            return 2;
        }
    }
    if (rounds < 5) rounds = 5;
    if (rounds > 64) rounds = 64;
    if (threads < 1 || threads > DS_MAX_THREADS) threads = 1;
    openblas_set_num_threads(threads);
    ds_pool *pool = NULL;
    if (threads > 1 && ds_pool_create(&pool, threads, NULL)) return 1;

    char cpu[128];
    cpu_name(cpu, sizeof cpu);
    printf("CPU: %s\n", cpu);
    printf("descent %s (%s), compiler %s\n", ds_version(), ds_kernel_name(ds_kernel_best()),
           __VERSION__);
    printf("OpenBLAS: %s\n", openblas_get_config());
    printf("threads: descent %d, OpenBLAS %d; median of %d alternating rounds\n", threads,
           openblas_get_num_threads(), rounds);

#if defined(DS_HAVE_X86_KERNELS)
    double p512 = 0.0, p256 = 0.0;
    for (int r = 0; r < 5; r++) {
        if (ds_kernel_available(DS_KERNEL_AVX512)) {
            double v = probe_avx512(20000000);
            if (v > p512) p512 = v;
        }
        if (ds_kernel_available(DS_KERNEL_AVX2)) {
            double v = probe_avx2(40000000);
            if (v > p256) p256 = v;
        }
    }
    printf("FMA peak of one core, best of 5: AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s\n\n", p512,
           p256);
#endif

    const ds_dense_kernels *kerns[4];
    int n_kerns = 0;
    for (int k = DS_KERNEL_AVX512; k >= DS_KERNEL_AVX2; k--)
        if (ds_kernel_available((ds_kernel)k)) kerns[n_kerns++] = ds_dense_kernels_for((ds_kernel)k);
    if (!n_kerns) kerns[n_kerns++] = ds_dense_kernels_for(DS_KERNEL_PORTABLE);

    static const struct {
        op_kind op;
        int B, I, O;
    } cases[] = {{FORWARD, 64, 784, 256},         {BACKWARD_INPUT, 64, 784, 256},
                 {BACKWARD_WEIGHT, 64, 784, 256}, {FORWARD, 64, 256, 128},
                 {BACKWARD_INPUT, 64, 256, 128},  {BACKWARD_WEIGHT, 64, 256, 128},
                 {FORWARD, 1024, 1024, 1024},     {BACKWARD_INPUT, 1024, 1024, 1024},
                 {BACKWARD_WEIGHT, 1024, 1024, 1024}};
    printf("| product         | B x I x O          |");
    for (int k = 0; k < n_kerns; k++) printf(" %-6s GFLOP/s |", ds_kernel_name(kerns[k]->kind));
    printf(" OpenBLAS GFLOP/s | descent/OpenBLAS | peak GFLOP/s | descent %% of peak |"
           " OpenBLAS %% of peak |\n");
    printf("|-----------------|--------------------|");
    for (int k = 0; k < n_kerns; k++) printf("---------------:|");
    printf("-----------------:|-----------------:|-------------:|------------------:|"
           "-------------------:|\n");
    int ok = 1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only && (size_t)only != c + 1) continue;
        problem p = make_problem(cases[c].op, cases[c].B, cases[c].I, cases[c].O);
        for (int k = 0; k < n_kerns; k++) ok &= check(&p, kerns[k], ds_kernel_name(kerns[k]->kind));
        ok &= check(&p, NULL, "OpenBLAS");
        double g[6];
        time_problem(&p, kerns, n_kerns, pool, rounds, g);
        double pk = g[n_kerns + 1] > 0.0 ? g[n_kerns + 1] : 1.0;
        char shape[32];
        snprintf(shape, sizeof shape, "%d x %d x %d", p.B, p.I, p.O);
        printf("| %-15s | %-18s |", op_names[p.op], shape);
        for (int k = 0; k < n_kerns; k++) printf(" %14.1f |", g[k]);
        printf(" %16.1f | %15.2fx | %12.1f | %16.0f%% | %18.0f%% |\n", g[n_kerns],
               g[0] / g[n_kerns], pk, 100.0 * g[0] / pk, 100.0 * g[n_kerns] / pk);
        fflush(stdout);
        free_problem(&p);
    }
    ds_pool_free(pool);
    if (!ok) fprintf(stderr, "kernels: some results were off the reference (see above)\n");
    return ok ? 0 : 1;
}
