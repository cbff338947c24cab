/*
 * idx.c - see idx.h. Files are read through zlib's gzread, which reads plain files too.
 */
#include "idx.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_ROWS 10000000
#define IDX_MAX_PIXELS (1 << 20)

int cli_is_idx(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strstr(base, "images-idx3-ubyte") != NULL;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Opens path and reads its header: magic, then n_dims big-endian sizes. */
static ds_status open_idx(const char *path, uint32_t magic, int n_dims, uint32_t *dims,
                          gzFile *out, ds_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cli_fail_status(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cli_fail_status(err, DS_ERR_IO, "%s: is a directory, not a data file", path);
    gzFile f = gzopen(path, "rb");
    if (!f) return cli_fail_status(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char h[16];
    int want = 4 * (1 + n_dims);
    if (gzread(f, h, (unsigned)want) != want) {
        gzclose(f);
        return cli_fail_status(err, DS_ERR_FORMAT, "%s: too short for an IDX header", path);
    }
    if (be32(h) != magic) {
        gzclose(f);
        return cli_fail_status(err, DS_ERR_FORMAT,
                               "%s: magic number 0x%08x, expected 0x%08x (an IDX %s file)", path,
                               (unsigned)be32(h), (unsigned)magic,
                               magic == 0x803 ? "images" : "labels");
    }
    for (int i = 0; i < n_dims; i++) dims[i] = be32(h + 4 + 4 * i);
    *out = f;
    return DS_OK;
}

static ds_status read_all(gzFile f, const char *path, unsigned char *buf, size_t n, ds_error *err)
{
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, buf, chunk);
        if (got <= 0)
            return cli_fail_status(err, DS_ERR_FORMAT, "%s: truncated (the header promises more)",
                                   path);
        buf += got;
        n -= (size_t)got;
    }
    return DS_OK;
}

ds_status cli_idx_load(const char *images_path, cli_target_mode mode, int min_classes,
                       cli_data **out, ds_error *err)
{
    *out = NULL;
    char labels_path[4096];
    const char *base = strrchr(images_path, '/');
    base = base ? base + 1 : images_path;
    const char *at = strstr(base, "images-idx3");
    if (!at || strlen(images_path) >= sizeof labels_path)
        return cli_fail(err, "%s: not an IDX images file name (…images-idx3-ubyte[.gz])",
                        images_path);
    size_t pre = (size_t)(at - images_path);
    snprintf(labels_path, sizeof labels_path, "%.*slabels-idx1%s", (int)pre, images_path,
             at + strlen("images-idx3"));
    uint32_t di[3], dl[1];
    gzFile fi = NULL, fl = NULL;
    ds_status s = open_idx(images_path, 0x803, 3, di, &fi, err);
    if (!s) s = open_idx(labels_path, 0x801, 1, dl, &fl, err);
    if (!s && (di[0] == 0 || di[0] > IDX_MAX_ROWS || di[1] == 0 || di[2] == 0 ||
               (uint64_t)di[1] * di[2] > IDX_MAX_PIXELS))
        s = cli_fail_status(err, DS_ERR_FORMAT, "%s: implausible sizes %u x %u x %u",
                            images_path, (unsigned)di[0], (unsigned)di[1], (unsigned)di[2]);
    if (!s && dl[0] != di[0])
        s = cli_fail_status(err, DS_ERR_FORMAT, "%s has %u labels for %u images in %s",
                            labels_path, (unsigned)dl[0], (unsigned)di[0], images_path);
    int n = s ? 0 : (int)di[0], nf = s ? 0 : (int)(di[1] * di[2]);
    unsigned char *pix = NULL, *lab = NULL;
    cli_data *d = NULL;
    if (!s) {
        pix = malloc((size_t)n * (size_t)nf);
        lab = malloc((size_t)n);
        d = calloc(1, sizeof *d);
        if (!pix || !lab || !d) s = cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    }
    if (!s) s = read_all(fi, images_path, pix, (size_t)n * (size_t)nf, err);
    if (!s) s = read_all(fl, labels_path, lab, (size_t)n, err);
    int k = min_classes;
    for (int i = 0; !s && i < n; i++)
        if (lab[i] + 1 > k) k = lab[i] + 1;
    if (!s) {
        cli_target_mode task = mode == CLI_TARGET_AUTO ? CLI_TARGET_ONEHOT : mode;
        if (task != CLI_TARGET_ONEHOT && task != CLI_TARGET_SPARSE)
            s = cli_fail(err, "%s: IDX labels are classes: use target_mode onehot or sparse",
                         images_path);
        d->task = task;
        d->n_classes = k;
        d->n_targets = task == CLI_TARGET_ONEHOT ? k : 1;
    }
    if (!s) {
        d->n_train = n;
        d->n_features = nf;
        d->x_train = malloc(sizeof(float) * (size_t)n * (size_t)nf);
        d->y_train = calloc((size_t)n * (size_t)d->n_targets, sizeof(float));
        d->train_rows = malloc(sizeof(int) * (size_t)n);
        d->feature_names = calloc((size_t)nf, sizeof(char *));
        d->label_names = calloc((size_t)k, sizeof(char *));
        d->shift = calloc((size_t)nf, sizeof(double));
        d->scale = malloc(sizeof(double) * (size_t)nf);
        d->target_name = cli_strdup("label");
        if (!d->x_train || !d->y_train || !d->train_rows || !d->feature_names ||
            !d->label_names || !d->shift || !d->scale || !d->target_name)
            s = cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    }
    if (!s) {
        /* x = pixel / 255: stored as the scaler (shift 0, scale 255) so that predicting a
         * CSV of raw pixels applies the same transformation */
        for (size_t i = 0; i < (size_t)n * (size_t)nf; i++) d->x_train[i] = (float)pix[i] / 255.0f;
        for (int i = 0; i < n; i++) {
            d->train_rows[i] = i;
            if (d->task == CLI_TARGET_ONEHOT) d->y_train[(size_t)i * k + lab[i]] = 1.0f;
            else d->y_train[i] = (float)lab[i];
        }
        char name[32];
        for (int j = 0; j < nf; j++) {
            snprintf(name, sizeof name, "pixel%d", j);
            d->feature_names[j] = cli_strdup(name);
            d->scale[j] = 255.0;
        }
        for (int c = 0; c < k; c++) {
            snprintf(name, sizeof name, "%d", c);
            d->label_names[c] = cli_strdup(name);
        }
        d->labels_numeric = 1;
        d->scale_mode = CLI_SCALE_NONE;
        d->target_col = -1;
    }
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    free(pix);
    free(lab);
    if (s) {
        cli_data_free(d);
        return s;
    }
    *out = d;
    return DS_OK;
}
