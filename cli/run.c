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
    const ds_dataset *probe;
    int epochs;          /* epochs the arrays hold */
    float *before;       /* parameters at the previous epoch's end, for update ratios */
    ds_layer_diag *ld;   /* (n_layers) scratch */
    cli_run_result *res;
    int record;          /* layer whose outputs are recorded, or -1 */
} run_state;

const ds_dataset *cli_probe(const cli_rundata *d) { return d->test ? d->test : d->train; }

int cli_find_layer(const ds_model *m, const char *spec)
{
    char *end;
    long k = strtol(spec, &end, 10);
    int L = ds_model_n_layers(m);
    if (k < 0) k += L; /* -1 the output layer, -2 the one before, as Python counts */
    if (*spec && !*end) return (k >= 0 && k < L) ? (int)k : -1;
    for (int i = 0; i < ds_model_n_layers(m); i++)
        if (strcmp(ds_model_layer_name(m, i), spec) == 0) return i;
    return -1;
}

/* Names what the diagnostics show at a stall, most specific first. */
static void stall_reason(const ds_model *m, const ds_layer_diag *ld, char *buf, size_t n)
{
    int L = ds_model_n_layers(m);
    double gmax = 0;
    for (int k = 0; k < L; k++)
        if (ld[k].grad_norm > gmax) gmax = ld[k].grad_norm;
    for (int k = 0; k < L; k++)
        if (k < L - 1 && ld[k].dead == 1.0) {
            snprintf(buf, n, "all relu units dead in %s", ds_model_layer_name(m, k));
            return;
        }
    for (int k = 0; k < L - 1; k++)
        if (ds_model_layer_units(m, k) > 1 && ld[k].identical_units) {
            snprintf(buf, n, "identical units in %s (symmetry never broken)",
                     ds_model_layer_name(m, k));
            return;
        }
    for (int k = 0; k < L; k++)
        if (ld[k].saturated > 0.9) {
            snprintf(buf, n, "saturated %s in %s", k == L - 1 ? "output" : "units",
                     ds_model_layer_name(m, k));
            return;
        }
    if (gmax == 0) {
        snprintf(buf, n, "zero gradient everywhere");
        return;
    }
    /* the signal's spread from the first to the last hidden layer */
    int first = -1, lasth = -1;
    for (int k = 0; k < L - 1; k++)
        if (ds_model_layer_kind(m, k) == DS_LAYER_DENSE) {
            if (first < 0) first = k;
            lasth = k;
        }
    if (first >= 0 && lasth > first && ld[first].act_std > 0) {
        double ratio = ld[lasth].act_std / ld[first].act_std;
        if (ratio < 1e-3 || ratio > 1e3) {
            snprintf(buf, n, "signal %s through depth: activation std %.2g in %s, %.2g in %s",
                     ratio < 1 ? "vanishes" : "explodes", ld[first].act_std,
                     ds_model_layer_name(m, first), ld[lasth].act_std,
                     ds_model_layer_name(m, lasth));
            return;
        }
    }
    for (int k = 0; k < L; k++)
        if (ds_model_layer_kind(m, k) == DS_LAYER_DENSE && ld[k].grad_norm < 1e-4 * gmax) {
            snprintf(buf, n, "vanishing gradient in %s (%.1e of the largest)",
                     ds_model_layer_name(m, k), ld[k].grad_norm / gmax);
            return;
        }
    snprintf(buf, n, "no diagnostic fired (a plateau)");
}

static void record_epoch(run_state *st, ds_model *m, int epoch)
{
    cli_run_result *res = st->res;
    if (epoch < 0 || epoch >= st->epochs) return;
    if (res->diag) {
        if (ds_model_diagnostics(m, st->probe, CLI_PROBE_ROWS, st->before, st->ld, NULL) == DS_OK)
            for (int l = 0; l < res->n_layers; l++) {
                const ds_layer_diag *q = &st->ld[l];
                double v[CLI_N_DIAG] = {q->weight_norm, q->grad_norm, q->update_ratio, q->act_mean,
                                        q->act_std, q->saturated, q->dead};
                for (int k = 0; k < CLI_N_DIAG; k++)
                    res->diag[((size_t)l * CLI_N_DIAG + k) * st->epochs + epoch] = v[k];
            }
        memcpy(st->before, ds_model_params_const(m), sizeof(float) * ds_model_n_params(m));
    }
    if (res->rec) {
        float *out = res->rec + (size_t)epoch * res->n_probe * res->rec_width;
        double v[8];
        ds_model_layer_outputs(m, st->record, ds_dataset_x(st->probe), res->n_probe, out, NULL);
        ds_dataset *head = NULL;
        int *idx = malloc(sizeof(int) * (size_t)res->n_probe);
        for (int i = 0; idx && i < res->n_probe; i++) idx[i] = i;
        if (idx && ds_dataset_subset(&head, st->probe, idx, res->n_probe, NULL) == DS_OK &&
            ds_model_evaluate(m, head, 256, v, NULL) == DS_OK && ds_model_n_metrics(m) > 0)
            res->rec_acc[epoch] = v[1];
        ds_dataset_free(head);
        free(idx);
    }
}

/* Sets up the recording arrays of an attempt; NaN until an epoch fills them. */
static ds_status start_recording(run_state *st, ds_model *m, int record, ds_error *err)
{
    cli_run_result *res = st->res;
    const cli_config *c = st->c;
    st->epochs = c->fit.epochs;
    int L = ds_model_n_layers(m);
    res->n_layers = L;
    res->n_epochs = st->epochs;
    res->layer_names = malloc(sizeof *res->layer_names * (size_t)L);
    st->ld = malloc(sizeof *st->ld * (size_t)L);
    st->before = malloc(sizeof(float) * (ds_model_n_params(m) + 1));
    if (!res->layer_names || !st->ld || !st->before)
        return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < L; k++) {
        const ds_dense_config *dc = ds_model_layer_dense(m, k);
        snprintf(res->layer_names[k], sizeof res->layer_names[k], "%s (%s)",
                 ds_model_layer_name(m, k), dc ? ds_act_kind_name(dc->activation.kind) : "dropout");
    }
    memcpy(st->before, ds_model_params_const(m), sizeof(float) * ds_model_n_params(m));
    if (c->diagnostics) {
        size_t n = (size_t)L * CLI_N_DIAG * (size_t)st->epochs;
        res->diag = malloc(sizeof(double) * (n + 1));
        if (!res->diag) return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) res->diag[i] = (double)NAN;
    }
    st->record = -1;
    if (record && c->record_layer[0]) {
        st->record = cli_find_layer(m, c->record_layer);
        if (st->record < 0)
            return cli_fail(err, "option --record-layer: no layer '%s' (0 to %d, or a name such "
                            "as %s)", c->record_layer, L - 1, ds_model_layer_name(m, 0));
        res->n_probe = ds_dataset_rows(st->probe) < CLI_PROBE_ROWS ? ds_dataset_rows(st->probe)
                                                                   : CLI_PROBE_ROWS;
        res->rec_width = ds_model_layer_units(m, st->record);
        size_t n = (size_t)st->epochs * res->n_probe * res->rec_width;
        res->rec = malloc(sizeof(float) * (n + 1));
        res->rec_acc = malloc(sizeof(double) * ((size_t)st->epochs + 1));
        if (!res->rec || !res->rec_acc) return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) res->rec[i] = NAN;
        for (int e = 0; e < st->epochs; e++) res->rec_acc[e] = (double)NAN;
    }
    return DS_OK;
}

static void drop_recording(run_state *st, cli_run_result *res)
{
    free(st->before);
    free(st->ld);
    st->before = NULL;
    st->ld = NULL;
    free(res->layer_names);
    free(res->diag);
    free(res->rec);
    free(res->rec_acc);
    res->layer_names = NULL;
    res->diag = NULL;
    res->rec = NULL;
    res->rec_acc = NULL;
}

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
    record_epoch(st, m, epoch);
    const double *v = ds_history_series(h, st->c->stall_monitor);
    if (!v) return 0;
    double cur = v[ds_history_epochs(h) - 1];
    if (cur < st->best - st->c->stall_min_delta) {
        st->best = cur;
        st->wait = 0;
    } else if (++st->wait >= st->c->stall_patience && !st->stalled) {
        /* a plateau at the target accuracy is convergence, not a stall */
        const double *acc = ds_history_series(h, "val_accuracy");
        if (!acc) acc = ds_history_series(h, "accuracy");
        if (acc && acc[ds_history_epochs(h) - 1] >= st->c->target_accuracy) return 0;
        st->stalled = 1;
        /* what the model looks like now: the reason reported with the stall */
        if (ds_model_diagnostics(m, st->probe, CLI_PROBE_ROWS, NULL, st->ld, NULL) == DS_OK)
            stall_reason(m, st->ld, st->res->stall_reason, sizeof st->res->stall_reason);
        return st->can_restart;
    }
    return 0;
}

static int on_progress(int epoch, int batch, int n_batches, double loss, void *user)
{
    run_state *st = user;
    if (st->on_batch) st->on_batch(st->user, epoch, batch, n_batches, loss);
    return 0;
}

void cli_run_result_free(cli_run_result *res)
{
    if (!res) return;
    ds_history_free(res->history);
    res->history = NULL;
    free(res->layer_names);
    free(res->diag);
    free(res->rec);
    free(res->rec_acc);
    res->layer_names = NULL;
    res->diag = NULL;
    res->rec = NULL;
    res->rec_acc = NULL;
}

ds_status cli_run(const cli_config *c, const cli_rundata *d, uint64_t seed,
                  cli_epoch_hook on_epoch, cli_batch_hook on_batch, void *user,
                  cli_train_extras *x, int record, cli_run_result *res, ds_error *err)
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
        run_state st;
        memset(&st, 0, sizeof st);
        st.c = c;
        st.can_restart = attempt < c->restarts;
        st.best = (double)INFINITY;
        st.on_epoch = on_epoch;
        st.on_batch = on_batch;
        st.user = user;
        st.x = x;
        st.res = res;
        st.probe = cli_probe(d);
        drop_recording(&st, res);
        res->stall_reason[0] = '\0';
        if ((s = start_recording(&st, m, record, err))) {
            drop_recording(&st, res);
            if (!x || m != x->resume) ds_model_free(m);
            return s;
        }
        st.ck_best = x && x->monitor && strstr(x->monitor, "acc") ? -(double)INFINITY
                                                                  : (double)INFINITY;
        ds_fit_options fo = c->fit;
        if (x && x->resume) fo.initial_epoch = x->initial_epoch;
        fo.on_epoch_end = on_epoch_end;
        fo.on_progress = on_batch ? on_progress : NULL; /* the model untouched */
        fo.user = &st;
        ds_error fe = {0};
        s = ds_model_fit(m, d->train, &fo, res->history, &fe);
        free(st.before);
        free(st.ld);
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
