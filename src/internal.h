/*
 * internal.h - private declarations shared by the library's modules and its tests.
 * Users include only descent.h; nothing here is a stable interface.
 */
#ifndef DS_INTERNAL_H
#define DS_INTERNAL_H

#include "descent.h"

#include <stdarg.h>

/* ---- errors (status.c) ---- */

/* Fills err (when not NULL) with status s and a printf-style message; returns s. */
ds_status ds_fail(ds_error *err, ds_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void ds_error_clear(ds_error *err);

/* Case-insensitive ASCII comparison, for name parsing. */
int ds_streq_nocase(const char *a, const char *b);

/* ---- activations (act.c) ---- */

/* out = act(z) over n rows of width w; row-wise for softmax. z and out may alias. */
void ds_act_forward(const ds_activation *a, ds_keras_version kv, float *out, const float *z,
                    int n, int w);
/* dz = act'(z) * dout (Jacobian product for softmax), given z and out = act(z).
 * dz is overwritten (not accumulated): the pre-activation gradient is a temporary. */
void ds_act_backward(const ds_activation *a, ds_keras_version kv, float *dz,
                     const float *dout, const float *z, const float *out, int n, int w);

/* ---- dense layer kernels (dense.c) ---- */

/* out (B,O) = inp (B,I) @ weight (I,O) + bias (O). bias may be NULL. */
void ds_dense_forward(float *out, const float *inp, const float *weight, const float *bias,
                      int B, int I, int O);
/* dinp (B,I) = dout (B,O) @ weight^T (overwritten; skipped when dinp is NULL);
 * dweight (I,O) += inp^T @ dout and dbias (O) += column sums of dout, computed per shard of
 * DS_SHARD_ROWS rows into `scratch` (I*O + O floats) and added in shard order. */
void ds_dense_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                       const float *inp, const float *weight, float *scratch, int B, int I,
                       int O);

/* ---- losses (loss.c) ---- */

/* How the loss reads the output layer. */
typedef enum {
    DS_LOSS_FROM_PROBS = 0,   /* clipped formulas on the activated output */
    DS_LOSS_FROM_SIGMOID_LOGITS, /* output is sigmoid: use the pre-activation (stable) */
    DS_LOSS_FROM_SOFTMAX_LOGITS  /* output is softmax: use log-softmax of the pre-activation */
} ds_loss_input;

/* The SUM over n rows of the per-sample losses (double; divide by the batch size for
 * Keras's sum_over_batch_size mean) and, when dz is not NULL, `scale` times the gradient
 * of that sum with respect to the loss's input (z for the logits forms, out otherwise),
 * written to dz (n, w). Pass scale = 1/B so shards of one batch share the divisor.
 * y is (n, w), or (n, 1) class indices for sparse categorical crossentropy. */
double ds_loss_compute(const ds_loss *loss, ds_loss_input in, const float *out,
                       const float *z, const float *y, int n, int w, float *dz,
                       float scale);
/* Per-row correct counts and error sums for metrics, added into acc[i] for each metric. */
void ds_metric_accumulate(ds_metric_kind k, const float *out, const float *y, int n, int w,
                          double *acc);
/* Resolves DS_METRIC_ACCURACY as tf.keras 2.x does from the loss and output width. */
ds_metric_kind ds_metric_resolve(ds_metric_kind k, ds_loss_kind loss, int n_outputs);
/* Checks that loss and output width fit; DS_ERR_SHAPE with a message otherwise. */
ds_status ds_loss_check(const ds_loss *loss, int n_outputs, ds_error *err);

/* Tiny constant for clipping probabilities, Keras's backend.epsilon(). */
#define DS_EPSILON 1e-7f

/* ---- optimizer state and step (optim.c) ---- */

typedef struct {
    size_t offset, size; /* a tensor's span in the parameter arena */
} ds_tensor_span;

typedef struct {
    ds_optimizer cfg;
    ds_keras_version keras;
    int64_t iterations;
    size_t n;          /* number of parameters */
    float *slot[3];    /* per-parameter state, mirroring the arena; NULL when unused */
    double nadam_prod; /* Nadam: product of the momentum schedule u_1..u_t */
    double lr_scale;   /* multiplier set by ReduceLROnPlateau, starts at 1 */
} ds_optim_state;

/* Allocates and zeroes the slots the optimizer needs (Adagrad's accumulator starts at
 * initial_accumulator_value). Frees any earlier slots of st. */
ds_status ds_optim_init(ds_optim_state *st, const ds_optimizer *cfg, ds_keras_version kv,
                        size_t n, ds_error *err);
/* Back to the state right after ds_optim_init (iterations 0, slots reset). */
void ds_optim_reset(ds_optim_state *st);
void ds_optim_free(ds_optim_state *st);
/* The learning rate the next step uses: schedule(iterations), legacy decay, lr_scale. */
double ds_optim_current_lr(const ds_optim_state *st);
/* One step over all parameters: clipping (per tensor for clipnorm, over all tensors for
 * global_clipnorm; modifies grad), decoupled weight decay, the update rule, then
 * iterations += 1. */
void ds_optim_step(ds_optim_state *st, float *param, float *grad,
                   const ds_tensor_span *tensors, int n_tensors);

/* ---- the model (model.c) ---- */

typedef struct {
    ds_layer_kind kind;
    char name[32];
    int n_in, n_out;
    ds_dense_config dense; /* dense only */
    float rate;            /* dropout only */
    ptrdiff_t w_off, b_off; /* in the arena; -1 when absent */
} ds_layer;

struct ds_model {
    int n_inputs;
    int n_layers, cap_layers;
    ds_layer *layers;
    ds_keras_version keras;

    int built;
    uint64_t seed;
    size_t n_params;
    float *params; /* (n_params) */
    float *grads;  /* (n_params) */
    float *scratch; /* largest I*O + O of any dense layer: a shard's partial gradients */
    int n_tensors;
    ds_tensor_span *tensors;

    int compiled;
    ds_compile_config compile;
    ds_metric_kind resolved[4]; /* metrics after resolving "accuracy" */
    ds_loss_input loss_input;
    ds_optim_state opt;

    /* work buffers, sized for cap_rows rows: for layer k, z[k] (pre-activation, dense)
     * or the dropout mask, and a[k] (its output); two gradient buffers of the widest
     * layer. */
    int cap_rows;
    float **z, **a;
    float *d0, *d1;
};

/* Makes the work buffers hold at least `rows` rows (allocates only when growing). */
ds_status ds_model_reserve(ds_model *m, int rows, ds_error *err);
/* Forward pass over n rows into the work buffers; training turns dropout on. */
void ds_model_forward(ds_model *m, const float *x, int n, int training, ds_rng *dropout_rng);
/* For a compiled model that has reserved n rows: a forward pass over n rows in
 * inference mode (dropout off), then the backward pass of `scale` times the summed loss,
 * added (+=) into the gradient arena. z[k] and a[k] keep the forward values. With
 * scale = 1/N for N rows split into chunks of a multiple of DS_SHARD_ROWS, the chunks
 * together add exactly what one ds_model_train_batch_grad over the N rows adds (when the
 * model has no active dropout). Returns the summed loss of the n rows. */
double ds_model_inference_grad(ds_model *m, const float *x, const float *y, int n,
                               float scale);
/* Width of the widest layer or input. */
int ds_model_max_width(const ds_model *m);

/* ---- fit (fit.c) ---- */

/* The checks fit makes of a labelled data set against a compiled model: feature and
 * target widths (DS_ERR_SHAPE) and, for sparse categorical crossentropy, integer class
 * indices in range (DS_ERR_ARG). `what` starts the message ("fit", "diagnostics"). */
ds_status ds_check_labelled(const ds_model *m, const ds_dataset *d, const char *what,
                            ds_error *err);

/* ---- history (history.c) ---- */

/* Makes sure the columns `names` exist and that `rows` more rows fit without
 * allocating, so that fit's epochs allocate nothing. */
ds_status ds_history_reserve(ds_history *h, int n, const char *const *names, int rows,
                             ds_error *err);

/* ---- data sets (dataset.c) ---- */

struct ds_dataset {
    int n, n_x, n_y;
    float *x; /* (n, n_x) */
    float *y; /* (n, n_y) or NULL */
};

#endif /* DS_INTERNAL_H */
