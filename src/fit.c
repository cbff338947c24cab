/*
 * fit.c - Keras's fit and evaluate for a compiled model (Keras fit, evaluate and callbacks).
 *
 * Per epoch: a fresh permutation of the training rows (when shuffling) from the
 * epoch's own stream, consecutive batches of batch_size rows (the last one partial),
 * per batch zero_grad -> forward + backward -> optimizer step; then validation with the
 * epoch's final weights, a history row, and the callbacks (early stopping, reduce-LR-
 * on-plateau, the user's). Training loss and metrics are Keras's running means over the
 * epoch's batches, weighted by batch size.
 *
 * The shuffle and dropout streams of epoch e are ds_rng_split(mix(seed, stream), e): an
 * epoch's randomness depends only on (seed, epoch), never on what ran before, so a run
 * resumed at epoch e draws what an uninterrupted one would. All buffers are allocated
 * before the first batch; the batch loop allocates nothing.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ds_early_stopping ds_early_stopping_defaults(void)
{
    ds_early_stopping e;
    memset(&e, 0, sizeof e);
    snprintf(e.monitor, sizeof e.monitor, "val_loss");
    e.mode = DS_MODE_AUTO;
    return e;
}

ds_reduce_lr ds_reduce_lr_defaults(void)
{
    ds_reduce_lr r;
    memset(&r, 0, sizeof r);
    snprintf(r.monitor, sizeof r.monitor, "val_loss");
    r.factor = 0.1;
    r.patience = 10;
    r.mode = DS_MODE_AUTO;
    r.min_delta = 1e-4;
    return r;
}

ds_fit_options ds_fit_defaults(void)
{
    ds_fit_options o;
    memset(&o, 0, sizeof o);
    o.batch_size = 32;
    o.epochs = 1;
    o.shuffle = 1;
    o.terminate_on_nan = 1;
    o.early_stopping = ds_early_stopping_defaults();
    o.reduce_lr = ds_reduce_lr_defaults();
    return o;
}

/* ---------------------------------------------------------------------------------- */
/* helpers */

static int expected_n_y(const ds_model *m)
{
    return m->compile.loss.kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
               ? 1
               : ds_model_n_outputs(m);
}

static ds_status check_data(const ds_model *m, const ds_dataset *d, const char *what,
                            ds_error *err)
{
    if (d->n_x != m->n_inputs)
        return ds_fail(err, DS_ERR_SHAPE, "%s: the data has %d features, the model expects %d",
                       what, d->n_x, m->n_inputs);
    int ny = expected_n_y(m);
    if (d->n_y != ny)
        return ds_fail(err, DS_ERR_SHAPE,
                       "%s: the data has %d target columns, %s with %d outputs expects %d", what,
                       d->n_y, ds_loss_kind_name(m->compile.loss.kind), ds_model_n_outputs(m),
                       ny);
    if (m->compile.loss.kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        int k = ds_model_n_outputs(m);
        for (int r = 0; r < d->n; r++) {
            float c = d->y[r];
            if (!(c >= 0.0f && c < (float)k && c == floorf(c)))
                return ds_fail(err, DS_ERR_ARG,
                               "%s: row %d: class index %g is not an integer in [0, %d)", what,
                               r, (double)c, k);
        }
    }
    return DS_OK;
}

ds_status ds_check_labelled(const ds_model *m, const ds_dataset *d, const char *what,
                            ds_error *err)
{
    return check_data(m, d, what, err);
}

/* Loss and metrics over n rows in inference mode, in chunks of `batch` rows (the model
 * must have reserved them). values: loss, then each metric. */
static void eval_rows(ds_model *m, const float *x, const float *y, int n, int batch,
                      double *values)
{
    int L = m->n_layers - 1;
    int w = m->layers[L].n_out;
    int ny = expected_n_y(m);
    double loss = 0.0;
    double msum[4] = {0, 0, 0, 0};
    for (int r0 = 0; r0 < n; r0 += batch) {
        int nb = n - r0 < batch ? n - r0 : batch;
        const float *xb = x + (size_t)r0 * m->n_inputs;
        const float *yb = y + (size_t)r0 * ny;
        ds_model_forward(m, xb, nb, 0, NULL);
        loss += ds_loss_compute(&m->compile.loss, m->loss_input, m->a[L], m->z[L], yb, nb, w,
                                NULL, 1.0f);
        for (int i = 0; i < m->compile.n_metrics; i++)
            ds_metric_accumulate(m->resolved[i], m->a[L], yb, nb, w, &msum[i]);
    }
    values[0] = n ? loss / n : (double)NAN;
    for (int i = 0; i < m->compile.n_metrics; i++) values[1 + i] = n ? msum[i] / n : (double)NAN;
}

ds_status ds_model_evaluate(ds_model *m, const ds_dataset *data, int batch_size,
                            double *values, ds_error *err)
{
    if (!m || !data || !values) return ds_fail(err, DS_ERR_ARG, "evaluate: NULL argument");
    if (!m->compiled) return ds_fail(err, DS_ERR_STATE, "evaluate: model not compiled");
    if (batch_size <= 0) batch_size = 32;
    if (data->n < 1) return ds_fail(err, DS_ERR_ARG, "evaluate: the data set has no rows");
    ds_status s = check_data(m, data, "evaluate", err);
    if (s) return s;
    int chunk = batch_size < data->n ? batch_size : data->n;
    if ((s = ds_model_reserve(m, chunk, err))) return s;
    eval_rows(m, data->x, data->y, data->n, chunk, values);
    return DS_OK;
}

/* "auto" picks max when the monitored name mentions accuracy (tf.keras 2.x rule). */
static int monitor_maximizes(ds_monitor_mode mode, const char *monitor)
{
    if (mode == DS_MODE_MAX) return 1;
    if (mode == DS_MODE_MIN) return 0;
    return strstr(monitor, "acc") != NULL;
}

static int improved(int maximize, double current, double best, double min_delta)
{
    double d = fabs(min_delta);
    return maximize ? current > best + d : current < best - d;
}

/* ---------------------------------------------------------------------------------- */
/* fit */

typedef struct {
    const ds_dataset *d;
    const int *rows;
    int n, parts;
    float *bx, *by;
} gather_job;

#if defined(__GNUC__)
static inline __attribute__((always_inline))
#else
static inline
#endif
void gather_fixed(float *bx, float *by, const float *X, const float *Y, const int *rows,
                  int r0, int r1, int n_x)
{
    for (int r = r0; r < r1; r++) {
        const float *sx = X + (size_t)rows[r] * n_x;
        memcpy(bx + (size_t)r * n_x, sx, sizeof(float) * (size_t)n_x); /* a move or two */
        by[r] = Y[rows[r]];
    }
}

/* Wide rows come from memory (a data set larger than the caches, rows in random order),
 * and a row copied alone waits for its lines about one at a time. Copying WIDE_GROUP rows
 * together, a cache line of each in turn, keeps that many rows on their way at once:
 * measured in training on Fashion-MNIST (784 floats a row, 64 rows a batch, from a 188 MB
 * set, one thread), 24-29 us a batch against 39-50 us row by row. */
enum { WIDE_ROW = 256, WIDE_GROUP = 8, LINE = 16 };
static void gather_wide(float *bx, float *by, const float *X, const float *Y, const int *rows,
                        int r0, int r1, int n_x, int n_y)
{
    for (int r = r0; r < r1; r += WIDE_GROUP) {
        const int g = r1 - r < WIDE_GROUP ? r1 - r : WIDE_GROUP;
        const float *src[WIDE_GROUP];
        float *dst[WIDE_GROUP];
        for (int q = 0; q < g; q++) {
            src[q] = X + (size_t)rows[r + q] * n_x;
            dst[q] = bx + (size_t)(r + q) * n_x;
        }
        int k = 0;
        for (; k + LINE <= n_x; k += LINE)
            for (int q = 0; q < g; q++) memcpy(dst[q] + k, src[q] + k, sizeof(float) * LINE);
        for (int q = 0; q < g && k < n_x; q++)
            memcpy(dst[q] + k, src[q] + k, sizeof(float) * (size_t)(n_x - k));
        for (int q = 0; q < g; q++)
            for (int c = 0; c < n_y; c++)
                by[(size_t)(r + q) * n_y + c] = Y[(size_t)rows[r + q] * n_y + c];
    }
}

static void gather_task(void *ctx, int t, int thread)
{
    const gather_job *j = ctx;
    (void)thread;
    int r1 = (int)((long)j->n * (t + 1) / j->parts);
    const int n_x = j->d->n_x, n_y = j->d->n_y;
    const float *X = j->d->x, *Y = j->d->y;
    const int *rows = j->rows;
    float *bx = j->bx, *by = j->by;
    int r0 = (int)((long)j->n * t / j->parts);
    if (n_y == 1) /* one target column and few features: a copy compiled for the count */
        switch (n_x) {
        case 1: gather_fixed(bx, by, X, Y, rows, r0, r1, 1); return;
        case 2: gather_fixed(bx, by, X, Y, rows, r0, r1, 2); return;
        case 3: gather_fixed(bx, by, X, Y, rows, r0, r1, 3); return;
        case 4: gather_fixed(bx, by, X, Y, rows, r0, r1, 4); return;
        case 5: gather_fixed(bx, by, X, Y, rows, r0, r1, 5); return;
        case 6: gather_fixed(bx, by, X, Y, rows, r0, r1, 6); return;
        case 7: gather_fixed(bx, by, X, Y, rows, r0, r1, 7); return;
        case 8: gather_fixed(bx, by, X, Y, rows, r0, r1, 8); return;
        default: break;
        }
    if (n_x >= WIDE_ROW) {
        gather_wide(bx, by, X, Y, rows, r0, r1, n_x, n_y);
        return;
    }
    for (int r = r0; r < r1; r++) {
        const float *sx = X + (size_t)rows[r] * n_x;
        const float *sy = Y + (size_t)rows[r] * n_y;
        float *dx = bx + (size_t)r * n_x, *dy = by + (size_t)r * n_y;
        if (n_x <= 16) /* short rows by hand: a call costs more than the copy */
            for (int k = 0; k < n_x; k++) dx[k] = sx[k];
        else
            memcpy(dx, sx, sizeof(float) * (size_t)n_x);
        if (n_y == 1) *dy = *sy;
        else
            for (int k = 0; k < n_y; k++) dy[k] = sy[k];
    }
}

/* bx, by = the rows of d listed in rows[0..n-1]: reads from memory at random, so a batch
 * of wide rows is shared among the model's threads */
static void gather_rows(ds_model *m, const ds_dataset *d, const int *rows, int n, float *bx,
                        float *by)
{
    gather_job j = {d, rows, n, 1, bx, by};
    if ((long)n * d->n_x >= 16384) j.parts = ds_pool_parts(m->exec.pool);
    ds_pool_run(j.parts > 1 ? m->exec.pool : NULL, j.parts, gather_task, &j);
}

/* The rows of the next batch on their way into the caches while this one trains: wide
 * rows of a large data set otherwise come from memory at random when gathered. Measured on
 * Fashion-MNIST (784 floats a row, batch 64, one thread), alternating with and without:
 * median epoch 0.750 s against 0.782 s; the hint "low locality" (into the outer caches)
 * did better than into L1 or non-temporal. */
static void prefetch_rows(const ds_dataset *d, const int *rows, int n)
{
#if defined(__GNUC__)
    size_t bytes = sizeof(float) * (size_t)d->n_x;
    if (bytes < 1024) return;
    for (int r = 0; r < n; r++) {
        const char *p = (const char *)(d->x + (size_t)rows[r] * d->n_x);
        for (size_t k = 0; k < bytes; k += 64) __builtin_prefetch(p + k, 0, 1);
    }
#else
    (void)d, (void)rows, (void)n;
#endif
}

#define MAX_COLS 16

ds_status ds_model_fit(ds_model *m, const ds_dataset *train, const ds_fit_options *opt,
                       ds_history *history, ds_error *err)
{
    if (!m || !train) return ds_fail(err, DS_ERR_ARG, "fit: NULL argument");
    ds_fit_options o = opt ? *opt : ds_fit_defaults();
    if (!m->compiled) return ds_fail(err, DS_ERR_STATE, "fit: the model is not compiled");
    if (o.batch_size < 1)
        return ds_fail(err, DS_ERR_ARG, "fit: batch_size=%d must be >= 1", o.batch_size);
    if (o.epochs < 0) return ds_fail(err, DS_ERR_ARG, "fit: epochs=%d must be >= 0", o.epochs);
    if (o.initial_epoch < 0 || o.initial_epoch > o.epochs)
        return ds_fail(err, DS_ERR_ARG, "fit: initial_epoch=%d must be in [0, epochs=%d]",
                       o.initial_epoch, o.epochs);
    if (!(o.validation_split >= 0.0 && o.validation_split < 1.0))
        return ds_fail(err, DS_ERR_ARG, "fit: validation_split=%g must be in [0, 1)",
                       o.validation_split);
    ds_status s = check_data(m, train, "fit", err);
    if (s) return s;
    if (o.threads < 0 || o.threads > DS_MAX_THREADS)
        return ds_fail(err, DS_ERR_ARG, "fit: threads=%d must be in [0, %d]", o.threads,
                       DS_MAX_THREADS);
    if (o.threads > 0 && (s = ds_model_set_threads(m, o.threads, err))) return s;

    /* Keras: the validation split is the last fraction of the rows, before shuffling */
    int n_train = train->n;
    const float *vx = NULL, *vy = NULL;
    int n_val = 0;
    if (o.validation_data) {
        if ((s = check_data(m, o.validation_data, "fit: validation_data", err))) return s;
        vx = o.validation_data->x;
        vy = o.validation_data->y;
        n_val = o.validation_data->n;
        if (n_val < 1) return ds_fail(err, DS_ERR_ARG, "fit: validation_data has no rows");
    } else if (o.validation_split > 0.0) {
        int split_at = (int)floor((double)train->n * (1.0 - o.validation_split));
        if (split_at < 1 || split_at >= train->n)
            return ds_fail(err, DS_ERR_ARG,
                           "fit: validation_split=%g of %d rows leaves %d training and %d "
                           "validation rows; both must be at least 1",
                           o.validation_split, train->n, split_at, train->n - split_at);
        n_train = split_at;
        n_val = train->n - split_at;
        vx = train->x + (size_t)split_at * train->n_x;
        vy = train->y + (size_t)split_at * train->n_y;
    }
    if (n_train < 1) return ds_fail(err, DS_ERR_ARG, "fit: the training data has no rows");

    int n_metrics = m->compile.n_metrics;
    const char *monitors[2] = {o.early_stopping.enabled ? o.early_stopping.monitor : NULL,
                               o.reduce_lr.enabled ? o.reduce_lr.monitor : NULL};
    for (int c = 0; c < 2; c++) {
        if (!monitors[c]) continue;
        const char *mon = monitors[c];
        const char *base = strncmp(mon, "val_", 4) == 0 ? mon + 4 : mon;
        int known = strcmp(base, "loss") == 0;
        for (int i = 0; i < n_metrics; i++)
            known |= strcmp(base, ds_metric_kind_name(m->compile.metrics[i])) == 0;
        const char *who = c == 0 ? "early_stopping" : "reduce_lr_on_plateau";
        if (!known)
            return ds_fail(err, DS_ERR_ARG,
                           "%s: monitor '%s' is not logged (loss or a compiled metric, "
                           "optionally with val_)",
                           who, mon);
        if (base != mon && n_val == 0)
            return ds_fail(err, DS_ERR_ARG,
                           "%s: monitor '%s' needs validation data (validation_split or "
                           "validation_data)",
                           who, mon);
    }
    if (o.early_stopping.enabled && o.early_stopping.patience < 0)
        return ds_fail(err, DS_ERR_ARG, "early_stopping: patience=%d must be >= 0",
                       o.early_stopping.patience);
    if (o.reduce_lr.enabled && !(o.reduce_lr.factor > 0.0 && o.reduce_lr.factor < 1.0))
        return ds_fail(err, DS_ERR_ARG, "reduce_lr_on_plateau: factor=%g must be in (0, 1)",
                       o.reduce_lr.factor);
    if (o.reduce_lr.enabled && (o.reduce_lr.patience < 0 || o.reduce_lr.cooldown < 0 ||
                                o.reduce_lr.min_lr < 0))
        return ds_fail(err, DS_ERR_ARG,
                       "reduce_lr_on_plateau: patience, cooldown and min_lr must be >= 0");

    /* everything the batch loop needs, allocated once */
    int bs = o.batch_size;
    int eval_chunk = bs;
    if ((s = ds_model_reserve(m, bs, err))) return s;
    int n_x = train->n_x, n_y = train->n_y;
    int *perm = malloc(sizeof(int) * (size_t)n_train);
    float *bx = malloc(sizeof(float) * (size_t)bs * (size_t)n_x);
    float *by = malloc(sizeof(float) * (size_t)bs * (size_t)n_y);
    float *best_w = NULL;
    if (o.early_stopping.enabled && o.early_stopping.restore_best_weights)
        best_w = malloc(sizeof(float) * m->n_params);
    if (!perm || !bx || !by || (o.early_stopping.enabled &&
                                o.early_stopping.restore_best_weights && !best_w)) {
        free(perm);
        free(bx);
        free(by);
        free(best_w);
        return ds_fail(err, DS_ERR_NOMEM, "fit: out of memory");
    }

    /* history columns: loss, metrics, val_loss, val_metrics, learning_rate */
    const char *names[MAX_COLS];
    char val_names[5][48];
    double values[MAX_COLS];
    int n_cols = 0;
    names[n_cols++] = "loss";
    for (int i = 0; i < n_metrics; i++) names[n_cols++] = ds_metric_kind_name(m->compile.metrics[i]);
    if (n_val) {
        for (int i = 0; i <= n_metrics; i++) {
            snprintf(val_names[i], sizeof val_names[i], "val_%s", names[i]);
            names[n_cols++] = val_names[i];
        }
    }
    const ds_optimizer *oc = &m->compile.optimizer;
    int log_lr = o.reduce_lr.enabled || oc->schedule.kind != DS_SCHEDULE_CONSTANT || oc->decay > 0;
    if (log_lr) names[n_cols++] = "learning_rate";

    if (history && (s = ds_history_reserve(history, n_cols, names, o.epochs - o.initial_epoch,
                                           err))) {
        free(perm);
        free(bx);
        free(by);
        free(best_w);
        return s;
    }
    uint64_t seed = o.seed ? o.seed : m->seed;
    uint64_t shuffle_seed = ds_seed_mix(seed, DS_STREAM_SHUFFLE);
    uint64_t dropout_seed = ds_seed_mix(seed, DS_STREAM_DROPOUT);
    int L = m->n_layers - 1;
    int w_out = m->layers[L].n_out;

    /* callback state */
    const ds_early_stopping *es = &o.early_stopping;
    int es_max = monitor_maximizes(es->mode, es->monitor);
    double es_best = es->has_baseline ? es->baseline : (es_max ? -(double)INFINITY : (double)INFINITY);
    int es_wait = 0, es_have_best = 0;
    const ds_reduce_lr *rl = &o.reduce_lr;
    int rl_max = monitor_maximizes(rl->mode, rl->monitor);
    double rl_best = rl_max ? -(double)INFINITY : (double)INFINITY;
    int rl_wait = 0, rl_cooldown = 0;

    s = DS_OK;
    int stop = 0;
    for (int epoch = o.initial_epoch; epoch < o.epochs && !stop && s == DS_OK; epoch++) {
        if (o.shuffle) {
            ds_rng r = ds_rng_split(shuffle_seed, (uint64_t)epoch);
            ds_rng_permutation(&r, perm, n_train);
        } else {
            for (int i = 0; i < n_train; i++) perm[i] = i;
        }
        ds_rng drop = ds_rng_split(dropout_seed, (uint64_t)epoch);
        double lr_used = ds_optim_current_lr(&m->opt);
        double loss_sum = 0.0, msum[4] = {0, 0, 0, 0};
        int n_batches = (n_train + bs - 1) / bs;
        for (int b = 0; b < n_batches; b++) {
            int r0 = b * bs;
            int nb = n_train - r0 < bs ? n_train - r0 : bs;
            gather_rows(m, train, perm + r0, nb, bx, by);
            if (b + 1 < n_batches) /* the next batch's rows start coming from memory */
                prefetch_rows(train, perm + r0 + nb,
                              n_train - r0 - nb < bs ? n_train - r0 - nb : bs);
            double bl;
            /* the next step follows directly unless a callback that may change the
             * weights runs in between */
            ds_model_pack_next(m, b + 1 < n_batches && !o.on_batch_end);
            if (!ds_model_train_step(m, bx, by, nb, &drop, o.terminate_on_nan, &bl)) {
                s = ds_fail(err, DS_ERR_DIVERGED,
                            "training diverged: the loss is %s at epoch %d, batch %d of %d",
                            isnan(bl) ? "nan" : "infinite", epoch + 1, b + 1, n_batches);
                break;
            }
            /* metrics from this batch's training-mode outputs (computed before the update) */
            for (int i = 0; i < n_metrics; i++)
                ds_metric_accumulate(m->resolved[i], m->a[L], by, nb, w_out, &msum[i]);
            loss_sum += bl * nb;
            if (o.on_batch_end &&
                o.on_batch_end(m, epoch, b, n_batches, loss_sum / (r0 + nb), o.user))
                stop = 1;
            if (o.on_progress && o.on_progress(epoch, b, n_batches, loss_sum / (r0 + nb), o.user))
                stop = 1;
            if (stop) break;
        }
        ds_model_pack_drop(m);
        if (s) break;

        int c = 0;
        values[c++] = loss_sum / n_train;
        for (int i = 0; i < n_metrics; i++) values[c++] = msum[i] / n_train;
        if (n_val) {
            eval_rows(m, vx, vy, n_val, eval_chunk, values + c);
            c += 1 + n_metrics;
        }
        if (log_lr) values[c++] = lr_used;
        if (history && (s = ds_history_append(history, epoch, n_cols, names, values, err))) break;

        /* early stopping */
        if (es->enabled && epoch >= es->start_from_epoch) {
            double cur = (double)NAN;
            for (int i = 0; i < n_cols; i++)
                if (strcmp(names[i], es->monitor) == 0) cur = values[i];
            es_wait++;
            if (improved(es_max, cur, es_best, es->min_delta)) {
                es_best = cur;
                if (best_w) {
                    memcpy(best_w, m->params, sizeof(float) * m->n_params);
                    es_have_best = 1;
                }
                if (!es->has_baseline || improved(es_max, cur, es->baseline, es->min_delta))
                    es_wait = 0;
            } else if (es_wait >= es->patience && (m->keras == DS_KERAS_2 || epoch > 0)) {
                stop = 1;
                /* tf.keras 2.x restores the best weights only when it stops training */
                if (m->keras == DS_KERAS_2 && es_have_best)
                    memcpy(m->params, best_w, sizeof(float) * m->n_params);
            }
        }
        /* reduce learning rate on plateau */
        if (rl->enabled) {
            double cur = (double)NAN;
            for (int i = 0; i < n_cols; i++)
                if (strcmp(names[i], rl->monitor) == 0) cur = values[i];
            if (rl_cooldown > 0) {
                rl_cooldown--;
                rl_wait = 0;
            }
            if (improved(rl_max, cur, rl_best, rl->min_delta)) {
                rl_best = cur;
                rl_wait = 0;
            } else if (rl_cooldown <= 0) {
                rl_wait++;
                if (rl_wait >= rl->patience) {
                    double old_lr = ds_optim_current_lr(&m->opt);
                    if (old_lr > rl->min_lr) {
                        double new_lr = old_lr * rl->factor;
                        if (new_lr < rl->min_lr) new_lr = rl->min_lr;
                        m->opt.lr_scale *= new_lr / old_lr;
                        rl_cooldown = rl->cooldown;
                        rl_wait = 0;
                    }
                }
            }
        }
        if (o.on_epoch_end && o.on_epoch_end(m, epoch, history, o.user)) stop = 1;
    }
    /* Keras 3 restores the best weights at the end of training whenever it has them */
    if (s == DS_OK && m->keras == DS_KERAS_3 && es_have_best)
        memcpy(m->params, best_w, sizeof(float) * m->n_params);
    free(perm);
    free(bx);
    free(by);
    free(best_w);
    return s;
}
