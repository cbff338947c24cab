/*
 * report.h - the report of a sweep for people: one SVG chart per history metric, the
 * per-layer diagnostics and recorded layer outputs when the sweep has them, and a
 * self-contained report.html (summary table, the charts inlined, provenance), written
 * atomically into a directory. Leaves out the statistics themselves (stats.h) and the
 * machine-readable tables (summary.csv: stats.h; history.csv, runs.csv: elsewhere).
 *
 * The files need no network: no external fonts, scripts or style sheets; the only URI
 * in them is the SVG namespace. Showing and hiding the individual runs in report.html is
 * pure CSS (a checkbox), so the page runs no script at all.
 */
#ifndef CLI_REPORT_H
#define CLI_REPORT_H

#include "descent.h"
#include "results.h"

/* Checks that sort_metric names a column of the summary: "test_<m>" for a test metric m
 * or a history metric's name ("loss", "val_accuracy", ...) for its final values. NULL is
 * accepted (the report then picks a default, see cli_write_report). DS_ERR_ARG with the
 * list of valid names otherwise. Lets the command check its option before training. */
ds_status cli_report_check_sort(const cli_results *r, const char *sort_metric, ds_error *err);

/* Writes into the existing directory dir:
 *   <metric>.svg   for each history metric (characters outside [A-Za-z0-9_.-] in the
 *                  name become '_'): per configuration the mean over repeats as a line,
 *                  a band of mean +- std (clipped to [0, 1] for accuracy-like metrics,
 *                  i.e. names containing "acc" whose values lie in [0, 1]) and each
 *                  repeat as a thin faint line; epochs are 1-based
 *   diag_<quantity>.svg   with diagnostics (n_diag_layers > 0), for each name in
 *                  cli_diag_names: x the layer (1 = next to the input, named where the
 *                  configurations agree), y each run's last finite value; per
 *                  configuration the mean over repeats as a line and a min-max band.
 *                  Log scale for weight_norm, grad_norm and update_ratio (zeros cannot be
 *                  drawn: a configuration whose runs are all 0 in a layer gets an open
 *                  triangle at the bottom; "all zero" when nothing else is left), [0, 1]
 *                  for saturated and dead
 *   diag_epochs.svg   with diagnostics over at least 2 epochs: small multiples, a row per
 *                  diagnostic that has values and a column per configuration (6 columns a
 *                  block), a line per layer (mean over repeats) colored by depth
 *   layer_<n>.svg  with recorded outputs (record_layer >= 0 and rec not NULL), for the
 *                  n-th configuration (1-based, configuration order) that recorded
 *                  anything: a grid of scatter plots of the 2-D outputs, one per epoch
 *                  (all up to 25 epochs, else 25 evenly spaced with the first and the
 *                  last reached), at most 400 probe rows (a fixed random sample), points
 *                  colored by class, axes fixed over the configuration's epochs
 *   report.html    title and description, the summary table sorted by sort_metric
 *                  (descending when the name contains "acc", ascending otherwise; NaN
 *                  last; NULL picks the first present of test_accuracy, val_accuracy,
 *                  accuracy, test_loss, val_loss, loss), below it why runs stalled (the
 *                  distinct stall_reasons per configuration with their counts), the
 *                  training curves, the diagnostics and the recorded outputs, the command,
 *                  experiment file and settings, the seeds of every run, the version
 * Without diagnostics, stall reasons and recorded outputs (n_diag_layers 0, stall_reasons
 * NULL, record_layer -1, or a zero-initialized cli_results: record_layer 0 with rec NULL)
 * the files are exactly those of a report without these features.
 * s holds r->n_configs summaries from cli_summarize. Every string from the user is
 * escaped for HTML/XML, and invalid UTF-8 or control characters become U+FFFD.
 * DS_ERR_ARG (bad results or sort_metric), DS_ERR_NOMEM, DS_ERR_IO (with the path). */
ds_status cli_write_report(const cli_results *r, const cli_summary *s, const char *dir,
                           const char *sort_metric, ds_error *err);

#endif
