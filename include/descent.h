/*
 * descent.h - the public interface of libdescent, a small C11 library that trains
 * sequential dense networks by backpropagation, with Keras's names, defaults and
 * update rules.
 *
 * Data flow:  ds_dataset -> ds_model (layers, compile) -> ds_model_fit -> ds_history.
 *
 * Conventions
 * - Every function and type starts with ds_, every macro and enum constant with DS_.
 * - Configuration is plain value structs, filled with Keras's defaults by the matching
 *   *_defaults() function and then adjusted by the caller; state (model, dataset,
 *   history) is opaque and owned through *_create / *_free pairs. *_free(NULL) does
 *   nothing.
 * - Fallible calls return ds_status (DS_OK = 0) and, when `err` is not NULL, write a
 *   message a person can act on into it. The library never prints (except into a FILE *
 *   the caller passes), never exits and never aborts on bad input.
 * - No global mutable state: every random draw comes from a ds_rng the caller seeds.
 * - Numbers: weights, activations and optimizer state are float32; epoch means and
 *   losses are accumulated in double.
 *
 * Keras versions. The course this library follows ran tf.keras 2.5. Where Keras
 * versions disagree, descent follows tf.keras 2.x by default (DS_KERAS_2) and
 * Keras 3 on request (DS_KERAS_3, see ds_model_set_keras_version). The rules that
 * differ:
 *   - RMSprop without momentum: epsilon outside the square root (2.x), inside (3).
 *     With momentum, epsilon is inside in both.
 *   - Adagrad: epsilon outside the square root (2.x), inside (3).
 *   - Nadam momentum schedule: beta_1 (1 - 0.5 * 0.96^(0.004 t)) (2.x),
 *     beta_1 (1 - 0.5 * 0.96^t) (3).
 *   - hard_sigmoid: clip(0.2 x + 0.5, 0, 1) (2.x), clip(x / 6 + 0.5, 0, 1) (3).
 *   - EarlyStopping(restore_best_weights): restores only when it stops training (2.x),
 *     at the end of training whenever a best epoch exists (3).
 *   - EarlyStopping mode 'auto': max when the monitored name contains "acc", else min
 *     (both versions resolve the names descent knows the same way).
 * Where Keras does something a user would not want, descent differs and says so:
 *   - validation_split leaving an empty training or validation part is an error
 *     (DS_ERR_ARG) instead of a silently empty set.
 */
#ifndef DESCENT_H
#define DESCENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DS_VERSION_MAJOR 0
#define DS_VERSION_MINOR 1
#define DS_VERSION_PATCH 0
#define DS_VERSION_STRING "0.1.0"

/* Rows of a batch are processed in shards of this many rows; parameter gradients are
 * computed per shard and added in shard order. The result therefore does not depend
 * on how shards are spread over threads or machines. (A batch of 64 is one shard, so
 * its weight-gradient sums run over all its rows: with shards of 32, a 784-256-128-10
 * network trained 6-7% slower on Fashion-MNIST.) */
#define DS_SHARD_ROWS 64

/* ------------------------------------------------------------------------------------ */
/* Status and errors */

typedef enum {
    DS_OK = 0,
    DS_ERR_NOMEM,    /* an allocation failed */
    DS_ERR_IO,       /* a read or write failed */
    DS_ERR_FORMAT,   /* malformed input data */
    DS_ERR_SHAPE,    /* shapes do not fit together */
    DS_ERR_ARG,      /* a bad argument or hyperparameter value */
    DS_ERR_NUMERIC,  /* a numerical failure other than divergence */
    DS_ERR_DIVERGED, /* the training loss became NaN or infinite (terminate_on_nan) */
    DS_ERR_STATE,    /* the call does not fit the object's state (e.g. fit before compile) */
    DS_STATUS_COUNT
} ds_status;

#define DS_ERROR_MESSAGE_SIZE 512

/* The error record: filled by a failing call when the caller passes one. */
typedef struct {
    ds_status status;
    char message[DS_ERROR_MESSAGE_SIZE];
} ds_error;

/* A short constant name for a status ("ok", "out of memory", ...). */
const char *ds_status_str(ds_status s);

/* The library's version string, "MAJOR.MINOR.PATCH". */
const char *ds_version(void);

/* ------------------------------------------------------------------------------------ */
/* Random numbers
 *
 * xoshiro256** (Blackman and Vigna, 2018), seeded through splitmix64. A ds_rng is a
 * small value: copy it to fork a stream, seed it with ds_rng_seed or derive an
 * independent stream with ds_rng_split(seed, stream). Normal deviates use the
 * Box-Muller transform on two 53-bit uniforms (both outputs are used in turn). */

typedef struct {
    uint64_t s[4];
    double spare;   /* the second Box-Muller deviate, valid when has_spare */
    int has_spare;
} ds_rng;

void ds_rng_seed(ds_rng *rng, uint64_t seed);
/* An independent stream: the same (seed, stream) always gives the same generator. */
ds_rng ds_rng_split(uint64_t seed, uint64_t stream);
uint64_t ds_rng_u64(ds_rng *rng);
double ds_rng_uniform(ds_rng *rng);               /* [0, 1), 53 bits */
double ds_rng_normal(ds_rng *rng);                /* N(0, 1) */
uint64_t ds_rng_below(ds_rng *rng, uint64_t n);   /* uniform in [0, n), unbiased; n > 0 */
void ds_rng_permutation(ds_rng *rng, int *perm, int n); /* Fisher-Yates of 0..n-1 */

/* Stream identifiers used by the library when it derives streams from a model seed. */
enum {
    DS_STREAM_INIT = 1,    /* weight initialization: one sub-stream per layer and tensor */
    DS_STREAM_SHUFFLE = 2, /* the permutation of training rows: one sub-stream per epoch */
    DS_STREAM_DROPOUT = 3, /* dropout masks: one sub-stream per epoch */
    DS_STREAM_USER = 16    /* first id free for applications (data splits, sweeps, ...) */
};

/* Mixes a seed with further integers into a new 64-bit seed (splitmix64 chain). */
uint64_t ds_seed_mix(uint64_t seed, uint64_t a);

/* ------------------------------------------------------------------------------------ */
/* Specs: the "name(arg, key=value, ...)" text that names an optimizer, initializer,
 * activation, loss or layer with its arguments, as a Keras call would. Used by the
 * *_parse functions above and available to applications for their own settings. */

#define DS_SPEC_MAX_ARGS 16
#define DS_SPEC_KEY_SIZE 40
#define DS_SPEC_VALUE_SIZE 256
#define DS_SPEC_NAME_SIZE 64

typedef struct {
    char key[DS_SPEC_KEY_SIZE];     /* "" for a positional argument */
    char value[DS_SPEC_VALUE_SIZE]; /* raw text, trimmed; may itself be a spec */
} ds_spec_arg;

typedef struct {
    char name[DS_SPEC_NAME_SIZE];
    int n_args;
    ds_spec_arg args[DS_SPEC_MAX_ARGS];
} ds_spec;

/* Parses `text` ("adam", "sgd(0.1, momentum=0.9)"). Nested parentheses in values are
 * kept whole. `what` names the kind of thing for messages ("optimizer"). */
ds_status ds_spec_parse(const char *text, ds_spec *out, const char *what, ds_error *err);
/* Parses a number (decimal, exponent, "inf" not accepted); DS_ERR_ARG with a message
 * naming `what` and `key` on failure. */
ds_status ds_spec_number(const char *value, double *out, const char *what, const char *key,
                         ds_error *err);
/* true/false/1/0/yes/no (any case). */
ds_status ds_spec_bool(const char *value, int *out, const char *what, const char *key,
                       ds_error *err);
/* Finds the argument for `key`, accepting the positional argument number `pos` (-1: no
 * positional form). Returns NULL when absent. Marks it used in `used` (may be NULL). */
const ds_spec_arg *ds_spec_get(const ds_spec *s, const char *key, int pos, int *used);
/* Fails with a message naming the first argument not marked in `used`. */
ds_status ds_spec_check_used(const ds_spec *s, const int *used, const char *what,
                             ds_error *err);

/* ------------------------------------------------------------------------------------ */
/* Keras compatibility */

typedef enum { DS_KERAS_2 = 2, DS_KERAS_3 = 3 } ds_keras_version;

/* ------------------------------------------------------------------------------------ */
/* Activations (Keras names). `alpha` is used by leaky_relu (default 0.3, as Keras's
 * LeakyReLU layer) and elu (default 1.0). */

typedef enum {
    DS_ACT_LINEAR = 0,
    DS_ACT_SIGMOID,
    DS_ACT_TANH,
    DS_ACT_RELU,
    DS_ACT_LEAKY_RELU,
    DS_ACT_ELU,
    DS_ACT_SELU,
    DS_ACT_SOFTPLUS,
    DS_ACT_SOFTSIGN,
    DS_ACT_HARD_SIGMOID,
    DS_ACT_SWISH,
    DS_ACT_GELU,
    DS_ACT_SOFTMAX,
    DS_ACT_COUNT
} ds_act_kind;

typedef struct {
    ds_act_kind kind;
    float alpha;
} ds_activation;

const char *ds_act_kind_name(ds_act_kind k);
/* Accepts Keras's names and aliases ("linear"/"None"/"identity", "swish"/"silu"). */
ds_status ds_act_kind_parse(const char *name, ds_act_kind *out);
ds_activation ds_activation_defaults(ds_act_kind k);
/* Parses "relu", "leaky_relu(alpha=0.1)", "elu(0.5)". */
ds_status ds_activation_parse(const char *spec, ds_activation *out, ds_error *err);
/* Writes the canonical spec ("leaky_relu(alpha=0.1)") into buf; returns buf. */
const char *ds_activation_str(const ds_activation *a, char *buf, size_t size);

/* ------------------------------------------------------------------------------------ */
/* Initializers (Keras names, parameters and defaults). */

typedef enum {
    DS_INIT_ZEROS = 0,
    DS_INIT_ONES,
    DS_INIT_CONSTANT,
    DS_INIT_RANDOM_UNIFORM,   /* alias "uniform"; minval -0.05, maxval 0.05 */
    DS_INIT_RANDOM_NORMAL,    /* alias "normal"; mean 0, stddev 0.05, not truncated */
    DS_INIT_TRUNCATED_NORMAL, /* mean 0, stddev 0.05, redrawn beyond 2 stddev, no correction */
    DS_INIT_VARIANCE_SCALING, /* scale 1, mode fan_in, distribution truncated_normal */
    DS_INIT_GLOROT_UNIFORM,
    DS_INIT_GLOROT_NORMAL,
    DS_INIT_HE_UNIFORM,
    DS_INIT_HE_NORMAL,
    DS_INIT_LECUN_UNIFORM,
    DS_INIT_LECUN_NORMAL,
    DS_INIT_ORTHOGONAL,       /* gain 1 */
    DS_INIT_IDENTITY,         /* gain 1 */
    /* PyTorch-style untruncated variants, named so that no Keras name changes meaning. */
    DS_INIT_HE_NORMAL_UNTRUNCATED,     /* N(0, 2 / fan_in) */
    DS_INIT_GLOROT_NORMAL_UNTRUNCATED, /* N(0, 2 / (fan_in + fan_out)) */
    DS_INIT_LECUN_NORMAL_UNTRUNCATED,  /* N(0, 1 / fan_in) */
    DS_INIT_COUNT
} ds_init_kind;

typedef enum { DS_FAN_IN = 0, DS_FAN_OUT, DS_FAN_AVG } ds_fan_mode;
typedef enum {
    DS_DIST_TRUNCATED_NORMAL = 0, /* "truncated_normal" or "normal" */
    DS_DIST_UNTRUNCATED_NORMAL,
    DS_DIST_UNIFORM
} ds_distribution;

typedef struct {
    ds_init_kind kind;
    double value;          /* constant */
    double minval, maxval; /* random_uniform */
    double mean, stddev;   /* random_normal, truncated_normal */
    double scale;          /* variance_scaling */
    ds_fan_mode mode;      /* variance_scaling */
    ds_distribution distribution; /* variance_scaling */
    double gain;           /* orthogonal, identity */
} ds_initializer;

const char *ds_init_kind_name(ds_init_kind k);
/* Accepts Keras's names, aliases and class names (uniform, normal, zero, one, GlorotUniform,
 * ...) and xavier_uniform. kaiming_* and xavier_normal are refused: PyTorch's are not
 * truncated, so they would change meaning (see the *_untruncated kinds). */
ds_status ds_init_kind_parse(const char *name, ds_init_kind *out);
ds_initializer ds_initializer_defaults(ds_init_kind k);
/* Parses "he_normal", "random_uniform(minval=-0.1, maxval=0.1)", "constant(0.5)",
 * "variance_scaling(scale=2, mode=fan_avg, distribution=uniform)". */
ds_status ds_initializer_parse(const char *spec, ds_initializer *out, ds_error *err);
const char *ds_initializer_str(const ds_initializer *init, char *buf, size_t size);
ds_status ds_initializer_check(const ds_initializer *init, ds_error *err);

/* Fills w, a kernel of shape (fan_in, fan_out) stored row-major as Keras stores it
 * (w[i * fan_out + o]). To fill a bias vector of n values, call with fan_in = 0 and
 * fan_out = n: then n values are written and fans are taken as fan_in = fan_out = n, as
 * Keras does for rank-1 shapes (orthogonal and identity need 2-D: DS_ERR_SHAPE).
 * Draws from rng only. Orthogonal needs scratch memory and may return DS_ERR_NOMEM. */
ds_status ds_initializer_fill(const ds_initializer *init, float *w, int fan_in, int fan_out,
                              ds_rng *rng, ds_error *err);

/* ------------------------------------------------------------------------------------ */
/* Losses and metrics */

typedef enum {
    DS_LOSS_BINARY_CROSSENTROPY = 0,
    DS_LOSS_CATEGORICAL_CROSSENTROPY,
    DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
    DS_LOSS_MEAN_SQUARED_ERROR,
    DS_LOSS_MEAN_ABSOLUTE_ERROR,
    DS_LOSS_HUBER,
    DS_LOSS_COUNT
} ds_loss_kind;

typedef struct {
    ds_loss_kind kind;
    float delta;           /* huber, default 1.0 */
    float label_smoothing; /* binary and categorical crossentropy, default 0 */
} ds_loss;

const char *ds_loss_kind_name(ds_loss_kind k);
/* Accepts Keras's names and aliases (mse, mae, bce, cce, ...). */
ds_status ds_loss_kind_parse(const char *name, ds_loss_kind *out);
ds_loss ds_loss_defaults(ds_loss_kind k);
ds_status ds_loss_parse(const char *spec, ds_loss *out, ds_error *err);

typedef enum {
    DS_METRIC_ACCURACY = 0, /* resolved at compile time to one of the three below */
    DS_METRIC_BINARY_ACCURACY,
    DS_METRIC_CATEGORICAL_ACCURACY,
    DS_METRIC_SPARSE_CATEGORICAL_ACCURACY,
    DS_METRIC_MEAN_SQUARED_ERROR,
    DS_METRIC_MEAN_ABSOLUTE_ERROR,
    DS_METRIC_COUNT
} ds_metric_kind;

const char *ds_metric_kind_name(ds_metric_kind k);
ds_status ds_metric_kind_parse(const char *name, ds_metric_kind *out);

/* ------------------------------------------------------------------------------------ */
/* Optimizers (Keras names, defaults and update rules; see docs/OPTIMIZERS.md) */

typedef enum {
    DS_OPT_SGD = 0,
    DS_OPT_RMSPROP,
    DS_OPT_ADAM,
    DS_OPT_ADAMW,
    DS_OPT_ADAGRAD,
    DS_OPT_ADADELTA,
    DS_OPT_ADAMAX,
    DS_OPT_NADAM,
    DS_OPT_COUNT
} ds_opt_kind;

typedef enum {
    DS_SCHEDULE_CONSTANT = 0,
    DS_SCHEDULE_INVERSE_TIME, /* lr / (1 + decay_rate * step / decay_steps) */
    DS_SCHEDULE_EXPONENTIAL,  /* lr * decay_rate ^ (step / decay_steps) */
    DS_SCHEDULE_STEP,         /* piecewise constant: values[i] between boundaries */
    DS_SCHEDULE_COSINE,       /* lr * ((1 - alpha) * 0.5 (1 + cos(pi min(step, T) / T)) + alpha) */
    DS_SCHEDULE_COUNT
} ds_schedule_kind;

#define DS_SCHEDULE_MAX_BOUNDARIES 8

/* A learning-rate schedule evaluated at the optimizer's step count (`iterations`,
 * before the increment), as Keras's LearningRateSchedule objects are. */
typedef struct {
    ds_schedule_kind kind;
    double decay_steps;  /* inverse_time, exponential, cosine (> 0) */
    double decay_rate;   /* inverse_time, exponential */
    int staircase;       /* inverse_time, exponential: floor(step / decay_steps) */
    double alpha;        /* cosine: the final fraction of the learning rate */
    int n_boundaries;    /* step: values has n_boundaries + 1 entries */
    double boundaries[DS_SCHEDULE_MAX_BOUNDARIES];
    double values[DS_SCHEDULE_MAX_BOUNDARIES + 1];
} ds_schedule;

typedef struct {
    ds_opt_kind kind;
    double learning_rate;  /* defaults: sgd 0.01, others 0.001 */
    double momentum;       /* sgd, rmsprop: default 0 */
    int nesterov;          /* sgd: default 0 */
    double rho;            /* rmsprop 0.9, adadelta 0.95 */
    double epsilon;        /* 1e-7 */
    int centered;          /* rmsprop: default 0 */
    double beta_1, beta_2; /* adam, adamw, adamax, nadam: 0.9, 0.999 */
    int amsgrad;           /* adam, adamw: default 0 */
    double weight_decay;   /* adamw 0.004; decoupled decay for any optimizer, default 0 */
    double initial_accumulator_value; /* adagrad: 0.1 */
    double decay;          /* tf.keras 2.x legacy inverse-time decay per step, default 0 */
    /* gradient clipping: at most one of them > 0 (0 means off) */
    double clipnorm, clipvalue, global_clipnorm;
    ds_schedule schedule;
} ds_optimizer;

const char *ds_opt_kind_name(ds_opt_kind k);
ds_status ds_opt_kind_parse(const char *name, ds_opt_kind *out);
ds_optimizer ds_optimizer_defaults(ds_opt_kind k);
/* Parses "adam", "sgd(learning_rate=0.01, momentum=0.3, nesterov=true)",
 * "rmsprop(0.01)", "adam(learning_rate=exponential_decay(0.01, decay_steps=100,
 * decay_rate=0.9))". */
ds_status ds_optimizer_parse(const char *spec, ds_optimizer *out, ds_error *err);
const char *ds_optimizer_str(const ds_optimizer *opt, char *buf, size_t size);
/* Checks every hyperparameter (learning_rate >= 0, rho in [0,1), ...). */
ds_status ds_optimizer_check(const ds_optimizer *opt, ds_error *err);
/* The learning rate in force at step `iterations` (0-based). */
double ds_optimizer_learning_rate(const ds_optimizer *opt, int64_t iterations);

/* ------------------------------------------------------------------------------------ */
/* Data sets: N rows of n_x features and n_y targets, float32, row-major. For sparse
 * categorical targets n_y is 1 and the value is the class index. */

typedef struct ds_dataset ds_dataset;

/* Copies x (N, n_x) and y (N, n_y; may be NULL for unlabelled data, then n_y is 0). */
ds_status ds_dataset_create(ds_dataset **out, int n, int n_x, int n_y, const float *x,
                            const float *y, ds_error *err);
/* Like ds_dataset_create, but takes ownership of x and y (malloc'd by the caller; freed
 * with the data set, or at once when the call fails) instead of copying them. */
ds_status ds_dataset_adopt(ds_dataset **out, int n, int n_x, int n_y, float *x, float *y,
                           ds_error *err);
/* A new data set holding the rows idx[0..n-1] of src, in that order. */
ds_status ds_dataset_subset(ds_dataset **out, const ds_dataset *src, const int *idx, int n,
                            ds_error *err);
void ds_dataset_free(ds_dataset *d);
int ds_dataset_rows(const ds_dataset *d);
int ds_dataset_n_x(const ds_dataset *d);
int ds_dataset_n_y(const ds_dataset *d);
/* Borrowed pointers into the data set, valid until it is freed. */
const float *ds_dataset_x(const ds_dataset *d);
const float *ds_dataset_y(const ds_dataset *d);

/* ------------------------------------------------------------------------------------ */
/* History: named columns of doubles, one row per epoch (Keras's History.history). */

typedef struct ds_history ds_history;

ds_status ds_history_create(ds_history **out, ds_error *err);
void ds_history_free(ds_history *h);
int ds_history_epochs(const ds_history *h);   /* number of rows */
int ds_history_columns(const ds_history *h);
const char *ds_history_column_name(const ds_history *h, int col);
/* The epoch number (0-based, counted from initial_epoch) of row `row`. */
int ds_history_epoch(const ds_history *h, int row);
/* Index of the column called `name`, or -1. */
int ds_history_find(const ds_history *h, const char *name);
/* Value at (row, col); NaN when out of range. */
double ds_history_get(const ds_history *h, int row, int col);
/* Pointer to the series of column `name` (ds_history_epochs values), or NULL. Borrowed:
 * valid until the history changes or is freed. */
const double *ds_history_series(const ds_history *h, const char *name);
/* Appends a row: names[i] = values[i]; new names add columns (earlier rows get NaN). */
ds_status ds_history_append(ds_history *h, int epoch, int n, const char *const *names,
                            const double *values, ds_error *err);
/* Writes "epoch,<col>,..." then one line per row, values printed with %.9g. */
ds_status ds_history_write_csv(const ds_history *h, FILE *f, ds_error *err);

/* ------------------------------------------------------------------------------------ */
/* Models: a sequential stack of layers. */

typedef struct ds_model ds_model;

typedef enum { DS_LAYER_DENSE = 0, DS_LAYER_DROPOUT, DS_LAYER_COUNT } ds_layer_kind;

typedef struct {
    int units;
    ds_activation activation;          /* default linear */
    int use_bias;                      /* default 1 */
    ds_initializer kernel_initializer; /* default glorot_uniform */
    ds_initializer bias_initializer;   /* default zeros */
} ds_dense_config;

ds_dense_config ds_dense_defaults(int units);

/* A model for inputs of n_inputs features. */
ds_status ds_model_create(ds_model **out, int n_inputs, ds_error *err);
void ds_model_free(ds_model *m);
ds_status ds_model_add_dense(ds_model *m, const ds_dense_config *cfg, ds_error *err);
/* Dropout(rate): in training, zeroes each value with probability rate and scales the
 * rest by 1 / (1 - rate); identity in inference. 0 <= rate < 1. */
ds_status ds_model_add_dropout(ds_model *m, float rate, ds_error *err);

/* Allocates the parameter arena and initializes every tensor from `seed`: layer k's
 * kernel draws from ds_rng_split(ds_seed_mix(seed, DS_STREAM_INIT), 2k), its bias from
 * 2k + 1, so a change in one layer leaves the others' initial values untouched. May be
 * called again to re-initialize (it also resets the optimizer state). */
ds_status ds_model_build(ds_model *m, uint64_t seed, ds_error *err);

typedef struct {
    ds_loss loss;
    ds_optimizer optimizer;
    int n_metrics;
    ds_metric_kind metrics[4];
} ds_compile_config;

/* loss: binary_crossentropy, optimizer: rmsprop, metrics: accuracy. */
ds_compile_config ds_compile_defaults(void);

/* Sets the loss, optimizer and metrics, checks them against the output layer
 * (DS_ERR_SHAPE, DS_ERR_ARG) and resets the optimizer state. Builds the model with
 * seed 0 if it was not built. */
ds_status ds_model_compile(ds_model *m, const ds_compile_config *cfg, ds_error *err);
void ds_model_set_keras_version(ds_model *m, ds_keras_version v);
ds_keras_version ds_model_keras_version(const ds_model *m);

int ds_model_n_inputs(const ds_model *m);
int ds_model_n_outputs(const ds_model *m);
int ds_model_n_layers(const ds_model *m);
ds_layer_kind ds_model_layer_kind(const ds_model *m, int layer);
/* Keras-style name: "dense", "dense_1", "dropout", ... */
const char *ds_model_layer_name(const ds_model *m, int layer);
int ds_model_layer_units(const ds_model *m, int layer); /* output width */
/* Dense layer's configuration; NULL for other layers. Borrowed. */
const ds_dense_config *ds_model_layer_dense(const ds_model *m, int layer);
float ds_model_layer_dropout_rate(const ds_model *m, int layer);
size_t ds_model_n_params(const ds_model *m);
/* The contiguous parameter arena (n_params floats, NULL before build): for each dense
 * layer in order, the kernel (n_in, units) row-major then the bias (units). Borrowed;
 * writable, so weights can be imported. */
float *ds_model_params(ds_model *m);
const float *ds_model_params_const(const ds_model *m);
/* Gradient arena, mirroring the parameters. Borrowed. */
float *ds_model_grads(ds_model *m);
/* Offsets of a dense layer's kernel and bias in the arena (-1 if it has none). */
ptrdiff_t ds_model_kernel_offset(const ds_model *m, int layer);
ptrdiff_t ds_model_bias_offset(const ds_model *m, int layer);
const ds_compile_config *ds_model_compile_config(const ds_model *m); /* NULL before compile */
/* Steps the optimizer has applied (Keras's optimizer.iterations). */
int64_t ds_model_iterations(const ds_model *m);

/* ---- speed: kernels and threads (see docs/PERFORMANCE.md) ----
 *
 * The dense layers' matrix products run on one of these kernels:
 *   portable  plain C, each multiply and add rounded in a fixed order: the reference
 *             bits, the same on every machine
 *   avx2      x86-64 with AVX2 and FMA: cache-blocked, 6x16 register tiles
 *   avx512    x86-64 with AVX-512 (F, VL, BW, DQ): 8x32 and 12x32 register tiles
 * DS_KERNEL_AUTO picks the best the processor supports. ds_model_create reads the
 * environment variable DESCENT_KERNEL (portable, avx2, avx512 or auto) once, so a run can
 * be forced onto one kernel without code changes.
 *
 * Reproducibility: results are bit-identical for a given machine and kernel whatever the
 * number of threads and however rows are split among them (parameter gradients are
 * reduced per shard of DS_SHARD_ROWS rows in shard order). avx2 and avx512 fuse each
 * multiply-add (one rounding instead of two), so their bits differ from portable's in the
 * last places; DESCENT_KERNEL=portable gives the reference bits everywhere. Layers too
 * small to gain (fewer than DS_FAST_MIN_WEIGHTS weights or DS_FAST_MIN_UNITS units) get the
 * reference bits whatever the choice. Zero skipping (below) changes no result but the sign
 * of an exact zero. */

typedef enum {
    DS_KERNEL_AUTO = 0,
    DS_KERNEL_PORTABLE,
    DS_KERNEL_AVX2,
    DS_KERNEL_AVX512,
    DS_KERNEL_COUNT
} ds_kernel;

#define DS_FAST_MIN_WEIGHTS 256
#define DS_FAST_MIN_UNITS 8

/* "auto", "portable", "avx2", "avx512". */
const char *ds_kernel_name(ds_kernel k);
/* Parses one of the names above (any case); DS_ERR_ARG otherwise. */
ds_status ds_kernel_parse(const char *name, ds_kernel *out);
/* Nonzero when this build and processor can run kernel k (AUTO and portable always). */
int ds_kernel_available(ds_kernel k);
/* The kernel AUTO stands for on this processor (never AUTO). */
ds_kernel ds_kernel_best(void);
/* Chooses the model's kernel. DS_ERR_ARG when k is not available here. */
ds_status ds_model_set_kernel(ds_model *m, ds_kernel k, ds_error *err);
/* The kernel the model runs (resolved: never AUTO). */
ds_kernel ds_model_kernel(const ds_model *m);

/* Zero skipping. Where most of a dense layer's inputs in a batch are exactly zero (the
 * background pixels of images, the units relu switched off), the avx512 and avx2 kernels
 * compute the forward product and the weight gradient without the zero terms:
 * Fashion-MNIST's pixels are half zeros. The results are those of the full products bit
 * for bit (a result that is exactly zero may come out as -0 rather than +0, and a 0 x inf
 * that the full product would turn into NaN is left out), so this changes speed only.
 * Each batch is looked at first and the zeros skipped only where that leaves out at least
 * a quarter of the terms. On by default; ds_model_create reads DESCENT_SKIP_ZEROS (0 turns
 * it off, 1 on) once. */
ds_status ds_model_set_skip_zeros(ds_model *m, int on, ds_error *err);
int ds_model_skip_zeros(const ds_model *m);

/* Runs the model's batch work on n threads (the caller and n - 1 workers the model
 * owns; default 1, at most DS_MAX_THREADS). Products too small to gain stay on the
 * calling thread, and training steps run on the caller alone while they measure faster
 * that way (workers the machine does not schedule, or processors so far apart that
 * handing data between them costs more than it saves; tried again now and then). Results
 * are the same bits however many threads run. A model must still be used from one thread
 * at a time. Starting the
 * workers may fail with DS_ERR_NOMEM (or DS_ERR_STATE when the system refuses a thread),
 * leaving the previous setting in place. */
#define DS_MAX_THREADS 64
ds_status ds_model_set_threads(ds_model *m, int n, ds_error *err);
int ds_model_threads(const ds_model *m);

/* Keras's model.summary(): one row per layer with name (type), output shape and
 * parameter count, then total, trainable and non-trainable counts. */
ds_status ds_model_summary(const ds_model *m, FILE *f, ds_error *err);

/* ---- low-level passes, for tests and custom loops ---- */

/* Inference (dropout off) on n rows of x (n, n_inputs); writes out (n, n_outputs). */
ds_status ds_model_predict(ds_model *m, const float *x, int n, float *out, ds_error *err);
/* Post-activation outputs of layer `layer` for n rows, in inference mode:
 * out (n, ds_model_layer_units(m, layer)). */
ds_status ds_model_layer_outputs(ds_model *m, int layer, const float *x, int n, float *out,
                                 ds_error *err);
/* Sets every gradient to zero. */
void ds_model_zero_grad(ds_model *m);
/* One forward and backward pass on n rows in training mode (dropout drawn from rng,
 * which may be NULL when the model has no dropout). Adds the gradient of the mean
 * batch loss into the gradient arena (+=, not zeroed first) and returns the batch mean
 * loss in *loss (may be NULL). */
ds_status ds_model_train_batch_grad(ds_model *m, const float *x, const float *y, int n,
                                    ds_rng *dropout_rng, double *loss, ds_error *err);
/* The mean loss over n rows in inference mode. */
ds_status ds_model_loss(ds_model *m, const float *x, const float *y, int n, double *loss,
                        ds_error *err);
/* One optimizer step with the current gradients (clipping, decay, the update rule,
 * iterations += 1). */
ds_status ds_model_apply_gradients(ds_model *m, ds_error *err);

/* ------------------------------------------------------------------------------------ */
/* fit / evaluate */

typedef enum { DS_MODE_AUTO = 0, DS_MODE_MIN, DS_MODE_MAX } ds_monitor_mode;

typedef struct {
    int enabled;
    char monitor[32];     /* default "val_loss" */
    double min_delta;     /* default 0 */
    int patience;         /* default 0 */
    ds_monitor_mode mode; /* default auto */
    int restore_best_weights; /* default 0 */
    int has_baseline;
    double baseline;
    int start_from_epoch; /* default 0 */
} ds_early_stopping;

typedef struct {
    int enabled;
    char monitor[32];     /* default "val_loss" */
    double factor;        /* default 0.1, in (0, 1) */
    int patience;         /* default 10 */
    ds_monitor_mode mode;
    double min_delta;     /* default 1e-4 */
    int cooldown;         /* default 0 */
    double min_lr;        /* default 0 */
} ds_reduce_lr;

ds_early_stopping ds_early_stopping_defaults(void);
ds_reduce_lr ds_reduce_lr_defaults(void);

/* Called after every epoch, with the epoch number (0-based) and the history so far
 * (its last row is this epoch). Return nonzero to stop training after this epoch. */
typedef int (*ds_epoch_callback)(ds_model *m, int epoch, const ds_history *h, void *user);
/* Called after every batch with the running epoch loss; nonzero stops training. */
typedef int (*ds_batch_callback)(ds_model *m, int epoch, int batch, int n_batches,
                                 double running_loss, void *user);
/* The same for progress reports: it is not given the model and must not change it, so
 * fit may keep state about the weights from one batch to the next across it (on_batch_end
 * may change the weights, and fit then keeps none); nonzero stops training. */
typedef int (*ds_progress_callback)(int epoch, int batch, int n_batches, double running_loss,
                                    void *user);

typedef struct {
    int batch_size;          /* default 32 */
    int epochs;              /* default 1; training runs epochs initial_epoch..epochs-1 */
    int initial_epoch;       /* default 0 */
    int shuffle;             /* default 1: a new permutation every epoch */
    double validation_split; /* default 0: the last fraction of rows, taken before shuffling */
    const ds_dataset *validation_data; /* default NULL; takes precedence over the split */
    uint64_t seed;           /* shuffling and dropout streams; default 0 = the build seed */
    int terminate_on_nan;    /* default 1: stop with DS_ERR_DIVERGED on a NaN/Inf batch loss */
    int threads;             /* > 0: ds_model_set_threads(m, threads) first (the setting
                                stays with the model); default 0 = the model's setting */
    ds_early_stopping early_stopping;
    ds_reduce_lr reduce_lr;
    ds_epoch_callback on_epoch_end;
    ds_batch_callback on_batch_end;
    ds_progress_callback on_progress; /* after on_batch_end, when both are set */
    void *user;
} ds_fit_options;

ds_fit_options ds_fit_defaults(void);

/* Trains the compiled model on `train` and appends one row per epoch to `history`
 * (may be NULL): "loss", each metric, "val_loss" and "val_<metric>" when there is
 * validation data, and "learning_rate". Training values are Keras's: running means
 * over the epoch's batches weighted by batch size (not the loss of the final
 * weights); validation values use the weights at the end of the epoch.
 * Returns DS_ERR_DIVERGED (history kept) when a batch loss is NaN or infinite and
 * terminate_on_nan is on; err names the epoch and batch. */
ds_status ds_model_fit(ds_model *m, const ds_dataset *train, const ds_fit_options *opt,
                       ds_history *history, ds_error *err);

/* Loss and metrics on a labelled data set in inference mode. values receives
 * 1 + n_metrics numbers: the loss then each compiled metric, in order. */
ds_status ds_model_evaluate(ds_model *m, const ds_dataset *data, int batch_size,
                            double *values, ds_error *err);
/* Name of value i returned by evaluate ("loss", "accuracy", ...). */
const char *ds_model_metric_name(const ds_model *m, int i);
int ds_model_n_metrics(const ds_model *m);

/* ------------------------------------------------------------------------------------ */
/* Diagnostics: looking inside a layer (docs/DIAGNOSTICS.md)
 *
 * Per layer, on a fixed labelled probe set: norms of the kernel, bias and kernel
 * gradient, the update-to-weight ratio since a snapshot, the mean and standard deviation
 * of the layer's outputs, the fraction of saturated units (sigmoid, tanh, softsign,
 * hard_sigmoid), the fraction of dead units (relu) and whether the units of a layer are
 * still exact copies of each other (the symmetry zeros initialization never breaks).
 *
 * Saturation bounds: a pre-activation z counts as saturated where the activation's
 * derivative has fallen below about 7% of its peak:
 *   sigmoid       |z| > 4   sigmoid'(4) = 0.0177 (peak 0.25)
 *   tanh          |z| > 2   1 - tanh(2)^2 = 0.0707 (peak 1)
 *   softsign      |z| > 3   1 / (1 + 3)^2 = 0.0625 (peak 1)
 *   hard_sigmoid  where it is flat (derivative exactly 0): |z| >= 2.5 with tf.keras 2.x,
 *                 |z| >= 3 with Keras 3 (the model's Keras version decides). */

#define DS_DIAG_SIGMOID_BOUND 4.0f
#define DS_DIAG_TANH_BOUND 2.0f
#define DS_DIAG_SOFTSIGN_BOUND 3.0f

/* Diagnostics of one layer. "NaN" means "does not apply to this layer". Norms are
 * Frobenius norms (square root of the sum of squares), accumulated in double. */
typedef struct {
    double weight_norm;  /* ||kernel||; NaN for layers without weights (dropout) */
    double bias_norm;    /* ||bias||; NaN without a bias (use_bias 0, dropout) */
    double grad_norm;    /* ||d mean loss / d kernel|| over the probe rows; NaN: no kernel */
    double update_ratio; /* ||kernel - kernel_before|| / ||kernel_before||; NaN when
                            params_before is NULL, its kernel norm is 0, or no kernel */
    double act_mean;     /* mean of the layer's outputs over all (row, unit) pairs */
    double act_std;      /* their standard deviation (population: divided by the count) */
    double saturated;    /* sigmoid, tanh, softsign, hard_sigmoid: fraction of (row, unit)
                            pre-activations beyond the bound above; NaN otherwise */
    double dead;         /* relu: fraction of units whose output is 0 on every probe row;
                            NaN otherwise (leaky_relu, elu, ... cannot die) */
    int identical_units; /* 1 when the dense layer has >= 2 units and every unit has
                            exactly the same incoming weights and bias as unit 0; else 0 */
    double max_unit_gap; /* max over units j and inputs i of |w_ij - w_i0|, the bias
                            counted as one more input: 0 exactly when identical_units;
                            NaN for layers with fewer than 2 units or no weights */
} ds_layer_diag;

/* Diagnostics of every layer of the compiled model m on the probe rows.
 *   probe          labelled data set, checked as fit checks training data (feature and
 *                  target widths: DS_ERR_SHAPE; sparse class indices: DS_ERR_ARG)
 *   max_rows       use at most the first max_rows rows of probe; 0 = all rows
 *   params_before  a snapshot of ds_model_n_params(m) parameters taken earlier (e.g. at
 *                  the previous epoch's end), for update_ratio; may be NULL
 *   out            ds_model_n_layers(m) entries, written in layer order
 * Runs the forward pass in inference mode (dropout off: a dropout layer's entry has only
 * act_mean and act_std, the other values NaN) and one backward pass. Side effects: the
 * gradient arena is zeroed and left holding the gradient of the mean loss over the probe
 * rows (the gradient ds_model_train_batch_grad would give for all of them at once,
 * without dropout), so do not call it between computing gradients and applying them;
 * parameters and optimizer state are untouched, and fit calling it from on_epoch_end
 * trains exactly as without it. Rows are processed in chunks of at most 256 rows (or
 * the model's current batch capacity), which may grow the model's work buffers as
 * ds_model_predict does; otherwise it allocates only a small scratch, freed on return.
 * Errors: DS_ERR_ARG (NULL m, probe or out; max_rows < 0; probe without rows),
 * DS_ERR_STATE (model not compiled), DS_ERR_SHAPE, DS_ERR_NOMEM. */
ds_status ds_model_diagnostics(ds_model *m, const ds_dataset *probe, int max_rows,
                               const float *params_before, ds_layer_diag *out,
                               ds_error *err);

#ifdef __cplusplus
}
#endif
#endif /* DESCENT_H */
