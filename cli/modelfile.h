/*
 * modelfile.h - what the command keeps in a model file beside the weights: the fitted
 * preprocessing (so predict and evaluate transform new rows as training did), the
 * settings it was trained with and how many epochs it has run (so --resume continues
 * the same run). Stored as JSON strings in the file's __metadata__ (descent_io.h).
 */
#ifndef CLI_MODELFILE_H
#define CLI_MODELFILE_H

#include "descent_io.h"
#include "prep.h"
#include "settings.h"

/* JSON text of the fields cli_prep_apply reads (feature_names, shift, scale,
 * target_name, task, n_targets, n_classes, label_names, labels_numeric, scale_mode).
 * Caller frees. NULL when out of memory. */
char *cli_preprocessing_to_json(const cli_data *d);
/* The inverse: a cli_data holding just those fields (no rows). DS_ERR_FORMAT naming
 * `path` when the text is not what to_json writes. */
ds_status cli_preprocessing_from_json(const char *json, const char *path, cli_data **out,
                                      ds_error *err);

/* Saves m to path with the preprocessing, the settings and epochs_done, optimizer
 * state included (so training can resume). Atomic. */
ds_status cli_model_save(const ds_model *m, const char *path, const cli_data *prep,
                         const cli_settings *settings, int epochs_done, ds_error *err);

typedef struct {
    ds_model *model;
    cli_data *prep;      /* fields from cli_preprocessing_from_json */
    char *settings;      /* the "key = value" lines it was trained with, or NULL */
    int epochs_done;
    ds_metadata meta;
} cli_saved_model;

/* Loads what cli_model_save wrote. A file without descent's command metadata (a model
 * saved by the library alone) loads with prep NULL. */
ds_status cli_model_load(const char *path, cli_saved_model *out, ds_error *err);
void cli_saved_model_free(cli_saved_model *s);

#endif
