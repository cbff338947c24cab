/*
 * test_prep.c - cli/prep.c: target encoding (auto, binary, onehot, sparse, regression),
 * the train/test split (sizes, permutation, stratified allocation, seeds), the scalers
 * (statistics recomputed here in double), cli_prep_apply, and every error message's
 * path, line and column. Uses the bundled data/ files (run from the repository root) and
 * small files written into a temporary directory.
 */
#include "../cli/prep.h"
#include "../cli/table.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[64];

#define MAX_FILES 64
static char tmp_files[MAX_FILES][128];
static int n_tmp_files;

static const char *write_text(const char *name, const char *text)
{
    if (n_tmp_files == MAX_FILES) return "/nonexistent/too-many-files";
    char *path = tmp_files[n_tmp_files++];
    snprintf(path, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    fputs(text, f);
    fclose(f);
    return path;
}

static int contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

static cli_table *load(const char *path)
{
    cli_table *t = NULL;
    ds_error err = {0};
    ds_status s = cli_table_read(&t, path, &err);
    CHECK(s == DS_OK, "reading %s: %s", path, err.message);
    return t;
}

/* Prepares `path` with o; NULL (and a failed check) when it fails. */
static cli_data *prep_file(const char *path, const cli_prep_options *o, cli_table **tab)
{
    cli_table *t = load(path);
    cli_data *d = NULL;
    if (t) {
        ds_error err = {0};
        ds_status s = cli_prep(t, o, &d, &err);
        CHECK(s == DS_OK, "prep %s: %s", path, err.message);
    }
    if (tab) {
        *tab = t;
    } else {
        cli_table_free(t);
    }
    return d;
}

/* Expects cli_prep on `path` to fail with status; the message must start with prefix
 * (path and place) and contain words. */
static void expect_prep_error(const char *path, const cli_prep_options *o, ds_status status,
                              const char *prefix, const char *words)
{
    cli_table *t = load(path);
    if (!t) return;
    ds_error err = {0};
    cli_data *sentinel = (cli_data *)(void *)&err, *d = sentinel;
    ds_status s = cli_prep(t, o, &d, &err);
    CHECK(s == status, "%s: status %d, expected %d (%s)", path, (int)s, (int)status,
          err.message);
    CHECK(d == NULL, "data not NULL after failure");
    CHECK(strncmp(err.message, prefix, strlen(prefix)) == 0,
          "message '%s' does not start with '%s'", err.message, prefix);
    CHECK(contains(err.message, words), "message '%s' lacks '%s'", err.message, words);
    CHECK(!strchr(err.message, '\n'), "message spans lines");
    d = NULL;
    CHECK(cli_prep(t, o, &d, NULL) == status && d == NULL, "without err");
    cli_table_free(t);
}

static const char *at(const char *path, const char *rest)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", path, rest);
    return buf[k];
}

static double cell_value(const cli_table *t, int row, int col)
{
    double v = (double)NAN;
    cli_parse_number(cli_table_cell(t, row, col), &v);
    return v;
}

/* Every row 0..n-1 appears exactly once in train_rows + test_rows. */
static int is_partition(const cli_data *d, int n)
{
    if (d->n_train + d->n_test != n) return 0;
    char *seen = calloc((size_t)n, 1);
    int ok = seen != NULL;
    for (int i = 0; ok && i < d->n_train; i++) {
        int r = d->train_rows[i];
        if (r < 0 || r >= n || seen[r]) ok = 0;
        else seen[r] = 1;
    }
    for (int i = 0; ok && i < d->n_test; i++) {
        int r = d->test_rows[i];
        if (r < 0 || r >= n || seen[r]) ok = 0;
        else seen[r] = 1;
    }
    free(seen);
    return ok;
}

/* mean and population std of column j of x (m, nf) */
static void column_stats(const float *x, int m, int nf, int j, double *mean, double *sd)
{
    double s = 0.0, ss = 0.0;
    for (int i = 0; i < m; i++) s += (double)x[(size_t)i * (size_t)nf + (size_t)j];
    *mean = s / m;
    for (int i = 0; i < m; i++) {
        double dv = (double)x[(size_t)i * (size_t)nf + (size_t)j] - *mean;
        ss += dv * dv;
    }
    *sd = sqrt(ss / m);
}

/* ---------------------------------------------------------------------------------- */

static void test_defaults_and_names(void)
{
    cli_prep_options o = cli_prep_defaults();
    CHECK(o.target == NULL && o.target_mode == CLI_TARGET_AUTO, "target");
    CHECK(o.scale == CLI_SCALE_STANDARD && o.test_size == 0.3 && o.split_seed == 42, "split");
    CHECK(o.stratify == 0 && o.scale_before_split == 0 && o.max_classes == 50, "flags");
    for (int m = 0; m < CLI_SCALE_COUNT; m++) {
        cli_scale_mode back = CLI_SCALE_COUNT;
        CHECK(cli_scale_mode_parse(cli_scale_mode_name((cli_scale_mode)m), &back) == DS_OK &&
              back == (cli_scale_mode)m, "scale %d", m);
    }
    for (int m = 0; m < CLI_TARGET_COUNT; m++) {
        cli_target_mode back = CLI_TARGET_COUNT;
        CHECK(cli_target_mode_parse(cli_target_mode_name((cli_target_mode)m), &back) ==
              DS_OK && back == (cli_target_mode)m, "target %d", m);
    }
    cli_scale_mode sm;
    cli_target_mode tm;
    CHECK(cli_scale_mode_parse("robust", &sm) == DS_ERR_ARG, "unknown scale");
    CHECK(cli_target_mode_parse("ordinal", &tm) == DS_ERR_ARG, "unknown target");
    CHECK(strcmp(cli_scale_mode_name(CLI_SCALE_MINMAX), "minmax") == 0, "minmax name");
    CHECK(strcmp(cli_target_mode_name(CLI_TARGET_ONEHOT), "onehot") == 0, "onehot name");
    cli_data_free(NULL);
}

static void test_banknotes_default(void)
{
    cli_table *t = NULL;
    cli_data *d = prep_file("data/banknotes.csv", NULL, &t);
    if (!d || !t) {
        cli_data_free(d);
        cli_table_free(t);
        return;
    }
    CHECK(d->n_test == 412 && d->n_train == 960, "split %d/%d", d->n_train, d->n_test);
    CHECK(d->n_features == 4 && d->n_targets == 1, "shape %d %d", d->n_features, d->n_targets);
    CHECK(d->task == CLI_TARGET_BINARY && d->n_classes == 2, "binary");
    CHECK(d->labels_numeric == 1, "numeric labels");
    CHECK(strcmp(d->label_names[0], "0") == 0 && strcmp(d->label_names[1], "1") == 0,
          "labels");
    CHECK(strcmp(d->target_name, "class") == 0 && d->target_col == 4, "target");
    CHECK(strcmp(d->feature_names[0], "variace") == 0 && d->feature_cols[3] == 3, "features");
    CHECK(d->scale_mode == CLI_SCALE_STANDARD && d->split_seed == 42, "recorded options");
    CHECK(is_partition(d, 1372), "train and test rows partition the table");

    /* the documented permutation: test = p[0..412), train = p[412..) */
    int p[1372];
    ds_rng rng = ds_rng_split(42, DS_STREAM_USER + 1);
    ds_rng_permutation(&rng, p, 1372);
    int same = 1;
    for (int i = 0; i < 412; i++) same &= d->test_rows[i] == p[i];
    for (int i = 0; i < 960; i++) same &= d->train_rows[i] == p[412 + i];
    CHECK(same, "rows follow ds_rng_permutation of stream DS_STREAM_USER + 1");

    /* labels */
    int y_ok = 1;
    for (int i = 0; i < d->n_train; i++)
        y_ok &= d->y_train[i] == (float)cell_value(t, d->train_rows[i], 4);
    for (int i = 0; i < d->n_test; i++)
        y_ok &= d->y_test[i] == (float)cell_value(t, d->test_rows[i], 4);
    CHECK(y_ok, "y is the class column");

    /* scaler: mean and population std of the raw training values */
    for (int j = 0; j < 4; j++) {
        double s = 0.0, ss = 0.0;
        for (int i = 0; i < d->n_train; i++) s += cell_value(t, d->train_rows[i], j);
        double mean = s / d->n_train;
        for (int i = 0; i < d->n_train; i++) {
            double dv = cell_value(t, d->train_rows[i], j) - mean;
            ss += dv * dv;
        }
        double sd = sqrt(ss / d->n_train);
        CHECK_CLOSE(d->shift[j], mean, 1e-12, 1e-12);
        CHECK_CLOSE(d->scale[j], sd, 1e-12, 1e-12);
        double m2, s2;
        column_stats(d->x_train, d->n_train, 4, j, &m2, &s2);
        CHECK_CLOSE(m2, 0.0, 1e-6, 0.0);
        CHECK_CLOSE(s2, 1.0, 1e-6, 0.0);
        /* test rows use the training statistics */
        int r = d->test_rows[7];
        CHECK_CLOSE(d->x_test[7 * 4 + j], (cell_value(t, r, j) - mean) / sd, 1e-6, 1e-6);
        column_stats(d->x_test, d->n_test, 4, j, &m2, &s2);
        CHECK(fabs(m2) < 0.2 && fabs(s2 - 1.0) < 0.2, "test stats %g %g (close, not exact)",
              m2, s2);
    }
    cli_data_free(d);
    cli_table_free(t);
}

static void test_wines_onehot_and_sparse(void)
{
    /* the target is the first column, so it must be named (the default is the last) */
    cli_prep_options o = cli_prep_defaults();
    o.target = "Class";
    cli_table *t = NULL;
    cli_data *d = prep_file("data/wines.csv", &o, &t);
    if (!d || !t) {
        cli_data_free(d);
        cli_table_free(t);
        return;
    }
    CHECK(d->task == CLI_TARGET_ONEHOT && d->n_classes == 3 && d->n_targets == 3, "onehot");
    if (d->n_classes != 3 || d->n_features != 13) {
        cli_data_free(d);
        cli_table_free(t);
        return;
    }
    CHECK(d->target_col == 0 && strcmp(d->target_name, "Class") == 0, "target first");
    CHECK(d->n_features == 13 && strcmp(d->feature_names[0], "Alcohol") == 0 &&
          d->feature_cols[0] == 1, "features skip the target");
    CHECK(strcmp(d->label_names[0], "1") == 0 && strcmp(d->label_names[2], "3") == 0,
          "labels");
    CHECK(d->n_test == 54 && d->n_train == 124, "split %d/%d", d->n_train, d->n_test);
    int ok = 1;
    for (int i = 0; i < d->n_train; i++) {
        int cls = (int)cell_value(t, d->train_rows[i], 0) - 1;
        float sum = 0.0f;
        for (int c = 0; c < 3; c++) sum += d->y_train[i * 3 + c];
        ok &= sum == 1.0f && d->y_train[i * 3 + cls] == 1.0f;
    }
    CHECK(ok, "one-hot rows");
    /* '.28' in row 0, column Nonflavanoid_phenols (feature 7) */
    for (int i = 0; i < d->n_train; i++) {
        if (d->train_rows[i] != 0) continue;
        CHECK_CLOSE(d->x_train[i * 13 + 7], (0.28 - d->shift[7]) / d->scale[7], 1e-6, 1e-6);
    }
    cli_data_free(d);

    o.target_mode = CLI_TARGET_SPARSE;
    d = prep_file("data/wines.csv", &o, NULL);
    if (d) {
        CHECK(d->task == CLI_TARGET_SPARSE && d->n_targets == 1 && d->n_classes == 3, "sparse");
        ok = 1;
        for (int i = 0; i < d->n_train; i++)
            ok &= d->y_train[i] == (float)(cell_value(t, d->train_rows[i], 0) - 1.0);
        CHECK(ok, "sparse y = class index");
    }
    cli_data_free(d);
    cli_table_free(t);
}

static void test_iris_strings(void)
{
    cli_table *t = NULL;
    cli_data *d = prep_file("data/iris.csv", NULL, &t);
    if (!d || !t) {
        cli_data_free(d);
        cli_table_free(t);
        return;
    }
    CHECK(d->task == CLI_TARGET_ONEHOT && d->n_classes == 3 && d->labels_numeric == 0, "task");
    CHECK(strcmp(d->label_names[0], "setosa") == 0 &&
          strcmp(d->label_names[1], "versicolor") == 0 &&
          strcmp(d->label_names[2], "virginica") == 0, "label order");
    CHECK(strcmp(d->target_name, "species") == 0 && d->n_features == 4, "target");
    int ok = 1;
    for (int i = 0; i < d->n_test; i++) {
        const char *label = cli_table_cell(t, d->test_rows[i], 4);
        for (int c = 0; c < 3; c++)
            ok &= d->y_test[i * 3 + c] == (strcmp(label, d->label_names[c]) == 0 ? 1.0f : 0.0f);
    }
    CHECK(ok, "one-hot of the string labels");
    cli_data_free(d);
    cli_table_free(t);
}

/* ---------------------------------------------------------------------------------- */

static void count_classes(const float *y, int m, int k, int onehot, int *counts)
{
    for (int c = 0; c < k; c++) counts[c] = 0;
    for (int i = 0; i < m; i++) {
        if (!onehot) {
            counts[(int)y[i]]++;
            continue;
        }
        for (int c = 0; c < k; c++)
            if (y[i * k + c] == 1.0f) counts[c]++;
    }
}

static void test_stratified(void)
{
    cli_prep_options o = cli_prep_defaults();
    o.stratify = 1;
    int cnt[3];

    /* banknotes 762/610, n_test 412: 412*762/1372 = 228.82, 412*610/1372 = 183.18 ->
     * 228 + 183 = 411, the leftover row goes to class 0 (remainder .82 > .18) */
    cli_data *d = prep_file("data/banknotes.csv", &o, NULL);
    if (d) {
        CHECK(d->n_test == 412 && d->n_train == 960, "sizes as unstratified");
        count_classes(d->y_test, d->n_test, 2, 0, cnt);
        CHECK(cnt[0] == 229 && cnt[1] == 183, "test classes %d %d", cnt[0], cnt[1]);
        count_classes(d->y_train, d->n_train, 2, 0, cnt);
        CHECK(cnt[0] == 533 && cnt[1] == 427, "train classes %d %d", cnt[0], cnt[1]);
        CHECK(is_partition(d, 1372), "partition");
        /* both lists keep the order of the permutation */
        int p[1372], pos[1372];
        ds_rng rng = ds_rng_split(42, DS_STREAM_USER + 1);
        ds_rng_permutation(&rng, p, 1372);
        for (int i = 0; i < 1372; i++) pos[p[i]] = i;
        int ordered = 1;
        for (int i = 1; i < d->n_test; i++) ordered &= pos[d->test_rows[i - 1]] <
                                                        pos[d->test_rows[i]];
        for (int i = 1; i < d->n_train; i++) ordered &= pos[d->train_rows[i - 1]] <
                                                         pos[d->train_rows[i]];
        CHECK(ordered, "permutation order kept");
    }
    cli_data_free(d);

    /* wines 59/71/48, n_test ceil(53.4) = 54: 17.90, 21.54, 14.56 -> 17 + 21 + 14 = 52;
     * the 2 leftover rows go to classes 1 (.90) and 3 (.56) */
    o.target = "Class";
    d = prep_file("data/wines.csv", &o, NULL);
    if (d) {
        count_classes(d->y_test, d->n_test, 3, 1, cnt);
        CHECK(cnt[0] == 18 && cnt[1] == 21 && cnt[2] == 15, "wines test %d %d %d", cnt[0],
              cnt[1], cnt[2]);
    }
    cli_data_free(d);

    /* iris 50/50/50 at 0.3: 15 each */
    o.target = NULL;
    d = prep_file("data/iris.csv", &o, NULL);
    if (d) {
        count_classes(d->y_test, d->n_test, 3, 1, cnt);
        CHECK(d->n_test == 45 && cnt[0] == 15 && cnt[1] == 15 && cnt[2] == 15,
              "iris test %d: %d %d %d", d->n_test, cnt[0], cnt[1], cnt[2]);
    }
    cli_data_free(d);

    /* unstratified, the class shares drift (a check that the test above means something) */
    o.stratify = 0;
    d = prep_file("data/iris.csv", &o, NULL);
    if (d) {
        count_classes(d->y_test, d->n_test, 3, 1, cnt);
        CHECK(cnt[0] + cnt[1] + cnt[2] == 45, "sum");
    }
    cli_data_free(d);
}

static int same_rows(const cli_data *a, const cli_data *b)
{
    if (a->n_train != b->n_train || a->n_test != b->n_test) return 0;
    for (int i = 0; i < a->n_train; i++)
        if (a->train_rows[i] != b->train_rows[i]) return 0;
    for (int i = 0; i < a->n_test; i++)
        if (a->test_rows[i] != b->test_rows[i]) return 0;
    return 1;
}

static void test_seeds(void)
{
    cli_prep_options o = cli_prep_defaults();
    for (int strat = 0; strat < 2; strat++) {
        o.stratify = strat;
        o.split_seed = 7;
        cli_data *a = prep_file("data/banknotes.csv", &o, NULL);
        cli_data *b = prep_file("data/banknotes.csv", &o, NULL);
        o.split_seed = 8;
        cli_data *c = prep_file("data/banknotes.csv", &o, NULL);
        if (a && b && c) {
            CHECK(same_rows(a, b), "same seed, same split (stratify %d)", strat);
            CHECK(!same_rows(a, c), "different seed, different split (stratify %d)", strat);
            CHECK(memcmp(a->x_train, b->x_train,
                         (size_t)a->n_train * 4 * sizeof *a->x_train) == 0, "same bytes");
        }
        cli_data_free(a);
        cli_data_free(b);
        cli_data_free(c);
    }
}

/* ---------------------------------------------------------------------------------- */

static void test_scale_before_split(void)
{
    cli_table *t = NULL;
    cli_data *d = prep_file("data/banknotes.csv", NULL, &t);
    cli_prep_options o = cli_prep_defaults();
    o.scale_before_split = 1;
    cli_data *all = prep_file("data/banknotes.csv", &o, NULL);
    if (d && all && t) {
        CHECK(same_rows(d, all), "the split does not depend on the scaler");
        CHECK(all->scale_before_split == 1, "recorded");
        for (int j = 0; j < 4; j++) {
            double s = 0.0;
            for (int r = 0; r < 1372; r++) s += cell_value(t, r, j);
            CHECK_CLOSE(all->shift[j], s / 1372, 1e-12, 1e-12);
            CHECK(all->shift[j] != d->shift[j], "feature %d: all rows vs train rows", j);
            CHECK(all->scale[j] != d->scale[j], "feature %d: scale", j);
            /* train and test together now have mean 0 */
            double sum = 0.0;
            for (int i = 0; i < all->n_train; i++) sum += (double)all->x_train[i * 4 + j];
            for (int i = 0; i < all->n_test; i++) sum += (double)all->x_test[i * 4 + j];
            CHECK_CLOSE(sum / 1372, 0.0, 1e-6, 0.0);
        }
    }
    cli_data_free(d);
    cli_data_free(all);
    cli_table_free(t);
}

static void test_minmax_and_none(void)
{
    cli_table *t = NULL;
    cli_prep_options o = cli_prep_defaults();
    o.scale = CLI_SCALE_MINMAX;
    o.target = "Class";
    cli_data *d = prep_file("data/wines.csv", &o, &t);
    if (d && t) {
        CHECK(d->scale_mode == CLI_SCALE_MINMAX, "mode");
        for (int j = 0; j < d->n_features; j++) {
            float lo = 1e30f, hi = -1e30f;
            double raw_lo = 1e300;
            for (int i = 0; i < d->n_train; i++) {
                float v = d->x_train[i * d->n_features + j];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
                double r = cell_value(t, d->train_rows[i], d->feature_cols[j]);
                raw_lo = r < raw_lo ? r : raw_lo;
            }
            CHECK(lo == 0.0f && hi == 1.0f, "feature %d: train range [%g, %g]", j, (double)lo,
                  (double)hi);
            CHECK(d->shift[j] == raw_lo, "shift is the training minimum");
        }
    }
    cli_data_free(d);

    o.scale = CLI_SCALE_NONE;
    d = prep_file("data/wines.csv", &o, NULL);
    if (d && t) {
        int ok = 1;
        for (int i = 0; i < d->n_train; i++)
            for (int j = 0; j < d->n_features; j++)
                ok &= d->x_train[i * 13 + j] ==
                      (float)cell_value(t, d->train_rows[i], d->feature_cols[j]);
        CHECK(ok, "none: x is the raw value");
        CHECK(d->shift[0] == 0.0 && d->scale[0] == 1.0, "identity scaler");
    }
    cli_data_free(d);
    cli_table_free(t);
}

static void test_constant_column(void)
{
    const char *p = write_text("const.csv", "a,k,y\n1,0.1,0\n2,0.1,1\n3,0.1,0\n4,0.1,1\n");
    cli_prep_options o = cli_prep_defaults();
    o.test_size = 0.0;
    for (int mode = 0; mode < 2; mode++) {
        o.scale = mode ? CLI_SCALE_MINMAX : CLI_SCALE_STANDARD;
        cli_data *d = prep_file(p, &o, NULL);
        if (!d) continue;
        CHECK(d->scale[1] == 1.0 && d->shift[1] == 0.1, "constant: shift %g scale %g",
              d->shift[1], d->scale[1]);
        int zero = 1;
        for (int i = 0; i < d->n_train; i++) zero &= d->x_train[i * 2 + 1] == 0.0f;
        CHECK(zero, "constant column maps to 0");
        cli_data_free(d);
    }
}

static void test_sizes(void)
{
    const char *p = write_text("ten.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n9,0\n"
                                          "10,1\n");
    cli_prep_options o = cli_prep_defaults();
    cli_data *d = prep_file(p, &o, NULL);
    if (d) CHECK(d->n_test == 3 && d->n_train == 7, "0.3 of 10: %d", d->n_test);
    cli_data_free(d);
    /* sklearn's rule in double arithmetic, rounding included: 0.55 * 100 is
     * 55.00000000000001, so ceil gives 56 test rows, as train_test_split does */
    char buf[1024];
    size_t len = (size_t)snprintf(buf, sizeof buf, "x,y\n");
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%d,%d\n", i, i % 2);
    const char *hundred = write_text("hundred.csv", buf);
    o.test_size = 0.55;
    d = prep_file(hundred, &o, NULL);
    if (d) CHECK(d->n_test == 56 && d->n_train == 44, "0.55 of 100: %d", d->n_test);
    cli_data_free(d);
    o.test_size = 0.25;
    d = prep_file(p, &o, NULL);
    if (d) CHECK(d->n_test == 3 && d->n_train == 7, "0.25 of 10: %d", d->n_test);
    cli_data_free(d);
    o.test_size = 0.0;
    d = prep_file(p, &o, NULL);
    if (d) {
        CHECK(d->n_test == 0 && d->n_train == 10, "no test set");
        CHECK(d->x_test == NULL && d->y_test == NULL && d->test_rows == NULL, "NULL arrays");
        CHECK(is_partition(d, 10), "all rows train");
    }
    cli_data_free(d);
    o.stratify = 1;
    d = prep_file(p, &o, NULL);
    if (d) CHECK(d->n_test == 0 && d->n_train == 10, "stratified, no test set");
    cli_data_free(d);
}

/* ---------------------------------------------------------------------------------- */

static void test_auto_detection(void)
{
    cli_prep_options o = cli_prep_defaults();
    o.test_size = 0.0;
    o.scale = CLI_SCALE_NONE;

    /* 1, 1.0 and 2.0 are whole numbers: two classes, named by value */
    const char *p = write_text("intfloat.csv", "x,y\n1,1\n2,2.0\n3,1.0\n4,2\n");
    cli_data *d = prep_file(p, &o, NULL);
    if (d) {
        CHECK(d->task == CLI_TARGET_BINARY && d->n_classes == 2, "binary");
        CHECK(strcmp(d->label_names[0], "1") == 0 && strcmp(d->label_names[1], "2") == 0,
              "names '%s' '%s'", d->label_names[0], d->label_names[1]);
    }
    cli_data_free(d);

    /* integers sort numerically: -1 < 2 < 10 */
    p = write_text("ints.csv", "x,y\n1,10\n2,2\n3,-1\n4,2\n5,10\n");
    d = prep_file(p, &o, NULL);
    if (d) {
        CHECK(d->task == CLI_TARGET_ONEHOT && d->n_classes == 3, "3 classes");
        CHECK(strcmp(d->label_names[0], "-1") == 0 && strcmp(d->label_names[1], "2") == 0 &&
              strcmp(d->label_names[2], "10") == 0, "numeric order");
        /* row 0 (label 10) is train row 0: test_size 0 keeps the permutation, so find it */
        for (int i = 0; i < d->n_train; i++)
            if (d->train_rows[i] == 0) CHECK(d->y_train[i * 3 + 2] == 1.0f, "10 -> class 2");
    }
    cli_data_free(d);

    /* strings sort by bytes: "B" < "a" < "b"; "10" < "9" as text when any is not a number */
    p = write_text("strs.csv", "x,y\n1,b\n2,a\n3,B\n4,9\n5,10\n");
    d = prep_file(p, &o, NULL);
    if (d) {
        CHECK(d->n_classes == 5 && d->labels_numeric == 0, "string labels");
        const char *want[] = {"10", "9", "B", "a", "b"};
        for (int c = 0; c < 5 && c < d->n_classes; c++)
            CHECK(strcmp(d->label_names[c], want[c]) == 0, "label %d '%s'", c,
                  d->label_names[c]);
    }
    cli_data_free(d);

    /* a fraction makes it regression */
    p = write_text("reg.csv", "x,y\n1,0.5\n2,1\n3,2\n");
    d = prep_file(p, &o, NULL);
    if (d) {
        CHECK(d->task == CLI_TARGET_REGRESSION && d->n_classes == 0 && d->n_targets == 1,
              "regression");
        CHECK(d->label_names == NULL, "no labels");
        for (int i = 0; i < d->n_train; i++) {
            int r = d->train_rows[i];
            CHECK(d->y_train[i] == (r == 0 ? 0.5f : (float)r), "y row %d", r);
        }
    }
    cli_data_free(d);

    /* more than max_classes distinct integers: regression */
    char buf[2048];
    size_t len = (size_t)snprintf(buf, sizeof buf, "x,y\n");
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%d,%d\n", i, i);
    p = write_text("many.csv", buf);
    d = prep_file(p, &o, NULL);
    if (d) CHECK(d->task == CLI_TARGET_REGRESSION, "60 integers -> regression");
    cli_data_free(d);
    o.max_classes = 60;
    d = prep_file(p, &o, NULL);
    if (d) CHECK(d->task == CLI_TARGET_ONEHOT && d->n_classes == 60, "max_classes 60");
    cli_data_free(d);
    o.max_classes = 50;
    o.target_mode = CLI_TARGET_SPARSE;
    d = prep_file(p, &o, NULL);
    if (d) CHECK(d->task == CLI_TARGET_SPARSE && d->n_classes == 60, "explicit sparse");
    cli_data_free(d);

    /* explicit binary on string labels; explicit regression on whole numbers */
    o.target_mode = CLI_TARGET_BINARY;
    p = write_text("yesno.csv", "x,answer\n1,yes\n2,no\n3,yes\n");
    d = prep_file(p, &o, NULL);
    if (d) {
        CHECK(strcmp(d->label_names[0], "no") == 0, "no = 0");
        for (int i = 0; i < d->n_train; i++)
            CHECK(d->y_train[i] == (d->train_rows[i] == 1 ? 0.0f : 1.0f), "yes/no");
    }
    cli_data_free(d);
    o.target_mode = CLI_TARGET_REGRESSION;
    d = prep_file("data/banknotes.csv", &o, NULL);
    if (d) CHECK(d->task == CLI_TARGET_REGRESSION && d->n_targets == 1, "forced regression");
    cli_data_free(d);

    /* a named target in the middle */
    o = cli_prep_defaults();
    o.target = "variace";
    d = prep_file("data/banknotes.csv", &o, NULL);
    if (d) {
        CHECK(d->task == CLI_TARGET_REGRESSION && d->target_col == 0, "variace target");
        CHECK(strcmp(d->feature_names[3], "class") == 0, "class becomes a feature");
    }
    cli_data_free(d);
}

/* ---------------------------------------------------------------------------------- */

static void test_errors(void)
{
    cli_prep_options o = cli_prep_defaults();
    const char *p = write_text("badnum.csv", "a,b,y\n1,2,0\n\n3,abc,1\n");
    expect_prep_error(p, &o, DS_ERR_FORMAT, at(p, ":4:2: "), "'abc' is not a number "
                      "(column 'b')");
    p = write_text("emptynum.csv", "a,b,y\n1,2,0\n3,,1\n");
    expect_prep_error(p, &o, DS_ERR_FORMAT, at(p, ":3:2: "), "empty cell");
    p = write_text("bignum.csv", "a,b,y\n1,1e39,0\n3,4,1\n");
    expect_prep_error(p, &o, DS_ERR_FORMAT, at(p, ":2:2: "), "beyond the range of float32");
    p = write_text("quotednum.csv", "a,b,y\n1,\"1,5\",0\n3,4,1\n");
    expect_prep_error(p, &o, DS_ERR_FORMAT, at(p, ":2:2: "), "'1,5' is not a number");
    p = write_text("emptytarget.csv", "a,b,y\n1,2,0\n3,4,\n");
    expect_prep_error(p, &o, DS_ERR_FORMAT, at(p, ":3:3: "), "empty target value");

    o.target = "nope";
    expect_prep_error("data/banknotes.csv", &o, DS_ERR_ARG, "target column 'nope' not found",
                      "in data/banknotes.csv (columns: variace, skewness, curtosis, entropy, "
                      "class)");
    o = cli_prep_defaults();

    o.target_mode = CLI_TARGET_REGRESSION;
    expect_prep_error("data/iris.csv", &o, DS_ERR_FORMAT, "data/iris.csv:2:5: ",
                      "'setosa' is not a number");
    o.target_mode = CLI_TARGET_BINARY;
    expect_prep_error("data/iris.csv", &o, DS_ERR_ARG, "target column 'species'",
                      "3 classes; binary needs exactly 2");
    o.target_mode = CLI_TARGET_AUTO;
    o.max_classes = 2;
    expect_prep_error("data/iris.csv", &o, DS_ERR_ARG, "target column 'species'",
                      "more than 2 classes");
    o = cli_prep_defaults();
    p = write_text("oneclass.csv", "a,y\n1,x\n2,x\n");
    expect_prep_error(p, &o, DS_ERR_ARG, "target column 'y'", "single value");

    p = write_text("onecol.csv", "y\n1\n2\n");
    expect_prep_error(p, &o, DS_ERR_FORMAT, at(p, ": "), "at least one feature column");

    o.stratify = 1;
    o.target = "variace";
    expect_prep_error("data/banknotes.csv", &o, DS_ERR_ARG, "stratify needs a classification",
                      "'variace' in data/banknotes.csv");
    o = cli_prep_defaults();
    o.stratify = 1;
    p = write_text("lonely.csv", "a,y\n1,x\n2,x\n3,x\n4,z\n5,x\n6,x\n");
    expect_prep_error(p, &o, DS_ERR_ARG, at("stratified split of ", p), "class 'z' has 1 row");
    o.test_size = 0.1; /* ceil(0.6) = 1 test row for 2 classes */
    expect_prep_error(p, &o, DS_ERR_ARG, at("stratified split of ", p),
                      "fewer than the 2 classes");

    o = cli_prep_defaults();
    double bad_sizes[] = {1.0, -0.1, (double)NAN, 1.5};
    for (int i = 0; i < 4; i++) {
        o.test_size = bad_sizes[i];
        expect_prep_error("data/iris.csv", &o, DS_ERR_ARG, "test_size must be in [0, 1)", "");
    }
    o.test_size = 0.9;
    p = write_text("three.csv", "a,y\n1,0\n2,1\n3,0\n");
    expect_prep_error(p, &o, DS_ERR_ARG, "test_size 0.9 leaves no training rows", p);
}

/* ---------------------------------------------------------------------------------- */

static void test_apply(void)
{
    const char *train = write_text("apply_train.csv",
                                   "a,b,label\n1,10,cat\n2,20,dog\n3,30,cat\n4,40,bird\n"
                                   "5,50,dog\n6,60,bird\n");
    /* other order, an extra column, quoting and spaces */
    const char *other = write_text("apply_other.csv",
                                   "id,label,b,a\n7,dog, 25 ,\"2.5\"\n8,bird,5,0\n");
    const char *unknown = write_text("apply_unknown.csv",
                                     "a,b,label\n1,10,cat\n2,20,cow\n");
    const char *nolabel = write_text("apply_nolabel.csv", "b,a\n10,1\n");
    const char *missing = write_text("apply_missing.csv", "a,label\n1,cat\n");
    const char *badnum = write_text("apply_badnum.csv", "a,b,label\n1,x,cat\n");

    cli_prep_options o = cli_prep_defaults();
    o.test_size = 0.0;
    cli_data *d = prep_file(train, &o, NULL);
    if (!d) return;
    CHECK(d->n_classes == 3 && strcmp(d->label_names[0], "bird") == 0, "labels");

    cli_table *t = load(other);
    float *x = NULL, *y = NULL;
    int n = -1;
    ds_error err = {0};
    if (t) {
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_OK, "%s", err.message);
        CHECK(n == 2, "rows %d", n);
        if (x && y) {
            CHECK_CLOSE(x[0], (2.5 - d->shift[0]) / d->scale[0], 1e-6, 1e-6);
            CHECK_CLOSE(x[1], (25.0 - d->shift[1]) / d->scale[1], 1e-6, 1e-6);
            CHECK_CLOSE(x[2], (0.0 - 3.5) / sqrt(35.0 / 12.0), 1e-6, 1e-6);
            CHECK(y[0] == 0.0f && y[1] == 0.0f && y[2] == 1.0f, "dog -> class 2 one-hot");
            CHECK(y[3] == 1.0f && y[4] == 0.0f && y[5] == 0.0f, "bird -> class 0");
        }
        free(x);
        free(y);
        x = y = NULL;
        CHECK(cli_prep_apply(t, d, &x, NULL, &n, &err) == DS_OK && x, "x only");
        free(x);
        x = NULL;
        cli_table_free(t);
    }

    t = load(unknown);
    if (t) {
        n = -1;
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_ERR_FORMAT, "unknown label");
        CHECK(strncmp(err.message, at(unknown, ":3:3: "), strlen(unknown) + 6) == 0 &&
              contains(err.message, "unknown class label 'cow' (column 'label'; known: bird, "
                       "cat, dog)"), "message '%s'", err.message);
        CHECK(x == NULL && y == NULL && n == -1, "nothing written on failure");
        cli_table_free(t);
    }
    t = load(nolabel);
    if (t) {
        CHECK(cli_prep_apply(t, d, &x, NULL, &n, &err) == DS_OK && n == 1, "no target needed");
        if (x) CHECK_CLOSE(x[0], (1.0 - 3.5) / sqrt(35.0 / 12.0), 1e-6, 1e-6);
        free(x);
        x = NULL;
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_ERR_ARG, "target required");
        CHECK(contains(err.message, "target column 'label' not found in") &&
              contains(err.message, "(columns: b, a)"), "message '%s'", err.message);
        cli_table_free(t);
    }
    t = load(missing);
    if (t) {
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_ERR_ARG, "feature missing");
        CHECK(contains(err.message, "feature column 'b' not found in") &&
              contains(err.message, missing), "message '%s'", err.message);
        cli_table_free(t);
    }
    t = load(badnum);
    if (t) {
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_ERR_FORMAT, "bad number");
        CHECK(strncmp(err.message, at(badnum, ":2:2: 'x' is not a number (column 'b')"),
                      strlen(badnum) + 40) == 0, "message '%s'", err.message);
        cli_table_free(t);
    }
    cli_data_free(d);

    /* numeric labels match by value: "1.0" is class "1"; regression reads numbers */
    d = prep_file("data/banknotes.csv", NULL, NULL);
    const char *num = write_text("apply_num.csv",
                                 "class,variace,skewness,curtosis,entropy\n1.0,0,0,0,0\n"
                                 "0,1,1,1,1\n");
    const char *num_bad = write_text("apply_num_bad.csv",
                                     "variace,skewness,curtosis,entropy,class\n0,0,0,0,2\n");
    t = load(num);
    if (d && t) {
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_OK, "%s", err.message);
        if (y) CHECK(y[0] == 1.0f && y[1] == 0.0f, "by value");
        if (x) CHECK_CLOSE(x[0], -d->shift[0] / d->scale[0], 1e-6, 1e-6);
        free(x);
        free(y);
        x = y = NULL;
    }
    cli_table_free(t);
    t = load(num_bad);
    if (d && t) {
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_ERR_FORMAT, "class 2 unknown");
        CHECK(contains(err.message, ":2:5: unknown class label '2' (column 'class'; known: "
                       "0, 1)"), "message '%s'", err.message);
    }
    cli_table_free(t);
    cli_data_free(d);

    cli_prep_options r = cli_prep_defaults();
    r.target_mode = CLI_TARGET_REGRESSION;
    d = prep_file("data/banknotes.csv", &r, NULL);
    t = load(num);
    if (d && t) {
        CHECK(cli_prep_apply(t, d, &x, &y, &n, &err) == DS_OK, "%s", err.message);
        if (y) CHECK(y[0] == 1.0f && y[1] == 0.0f, "regression values");
        free(x);
        free(y);
    }
    cli_table_free(t);
    cli_data_free(d);
}

/* ---------------------------------------------------------------------------------- */

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/descent_test_prep_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_defaults_and_names);
    RUN(test_banknotes_default);
    RUN(test_wines_onehot_and_sparse);
    RUN(test_iris_strings);
    RUN(test_stratified);
    RUN(test_seeds);
    RUN(test_scale_before_split);
    RUN(test_minmax_and_none);
    RUN(test_constant_column);
    RUN(test_sizes);
    RUN(test_auto_detection);
    RUN(test_errors);
    RUN(test_apply);
    for (int i = 0; i < n_tmp_files; i++) remove(tmp_files[i]);
    rmdir(tmp_dir);
    return HARNESS_DONE();
}
