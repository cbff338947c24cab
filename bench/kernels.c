/*
 * kernels.c - descent's dense-layer products against the BLAS libraries Debian offers
 * (OpenBLAS, BLIS, ATLAS, the reference BLAS), on one core, in GFLOP/s and as a share of
 * the machine's measured FMA peak.
 *
 *   kernels [--rounds N] [--threads T] [--only ROW]   (ROW: 1-based row of the table)
 *
 * 1. The libraries are loaded at run time (dlopen with RTLD_LOCAL, then dlsym of
 *    cblas_sgemm), so that several exporting the same symbols live in one process and
 *    nothing is needed at link time; one that is not installed is reported and left
 *    out. Threads: OPENBLAS_NUM_THREADS, BLIS_NUM_THREADS and OMP_NUM_THREADS are set to
 *    T before loading, and openblas_set_num_threads / bli_thread_set_num_threads are
 *    called where the library has them.
 * 2. For each product, every descent kernel and every library is checked against the
 *    reference kernel of dense.c with an absolute plus relative tolerance before
 *    anything is timed.
 * 3. Timing: each round runs the peak probe, every descent kernel and every library in
 *    turn (about 40 ms each, a whole number of calls; default 7 rounds) and the median
 *    of each is reported, so that a noisy machine slows all alike. Percentages are of
 *    that row's median peak; descent / library ratios are of descent's best kernel.
 * 4. The peak: probe.h (independent FMA chains in registers) on as many threads as the
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
#define _XOPEN_SOURCE 700 /* realpath (XSI), to name the file a library path resolves to */
#include "probe.h"

#include <dlfcn.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---------------------------------------------------------------------------------- */
/* the BLAS libraries, loaded at run time */

/* cblas_sgemm as the CBLAS standard declares it; its enums are passed as int */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
typedef void (*cblas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k,
                               float alpha, const float *a, int lda, const float *b, int ldb,
                               float beta, float *c, int ldc);

typedef enum { LIB_OPENBLAS, LIB_BLIS, LIB_ATLAS, LIB_REFERENCE } lib_kind;

typedef struct {
    lib_kind kind;
    const char *name;
    const char *paths[6]; /* tried in order; NULL-terminated */
    void *handle;         /* NULL: not loaded */
    cblas_sgemm_fn sgemm;
    char file[PATH_MAX];  /* the file the path resolved to */
    char about[200];      /* version and threads, or why it is left out */
} blas_lib;

#define LIBDIR "/usr/lib/x86_64-linux-gnu/"
static blas_lib libs[] = {
    {LIB_OPENBLAS, "OpenBLAS",
     {LIBDIR "openblas-pthread/libopenblas.so.0", LIBDIR "openblas-openmp/libopenblas.so.0",
      LIBDIR "openblas-serial/libopenblas.so.0", "libopenblas.so.0", NULL}, NULL, NULL, "", ""},
    {LIB_BLIS, "BLIS",
     {LIBDIR "blis-pthread/libblis.so.4", LIBDIR "blis-openmp/libblis.so.4",
      LIBDIR "blis-serial/libblis.so.4", "libblis.so.4", NULL}, NULL, NULL, "", ""},
    {LIB_ATLAS, "ATLAS", {LIBDIR "atlas/libblas.so.3", LIBDIR "libcblas.so.3", NULL}, NULL,
     NULL, "", ""},
    {LIB_REFERENCE, "reference", {LIBDIR "blas/libblas.so.3", NULL}, NULL, NULL, "", ""},
};
#define N_LIBS ((int)(sizeof libs / sizeof libs[0]))

/* dlsym into a function pointer: POSIX guarantees the two have the same representation */
#define LOAD_SYM(f, handle, name)                                                          \
    do {                                                                                   \
        void *sym_ = dlsym(handle, name);                                                  \
        _Static_assert(sizeof(f) == sizeof sym_, "function and object pointers differ");  \
        memcpy(&(f), &sym_, sizeof(f));                                                    \
    } while (0)

/* Loads lib's first candidate that opens and has cblas_sgemm, on `threads` threads. */
static void load_lib(blas_lib *lib, int threads)
{
    const char *why = "not installed";
    char err[160] = "";
    for (int i = 0; lib->paths[i] && !lib->handle; i++) {
        const char *path = lib->paths[i];
        if (path[0] == '/' && access(path, F_OK)) continue;
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            if (path[0] != '/') continue; /* a bare name not found: not installed */
            snprintf(err, sizeof err, "%s", e ? e : path);
            why = NULL;
            continue;
        }
        cblas_sgemm_fn f;
        LOAD_SYM(f, h, "cblas_sgemm");
        if (!f) {
            snprintf(err, sizeof err, "%s has no cblas_sgemm", path);
            why = NULL;
            dlclose(h);
            continue;
        }
        if (lib->kind == LIB_BLIS) { /* our cblas_sgemm type passes 32-bit ints */
            int64_t (*int_size)(void);
            LOAD_SYM(int_size, h, "bli_info_get_blas_int_type_size");
            if (int_size && int_size() != 32) {
                snprintf(err, sizeof err, "%s: %d-bit BLAS integers", path, (int)int_size());
                why = NULL;
                dlclose(h);
                continue;
            }
        }
        lib->handle = h, lib->sgemm = f;
        if (!realpath(path, lib->file)) snprintf(lib->file, sizeof lib->file, "%s", path);
    }
    if (!lib->handle) {
        snprintf(lib->about, sizeof lib->about, "%s", why ? why : err);
        return;
    }
    void *h = lib->handle;
    switch (lib->kind) {
    case LIB_OPENBLAS: {
        void (*set)(int);
        int (*get)(void);
        char *(*config)(void);
        LOAD_SYM(set, h, "openblas_set_num_threads");
        LOAD_SYM(get, h, "openblas_get_num_threads");
        LOAD_SYM(config, h, "openblas_get_config");
        if (set) set(threads);
        snprintf(lib->about, sizeof lib->about, "%s; threads %d", config ? config() : "?",
                 get ? get() : -1);
        break;
    }
    case LIB_BLIS: { /* BLIS's dim_t is 64 bits in Debian's build (and by default) */
        void (*set)(int64_t);
        int64_t (*get)(void);
        const char *(*version)(void);
        int (*arch_id)(void);
        const char *(*arch_name)(int);
        LOAD_SYM(set, h, "bli_thread_set_num_threads");
        LOAD_SYM(get, h, "bli_thread_get_num_threads");
        LOAD_SYM(version, h, "bli_info_get_version_str");
        LOAD_SYM(arch_id, h, "bli_arch_query_id");
        LOAD_SYM(arch_name, h, "bli_arch_string");
        if (set) set(threads);
        snprintf(lib->about, sizeof lib->about, "BLIS %s, %s kernels; threads %d",
                 version ? version() : "?", arch_id && arch_name ? arch_name(arch_id()) : "?",
                 get ? (int)get() : -1);
        break;
    }
    default: /* no version string, no thread setting: the file name and the environment */
        snprintf(lib->about, sizeof lib->about,
                 "no version string (see the file name); threads from the environment");
        break;
    }
}

static void run_blas(const blas_lib *lib, problem *p)
{
    switch (p->op) {
    case FORWARD:
        lib->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, p->B, p->O, p->I, 1.0f,
                   p->inp, p->I, p->w, p->O, 0.0f, p->out, p->O);
        break;
    case BACKWARD_INPUT:
        lib->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, p->B, p->I, p->O, 1.0f,
                   p->dout, p->O, p->w, p->O, 0.0f, p->dinp, p->I);
        break;
    case BACKWARD_WEIGHT:
        lib->sgemm(CBLAS_ROW_MAJOR, CBLAS_TRANS, CBLAS_NO_TRANS, p->I, p->O, p->B, 1.0f,
                   p->inp, p->I, p->dout, p->O, 1.0f, p->dw, p->O);
        break;
    }
}

/* ---------------------------------------------------------------------------------- */
/* the implementations compared: descent's kernels, then the libraries loaded */

typedef struct {
    const char *name;
    const ds_dense_kernels *kern; /* or */
    const blas_lib *lib;
} impl;

static void run_impl(const impl *m, problem *p, ds_pool *pool)
{
    if (m->kern) run_descent(m->kern, p, pool);
    else run_blas(m->lib, p);
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
static int check(problem *p, const impl *m)
{
    size_t n;
    float *out = result(p, &n);
    float *ref = malloc(sizeof(float) * n), *mag = malloc(sizeof(float) * n);
    float *keep = malloc(sizeof(float) * n);
    reference(p, ref, mag);
    memcpy(keep, out, sizeof(float) * n);
    run_impl(m, p, NULL);
    int K = p->op == FORWARD ? p->I : p->op == BACKWARD_INPUT ? p->O : p->B;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-6 + 2.0 * (K + 2) * (double)FLT_EPSILON * (double)mag[i];
        if (!(fabs((double)out[i] - (double)ref[i]) <= tol)) bad++;
    }
    if (bad)
        fprintf(stderr, "kernels: %s %s %dx%dx%d: %zu of %zu results off the reference\n", m->name,
                op_names[p->op], p->B, p->I, p->O, bad, n);
    if (p->op == BACKWARD_WEIGHT) memcpy(out, keep, sizeof(float) * n);
    free(ref), free(mag), free(keep);
    return bad == 0;
}

#define MAX_IMPLS (3 + N_LIBS)

/* calls of m that take about `seconds` (at least 1), timed after a warm-up call */
static int calls_for(const impl *m, problem *p, ds_pool *pool, double seconds)
{
    run_impl(m, p, pool);
    int n = 1;
    for (;;) {
        double t0 = now();
        for (int i = 0; i < n; i++) run_impl(m, p, pool);
        double t = now() - t0;
        if (t >= seconds / 8 || n >= 1 << 20) {
            double c = seconds * n / (t > 0.0 ? t : 1e-9);
            return c < 1.0 ? 1 : c > 1e7 ? 10000000 : (int)c;
        }
        n *= 2;
    }
}

/* median GFLOP/s of `rounds` rounds of the peak probe and each implementation, in turn;
   gflops[n] is the probe's */
static void time_problem(problem *p, const impl *impls, int n, ds_pool *pool, int rounds,
                         double *gflops /* n + 1 */)
{
    const double flops = 2.0 * p->B * p->I * p->O;
    int reps[MAX_IMPLS];
    double t[MAX_IMPLS + 1][64];
    for (int k = 0; k < n; k++) reps[k] = calls_for(&impls[k], p, pool, 0.040);
    for (int r = 0; r < rounds; r++) {
        t[n][r] = probe_peak_threads(ds_pool_threads(pool), 20.0);
        for (int k = 0; k < n; k++) {
            double t0 = now();
            for (int i = 0; i < reps[k]; i++) run_impl(&impls[k], p, pool);
            t[k][r] = flops * reps[k] / (now() - t0) / 1e9;
        }
    }
    for (int k = 0; k <= n; k++) gflops[k] = median(t[k], rounds);
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

/* "| %-*s " cells of a markdown table: the header, then the separator */
static void table_header(const char *const *names, int n, const int *w)
{
    printf("| %-15s | %-18s |", "product", "B x I x O");
    for (int k = 0; k < n; k++) printf(" %*s |", w[k], names[k]);
    printf("\n|-----------------|--------------------|");
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < w[k] + 1; i++) putchar('-');
        printf(":|");
    }
    putchar('\n');
}

static int width(const char *s, int min)
{
    int n = (int)strlen(s);
    return n > min ? n : min;
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
    ds_pool *pool = NULL;
    if (threads > 1 && ds_pool_create(&pool, threads, NULL)) return 1;

    /* before any library is loaded: those without a thread-setting call read these */
    char nthreads[16];
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    setenv("OPENBLAS_NUM_THREADS", nthreads, 1);
    setenv("BLIS_NUM_THREADS", nthreads, 1);
    setenv("OMP_NUM_THREADS", nthreads, 1);

    char cpu[128];
    cpu_name(cpu, sizeof cpu);
    printf("CPU: %s\n", cpu);
    printf("descent %s (%s), compiler %s\n", ds_version(), ds_kernel_name(ds_kernel_best()),
           __VERSION__);
    printf("BLAS libraries (dlopen, cblas_sgemm; OPENBLAS_NUM_THREADS, BLIS_NUM_THREADS and "
           "OMP_NUM_THREADS set to %d):\n", threads);
    for (int l = 0; l < N_LIBS; l++) {
        load_lib(&libs[l], threads);
        if (libs[l].handle)
            printf("  %-9s %s\n  %-9s   %s\n", libs[l].name, libs[l].file, "", libs[l].about);
        else printf("  %-9s %s: left out\n", libs[l].name, libs[l].about);
    }
    printf("threads: descent %d; median of %d alternating rounds\n", threads, rounds);

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
    printf("FMA peak of one core, best of 5: AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s\n", p512,
           p256);
#endif

    impl impls[MAX_IMPLS];
    int n_kerns = 0, n = 0;
    for (int k = DS_KERNEL_AVX512; k >= DS_KERNEL_AVX2; k--)
        if (ds_kernel_available((ds_kernel)k)) {
            const ds_dense_kernels *kern = ds_dense_kernels_for((ds_kernel)k);
            impls[n++] = (impl){ds_kernel_name(kern->kind), kern, NULL};
        }
    if (!n) {
        const ds_dense_kernels *kern = ds_dense_kernels_for(DS_KERNEL_PORTABLE);
        impls[n++] = (impl){ds_kernel_name(kern->kind), kern, NULL};
    }
    n_kerns = n;
    for (int l = 0; l < N_LIBS; l++)
        if (libs[l].handle) impls[n++] = (impl){libs[l].name, NULL, &libs[l]};

    static const struct {
        op_kind op;
        int B, I, O;
    } cases[] = {{FORWARD, 64, 784, 256},         {BACKWARD_INPUT, 64, 784, 256},
                 {BACKWARD_WEIGHT, 64, 784, 256}, {FORWARD, 64, 256, 128},
                 {BACKWARD_INPUT, 64, 256, 128},  {BACKWARD_WEIGHT, 64, 256, 128},
                 {FORWARD, 1024, 1024, 1024},     {BACKWARD_INPUT, 1024, 1024, 1024},
                 {BACKWARD_WEIGHT, 1024, 1024, 1024}};
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    double g[N_CASES][MAX_IMPLS + 1];
    int done[N_CASES] = {0};

    /* table 1, row by row as measured: GFLOP/s */
    const char *names[MAX_IMPLS + 1];
    int w[MAX_IMPLS + 1];
    names[0] = "peak";
    w[0] = 6;
    for (int k = 0; k < n; k++) names[k + 1] = impls[k].name, w[k + 1] = width(impls[k].name, 6);
    printf("\nGFLOP/s (peak: the FMA probe in the same rounds)\n\n");
    table_header(names, n + 1, w);
    int ok = 1;
    for (int c = 0; c < N_CASES; c++) {
        if (only && only != c + 1) continue;
        problem p = make_problem(cases[c].op, cases[c].B, cases[c].I, cases[c].O);
        for (int k = 0; k < n; k++) ok &= check(&p, &impls[k]);
        time_problem(&p, impls, n, pool, rounds, g[c]);
        done[c] = 1;
        char shape[32];
        snprintf(shape, sizeof shape, "%d x %d x %d", p.B, p.I, p.O);
        printf("| %-15s | %-18s | %*.1f |", op_names[p.op], shape, w[0], g[c][n]);
        for (int k = 0; k < n; k++) printf(" %*.1f |", w[k + 1], g[c][k]);
        putchar('\n');
        fflush(stdout);
        free_problem(&p);
    }

    /* table 2: % of peak of descent's best kernel and each library, and descent / each */
    const char *names2[2 * MAX_IMPLS];
    char ratio[MAX_IMPLS][32];
    int w2[2 * MAX_IMPLS], m = 0;
    for (int k = 0; k < n; k++) /* descent's best kernel, then the libraries */
        if (k == 0 || k >= n_kerns) names2[m] = impls[k].name, w2[m] = width(impls[k].name, 5), m++;
    for (int k = n_kerns; k < n; k++) {
        snprintf(ratio[k], sizeof ratio[k], "d/%s", impls[k].name);
        names2[m] = ratio[k], w2[m] = width(ratio[k], 6), m++;
    }
    printf("\n%% of peak (descent: its %s kernel), then d/X = descent %s / library X\n\n",
           impls[0].name, impls[0].name);
    table_header(names2, m, w2);
    for (int c = 0; c < N_CASES; c++) {
        if (!done[c]) continue;
        double pk = g[c][n] > 0.0 ? g[c][n] : 1.0;
        char shape[32];
        snprintf(shape, sizeof shape, "%d x %d x %d", cases[c].B, cases[c].I, cases[c].O);
        printf("| %-15s | %-18s |", op_names[cases[c].op], shape);
        int j = 0;
        printf(" %*.0f%% |", w2[j++] - 1, 100.0 * g[c][0] / pk);
        for (int k = n_kerns; k < n; k++) printf(" %*.0f%% |", w2[j++] - 1, 100.0 * g[c][k] / pk);
        for (int k = n_kerns; k < n; k++) {
            double r = g[c][0] / g[c][k];
            printf(" %*.*fx |", w2[j++] - 1, r < 100.0 ? 2 : 1, r);
        }
        putchar('\n');
    }
    ds_pool_free(pool);
    if (!ok) fprintf(stderr, "kernels: some results were off the reference (see above)\n");
    return ok ? 0 : 1;
}
