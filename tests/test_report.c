/*
 * test_report.c - the sweep's statistics and report writers: descriptive statistics and
 * Student-t intervals against values worked out by hand (quantiles from the t table,
 * cross-checked with mpmath), the summary of a synthetic sweep, summary.csv
 * read back, and report.html / the SVG charts checked as text (escaping, no network
 * references, one line per configuration). Outputs go to a mkdtemp directory that is
 * removed at the end.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/report.h"
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
    return HARNESS_DONE();
}
