/*
 * test_idx.c - the IDX reader (MNIST / Fashion-MNIST files): plain and gzip files,
 * pixels scaled to [0, 1], labels one-hot or sparse, and the errors a damaged or
 * mismatched file gives.
 */
#include "harness.h"
#include "../cli/idx.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/descent-idx-XXXXXX";

static void put32(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* writes images (n x 2 x 3, pixel = 10 * row + col of the image i + i) and labels */
static void write_pair(const char *stem, int gz, int n, int n_labels, unsigned magic,
                       int truncate)
{
    char p[256];
    unsigned char head[16], pix[6];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, stem, gz ? ".gz" : "");
    gzFile f = gzopen(p, gz ? "wb" : "wbT");
    put32(head, magic);
    put32(head + 4, (unsigned)n);
    put32(head + 8, 2);
    put32(head + 12, 3);
    gzwrite(f, head, 16);
    for (int i = 0; i < n - truncate; i++) {
        for (int k = 0; k < 6; k++) pix[k] = (unsigned char)(i * 10 + k);
        gzwrite(f, pix, 6);
    }
    gzclose(f);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, stem, gz ? ".gz" : "");
    f = gzopen(p, gz ? "wb" : "wbT");
    put32(head, 0x801);
    put32(head + 4, (unsigned)n_labels);
    gzwrite(f, head, 8);
    for (int i = 0; i < n_labels; i++) {
        unsigned char l = (unsigned char)(i % 3);
        gzwrite(f, &l, 1);
    }
    gzclose(f);
}

static void test_read(void)
{
    char p[256];
    for (int gz = 0; gz < 2; gz++) {
        write_pair(gz ? "gzip" : "plain", gz, 4, 4, 0x803, 0);
        snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, gz ? "gzip" : "plain",
                 gz ? ".gz" : "");
        CHECK(cli_is_idx(p), "recognized");
        cli_data *d = NULL;
        ds_error e = {0};
        CHECK(cli_idx_load(p, CLI_TARGET_AUTO, 0, &d, &e) == DS_OK, "load: %s", e.message);
        if (!d) continue;
        CHECK(d->n_train == 4 && d->n_features == 6 && d->n_classes == 3 && d->n_targets == 3,
              "shape %d %d %d", d->n_train, d->n_features, d->n_classes);
        CHECK_CLOSE(d->x_train[1 * 6 + 5], 15.0 / 255.0, 1e-7, 0);
        CHECK(d->y_train[2 * 3 + 2] == 1.0f && d->y_train[2 * 3 + 0] == 0.0f, "one-hot");
        CHECK(d->scale[0] == 255.0 && d->shift[0] == 0.0, "stored scaler");
        cli_data_free(d);
        CHECK(cli_idx_load(p, CLI_TARGET_SPARSE, 10, &d, &e) == DS_OK, "sparse: %s", e.message);
        if (d) CHECK(d->n_targets == 1 && d->y_train[2] == 2.0f && d->n_classes == 10, "sparse");
        cli_data_free(d);
    }
}

static void test_errors(void)
{
    char p[256];
    cli_data *d = NULL;
    ds_error e;
    write_pair("magic", 1, 3, 3, 0x802, 0);
    snprintf(p, sizeof p, "%s/magic-images-idx3-ubyte.gz", dir);
    CHECK(cli_idx_load(p, CLI_TARGET_AUTO, 0, &d, &e) == DS_ERR_FORMAT &&
              strstr(e.message, "magic") && strstr(e.message, "magic-images"),
          "%s", e.message);
    write_pair("short", 1, 5, 5, 0x803, 2);
    snprintf(p, sizeof p, "%s/short-images-idx3-ubyte.gz", dir);
    CHECK(cli_idx_load(p, CLI_TARGET_AUTO, 0, &d, &e) == DS_ERR_FORMAT &&
              strstr(e.message, "truncated"),
          "%s", e.message);
    write_pair("count", 0, 4, 3, 0x803, 0);
    snprintf(p, sizeof p, "%s/count-images-idx3-ubyte", dir);
    CHECK(cli_idx_load(p, CLI_TARGET_AUTO, 0, &d, &e) == DS_ERR_FORMAT &&
              strstr(e.message, "3 labels for 4 images"),
          "%s", e.message);
    snprintf(p, sizeof p, "%s/none-images-idx3-ubyte.gz", dir);
    CHECK(cli_idx_load(p, CLI_TARGET_AUTO, 0, &d, &e) == DS_ERR_IO &&
              strstr(e.message, "none-images"),
          "%s", e.message);
    CHECK(d == NULL, "nothing returned on failure");
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    RUN(test_read);
    RUN(test_errors);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return HARNESS_DONE();
}
