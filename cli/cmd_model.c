/*
 * cmd_model.c - commands on saved models: descent predict, descent evaluate and descent
 * inspect. New rows go through the preprocessing stored with the model (the training
 * rows' scaler, the label encoding), so they are transformed exactly as in training.
 */
#include "atomic.h"
#include "commands.h"
#include "modelfile.h"
#include "run.h"
#include "table.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *model, *data, *out, *layer;
    int proba, help;
    int batch_size;
} model_args;

/* --model FILE --data FILE [--out FILE] [--proba] [--batch-size N]; `positional` takes a
 * lone argument as the model (inspect) */
static ds_status parse(int argc, char **argv, model_args *m, int positional, ds_error *err)
{
    memset(m, 0, sizeof *m);
    m->batch_size = 32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        char name[32];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            m->help = 1;
            continue;
        }
        if (a[0] != '-') {
            if (positional && !m->model) {
                m->model = a;
                continue;
            }
            return cli_fail(err, "unexpected argument '%s'", a);
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof name) return cli_fail(err, "unknown option '%.40s'", a);
        memcpy(name, a, n);
        name[n] = '\0';
        if (strcmp(name, "--proba") == 0) {
            if (eq) return cli_fail(err, "option --proba takes no value");
            m->proba = 1;
            continue;
        }
        if (strcmp(name, "--model") && strcmp(name, "--data") && strcmp(name, "--out") &&
            strcmp(name, "--batch-size") && strcmp(name, "--layer"))
            return cli_fail(err, "unknown option '%s' (see --help)", name);
        if (eq) v = eq + 1;
        else if (i + 1 < argc) v = argv[++i];
        else return cli_fail(err, "option %s needs a value", name);
        if (strcmp(name, "--model") == 0) m->model = v;
        else if (strcmp(name, "--data") == 0) m->data = v;
        else if (strcmp(name, "--out") == 0) m->out = v;
        else if (strcmp(name, "--layer") == 0) m->layer = v;
        else {
            char *end;
            long b = strtol(v, &end, 10);
            if (*end || b < 1 || b > 1 << 20)
                return cli_fail(err, "option --batch-size: '%s' must be an integer >= 1", v);
            m->batch_size = (int)b;
        }
    }
    return DS_OK;
}

static ds_status load(const model_args *ma, cli_saved_model *sm, cli_table **t, ds_error *err)
{
    if (!ma->model) return cli_fail(err, "no model: give --model FILE");
    if (!ma->data) return cli_fail(err, "no data: give --data FILE");
    ds_status s = cli_model_load(ma->model, sm, err);
    if (!s && !sm->prep)
        s = cli_fail(err, "%s: the model has no preprocessing (it was not saved by descent "
                     "train)", ma->model);
    if (!s) s = cli_table_read(t, ma->data, err);
    return s;
}

/* ---------------------------------------------------------------------------------- */


/* predictions for every row: the label (or value), then with --proba the probability of
 * each class */
static void write_predictions(FILE *f, const cli_data *p, const float *out, int n, int w,
                              int proba)
{
    fputs("prediction", f);
    if (proba && p->n_classes) {
        if (p->task == CLI_TARGET_BINARY) {
            fputs(",p_", f);
            cli_csv_field(f, p->label_names[1]);
        } else {
            for (int k = 0; k < p->n_classes; k++) {
                fputs(",p_", f);
                cli_csv_field(f, p->label_names[k]);
            }
        }
    }
    fputc('\n', f);
    for (int r = 0; r < n; r++) {
        const float *o = out + (size_t)r * w;
        if (p->task == CLI_TARGET_REGRESSION) {
            for (int k = 0; k < w; k++) {
                if (k) fputc(';', f);
                cli_put_g9(f, (double)o[k]);
            }
        } else if (p->task == CLI_TARGET_BINARY) {
            cli_csv_field(f, p->label_names[o[0] > 0.5f ? 1 : 0]);
            if (proba) {
                fputc(',', f);
                cli_put_g9(f, (double)o[0]);
            }
        } else {
            int best = 0;
            for (int k = 1; k < w; k++)
                if (o[k] > o[best]) best = k;
            cli_csv_field(f, p->label_names[best]);
            for (int k = 0; proba && k < w; k++) {
                fputc(',', f);
                cli_put_g9(f, (double)o[k]);
            }
        }
        fputc('\n', f);
    }
}

int cmd_predict(int argc, char **argv)
{
    model_args ma;
    ds_error err = {0};
    ds_status s = parse(argc, argv, &ma, 0, &err);
    if (!s && ma.help) {
        printf("usage: descent predict --model FILE --data FILE [--out FILE] [--proba]\n\n"
               "Predicts every row of a CSV file (its target column, if any, is ignored) with\n"
               "the preprocessing saved in the model, and writes a CSV: the predicted label\n"
               "(or value) per row and, with --proba, the class probabilities.\n"
               "  --model FILE        a model saved by descent train --save\n"
               "  --data FILE         rows to predict (CSV with a header row)\n"
               "  --out FILE          write here, atomically [standard output]\n"
               "  --proba             add the probability of each class\n"
               "  --batch-size N      rows per forward pass [32]\n");
        return 0;
    }
    cli_saved_model sm = {0};
    cli_table *t = NULL;
    float *x = NULL, *out = NULL;
    int n = 0;
    if (!s) s = load(&ma, &sm, &t, &err);
    if (!s) s = cli_prep_apply(t, sm.prep, &x, NULL, &n, &err);
    int w = s ? 0 : ds_model_n_outputs(sm.model);
    if (!s && !(out = malloc(sizeof(float) * ((size_t)n * (size_t)w + 1))))
        s = cli_fail_status(&err, DS_ERR_NOMEM, "out of memory");
    if (!s) s = ds_model_predict(sm.model, x, n, out, &err);
    if (!s) {
        if (ma.out) {
            cli_atomic a;
            s = cli_atomic_open(&a, ma.out, &err);
            if (!s) {
                write_predictions(a.f, sm.prep, out, n, w, ma.proba);
                s = cli_atomic_commit(&a, &err);
            }
        } else {
            write_predictions(stdout, sm.prep, out, n, w, ma.proba);
        }
    }
    free(x);
    free(out);
    cli_table_free(t);
    cli_saved_model_free(&sm);
    if (s) fprintf(stderr, "descent predict: %s\n", err.message);
    return cli_exit_code(s);
}

int cmd_evaluate(int argc, char **argv)
{
    model_args ma;
    ds_error err = {0};
    ds_status s = parse(argc, argv, &ma, 0, &err);
    if (!s && ma.help) {
        printf("usage: descent evaluate --model FILE --data FILE [--batch-size N]\n\n"
               "The loss and metrics of a saved model on labelled rows (Keras's evaluate),\n"
               "with the preprocessing saved in the model.\n");
        return 0;
    }
    cli_saved_model sm = {0};
    cli_table *t = NULL;
    float *x = NULL, *y = NULL;
    int n = 0;
    ds_dataset *d = NULL;
    if (!s) s = load(&ma, &sm, &t, &err);
    if (!s && !ds_model_compile_config(sm.model))
        s = cli_fail(&err, "%s: the model was saved without a loss", ma.model);
    if (!s) s = cli_prep_apply(t, sm.prep, &x, &y, &n, &err);
    if (!s && n < 1) s = cli_fail_status(&err, DS_ERR_FORMAT, "%s: no rows", ma.data);
    if (!s) s = ds_dataset_create(&d, n, sm.prep->n_features, sm.prep->n_targets, x, y, &err);
    double v[8];
    if (!s) s = ds_model_evaluate(sm.model, d, ma.batch_size, v, &err);
    if (!s) {
        printf("%d rows", n);
        for (int i = 0; i <= ds_model_n_metrics(sm.model); i++)
            printf(" - %s: %.4f", ds_model_metric_name(sm.model, i), v[i]);
        printf("\n");
    }
    ds_dataset_free(d);
    free(x);
    free(y);
    cli_table_free(t);
    cli_saved_model_free(&sm);
    if (s) fprintf(stderr, "descent evaluate: %s\n", err.message);
    return cli_exit_code(s);
}

int cmd_inspect(int argc, char **argv)
{
    model_args ma;
    ds_error err = {0};
    ds_status s = parse(argc, argv, &ma, 1, &err);
    if (!s && ma.help) {
        printf("usage: descent inspect FILE\n\n"
               "The model's summary (layers, output shapes, parameter counts, as Keras's\n"
               "model.summary()), how it was compiled and trained, and its metadata.\n");
        return 0;
    }
    if (!s && !ma.model) s = cli_fail(&err, "no model: give a model file");
    cli_saved_model sm = {0};
    if (!s) s = cli_model_load(ma.model, &sm, &err);
    if (!s) {
        ds_model_summary(sm.model, stdout, NULL);
        const ds_compile_config *cc = ds_model_compile_config(sm.model);
        if (cc) {
            char opt[512];
            printf("loss: %s\noptimizer: %s (%lld steps taken)\n", ds_loss_kind_name(cc->loss.kind),
                   ds_optimizer_str(&cc->optimizer, opt, sizeof opt),
                   (long long)ds_model_iterations(sm.model));
        }
        printf("keras rules: %d\nepochs trained: %d\n", (int)ds_model_keras_version(sm.model),
               sm.epochs_done);
        if (sm.prep) {
            printf("features (%d):", sm.prep->n_features);
            for (int j = 0; j < sm.prep->n_features; j++)
                printf(" %s", sm.prep->feature_names[j]);
            printf("\ntarget: %s (%s", sm.prep->target_name, cli_target_mode_name(sm.prep->task));
            for (int k = 0; k < sm.prep->n_classes; k++)
                printf("%s%s", k ? ", " : ": ", sm.prep->label_names[k]);
            printf(")\nscaling: %s\n", cli_scale_mode_name(sm.prep->scale_mode));
        }
        printf("metadata:\n");
        for (int i = 0; i < sm.meta.n; i++) {
            const char *v = sm.meta.values[i];
            int len = (int)strlen(v);
            printf("  %s: %.*s%s\n", sm.meta.keys[i], len > 200 ? 200 : len, v,
                   len > 200 ? " ..." : "");
        }
    }
    cli_saved_model_free(&sm);
    if (s) fprintf(stderr, "descent inspect: %s\n", err.message);
    return cli_exit_code(s);
}

/* features: the outputs of one layer for every row, one column per unit, then the row's
 * label when the data has the target column */
int cmd_features(int argc, char **argv)
{
    model_args ma;
    ds_error err = {0};
    ds_status s = parse(argc, argv, &ma, 0, &err);
    if (!s && ma.help) {
        printf("usage: descent features --model FILE --layer K --data FILE [--out FILE]\n\n"
               "The outputs of layer K (0 = the first layer, as Keras's model.layers, or its\n"
               "name such as dense_1) for every row of the data, in inference mode, as CSV:\n"
               "one column per unit, then the row's label when the data has the target.\n"
               "  --out FILE          write here, atomically [standard output]\n");
        return 0;
    }
    if (!s && !ma.layer) s = cli_fail(&err, "no layer: give --layer K (an index or a name)");
    cli_saved_model sm = {0};
    cli_table *t = NULL;
    float *x = NULL, *y = NULL, *out = NULL;
    int n = 0, k = -1;
    if (!s) s = load(&ma, &sm, &t, &err);
    if (!s && (k = cli_find_layer(sm.model, ma.layer)) < 0)
        s = cli_fail(&err, "option --layer: no layer '%s' in %s (0 to %d, or a name such as %s)",
                     ma.layer, ma.model, ds_model_n_layers(sm.model) - 1,
                     ds_model_layer_name(sm.model, 0));
    int labelled = !s && cli_table_find(t, sm.prep->target_name) >= 0;
    if (!s) s = cli_prep_apply(t, sm.prep, &x, labelled ? &y : NULL, &n, &err);
    int w = s ? 0 : ds_model_layer_units(sm.model, k);
    if (!s && !(out = malloc(sizeof(float) * ((size_t)n * (size_t)w + 1))))
        s = cli_fail_status(&err, DS_ERR_NOMEM, "out of memory");
    if (!s) s = ds_model_layer_outputs(sm.model, k, x, n, out, &err);
    cli_atomic a = {0};
    FILE *f = stdout;
    if (!s && ma.out) {
        s = cli_atomic_open(&a, ma.out, &err);
        f = a.f;
    }
    if (!s) {
        const char *name = ds_model_layer_name(sm.model, k);
        for (int u = 0; u < w; u++) fprintf(f, "%s%s_%d", u ? "," : "", name, u);
        if (labelled) {
            fputc(',', f);
            cli_csv_field(f, sm.prep->target_name);
        }
        fputc('\n', f);
        int ny = sm.prep->n_targets;
        for (int r = 0; r < n; r++) {
            for (int u = 0; u < w; u++) {
                if (u) fputc(',', f);
                cli_put_g9(f, (double)out[(size_t)r * w + u]);
            }
            if (labelled) {
                fputc(',', f);
                const float *yr = y + (size_t)r * ny;
                if (sm.prep->task == CLI_TARGET_REGRESSION) {
                    cli_put_g9(f, (double)yr[0]);
                } else {
                    int c = 0;
                    if (sm.prep->task == CLI_TARGET_ONEHOT) {
                        for (int j = 1; j < ny; j++)
                            if (yr[j] > yr[c]) c = j;
                    } else {
                        c = (int)yr[0];
                    }
                    cli_csv_field(f, sm.prep->label_names[c]);
                }
            }
            fputc('\n', f);
        }
        if (ma.out) s = cli_atomic_commit(&a, &err);
    }
    free(x);
    free(y);
    free(out);
    cli_table_free(t);
    cli_saved_model_free(&sm);
    if (s) fprintf(stderr, "descent features: %s\n", err.message);
    return cli_exit_code(s);
}
