/*
 * run.h - one training run: a configuration, its prepared data and a seed in; a history
 * and test metrics out. A run is self-contained and depends on nothing but its inputs,
 * so runs can be computed in any order, on any thread or machine, and merged.
 */
#ifndef CLI_RUN_H
#define CLI_RUN_H

#include "descent.h"
#include "prep.h"
#include "results.h"
#include "settings.h"

/* Prepared data for a configuration (shared, read-only, by all its runs). */
typedef struct {
    cli_data *prep;    /* the fitted preprocessing and the training rows */
    ds_dataset *train;
    ds_dataset *test;  /* NULL when there is no test set */
} cli_rundata;

/* Resolves the target encoding a configuration needs (softmax output -> one-hot, sparse
 * loss -> sparse) into the preparation options. */
cli_prep_options cli_config_prep_options(const cli_config *c);
/* Reads and prepares the data of configuration c (test_data too). Errors name the file. */
ds_status cli_rundata_load(const cli_config *c, const cli_table *table,
                           const cli_table *test_table, cli_rundata *out, ds_error *err);
void cli_rundata_free(cli_rundata *d);

/* Builds and compiles the model of configuration c for data d, initialized from seed. */
ds_status cli_model_build(const cli_config *c, const cli_data *d, uint64_t seed,
                          ds_model **out, ds_error *err);

typedef struct {
    ds_history *history; /* the final attempt's per-epoch history */
    int n_test;
    char test_names[CLI_MAX_METRICS][48];
    double test[CLI_MAX_METRICS];
    uint64_t seed_used;
    int restarts, stalled, diverged;
    char message[DS_ERROR_MESSAGE_SIZE]; /* the divergence message, if any */
    char stall_reason[160];              /* what the diagnostics showed at the stall */

    /* --diagnostics: diag[(l * CLI_N_DIAG + q) * n_epochs + e] for the final attempt */
    int n_layers, n_epochs;
    char (*layer_names)[48]; /* (n_layers) "dense_1 (relu)" */
    double *diag;
    /* --record-layer (when the run records): outputs of that layer on the probe rows after
     * every epoch, rec[(e * n_probe + p) * rec_width + u], and the probe accuracy */
    int n_probe, rec_width;
    float *rec;
    double *rec_acc; /* (n_epochs) */
} cli_run_result;

/* Called after each epoch of each attempt (for progress), may be NULL. */
typedef void (*cli_epoch_hook)(void *user, int epoch, int epochs, const ds_history *h);
/* Called after each batch (for a live progress bar), may be NULL. */
typedef void (*cli_batch_hook)(void *user, int epoch, int batch, int n_batches, double loss);

/* What descent train adds to a run: continuing a saved model, checkpoints, and keeping
 * the trained model for --save. */
typedef struct {
    ds_model *resume;       /* train this model (the caller's) instead of building one */
    int initial_epoch;      /* with resume: epochs it has run */
    const char *checkpoint; /* save after each epoch (or each best epoch) when not NULL */
    const char *monitor;    /* save_best_only's metric */
    int save_best_only;
    const cli_data *prep;   /* saved with the model */
    const cli_settings *settings;
    ds_model **keep;        /* receives the trained model (the caller frees it) */
    ds_status status;       /* a checkpoint's failure, reported after training stops */
    ds_error error;
} cli_train_extras;

/* Trains configuration c on d from `seed` (recording layer outputs when `record` and
 * c->record_layer is set), re-initializing a stalled run with the next
 * seed of its stream up to c->restarts times (attempt a > 0 uses
 * ds_seed_mix(seed, a)), evaluates the test set, and fills *res. Divergence is a result
 * (res->diverged), not an error. */
ds_status cli_run(const cli_config *c, const cli_rundata *d, uint64_t seed,
                  cli_epoch_hook on_epoch, cli_batch_hook on_batch, void *user,
                  cli_train_extras *x, int record, cli_run_result *res, ds_error *err);
/* The probe rows diagnostics and recorded outputs use: the test rows, else the training
 * rows; at most CLI_PROBE_ROWS of them. */
#define CLI_PROBE_ROWS 512
const ds_dataset *cli_probe(const cli_rundata *d);
/* Index of the layer named by `spec` (an index, 0 = the first layer and -1 the last as in
 * Python, or a name such as "dense_1") in m, or -1. */
int cli_find_layer(const ds_model *m, const char *spec);
void cli_run_result_free(cli_run_result *res);

#endif
