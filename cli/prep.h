/*
 * prep.h - turns a cli_table into model-ready float arrays the way a Keras course
 * notebook does with pandas and scikit-learn: pick the target column, encode class
 * labels, split into train and test rows (train_test_split), and scale the features
 * (StandardScaler or MinMaxScaler). The caller builds ds_dataset objects from the arrays.
 *
 * Target encodings (cli_target_mode):
 *   auto        classification when the target's values are all integers (2 and 2.0 are
 *               the same class) or not all numbers, and there are at most max_classes
 *               distinct values: 2 classes -> binary, more -> onehot. Otherwise, if every
 *               value is a number, regression; else an error.
 *   binary      exactly 2 classes, one column: 0 for the first label, 1 for the second.
 *   onehot      n_classes columns, 1 in the column of the row's class (Keras's
 *               to_categorical); use with categorical_crossentropy and softmax.
 *   sparse      one column holding the class index; sparse_categorical_crossentropy.
 *   regression  one column, the number itself (not scaled).
 * Class order: numeric labels sorted by value, otherwise labels sorted by byte value
 * (strcmp, as numpy.unique sorts strings); class index i <-> label_names[i].
 *
 * Split (sklearn's train_test_split rule for a float test_size):
 *   n_test = ceil(test_size * n) in double arithmetic, n_train = n - n_test;
 *   p = ds_rng_permutation of 0..n-1 drawn from ds_rng_split(split_seed, DS_STREAM_USER+1).
 *   Plain: test rows = p[0 .. n_test), train rows = p[n_test .. n), in that order.
 *   Stratified: class c with n_c rows gets t_c test rows by largest remainders:
 *     t_c = floor(n_test * n_c / n), then the n_test - sum(t_c) rows still to place go
 *     one each to the classes with the largest remainders (n_test * n_c mod n), ties to
 *     the lower class index. Walking p in order, a row goes to the test rows while its
 *     class has fewer than t_c there, otherwise to the train rows; both keep p's order.
 *     (sklearn's StratifiedShuffleSplit allocates the same way but breaks ties at
 *     random.) Requires n_test >= n_classes, at least 2 rows in every class, and
 *     t_c < n_c (a training row for every class); test_size 0 needs none of this.
 *   Row numbers in train_rows/test_rows are 0-based data rows of the table.
 *
 * Scaling, fitted on the training rows (or on all rows with scale_before_split, as the
 * course does), applied to every row as x_scaled = (x - shift) / scale:
 *   standard  shift = mean, scale = population standard deviation (ddof = 0, as
 *             StandardScaler); a constant column gets shift = its value, scale = 1.
 *   minmax    shift = min, scale = max - min (1 for a constant column); test rows may
 *             fall outside [0, 1].
 *   none      shift = 0, scale = 1.
 * Statistics are computed in double, summed in row order of the table.
 *
 * Errors name the file and place ("PATH:LINE:COLUMN: ..."; LINE and COLUMN as in
 * table.h): a feature cell that is not a number or is beyond float32's range, an empty
 * target cell (DS_ERR_FORMAT); a missing target column, an impossible split or encoding
 * (DS_ERR_ARG).
 */
#ifndef DS_CLI_PREP_H
#define DS_CLI_PREP_H

#include "descent.h"
#include "table.h"

#include <stdint.h>

typedef enum { CLI_SCALE_STANDARD = 0, CLI_SCALE_MINMAX, CLI_SCALE_NONE, CLI_SCALE_COUNT }
    cli_scale_mode;

typedef enum {
    CLI_TARGET_AUTO = 0,
    CLI_TARGET_ONEHOT,
    CLI_TARGET_SPARSE,
    CLI_TARGET_BINARY,
    CLI_TARGET_REGRESSION,
    CLI_TARGET_COUNT
} cli_target_mode;

/* "standard", "minmax", "none" */
const char *cli_scale_mode_name(cli_scale_mode m);
ds_status cli_scale_mode_parse(const char *name, cli_scale_mode *out);
/* "auto", "onehot", "sparse", "binary", "regression" */
const char *cli_target_mode_name(cli_target_mode m);
ds_status cli_target_mode_parse(const char *name, cli_target_mode *out);

typedef struct {
    const char *target;          /* target column name; NULL = the last column */
    cli_target_mode target_mode; /* default auto */
    int max_classes;             /* auto: most distinct values for classification; 50 */
    cli_scale_mode scale;        /* default standard */
    double test_size;            /* fraction of rows for the test set, [0, 1); 0.3 */
    uint64_t split_seed;         /* default 42 */
    int stratify;                /* keep class proportions in the split; default 0 */
    int scale_before_split;      /* fit the scaler on all rows; default 0 (train only) */
} cli_prep_options;

cli_prep_options cli_prep_defaults(void);

/* Model-ready data. Every pointer is owned by the struct (cli_data_free). Arrays are
 * row-major float32. */
typedef struct {
    int n_train, n_test;     /* rows */
    int n_features;          /* every column but the target, in file order */
    int n_targets;           /* 1, or n_classes for onehot */
    float *x_train;          /* (n_train, n_features), scaled */
    float *y_train;          /* (n_train, n_targets) */
    float *x_test;           /* (n_test, n_features); NULL when n_test == 0 */
    float *y_test;           /* (n_test, n_targets); NULL when n_test == 0 */
    int *train_rows;         /* (n_train) 0-based table rows of x_train, in order */
    int *test_rows;          /* (n_test); NULL when n_test == 0 */

    char **feature_names;    /* (n_features) */
    int *feature_cols;       /* (n_features) column index in the source table */
    char *target_name;
    int target_col;
    cli_target_mode task;    /* resolved: never CLI_TARGET_AUTO */
    int n_classes;           /* 0 for regression */
    char **label_names;      /* (n_classes); NULL for regression */
    int labels_numeric;      /* 1: labels are numbers, matched by value in apply */

    cli_scale_mode scale_mode;
    double *shift, *scale;   /* (n_features): x_scaled = (x - shift) / scale */

    /* the options the data was made with */
    double test_size;
    uint64_t split_seed;
    int stratify;
    int scale_before_split;
} cli_data;

/* Prepares table t with options o (NULL = defaults) into *out (caller frees with
 * cli_data_free; NULL on failure). err may be NULL. */
ds_status cli_prep(const cli_table *t, const cli_prep_options *o, cli_data **out,
                   ds_error *err);
void cli_data_free(cli_data *d);

/* Applies a fitted preprocessing to every row of another table, in file order, for
 * evaluate and predict. Features are found by name (column order may differ, extra
 * columns are ignored); each is scaled with fitted->shift/scale. When y is not NULL the
 * target column is required and encoded with fitted's labels (an unknown label is a
 * DS_ERR_FORMAT naming line and column); when y is NULL the target is not read.
 * Reads only n_features, feature_names, shift, scale, target_name, task, n_targets,
 * n_classes, label_names and labels_numeric from fitted, so a caller restoring a saved
 * preprocessing can fill just those.
 * Outputs: *x (n, n_features) and *y (n, n_targets), malloc'd, freed by the caller with
 * free(); *n = cli_table_rows(t). Nothing is written on failure. */
ds_status cli_prep_apply(const cli_table *t, const cli_data *fitted, float **x, float **y,
                         int *n, ds_error *err);

#endif /* DS_CLI_PREP_H */
