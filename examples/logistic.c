/*
 * logistic.c - the course's logistic-regression cell in plain C against descent.h:
 *
 *   model = Sequential([Dense(1, input_shape=(4,), activation='sigmoid')])
 *   model.compile(SGD(), 'binary_crossentropy', metrics=['accuracy'])
 *   model.fit(X_train, y_train, epochs=10)
 *   model.evaluate(X_test, y_test)
 *
 * on the banknote data: features standard-scaled (as the course does, on all rows),
 * a 70/30 split with a seeded shuffle. Usage: logistic [data/banknotes.csv] [seed]
 */
#include "descent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FEATURES 4

/* Reads the numeric banknote file: a header line, then 5 numbers a row. */
static int read_banknotes(const char *path, float **x, float **y, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "logistic: cannot open %s\n", path);
        return -1;
    }
    char line[512];
    int cap = 2048, rows = 0, lineno = 1;
    *x = malloc(sizeof(float) * (size_t)cap * N_FEATURES);
    *y = malloc(sizeof(float) * (size_t)cap);
    if (!fgets(line, sizeof line, f)) rows = -1;
    while (rows >= 0 && fgets(line, sizeof line, f)) {
        lineno++;
        float v[5];
        if (sscanf(line, "%f,%f,%f,%f,%f", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5) {
            fprintf(stderr, "logistic: %s:%d: expected 5 numbers\n", path, lineno);
            rows = -1;
            break;
        }
        if (rows == cap) break;
        memcpy(*x + (size_t)rows * N_FEATURES, v, sizeof(float) * N_FEATURES);
        (*y)[rows++] = v[4];
    }
    fclose(f);
    *n = rows;
    return rows > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data/banknotes.csv";
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    float *x, *y;
    int n;
    if (read_banknotes(path, &x, &y, &n)) return 2;

    /* StandardScaler on all rows, as the course's notebook does */
    for (int j = 0; j < N_FEATURES; j++) {
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++) mean += (double)x[i * N_FEATURES + j];
        mean /= n;
        for (int i = 0; i < n; i++) var += pow((double)x[i * N_FEATURES + j] - mean, 2);
        double sd = sqrt(var / n);
        for (int i = 0; i < n; i++) x[i * N_FEATURES + j] = (float)(((double)x[i * N_FEATURES + j] - mean) / sd);
    }
    /* train_test_split(test_size=0.3): a seeded permutation, the first 30% for testing */
    int *perm = malloc(sizeof(int) * (size_t)n);
    ds_rng rng = ds_rng_split(seed, DS_STREAM_USER + 1);
    ds_rng_permutation(&rng, perm, n);
    int n_test = (int)ceil(0.3 * n);
    ds_dataset *train = NULL, *test = NULL, *all = NULL;
    ds_error err = {0};
    if (ds_dataset_create(&all, n, N_FEATURES, 1, x, y, &err) ||
        ds_dataset_subset(&test, all, perm, n_test, &err) ||
        ds_dataset_subset(&train, all, perm + n_test, n - n_test, &err)) {
        fprintf(stderr, "logistic: %s\n", err.message);
        return 1;
    }

    /* Sequential([Dense(1, activation='sigmoid')]), compile(sgd, binary_crossentropy) */
    ds_model *model = NULL;
    ds_dense_config dense = ds_dense_defaults(1);
    dense.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_BINARY_CROSSENTROPY);
    cc.optimizer = ds_optimizer_defaults(DS_OPT_SGD);
    if (ds_model_create(&model, N_FEATURES, &err) || ds_model_add_dense(model, &dense, &err) ||
        ds_model_build(model, seed, &err) || ds_model_compile(model, &cc, &err)) {
        fprintf(stderr, "logistic: %s\n", err.message);
        return 1;
    }
    ds_model_summary(model, stdout, NULL);

    ds_fit_options fit = ds_fit_defaults();
    fit.epochs = 10;
    ds_history *history = NULL;
    ds_history_create(&history, NULL);
    if (ds_model_fit(model, train, &fit, history, &err)) {
        fprintf(stderr, "logistic: %s\n", err.message);
        return 1;
    }
    const double *loss = ds_history_series(history, "loss");
    const double *acc = ds_history_series(history, "accuracy");
    for (int e = 0; e < ds_history_epochs(history); e++)
        printf("Epoch %d/%d - loss: %.4f - accuracy: %.4f\n", e + 1, fit.epochs, loss[e], acc[e]);
    double result[2];
    if (ds_model_evaluate(model, test, 32, result, &err)) {
        fprintf(stderr, "logistic: %s\n", err.message);
        return 1;
    }
    printf("test loss: %.4f - test accuracy: %.4f\n", result[0], result[1]);

    ds_history_free(history);
    ds_model_free(model);
    ds_dataset_free(all);
    ds_dataset_free(train);
    ds_dataset_free(test);
    free(perm);
    free(x);
    free(y);
    return 0;
}
