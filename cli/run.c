/*
 * run.c - one training run (see run.h): data preparation for a configuration, the
 * model it describes, and fit with stall detection and restarts.
 */
#include "run.h"
#include "idx.h"
#include "modelfile.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------- */
/* data */

static const cli_layer *last_dense(const cli_config *c)
{
    return c->n_layers ? &c->layers[c->n_layers - 1] : NULL;
}

cli_prep_options cli_config_prep_options(const cli_config *c)
{
    cli_prep_options o = c->prep;
    if (o.target_mode == CLI_TARGET_AUTO) {
        const cli_layer *l = last_dense(c);
        if (c->loss_given && c->loss.kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
            o.target_mode = CLI_TARGET_SPARSE;
        else if (c->loss_given && c->loss.kind == DS_LOSS_CATEGORICAL_CROSSENTROPY)
            o.target_mode = CLI_TARGET_ONEHOT;
        else if (l && l->dense.activation.kind == DS_ACT_SOFTMAX)
            o.target_mode = CLI_TARGET_ONEHOT;
    }
    return o;
}

void cli_rundata_free(cli_rundata *d)
{
    if (!d) return;
    cli_data_free(d->prep);
    ds_dataset_free(d->train);
    ds_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

/* Moves the prepared rows into data sets (no copy); prep keeps the fitted
 * preprocessing only. */
static ds_status adopt_rows(cli_rundata *out, ds_error *err)
{
    cli_data *p = out->prep;
    ds_status s = ds_dataset_adopt(&out->train, p->n_train, p->n_features, p->n_targets,
                                   p->x_train, p->y_train, err);
    p->x_train = p->y_train = NULL;
    if (!s && p->n_test > 0)
        s = ds_dataset_adopt(&out->test, p->n_test, p->n_features, p->n_targets, p->x_test,
                             p->y_test, err);
    p->x_test = p->y_test = NULL;
    return s;
}

ds_status cli_rundata_load(const cli_config *c, const cli_table *table,
                           const cli_table *test_table, cli_rundata *out, ds_error *err)
{
    memset(out, 0, sizeof *out);
    cli_prep_options o = cli_config_prep_options(c);
    ds_status s;
    if (cli_is_idx(c->data)) {
        /* IDX images: every row trains; the test rows come from --test-data */
        s = cli_idx_load(c->data, o.target_mode, 0, &out->prep, err);
        if (!s) s = adopt_rows(out, err);
        if (!s && c->test_data[0]) {
            cli_data *t = NULL;
            if (!cli_is_idx(c->test_data))
                s = cli_fail(err, "option --test-data: %s is not an IDX images file like the "
                             "training data", c->test_data);
            if (!s) s = cli_idx_load(c->test_data, out->prep->task, out->prep->n_classes, &t, err);
            if (!s && (t->n_features != out->prep->n_features || t->n_classes != out->prep->n_classes))
                s = cli_fail_status(err, DS_ERR_FORMAT,
                                    "%s: %d features and %d classes, the training data has %d and %d",
                                    c->test_data, t->n_features, t->n_classes,
                                    out->prep->n_features, out->prep->n_classes);
            if (!s) {
                s = ds_dataset_adopt(&out->test, t->n_train, t->n_features, t->n_targets,
                                     t->x_train, t->y_train, err);
                t->x_train = t->y_train = NULL;
            }
            cli_data_free(t);
        }
        if (s) cli_rundata_free(out);
        return s;
    }
    if (test_table) o.test_size = 0;
    s = cli_prep(table, &o, &out->prep, err);
    if (s) return s;
    s = adopt_rows(out, err);
    if (!s && test_table) {
        float *x = NULL, *y = NULL;
        int n = 0;
        cli_data *p = out->prep;
        s = cli_prep_apply(test_table, p, &x, &y, &n, err);
        if (!s) s = ds_dataset_adopt(&out->test, n, p->n_features, p->n_targets, x, y, err);
    }
    if (s) cli_rundata_free(out);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* model */

static const char *task_words(const cli_data *d)
{
    switch (d->task) {
    case CLI_TARGET_BINARY: return "binary";
    case CLI_TARGET_ONEHOT: return "one-hot";
    case CLI_TARGET_SPARSE: return "sparse";
    case CLI_TARGET_REGRESSION: return "regression";
    default: return "?";
    }
}

ds_status cli_model_build(const cli_config *c, const cli_data *d, uint64_t seed,
                          ds_model **out, ds_error *err)
{
    *out = NULL;
    cli_layer deflt;
    const cli_layer *layers = c->layers;
    int n_layers = c->n_layers;
    int want = d->task == CLI_TARGET_SPARSE ? d->n_classes : d->n_targets;
    if (n_layers == 0) {
        /* one output layer fitted to the target, as the course's logistic regression */
        memset(&deflt, 0, sizeof deflt);
        deflt.kind = DS_LAYER_DENSE;
        deflt.dense = ds_dense_defaults(want);
        deflt.dense.kernel_initializer = c->kernel_initializer;
        deflt.dense.bias_initializer = c->bias_initializer;
        ds_act_kind k = d->task == CLI_TARGET_BINARY ? DS_ACT_SIGMOID
                        : d->task == CLI_TARGET_REGRESSION ? DS_ACT_LINEAR
                                                           : DS_ACT_SOFTMAX;
        deflt.dense.activation = ds_activation_defaults(k);
        layers = &deflt;
        n_layers = 1;
    }
    const cli_layer *last = &layers[n_layers - 1];
    if (last->dense.units != want)
        return cli_fail(err,
                        "layers: the last layer has %d units, but the target '%s' (%s, %d "
                        "class%s) needs %d",
                        last->dense.units, d->target_name, task_words(d), d->n_classes,
                        d->n_classes == 1 ? "" : "es", want);
    ds_compile_config cc = ds_compile_defaults();
    cc.optimizer = c->optimizer;
    if (c->loss_given) {
        cc.loss = c->loss;
    } else {
        switch (d->task) {
        case CLI_TARGET_BINARY: cc.loss = ds_loss_defaults(DS_LOSS_BINARY_CROSSENTROPY); break;
        case CLI_TARGET_ONEHOT:
            cc.loss = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
            break;
        case CLI_TARGET_SPARSE:
            cc.loss = ds_loss_defaults(DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
            break;
        default: cc.loss = ds_loss_defaults(DS_LOSS_MEAN_SQUARED_ERROR); break;
        }
    }
    cc.n_metrics = 1;
    cc.metrics[0] = d->task == CLI_TARGET_REGRESSION ? DS_METRIC_MEAN_ABSOLUTE_ERROR
                                                     : DS_METRIC_ACCURACY;
    ds_model *m = NULL;
    ds_status s = ds_model_create(&m, d->n_features, err);
    for (int i = 0; !s && i < n_layers; i++)
        s = layers[i].kind == DS_LAYER_DENSE ? ds_model_add_dense(m, &layers[i].dense, err)
                                             : ds_model_add_dropout(m, layers[i].rate, err);
    if (!s) {
        ds_model_set_keras_version(m, c->keras_version);
        s = ds_model_build(m, seed, err);
    }
    if (!s) s = ds_model_compile(m, &cc, err);
    if (s) {
        ds_model_free(m);
        return s;
    }
    *out = m;
    return DS_OK;
}

/* ---------------------------------------------------------------------------------- */
/* one run */

typedef struct {
    const cli_config *c;
    int can_restart;
    double best;
    int wait, stalled;
    cli_epoch_hook on_epoch;
    cli_batch_hook on_batch;
    void *user;
    cli_train_extras *x;
    double ck_best;
} run_state;

/* the checkpoint callback (Keras's ModelCheckpoint): save every epoch, or only when the
 * monitored value is strictly better than the best so far */
static int checkpoint(run_state *st, ds_model *m, int epoch, const ds_history *h)
{
    cli_train_extras *x = st->x;
    int row = ds_history_epochs(h) - 1;
    if (x->save_best_only) {
        int col = ds_history_find(h, x->monitor);
        if (col < 0) {
            x->status = cli_fail(&x->error, "checkpoint_monitor: '%s' is not logged (columns: "
                                 "loss, metrics, val_ ones with validation)", x->monitor);
            return 1;
        }
        double v = ds_history_get(h, row, col);
        int maximize = strstr(x->monitor, "acc") != NULL;
        if (!(maximize ? v > st->ck_best : v < st->ck_best)) return 0;
        st->ck_best = v;
    }
    x->status = cli_model_save(m, x->checkpoint, x->prep, x->settings, epoch + 1, &x->error);
    return x->status != DS_OK;
}

/* stall rule: the monitored loss has not decreased by stall_min_delta for
 * stall_patience epochs; stop only when a restart is left */
static int on_epoch_end(ds_model *m, int epoch, const ds_history *h, void *user)
{
    run_state *st = user;
    if (st->on_epoch) st->on_epoch(st->user, epoch, st->c->fit.epochs, h);
    if (st->x && st->x->checkpoint && checkpoint(st, m, epoch, h)) return 1;
    const double *v = ds_history_series(h, st->c->stall_monitor);
    if (!v) return 0;
    double cur = v[ds_history_epochs(h) - 1];
    if (cur < st->best - st->c->stall_min_delta) {
        st->best = cur;
        st->wait = 0;
    } else if (++st->wait >= st->c->stall_patience && !st->stalled) {
        st->stalled = 1;
        return st->can_restart;
    }
    return 0;
}

static int on_batch_end(ds_model *m, int epoch, int batch, int n_batches, double loss,
                        void *user)
{
    (void)m;
    run_state *st = user;
    if (st->on_batch) st->on_batch(st->user, epoch, batch, n_batches, loss);
    return 0;
}

void cli_run_result_free(cli_run_result *res)
{
    if (!res) return;
    ds_history_free(res->history);
    res->history = NULL;
}

ds_status cli_run(const cli_config *c, const cli_rundata *d, uint64_t seed,
                  cli_epoch_hook on_epoch, cli_batch_hook on_batch, void *user,
                  cli_train_extras *x, cli_run_result *res, ds_error *err)
{
    memset(res, 0, sizeof *res);
    ds_status s = DS_OK;
    for (int attempt = 0; attempt <= c->restarts; attempt++) {
        uint64_t sd = attempt ? ds_seed_mix(seed, (uint64_t)attempt) : seed;
        ds_model *m = x ? x->resume : NULL;
        if (!m && (s = cli_model_build(c, d->prep, sd, &m, err))) return s;
        ds_history_free(res->history);
        res->history = NULL;
        if ((s = ds_history_create(&res->history, err))) {
            if (!x || m != x->resume) ds_model_free(m);
            return s;
        }
        run_state st = {c,     attempt < c->restarts, (double)INFINITY, 0, 0, on_epoch, on_batch,
                        user,  x,                     0.0};
        st.ck_best = x && x->monitor && strstr(x->monitor, "acc") ? -(double)INFINITY
                                                                  : (double)INFINITY;
        ds_fit_options fo = c->fit;
        if (x && x->resume) fo.initial_epoch = x->initial_epoch;
        fo.on_epoch_end = on_epoch_end;
        fo.on_batch_end = on_batch ? on_batch_end : NULL;
        fo.user = &st;
        ds_error fe = {0};
        s = ds_model_fit(m, d->train, &fo, res->history, &fe);
        res->seed_used = sd;
        res->restarts = attempt;
        res->stalled = st.stalled;
        res->diverged = s == DS_ERR_DIVERGED;
        if (s == DS_ERR_DIVERGED) {
            snprintf(res->message, sizeof res->message, "%s", fe.message);
            s = DS_OK;
        } else if (s) {
            if (err) *err = fe;
            if (!x || m != x->resume) ds_model_free(m);
            return s;
        }
        if (x && x->status) {
            if (err) *err = x->error;
            if (m != x->resume) ds_model_free(m);
            return x->status;
        }
        if (st.stalled && attempt < c->restarts && !res->diverged) {
            if (!x || m != x->resume) ds_model_free(m);
            continue;
        }
        /* test metrics with the final weights */
        res->n_test = 0;
        if (d->test) {
            double v[CLI_MAX_METRICS];
            if ((s = ds_model_evaluate(m, d->test, c->fit.batch_size, v, err))) {
                if (!x || m != x->resume) ds_model_free(m);
                return s;
            }
            res->n_test = 1 + ds_model_n_metrics(m);
            for (int i = 0; i < res->n_test; i++) {
                snprintf(res->test_names[i], sizeof res->test_names[i], "%s",
                         ds_model_metric_name(m, i));
                res->test[i] = v[i];
            }
        }
        if (x && x->keep) *x->keep = m;
        else if (!x || m != x->resume) ds_model_free(m);
        break;
    }
    return DS_OK;
}
