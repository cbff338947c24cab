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

/* the per-layer diagnostics a sweep records, in this order (see ds_layer_diag) */
#define CLI_N_DIAG 7
static const char *const cli_diag_names[CLI_N_DIAG] = {
    "weight_norm", "grad_norm", "update_ratio", "act_mean", "act_std", "saturated", "dead"};

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

    /* per-layer diagnostics (--diagnostics), or n_diag_layers 0: layer l of run i,
     * quantity q (cli_diag_names), epoch e:
     * diag[((i * n_diag_layers + l) * CLI_N_DIAG + q) * n_epochs + e]; NaN where a layer
     * does not exist in that configuration or the quantity does not apply */
    int n_diag_layers;     /* the most layers of any configuration */
    double *diag;
    char **diag_layer_names; /* (n_configs * n_diag_layers) e.g. "dense_1 (relu)"; NULL
                                where the configuration has fewer layers */
    char **stall_reasons;  /* (n_runs) what the diagnostics showed when the run stalled
                              ("all relu units dead in dense", ...), or NULL */

    /* recorded layer outputs (--record-layer), or record_layer -1: for repeat 0 of each
     * configuration, after every epoch, the outputs of layer record_layer on the probe
     * rows, projected to 2 dimensions (the layer's 2 units, or its first two principal
     * components, fitted on the last epoch): rec[((c * n_epochs + e) * n_probe + p) * 2 + k]
     * with NaN for epochs a run did not reach */
    int record_layer;
    int *record_layers;    /* (n_configs) the recorded layer of each configuration (an index
                              like -2 or a name resolves per depth); NULL = record_layer */
    int n_probe;
    int record_pca;        /* 1 when the projection is PCA (the layer is wider than 2) */
    double *rec;
    int *probe_labels;     /* (n_probe) class index of each probe row, -1 for regression */
    char **class_names;    /* (n_classes) */
    int n_classes;
    double *rec_accuracy;  /* (n_configs * n_epochs) the probe accuracy after each epoch */

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
