/*
 * dataset.c - an owned, row-major float32 table of inputs and targets. Data sets are
 * immutable once made: splitting and shuffling produce index lists or new data sets,
 * so a data set can be shared by many runs at once.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static ds_status dataset_alloc(ds_dataset **out, int n, int n_x, int n_y, ds_error *err)
{
    *out = NULL;
    if (n < 0 || n_x < 1 || n_y < 0)
        return ds_fail(err, DS_ERR_ARG,
                       "dataset: need rows >= 0, features >= 1, targets >= 0 (got %d, %d, %d)",
                       n, n_x, n_y);
    ds_dataset *d = calloc(1, sizeof *d);
    if (!d) return ds_fail(err, DS_ERR_NOMEM, "dataset: out of memory");
    d->n = n;
    d->n_x = n_x;
    d->n_y = n_y;
    d->x = malloc(sizeof(float) * ((size_t)n * (size_t)n_x + 1));
    d->y = n_y ? malloc(sizeof(float) * ((size_t)n * (size_t)n_y + 1)) : NULL;
    if (!d->x || (n_y && !d->y)) {
        ds_dataset_free(d);
        return ds_fail(err, DS_ERR_NOMEM, "dataset: out of memory for %d rows", n);
    }
    *out = d;
    return DS_OK;
}

ds_status ds_dataset_create(ds_dataset **out, int n, int n_x, int n_y, const float *x,
                            const float *y, ds_error *err)
{
    if (!out) return ds_fail(err, DS_ERR_ARG, "dataset: out is NULL");
    if (!x && n > 0) return ds_fail(err, DS_ERR_ARG, "dataset: x is NULL");
    if (!y && n_y > 0 && n > 0) return ds_fail(err, DS_ERR_ARG, "dataset: y is NULL");
    ds_status s = dataset_alloc(out, n, n_x, n_y, err);
    if (s) return s;
    if (n > 0) {
        memcpy((*out)->x, x, sizeof(float) * (size_t)n * (size_t)n_x);
        if (n_y) memcpy((*out)->y, y, sizeof(float) * (size_t)n * (size_t)n_y);
    }
    return DS_OK;
}

ds_status ds_dataset_adopt(ds_dataset **out, int n, int n_x, int n_y, float *x, float *y,
                           ds_error *err)
{
    ds_status s = DS_OK;
    if (!out) s = ds_fail(err, DS_ERR_ARG, "dataset: out is NULL");
    else if ((!x && n > 0) || (!y && n_y > 0 && n > 0))
        s = ds_fail(err, DS_ERR_ARG, "dataset: x or y is NULL");
    else if (n < 0 || n_x < 1 || n_y < 0)
        s = ds_fail(err, DS_ERR_ARG,
                    "dataset: need rows >= 0, features >= 1, targets >= 0 (got %d, %d, %d)", n,
                    n_x, n_y);
    ds_dataset *d = s ? NULL : calloc(1, sizeof *d);
    if (!s && !d) s = ds_fail(err, DS_ERR_NOMEM, "dataset: out of memory");
    if (s) {
        free(x);
        free(y);
        return s;
    }
    d->n = n;
    d->n_x = n_x;
    d->n_y = n_y;
    d->x = x;
    d->y = n_y ? y : NULL;
    if (!n_y) free(y);
    *out = d;
    return DS_OK;
}

ds_status ds_dataset_subset(ds_dataset **out, const ds_dataset *src, const int *idx, int n,
                            ds_error *err)
{
    if (!out || !src || (!idx && n > 0))
        return ds_fail(err, DS_ERR_ARG, "dataset subset: NULL argument");
    for (int r = 0; r < n; r++)
        if (idx[r] < 0 || idx[r] >= src->n)
            return ds_fail(err, DS_ERR_ARG, "dataset subset: row %d out of range [0, %d)",
                           idx[r], src->n);
    ds_status s = dataset_alloc(out, n, src->n_x, src->n_y, err);
    if (s) return s;
    ds_dataset *d = *out;
    for (int r = 0; r < n; r++) {
        memcpy(d->x + (size_t)r * d->n_x, src->x + (size_t)idx[r] * src->n_x,
               sizeof(float) * (size_t)d->n_x);
        if (d->n_y)
            memcpy(d->y + (size_t)r * d->n_y, src->y + (size_t)idx[r] * src->n_y,
                   sizeof(float) * (size_t)d->n_y);
    }
    return DS_OK;
}

void ds_dataset_free(ds_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

int ds_dataset_rows(const ds_dataset *d) { return d ? d->n : 0; }
int ds_dataset_n_x(const ds_dataset *d) { return d ? d->n_x : 0; }
int ds_dataset_n_y(const ds_dataset *d) { return d ? d->n_y : 0; }
const float *ds_dataset_x(const ds_dataset *d) { return d ? d->x : NULL; }
const float *ds_dataset_y(const ds_dataset *d) { return d ? d->y : NULL; }
