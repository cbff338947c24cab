/*
 * sweep.h - a grid of configurations times repeats, each run a self-contained unit
 * (configuration, repeat, seed) computed in any order by a pool of threads and merged in
 * a fixed order; finished runs are kept in the journal OUT/.runs so an interrupted sweep
 * resumes.
 */
#ifndef CLI_SWEEP_H
#define CLI_SWEEP_H

#include "args.h"
#include "results.h"
#include "run.h"

typedef struct {
    int n_configs;
    cli_settings *settings; /* (n_configs) each configuration's full settings */
    cli_config *configs;    /* (n_configs) */
    char **labels;          /* (n_configs) */
    char **values;          /* (n_configs * n_axes) */
    int n_axes;
    char **axis_names;
    int repeats;
    uint64_t base_seed;
    int paired;
} cli_grid;

/* Expands the axes of `a` over its base settings; checks every configuration. */
ds_status cli_grid_make(const cli_args *a, cli_grid *g, ds_error *err);
void cli_grid_free(cli_grid *g);

/* The seed of repeat r of configuration c: paired, ds_seed_mix(seed, r); unpaired, the
 * configuration's label is mixed in first. */
uint64_t cli_grid_seed(const cli_grid *g, int c, int r);

typedef struct {
    int jobs;          /* threads; >= 1 */
    const char *out;   /* output folder, made once the grid is checked; or NULL */
    const char *cache; /* journal of finished runs (inside out), or NULL */
    int progress;      /* draw a progress bar on stderr */
} cli_sweep_options;

/* Runs every (configuration, repeat) of g, then gathers them into *out (freed with
 * cli_results_free). Divergence is a result; other failures stop the sweep. */
ds_status cli_sweep_run(const cli_grid *g, const cli_sweep_options *o, cli_results *out,
                        ds_error *err);
void cli_results_free(cli_results *r);

/* history.csv: index epoch, two header rows (configuration, metric), means over repeats */
ds_status cli_write_history_csv(const cli_results *r, const char *path, ds_error *err);
/* runs.csv: one row per value: the varied settings, configuration, repeat, seed, epoch,
 * metric, value (train, validation and test metrics) */
ds_status cli_write_runs_csv(const cli_results *r, const char *path, ds_error *err);

#endif
