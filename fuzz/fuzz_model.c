/*
 * fuzz_model.c - libFuzzer target for the model file reader: ds_model_load_buffer on
 * arbitrary bytes (make fuzz; seeds in fuzz/corpus/model/, written by
 * `build/tests/test_io --write-corpus fuzz/corpus/model`).
 *
 * Inputs come in two encodings. A file as it is; or, when the first byte is '{', the
 * header's JSON text, a newline, then the data section: the target prefixes the length
 * itself. Descent's compact headers hold no raw newline, so the split is unambiguous,
 * and in the second encoding the mutator can insert and delete inside the JSON without
 * every change breaking the length (the corpus holds both forms of each seed).
 *
 * Besides the sanitizers' checks, it aborts when an invariant of the reader breaks:
 *   - a failure is DS_ERR_FORMAT (or DS_ERR_NOMEM), leaves no model and no metadata,
 *     and its message is one line starting "model file: ";
 *   - a model that loads predicts, and saving it, loading that and saving again gives
 *     the same bytes (whatever the reader accepts, the writer reproduces exactly).
 */
#include "descent_io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const ds_error *err)
{
    fprintf(stderr, "fuzz_model: %s (%s)\n", what, err ? err->message : "");
    abort();
}

/* Saves m (with its optimizer state when compiled) into a new buffer. */
static void save(const ds_model *m, char **p, size_t *n)
{
    ds_error err = {0};
    FILE *f = open_memstream(p, n);
    if (!f) fail("open_memstream", NULL);
    ds_save_options o = ds_save_defaults();
    o.include_optimizer = ds_model_compile_config(m) != NULL;
    if (ds_model_save_fp(m, f, &o, &err) != DS_OK) fail("a loaded model does not save", &err);
    fclose(f);
}

static void check(const uint8_t *data, size_t size)
{
    ds_model *m = NULL;
    ds_metadata md = {0};
    ds_error err = {0};
    ds_status s = ds_model_load_buffer(&m, data, size, &md, &err);
    if (s != DS_OK) {
        if (s != DS_ERR_FORMAT && s != DS_ERR_NOMEM) fail("unexpected status", &err);
        if (m || md.n) fail("a failed load left a model or metadata", &err);
        if (strchr(err.message, '\n') || strncmp(err.message, "model file: ", 12) != 0)
            fail("message not one line starting 'model file: '", &err);
        return;
    }
    int n_in = ds_model_n_inputs(m), n_out = ds_model_n_outputs(m);
    float *x = calloc((size_t)n_in, sizeof *x), *y = malloc(sizeof *y * (size_t)n_out);
    if (!x || !y || ds_model_predict(m, x, 1, y, &err) != DS_OK) fail("predict", &err);
    free(x);
    free(y);

    char *a, *b;
    size_t na, nb;
    save(m, &a, &na);
    ds_model *m2 = NULL;
    if (ds_model_load_buffer(&m2, a, na, NULL, &err) != DS_OK)
        fail("a saved model does not load", &err);
    save(m2, &b, &nb);
    if (na != nb || memcmp(a, b, na) != 0) fail("save(load(save(m))) differs from save(m)", NULL);
    free(a);
    free(b);
    ds_model_free(m2);
    ds_model_free(m);
    ds_metadata_free(&md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] != '{') {
        check(data, size);
        return 0;
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hn = nl ? (size_t)(nl - data) : size, dn = nl ? size - hn - 1 : 0;
    /* a buffer of exactly the file's size, so that reads past it are caught */
    uint8_t *file = malloc(8 + hn + dn);
    if (!file) return 0;
    for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(file + 8, data, hn);
    if (dn) memcpy(file + 8 + hn, nl + 1, dn);
    check(file, 8 + hn + dn);
    free(file);
    return 0;
}
