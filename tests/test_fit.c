/*
 * test_fit.c - fit, evaluate, history, callbacks, determinism and errors, end to end on
 * the bundled data sets.
 */
#include "harness.h"
#include "testdata.h"
#include "../src/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h" /* n_allocs, COUNT_MALLOC */

static ds_model *logistic(int n_in, ds_init_kind kinit, uint64_t seed, ds_optimizer opt)
{
    ds_model *m = NULL;
    ds_model_create(&m, n_in, NULL);
    ds_dense_config c = ds_dense_defaults(1);
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    c.kernel_initializer = ds_initializer_defaults(kinit);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, seed, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.optimizer = opt;
    ds_model_compile(m, &cc, NULL);
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_banknotes_logistic(void)
{
    /* logistic regression on the banknotes: adam(0.01), batch 16, 20 epochs,
     * glorot_uniform, standard-scaled, 70/30 split: median test accuracy over 5 seeds
     * >= 0.97 */
    td_table t;
    CHECK(td_read("data/banknotes.csv", &t) == 0, "cannot read data/banknotes.csv");
    if (t.n == 0) return;
    CHECK(t.n == 1372 && t.cols == 5, "banknotes shape %d x %d", t.n, t.cols);
    double acc[5];
    for (int s = 0; s < 5; s++) {
        ds_dataset *train, *test;
        td_make(&t, 4, 2, 0, 0.3, 100 + (uint64_t)s, &train, &test);
        ds_optimizer opt = ds_optimizer_defaults(DS_OPT_ADAM);
        opt.learning_rate = 0.01;
        ds_model *m = logistic(4, DS_INIT_GLOROT_UNIFORM, 1 + (uint64_t)s, opt);
        ds_fit_options fo = ds_fit_defaults();
        fo.batch_size = 16;
        fo.epochs = 20;
        ds_history *h;
        ds_history_create(&h, NULL);
        CHECK_OK(ds_model_fit(m, train, &fo, h, NULL));
        CHECK(ds_history_epochs(h) == 20, "epochs %d", ds_history_epochs(h));
        double v[2];
        CHECK_OK(ds_model_evaluate(m, test, 32, v, NULL));
        acc[s] = v[1];
        ds_history_free(h);
        ds_model_free(m);
        ds_dataset_free(train);
        ds_dataset_free(test);
    }
    qsort(acc, 5, sizeof acc[0], cmp_double);
    printf("  banknotes logistic: test accuracy %.4f %.4f %.4f %.4f %.4f\n", acc[0], acc[1],
           acc[2], acc[3], acc[4]);
    CHECK(acc[2] >= 0.97, "median test accuracy %.4f < 0.97", acc[2]);
    free(t.v);
}

static void test_wines_softmax(void)
{
    /* 13-8-5-3 softmax network on wines: median test accuracy over 5 seeds >= 0.9 */
    td_table t;
    CHECK(td_read("data/wines.csv", &t) == 0, "cannot read data/wines.csv");
    if (t.n == 0) return;
    CHECK(t.n == 178 && t.cols == 14, "wines shape %d x %d", t.n, t.cols);
    double acc[5];
    for (int s = 0; s < 5; s++) {
        ds_dataset *train, *test;
        td_make(&t, 0, 3, 1, 0.3, 200 + (uint64_t)s, &train, &test);
        ds_model *m;
        ds_model_create(&m, 13, NULL);
        int units[3] = {8, 5, 3};
        for (int k = 0; k < 3; k++) {
            ds_dense_config c = ds_dense_defaults(units[k]);
            c.activation = ds_activation_defaults(k == 2 ? DS_ACT_SOFTMAX : DS_ACT_RELU);
            CHECK_OK(ds_model_add_dense(m, &c, NULL));
        }
        ds_model_build(m, 10 + (uint64_t)s, NULL);
        ds_compile_config cc = ds_compile_defaults();
        cc.loss = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
        cc.optimizer = ds_optimizer_defaults(DS_OPT_RMSPROP);
        cc.optimizer.learning_rate = 0.01;
        CHECK_OK(ds_model_compile(m, &cc, NULL));
        CHECK(cc.metrics[0] == DS_METRIC_ACCURACY && m->resolved[0] ==
              DS_METRIC_CATEGORICAL_ACCURACY, "accuracy resolves to categorical");
        ds_fit_options fo = ds_fit_defaults();
        fo.batch_size = 16;
        fo.epochs = 40;
        CHECK_OK(ds_model_fit(m, train, &fo, NULL, NULL));
        double v[2];
        CHECK_OK(ds_model_evaluate(m, test, 32, v, NULL));
        acc[s] = v[1];
        ds_model_free(m);
        ds_dataset_free(train);
        ds_dataset_free(test);
    }
    qsort(acc, 5, sizeof acc[0], cmp_double);
    printf("  wines 13-8-5-3: test accuracy %.4f %.4f %.4f %.4f %.4f\n", acc[0], acc[1], acc[2],
           acc[3], acc[4]);
    CHECK(acc[2] >= 0.9, "median test accuracy %.4f < 0.9", acc[2]);
    free(t.v);
}


static ds_model *mlp(uint64_t seed, float dropout)
{
    ds_model *m;
    ds_model_create(&m, 3, NULL);
    ds_dense_config c = ds_dense_defaults(8);
    c.activation = ds_activation_defaults(DS_ACT_TANH);
    ds_model_add_dense(m, &c, NULL);
    if (dropout > 0) ds_model_add_dropout(m, dropout, NULL);
    c = ds_dense_defaults(1);
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, seed, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.optimizer = ds_optimizer_defaults(DS_OPT_ADAM);
    ds_model_compile(m, &cc, NULL);
    return m;
}

static int hist_equal(const ds_history *a, const ds_history *b)
{
    if (ds_history_epochs(a) != ds_history_epochs(b) ||
        ds_history_columns(a) != ds_history_columns(b))
        return 0;
    for (int c = 0; c < ds_history_columns(a); c++)
        for (int r = 0; r < ds_history_epochs(a); r++) {
            double x = ds_history_get(a, r, c), y = ds_history_get(b, r, c);
            if (memcmp(&x, &y, sizeof x) != 0) return 0;
        }
    return 1;
}

static void test_determinism(void)
{
    ds_dataset *d = td_toy(200, 1);
    ds_fit_options fo = ds_fit_defaults();
    fo.epochs = 5;
    fo.batch_size = 16;
    fo.validation_split = 0.2;
    ds_model *a = mlp(42, 0.25f), *b = mlp(42, 0.25f);
    size_t np = ds_model_n_params(a);
    CHECK(memcmp(ds_model_params(a), ds_model_params(b), np * sizeof(float)) == 0,
          "same seed, same initial weights");
    ds_history *ha, *hb;
    ds_history_create(&ha, NULL);
    ds_history_create(&hb, NULL);
    CHECK_OK(ds_model_fit(a, d, &fo, ha, NULL));
    CHECK_OK(ds_model_fit(b, d, &fo, hb, NULL));
    CHECK(memcmp(ds_model_params(a), ds_model_params(b), np * sizeof(float)) == 0,
          "same seed, same final weights");
    CHECK(hist_equal(ha, hb), "same seed, same history bits");
    float pa[200], pb[200];
    ds_model_predict(a, ds_dataset_x(d), 200, pa, NULL);
    ds_model_predict(b, ds_dataset_x(d), 200, pb, NULL);
    CHECK(memcmp(pa, pb, sizeof pa) == 0, "same seed, same predictions");

    /* another shuffle/dropout seed or batch size never changes the initial weights */
    ds_model *c = mlp(42, 0.25f);
    float init[64];
    memcpy(init, ds_model_params(c), np * sizeof(float));
    ds_model *e = mlp(42, 0.25f);
    CHECK(memcmp(init, ds_model_params(e), np * sizeof(float)) == 0, "rebuild");
    fo.seed = 777;
    fo.batch_size = 8;
    CHECK_OK(ds_model_fit(c, d, &fo, NULL, NULL));
    CHECK(memcmp(ds_model_params(a), ds_model_params(c), np * sizeof(float)) != 0,
          "another shuffle seed trains differently");
    ds_model *f = mlp(43, 0.25f);
    CHECK(memcmp(init, ds_model_params(f), np * sizeof(float)) != 0,
          "another build seed, other weights");
    /* a different first layer initializer leaves the second layer's weights alone */
    ds_model *g;
    ds_model_create(&g, 3, NULL);
    ds_dense_config c1 = ds_dense_defaults(8);
    c1.kernel_initializer = ds_initializer_defaults(DS_INIT_HE_NORMAL);
    ds_model_add_dense(g, &c1, NULL);
    ds_model_add_dropout(g, 0.25f, NULL);
    ds_dense_config c2 = ds_dense_defaults(1);
    ds_model_add_dense(g, &c2, NULL);
    ds_model_build(g, 42, NULL);
    ptrdiff_t off = ds_model_kernel_offset(g, 2);
    CHECK(memcmp(init + off, ds_model_params(g) + off, 8 * sizeof(float)) == 0,
          "layer 2 weights independent of layer 0's initializer");
    ds_model_free(a);
    ds_model_free(b);
    ds_model_free(c);
    ds_model_free(e);
    ds_model_free(f);
    ds_model_free(g);
    ds_history_free(ha);
    ds_history_free(hb);
    ds_dataset_free(d);
}

static void test_resume_equals_uninterrupted(void)
{
    /* fit(0..6) == fit(0..3) then fit(initial_epoch=3..6), same model object */
    ds_dataset *d = td_toy(120, 2);
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 10;
    fo.epochs = 6;
    ds_model *a = mlp(5, 0.2f), *b = mlp(5, 0.2f);
    CHECK_OK(ds_model_fit(a, d, &fo, NULL, NULL));
    fo.epochs = 3;
    CHECK_OK(ds_model_fit(b, d, &fo, NULL, NULL));
    fo.initial_epoch = 3;
    fo.epochs = 6;
    CHECK_OK(ds_model_fit(b, d, &fo, NULL, NULL));
    CHECK(memcmp(ds_model_params(a), ds_model_params(b), ds_model_n_params(a) * sizeof(float)) ==
              0,
          "resumed training equals uninterrupted training");
    CHECK(ds_model_iterations(a) == 6 * 12 && ds_model_iterations(b) == 6 * 12,
          "iterations %lld", (long long)ds_model_iterations(a));
    ds_model_free(a);
    ds_model_free(b);
    ds_dataset_free(d);
}

typedef struct {
    int batches, last_n_batches;
    long allocs_after_first, allocs_at_end;
} batch_count;

static int count_batches(ds_model *m, int epoch, int batch, int n_batches, double loss, void *u)
{
    (void)m;
    (void)loss;
    batch_count *bc = u;
    bc->batches++;
    bc->last_n_batches = n_batches;
#ifdef COUNT_MALLOC
    if (epoch == 0 && batch == 0) bc->allocs_after_first = n_allocs;
    bc->allocs_at_end = n_allocs;
#else
    (void)epoch;
    (void)batch;
#endif
    return 0;
}

/* a progress report after every batch; stops training after stop_at reports (0: never) */
typedef struct {
    int calls, stop_at, last_epoch, last_batch;
} progress_count;

static int count_progress(int epoch, int batch, int n_batches, double loss, void *u)
{
    progress_count *pc = u;
    (void)n_batches;
    CHECK(isfinite(loss), "running loss %g", loss);
    pc->calls++;
    pc->last_epoch = epoch;
    pc->last_batch = batch;
    return pc->stop_at > 0 && pc->calls >= pc->stop_at;
}

/* 3 epochs in batches of 10, the last 20% of the rows for validation */
static ds_fit_options batches_of_ten(void)
{
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 10;
    fo.epochs = 3;
    fo.validation_split = 0.2;
    return fo;
}

static void test_progress_callback(void)
{
    ds_dataset *d = td_toy(103, 3);
    ds_model *m = mlp(1, 0.0f);
    ds_fit_options fo = batches_of_ten();
    progress_count pc = {0, 0, -1, -1};
    fo.on_progress = count_progress;
    fo.user = &pc;
    CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
    CHECK(pc.calls == 27 && pc.last_epoch == 2 && pc.last_batch == 8,
          "27 reports, the last for epoch 2, batch 8: %d, %d, %d", pc.calls, pc.last_epoch,
          pc.last_batch);
    /* nonzero stops training after that batch */
    ds_model_free(m);
    m = mlp(1, 0.0f);
    pc = (progress_count){0, 5, -1, -1};
    CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
    CHECK(pc.calls == 5 && ds_model_iterations(m) == 5, "stopped after 5 batches: %d, %lld",
          pc.calls, (long long)ds_model_iterations(m));
    ds_model_free(m);
    ds_dataset_free(d);
}

static void test_batches_history_validation(void)
{
    ds_dataset *d = td_toy(103, 3);
    ds_model *m = mlp(1, 0.0f);
    ds_fit_options fo = batches_of_ten(); /* floor(103 * 0.8) = 82 training rows, 21 validation */
    batch_count bc = {0, 0, 0, 0};
    fo.on_batch_end = count_batches;
    fo.user = &bc;
    ds_history *h;
    ds_history_create(&h, NULL);
    CHECK_OK(ds_model_fit(m, d, &fo, h, NULL));
    CHECK(bc.last_n_batches == 9 && bc.batches == 27, "82 rows in batches of 10: 9 a epoch");
    CHECK(ds_model_iterations(m) == 27, "iterations %lld", (long long)ds_model_iterations(m));
#ifdef COUNT_MALLOC
    CHECK(bc.allocs_at_end == bc.allocs_after_first,
          "%ld allocations after the first batch", bc.allocs_at_end - bc.allocs_after_first);
#endif
    const char *cols[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    CHECK(ds_history_columns(h) == 4, "columns %d", ds_history_columns(h));
    for (int i = 0; i < 4; i++)
        CHECK(ds_history_find(h, cols[i]) == i, "column %s", cols[i]);
    /* the validation rows are the last 21, evaluated with the final weights */
    int idx[21];
    for (int i = 0; i < 21; i++) idx[i] = 82 + i;
    ds_dataset *val;
    ds_dataset_subset(&val, d, idx, 21, NULL);
    double v[2];
    CHECK_OK(ds_model_evaluate(m, val, 32, v, NULL));
    CHECK(v[0] == ds_history_series(h, "val_loss")[2], "val_loss %.9g vs %.9g", v[0],
          ds_history_series(h, "val_loss")[2]);
    CHECK(v[1] == ds_history_series(h, "val_accuracy")[2], "val_accuracy");
    /* Keras's training loss is the running mean during the epoch, not the final loss */
    int tidx[82];
    for (int i = 0; i < 82; i++) tidx[i] = i;
    ds_dataset *tr;
    ds_dataset_subset(&tr, d, tidx, 82, NULL);
    CHECK_OK(ds_model_evaluate(m, tr, 32, v, NULL));
    CHECK(v[0] != ds_history_series(h, "loss")[2], "running mean differs from final loss");
    FILE *f = tmpfile();
    CHECK_OK(ds_history_write_csv(h, f, NULL));
    rewind(f);
    char line[256];
    CHECK(fgets(line, sizeof line, f) &&
              strcmp(line, "epoch,loss,accuracy,val_loss,val_accuracy\n") == 0,
          "csv header %s", line);
    fclose(f);
    ds_dataset_free(val);
    ds_dataset_free(tr);
    ds_history_free(h);
    ds_model_free(m);
    ds_dataset_free(d);
}

static void test_early_stopping(void)
{
    ds_dataset *d = td_toy(64, 4);
    /* learning rate 0: the loss never improves after the first epoch */
    for (int patience = 0; patience <= 3; patience++) {
        ds_optimizer sgd = ds_optimizer_defaults(DS_OPT_SGD);
        sgd.learning_rate = 0.0;
        ds_model *m = logistic(3, DS_INIT_GLOROT_UNIFORM, 1, sgd);
        ds_fit_options fo = ds_fit_defaults();
        fo.epochs = 20;
        fo.shuffle = 0; /* the same batches every epoch: the loss repeats to the bit */
        fo.early_stopping.enabled = 1;
        snprintf(fo.early_stopping.monitor, sizeof fo.early_stopping.monitor, "loss");
        fo.early_stopping.patience = patience;
        ds_history *h;
        ds_history_create(&h, NULL);
        CHECK_OK(ds_model_fit(m, d, &fo, h, NULL));
        /* epoch 0 improves on +inf; then wait reaches patience after `patience` epochs,
         * and patience 0 stops at the first non-improving epoch like patience 1 */
        int expect = patience == 0 ? 2 : patience + 1;
        CHECK(ds_history_epochs(h) == expect, "patience %d: %d epochs, expected %d", patience,
              ds_history_epochs(h), expect);
        ds_history_free(h);
        ds_model_free(m);
    }
    /* restore_best_weights with mode max on val_loss: epoch 0 is "best", later epochs
     * (which lower the loss) do not count; the weights after epoch 0 come back */
    ds_model *m = mlp(3, 0.0f);
    ds_fit_options fo = ds_fit_defaults();
    fo.epochs = 10;
    fo.validation_split = 0.25;
    fo.early_stopping.enabled = 1;
    fo.early_stopping.mode = DS_MODE_MAX;
    fo.early_stopping.patience = 2;
    fo.early_stopping.restore_best_weights = 1;
    ds_model *ref = mlp(3, 0.0f);
    ds_fit_options fr = fo;
    fr.early_stopping.enabled = 0;
    fr.epochs = 1;
    CHECK_OK(ds_model_fit(ref, d, &fr, NULL, NULL));
    ds_history *h;
    ds_history_create(&h, NULL);
    CHECK_OK(ds_model_fit(m, d, &fo, h, NULL));
    CHECK(ds_history_epochs(h) == 3, "stopped after %d epochs", ds_history_epochs(h));
    CHECK(memcmp(ds_model_params(m), ds_model_params(ref),
                 ds_model_n_params(m) * sizeof(float)) == 0,
          "best (epoch 0) weights restored");
    ds_history_free(h);
    ds_model_free(m);
    ds_model_free(ref);
    ds_dataset_free(d);
}

static void test_reduce_lr(void)
{
    ds_dataset *d = td_toy(64, 5);
    ds_optimizer sgd = ds_optimizer_defaults(DS_OPT_SGD);
    sgd.learning_rate = 0.1;
    ds_model *m = logistic(3, DS_INIT_GLOROT_UNIFORM, 1, sgd);
    ds_fit_options fo = ds_fit_defaults();
    fo.epochs = 6;
    fo.reduce_lr.enabled = 1;
    snprintf(fo.reduce_lr.monitor, sizeof fo.reduce_lr.monitor, "loss");
    fo.reduce_lr.min_delta = 1e9; /* nothing after the first epoch counts as improving */
    fo.reduce_lr.patience = 2;
    fo.reduce_lr.factor = 0.5;
    ds_history *h;
    ds_history_create(&h, NULL);
    CHECK_OK(ds_model_fit(m, d, &fo, h, NULL));
    const double *lr = ds_history_series(h, "learning_rate");
    double expect[6] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.025};
    CHECK(lr != NULL, "learning_rate column");
    for (int e = 0; lr && e < 6; e++) CHECK_CLOSE(lr[e], expect[e], 1e-12, 1e-9);
    ds_history_free(h);
    ds_model_free(m);
    ds_dataset_free(d);
}

static int stop_at_2(ds_model *m, int epoch, const ds_history *h, void *u)
{
    (void)m;
    (void)h;
    (void)u;
    return epoch == 1;
}

static void test_user_callback_and_nan(void)
{
    ds_dataset *d = td_toy(64, 6);
    ds_model *m = mlp(1, 0.0f);
    ds_fit_options fo = ds_fit_defaults();
    fo.epochs = 10;
    fo.on_epoch_end = stop_at_2;
    ds_history *h;
    ds_history_create(&h, NULL);
    CHECK_OK(ds_model_fit(m, d, &fo, h, NULL));
    CHECK(ds_history_epochs(h) == 2, "the callback stops after epoch 2");
    ds_history_free(h);
    ds_model_free(m);

    /* a regression with an absurd learning rate overflows: DS_ERR_DIVERGED names the
     * epoch and batch, and the epochs before it stay in the history */
    ds_model *r;
    ds_model_create(&r, 3, NULL);
    ds_dense_config c = ds_dense_defaults(1);
    ds_model_add_dense(r, &c, NULL);
    ds_model_build(r, 1, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_MEAN_SQUARED_ERROR);
    cc.n_metrics = 0;
    cc.optimizer = ds_optimizer_defaults(DS_OPT_SGD);
    cc.optimizer.learning_rate = 1e6;
    CHECK_OK(ds_model_compile(r, &cc, NULL));
    ds_history_create(&h, NULL);
    ds_error err;
    fo = ds_fit_defaults();
    fo.epochs = 50;
    fo.batch_size = 8;
    ds_status s = ds_model_fit(r, d, &fo, h, &err);
    CHECK(s == DS_ERR_DIVERGED, "status %d", (int)s);
    CHECK(s != DS_ERR_DIVERGED || (strstr(err.message, "epoch") && strstr(err.message, "batch")),
          "message: %s", err.message);
    printf("  divergence: %s (history kept: %d epochs)\n", err.message, ds_history_epochs(h));
    ds_history_free(h);
    ds_model_free(r);
    ds_dataset_free(d);
}

static void test_errors(void)
{
    ds_error err;
    ds_model *m;
    CHECK(ds_model_create(&m, 0, &err) == DS_ERR_ARG && strstr(err.message, "n_inputs"), "%s",
          err.message);
    ds_model_create(&m, 4, NULL);
    ds_dense_config c = ds_dense_defaults(0);
    CHECK(ds_model_add_dense(m, &c, &err) == DS_ERR_ARG && strstr(err.message, "units"), "%s",
          err.message);
    CHECK(ds_model_add_dropout(m, 1.0f, &err) == DS_ERR_ARG && strstr(err.message, "rate"), "%s",
          err.message);
    c = ds_dense_defaults(1);
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_model_add_dense(m, &c, NULL);
    ds_dataset *d = td_toy(20, 7);
    CHECK(ds_model_fit(m, d, NULL, NULL, &err) == DS_ERR_STATE, "fit before compile: %s",
          err.message);
    ds_model_build(m, 1, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.optimizer.learning_rate = -0.1;
    CHECK(ds_model_compile(m, &cc, &err) == DS_ERR_ARG && strstr(err.message, "learning_rate"),
          "negative learning rate: %s", err.message);
    cc = ds_compile_defaults();
    cc.optimizer.rho = 1.5;
    CHECK(ds_model_compile(m, &cc, &err) == DS_ERR_ARG && strstr(err.message, "rho"),
          "rho 1.5: %s", err.message);
    cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
    CHECK(ds_model_compile(m, &cc, &err) == DS_ERR_SHAPE, "cce on one unit: %s", err.message);
    cc = ds_compile_defaults();
    CHECK_OK(ds_model_compile(m, &cc, NULL));
    /* 3 features given to a 4-input model */
    CHECK(ds_model_fit(m, d, NULL, NULL, &err) == DS_ERR_SHAPE && strstr(err.message, "3") &&
              strstr(err.message, "4"),
          "shape: %s", err.message);
    ds_model *m3 = logistic(3, DS_INIT_GLOROT_UNIFORM, 1, ds_optimizer_defaults(DS_OPT_SGD));
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 0;
    CHECK(ds_model_fit(m3, d, &fo, NULL, &err) == DS_ERR_ARG && strstr(err.message, "batch_size"),
          "batch size 0: %s", err.message);
    fo = ds_fit_defaults();
    fo.validation_split = 0.99; /* floor(20 * 0.01) = 0 training rows */
    CHECK(ds_model_fit(m3, d, &fo, NULL, &err) == DS_ERR_ARG &&
              strstr(err.message, "validation_split"),
          "empty split: %s", err.message);
    fo = ds_fit_defaults();
    fo.early_stopping.enabled = 1; /* val_loss without validation data */
    CHECK(ds_model_fit(m3, d, &fo, NULL, &err) == DS_ERR_ARG && strstr(err.message, "val_loss"),
          "monitor without validation: %s", err.message);
    ds_initializer ini;
    CHECK(ds_initializer_parse("he_nromal", &ini, &err) == DS_ERR_ARG &&
              strstr(err.message, "he_nromal"),
          "unknown initializer: %s", err.message);
    ds_optimizer op;
    CHECK(ds_optimizer_parse("adamx", &op, &err) == DS_ERR_ARG && strstr(err.message, "adamx"),
          "unknown optimizer: %s", err.message);
    ds_model_free(m);
    ds_model_free(m3);
    ds_dataset_free(d);
}

static void test_summary(void)
{
    /* the course's parameter counts: 4 -> 2 -> 1 = 13; wines 13-8-5-2-3 = 178 */
    ds_model *m;
    ds_model_create(&m, 13, NULL);
    int units[4] = {8, 5, 2, 3};
    for (int k = 0; k < 4; k++) {
        ds_dense_config c = ds_dense_defaults(units[k]);
        ds_model_add_dense(m, &c, NULL);
    }
    CHECK(ds_model_n_params(m) == 178, "wines params %zu", ds_model_n_params(m));
    FILE *f = tmpfile();
    CHECK_OK(ds_model_summary(m, f, NULL));
    rewind(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    CHECK(strstr(buf, "dense_3 (Dense)") && strstr(buf, "(None, 3)") &&
              strstr(buf, "Total params: 178") && strstr(buf, "Trainable params: 178"),
          "summary:\n%s", buf);
    ds_model_free(m);
    ds_model_create(&m, 4, NULL);
    ds_dense_config c = ds_dense_defaults(2);
    ds_model_add_dense(m, &c, NULL);
    ds_model_add_dropout(m, 0.5f, NULL);
    c = ds_dense_defaults(1);
    c.use_bias = 0;
    ds_model_add_dense(m, &c, NULL);
    CHECK(ds_model_n_params(m) == 12, "4-2-1 without last bias: %zu", ds_model_n_params(m));
    CHECK(strcmp(ds_model_layer_name(m, 1), "dropout") == 0 &&
              strcmp(ds_model_layer_name(m, 2), "dense_1") == 0,
          "layer names");
    ds_model_free(m);
}

int main(void)
{
    RUN(test_summary);
    RUN(test_errors);
    RUN(test_batches_history_validation);
    RUN(test_progress_callback);
    RUN(test_determinism);
    RUN(test_resume_equals_uninterrupted);
    RUN(test_early_stopping);
    RUN(test_reduce_lr);
    RUN(test_user_callback_and_nan);
    RUN(test_banknotes_logistic);
    RUN(test_wines_softmax);
    return HARNESS_DONE();
}
