/*
 * cmd_train.c - descent train: one model, a Keras-like per-epoch log (a live progress bar
 * on a terminal, one line per epoch otherwise), then the test loss and metrics.
 */
#include "args.h"
#include "commands.h"
#include "idx.h"
#include "modelfile.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int tty, quiet, epochs, n_batches, rows;
    struct timespec t0;
    double total; /* seconds of the epochs so far, for the time left */
    int done;
} train_log;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void bar(char *buf, int done, int total)
{
    int width = 30, fill = total ? done * width / total : width;
    for (int i = 0; i < width; i++) buf[i] = i < fill ? '=' : (i == fill ? '>' : '.');
    if (done == total) buf[width - 1] = '=';
    buf[width] = '\0';
}

static void on_batch(void *user, int epoch, int batch, int n_batches, double loss)
{
    train_log *lg = user;
    lg->n_batches = n_batches;
    if (batch == 0) clock_gettime(CLOCK_MONOTONIC, &lg->t0);
    if (lg->quiet || !lg->tty) return;
    if (batch == 0) printf("Epoch %d/%d\n", epoch + 1, lg->epochs);
    /* redraw at most ~50 times an epoch */
    if (batch + 1 != n_batches && (batch % (n_batches / 50 + 1)) != 0) return;
    char b[64];
    bar(b, batch + 1, n_batches);
    printf("\r%d/%d [%s] - loss: %.4f", batch + 1, n_batches, b, loss);
    fflush(stdout);
}

static void on_epoch(void *user, int epoch, int epochs, const ds_history *h)
{
    train_log *lg = user;
    (void)epochs;
    if (lg->quiet) return;
    int row = ds_history_epochs(h) - 1;
    if (lg->tty) {
        char b[64];
        bar(b, 1, 1);
        printf("\r\033[K%d/%d [%s]", lg->n_batches, lg->n_batches, b);
    } else {
        printf("Epoch %d/%d\n%d/%d", epoch + 1, lg->epochs, lg->n_batches, lg->n_batches);
    }
    double dt = since(&lg->t0);
    lg->total += dt;
    lg->done++;
    printf(" - %.3fs", dt);
    /* for long runs: throughput and the time the remaining epochs should take */
    if (lg->total > 2.0 || dt > 0.5)
        printf(" - %.0f samples/s - %.0fs left", dt > 0 ? lg->rows / dt : 0.0,
               lg->total / lg->done * (lg->epochs - epoch - 1));
    for (int c = 0; c < ds_history_columns(h); c++)
        printf(" - %s: %.4f", ds_history_column_name(h, c), ds_history_get(h, row, c));
    printf("\n");
    fflush(stdout);
}

/* --resume: the saved settings, then the options given now on top of them */
static ds_status resume_settings(cli_args *a, const cli_saved_model *sm, const char *path,
                                 ds_error *err)
{
    static const char *const per_call[] = {"save", "resume", "checkpoint", NULL};
    if (!sm->settings) return DS_OK;
    cli_settings merged;
    cli_settings_init(&merged);
    char origin[CLI_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s: saved settings", path);
    ds_status s = cli_settings_load_dump(&merged, sm->settings, origin, per_call, err);
    for (int i = 0; !s && cli_setting_def_at(i); i++)
        if (a->settings.set[i])
            s = cli_settings_set(&merged, cli_setting_def_at(i)->key, a->settings.value[i],
                                 "option", err);
    if (s) {
        cli_settings_free(&merged);
        return s;
    }
    cli_settings_free(&a->settings);
    a->settings = merged;
    return DS_OK;
}

static int same_features(const cli_data *x, const cli_data *y)
{
    if (x->n_features != y->n_features || x->n_targets != y->n_targets) return 0;
    for (int j = 0; j < x->n_features; j++)
        if (strcmp(x->feature_names[j], y->feature_names[j]) != 0) return 0;
    return 1;
}

int cmd_train(int argc, char **argv)
{
    static const char *const extra[] = {"quiet", NULL};
    cli_args a;
    ds_error err = {0};
    ds_status s = cli_args_parse(&a, argc, argv, extra, 0, &err);
    if (!s && a.help) {
        printf("usage: descent train [FILE.ini] --data FILE [options]\n\n"
               "Trains one model and prints a Keras-like log, then the test loss and metrics.\n"
               "Options take the names of Keras's arguments; [brackets] show defaults.\n"
               "  --quiet                        print only the final metrics\n");
        cli_print_options(stdout, 0);
        cli_args_free(&a);
        return 0;
    }
    cli_saved_model sm = {0};
    const char *resume = cli_settings_get(&a.settings, "resume");
    char resume_path[CLI_PATH_MAX];
    snprintf(resume_path, sizeof resume_path, "%s", resume ? resume : "");
    if (!s && resume_path[0]) {
        s = cli_model_load(resume_path, &sm, &err);
        if (!s) s = resume_settings(&a, &sm, resume_path, &err);
    }
    cli_config c;
    if (!s) s = cli_config_from_settings(&a.settings, &c, &err);
    /* a file to save must be writable before training starts, not after */
    const char *outs[2] = {c.save, c.checkpoint};
    for (int i = 0; i < 2 && !s; i++) {
        if (!outs[i][0]) continue;
        char dir[CLI_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", outs[i]);
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
        else snprintf(dir, sizeof dir, ".");
        if (access(dir, W_OK) != 0)
            s = cli_fail(&err, "option --%s: cannot write into '%s': %s",
                         i ? "checkpoint" : "save", dir, strerror(errno));
    }
    if (!s && c.record_layer[0])
        s = cli_fail(&err, "option --record-layer belongs to descent sweep, whose report draws "
                     "the outputs; for one saved model use descent features");
    if (!s && resume_path[0] && c.fit.epochs <= sm.epochs_done)
        s = cli_fail(&err, "option --epochs: %s has already run %d epochs; give --epochs above %d",
                     resume_path, sm.epochs_done, sm.epochs_done);
    if (!s && !c.data[0]) s = cli_fail(&err, "no training data: give --data FILE");
    cli_table *t = NULL, *tt = NULL;
    cli_rundata d = {0};
    int idx = !s && cli_is_idx(c.data);
    if (!s && !idx) s = cli_table_read(&t, c.data, &err);
    if (!s && !idx && c.test_data[0]) s = cli_table_read(&tt, c.test_data, &err);
    if (!s) s = cli_rundata_load(&c, t, tt, &d, &err);
    if (!s && sm.model && sm.prep && !same_features(sm.prep, d.prep))
        s = cli_fail(&err, "%s: the model was trained on other features or targets than %s",
                     resume_path, c.data);
    ds_model *m = NULL;
    if (!s && !sm.model) s = cli_model_build(&c, d.prep, c.seed, &m, &err);
    if (!s && sm.model && !a.quiet)
        printf("resuming %s after epoch %d\n", resume_path, sm.epochs_done);
    if (!s && !a.quiet) {
        printf("data: %s: %d training rows, %d test rows, %d features, target '%s'",
               c.data, d.prep->n_train, d.test ? ds_dataset_rows(d.test) : 0,
               d.prep->n_features, d.prep->target_name);
        if (d.prep->n_classes) {
            printf(" (");
            for (int i = 0; i < d.prep->n_classes; i++)
                printf("%s%s", i ? ", " : "", d.prep->label_names[i]);
            printf(")");
        }
        printf("\n");
        ds_model_summary(m ? m : sm.model, stdout, NULL);
    }
    ds_model_free(m);
    int code = 0;
    if (!s) {
        train_log lg = {isatty(1), a.quiet, c.fit.epochs, 0, 0, {0, 0}, 0.0, 0};
        /* the rows each epoch trains on: the validation split is taken off */
        lg.rows = ds_dataset_rows(d.train) -
                  (int)(ds_dataset_rows(d.train) - floor(ds_dataset_rows(d.train) *
                                                         (1.0 - c.fit.validation_split)));
        cli_run_result res;
        c.restarts = 0;
        ds_model *trained = NULL;
        cli_train_extras x;
        memset(&x, 0, sizeof x);
        x.resume = sm.model;
        x.initial_epoch = sm.epochs_done;
        x.checkpoint = c.checkpoint[0] ? c.checkpoint : NULL;
        x.monitor = c.checkpoint_monitor[0] ? c.checkpoint_monitor
                    : (c.fit.validation_split > 0 ? "val_loss" : "loss");
        x.save_best_only = c.save_best_only;
        x.prep = d.prep;
        x.settings = &a.settings;
        x.keep = &trained;
        s = cli_run(&c, &d, c.seed, on_epoch, on_batch, &lg, &x, 0, &res, &err);
        if (!s && c.save[0]) {
            const ds_history *h = res.history;
            int done = ds_history_epochs(h) ? ds_history_epoch(h, ds_history_epochs(h) - 1) + 1
                                            : sm.epochs_done;
            s = cli_model_save(trained, c.save, d.prep, &a.settings, done, &err);
            if (!s && !a.quiet) printf("saved %s (%d epochs)\n", c.save, done);
        }
        if (trained != sm.model) ds_model_free(trained);
        if (!s) {
            if (res.diverged) {
                fprintf(stderr, "descent: %s\n", res.message);
                code = 3;
            }
            if (res.diag && !a.quiet) {
                /* the last epoch's per-layer diagnostics (docs/DIAGNOSTICS.md) */
                int e = ds_history_epochs(res.history) ? ds_history_epoch(res.history,
                                                        ds_history_epochs(res.history) - 1)
                                                       : -1;
                printf("diagnostics after epoch %d:\n%-22s", e + 1, "layer");
                for (int q = 0; q < CLI_N_DIAG; q++) printf(" %12s", cli_diag_names[q]);
                printf("\n");
                for (int l = 0; e >= 0 && l < res.n_layers; l++) {
                    printf("%-22s", res.layer_names[l]);
                    for (int q = 0; q < CLI_N_DIAG; q++)
                        printf(" %12.4g", res.diag[((size_t)l * CLI_N_DIAG + q) * res.n_epochs + e]);
                    printf("\n");
                }
            }
            if (res.n_test) {
                printf("test");
                for (int i = 0; i < res.n_test; i++)
                    printf(" - %s: %.4f", res.test_names[i], res.test[i]);
                printf("\n");
            }
        }
        cli_run_result_free(&res);
    }
    if (s) {
        fprintf(stderr, "descent train: %s\n", err.message);
        code = cli_exit_code(s);
    }
    cli_saved_model_free(&sm);
    cli_rundata_free(&d);
    cli_table_free(t);
    cli_table_free(tt);
    cli_args_free(&a);
    return code;
}
