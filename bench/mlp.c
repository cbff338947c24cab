/*
 * mlp.c - training speed of whole models through the public API, on random data (no
 * data set needed).
 *
 *   mlp            W2's model: 784-256-128-10 (relu, relu, softmax), categorical
 *                  crossentropy, sgd(0.01, momentum=0.9), batch 64, 60000 rows; seconds
 *                  per epoch and effective GFLOP/s at 1 and 2 threads, and the speedup
 *   mlp --scaling  the same measure over batch size, width and depth
 *   mlp --epochs N epochs timed per setting (default 5; the median is reported)
 *   mlp --fashion DIR  also W2's model on Fashion-MNIST (DIR holds Debian's
 *                  train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz; pixels / 255),
 *                  where half the inputs are zero: 1 and 2 threads, zero skipping on and off
 *   mlp --probe MS only the FMA probe: MS milliseconds on 1 thread, then on 2, alternating
 *                  10 times; prints the median 2-thread speedup (bench.py runs it between
 *                  its W2 runs, so that their 2-thread figure has the machine's ceiling
 *                  beside it)
 *
 * Effective GFLOP/s = 6 x weights x samples / seconds: forward, input gradient and weight
 * gradient each cost 2 x weights x samples (the first layer's input gradient is not
 * computed, so the real work is a little less). Settings alternate epoch by epoch so
 * that a noisy machine slows them alike; the median epoch is reported. Between epochs the
 * FMA probe (probe.h) runs on 1 and then 2 threads: on a shared machine the second core
 * is not always there, and the probe's 2-thread speedup is the ceiling the model's can be
 * compared with.
 */
#include "descent.h"
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

typedef struct {
    int n_in, depth, width, n_out, batch, threads;
    ds_kernel kernel;
    int dense_only; /* zero skipping off */
} setting;

static ds_model *make_model(const setting *s)
{
    ds_model *m = NULL;
    ds_error err;
    if (ds_model_create(&m, s->n_in, &err)) {
        fprintf(stderr, "mlp: %s\n", err.message);
        exit(1);
    }
    if (s->kernel != DS_KERNEL_AUTO) ds_model_set_kernel(m, s->kernel, NULL);
    ds_model_set_skip_zeros(m, !s->dense_only, NULL);
    ds_model_set_threads(m, s->threads, NULL);
    for (int k = 0; k < s->depth; k++) {
        /* W2's model narrows: 256 then 128 */
        int units = s->depth == 2 && s->width == 256 && k == 1 ? 128 : s->width;
        ds_dense_config c = ds_dense_defaults(units);
        c.activation = ds_activation_defaults(DS_ACT_RELU);
        ds_model_add_dense(m, &c, NULL);
    }
    ds_dense_config c = ds_dense_defaults(s->n_out);
    c.activation = ds_activation_defaults(DS_ACT_SOFTMAX);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, 1, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
    cc.optimizer = ds_optimizer_defaults(DS_OPT_SGD);
    cc.optimizer.momentum = 0.9;
    ds_model_compile(m, &cc, NULL);
    return m;
}

static size_t n_weights(ds_model *m)
{
    size_t w = 0;
    for (int k = 0; k < ds_model_n_layers(m); k++) {
        int n_in = k ? ds_model_layer_units(m, k - 1) : ds_model_n_inputs(m);
        w += (size_t)n_in * (size_t)ds_model_layer_units(m, k);
    }
    return w;
}

static ds_dataset *random_data(int n, int n_in, int n_out)
{
    ds_rng r = ds_rng_split(7, 0);
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)n_in);
    float *y = calloc((size_t)n * (size_t)n_out, sizeof(float));
    if (!x || !y) exit(1);
    for (size_t i = 0; i < (size_t)n * (size_t)n_in; i++) x[i] = (float)ds_rng_uniform(&r);
    for (int i = 0; i < n; i++) y[(size_t)i * n_out + ds_rng_below(&r, (uint64_t)n_out)] = 1.0f;
    ds_dataset *d = NULL;
    ds_dataset_create(&d, n, n_in, n_out, x, y, NULL);
    free(x);
    free(y);
    return d;
}

/* n bytes of a gzip file after `skip` header bytes, or NULL */
static unsigned char *read_gz(const char *dir, const char *name, int skip, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    unsigned char head[16], *p = malloc(n);
    int ok = p && gzread(f, head, (unsigned)skip) == skip && gzread(f, p, (unsigned)n) == (int)n;
    gzclose(f);
    if (!ok) {
        free(p);
        return NULL;
    }
    return p;
}

/* Fashion-MNIST's 60000 training images (pixels / 255) and one-hot labels, or NULL */
static ds_dataset *fashion_data(const char *dir, int n)
{
    unsigned char *px = read_gz(dir, "train-images-idx3-ubyte.gz", 16, (size_t)n * 784);
    unsigned char *lb = read_gz(dir, "train-labels-idx1-ubyte.gz", 8, (size_t)n);
    float *x = px ? malloc(sizeof(float) * (size_t)n * 784) : NULL;
    float *y = lb ? calloc((size_t)n * 10, sizeof(float)) : NULL;
    ds_dataset *d = NULL;
    if (x && y) {
        for (size_t i = 0; i < (size_t)n * 784; i++) x[i] = (float)px[i] / 255.0f;
        for (int i = 0; i < n; i++) y[(size_t)i * 10 + lb[i] % 10] = 1.0f;
        ds_dataset_create(&d, n, 784, 10, x, y, NULL);
    }
    free(px), free(lb), free(x), free(y);
    return d;
}

/* median seconds per epoch of each setting, timed in alternation, and the median 2-thread
 * speedup of the FMA probe between epochs (in *ceiling, when not NULL), with the least and
 * most round trip between two processors then (in trip[0], trip[1]) */
static void time_settings(const setting *s, int n, const ds_dataset *d, int epochs,
                          double *sec, size_t *weights, double *ceiling, double *trip)
{
    ds_model *m[8];
    double t[8][32], probe[32], trips[32];
    for (int i = 0; i < n; i++) {
        m[i] = make_model(&s[i]);
        weights[i] = n_weights(m[i]);
    }
    for (int e = 0; e <= epochs; e++) {
        for (int i = 0; i < n; i++) {
            ds_fit_options fo = ds_fit_defaults();
            fo.batch_size = s[i].batch;
            fo.initial_epoch = e;
            fo.epochs = e + 1;
            double t0 = now();
            ds_model_fit(m[i], d, &fo, NULL, NULL);
            if (e > 0) t[i][e - 1] = now() - t0; /* epoch 0 warms caches and threads */
        }
        if (ceiling && e > 0) {
            double one = probe_peak_threads(1, 50.0);
            probe[e - 1] = one > 0.0 ? probe_peak_threads(2, 50.0) / one : 0.0;
            trips[e - 1] = probe_round_trip(20000);
        }
    }
    for (int i = 0; i < n; i++) {
        sec[i] = median(t[i], epochs);
        ds_model_free(m[i]);
    }
    if (ceiling) {
        *ceiling = median(probe, epochs);
        trip[0] = trip[1] = trips[0];
        for (int e = 1; e < epochs; e++) {
            if (trips[e] < trip[0]) trip[0] = trips[e];
            if (trips[e] > trip[1]) trip[1] = trips[e];
        }
    }
}

static double gflops(size_t weights, int rows, double sec)
{
    return 6.0 * (double)weights * rows / sec / 1e9;
}

int main(int argc, char **argv)
{
    int scaling = 0, epochs = 5;
    double probe_ms = 0.0;
    const char *fashion = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scaling")) scaling = 1;
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fashion") && i + 1 < argc) fashion = argv[++i];
        else if (!strcmp(argv[i], "--probe") && i + 1 < argc) probe_ms = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: mlp [--scaling] [--epochs N] [--fashion DIR] [--probe MS]\n");
            return 2;
        }
    }
    if (probe_ms > 0.0) {
        double sp[10];
        for (int r = 0; r < 10; r++) {
            double one = probe_peak_threads(1, probe_ms);
            sp[r] = one > 0.0 ? probe_peak_threads(2, probe_ms) / one : 0.0;
        }
        printf("probe 2-thread speedup %.3f\n", median(sp, 10));
        printf("probe round trip %.0f ns\n", probe_round_trip(20000));
        return 0;
    }
    if (epochs < 1 || epochs > 32) epochs = 5;
    const int rows = 60000;
    printf("descent %s, kernel %s, %d timed epochs of %d rows per setting (median)\n\n",
           ds_version(), ds_kernel_name(ds_kernel_best()), epochs, rows);

    ds_dataset *fd = fashion ? fashion_data(fashion, rows) : NULL;
    if (fashion && !fd) fprintf(stderr, "mlp: no Fashion-MNIST in %s: table skipped\n", fashion);
    if (fd) {
        setting f[4] = {{784, 2, 256, 10, 64, 1, DS_KERNEL_AUTO, 0},
                        {784, 2, 256, 10, 64, 1, DS_KERNEL_AUTO, 1},
                        {784, 2, 256, 10, 64, 2, DS_KERNEL_AUTO, 0},
                        {784, 2, 256, 10, 64, 2, DS_KERNEL_AUTO, 1}};
        double fs[4], fc, ft[2];
        size_t fw[4];
        time_settings(f, 4, fd, epochs, fs, fw, &fc, ft);
        printf("Fashion-MNIST (60000 images, half the pixels zero), 784-256-128-10, batch 64\n");
        printf("| threads | zeros       | s/epoch | effective GFLOP/s | vs 1 thread, skipped |\n");
        printf("|--------:|-------------|--------:|------------------:|---------------------:|\n");
        for (int i = 0; i < 4; i++)
            printf("| %7d | %-11s | %7.3f | %17.1f | %19.2fx |\n", f[i].threads,
                   f[i].dense_only ? "not skipped" : "skipped", fs[i], gflops(fw[i], rows, fs[i]),
                   fs[0] / fs[i]);
        printf("two threads against one: %.2fx skipping zeros, %.2fx not; the FMA probe %.2fx; "
               "a cache line between the two processors and back: %.0f-%.0f ns\n\n",
               fs[0] / fs[2], fs[1] / fs[3], fc, ft[0], ft[1]);
        ds_dataset_free(fd);
    }

    ds_dataset *d = random_data(rows, 784, 10);
    setting s[3] = {{784, 2, 256, 10, 64, 1, DS_KERNEL_AUTO, 0},
                    {784, 2, 256, 10, 64, 2, DS_KERNEL_AUTO, 0},
                    {784, 2, 256, 10, 64, 1, DS_KERNEL_PORTABLE, 0}};
    double sec[3], ceiling, trip[2];
    size_t w[3];
    time_settings(s, 3, d, epochs, sec, w, &ceiling, trip);
    printf("784-256-128-10 relu/softmax, sgd momentum, batch 64, %zu weights\n", w[0]);
    printf("| threads | kernel   | s/epoch | effective GFLOP/s | speedup |\n");
    printf("|--------:|----------|--------:|------------------:|--------:|\n");
    for (int i = 0; i < 3; i++)
        printf("| %7d | %-8s | %7.3f | %17.1f | %6.2fx |\n", s[i].threads,
               ds_kernel_name(s[i].kernel == DS_KERNEL_AUTO ? ds_kernel_best() : s[i].kernel),
               sec[i], gflops(w[i], rows, sec[i]), sec[0] / sec[i]);
    printf("meanwhile the FMA probe ran %.2fx faster on 2 threads than on 1 (the machine's "
           "ceiling), and a cache line went between the two processors and back in %.0f-%.0f "
           "ns\n",
           ceiling, trip[0], trip[1]);
    double own, other;
    probe_shared_write(&own, &other);
    printf("updating 1 MB in place took %.1f us after this thread read it, %.1f us after "
           "another thread did (median of 31)\n",
           own, other);
    if (scaling) {
        printf("\nscaling (784 inputs, relu hidden layers, softmax over 10; effective GFLOP/s)\n");
        printf("| batch | hidden        | 1 thread | 2 threads | speedup | probe speedup |\n");
        printf("|------:|---------------|---------:|----------:|--------:|--------------:|\n");
        static const int grid[][3] = {/* batch, depth, width */
                                      {16, 2, 256},  {32, 2, 256},  {64, 2, 256},
                                      {128, 2, 256}, {256, 2, 256}, {64, 1, 128},
                                      {64, 1, 512},  {64, 1, 1024}, {64, 1, 256},
                                      {64, 3, 256},  {64, 4, 256}};
        for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++) {
            setting p[2];
            for (int t = 0; t < 2; t++)
                p[t] = (setting){784, grid[g][1], grid[g][2], 10, grid[g][0], t + 1,
                                 DS_KERNEL_AUTO, 0};
            int n = grid[g][0] <= 32 ? 20000 : rows; /* small batches are slow: fewer rows */
            ds_dataset *dd = n == rows ? d : random_data(n, 784, 10);
            time_settings(p, 2, dd, epochs < 3 ? epochs : 3, sec, w, &ceiling, trip);
            char hidden[32];
            if (grid[g][1] == 2 && grid[g][2] == 256) snprintf(hidden, sizeof hidden, "256-128");
            else
                snprintf(hidden, sizeof hidden, "%d x %d", grid[g][1], grid[g][2]);
            printf("| %5d | %-13s | %8.1f | %9.1f | %6.2fx | %12.2fx |\n", grid[g][0], hidden,
                   gflops(w[0], n, sec[0]), gflops(w[1], n, sec[1]), sec[0] / sec[1], ceiling);
            if (dd != d) ds_dataset_free(dd);
        }
    }
    ds_dataset_free(d);
    return 0;
}
