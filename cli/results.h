/*
 * results.h - what a sweep produced, gathered for the writers (history.csv, runs.csv,
 * summary.csv, report.html): every run's per-epoch curves and final test metrics,
 * indexed by configuration and repeat, and the per-configuration statistics.
 */
#ifndef CLI_RESULTS_H
#define CLI_RESULTS_H

#include <stdint.h>

#include "descent.h"

#define CLI_MAX_METRICS 16

typedef struct {
    /* the grid: n_vary varied settings; config c has value values[c * n_vary + v] */
    int n_configs;
    int n_vary;
    char **vary_names;   /* (n_vary) e.g. "kernel_initializer" */
    char **values;       /* (n_configs * n_vary) */
    char **labels;       /* (n_configs) e.g. "he_normal" or "lr=0.01 batch=16"; unique */
    int n_repeats;

    /* per-epoch curves, NaN where a run stopped early or a metric is absent:
     * curves[((c * n_repeats + r) * n_metrics + k) * n_epochs + e] */
    int n_epochs;
    int n_metrics;
    char *metrics[CLI_MAX_METRICS]; /* history column names: loss, accuracy, val_loss, ... */
    double *curves;

    /* per run (c * n_repeats + r): final test metrics (NaN when there is no test set),
     * the seed the run finally used, restarts made, whether the final attempt stalled,
     * epochs trained when the target accuracy was first reached (1 = after the first
     * epoch; -1 = never) */
    int n_test;                     /* number of test metrics: loss, accuracy, ... */
    char *test_metrics[CLI_MAX_METRICS]; /* names without prefix: "loss", "accuracy" */
    double *test;                   /* (n_configs * n_repeats * n_test) */
    uint64_t *seeds;
    int *restarts;
    int *stalled;
    int *diverged;
    int *epochs_to_target;
    double target_accuracy;
    char *target_metric;            /* the accuracy series used, e.g. "val_accuracy" */

    /* provenance for the outputs' headers */
    char *command;    /* the exact command line */
    char *experiment; /* the experiment file's text, or NULL */
    char *settings;   /* the full base configuration, one "key = value" a line */
    uint64_t base_seed;
    int paired;
} cli_results;

/* Statistics of one configuration over its repeats for one quantity. */
typedef struct {
    int n;         /* finite values used */
    double mean, std, min, max, median;
    double ci_low, ci_high; /* 95% confidence interval of the mean (Student t) */
} cli_stat;

/* The summary of one configuration. */
typedef struct {
    cli_stat final[CLI_MAX_METRICS]; /* the last epoch's value of each history metric */
    cli_stat test[CLI_MAX_METRICS];  /* each test metric */
    double median_epochs_to_target;  /* over runs that reached it; NaN if none did */
    int never_reached;
    int stalls, restarts, diverged;
} cli_summary;

#endif
