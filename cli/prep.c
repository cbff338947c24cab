/*
 * prep.c - target encoding, train/test split and feature scaling for the descent
 * command (see prep.h for the exact rules). Reads cells through cli_table's accessors and
 * draws the split permutation from the library's ds_rng; builds no ds_dataset itself.
 *
 * Flow of cli_prep: parse every feature cell into a double matrix raw (n, n_features),
 * analyse the target (numbers? whole numbers? distinct values?) and resolve the encoding,
 * split the rows, fit the scaler on the chosen rows, then write the float32 outputs.
 * Left out: missing-value imputation, categorical features, feature selection.
 */
#include "prep.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* whole numbers beyond 2^53 are not all representable: such targets are not "integers" */
#define EXACT_INT_LIMIT 9007199254740992.0
/* the largest finite float32, as a double (beyond it a conversion to float is undefined) */
#define FLOAT32_MAX ((double)FLT_MAX)

/* ---------------------------------------------------------------------------------- */
/* messages */

/* A cell's text fit for a one-line message: at most 40 bytes (cut before a UTF-8
 * continuation byte, then "..."), control characters shown as '?'. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t limit = size - 4 < 40 ? size - 4 : 40, i = 0;
    for (; s[i] && i < limit; i++) buf[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (s[i]) {
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* Appends names[0..n) joined by ", " to buf, ending with ", ..." when they do not fit. */
static const char *name_list(const char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t k = strlen(names[i]) + (i ? 2 : 0);
        if (len + k + 6 >= size) {
            snprintf(buf + len, size - len, "%s...", i ? ", " : "");
            break;
        }
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
    }
    return buf;
}

static const char *column_list(const cli_table *t, char *buf, size_t size)
{
    int n = cli_table_cols(t);
    const char *names[64];
    int k = n < 64 ? n : 64;
    for (int c = 0; c < k; c++) names[c] = cli_table_col_name(t, c);
    name_list(names, k, buf, size);
    if (k < n && strlen(buf) + 6 < size) strcat(buf, ", ...");
    return buf;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t') return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------- */
/* names and defaults */

static const char *const scale_names[CLI_SCALE_COUNT] = {"standard", "minmax", "none"};
static const char *const target_names[CLI_TARGET_COUNT] = {"auto", "onehot", "sparse",
                                                           "binary", "regression"};

const char *cli_scale_mode_name(cli_scale_mode m)
{
    return (unsigned)m < CLI_SCALE_COUNT ? scale_names[m] : "unknown";
}

ds_status cli_scale_mode_parse(const char *name, cli_scale_mode *out)
{
    for (int i = 0; name && i < CLI_SCALE_COUNT; i++) {
        if (strcmp(name, scale_names[i]) == 0) {
            *out = (cli_scale_mode)i;
            return DS_OK;
        }
    }
    return DS_ERR_ARG;
}

const char *cli_target_mode_name(cli_target_mode m)
{
    return (unsigned)m < CLI_TARGET_COUNT ? target_names[m] : "unknown";
}

ds_status cli_target_mode_parse(const char *name, cli_target_mode *out)
{
    for (int i = 0; name && i < CLI_TARGET_COUNT; i++) {
        if (strcmp(name, target_names[i]) == 0) {
            *out = (cli_target_mode)i;
            return DS_OK;
        }
    }
    return DS_ERR_ARG;
}

cli_prep_options cli_prep_defaults(void)
{
    cli_prep_options o;
    o.target = NULL;
    o.target_mode = CLI_TARGET_AUTO;
    o.max_classes = 50;
    o.scale = CLI_SCALE_STANDARD;
    o.test_size = 0.3;
    o.split_seed = 42;
    o.stratify = 0;
    o.scale_before_split = 0;
    return o;
}

/* ---------------------------------------------------------------------------------- */
/* cells to numbers */

/* Parses the cell (row, col) of t as a number within float32's range. */
static ds_status cell_number(const cli_table *t, int row, int col, double *v, ds_error *err)
{
    const char *s = cli_table_cell(t, row, col);
    const char *path = cli_table_path(t), *name = cli_table_col_name(t, col);
    int line = cli_table_row_line(t, row);
    ds_status st = cli_parse_number(s, v);
    char buf[48];
    if (st == DS_ERR_NOMEM) return cli_fail_status(err, st, "%s: out of memory", path);
    if (st != DS_OK && is_blank(s))
        return cli_fail_status(err, DS_ERR_FORMAT, "%s:%d:%d: empty cell, expected a number (column '%s')",
                    path, line, col + 1, name);
    if (st != DS_OK)
        return cli_fail_status(err, DS_ERR_FORMAT, "%s:%d:%d: '%s' is not a number (column '%s')", path,
                    line, col + 1, shown(s, buf, sizeof buf), name);
    if (fabs(*v) > FLOAT32_MAX)
        return cli_fail_status(err, DS_ERR_FORMAT,
                    "%s:%d:%d: %s is beyond the range of float32 (column '%s')", path, line,
                    col + 1, shown(s, buf, sizeof buf), name);
    return DS_OK;
}

/* raw (n, nf) = the numbers in columns cols[0..nf) of every row. */
static ds_status read_features(const cli_table *t, const int *cols, int nf, double *raw,
                               ds_error *err)
{
    int n = cli_table_rows(t);
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < nf; j++) {
            ds_status s = cell_number(t, r, cols[j], &raw[(size_t)r * (size_t)nf + (size_t)j],
                                      err);
            if (s != DS_OK) return s;
        }
    }
    return DS_OK;
}

/* out (m, nf) = (raw[rows[i]] - shift) / scale as float32; rows NULL means 0..m-1. */
static ds_status scale_rows(const cli_table *t, const int *cols, int nf, const double *raw,
                            const double *shift, const double *scale, const int *rows, int m,
                            float *out, ds_error *err)
{
    for (int i = 0; i < m; i++) {
        int r = rows ? rows[i] : i;
        for (int j = 0; j < nf; j++) {
            double z = (raw[(size_t)r * (size_t)nf + (size_t)j] - shift[j]) / scale[j];
            if (!(fabs(z) <= FLOAT32_MAX)) {
                char buf[48];
                return cli_fail_status(err, DS_ERR_FORMAT,
                            "%s:%d:%d: %s scales to %g, beyond the range of float32 "
                            "(column '%s')", cli_table_path(t), cli_table_row_line(t, r),
                            cols[j] + 1, shown(cli_table_cell(t, r, cols[j]), buf, sizeof buf),
                            z, cli_table_col_name(t, cols[j]));
            }
            out[(size_t)i * (size_t)nf + (size_t)j] = (float)z;
        }
    }
    return DS_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the target */

typedef struct {
    int numeric;       /* every value is a number */
    int integral;      /* every value is a whole number below 2^53 in magnitude */
    int first_text;    /* first row whose value is not a number, -1 if none */
    double *num;       /* (n) the values when numeric */
    int n_distinct;
    double *values;    /* (n_distinct) sorted distinct values when numeric */
    const char **strs; /* (n_distinct) sorted distinct strings when not numeric */
} target_info;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void target_info_free(target_info *ti)
{
    free(ti->num);
    free(ti->values);
    free(ti->strs);
}

/* Reads the target column: empty cells are errors; finds the distinct values. */
static ds_status analyse_target(const cli_table *t, int col, target_info *ti, ds_error *err)
{
    int n = cli_table_rows(t);
    const char *path = cli_table_path(t);
    memset(ti, 0, sizeof *ti);
    ti->numeric = 1;
    ti->integral = 1;
    ti->first_text = -1;
    ti->num = malloc((size_t)n * sizeof *ti->num);
    if (!ti->num) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
    for (int r = 0; r < n; r++) {
        const char *s = cli_table_cell(t, r, col);
        if (is_blank(s))
            return cli_fail_status(err, DS_ERR_FORMAT, "%s:%d:%d: empty target value (column '%s')", path,
                        cli_table_row_line(t, r), col + 1, cli_table_col_name(t, col));
        double v;
        ds_status st = cli_parse_number(s, &v);
        if (st == DS_ERR_NOMEM) return cli_fail_status(err, st, "%s: out of memory", path);
        if (st != DS_OK) {
            ti->numeric = ti->integral = 0;
            if (ti->first_text < 0) ti->first_text = r;
            continue;
        }
        if (v == 0.0) v = 0.0; /* -0 and 0 are one class */
        ti->num[r] = v;
        if (v != floor(v) || fabs(v) >= EXACT_INT_LIMIT) ti->integral = 0;
    }
    if (ti->numeric) {
        ti->values = malloc((size_t)n * sizeof *ti->values);
        if (!ti->values) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
        memcpy(ti->values, ti->num, (size_t)n * sizeof *ti->values);
        qsort(ti->values, (size_t)n, sizeof *ti->values, cmp_double);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (k == 0 || ti->values[i] != ti->values[k - 1]) ti->values[k++] = ti->values[i];
        ti->n_distinct = k;
    } else {
        ti->strs = malloc((size_t)n * sizeof *ti->strs);
        if (!ti->strs) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
        for (int r = 0; r < n; r++) ti->strs[r] = cli_table_cell(t, r, col);
        qsort(ti->strs, (size_t)n, sizeof *ti->strs, cmp_str);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (k == 0 || strcmp(ti->strs[i], ti->strs[k - 1]) != 0) ti->strs[k++] = ti->strs[i];
        ti->n_distinct = k;
    }
    return DS_OK;
}

/* A numeric label's name: whole numbers as integers ("10", not "1e+01"), others as the
 * shortest "%.*g" text that reads back as v. */
static void number_name(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < EXACT_INT_LIMIT) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Class index of value (numeric labels) or text s (string labels) among sorted labels;
 * -1 when absent. */
static int class_of(const target_info *ti, double value, const char *s)
{
    int lo = 0, hi = ti->n_distinct - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = ti->numeric ? (value > ti->values[mid]) - (value < ti->values[mid])
                            : strcmp(s, ti->strs[mid]);
        if (c == 0) return mid;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

/* Chooses the encoding (never auto) or explains why none fits. */
static ds_status resolve_task(const cli_table *t, int col, const target_info *ti,
                              const cli_prep_options *o, cli_target_mode *task, ds_error *err)
{
    const char *path = cli_table_path(t), *name = cli_table_col_name(t, col);
    int k = ti->n_distinct;
    cli_target_mode m = o->target_mode;
    if (m == CLI_TARGET_AUTO) {
        if ((ti->integral || !ti->numeric) && k <= o->max_classes) {
            m = k == 2 ? CLI_TARGET_BINARY : CLI_TARGET_ONEHOT;
        } else if (ti->numeric) {
            m = CLI_TARGET_REGRESSION;
        } else {
            return cli_fail_status(err, DS_ERR_ARG,
                        "target column '%s' in %s has %d distinct values that are not all "
                        "numbers, more than %d classes; ask for onehot or sparse to use them "
                        "all", name, path, k, o->max_classes);
        }
    }
    if (m == CLI_TARGET_REGRESSION) {
        if (!ti->numeric) {
            int r = ti->first_text;
            char buf[48];
            return cli_fail_status(err, DS_ERR_FORMAT,
                        "%s:%d:%d: '%s' is not a number (column '%s', a regression target)",
                        path, cli_table_row_line(t, r), col + 1,
                        shown(cli_table_cell(t, r, col), buf, sizeof buf), name);
        }
        for (int r = 0; r < cli_table_rows(t); r++) {
            if (fabs(ti->num[r]) > FLOAT32_MAX) {
                char buf[48];
                return cli_fail_status(err, DS_ERR_FORMAT,
                            "%s:%d:%d: %s is beyond the range of float32 (column '%s')", path,
                            cli_table_row_line(t, r), col + 1,
                            shown(cli_table_cell(t, r, col), buf, sizeof buf), name);
            }
        }
    } else if (k < 2) {
        return cli_fail_status(err, DS_ERR_ARG,
                    "target column '%s' in %s has a single value; classification needs at "
                    "least 2 classes", name, path);
    } else if (m == CLI_TARGET_BINARY && k != 2) {
        return cli_fail_status(err, DS_ERR_ARG,
                    "target column '%s' in %s has %d classes; binary needs exactly 2", name,
                    path, k);
    }
    *task = m;
    return DS_OK;
}

/* out (m, n_targets) for rows[0..m) (NULL: 0..m-1) from class indices or values. */
static void encode_rows(cli_target_mode task, int n_classes, const int *cls, const double *num,
                        const int *rows, int m, float *out)
{
    for (int i = 0; i < m; i++) {
        int r = rows ? rows[i] : i;
        if (task == CLI_TARGET_REGRESSION) {
            out[i] = (float)num[r];
        } else if (task == CLI_TARGET_ONEHOT) {
            float *o = out + (size_t)i * (size_t)n_classes;
            for (int c = 0; c < n_classes; c++) o[c] = 0.0f;
            o[cls[r]] = 1.0f;
        } else {
            out[i] = (float)cls[r];
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* split */

/* Fills test (n_test) and train (n - n_test) from the permutation; cls is NULL for a
 * plain split. See prep.h for the rule. */
static ds_status split_rows(const cli_table *t, const int *cls, int n_classes,
                            const char *const *labels, const cli_prep_options *o, int n_test,
                            int *test, int *train, ds_error *err)
{
    int n = cli_table_rows(t);
    int *perm = malloc((size_t)n * sizeof *perm);
    int *quota = NULL, *count = NULL;
    long long *rem = NULL;
    ds_status s = DS_OK;
    if (!perm) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", cli_table_path(t));
    ds_rng rng = ds_rng_split(o->split_seed, DS_STREAM_USER + 1);
    ds_rng_permutation(&rng, perm, n);

    if (!cls || n_test == 0) {
        for (int i = 0; i < n_test; i++) test[i] = perm[i];
        for (int i = n_test; i < n; i++) train[i - n_test] = perm[i];
        free(perm);
        return DS_OK;
    }

    quota = calloc((size_t)n_classes, sizeof *quota);
    count = calloc((size_t)n_classes, sizeof *count);
    rem = calloc((size_t)n_classes, sizeof *rem);
    if (!quota || !count || !rem) {
        s = cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", cli_table_path(t));
        goto done;
    }
    if (n_test < n_classes) {
        s = cli_fail_status(err, DS_ERR_ARG,
                 "stratified split of %s: test_size %g gives %d test rows, fewer than the %d "
                 "classes", cli_table_path(t), o->test_size, n_test, n_classes);
        goto done;
    }
    for (int r = 0; r < n; r++) count[cls[r]]++;
    for (int c = 0; c < n_classes; c++) {
        if (count[c] < 2) {
            s = cli_fail_status(err, DS_ERR_ARG,
                     "stratified split of %s: class '%s' has 1 row; stratifying needs at "
                     "least 2 rows per class", cli_table_path(t), labels[c]);
            goto done;
        }
    }
    int placed = 0;
    for (int c = 0; c < n_classes; c++) {
        long long prod = (long long)n_test * count[c];
        quota[c] = (int)(prod / n);
        rem[c] = prod % n;
        placed += quota[c];
    }
    for (; placed < n_test; placed++) {
        int best = -1;
        for (int c = 0; c < n_classes; c++)
            if (rem[c] >= 0 && (best < 0 || rem[c] > rem[best])) best = c;
        quota[best]++;
        rem[best] = -1; /* each class gets at most one of the leftover rows */
    }
    for (int c = 0; c < n_classes; c++) {
        if (quota[c] >= count[c]) {
            s = cli_fail_status(err, DS_ERR_ARG,
                     "stratified split of %s: class '%s' has %d row%s, too few to keep one "
                     "for training with test_size %g", cli_table_path(t), labels[c], count[c],
                     count[c] == 1 ? "" : "s", o->test_size);
            goto done;
        }
    }
    int n_te = 0, n_tr = 0;
    for (int c = 0; c < n_classes; c++) count[c] = 0; /* now: test rows taken per class */
    for (int i = 0; i < n; i++) {
        int r = perm[i];
        if (count[cls[r]] < quota[cls[r]]) {
            count[cls[r]]++;
            test[n_te++] = r;
        } else {
            train[n_tr++] = r;
        }
    }
done:
    free(perm);
    free(quota);
    free(count);
    free(rem);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* scaler */

/* shift/scale per feature from the rows with fit[r] != 0, summed in table order. */
static void fit_scaler(cli_scale_mode mode, const double *raw, int n, int nf,
                       const unsigned char *fit, double *shift, double *scale)
{
    for (int j = 0; j < nf; j++) {
        double sum = 0.0, lo = 0.0, hi = 0.0;
        int m = 0;
        for (int r = 0; r < n; r++) {
            if (!fit[r]) continue;
            double x = raw[(size_t)r * (size_t)nf + (size_t)j];
            if (m == 0 || x < lo) lo = x;
            if (m == 0 || x > hi) hi = x;
            sum += x;
            m++;
        }
        shift[j] = 0.0;
        scale[j] = 1.0;
        if (mode == CLI_SCALE_NONE || m == 0) continue;
        if (lo == hi) { /* constant: every value maps to 0 */
            shift[j] = lo;
            continue;
        }
        if (mode == CLI_SCALE_MINMAX) {
            shift[j] = lo;
            scale[j] = hi - lo;
            continue;
        }
        double mean = sum / m, ss = 0.0;
        for (int r = 0; r < n; r++) {
            if (!fit[r]) continue;
            double d = raw[(size_t)r * (size_t)nf + (size_t)j] - mean;
            ss += d * d;
        }
        double sd = sqrt(ss / m);
        shift[j] = mean;
        scale[j] = sd > 0.0 ? sd : 1.0;
    }
}

/* ---------------------------------------------------------------------------------- */
/* cli_prep */

void cli_data_free(cli_data *d)
{
    if (!d) return;
    free(d->x_train);
    free(d->y_train);
    free(d->x_test);
    free(d->y_test);
    free(d->train_rows);
    free(d->test_rows);
    if (d->feature_names)
        for (int j = 0; j < d->n_features; j++) free(d->feature_names[j]);
    free(d->feature_names);
    free(d->feature_cols);
    free(d->target_name);
    if (d->label_names)
        for (int c = 0; c < d->n_classes; c++) free(d->label_names[c]);
    free(d->label_names);
    free(d->shift);
    free(d->scale);
    free(d);
}

static ds_status check_options(const cli_prep_options *o, ds_error *err)
{
    if (!(o->test_size >= 0.0 && o->test_size < 1.0))
        return cli_fail_status(err, DS_ERR_ARG, "test_size must be in [0, 1), got %g", o->test_size);
    if ((unsigned)o->scale >= CLI_SCALE_COUNT)
        return cli_fail_status(err, DS_ERR_ARG, "unknown scale mode %d", (int)o->scale);
    if ((unsigned)o->target_mode >= CLI_TARGET_COUNT)
        return cli_fail_status(err, DS_ERR_ARG, "unknown target mode %d", (int)o->target_mode);
    if (o->max_classes < 2)
        return cli_fail_status(err, DS_ERR_ARG, "max_classes must be at least 2, got %d", o->max_classes);
    return DS_OK;
}

/* The column names, labels and arrays of d that depend on the table and target. */
static ds_status fill_names(const cli_table *t, const target_info *ti, cli_data *d)
{
    d->feature_names = calloc((size_t)d->n_features, sizeof *d->feature_names);
    d->target_name = dup_str(cli_table_col_name(t, d->target_col));
    if (!d->feature_names || !d->target_name) return DS_ERR_NOMEM;
    for (int j = 0; j < d->n_features; j++) {
        d->feature_names[j] = dup_str(cli_table_col_name(t, d->feature_cols[j]));
        if (!d->feature_names[j]) return DS_ERR_NOMEM;
    }
    if (d->task == CLI_TARGET_REGRESSION) return DS_OK;
    d->label_names = calloc((size_t)d->n_classes, sizeof *d->label_names);
    if (!d->label_names) return DS_ERR_NOMEM;
    for (int c = 0; c < d->n_classes; c++) {
        char buf[32];
        if (ti->numeric) number_name(ti->values[c], buf, sizeof buf);
        d->label_names[c] = dup_str(ti->numeric ? buf : ti->strs[c]);
        if (!d->label_names[c]) return DS_ERR_NOMEM;
    }
    return DS_OK;
}

ds_status cli_prep(const cli_table *t, const cli_prep_options *opts, cli_data **out,
                   ds_error *err)
{
    if (!out) return cli_fail_status(err, DS_ERR_ARG, "cli_prep: out is NULL");
    *out = NULL;
    if (!t) return cli_fail_status(err, DS_ERR_ARG, "cli_prep: no table");
    cli_prep_options o = opts ? *opts : cli_prep_defaults();
    ds_status s = check_options(&o, err);
    if (s != DS_OK) return s;

    const char *path = cli_table_path(t);
    int n = cli_table_rows(t), n_cols = cli_table_cols(t);
    int target = o.target ? cli_table_find(t, o.target) : n_cols - 1;
    if (target < 0) {
        char cols[320];
        return cli_fail_status(err, DS_ERR_ARG, "target column '%s' not found in %s (columns: %s)",
                    o.target, path, column_list(t, cols, sizeof cols));
    }
    if (n_cols < 2)
        return cli_fail_status(err, DS_ERR_FORMAT,
                    "%s: only the target column '%s'; at least one feature column is needed",
                    path, cli_table_col_name(t, target));

    cli_data *d = calloc(1, sizeof *d);
    double *raw = NULL;
    int *cls = NULL;
    unsigned char *fit = NULL;
    target_info ti;
    memset(&ti, 0, sizeof ti);
    if (!d) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
    d->n_features = n_cols - 1;
    d->target_col = target;
    d->scale_mode = o.scale;
    d->test_size = o.test_size;
    d->split_seed = o.split_seed;
    d->stratify = o.stratify;
    d->scale_before_split = o.scale_before_split;
    int nf = d->n_features;

    d->feature_cols = malloc((size_t)nf * sizeof *d->feature_cols);
    raw = malloc((size_t)n * (size_t)nf * sizeof *raw);
    if (!d->feature_cols || !raw) goto nomem;
    for (int c = 0, j = 0; c < n_cols; c++)
        if (c != target) d->feature_cols[j++] = c;

    s = read_features(t, d->feature_cols, nf, raw, err);
    if (s != DS_OK) goto done;
    s = analyse_target(t, target, &ti, err);
    if (s != DS_OK) goto done;
    s = resolve_task(t, target, &ti, &o, &d->task, err);
    if (s != DS_OK) goto done;
    if (d->task != CLI_TARGET_REGRESSION) {
        d->n_classes = ti.n_distinct;
        d->labels_numeric = ti.numeric;
        cls = malloc((size_t)n * sizeof *cls);
        if (!cls) goto nomem;
        for (int r = 0; r < n; r++) cls[r] = class_of(&ti, ti.numeric ? ti.num[r] : 0.0,
                                                      cli_table_cell(t, r, target));
    } else if (o.stratify) {
        s = cli_fail_status(err, DS_ERR_ARG, "stratify needs a classification target; '%s' in %s is a "
                 "regression target", cli_table_col_name(t, target), path);
        goto done;
    }
    d->n_targets = d->task == CLI_TARGET_ONEHOT ? d->n_classes : 1;
    if (fill_names(t, &ti, d) != DS_OK) goto nomem;

    /* split */
    double want = ceil(o.test_size * (double)n);
    d->n_test = (int)want;
    d->n_train = n - d->n_test;
    if (d->n_train < 1) {
        s = cli_fail_status(err, DS_ERR_ARG, "test_size %g leaves no training rows in %s (%d rows)",
                 o.test_size, path, n);
        goto done;
    }
    d->train_rows = malloc((size_t)d->n_train * sizeof *d->train_rows);
    if (d->n_test) d->test_rows = malloc((size_t)d->n_test * sizeof *d->test_rows);
    if (!d->train_rows || (d->n_test && !d->test_rows)) goto nomem;
    s = split_rows(t, o.stratify ? cls : NULL, d->n_classes,
                   (const char *const *)d->label_names, &o, d->n_test, d->test_rows,
                   d->train_rows, err);
    if (s != DS_OK) goto done;

    /* scaler */
    d->shift = malloc((size_t)nf * sizeof *d->shift);
    d->scale = malloc((size_t)nf * sizeof *d->scale);
    fit = calloc((size_t)n, 1);
    if (!d->shift || !d->scale || !fit) goto nomem;
    if (o.scale_before_split) {
        memset(fit, 1, (size_t)n);
    } else {
        for (int i = 0; i < d->n_train; i++) fit[d->train_rows[i]] = 1;
    }
    fit_scaler(o.scale, raw, n, nf, fit, d->shift, d->scale);

    /* outputs */
    d->x_train = malloc((size_t)d->n_train * (size_t)nf * sizeof *d->x_train);
    d->y_train = malloc((size_t)d->n_train * (size_t)d->n_targets * sizeof *d->y_train);
    if (!d->x_train || !d->y_train) goto nomem;
    if (d->n_test) {
        d->x_test = malloc((size_t)d->n_test * (size_t)nf * sizeof *d->x_test);
        d->y_test = malloc((size_t)d->n_test * (size_t)d->n_targets * sizeof *d->y_test);
        if (!d->x_test || !d->y_test) goto nomem;
    }
    s = scale_rows(t, d->feature_cols, nf, raw, d->shift, d->scale, d->train_rows, d->n_train,
                   d->x_train, err);
    if (s == DS_OK)
        s = scale_rows(t, d->feature_cols, nf, raw, d->shift, d->scale, d->test_rows,
                       d->n_test, d->x_test, err);
    if (s != DS_OK) goto done;
    encode_rows(d->task, d->n_classes, cls, ti.num, d->train_rows, d->n_train, d->y_train);
    encode_rows(d->task, d->n_classes, cls, ti.num, d->test_rows, d->n_test, d->y_test);
    goto done;

nomem:
    s = cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
done:
    free(raw);
    free(cls);
    free(fit);
    target_info_free(&ti);
    if (s == DS_OK) {
        *out = d;
    } else {
        cli_data_free(d);
    }
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* cli_prep_apply */

static ds_status check_fitted(const cli_data *f, int want_y, ds_error *err)
{
    if (!f || f->n_features < 1 || !f->feature_names || !f->shift || !f->scale)
        return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: incomplete fitted preprocessing");
    for (int j = 0; j < f->n_features; j++)
        if (!f->feature_names[j] || !(f->scale[j] != 0.0) || !isfinite(f->shift[j]))
            return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: bad scaler for feature %d", j);
    if (!want_y) return DS_OK;
    if (!f->target_name || f->task <= CLI_TARGET_AUTO || f->task >= CLI_TARGET_COUNT)
        return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: fitted preprocessing has no target");
    if (f->task == CLI_TARGET_REGRESSION) return DS_OK;
    if (f->n_classes < 1 || !f->label_names)
        return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: fitted preprocessing has no labels");
    for (int c = 0; c < f->n_classes; c++)
        if (!f->label_names[c])
            return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: label %d has no name", c);
    if (f->n_targets != (f->task == CLI_TARGET_ONEHOT ? f->n_classes : 1))
        return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: n_targets %d does not fit the task",
                    f->n_targets);
    return DS_OK;
}

/* cls[r] = index of row r's label among fitted's labels. */
static ds_status apply_labels(const cli_table *t, int col, const cli_data *f, int *cls,
                              ds_error *err)
{
    const char *path = cli_table_path(t), *name = cli_table_col_name(t, col);
    double *values = NULL;
    if (f->labels_numeric) {
        values = malloc((size_t)f->n_classes * sizeof *values);
        if (!values) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
        for (int c = 0; c < f->n_classes; c++) {
            if (cli_parse_number(f->label_names[c], &values[c]) != DS_OK) {
                free(values);
                return cli_fail_status(err, DS_ERR_ARG,
                            "cli_prep_apply: numeric label '%s' is not a number",
                            f->label_names[c]);
            }
        }
    }
    ds_status s = DS_OK;
    for (int r = 0; r < cli_table_rows(t) && s == DS_OK; r++) {
        const char *cell = cli_table_cell(t, r, col);
        int line = cli_table_row_line(t, r), found = -1;
        if (is_blank(cell)) {
            s = cli_fail_status(err, DS_ERR_FORMAT, "%s:%d:%d: empty target value (column '%s')", path,
                     line, col + 1, name);
            break;
        }
        double v = 0.0;
        int is_num = values && cli_parse_number(cell, &v) == DS_OK;
        for (int c = 0; c < f->n_classes && found < 0; c++) {
            if (values ? is_num && v == values[c] : strcmp(cell, f->label_names[c]) == 0)
                found = c;
        }
        if (found < 0) {
            char buf[48], known[200];
            s = cli_fail_status(err, DS_ERR_FORMAT,
                     "%s:%d:%d: unknown class label '%s' (column '%s'; known: %s)", path,
                     line, col + 1, shown(cell, buf, sizeof buf), name,
                     name_list((const char *const *)f->label_names, f->n_classes, known,
                               sizeof known));
        }
        cls[r] = found;
    }
    free(values);
    return s;
}

ds_status cli_prep_apply(const cli_table *t, const cli_data *fitted, float **x, float **y,
                         int *n, ds_error *err)
{
    if (!t || !x || !n) return cli_fail_status(err, DS_ERR_ARG, "cli_prep_apply: missing argument");
    ds_status s = check_fitted(fitted, y != NULL, err);
    if (s != DS_OK) return s;
    const char *path = cli_table_path(t);
    int rows = cli_table_rows(t), nf = fitted->n_features;
    char cols_buf[320];

    int *cols = malloc((size_t)nf * sizeof *cols);
    if (!cols) return cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
    for (int j = 0; j < nf; j++) {
        cols[j] = cli_table_find(t, fitted->feature_names[j]);
        if (cols[j] < 0) {
            s = cli_fail_status(err, DS_ERR_ARG, "feature column '%s' not found in %s (columns: %s)",
                     fitted->feature_names[j], path, column_list(t, cols_buf, sizeof cols_buf));
            free(cols);
            return s;
        }
    }
    int target = -1;
    if (y) {
        target = cli_table_find(t, fitted->target_name);
        if (target < 0) {
            s = cli_fail_status(err, DS_ERR_ARG, "target column '%s' not found in %s (columns: %s)",
                     fitted->target_name, path, column_list(t, cols_buf, sizeof cols_buf));
            free(cols);
            return s;
        }
    }

    double *raw = malloc((size_t)rows * (size_t)nf * sizeof *raw);
    double *num = NULL;
    int *cls = NULL;
    float *xo = malloc((size_t)rows * (size_t)nf * sizeof *xo), *yo = NULL;
    if (!raw || !xo) goto nomem;
    s = read_features(t, cols, nf, raw, err);
    if (s == DS_OK)
        s = scale_rows(t, cols, nf, raw, fitted->shift, fitted->scale, NULL, rows, xo, err);
    if (s != DS_OK) goto done;
    if (y) {
        yo = malloc((size_t)rows * (size_t)fitted->n_targets * sizeof *yo);
        if (!yo) goto nomem;
        if (fitted->task == CLI_TARGET_REGRESSION) {
            num = malloc((size_t)rows * sizeof *num);
            if (!num) goto nomem;
            for (int r = 0; r < rows && s == DS_OK; r++)
                s = cell_number(t, r, target, &num[r], err);
        } else {
            cls = malloc((size_t)rows * sizeof *cls);
            if (!cls) goto nomem;
            s = apply_labels(t, target, fitted, cls, err);
        }
        if (s != DS_OK) goto done;
        encode_rows(fitted->task, fitted->n_classes, cls, num, NULL, rows, yo);
    }
    goto done;

nomem:
    s = cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory", path);
done:
    free(cols);
    free(raw);
    free(num);
    free(cls);
    if (s == DS_OK) {
        *x = xo;
        if (y) *y = yo;
        *n = rows;
    } else {
        free(xo);
        free(yo);
    }
    return s;
}
