/*
 * settings.h - every setting of a training run or sweep, by its Keras-style name, as
 * text. The command line (--batch-size 16), an experiment file ([fit] batch_size = 16)
 * and a sweep axis (--vary batch_size=16,32) all set the same named values, so any
 * setting can be varied and every output can list the full configuration.
 *
 * Text is turned into typed configuration (cli_config) only when a run is built: the
 * data it needs (feature count, classes) is known then.
 */
#ifndef CLI_SETTINGS_H
#define CLI_SETTINGS_H

#include <stdint.h>

#include "descent.h"
#include "prep.h"

typedef enum {
    CLI_SEC_DATA = 0,
    CLI_SEC_MODEL,
    CLI_SEC_COMPILE,
    CLI_SEC_FIT,
    CLI_SEC_SWEEP,
    CLI_SEC_COUNT
} cli_section;

typedef struct {
    const char *key;     /* e.g. "batch_size"; the option is "--batch-size" */
    cli_section section; /* where it goes in an experiment file */
    const char *def;     /* default value as text; "" = unset */
    const char *meta;    /* value placeholder for --help, e.g. "N" */
    const char *help;
    int varies;          /* may be a sweep axis */
} cli_setting_def;

/* Definition number i (0, 1, ...); NULL past the last. */
const cli_setting_def *cli_setting_def_at(int i);
const char *cli_section_name(cli_section s);
/* Index of a setting by key ("batch_size"; "batch-size" accepted too), or -1. */
int cli_setting_find(const char *key);

#define CLI_MAX_SETTINGS 64

typedef struct {
    char *value[CLI_MAX_SETTINGS]; /* owned strings, never NULL after init */
    int set[CLI_MAX_SETTINGS];     /* 1 when given explicitly */
} cli_settings;

void cli_settings_init(cli_settings *s);
void cli_settings_free(cli_settings *s);
ds_status cli_settings_copy(cli_settings *dst, const cli_settings *src);
/* Sets `key` to `value` after checking the value's form (a number where a number is
 * expected, a known name where a name is expected). `origin` names where the value came
 * from for messages ("option --batch-size", "FILE:LINE"). */
ds_status cli_settings_set(cli_settings *s, const char *key, const char *value,
                           const char *origin, ds_error *err);
const char *cli_settings_get(const cli_settings *s, const char *key);
/* "key = value" lines for every setting, in definition order. Caller frees. */
char *cli_settings_dump(const cli_settings *s);

/* Sets every "key = value" line of text (what cli_settings_dump writes), except the keys
 * in `skip` (NULL-terminated, may be NULL). */
ds_status cli_settings_load_dump(cli_settings *s, const char *text, const char *origin,
                                 const char *const *skip, ds_error *err);

/* ---- typed configuration of one run ---- */

#define CLI_MAX_LAYERS 64
#define CLI_PATH_MAX 4096

typedef struct {
    ds_layer_kind kind;
    ds_dense_config dense;
    int activation_given; /* dense: the spec named an activation */
    int kinit_given, binit_given;
    float rate;           /* dropout */
} cli_layer;

typedef struct {
    /* data */
    char data[CLI_PATH_MAX];
    char test_data[CLI_PATH_MAX];
    char target[256];
    cli_prep_options prep;
    /* model */
    int n_layers;        /* 0 = choose from the target */
    cli_layer layers[CLI_MAX_LAYERS];
    ds_activation activation;
    ds_initializer kernel_initializer, bias_initializer;
    /* compile */
    int loss_given;
    ds_loss loss;
    ds_optimizer optimizer;
    ds_keras_version keras_version;
    /* fit */
    ds_fit_options fit;
    uint64_t seed;
    char save[CLI_PATH_MAX], resume[CLI_PATH_MAX], checkpoint[CLI_PATH_MAX];
    char checkpoint_monitor[32];
    int save_best_only;
    int diagnostics;
    char record_layer[64];
    /* sweep */
    int repeats, unpaired, restarts, stall_patience, jobs;
    double stall_min_delta, target_accuracy;
    char stall_monitor[32];
    char out[CLI_PATH_MAX];
    char sort[64];
} cli_config;

/* Parses every setting into *c. Errors name the setting and its origin. */
ds_status cli_config_from_settings(const cli_settings *s, cli_config *c, ds_error *err);

/* Parses "dense(8, relu), dropout(0.2), dense(1, sigmoid)". */
ds_status cli_layers_parse(const char *text, cli_layer *layers, int *n, ds_error *err);

/* Splits "a, b(c, d), e" at top-level commas (or ';'); parts are trimmed, owned by the
 * caller (free each, then the array). */
ds_status cli_split_list(const char *text, char ***parts, int *n, ds_error *err);
void cli_free_list(char **parts, int n);
/* The values of a sweep axis: split like cli_split_list, except that when the text has a
 * ';' outside parentheses the values are separated by ';' alone, so that they may hold
 * commas ("dense(2, tanh), dense(1); dense(3, tanh), dense(1)"). */
ds_status cli_split_axis(const char *text, char ***parts, int *n, ds_error *err);

#endif
