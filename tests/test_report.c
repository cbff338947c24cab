/*
 * test_report.c - the sweep's statistics and report writers: descriptive statistics and
 * Student-t intervals against values worked out by hand (quantiles from the t table,
 * cross-checked with mpmath), the summary of a synthetic sweep, summary.csv
 * read back, and report.html / the SVG charts checked as text (escaping, no network
 * references, one line per configuration); the per-layer diagnostics, stall reasons and
 * recorded layer outputs of a synthetic sweep with zeros and NaN in it, and a report
 * without them byte for byte the same as before. Outputs go to a mkdtemp directory that
 * is removed at the end.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/report.h"
#include "../cli/report_int.h"
#include "../cli/stats.h"
#include "harness.h"

#define D_NAN ((double)NAN)
#define D_INF ((double)INFINITY)

/* ------------------------------------------------------------------------------------ */
/* helpers */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p) p[n] = '\0';
    fclose(f);
    return p;
}

/* Reads dir/name whole, or NULL. */
static char *read_in(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_all(path);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* Splits one CSV line (RFC 4180 quoting, no line breaks inside fields) into at most max
 * fields written into the line's own storage; returns the count. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return n;
        char *out = p;
        fields[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else if (*p == '\0') {
                    break;
                } else {
                    *out++ = *p++;
                }
            }
        } else {
            while (*p && *p != ',' && *p != '\n') *out++ = *p++;
        }
        char end = *p;
        *out = '\0';
        if (end != ',') return n;
        p++;
    }
}

/* ------------------------------------------------------------------------------------ */
/* a synthetic sweep: C configurations x R repeats x E epochs, metrics loss, accuracy,
 * val_loss, val_accuracy; test loss and accuracy */

typedef struct {
    cli_results r;
    char *vary_names[1];
    char *values[16];
    char *labels[16];
} sweep;

static double f_loss(int c, int rep, int e)
{
    return 1.0 / (e + 1) + 0.1 * c + 0.01 * rep;
}

static double f_acc(int c, int rep, int e)
{
    return 0.5 + 0.1 * e - 0.05 * c + 0.01 * rep;
}

static void sweep_make(sweep *s, int C, int R, int E, const char *const *labels)
{
    memset(s, 0, sizeof *s);
    cli_results *r = &s->r;
    r->n_configs = C;
    r->n_vary = 1;
    s->vary_names[0] = "kernel_initializer";
    r->vary_names = s->vary_names;
    for (int c = 0; c < C; c++) s->values[c] = s->labels[c] = (char *)labels[c];
    r->values = s->values;
    r->labels = s->labels;
    r->n_repeats = R;
    r->n_epochs = E;
    r->n_metrics = 4;
    r->metrics[0] = "loss";
    r->metrics[1] = "accuracy";
    r->metrics[2] = "val_loss";
    r->metrics[3] = "val_accuracy";
    r->curves = malloc((size_t)C * R * 4 * E * sizeof *r->curves);
    for (int c = 0; c < C; c++) {
        for (int rep = 0; rep < R; rep++) {
            double *run = r->curves + (size_t)(c * R + rep) * 4 * E;
            for (int e = 0; e < E; e++) {
                run[0 * E + e] = f_loss(c, rep, e);
                run[1 * E + e] = f_acc(c, rep, e);
                run[2 * E + e] = f_loss(c, rep, e) + 0.05;
                run[3 * E + e] = f_acc(c, rep, e) - 0.02;
            }
        }
    }
    r->n_test = 2;
    r->test_metrics[0] = "loss";
    r->test_metrics[1] = "accuracy";
    r->test = malloc((size_t)C * R * 2 * sizeof *r->test);
    r->seeds = malloc((size_t)C * R * sizeof *r->seeds);
    r->restarts = calloc((size_t)C * R, sizeof *r->restarts);
    r->stalled = calloc((size_t)C * R, sizeof *r->stalled);
    r->diverged = calloc((size_t)C * R, sizeof *r->diverged);
    r->epochs_to_target = malloc((size_t)C * R * sizeof *r->epochs_to_target);
    for (int i = 0; i < C * R; i++) {
        int c = i / R, rep = i % R;
        r->test[2 * i] = 0.3 + 0.1 * c + 0.01 * rep;
        r->test[2 * i + 1] = 0.8 + 0.02 * c + 0.01 * rep; /* the last config is best */
        r->seeds[i] = 1000u + (uint64_t)rep;
        r->epochs_to_target[i] = -1;
    }
    r->target_accuracy = 0.9;
    r->target_metric = "val_accuracy";
    r->command = "descent sweep --vary kernel_initializer=zeros,he_normal";
    r->settings = "epochs = 5\nbatch_size = 16\n";
    r->base_seed = 1000;
    r->paired = 1;
}

static void sweep_free(sweep *s)
{
    free(s->r.curves);
    free(s->r.test);
    free(s->r.seeds);
    free(s->r.restarts);
    free(s->r.stalled);
    free(s->r.diverged);
    free(s->r.epochs_to_target);
}

/* The sweep of the summary tests: 3 x 4 x 5; run (1, 2) stopped after 3 epochs. */
static void sweep_main(sweep *s)
{
    static const char *const labels[3] = {"zeros", "he_normal",
                                          "random_uniform(minval=-0.1, maxval=0.1)"};
    sweep_make(s, 3, 4, 5, labels);
    cli_results *r = &s->r;
    double *run = r->curves + (size_t)(1 * 4 + 2) * 4 * 5;
    for (int k = 0; k < 4; k++) run[k * 5 + 3] = run[k * 5 + 4] = D_NAN;
    const int ett[12] = {3, 4, -1, 2, -1, -1, -1, -1, 5, 2, 3, 4};
    memcpy(r->epochs_to_target, ett, sizeof ett);
    r->test[2 * 5 + 1] = D_NAN; /* config 1, repeat 1: no test accuracy */
    r->stalled[4] = 1;
    r->restarts[4] = 2;
    r->restarts[5] = 1;
    r->diverged[7] = 1;
}

/* ------------------------------------------------------------------------------------ */
/* the same sweep with diagnostics of up to 4 layers (configuration 2 has 3), stall
 * reasons and recorded outputs of layer 2 on 30 probe rows of 2 classes. Configuration 0
 * is zeros-initialized: zero kernels and outputs, no update ratio. Run (1, 2) stopped one
 * epoch early; configuration 2's recording stops two epochs early. */

typedef struct {
    char *names[3 * 4];
    char *reasons[3 * 3]; /* up to 3 configurations x 3 repeats */
    char *classes[2];
    double *diag, *rec, *acc;
    int labels[30];
} layers;

static double f_diag(int c, int rep, int l, int q, int e)
{
    const int hidden_relu = l < 2;
    switch (q) {
    case 0: return c == 0 ? 0.0 : (1 + 0.1 * rep) * (l + 1) * (1 + 0.2 * e) * (c == 2 ? 10 : 1);
    case 1: return c == 0 ? 0.0 : pow(10.0, l - 4) * (1 + 0.1 * rep); /* vanishing */
    case 2: return c == 0 || e == 0 ? D_NAN : 0.1 / (e + 1);
    case 3: return 0.1 * l - 0.05 * c + 0.01 * rep;
    case 4: return c == 0 ? 0.0 : 0.5 + 0.1 * l;
    case 5: return hidden_relu ? D_NAN : 0.2 * l + 0.05 * rep;
    default: return hidden_relu ? 0.1 * c + 0.05 * e : D_NAN;
    }
}

static void layers_add(layers *ly, sweep *sw)
{
    cli_results *r = &sw->r;
    int C = r->n_configs, R = r->n_repeats, E = r->n_epochs, L = 4, P = 30;
    static const char *const names[4] = {"dense_1 (relu)", "dense_2 (relu)", "dense_3 (tanh)",
                                         "dense_4 (sigmoid)"};
    memset(ly, 0, sizeof *ly);
    r->n_diag_layers = L;
    ly->diag = malloc((size_t)C * R * L * CLI_N_DIAG * E * sizeof *ly->diag);
    for (int c = 0; c < C; c++) {
        for (int l = 0; l < L; l++) {
            int exists = c != 2 || l < 3;
            ly->names[c * L + l] = !exists ? NULL
                                   : c == 2 && l == 2 ? "dense_3 (sigmoid)"
                                                      : (char *)names[l];
            for (int rep = 0; rep < R; rep++)
                for (int q = 0; q < CLI_N_DIAG; q++)
                    for (int e = 0; e < E; e++) {
                        int stopped = c == 1 && rep == 2 && e == E - 1;
                        ly->diag[((((size_t)c * R + rep) * L + l) * CLI_N_DIAG + q) * E + e] =
                            exists && !stopped ? f_diag(c, rep, l, q, e) : D_NAN;
                    }
        }
    }
    r->diag = ly->diag;
    r->diag_layer_names = ly->names;

    /* stalls: two runs of configuration 1 for a reason that needs escaping, one of
     * configuration 2 without a reason */
    ly->reasons[R] = ly->reasons[2 * R - 1] = "all relu units dead in dense_1 <&>";
    r->stall_reasons = ly->reasons;
    r->stalled[R] = r->stalled[2 * R - 1] = r->stalled[2 * R + 1] = 1;

    r->record_layer = 1;
    r->n_probe = P;
    r->record_pca = 1;
    ly->rec = malloc((size_t)C * E * P * 2 * sizeof *ly->rec);
    ly->acc = malloc((size_t)C * E * sizeof *ly->acc);
    for (int p = 0; p < P; p++) ly->labels[p] = p % 2;
    for (int c = 0; c < C; c++) {
        for (int e = 0; e < E; e++) {
            int reached = c != 2 || e < E - 2;
            ly->acc[c * E + e] = reached ? 0.5 + 0.08 * e : D_NAN;
            for (int p = 0; p < P; p++) {
                double *pt = ly->rec + (((size_t)c * E + e) * P + p) * 2;
                pt[0] = reached ? (2 * (p % 2) - 1) * 0.3 * (e + 1) + 0.1 * sin(p) : D_NAN;
                pt[1] = reached ? 0.05 * p / P + c : D_NAN;
            }
        }
    }
    r->rec = ly->rec;
    r->rec_accuracy = ly->acc;
    r->probe_labels = ly->labels;
    ly->classes[0] = "a<&>b";
    ly->classes[1] = "genuine";
    r->class_names = ly->classes;
    r->n_classes = 2;
}

static void layers_clear(cli_results *r)
{
    r->n_diag_layers = 0;
    r->diag = NULL;
    r->diag_layer_names = NULL;
    r->stall_reasons = NULL;
    r->record_layer = -1;
    r->n_probe = 0;
    r->record_pca = 0;
    r->rec = NULL;
    r->rec_accuracy = NULL;
    r->probe_labels = NULL;
    r->class_names = NULL;
    r->n_classes = 0;
}

static void layers_free(layers *ly)
{
    free(ly->diag);
    free(ly->rec);
    free(ly->acc);
}

/* ------------------------------------------------------------------------------------ */
/* statistics */

static void test_stat_small(void)
{
    const double v[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    cli_stat s;
    cli_stat_compute(v, 8, &s);
    CHECK(s.n == 8, "n = %d", s.n);
    CHECK_CLOSE(s.mean, 5.0, 1e-12, 0);
    CHECK_CLOSE(s.std, sqrt(32.0 / 7.0), 1e-12, 0); /* sum of squares 32, ddof 1 */
    CHECK_CLOSE(s.median, 4.5, 1e-12, 0);
    CHECK_CLOSE(s.min, 2.0, 0, 0);
    CHECK_CLOSE(s.max, 9.0, 0, 0);
    /* t(0.975, 7) = 2.364624; half width 2.364624 * 2.138090 / sqrt(8) = 1.787488 */
    CHECK_CLOSE(s.ci_low, 3.212512081763789, 1e-12, 0);
    CHECK_CLOSE(s.ci_high, 6.787487918236211, 1e-12, 0);

    const double w[3] = {3, 1, 2};
    cli_stat_compute(w, 3, &s);
    CHECK_CLOSE(s.mean, 2.0, 1e-12, 0);
    CHECK_CLOSE(s.std, 1.0, 1e-12, 0);
    CHECK_CLOSE(s.median, 2.0, 0, 0);
    /* 2 -+ t(0.975, 2) / sqrt(3) = 2 -+ 4.302653 / 1.732051 */
    CHECK_CLOSE(s.ci_low, 2.0 - 4.302652729749464 / sqrt(3.0), 1e-12, 0);
    CHECK_CLOSE(s.ci_high, 2.0 + 4.302652729749464 / sqrt(3.0), 1e-12, 0);
}

static void test_stat_nan(void)
{
    /* NaN and infinities are ignored: the statistics of {1, 3} */
    const double v[5] = {D_NAN, 1.0, D_INF, 3.0, -D_INF};
    cli_stat s;
    cli_stat_compute(v, 5, &s);
    CHECK(s.n == 2, "n = %d", s.n);
    CHECK_CLOSE(s.mean, 2.0, 1e-12, 0);
    CHECK_CLOSE(s.std, sqrt(2.0), 1e-12, 0);
    CHECK_CLOSE(s.median, 2.0, 1e-12, 0);
    CHECK_CLOSE(s.min, 1.0, 0, 0);
    CHECK_CLOSE(s.max, 3.0, 0, 0);
    /* half width t(0.975, 1) * sqrt(2) / sqrt(2) = 12.706205 */
    CHECK_CLOSE(s.ci_low, 2.0 - 12.706204736174693, 1e-11, 0);
    CHECK_CLOSE(s.ci_high, 2.0 + 12.706204736174693, 1e-11, 0);
}

static void test_stat_one_and_none(void)
{
    const double v[2] = {D_NAN, 5.0};
    cli_stat s;
    cli_stat_compute(v, 2, &s);
    CHECK(s.n == 1, "n = %d", s.n);
    CHECK_CLOSE(s.mean, 5.0, 0, 0);
    CHECK(s.std == 0.0, "std = %g", s.std);
    CHECK_CLOSE(s.median, 5.0, 0, 0);
    CHECK(isinf(s.ci_low) && s.ci_low < 0, "ci_low = %g (want -inf)", s.ci_low);
    CHECK(isinf(s.ci_high) && s.ci_high > 0, "ci_high = %g (want +inf)", s.ci_high);

    cli_stat_compute(v, 1, &s); /* only the NaN */
    CHECK(s.n == 0, "n = %d", s.n);
    CHECK(isnan(s.mean) && isnan(s.std) && isnan(s.median) && isnan(s.min) &&
              isnan(s.ci_low) && isnan(s.ci_high),
          "all NaN without values");
    cli_stat_compute(NULL, 0, &s);
    CHECK(s.n == 0 && isnan(s.mean), "n = 0");
}

static void test_stat_large_median(void)
{
    /* more values than the stack buffer: median of 0..99 shuffled is 49.5 */
    double v[100];
    for (int i = 0; i < 100; i++) v[i] = (double)((i * 37) % 100);
    cli_stat s;
    cli_stat_compute(v, 100, &s);
    CHECK_CLOSE(s.median, 49.5, 0, 0);
    CHECK_CLOSE(s.mean, 49.5, 1e-12, 0);
}

static void test_t_quantile(void)
{
    /* the two-sided 95% column of the t table */
    const double df[6] = {1, 2, 4, 9, 29, 100};
    const double t[6] = {12.706, 4.303, 2.776, 2.262, 2.045, 1.984};
    for (int i = 0; i < 6; i++) {
        double q = cli_t_quantile(0.975, df[i]);
        CHECK(fabs(q - t[i]) < 1e-3, "t(0.975, %g) = %.6f, table %.3f", df[i], q, t[i]);
        CHECK_CLOSE(cli_t_quantile(0.025, df[i]), -q, 1e-12, 1e-12);
        CHECK_CLOSE(cli_t_cdf(q, df[i]), 0.975, 1e-13, 0);
    }
    /* more digits (mpmath at 30 digits; scipy.stats.t.ppf is off by about 1e-10 here) and
     * near the normal limit */
    CHECK_CLOSE(cli_t_quantile(0.975, 1), 12.706204736174693, 0, 1e-12);
    CHECK_CLOSE(cli_t_quantile(0.975, 7), 2.3646242515927853, 0, 1e-12);
    CHECK_CLOSE(cli_t_quantile(0.975, 1e6), 1.959966356814107, 0, 1e-9);
    /* df = 1 is the Cauchy distribution: quantile tan(pi (p - 1/2)) */
    CHECK_CLOSE(cli_t_quantile(0.9, 1), tan(3.14159265358979323846 * 0.4), 0, 1e-12);
    CHECK(cli_t_quantile(0.5, 3) == 0.0, "median 0");
    CHECK(isnan(cli_t_quantile(1.5, 3)) && isnan(cli_t_quantile(0.5, 0)), "domain");
    CHECK(isinf(cli_t_quantile(1.0, 3)), "p = 1");
    /* I_x(2, 3) = 0.5248 at x = 0.4 (polynomial form of the beta CDF) */
    CHECK_CLOSE(cli_beta_inc(2, 3, 0.4), 0.5248, 1e-14, 0);
}

/* ------------------------------------------------------------------------------------ */
/* summary */

static void test_summarize(void)
{
    sweep sw;
    sweep_main(&sw);
    cli_results *r = &sw.r;
    cli_summary s[3];
    ds_error err = {0};
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);

    /* config 0: final loss 0.2 + 0.01 rep */
    CHECK(s[0].final[0].n == 4, "n = %d", s[0].final[0].n);
    CHECK_CLOSE(s[0].final[0].mean, 0.215, 1e-12, 0);
    CHECK_CLOSE(s[0].final[0].std, 0.012909944487358058, 1e-12, 0);
    CHECK_CLOSE(s[0].final[1].mean, f_acc(0, 0, 4) + 0.015, 1e-12, 0);
    /* config 1: repeat 2 stopped after 3 epochs and contributes epoch 3's value */
    CHECK(s[1].final[0].n == 4, "early-stopped run counted: n = %d", s[1].final[0].n);
    CHECK_CLOSE(s[1].final[0].max, f_loss(1, 2, 2), 1e-12, 0);
    CHECK_CLOSE(s[1].final[0].median, 0.32, 1e-12, 0);
    CHECK_CLOSE(s[1].final[0].mean, 0.3483333333333334, 1e-12, 0);
    CHECK_CLOSE(s[1].final[0].std, 0.07110243002567182, 1e-12, 0);
    CHECK_CLOSE(s[1].final[3].min, f_acc(1, 2, 2) - 0.02, 1e-12, 0);
    /* test metrics, one NaN left out */
    CHECK_CLOSE(s[2].test[0].mean, 0.5 + 0.015, 1e-12, 0);
    CHECK(s[1].test[1].n == 3, "n = %d", s[1].test[1].n);
    CHECK_CLOSE(s[1].test[1].mean, 0.82 + (0.0 + 0.02 + 0.03) / 3, 1e-12, 0);
    /* epochs to target: {3, 4, -, 2}, {-, -, -, -}, {5, 2, 3, 4} */
    CHECK_CLOSE(s[0].median_epochs_to_target, 3.0, 0, 0);
    CHECK(s[0].never_reached == 1, "never = %d", s[0].never_reached);
    CHECK(isnan(s[1].median_epochs_to_target), "median %g", s[1].median_epochs_to_target);
    CHECK(s[1].never_reached == 4, "never = %d", s[1].never_reached);
    CHECK_CLOSE(s[2].median_epochs_to_target, 3.5, 0, 0);
    CHECK(s[2].never_reached == 0, "never = %d", s[2].never_reached);
    CHECK(s[1].stalls == 1 && s[1].restarts == 3 && s[1].diverged == 1 && s[0].stalls == 0,
          "stalls %d restarts %d diverged %d", s[1].stalls, s[1].restarts, s[1].diverged);

    /* no target: no median, nobody counted as never reaching it */
    r->target_metric = NULL;
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(isnan(s[0].median_epochs_to_target) && s[0].never_reached == 0, "no target");

    r->n_repeats = 0;
    CHECK(cli_summarize(r, s, &err) == DS_ERR_ARG, "0 repeats rejected");
    CHECK(strstr(err.message, "repeats") != NULL, "message: %s", err.message);
    sweep_free(&sw);
}

static void test_summary_csv(void)
{
    sweep sw;
    sweep_main(&sw);
    cli_results *r = &sw.r;
    cli_summary s[3];
    ds_error err = {0};
    char dir[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    char path[1024];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    CHECK(cli_write_summary_csv(r, s, path, &err) == DS_OK, "%s", err.message);
    char *text = read_in(dir, "summary.csv");
    CHECK(text != NULL, "summary.csv written");
    if (text) {
        CHECK(text[0] != '#', "no comment lines");
        CHECK(count_str(text, "\n") == 4, "header + 3 rows: %d lines", count_str(text, "\n"));
        char *fields[128];
        char *line1 = strchr(text, '\n') + 1;
        char *line2 = strchr(line1, '\n') + 1;
        char *line3 = strchr(line2, '\n') + 1;
        /* 1 + 6 x (4 history + 2 test) + 6 */
        int n = csv_split(text, fields, 128);
        CHECK(n == 43, "%d columns", n);
        if (n == 43) {
            CHECK(strcmp(fields[0], "kernel_initializer") == 0, "%s", fields[0]);
            CHECK(strcmp(fields[1], "loss_mean") == 0, "%s", fields[1]);
            CHECK(strcmp(fields[6], "loss_ci95_high") == 0, "%s", fields[6]);
            CHECK(strcmp(fields[19], "val_accuracy_mean") == 0, "%s", fields[19]);
            CHECK(strcmp(fields[25], "test_loss_mean") == 0, "%s", fields[25]);
            CHECK(strcmp(fields[31], "test_accuracy_mean") == 0, "%s", fields[31]);
            CHECK(strcmp(fields[36], "test_accuracy_ci95_high") == 0, "%s", fields[36]);
            CHECK(strcmp(fields[37], "repeats") == 0, "%s", fields[37]);
            CHECK(strcmp(fields[38], "median_epochs_to_target") == 0, "%s", fields[38]);
            CHECK(strcmp(fields[39], "never_reached_target") == 0, "%s", fields[39]);
            CHECK(strcmp(fields[42], "diverged") == 0, "%s", fields[42]);
        }
        /* row of config 1 */
        n = csv_split(line2, fields, 128);
        CHECK(n == 43, "%d fields", n);
        if (n == 43) {
            CHECK(strcmp(fields[0], "he_normal") == 0, "%s", fields[0]);
            CHECK_CLOSE(strtod(fields[1], NULL), 0.3483333333333334, 1e-6, 0);
            CHECK(strcmp(fields[1], "0.348333") == 0, "%%.6g: %s", fields[1]);
            CHECK_CLOSE(strtod(fields[4], NULL), f_loss(1, 2, 2), 1e-6, 0);
            CHECK(strcmp(fields[37], "4") == 0, "repeats %s", fields[37]);
            CHECK(strcmp(fields[38], "nan") == 0, "median %s", fields[38]);
            CHECK(strcmp(fields[39], "4") == 0, "never %s", fields[39]);
            CHECK(strcmp(fields[40], "1") == 0 && strcmp(fields[41], "3") == 0 &&
                      strcmp(fields[42], "1") == 0,
                  "%s %s %s", fields[40], fields[41], fields[42]);
        }
        /* a value with a comma is quoted and reads back whole */
        CHECK(strncmp(line3, "\"random_uniform(minval=-0.1, maxval=0.1)\",", 42) == 0,
              "quoted: %.50s", line3);
        n = csv_split(line3, fields, 128);
        CHECK(n == 43 && strcmp(fields[0], "random_uniform(minval=-0.1, maxval=0.1)") == 0,
              "%d fields", n);
        if (n == 43) CHECK(strcmp(fields[38], "3.5") == 0, "median %s", fields[38]);
        free(text);
    }
    remove_dir(dir);
    sweep_free(&sw);
}

/* ------------------------------------------------------------------------------------ */
/* report */

static const char *const chart_names[4] = {"loss.svg", "accuracy.svg", "val_loss.svg",
                                           "val_accuracy.svg"};

/* Every "http://" or "https://" in text is the SVG namespace. */
static int only_svg_namespace(const char *text)
{
    static const char ns[] = "http://www.w3.org/2000/svg\"";
    for (const char *p = text; (p = strstr(p, "http")) != NULL; p += 4) {
        if (strncmp(p, "https://", 8) == 0) return 0;
        if (strncmp(p, "http://", 7) == 0 && strncmp(p, ns, sizeof ns - 1) != 0) return 0;
    }
    return 1;
}

static void check_svg(const char *dir, const char *name, const cli_results *r)
{
    char *svg = read_in(dir, name);
    CHECK(svg != NULL, "%s written", name);
    if (!svg) return;
    size_t n = strlen(svg);
    CHECK(strncmp(svg, "<svg", 4) == 0, "%s starts with <svg", name);
    CHECK(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0, "%s ends with </svg>", name);
    CHECK(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL, "%s: xmlns", name);
    CHECK(only_svg_namespace(svg), "%s: no other URIs", name);
    CHECK(count_str(svg, "<svg") == 1 && count_str(svg, "</svg>") == 1, "%s: one root", name);
    CHECK(count_str(svg, "<g") == count_str(svg, "</g>"), "%s: balanced groups", name);
    CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL, "%s: no NaN/inf coordinates",
          name);
    CHECK(strstr(svg, "<script") == NULL, "%s: no script", name);
    /* each configuration has its mean line, titled with its label */
    for (int c = 0; c < r->n_configs; c++) {
        char want[256];
        const char *label = r->labels[c];
        snprintf(want, sizeof want, "\"><title>%s</title></path>",
                 strcmp(label, "a<b & c") == 0 ? "a&lt;b &amp; c" : label);
        CHECK(strstr(svg, want) != NULL, "%s: a line for config %d (%s)", name, c, label);
    }
    free(svg);
}

static void test_report_files(void)
{
    sweep sw;
    sweep_main(&sw);
    cli_results *r = &sw.r;
    r->labels[0] = "a<b & c"; /* a label that needs escaping */
    r->command = "descent sweep --label \"<script>alert(1)</script>\" --x 'a&b' > out";
    r->experiment = "[sweep]\nvary = kernel_initializer: zeros, he_normal\n# <b>bold</b>\n";
    cli_summary s[3];
    ds_error err = {0};
    char dir[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(r, s, dir, "test_accuracy", &err) == DS_OK, "%s", err.message);

    for (int i = 0; i < 4; i++) check_svg(dir, chart_names[i], r);

    char *html = read_in(dir, "report.html");
    CHECK(html != NULL, "report.html written");
    if (html) {
        CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0, "doctype");
        size_t n = strlen(html);
        CHECK(n > 8 && strcmp(html + n - 8, "</html>\n") == 0, "ends with </html>");
        CHECK(only_svg_namespace(html), "no network references");
        CHECK(strstr(html, "<script") == NULL, "no script element, no unescaped command");
        CHECK(strstr(html, "--label &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; "
                           "--x &#39;a&amp;b&#39; &gt; out") != NULL,
              "command escaped");
        CHECK(strstr(html, "# &lt;b&gt;bold&lt;/b&gt;") != NULL, "experiment escaped");
        CHECK(strstr(html, "batch_size = 16") != NULL, "settings shown");
        CHECK(strstr(html, "a&lt;b &amp; c") != NULL && strstr(html, "a<b") == NULL,
              "label escaped");
        CHECK(strstr(html, ds_version()) != NULL, "version");
        CHECK(count_str(html, "<svg xmlns") == 4, "4 charts inlined: %d",
              count_str(html, "<svg xmlns"));
        CHECK(strstr(html, "1003") != NULL, "seeds listed");
        /* charts: loss and accuracy before the validation ones */
        const char *loss = strstr(html, "href=\"loss.svg\"");
        const char *acc = strstr(html, "href=\"accuracy.svg\"");
        const char *vloss = strstr(html, "href=\"val_loss.svg\"");
        CHECK(loss && acc && vloss && loss < acc && acc < vloss, "chart order");
        /* table sorted by test accuracy, highest first: configs 2, 1, 0 */
        const char *body = strstr(html, "<tbody>");
        const char *c2 = body ? strstr(body, "random_uniform(minval") : NULL;
        const char *c1 = body ? strstr(body, "he_normal") : NULL;
        const char *c0 = body ? strstr(body, "a&lt;b &amp; c") : NULL;
        CHECK(c0 && c1 && c2 && c2 < c1 && c1 < c0, "sorted by test_accuracy");
        free(html);
    }

    /* ascending for a loss-like name; an unknown name is refused with the choices */
    CHECK(cli_write_report(r, s, dir, "val_loss", &err) == DS_OK, "%s", err.message);
    html = read_in(dir, "report.html");
    if (html) {
        const char *body = strstr(html, "<tbody>");
        const char *c2 = body ? strstr(body, "random_uniform(minval") : NULL;
        const char *c0 = body ? strstr(body, "a&lt;b &amp; c") : NULL;
        CHECK(c0 && c2 && c0 < c2, "sorted by val_loss, lowest first");
        free(html);
    }
    CHECK(cli_write_report(r, s, dir, "test_f1", &err) == DS_ERR_ARG, "unknown sort metric");
    CHECK(strstr(err.message, "test_accuracy") != NULL, "choices listed: %s", err.message);
    CHECK(cli_report_check_sort(r, "val_accuracy", &err) == DS_OK, "history name accepted");

    remove_dir(dir);
    sweep_free(&sw);
}

static void test_report_edge_cases(void)
{
    /* 14 configurations (colors cycle, dashes appear), one epoch, constant values, odd
     * bytes in a label */
    static const char *const labels[14] = {
        "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12",
        "bad \x01 byte \xff and a rather long label that will not fit the legend"};
    sweep sw;
    sweep_make(&sw, 14, 2, 1, labels);
    cli_results *r = &sw.r;
    for (int i = 0; i < 14 * 2 * 4; i++) r->curves[i] = 0.5;
    r->experiment = NULL;
    r->settings = NULL;
    cli_summary s[14];
    ds_error err = {0};
    char dir[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(r, s, dir, NULL, &err) == DS_OK, "%s", err.message);
    char *svg = read_in(dir, "accuracy.svg");
    CHECK(svg != NULL, "accuracy.svg");
    if (svg) {
        size_t n = strlen(svg);
        CHECK(strncmp(svg, "<svg", 4) == 0 && strcmp(svg + n - 7, "</svg>\n") == 0, "framing");
        CHECK(count_str(svg, "<circle") == 14, "one dot per configuration: %d",
              count_str(svg, "<circle"));
        CHECK(strstr(svg, "stroke-dasharray") != NULL, "dashes after 8 colors");
        CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL, "finite coordinates");
        CHECK(strstr(svg, "\x01") == NULL && strstr(svg, "\xff") == NULL, "bytes replaced");
        CHECK(strstr(svg, "bad \xef\xbf\xbd byte \xef\xbf\xbd") != NULL, "U+FFFD");
        CHECK(strstr(svg, "\xe2\x80\xa6</text>") != NULL, "long label shortened");
        free(svg);
    }
    char *html = read_in(dir, "report.html");
    CHECK(html != NULL, "report.html");
    if (html) {
        CHECK(strstr(html, "<h3>Experiment file</h3>") == NULL, "no experiment section");
        CHECK(strstr(html, "\xff") == NULL, "bytes replaced in HTML");
        free(html);
    }
    /* summary.csv keeps the value but stays valid UTF-8 */
    char path[1024];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    CHECK(cli_write_summary_csv(r, s, path, &err) == DS_OK, "%s", err.message);
    char *csv = read_in(dir, "summary.csv");
    CHECK(csv != NULL, "summary.csv");
    if (csv) {
        CHECK(strstr(csv, "\nbad \x01 byte \xef\xbf\xbd and") != NULL, "U+FFFD in CSV");
        free(csv);
    }
    remove_dir(dir);

    /* no writable directory: an I/O error naming the path */
    CHECK(cli_write_report(r, s, "/nonexistent/dir", NULL, &err) == DS_ERR_IO, "I/O error");
    CHECK(strstr(err.message, "/nonexistent/dir") != NULL, "message: %s", err.message);
    sweep_free(&sw);
}

/* ------------------------------------------------------------------------------------ */
/* diagnostics, stall reasons, recorded layer outputs */

/* Checks the framing every SVG file shares; returns its text (free it) or NULL. */
static char *svg_framed(const char *dir, const char *name)
{
    char *svg = read_in(dir, name);
    CHECK(svg != NULL, "%s written", name);
    if (!svg) return NULL;
    size_t n = strlen(svg);
    CHECK(strncmp(svg, "<svg", 4) == 0, "%s starts with <svg", name);
    CHECK(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0, "%s ends with </svg>", name);
    CHECK(only_svg_namespace(svg), "%s: no other URIs", name);
    CHECK(count_str(svg, "<svg") == 1 && count_str(svg, "</svg>") == 1, "%s: one root", name);
    CHECK(count_str(svg, "<g") == count_str(svg, "</g>"), "%s: balanced groups", name);
    CHECK(count_str(svg, "<text") == count_str(svg, "</text>"), "%s: balanced text", name);
    CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL, "%s: finite numbers",
          name);
    CHECK(strstr(svg, "<script") == NULL, "%s: no script", name);
    return svg;
}

static int file_exists(const char *dir, const char *name)
{
    char *text = read_in(dir, name);
    free(text);
    return text != NULL;
}

/* Cuts every "<section id=...>...</section>\n" out of html (in place). */
static void strip_sections(char *html)
{
    char *p;
    while ((p = strstr(html, "<section id=")) != NULL) {
        char *end = strstr(p, "</section>\n");
        if (!end) return;
        end += strlen("</section>\n");
        memmove(p, end, strlen(end) + 1);
    }
}

static void test_pick_epochs(void)
{
    int sel[25];
    CHECK(cli_report_pick_epochs(6, sel) == 6 && sel[0] == 0 && sel[5] == 5, "all of 6");
    CHECK(cli_report_pick_epochs(25, sel) == 25 && sel[24] == 24, "all of 25");
    CHECK(cli_report_pick_epochs(0, sel) == 0, "none");
    const int ns[4] = {26, 40, 100, 1001};
    for (int i = 0; i < 4; i++) {
        int n = cli_report_pick_epochs(ns[i], sel);
        CHECK(n == 25, "25 of %d", ns[i]);
        CHECK(sel[0] == 0 && sel[24] == ns[i] - 1, "first and last of %d", ns[i]);
        int increasing = 1;
        for (int j = 1; j < 25; j++) increasing &= sel[j] > sel[j - 1];
        CHECK(increasing, "distinct and in order for %d", ns[i]);
    }
    cli_report_pick_epochs(100, sel); /* round(j * 99 / 24) */
    CHECK(sel[1] == 4 && sel[12] == 50 && sel[23] == 95, "%d %d %d", sel[1], sel[12], sel[23]);
}

static void test_report_diagnostics(void)
{
    static const char *const labels[3] = {"zeros", "he_normal", "glorot_uniform"};
    sweep sw;
    layers ly;
    sweep_make(&sw, 3, 3, 4, labels);
    layers_add(&ly, &sw);
    cli_results *r = &sw.r;
    cli_summary s[3];
    ds_error err = {0};
    char dir[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(r, s, dir, NULL, &err) == DS_OK, "%s", err.message);

    /* one mean line per configuration with values: zeros has no positive norm, gradient
     * or update ratio to draw on a log axis */
    const int lines[CLI_N_DIAG] = {2, 2, 2, 3, 3, 3, 3};
    for (int q = 0; q < CLI_N_DIAG; q++) {
        char name[64];
        snprintf(name, sizeof name, "diag_%s.svg", cli_diag_names[q]);
        char *svg = svg_framed(dir, name);
        if (!svg) continue;
        int n = count_str(svg, "</title></path>");
        CHECK(n == lines[q], "%s: %d lines, want %d", name, n, lines[q]);
        for (int c = 0; c < 3 && lines[q] == 3; c++) {
            char want[64];
            snprintf(want, sizeof want, "><title>%s</title></path>", labels[c]);
            CHECK(strstr(svg, want) != NULL, "%s: the line of %s", name, labels[c]);
        }
        /* layers 1 and 2 are named alike everywhere, layer 3 is not */
        CHECK(strstr(svg, ">dense_1 (relu)</text>") != NULL, "%s: layer 1 named", name);
        CHECK(strstr(svg, ">dense_3 (") == NULL, "%s: layer 3 unnamed", name);
        if (q <= 2) {
            CHECK(strstr(svg, "log scale") != NULL, "%s: log scale", name);
            CHECK(strstr(svg, "zeros <tspan fill=\"#777777\">(all 0)</tspan>") != NULL ||
                      q == 2,
                  "%s: zeros marked all 0 in the legend", name);
        }
        if (q == 1) {
            /* 10^-4 .. 10^-1 (times up to 1.2) over 4 layers: ticks at every decade */
            CHECK(strstr(svg, ">1e-4</text>") != NULL && strstr(svg, ">1</text>") != NULL,
                  "grad_norm: decade ticks");
            CHECK(count_str(svg, "<polygon") == 4, "grad_norm: a triangle per zero layer: %d",
                  count_str(svg, "<polygon"));
        }
        if (q >= 5) CHECK(strstr(svg, ">0.2</text>") != NULL, "%s: [0, 1] axis", name);
        free(svg);
    }
    char *grid = svg_framed(dir, "diag_epochs.svg");
    if (grid) {
        /* all 7 diagnostics have values; 3 columns */
        CHECK(count_str(grid, "fill=\"#f7f7f7\"") == 7 * 3, "7 x 3 cells: %d",
              count_str(grid, "fill=\"#f7f7f7\""));
        CHECK(strstr(grid, ">all 0</text>") != NULL, "zero cells say so");
        free(grid);
    }

    char *html = read_in(dir, "report.html");
    CHECK(html != NULL, "report.html");
    if (html) {
        CHECK(only_svg_namespace(html), "no network references");
        CHECK(strstr(html, "<script") == NULL, "no script");
        CHECK(count_str(html, "<section id=\"diagnostics\">") == 1, "diagnostics section");
        for (int q = 0; q < CLI_N_DIAG; q++) {
            char want[64];
            snprintf(want, sizeof want, "href=\"diag_%s.svg\"", cli_diag_names[q]);
            CHECK(strstr(html, want) != NULL, "%s linked", want);
        }
        CHECK(count_str(html, "<svg xmlns") == 4 + 7 + 1 + 3, "charts inlined: %d",
              count_str(html, "<svg xmlns"));
        /* stall reasons below the summary, escaped, counted */
        const char *stalls = strstr(html, "<section id=\"stalls\">");
        const char *curves = strstr(html, "<h2>Training curves</h2>");
        CHECK(stalls && curves && stalls < curves, "stall reasons before the curves");
        CHECK(strstr(html, "<b>he_normal</b>: 2 of 3 runs: all relu units dead in dense_1 "
                           "&lt;&amp;&gt;</li>") != NULL,
              "stall reason counted and escaped");
        CHECK(strstr(html, "<b>glorot_uniform</b>: 1 of 3 runs: no reason recorded</li>") != NULL,
              "stalled run without a reason");
        CHECK(strstr(html, "<b>zeros</b>") == NULL, "no line for a configuration without stalls");
        CHECK(strstr(html, "<&>") == NULL && strstr(html, "a&lt;&amp;&gt;b") != NULL,
              "class name escaped");
        CHECK(strstr(html, "the layers of each configuration") != NULL,
              "layer names table when they differ");
        free(html);
    }
    CHECK(file_exists(dir, "layer_1.svg") && file_exists(dir, "layer_3.svg"), "grids written");

    /* everything zero on a log axis: said in the chart */
    for (size_t i = 0; i < (size_t)9 * 4; i++)
        for (int e = 0; e < 4; e++) ly.diag[(i * CLI_N_DIAG + 1) * 4 + e] = 0.0;
    CHECK(cli_write_report(r, s, dir, NULL, &err) == DS_OK, "%s", err.message);
    char *svg = svg_framed(dir, "diag_grad_norm.svg");
    if (svg) {
        CHECK(strstr(svg, ">all zero</text>") != NULL, "all zero said");
        CHECK(count_str(svg, "</title></path>") == 0, "no lines");
        free(svg);
    }
    remove_dir(dir);
    layers_free(&ly);
    sweep_free(&sw);
}

/* The number of points in one plot: "M..h0" moves between "<g class=\"plot\"" marks. */
static int max_points_per_plot(const char *svg)
{
    int most = 0;
    for (const char *p = strstr(svg, "<g class=\"plot\""); p;) {
        const char *next = strstr(p + 1, "<g class=\"plot\"");
        int n = 0;
        for (const char *q = p; (q = strstr(q, "h0")) != NULL && (!next || q < next); q += 2) n++;
        if (n > most) most = n;
        p = next;
    }
    return most;
}

static void test_report_layer_outputs(void)
{
    static const char *const labels[3] = {"zeros", "he_normal", "glorot_uniform"};
    sweep sw;
    layers ly;
    sweep_make(&sw, 3, 3, 6, labels);
    layers_add(&ly, &sw);
    cli_results *r = &sw.r;
    cli_summary s[3];
    ds_error err = {0};
    char dir[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(r, s, dir, NULL, &err) == DS_OK, "%s", err.message);
    for (int c = 0; c < 3; c++) {
        char name[32];
        snprintf(name, sizeof name, "layer_%d.svg", c + 1);
        char *svg = svg_framed(dir, name);
        if (!svg) continue;
        int want = c == 2 ? 4 : 6; /* configuration 2 recorded 4 epochs */
        CHECK(count_str(svg, "<g class=\"plot\"") == want, "%s: %d plots, want %d", name,
              count_str(svg, "<g class=\"plot\""), want);
        CHECK(strstr(svg, ">epoch 1 " NDASH " acc 0.50</text>") != NULL, "%s: first epoch", name);
        char last[64];
        snprintf(last, sizeof last, ">epoch %d " NDASH " acc %.2f</text>", want,
                 0.5 + 0.08 * (want - 1));
        CHECK(strstr(svg, last) != NULL, "%s: last epoch (%s)", name, last);
        CHECK(strstr(svg, ">PC 1</text>") != NULL && strstr(svg, ">PC 2</text>") != NULL,
              "%s: axis names", name);
        CHECK(strstr(svg, ">a&lt;&amp;&gt;b</text>") != NULL, "%s: class legend escaped", name);
        CHECK(strstr(svg, "layer 2 (dense_2 (relu))") != NULL, "%s: the layer named", name);
        CHECK(max_points_per_plot(svg) == 30, "%s: 30 points a plot: %d", name,
              max_points_per_plot(svg));
        CHECK(count_str(svg, "stroke=\"#0072B2\"") >= want &&
                  count_str(svg, "stroke=\"#E69F00\"") >= want,
              "%s: both classes colored", name);
        free(svg);
    }
    char *html = read_in(dir, "report.html");
    if (html) {
        const char *sec = strstr(html, "<section id=\"layer-outputs\">");
        CHECK(sec != NULL, "layer outputs section");
        CHECK(sec && strstr(sec, "<h2>Outputs of layer 2 (dense_2 (relu))</h2>") != NULL,
              "titled with the layer");
        CHECK(count_str(html, "href=\"layer_") == 3, "3 grids linked");
        CHECK(strstr(html, "<&>") == NULL, "escaped");
        free(html);
    }
    remove_dir(dir);
    layers_free(&ly);
    sweep_free(&sw);

    /* 40 epochs of 1000 probe rows, one unit wide: 25 plots of 400 points; configuration
     * 1 recorded nothing */
    sweep_make(&sw, 3, 1, 40, labels);
    cli_results *q = &sw.r;
    const int P = 1000, E = 40;
    double *rec = malloc((size_t)3 * E * P * 2 * sizeof *rec);
    int *lab = malloc((size_t)P * sizeof *lab);
    for (int p = 0; p < P; p++) lab[p] = p % 3; /* periodic: a stride could miss a class */
    for (size_t i = 0; i < (size_t)3 * E * P; i++) {
        int c = (int)(i / ((size_t)E * P));
        rec[2 * i] = c == 1 ? D_NAN : (double)(i % 97) / 97.0;
        rec[2 * i + 1] = c == 1 ? D_NAN : 0.0;
    }
    q->record_layer = 0;
    q->n_probe = P;
    q->rec = rec;
    q->probe_labels = lab;
    q->n_classes = 3; /* no class names: "class 0", ...; no accuracy */
    CHECK(mkdtemp(strcpy(dir, "/tmp/descent_report_XXXXXX")) != NULL, "mkdtemp");
    CHECK(cli_summarize(q, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(q, s, dir, NULL, &err) == DS_OK, "%s", err.message);
    char *svg = svg_framed(dir, "layer_1.svg");
    if (svg) {
        CHECK(count_str(svg, "<g class=\"plot\"") == 25, "25 plots: %d",
              count_str(svg, "<g class=\"plot\""));
        CHECK(strstr(svg, ">epoch 1</text>") != NULL && strstr(svg, ">epoch 40</text>") != NULL,
              "first and last epoch");
        CHECK(strstr(svg, ">unit 1</text>") != NULL, "unit axes");
        CHECK(strstr(svg, ">class 2</text>") != NULL, "default class names");
        CHECK(count_str(svg, "stroke=\"#009E73\"") == 25 + 1, "every class in every plot");
        CHECK(max_points_per_plot(svg) == 400, "capped at 400 points: %d",
              max_points_per_plot(svg));
        CHECK(strstr(svg, "400 of 1000 probe rows") != NULL &&
                  strstr(svg, "25 of 40 epochs") != NULL,
              "the subset said");
        free(svg);
    }
    CHECK(!file_exists(dir, "layer_2.svg"), "no grid without recorded outputs");
    html = read_in(dir, "report.html");
    if (html) {
        CHECK(strstr(html, "Nothing recorded for he_normal.") != NULL, "said in the page");
        CHECK(strstr(html, "<section id=\"diagnostics\">") == NULL, "no diagnostics section");
        free(html);
    }
    remove_dir(dir);
    free(rec);
    free(lab);
    sweep_free(&sw);
}

static void test_report_unchanged_without_layers(void)
{
    sweep sw;
    layers ly;
    sweep_main(&sw);
    cli_results *r = &sw.r;
    cli_summary s[3];
    ds_error err = {0};
    char plain[] = "/tmp/descent_report_XXXXXX", full[] = "/tmp/descent_report_XXXXXX",
         cleared[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(plain) && mkdtemp(full) && mkdtemp(cleared), "mkdtemp");
    layers_add(&ly, &sw);
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(r, s, full, NULL, &err) == DS_OK, "%s", err.message);
    layers_clear(r);
    CHECK(cli_write_report(r, s, cleared, NULL, &err) == DS_OK, "%s", err.message);
    /* zero-initialized fields (record_layer 0 but no rec) mean no layer sections either */
    r->record_layer = 0;
    CHECK(cli_write_report(r, s, plain, NULL, &err) == DS_OK, "%s", err.message);

    char *a = read_in(plain, "report.html"), *b = read_in(full, "report.html"),
         *c = read_in(cleared, "report.html");
    CHECK(a && b && c, "reports written");
    if (a && b && c) {
        CHECK(strcmp(a, c) == 0, "cleared fields: the same report as without them");
        CHECK(strcmp(a, b) != 0, "the fields add sections");
        CHECK(count_str(b, "<section id=") == 3, "3 sections: %d", count_str(b, "<section id="));
        strip_sections(b);
        CHECK(strcmp(a, b) == 0, "the sections are all that is added");
    }
    free(a);
    free(b);
    free(c);
    for (int i = 0; i < 4; i++) {
        char *x = read_in(plain, chart_names[i]), *y = read_in(full, chart_names[i]);
        CHECK(x && y && strcmp(x, y) == 0, "%s unchanged", chart_names[i]);
        free(x);
        free(y);
    }
    CHECK(!file_exists(cleared, "diag_grad_norm.svg") && !file_exists(cleared, "layer_1.svg") &&
              !file_exists(plain, "diag_epochs.svg"),
          "no layer files without the fields");
    CHECK(file_exists(full, "diag_grad_norm.svg") && file_exists(full, "layer_1.svg"),
          "layer files with them");
    remove_dir(plain);
    remove_dir(full);
    remove_dir(cleared);
    layers_free(&ly);
    sweep_free(&sw);
}

static void test_report_short_labels(void)
{
    /* a setting with one value: legends name configurations by what differs */
    static const char *const labels[3] = {"activation=tanh kernel_initializer=zeros",
                                          "activation=tanh kernel_initializer=he_normal",
                                          "activation=tanh kernel_initializer=glorot_uniform"};
    sweep sw;
    layers ly;
    sweep_make(&sw, 3, 2, 4, labels);
    layers_add(&ly, &sw);
    cli_results *r = &sw.r;
    char *names[2] = {"activation", "kernel_initializer"};
    char *values[6] = {"tanh", "zeros", "tanh", "he_normal", "tanh", "glorot_uniform"};
    r->n_vary = 2;
    r->vary_names = names;
    r->values = values;
    cli_summary s[3];
    ds_error err = {0};
    char dir[] = "/tmp/descent_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    CHECK(cli_write_report(r, s, dir, NULL, &err) == DS_OK, "%s", err.message);
    char *svg = svg_framed(dir, "diag_act_mean.svg");
    if (svg) {
        CHECK(strstr(svg, ">he_normal</text>") != NULL, "legend: the differing value");
        CHECK(strstr(svg, "<title>activation=tanh kernel_initializer=he_normal</title>") != NULL,
              "the whole label in the tooltip");
        free(svg);
    }
    svg = svg_framed(dir, "diag_epochs.svg");
    if (svg) {
        CHECK(strstr(svg, ">glorot_uniform</text>") != NULL, "column head: the differing value");
        free(svg);
    }
    remove_dir(dir);
    layers_free(&ly);
    sweep_free(&sw);
}

static void test_report_layers_bad_input(void)
{
    sweep sw;
    sweep_main(&sw);
    cli_results *r = &sw.r;
    cli_summary s[3];
    ds_error err = {0};
    CHECK(cli_summarize(r, s, &err) == DS_OK, "%s", err.message);
    r->n_diag_layers = 2; /* without values */
    CHECK(cli_write_report(r, s, "/tmp", NULL, &err) == DS_ERR_ARG, "layers without values");
    CHECK(strstr(err.message, "diagnosed layers") != NULL, "message: %s", err.message);
    r->n_diag_layers = 0;
    double rec[2 * 5 * 3 * 2] = {0};
    r->record_layer = 0;
    r->rec = rec;
    r->n_probe = 2;
    r->n_classes = 2; /* without labels */
    CHECK(cli_write_report(r, s, "/tmp", NULL, &err) == DS_ERR_ARG, "classes without labels");
    sweep_free(&sw);
}

int main(void)
{
    RUN(test_stat_small);
    RUN(test_stat_nan);
    RUN(test_stat_one_and_none);
    RUN(test_stat_large_median);
    RUN(test_t_quantile);
    RUN(test_summarize);
    RUN(test_summary_csv);
    RUN(test_report_files);
    RUN(test_report_edge_cases);
    RUN(test_pick_epochs);
    RUN(test_report_diagnostics);
    RUN(test_report_layer_outputs);
    RUN(test_report_unchanged_without_layers);
    RUN(test_report_short_labels);
    RUN(test_report_layers_bad_input);
    return HARNESS_DONE();
}
