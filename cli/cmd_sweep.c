/*
 * cmd_sweep.c - descent sweep: a grid of configurations (--vary, or [vary] in an
 * experiment file), each trained --repeats times with its own seed; writes history.csv,
 * runs.csv, summary.csv, report.html and one SVG per chart into --out, and prints the
 * summary sorted by --sort.
 */
#include "args.h"
#include "commands.h"
#include "report.h"
#include "stats.h"
#include "sweep.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void default_out(const cli_args *a, char *buf, size_t n)
{
    if (!a->experiment_path) {
        snprintf(buf, n, "out/sweep");
        return;
    }
    const char *base = strrchr(a->experiment_path, '/');
    base = base ? base + 1 : a->experiment_path;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".ini") == 0) len -= 4;
    snprintf(buf, n, "out/%.*s", (int)len, base);
}

static int mkdir_parents(const char *path)
{
    char tmp[CLI_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(tmp, 0777);
        *p = '/';
    }
    return 0;
}

/* the column a metric name refers to: "test_x" -> test metric x, else final history */
static const cli_stat *stat_for(const cli_results *r, const cli_summary *s, const char *name)
{
    if (strncmp(name, "test_", 5) == 0)
        for (int k = 0; k < r->n_test; k++)
            if (strcmp(r->test_metrics[k], name + 5) == 0) return &s->test[k];
    for (int k = 0; k < r->n_metrics; k++)
        if (strcmp(r->metrics[k], name) == 0) return &s->final[k];
    return NULL;
}

static const char *pick_sort(const cli_results *r, const char *given)
{
    static const char *order[] = {"test_accuracy", "val_accuracy", "accuracy",
                                  "test_loss",     "val_loss",     "loss"};
    if (given && given[0]) return given;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *o = order[i];
        int found = 0;
        if (strncmp(o, "test_", 5) == 0) {
            for (int k = 0; k < r->n_test; k++) found |= strcmp(r->test_metrics[k], o + 5) == 0;
        } else {
            for (int k = 0; k < r->n_metrics; k++) found |= strcmp(r->metrics[k], o) == 0;
        }
        if (found) return o;
    }
    return "loss";
}

/* order of configurations by the mean of `metric` (descending for accuracies), NaN
 * last, ties by grid order; an insertion sort keeps it stable and needs no global */
static int before(const cli_results *r, const cli_summary *s, const char *metric, int a, int b)
{
    const cli_stat *x = stat_for(r, &s[a], metric), *y = stat_for(r, &s[b], metric);
    double u = x ? x->mean : (double)NAN, v = y ? y->mean : (double)NAN;
    if (isnan(u) || isnan(v)) return !isnan(u) && isnan(v);
    return strstr(metric, "acc") ? u > v : u < v;
}

static void print_summary(const cli_results *r, const cli_summary *s, const char *metric)
{
    int *order = malloc(sizeof(int) * (size_t)r->n_configs);
    if (!order) return;
    for (int c = 0; c < r->n_configs; c++) order[c] = c;
    for (int i = 1; i < r->n_configs; i++)
        for (int j = i; j > 0 && before(r, s, metric, order[j], order[j - 1]); j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int lw = 13;
    for (int c = 0; c < r->n_configs; c++) {
        int l = (int)strlen(r->labels[c]);
        if (l > lw) lw = l;
    }
    if (lw > 40) lw = 40;
    /* the sort metric first, then test accuracy and loss, then the final training loss */
    const char *want[] = {metric, "test_accuracy", "test_loss", "val_accuracy", "loss"};
    const char *cols[5];
    int nc = 0;
    for (int i = 0; i < 5 && nc < 3; i++) {
        int dup = 0;
        for (int j = 0; j < nc; j++) dup |= strcmp(cols[j], want[i]) == 0;
        if (!dup && stat_for(r, &s[0], want[i])) cols[nc++] = want[i];
    }
    printf("\n%-*s", lw, "configuration");
    for (int i = 0; i < nc; i++) printf("  %-24s", cols[i]);
    printf("  %-13s  %s\n", "reached", "stalls");
    for (int j = 0; j < r->n_configs; j++) {
        int c = order[j];
        printf("%-*.*s", lw, lw, r->labels[c]);
        for (int i = 0; i < nc; i++) {
            const cli_stat *st = stat_for(r, &s[c], cols[i]);
            char cell[64];
            snprintf(cell, sizeof cell, "%.3f ± %.3f [%.3f, %.3f]", st->mean, st->std,
                     st->ci_low, st->ci_high);
            printf("  %-25s", cell); /* "±" is two bytes */
        }
        char ep[32];
        int reached = r->n_repeats - s[c].never_reached;
        if (isnan(s[c].median_epochs_to_target)) snprintf(ep, sizeof ep, "0/%d", r->n_repeats);
        else snprintf(ep, sizeof ep, "%d/%d in %.1f", reached, r->n_repeats,
                      s[c].median_epochs_to_target);
        printf("  %-13s  %d/%d\n", ep, s[c].stalls, r->n_repeats);
    }
    printf("mean ± std over %d repeats [95%% confidence interval of the mean], sorted by %s;\n"
           "reached: runs whose %s reached %g, in a median number of epochs\n",
           r->n_repeats, metric, r->target_metric, r->target_accuracy);
    free(order);
}

/* history.csv, runs.csv and summary.csv, in that order, stopping at the first error */
typedef struct {
    const cli_results *r;
    const cli_summary *sum;
    const char *out;
    ds_status status;
    ds_error err;
} tables_job;

static void *write_tables(void *arg)
{
    tables_job *j = arg;
    char path[CLI_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/history.csv", j->out);
    j->status = cli_write_history_csv(j->r, path, &j->err);
    if (!j->status) {
        snprintf(path, sizeof path, "%s/runs.csv", j->out);
        j->status = cli_write_runs_csv(j->r, path, &j->err);
    }
    if (!j->status) {
        snprintf(path, sizeof path, "%s/summary.csv", j->out);
        j->status = cli_write_summary_csv(j->r, j->sum, path, &j->err);
    }
    return NULL;
}

int cmd_sweep(int argc, char **argv)
{
    static const char *const extra[] = {"quiet", NULL};
    cli_args a;
    ds_error err = {0};
    ds_status s = cli_args_parse(&a, argc, argv, extra, 1, &err);
    if (!s && a.help) {
        printf("usage: descent sweep [FILE.ini] --data FILE [--vary NAME=V1,V2,...]... "
               "[options]\n\n"
               "Trains every configuration of the grid (the product of the --vary axes) "
               "--repeats times,\n"
               "repeat r of every configuration with the same seed (unless --unpaired), "
               "and writes\n"
               "history.csv, runs.csv, summary.csv, report.html and SVG charts into --out. "
               "A sweep\n"
               "interrupted and run again with the same arguments resumes where it "
               "stopped.\n"
               "  --vary NAME=V1,V2,...          a sweep axis; any setting below marked "
               "as a training\n"
               "                                 setting (commas inside parentheses do not "
               "split)\n"
               "  --quiet                        no progress bar\n");
        cli_print_options(stdout, 1);
        cli_args_free(&a);
        return 0;
    }
    static const char *const train_only[] = {"save", "resume", "checkpoint", NULL};
    for (int i = 0; !s && train_only[i]; i++)
        if (a.settings.set[cli_setting_find(train_only[i])])
            s = cli_fail(&err, "option --%s belongs to 'descent train', not sweep", train_only[i]);
    cli_grid g = {0};
    if (!s) s = cli_grid_make(&a, &g, &err);
    char out[CLI_PATH_MAX], cache[CLI_PATH_MAX + 16];
    cli_results r = {0};
    cli_summary *sum = NULL;
    int code = 0;
    if (!s) {
        if (g.configs[0].out[0]) snprintf(out, sizeof out, "%s", g.configs[0].out);
        else default_out(&a, out, sizeof out);
        struct stat st;
        if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
            s = cli_fail(&err, "option --out: %s exists and is not a directory", out);
        snprintf(cache, sizeof cache, "%s/.runs", out);
    }
    if (!s) {
        int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
        int jobs = g.configs[0].jobs ? g.configs[0].jobs : (cores > 0 ? cores : 1);
        if (!a.quiet)
            fprintf(stderr, "descent sweep: %d configuration%s x %d repeats = %d runs, %d job%s\n",
                    g.n_configs, g.n_configs == 1 ? "" : "s", g.repeats,
                    g.n_configs * g.repeats, jobs, jobs == 1 ? "" : "s");
        mkdir_parents(out);
        cli_sweep_options so = {jobs, out, cache, !a.quiet && isatty(2)};
        s = cli_sweep_run(&g, &so, &r, &err);
    }
    if (!s) {
        r.command = cli_strdup(a.command);
        r.experiment = a.experiment_text ? cli_strdup(a.experiment_text) : NULL;
        r.settings = cli_settings_dump(&a.settings);
        sum = calloc((size_t)r.n_configs, sizeof *sum);
        if (!sum) s = cli_fail_status(&err, DS_ERR_NOMEM, "out of memory");
    }
    const char *sort = NULL;
    if (!s) {
        sort = pick_sort(&r, g.configs[0].sort);
        s = cli_report_check_sort(&r, sort, &err);
        if (s) {
            char msg[DS_ERROR_MESSAGE_SIZE];
            snprintf(msg, sizeof msg, "%s", err.message);
            snprintf(err.message, sizeof err.message, "option --sort: %.480s", msg);
        }
    }
    if (!s) s = cli_summarize(&r, sum, &err);
    if (!s) {
        /* the tables on a second thread while this one draws the report: each file is
         * written whole or not at all, and the first error (tables first) is reported */
        tables_job tj = {&r, sum, out, DS_OK, {0}};
        pthread_t th;
        int threaded = pthread_create(&th, NULL, write_tables, &tj) == 0;
        if (!threaded) write_tables(&tj);
        ds_error re = {0};
        ds_status rs = cli_write_report(&r, sum, out, sort, &re);
        if (threaded) pthread_join(th, NULL);
        s = tj.status ? tj.status : rs;
        err = tj.status ? tj.err : re;
    }
    if (!s) {
        print_summary(&r, sum, sort);
        int div = 0;
        for (int i = 0; i < r.n_configs * r.n_repeats; i++) div += r.diverged[i];
        if (div)
            fprintf(stderr, "descent sweep: %d of %d runs diverged (NaN or infinite loss)\n", div,
                    r.n_configs * r.n_repeats);
        printf("\nreport: %s/report.html\n", out);
    }
    if (s) {
        fprintf(stderr, "descent sweep: %s\n", err.message);
        code = cli_exit_code(s);
    }
    free(sum);
    cli_results_free(&r);
    cli_grid_free(&g);
    cli_args_free(&a);
    return code;
}
