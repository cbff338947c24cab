/*
 * testdata.h - a few helpers the engine's tests share: a reader for the bundled, purely
 * numeric CSV files (the command's real reader is tested in test_csv.c), a standard
 * scaler fitted on training rows, and a seeded 70/30 split.
 */
#ifndef DS_TESTDATA_H
#define DS_TESTDATA_H

#include "descent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int n, cols;
    double *v; /* (n, cols) */
} td_table;

/* Reads a header line then rows of numbers separated by commas. Returns 0 on success. */
static inline int td_read(const char *path, td_table *t)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    t->cols = 1;
    for (char *p = line; *p; p++) t->cols += *p == ',';
    int cap = 256;
    t->n = 0;
    t->v = malloc(sizeof(double) * (size_t)cap * (size_t)t->cols);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n' || line[0] == '\0') continue;
        if (t->n == cap) {
            cap *= 2;
            t->v = realloc(t->v, sizeof(double) * (size_t)cap * (size_t)t->cols);
        }
        char *p = line;
        for (int c = 0; c < t->cols; c++) {
            t->v[(size_t)t->n * t->cols + c] = strtod(p, &p);
            if (*p == ',') p++;
        }
        t->n++;
    }
    fclose(f);
    return 0;
}

/* Splits rows (70/30 by default) with a seeded permutation, standard-scales features on
 * the training rows, and builds data sets. target_col is the label column; when
 * n_classes > 2 the targets are one-hot (labels 1..n_classes as in wines.csv when
 * label_base is 1). */
static inline void td_make(const td_table *t, int target_col, int n_classes, int label_base,
                    double test_frac, uint64_t seed, ds_dataset **train, ds_dataset **test)
{
    int nf = t->cols - 1;
    int ny = n_classes > 2 ? n_classes : 1;
    int *perm = malloc(sizeof(int) * (size_t)t->n);
    ds_rng r = ds_rng_split(seed, DS_STREAM_USER + 1);
    ds_rng_permutation(&r, perm, t->n);
    int n_test = (int)ceil(test_frac * t->n);
    int n_train = t->n - n_test;
    float *x = malloc(sizeof(float) * (size_t)t->n * (size_t)nf);
    float *y = malloc(sizeof(float) * (size_t)t->n * (size_t)ny);
    /* rows in permuted order: the first n_test are the test set */
    for (int i = 0; i < t->n; i++) {
        const double *row = t->v + (size_t)perm[i] * t->cols;
        int c2 = 0;
        for (int c = 0; c < t->cols; c++)
            if (c != target_col) x[(size_t)i * nf + c2++] = (float)row[c];
        int label = (int)row[target_col] - label_base;
        if (ny == 1) y[i] = (float)label;
        else
            for (int k = 0; k < ny; k++) y[(size_t)i * ny + k] = k == label ? 1.0f : 0.0f;
    }
    for (int c = 0; c < nf; c++) {
        double mean = 0, var = 0;
        for (int i = n_test; i < t->n; i++) mean += (double)x[(size_t)i * nf + c];
        mean /= n_train;
        for (int i = n_test; i < t->n; i++) {
            double d = (double)x[(size_t)i * nf + c] - mean;
            var += d * d;
        }
        double sd = sqrt(var / n_train);
        if (sd == 0) sd = 1;
        for (int i = 0; i < t->n; i++)
            x[(size_t)i * nf + c] = (float)(((double)x[(size_t)i * nf + c] - mean) / sd);
    }
    ds_dataset_create(test, n_test, nf, ny, x, y, NULL);
    ds_dataset_create(train, n_train, nf, ny, x + (size_t)n_test * nf, y + (size_t)n_test * ny,
                      NULL);
    free(perm);
    free(x);
    free(y);
}

/* a small synthetic binary problem: 3 normal features, label = x0 + x1 > 0 */
static inline ds_dataset *td_toy(int n, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)n * 3), *y = malloc(sizeof(float) * (size_t)n);
    ds_rng r = ds_rng_split(seed, 9);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) x[i * 3 + j] = (float)ds_rng_normal(&r);
        y[i] = x[i * 3] + x[i * 3 + 1] > 0 ? 1.0f : 0.0f;
    }
    ds_dataset *d;
    ds_dataset_create(&d, n, 3, 1, x, y, NULL);
    free(x);
    free(y);
    return d;
}

#endif
