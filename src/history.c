/*
 * history.c - per-epoch training records: named columns of doubles, one row per
 * epoch, like Keras's History.history. Columns appear in the order they are first
 * appended; a column first seen in a later epoch holds NaN for the earlier ones.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DS_HISTORY_NAME_SIZE 48

struct ds_history {
    int n_rows, cap_rows;
    int n_cols, cap_cols;
    int *epoch;                          /* (cap_rows) */
    char (*names)[DS_HISTORY_NAME_SIZE]; /* (cap_cols) */
    double **cols;                       /* (cap_cols) series of cap_rows values */
};

ds_status ds_history_create(ds_history **out, ds_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? DS_OK : ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
}

void ds_history_free(ds_history *h)
{
    if (!h) return;
    for (int c = 0; c < h->n_cols; c++) free(h->cols[c]);
    free(h->cols);
    free(h->names);
    free(h->epoch);
    free(h);
}

int ds_history_epochs(const ds_history *h) { return h ? h->n_rows : 0; }
int ds_history_columns(const ds_history *h) { return h ? h->n_cols : 0; }

const char *ds_history_column_name(const ds_history *h, int col)
{
    return (h && col >= 0 && col < h->n_cols) ? h->names[col] : NULL;
}

int ds_history_epoch(const ds_history *h, int row)
{
    return (h && row >= 0 && row < h->n_rows) ? h->epoch[row] : -1;
}

int ds_history_find(const ds_history *h, const char *name)
{
    if (!h || !name) return -1;
    for (int c = 0; c < h->n_cols; c++)
        if (strcmp(h->names[c], name) == 0) return c;
    return -1;
}

double ds_history_get(const ds_history *h, int row, int col)
{
    if (!h || row < 0 || row >= h->n_rows || col < 0 || col >= h->n_cols) return (double)NAN;
    return h->cols[col][row];
}

const double *ds_history_series(const ds_history *h, const char *name)
{
    int c = ds_history_find(h, name);
    return c < 0 ? NULL : h->cols[c];
}

static ds_status grow_rows(ds_history *h, ds_error *err)
{
    if (h->n_rows < h->cap_rows) return DS_OK;
    int cap = h->cap_rows ? 2 * h->cap_rows : 16;
    int *ep = realloc(h->epoch, sizeof(int) * (size_t)cap);
    if (!ep) return ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
    h->epoch = ep;
    for (int c = 0; c < h->n_cols; c++) {
        double *s = realloc(h->cols[c], sizeof(double) * (size_t)cap);
        if (!s) return ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
        h->cols[c] = s;
    }
    h->cap_rows = cap;
    return DS_OK;
}

static ds_status add_column(ds_history *h, const char *name, ds_error *err)
{
    if (strlen(name) >= DS_HISTORY_NAME_SIZE)
        return ds_fail(err, DS_ERR_ARG, "history: column name '%s' too long", name);
    if (h->n_cols == h->cap_cols) {
        int cap = h->cap_cols ? 2 * h->cap_cols : 8;
        char(*nn)[DS_HISTORY_NAME_SIZE] = realloc(h->names, sizeof *nn * (size_t)cap);
        if (!nn) return ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
        h->names = nn;
        double **nc = realloc(h->cols, sizeof *nc * (size_t)cap);
        if (!nc) return ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
        h->cols = nc;
        h->cap_cols = cap;
    }
    double *s = malloc(sizeof(double) * (size_t)(h->cap_rows ? h->cap_rows : 16));
    if (!s) return ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
    if (!h->cap_rows) {
        int *ep = malloc(sizeof(int) * 16);
        if (!ep) {
            free(s);
            return ds_fail(err, DS_ERR_NOMEM, "history: out of memory");
        }
        h->epoch = ep;
        h->cap_rows = 16;
    }
    for (int r = 0; r < h->cap_rows; r++) s[r] = (double)NAN;
    strcpy(h->names[h->n_cols], name);
    h->cols[h->n_cols++] = s;
    return DS_OK;
}

ds_status ds_history_reserve(ds_history *h, int n, const char *const *names, int rows,
                             ds_error *err)
{
    ds_status s;
    for (int i = 0; i < n; i++)
        if (ds_history_find(h, names[i]) < 0 && (s = add_column(h, names[i], err))) return s;
    while (h->cap_rows < h->n_rows + rows) {
        int keep = h->n_rows;
        h->n_rows = h->cap_rows; /* grow_rows doubles when full */
        s = grow_rows(h, err);
        h->n_rows = keep;
        if (s) return s;
    }
    return DS_OK;
}

ds_status ds_history_append(ds_history *h, int epoch, int n, const char *const *names,
                            const double *values, ds_error *err)
{
    if (!h || n < 0 || (n > 0 && (!names || !values)))
        return ds_fail(err, DS_ERR_ARG, "history append: bad arguments");
    ds_status s = grow_rows(h, err);
    if (s) return s;
    for (int i = 0; i < n; i++)
        if (ds_history_find(h, names[i]) < 0 && (s = add_column(h, names[i], err))) return s;
    int row = h->n_rows++;
    h->epoch[row] = epoch;
    for (int c = 0; c < h->n_cols; c++) h->cols[c][row] = (double)NAN;
    for (int i = 0; i < n; i++) h->cols[ds_history_find(h, names[i])][row] = values[i];
    return DS_OK;
}

ds_status ds_history_write_csv(const ds_history *h, FILE *f, ds_error *err)
{
    if (!h || !f) return ds_fail(err, DS_ERR_ARG, "history write: NULL argument");
    fputs("epoch", f);
    for (int c = 0; c < h->n_cols; c++) fprintf(f, ",%s", h->names[c]);
    fputc('\n', f);
    for (int r = 0; r < h->n_rows; r++) {
        fprintf(f, "%d", h->epoch[r]);
        for (int c = 0; c < h->n_cols; c++) {
            double v = h->cols[c][r];
            if (isnan(v)) fputs(",", f);
            else fprintf(f, ",%.9g", v);
        }
        fputc('\n', f);
    }
    if (ferror(f)) return ds_fail(err, DS_ERR_IO, "history write: write error");
    return DS_OK;
}
