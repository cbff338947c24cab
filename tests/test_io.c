/*
 * test_io.c - model files (libdescent_io): round trips for every layer kind, activation
 * and optimizer with bit-identical predictions and state; resuming training from a file
 * equals training without a break; streams stay the caller's; the file layout; a table of
 * damaged files that must each fail with DS_ERR_FORMAT and a telling message; every
 * truncation and random byte damage failing cleanly; and examples/load_model.py, an
 * independent NumPy reader, predicting what ds_model_predict does.
 *
 *   test_io                        run the tests
 *   test_io --write-corpus DIR     write the fuzz seed corpus (good and damaged files)
 */
#include "harness.h"
#include "testdata.h"
#include "../src/internal.h"
#include "descent_io.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------- */
/* helpers */

typedef struct {
    unsigned char *p;
    size_t n;
} blob;

static blob save_blob(const ds_model *m, int include_optimizer, const ds_metadata *extra)
{
    blob b = {NULL, 0};
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f) return b;
    ds_save_options o = ds_save_defaults();
    o.include_optimizer = include_optimizer;
    o.extra = extra;
    ds_error err = {0};
    ds_status s = ds_model_save_fp(m, f, &o, &err);
    fclose(f);
    CHECK(s == DS_OK, "save: %s", err.message);
    b.p = (unsigned char *)p;
    b.n = n;
    return b;
}

static ds_model *load_blob(const blob *b, ds_metadata *meta)
{
    ds_model *m = NULL;
    ds_error err = {0};
    ds_status s = ds_model_load_buffer(&m, b->p, b->n, meta, &err);
    CHECK(s == DS_OK && m, "load: %s", err.message);
    return m;
}

static float *random_rows(int n, int w, uint64_t seed, float scale)
{
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)w);
    ds_rng r = ds_rng_split(seed, 77);
    for (int i = 0; i < n * w; i++) x[i] = scale * (float)ds_rng_normal(&r);
    return x;
}

/* predictions of a and b on the same rows are the same bits */
static int same_predictions(ds_model *a, ds_model *b, int n)
{
    int w = ds_model_n_outputs(a);
    if (w != ds_model_n_outputs(b) || ds_model_n_inputs(a) != ds_model_n_inputs(b)) return 0;
    float *x = random_rows(n, ds_model_n_inputs(a), 5, 2.0f);
    float *pa = malloc(sizeof(float) * (size_t)n * (size_t)w);
    float *pb = malloc(sizeof(float) * (size_t)n * (size_t)w);
    int ok = ds_model_predict(a, x, n, pa, NULL) == DS_OK &&
             ds_model_predict(b, x, n, pb, NULL) == DS_OK &&
             memcmp(pa, pb, sizeof(float) * (size_t)n * (size_t)w) == 0;
    free(x);
    free(pa);
    free(pb);
    return ok;
}

/* Architecture and compile settings equal, compared through their canonical texts. */
static int same_structure(const ds_model *a, const ds_model *b)
{
    if (ds_model_n_layers(a) != ds_model_n_layers(b) || a->n_inputs != b->n_inputs ||
        a->keras != b->keras || a->seed != b->seed || a->compiled != b->compiled ||
        ds_model_n_params(a) != ds_model_n_params(b))
        return 0;
    for (int k = 0; k < ds_model_n_layers(a); k++) {
        const ds_layer *x = &a->layers[k], *y = &b->layers[k];
        if (x->kind != y->kind || strcmp(x->name, y->name) || x->n_in != y->n_in ||
            x->n_out != y->n_out || x->w_off != y->w_off || x->b_off != y->b_off)
            return 0;
        if (x->kind == DS_LAYER_DROPOUT) {
            if (x->rate != y->rate) return 0;
            continue;
        }
        char s1[256], s2[256];
        if (x->dense.units != y->dense.units || x->dense.use_bias != y->dense.use_bias ||
            x->dense.activation.kind != y->dense.activation.kind ||
            x->dense.activation.alpha != y->dense.activation.alpha)
            return 0;
        if (strcmp(ds_initializer_str(&x->dense.kernel_initializer, s1, sizeof s1),
                   ds_initializer_str(&y->dense.kernel_initializer, s2, sizeof s2)) ||
            strcmp(ds_initializer_str(&x->dense.bias_initializer, s1, sizeof s1),
                   ds_initializer_str(&y->dense.bias_initializer, s2, sizeof s2)))
            return 0;
    }
    if (!a->compiled) return 1;
    const ds_compile_config *c = &a->compile, *d = &b->compile;
    char o1[1024], o2[1024];
    if (c->loss.kind != d->loss.kind || c->loss.delta != d->loss.delta ||
        c->loss.label_smoothing != d->loss.label_smoothing || c->n_metrics != d->n_metrics ||
        strcmp(ds_optimizer_str(&c->optimizer, o1, sizeof o1),
               ds_optimizer_str(&d->optimizer, o2, sizeof o2)))
        return 0;
    for (int i = 0; i < c->n_metrics; i++)
        if (c->metrics[i] != d->metrics[i]) return 0;
    return 1;
}

/* optimizer state equal: slots (bits), counters */
static int same_optimizer_state(const ds_model *a, const ds_model *b)
{
    const ds_optim_state *x = &a->opt, *y = &b->opt;
    if (x->iterations != y->iterations || x->nadam_prod != y->nadam_prod ||
        x->lr_scale != y->lr_scale || x->n != y->n || x->keras != y->keras)
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!x->slot[i] != !y->slot[i]) return 0;
        if (x->slot[i] && memcmp(x->slot[i], y->slot[i], sizeof(float) * x->n)) return 0;
    }
    return 1;
}


static ds_model *mlp(uint64_t seed, float dropout, const char *optimizer)
{
    ds_model *m;
    ds_model_create(&m, 3, NULL);
    ds_dense_config c = ds_dense_defaults(8);
    c.activation = ds_activation_defaults(DS_ACT_TANH);
    ds_model_add_dense(m, &c, NULL);
    if (dropout > 0) ds_model_add_dropout(m, dropout, NULL);
    c = ds_dense_defaults(1);
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, seed, NULL);
    ds_compile_config cc = ds_compile_defaults();
    ds_error err = {0};
    CHECK(ds_optimizer_parse(optimizer, &cc.optimizer, &err) == DS_OK, "%s", err.message);
    CHECK(ds_model_compile(m, &cc, &err) == DS_OK, "%s", err.message);
    return m;
}

/* ---------------------------------------------------------------------------------- */
/* round trips */

static void test_roundtrip_activations(void)
{
    for (int kv = 2; kv <= 3; kv++) {
        for (int k = 0; k < DS_ACT_COUNT; k++) {
            ds_model *m;
            ds_model_create(&m, 3, NULL);
            ds_dense_config c = ds_dense_defaults(5);
            c.activation = ds_activation_defaults((ds_act_kind)k);
            if (k == DS_ACT_LEAKY_RELU) c.activation.alpha = 0.1f;
            if (k == DS_ACT_ELU) c.activation.alpha = 0.7f;
            c.bias_initializer = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
            ds_model_add_dense(m, &c, NULL);
            ds_model_set_keras_version(m, (ds_keras_version)kv);
            CHECK_OK(ds_model_build(m, 100 + (uint64_t)k, NULL));
            blob b = save_blob(m, 0, NULL);
            ds_model *r = load_blob(&b, NULL);
            if (r) {
                CHECK(same_structure(m, r), "%s keras %d: structure", ds_act_kind_name(k), kv);
                CHECK(same_predictions(m, r, 40), "%s keras %d: predictions",
                      ds_act_kind_name(k), kv);
                CHECK(ds_model_compile_config(r) == NULL, "not compiled, loads uncompiled");
            }
            ds_model_free(r);
            ds_model_free(m);
            free(b.p);
        }
    }
}

static void test_roundtrip_layers(void)
{
    /* dense with several initializers, dropout, use_bias false, a non-default seed */
    static const char *const inits[] = {
        "constant(value=0.25)", "random_uniform(minval=-0.2, maxval=0.3)",
        "variance_scaling(scale=2, mode=fan_avg, distribution=uniform)",
        "orthogonal(gain=1.5)", "truncated_normal(mean=0.1, stddev=0.2)", "he_normal"};
    ds_model *m;
    ds_model_create(&m, 4, NULL);
    for (int k = 0; k < 6; k++) {
        ds_dense_config c = ds_dense_defaults(3 + k);
        c.activation = ds_activation_defaults(k % 2 ? DS_ACT_RELU : DS_ACT_TANH);
        CHECK_OK(ds_initializer_parse(inits[k], &c.kernel_initializer, NULL));
        c.use_bias = k != 2 && k != 5;
        if (k == 1) CHECK_OK(ds_initializer_parse("ones", &c.bias_initializer, NULL));
        CHECK_OK(ds_model_add_dense(m, &c, NULL));
        if (k % 2 == 0) CHECK_OK(ds_model_add_dropout(m, 0.1f * (float)(k + 1), NULL));
    }
    CHECK_OK(ds_model_build(m, UINT64_MAX - 3, NULL));
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_HUBER);
    cc.loss.delta = 0.3f;
    cc.optimizer = ds_optimizer_defaults(DS_OPT_SGD);
    cc.n_metrics = 2;
    cc.metrics[0] = DS_METRIC_MEAN_ABSOLUTE_ERROR;
    cc.metrics[1] = DS_METRIC_MEAN_SQUARED_ERROR;
    CHECK_OK(ds_model_compile(m, &cc, NULL));
    blob b = save_blob(m, 0, NULL);
    ds_model *r = load_blob(&b, NULL);
    if (r) {
        CHECK(same_structure(m, r), "structure");
        CHECK(r->seed == UINT64_MAX - 3, "64-bit seed %llu", (unsigned long long)r->seed);
        CHECK(same_predictions(m, r, 50), "predictions");
        CHECK(ds_model_kernel_offset(r, 4) == ds_model_kernel_offset(m, 4) &&
                  ds_model_bias_offset(r, 4) == -1,
              "use_bias false: no bias");
        CHECK(r->opt.iterations == 0, "no optimizer state saved: fresh optimizer");
    }
    ds_model_free(r);
    ds_model_free(m);
    free(b.p);
}

static void test_roundtrip_optimizers(void)
{
    static const char *const specs[] = {
        "sgd", "sgd(learning_rate=0.05, momentum=0.9, nesterov=true)", "rmsprop",
        "rmsprop(momentum=0.5, centered=true)", "rmsprop(momentum=0.3)", "adam",
        "adam(amsgrad=true, clipnorm=1)", "adamw", "adagrad", "adadelta(learning_rate=1)",
        "adamax", "nadam",
        "adam(learning_rate=exponential_decay(0.01, decay_steps=10, decay_rate=0.9))",
        ("sgd(learning_rate=piecewise_constant_decay(boundaries=[5, 9], values=[0.1, 0.05, "
         "0.01]), global_clipnorm=0.5)"),
        "rmsprop(learning_rate=cosine_decay(0.01, decay_steps=30, alpha=0.1), weight_decay=0.01)",
    };
    ds_dataset *d = td_toy(60, 3);
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        for (int kv = 2; kv <= 3; kv++) {
            ds_model *m = mlp(7, 0.25f, specs[i]);
            ds_model_set_keras_version(m, (ds_keras_version)kv);
            ds_fit_options fo = ds_fit_defaults();
            fo.batch_size = 16;
            fo.epochs = 2;
            CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
            m->opt.lr_scale = 0.25; /* as ReduceLROnPlateau would leave it */
            blob b = save_blob(m, 1, NULL);
            ds_model *r = load_blob(&b, NULL);
            if (r) {
                CHECK(same_structure(m, r), "%s: structure", specs[i]);
                CHECK(same_optimizer_state(m, r), "%s keras %d: optimizer state", specs[i], kv);
                CHECK(same_predictions(m, r, 30), "%s: predictions", specs[i]);
                /* one more epoch on each: the same bits */
                fo.initial_epoch = 2;
                fo.epochs = 3;
                CHECK_OK(ds_model_fit(m, d, &fo, NULL, NULL));
                CHECK_OK(ds_model_fit(r, d, &fo, NULL, NULL));
                CHECK(memcmp(m->params, r->params, sizeof(float) * m->n_params) == 0,
                      "%s keras %d: training on after loading", specs[i], kv);
            }
            ds_model_free(r);
            ds_model_free(m);
            free(b.p);
        }
    }
    ds_dataset_free(d);
}

static void test_resume_equals_uninterrupted(void)
{
    /* fit(0..6) == fit(0..3), save, load, fit(initial_epoch=3..6); dropout and shuffling on */
    ds_dataset *d = td_toy(120, 2);
    ds_fit_options fo = ds_fit_defaults();
    fo.batch_size = 10;
    fo.epochs = 6;
    static const char *const opts[] = {"adam", "nadam", "rmsprop(momentum=0.5, centered=true)"};
    for (int i = 0; i < 3; i++) {
        ds_model *a = mlp(5, 0.2f, opts[i]), *b = mlp(5, 0.2f, opts[i]);
        fo.initial_epoch = 0;
        fo.epochs = 6;
        CHECK_OK(ds_model_fit(a, d, &fo, NULL, NULL));
        fo.epochs = 3;
        CHECK_OK(ds_model_fit(b, d, &fo, NULL, NULL));
        blob f = save_blob(b, 1, NULL);
        ds_model_free(b);
        b = load_blob(&f, NULL);
        if (b) {
            fo.initial_epoch = 3;
            fo.epochs = 6;
            CHECK_OK(ds_model_fit(b, d, &fo, NULL, NULL));
            CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
                  "%s: resumed from a file equals uninterrupted", opts[i]);
            CHECK(same_optimizer_state(a, b), "%s: optimizer state equal", opts[i]);
            CHECK(ds_model_iterations(b) == 6 * 12, "iterations %lld",
                  (long long)ds_model_iterations(b));
        }
        ds_model_free(a);
        ds_model_free(b);
        free(f.p);
    }
    ds_dataset_free(d);
}

static void test_fp_stays_open(void)
{
    ds_model *m = mlp(3, 0.0f, "adam");
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (!f) return;
    ds_save_options o = ds_save_defaults();
    o.include_optimizer = 1;
    CHECK_OK(ds_model_save_fp(m, f, &o, NULL));
    long end = ftell(f);
    CHECK(end > 8, "written %ld bytes", end);
    rewind(f);
    ds_model *r = NULL;
    ds_error err = {0};
    CHECK(ds_model_load_fp(&r, f, NULL, &err) == DS_OK, "%s", err.message);
    CHECK(ftell(f) == end, "read to the end: %ld", ftell(f));
    CHECK(r && same_predictions(m, r, 10), "predictions");
    /* still ours: writable, and it closes without error */
    CHECK(fputc('x', f) == 'x', "stream still open for writing");
    CHECK(fclose(f) == 0, "fclose");
    ds_model_free(r);
    ds_model_free(m);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_path_save_load(void)
{
    char dir[] = "/tmp/descent-io-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[128], bad_path[160];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(bad_path, sizeof bad_path, "%s/no/such/folder/model.safetensors", dir);
    ds_model *m = mlp(11, 0.3f, "nadam");
    ds_error err = {0};
    CHECK(ds_model_save(m, path, NULL, &err) == DS_OK, "%s", err.message);
    /* again, over the existing file */
    CHECK(ds_model_save(m, path, NULL, &err) == DS_OK, "%s", err.message);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o",
          (unsigned)(st.st_mode & 0777));
    CHECK(count_entries(dir) == 1, "no temporary file left: %d entries", count_entries(dir));
    ds_model *r = NULL;
    ds_metadata md = {0};
    CHECK(ds_model_load(&r, path, &md, &err) == DS_OK, "%s", err.message);
    CHECK(r && same_structure(m, r) && same_predictions(m, r, 20), "round trip through a path");
    CHECK(ds_metadata_get(&md, "optimizer_state") == NULL, "no optimizer state by default");
    ds_model_free(r);
    ds_metadata_free(&md);

    CHECK(ds_model_save(m, bad_path, NULL, &err) == DS_ERR_IO, "missing folder: DS_ERR_IO");
    CHECK(strstr(err.message, bad_path) != NULL, "message names the path: %s", err.message);
    r = (ds_model *)&err; /* must be reset to NULL */
    CHECK(ds_model_load(&r, bad_path, NULL, &err) == DS_ERR_IO && r == NULL, "missing file");
    CHECK(strstr(err.message, "No such file") != NULL, "%s", err.message);

    /* a damaged file: the message names the path */
    FILE *f = fopen(path, "wb");
    fputs("garbage!garbage!", f);
    fclose(f);
    CHECK(ds_model_load(&r, path, NULL, &err) == DS_ERR_FORMAT, "garbage file");
    CHECK(strncmp(err.message, path, strlen(path)) == 0 && strstr(err.message, "model file:"),
          "%s", err.message);
    unlink(path);
    rmdir(dir);

    ds_model *unbuilt;
    ds_model_create(&unbuilt, 2, NULL);
    FILE *sink = tmpfile();
    CHECK(ds_model_save_fp(unbuilt, sink, NULL, &err) == DS_ERR_STATE, "unbuilt model");
    ds_model_free(unbuilt);
    ds_model *uncompiled;
    ds_model_create(&uncompiled, 2, NULL);
    ds_dense_config c = ds_dense_defaults(1);
    ds_model_add_dense(uncompiled, &c, NULL);
    ds_model_build(uncompiled, 1, NULL);
    ds_save_options o = ds_save_defaults();
    o.include_optimizer = 1;
    CHECK(ds_model_save_fp(uncompiled, sink, &o, &err) == DS_ERR_STATE,
          "include_optimizer without compile");
    /* a model loading would refuse is not written */
    ds_model *deep;
    ds_model_create(&deep, 1, NULL);
    for (int k = 0; k < 1025; k++) {
        c = ds_dense_defaults(1);
        ds_model_add_dense(deep, &c, NULL);
    }
    ds_model_build(deep, 1, NULL);
    CHECK(ds_model_save_fp(deep, sink, NULL, &err) == DS_ERR_ARG &&
              strstr(err.message, "at most 1024"),
          "1025 layers: %s", err.message);
    ds_model_free(deep);
    ds_model_create(&deep, 1, NULL);
    for (int k = 0; k < 1024; k++) {
        c = ds_dense_defaults(1);
        ds_model_add_dense(deep, &c, NULL);
    }
    ds_model_build(deep, 1, NULL);
    blob b = save_blob(deep, 0, NULL);
    ds_model *back = load_blob(&b, NULL);
    CHECK(back && ds_model_n_layers(back) == 1024, "1024 layers round trip");
    ds_model_free(back);
    free(b.p);
    ds_model_free(deep);
    fclose(sink);
    ds_model_free(uncompiled);
    ds_model_free(m);
}

static void test_metadata(void)
{
    ds_metadata extra = {0};
    CHECK_OK(ds_metadata_set(&extra, "preprocessing", "{\"shift\": [1, 2]}", NULL));
    CHECK_OK(ds_metadata_set(&extra, "note", "first", NULL));
    CHECK_OK(ds_metadata_set(&extra, "note", "caf\xc3\xa9 \"quoted\"\n\ttab\\", NULL));
    CHECK(extra.n == 2 && strcmp(ds_metadata_get(&extra, "note"), "caf\xc3\xa9 \"quoted\"\n\ttab\\") == 0,
          "set replaces");
    CHECK(ds_metadata_get(&extra, "absent") == NULL, "absent key");
    ds_model *m = mlp(1, 0.0f, "sgd");
    blob b = save_blob(m, 0, &extra);
    ds_metadata md = {0};
    ds_model *r = load_blob(&b, &md);
    CHECK(r != NULL, "loaded");
    CHECK(md.n == 7, "format, format_version, descent_version, architecture, compile + 2: %d",
          md.n);
    const char *v = ds_metadata_get(&md, "note");
    CHECK(v && strcmp(v, "caf\xc3\xa9 \"quoted\"\n\ttab\\") == 0, "escaped value: %s", v);
    v = ds_metadata_get(&md, "format");
    CHECK(v && strcmp(v, "descent-model") == 0, "format");
    v = ds_metadata_get(&md, "format_version");
    CHECK(v && atoi(v) == DS_MODEL_FORMAT_VERSION, "format_version");
    v = ds_metadata_get(&md, "descent_version");
    CHECK(v && strcmp(v, ds_version()) == 0, "descent_version");
    CHECK(ds_metadata_get(&md, "architecture") && ds_metadata_get(&md, "compile"), "JSON texts");
    ds_model_free(r);
    ds_metadata_free(&md);
    CHECK(md.n == 0 && md.keys == NULL, "free empties");
    free(b.p);

    /* reserved keys and invalid UTF-8 are refused */
    ds_error err = {0};
    FILE *sink = tmpfile();
    ds_save_options o = ds_save_defaults();
    o.extra = &extra;
    CHECK_OK(ds_metadata_set(&extra, "architecture", "{}", NULL));
    CHECK(ds_model_save_fp(m, sink, &o, &err) == DS_ERR_ARG && strstr(err.message, "reserved"),
          "reserved key: %s", err.message);
    ds_metadata_free(&extra);
    CHECK_OK(ds_metadata_set(&extra, "bad", "\xff\xfe", NULL));
    CHECK(ds_model_save_fp(m, sink, &o, &err) == DS_ERR_ARG && strstr(err.message, "UTF-8"),
          "invalid UTF-8: %s", err.message);
    fclose(sink);
    ds_metadata_free(&extra);
    ds_model_free(m);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)p[i] << (8 * i);
    return n;
}

static void test_layout(void)
{
    /* 8-byte length, JSON padded with spaces to a multiple of 8, tensors in arena order */
    ds_model *m = mlp(2, 0.5f, "adam");
    blob b = save_blob(m, 1, NULL);
    CHECK(b.n > 8, "size");
    uint64_t n = le64(b.p);
    CHECK((8 + n) % 8 == 0 && 8 + n < b.n, "header length %llu", (unsigned long long)n);
    CHECK(b.p[8] == '{', "header starts with {");
    size_t last = 8 + (size_t)n - 1;
    while (b.p[last] == ' ') last--;
    CHECK(b.p[last] == '}', "padding is spaces after the object");
    json_t *h = json_loadb((const char *)b.p + 8, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    CHECK(h != NULL, "header parses");
    const char *names[] = {"layers.0.kernel", "layers.0.bias", "layers.2.kernel",
                           "layers.2.bias", "optimizer.slot0", "optimizer.slot1"};
    long long at = 0;
    for (int i = 0; i < 6 && h; i++) {
        json_t *t = json_object_get(h, names[i]);
        json_t *offs = json_object_get(t, "data_offsets");
        CHECK(t && strcmp(json_string_value(json_object_get(t, "dtype")), "F32") == 0, "%s",
              names[i]);
        CHECK(json_integer_value(json_array_get(offs, 0)) == at, "%s begins at %lld", names[i],
              at);
        at = json_integer_value(json_array_get(offs, 1));
    }
    CHECK(at == (long long)(b.n - 8 - n), "tensors fill the data section");
    /* the data is the arena, little-endian */
    float w0;
    memcpy(&w0, b.p + 8 + n, 4);
    CHECK(w0 == m->params[0], "first kernel value");
    CHECK(json_object_size(h) == 7, "6 tensors and __metadata__");
    json_decref(h);
    /* the same model saves to the same bytes */
    blob c = save_blob(m, 1, NULL);
    CHECK(c.n == b.n && memcmp(c.p, b.p, b.n) == 0, "deterministic");
    free(b.p);
    free(c.p);
    ds_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* damaged files */

/* The good file the damage is done to: dense(4, relu) [0], dropout [1], dense(2, softmax)
 * [2], adam with its state: 26 parameters; tensors layers.0.kernel [0, 48], layers.0.bias
 * [48, 64], layers.2.kernel [64, 96], layers.2.bias [96, 104], optimizer.slot0 [104, 208],
 * optimizer.slot1 [208, 312]. */
static blob good_file(void)
{
    ds_model *m;
    ds_model_create(&m, 3, NULL);
    ds_dense_config c = ds_dense_defaults(4);
    c.activation = ds_activation_defaults(DS_ACT_RELU);
    ds_model_add_dense(m, &c, NULL);
    ds_model_add_dropout(m, 0.25f, NULL);
    c = ds_dense_defaults(2);
    c.activation = ds_activation_defaults(DS_ACT_SOFTMAX);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, 9, NULL);
    ds_compile_config cc = ds_compile_defaults();
    cc.loss = ds_loss_defaults(DS_LOSS_CATEGORICAL_CROSSENTROPY);
    cc.optimizer = ds_optimizer_defaults(DS_OPT_ADAM);
    ds_model_compile(m, &cc, NULL);
    float x[6] = {1, 2, 3, -1, 0, 1}, y[4] = {1, 0, 0, 1};
    ds_model_zero_grad(m);
    ds_model_train_batch_grad(m, x, y, 2, NULL, NULL, NULL);
    ds_model_apply_gradients(m, NULL);
    blob b = save_blob(m, 1, NULL);
    ds_model_free(m);
    return b;
}

typedef struct {
    json_t *hdr;
    unsigned char *d; /* the data section (a copy) */
    size_t n;
} parts;

static parts split(const blob *g)
{
    parts p;
    uint64_t n = le64(g->p);
    p.hdr = json_loadb((const char *)g->p + 8, (size_t)n, 0, NULL);
    p.n = g->n - 8 - (size_t)n;
    p.d = malloc(p.n + 1024);
    memcpy(p.d, g->p + 8 + n, p.n);
    return p;
}

static blob join_text(const char *text, const unsigned char *d, size_t dn)
{
    size_t len = strlen(text);
    blob b;
    b.n = 8 + len + dn;
    b.p = malloc(b.n);
    for (int i = 0; i < 8; i++) b.p[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(b.p + 8, text, len);
    memcpy(b.p + 8 + len, d, dn);
    return b;
}

static blob join(parts *p)
{
    char *text = json_dumps(p->hdr, JSON_COMPACT);
    blob b = join_text(text, p->d, p->n);
    free(text);
    json_decref(p->hdr);
    free(p->d);
    return b;
}

static json_t *tensor(parts *p, const char *name) { return json_object_get(p->hdr, name); }

static void set_pair(json_t *t, const char *key, long long a, long long b)
{
    json_object_set_new(t, key, json_pack("[I, I]", (json_int_t)a, (json_int_t)b));
}

static long long offset(parts *p, const char *name, int i)
{
    return json_integer_value(json_array_get(json_object_get(tensor(p, name), "data_offsets"),
                                             (size_t)i));
}

/* moves every tensor that begins at or after `at` by delta bytes */
static void shift_from(parts *p, long long at, long long delta)
{
    const char *key;
    json_t *t;
    json_object_foreach(p->hdr, key, t) {
        if (strcmp(key, "__metadata__") == 0) continue;
        long long b = offset(p, key, 0), e = offset(p, key, 1);
        if (b >= at) set_pair(t, "data_offsets", b + delta, e + delta);
    }
}

/* inserts k zero bytes into the data section at `at` (shifting the tensors after it) */
static void insert_bytes(parts *p, long long at, size_t k)
{
    memmove(p->d + at + k, p->d + at, p->n - (size_t)at);
    memset(p->d + at, 0, k);
    p->n += k;
    shift_from(p, at, (long long)k);
}

/* deletes a tensor and its bytes */
static void remove_tensor(parts *p, const char *name)
{
    long long b = offset(p, name, 0), e = offset(p, name, 1);
    json_object_del(p->hdr, name);
    memmove(p->d + b, p->d + e, p->n - (size_t)e);
    p->n -= (size_t)(e - b);
    shift_from(p, e, b - e);
}

static json_t *meta(parts *p) { return json_object_get(p->hdr, "__metadata__"); }

/* edits one of the JSON texts in __metadata__ */
static json_t *meta_json(parts *p, const char *key)
{
    return json_loads(json_string_value(json_object_get(meta(p), key)), 0, NULL);
}

static void meta_json_put(parts *p, const char *key, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_object_set_new(meta(p), key, json_string(text));
    free(text);
    json_decref(v);
}

static json_t *arch_layer(json_t *arch, int k)
{
    return json_array_get(json_object_get(arch, "layers"), (size_t)k);
}

#define RAW_CASE(fn, body)                                                                 \
    static blob fn(const blob *g)                                                          \
    {                                                                                      \
        blob b = {malloc(g->n + 64), g->n};                                                \
        memcpy(b.p, g->p, g->n);                                                           \
        body;                                                                              \
        return b;                                                                          \
    }
#define JSON_CASE(fn, body)                                                                \
    static blob fn(const blob *g)                                                          \
    {                                                                                      \
        parts p = split(g);                                                                \
        body;                                                                              \
        return join(&p);                                                                   \
    }

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

RAW_CASE(c_empty, b.n = 0)
RAW_CASE(c_four_bytes, b.n = 4)
RAW_CASE(c_length_only, b.n = 8)
RAW_CASE(c_cut_in_header, b.n = 8 + (size_t)le64(g->p) / 2)
RAW_CASE(c_cut_in_data, b.n -= 5)
RAW_CASE(c_length_too_big, put_le64(b.p, le64(g->p) + (uint64_t)(g->n)))
RAW_CASE(c_length_2_63, put_le64(b.p, (uint64_t)1 << 63))
RAW_CASE(c_length_all_ones, put_le64(b.p, UINT64_MAX))
RAW_CASE(c_length_zero, put_le64(b.p, 0))
RAW_CASE(c_not_json, memcpy(b.p + 8, "not json", 8))
RAW_CASE(c_nul_in_header, b.p[8 + 3] = 0)

static blob c_not_object(const blob *g)
{
    parts p = split(g);
    blob b = join_text("[1, 2, 3]", p.d, p.n);
    json_decref(p.hdr);
    free(p.d);
    return b;
}

static blob c_duplicate_key(const blob *g)
{
    parts p = split(g);
    char *text = json_dumps(p.hdr, JSON_COMPACT);
    /* a second "layers.0.bias" entry, a copy of the first */
    char *t2 = json_dumps(tensor(&p, "layers.0.bias"), JSON_COMPACT);
    size_t n = strlen(text) + strlen(t2) + 64;
    char *dup = malloc(n);
    snprintf(dup, n, "{\"layers.0.bias\":%s,%s", t2, text + 1);
    blob b = join_text(dup, p.d, p.n);
    free(text);
    free(t2);
    free(dup);
    json_decref(p.hdr);
    free(p.d);
    return b;
}

JSON_CASE(c_entry_not_object, json_object_set_new(p.hdr, "layers.0.bias", json_integer(5)))
JSON_CASE(c_dtype_f16,
          json_object_set_new(tensor(&p, "layers.0.kernel"), "dtype", json_string("F16")))
JSON_CASE(c_dtype_i64,
          json_object_set_new(tensor(&p, "layers.2.bias"), "dtype", json_string("I64")))
JSON_CASE(c_dtype_missing, json_object_del(tensor(&p, "layers.2.bias"), "dtype"))
JSON_CASE(c_tensor_extra_key,
          json_object_set_new(tensor(&p, "layers.2.bias"), "scale", json_real(1.0)))
JSON_CASE(c_shape_negative, set_pair(tensor(&p, "layers.0.kernel"), "shape", -3, -4))
JSON_CASE(c_shape_overflow,
          set_pair(tensor(&p, "layers.0.kernel"), "shape", 4294967296LL, 4294967296LL))
JSON_CASE(c_shape_bytes_overflow,
          set_pair(tensor(&p, "layers.0.kernel"), "shape", 1LL << 31, 1LL << 31))
JSON_CASE(c_shape_not_array,
          json_object_set_new(tensor(&p, "layers.0.bias"), "shape", json_string("4")))
JSON_CASE(c_shape_real,
          json_object_set_new(tensor(&p, "layers.0.bias"), "shape", json_pack("[f]", 4.0)))
JSON_CASE(c_shape_rank_9,
          json_object_set_new(tensor(&p, "layers.0.bias"), "shape",
                              json_pack("[iiiiiiiii]", 1, 1, 1, 1, 1, 1, 1, 1, 4)))
JSON_CASE(c_shape_mismatch, set_pair(tensor(&p, "layers.0.kernel"), "shape", 3, 5))
JSON_CASE(c_offsets_reversed, set_pair(tensor(&p, "layers.2.bias"), "data_offsets", 104, 96))
JSON_CASE(c_offsets_past_end, set_pair(tensor(&p, "layers.2.bias"), "data_offsets", 96, 400))
JSON_CASE(c_offsets_huge, set_pair(tensor(&p, "layers.2.bias"), "data_offsets",
                                   INT64_MAX - 4, INT64_MAX))
JSON_CASE(c_offsets_three, json_object_set_new(tensor(&p, "layers.2.bias"), "data_offsets",
                                               json_pack("[iii]", 96, 104, 104)))
JSON_CASE(c_overlap, set_pair(tensor(&p, "layers.0.bias"), "data_offsets", 44, 60))
JSON_CASE(c_hole, insert_bytes(&p, 64, 4))
JSON_CASE(c_trailing_bytes, p.n += 8; memset(p.d + p.n - 8, 0, 8))
JSON_CASE(c_missing_kernel, remove_tensor(&p, "layers.2.kernel"))
JSON_CASE(c_missing_bias, remove_tensor(&p, "layers.0.bias"))
JSON_CASE(c_unknown_tensor, {
    insert_bytes(&p, (long long)p.n, 4);
    json_object_set_new(p.hdr, "extra.weight",
                        json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 1,
                                  "data_offsets", (json_int_t)(p.n - 4), (json_int_t)p.n));
})
JSON_CASE(c_tensor_past_layers, {
    insert_bytes(&p, (long long)p.n, 4);
    json_object_set_new(p.hdr, "layers.9.bias",
                        json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 1,
                                  "data_offsets", (json_int_t)(p.n - 4), (json_int_t)p.n));
})
JSON_CASE(c_tensor_on_dropout, {
    insert_bytes(&p, (long long)p.n, 4);
    json_object_set_new(p.hdr, "layers.1.bias",
                        json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 1,
                                  "data_offsets", (json_int_t)(p.n - 4), (json_int_t)p.n));
})
JSON_CASE(c_kernel_transposed, set_pair(tensor(&p, "layers.0.kernel"), "shape", 4, 3))
JSON_CASE(c_meta_not_object, json_object_set_new(p.hdr, "__metadata__", json_integer(1)))
JSON_CASE(c_meta_value_int,
          json_object_set_new(meta(&p), "format_version", json_integer(1)))
JSON_CASE(c_no_metadata, json_object_del(p.hdr, "__metadata__"))
JSON_CASE(c_no_format, json_object_del(meta(&p), "format"))
JSON_CASE(c_other_format, json_object_set_new(meta(&p), "format", json_string("pytorch")))
JSON_CASE(c_format_newline,
          json_object_set_new(meta(&p), "format", json_string("desc\nt-model")))
JSON_CASE(c_future_version, json_object_set_new(meta(&p), "format_version", json_string("2")))
JSON_CASE(c_bad_version, json_object_set_new(meta(&p), "format_version", json_string("1.0")))
JSON_CASE(c_no_architecture, json_object_del(meta(&p), "architecture"))
JSON_CASE(c_arch_not_json,
          json_object_set_new(meta(&p), "architecture", json_string("{\"layers\": [")))
JSON_CASE(c_arch_not_object,
          json_object_set_new(meta(&p), "architecture", json_string("[]")))
JSON_CASE(c_arch_unknown_key, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(a, "optimizer", json_string("adam"));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_absurd_units, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 0), "units", json_integer(1000000000000LL));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_units_mismatch, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 2), "units", json_integer(3));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_too_many_params, {
    /* 2^24 inputs x 2^24 units: within each bound, far beyond the parameter limit */
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(a, "n_inputs", json_integer(1 << 24));
    json_object_set_new(arch_layer(a, 0), "units", json_integer(1 << 24));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_unknown_activation, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 0), "activation", json_string("frobnicate"));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_activation_newline, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 2), "activation", json_string("soft\nmax"));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_unknown_layer_kind, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 1), "kind", json_string("conv2d"));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_dropout_rate_one, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 1), "rate", json_real(1.0));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_bad_seed, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(a, "seed", json_string("18446744073709551616"));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_bad_initializer, {
    json_t *a = meta_json(&p, "architecture");
    json_object_set_new(arch_layer(a, 0), "kernel_initializer", json_string("kaiming_normal"));
    meta_json_put(&p, "architecture", a);
})
JSON_CASE(c_unknown_loss, {
    json_t *c = meta_json(&p, "compile");
    json_object_set_new(json_object_get(c, "loss"), "name", json_string("hinge"));
    meta_json_put(&p, "compile", c);
})
JSON_CASE(c_loss_check, {
    json_t *c = meta_json(&p, "compile");
    json_object_set_new(json_object_get(c, "loss"), "name", json_string("huber"));
    json_object_set_new(json_object_get(c, "loss"), "delta", json_real(0.0));
    meta_json_put(&p, "compile", c);
})
JSON_CASE(c_bad_optimizer, {
    json_t *c = meta_json(&p, "compile");
    json_object_set_new(c, "optimizer", json_string("adam(beta_1=2)"));
    meta_json_put(&p, "compile", c);
})
JSON_CASE(c_state_without_compile, json_object_del(meta(&p), "compile"))
JSON_CASE(c_slot_without_state, json_object_del(meta(&p), "optimizer_state"))
JSON_CASE(c_slot_wrong_length, {
    remove_tensor(&p, "optimizer.slot1");
    insert_bytes(&p, (long long)p.n, 100);
    json_object_set_new(p.hdr, "optimizer.slot1",
                        json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 25,
                                  "data_offsets", (json_int_t)(p.n - 100), (json_int_t)p.n));
})
JSON_CASE(c_slot_missing, remove_tensor(&p, "optimizer.slot1"))
JSON_CASE(c_slot_unused, {
    insert_bytes(&p, (long long)p.n, 104);
    json_object_set_new(p.hdr, "optimizer.slot2",
                        json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 26,
                                  "data_offsets", (json_int_t)(p.n - 104), (json_int_t)p.n));
})
JSON_CASE(c_state_bad_iterations, {
    json_t *s = meta_json(&p, "optimizer_state");
    json_object_set_new(s, "iterations", json_integer(-1));
    meta_json_put(&p, "optimizer_state", s);
})
JSON_CASE(c_state_bad_lr_scale, {
    json_t *s = meta_json(&p, "optimizer_state");
    json_object_set_new(s, "lr_scale", json_string("1"));
    meta_json_put(&p, "optimizer_state", s);
})

typedef struct {
    const char *name;
    blob (*make)(const blob *good);
    const char *expect; /* a substring of the message */
} damage;

static const damage damages[] = {
    {"empty", c_empty, "0 bytes is too short"},
    {"four_bytes", c_four_bytes, "4 bytes is too short"},
    {"length_only", c_length_only, "runs past the end of the file (8 bytes)"},
    {"cut_in_header", c_cut_in_header, "runs past the end of the file"},
    {"cut_in_data", c_cut_in_data, "run past the data section (307 bytes)"},
    {"length_too_big", c_length_too_big, "runs past the end of the file"},
    {"length_2_63", c_length_2_63, "header length 9223372036854775808 exceeds the limit"},
    {"length_all_ones", c_length_all_ones, "exceeds the limit"},
    {"length_zero", c_length_zero, "not valid JSON"},
    {"not_json", c_not_json, "not valid JSON"},
    {"nul_in_header", c_nul_in_header, "not valid JSON"},
    {"not_object", c_not_object, "not a JSON object"},
    {"duplicate_key", c_duplicate_key, "duplicate object key"},
    {"entry_not_object", c_entry_not_object, "tensor 'layers.0.bias': entry is not an object"},
    {"dtype_f16", c_dtype_f16, "tensor 'layers.0.kernel': dtype F16 is not supported"},
    {"dtype_i64", c_dtype_i64, "dtype I64 is not supported"},
    {"dtype_missing", c_dtype_missing, "tensor 'layers.2.bias': no dtype"},
    {"tensor_extra_key", c_tensor_extra_key, "unknown key 'scale'"},
    {"shape_negative", c_shape_negative, "shape[0] is negative"},
    {"shape_overflow", c_shape_overflow, "more bytes than 64 bits count"},
    {"shape_bytes_overflow", c_shape_bytes_overflow, "more bytes than 64 bits count"},
    {"shape_not_array", c_shape_not_array, "shape is not an array"},
    {"shape_real", c_shape_real, "shape[0] is not an integer"},
    {"shape_rank_9", c_shape_rank_9, "9 dimensions"},
    {"shape_mismatch", c_shape_mismatch,
     "tensor 'layers.0.kernel': shape [3, 5] needs 60 bytes but data_offsets [0, 48] hold 48"},
    {"offsets_reversed", c_offsets_reversed, "data_offsets [104, 96] are reversed"},
    {"offsets_past_end", c_offsets_past_end,
     "tensor 'layers.2.bias': data_offsets [96, 400] run past the data section (312 bytes)"},
    {"offsets_huge", c_offsets_huge, "run past the data section"},
    {"offsets_three", c_offsets_three, "data_offsets is not an array of 2 integers"},
    {"overlap", c_overlap, "tensors 'layers.0.kernel' [0, 48] and 'layers.0.bias' [44, 60] "
                           "overlap"},
    {"hole", c_hole, "bytes [64, 68) of the data section belong to no tensor"},
    {"trailing_bytes", c_trailing_bytes, "bytes [312, 320) of the data section belong to no"},
    {"missing_kernel", c_missing_kernel,
     "tensor 'layers.2.kernel' is missing (expected shape [4, 2])"},
    {"missing_bias", c_missing_bias, "tensor 'layers.0.bias' is missing"},
    {"unknown_tensor", c_unknown_tensor, "unknown tensor 'extra.weight'"},
    {"tensor_past_layers", c_tensor_past_layers,
     "unknown tensor 'layers.9.bias' (the architecture has 3 layers)"},
    {"tensor_on_dropout", c_tensor_on_dropout, "layer 1 is a dropout layer"},
    {"kernel_transposed", c_kernel_transposed,
     "tensor 'layers.0.kernel' has shape [4, 3], expected [3, 4]"},
    {"meta_not_object", c_meta_not_object, "__metadata__ is not an object"},
    {"meta_value_int", c_meta_value_int, "__metadata__ entry 'format_version' is not a string"},
    {"no_metadata", c_no_metadata, "no __metadata__"},
    {"no_format", c_no_format, "no \"format\" entry"},
    {"other_format", c_other_format, "format is 'pytorch', not 'descent-model'"},
    {"format_newline", c_format_newline, "format is 'desc?t-model', not 'descent-model'"},
    {"future_version", c_future_version, "made by a newer descent (format version 2 > 1)"},
    {"bad_version", c_bad_version, "format_version '1.0' is not a version number"},
    {"no_architecture", c_no_architecture, "no \"architecture\" entry"},
    {"arch_not_json", c_arch_not_json, "architecture is not valid JSON"},
    {"arch_not_object", c_arch_not_object, "architecture is not a JSON object"},
    {"arch_unknown_key", c_arch_unknown_key, "architecture: unknown key 'optimizer'"},
    {"absurd_units", c_absurd_units,
     "architecture.layers[0].units = 1000000000000 is out of range [1, 16777216]"},
    {"units_mismatch", c_units_mismatch, "'layers.2.kernel' has shape [4, 2], expected [4, 3]"},
    {"too_many_params", c_too_many_params, "more than 2147483648 parameters"},
    {"unknown_activation", c_unknown_activation,
     "architecture.layers[0].activation: unknown activation 'frobnicate'"},
    {"activation_newline", c_activation_newline, "activation 'soft?max': unexpected 'm'"},
    {"unknown_layer_kind", c_unknown_layer_kind, "kind 'conv2d' is not a layer descent knows"},
    {"dropout_rate_one", c_dropout_rate_one, "layers[1].rate = 1 is out of range [0, 1)"},
    {"bad_seed", c_bad_seed, "is not an unsigned 64-bit integer"},
    {"bad_initializer", c_bad_initializer, "layers[0].kernel_initializer:"},
    {"unknown_loss", c_unknown_loss, "compile.loss.name 'hinge' is not a loss"},
    {"loss_check", c_loss_check, "model file: compile: huber: delta must be > 0"},
    {"bad_optimizer", c_bad_optimizer, "compile.optimizer: adam: beta_1=2"},
    {"state_without_compile", c_state_without_compile,
     "an optimizer_state entry without a compile entry"},
    {"slot_without_state", c_slot_without_state,
     "tensor 'optimizer.slot0' without an optimizer_state entry"},
    {"slot_wrong_length", c_slot_wrong_length,
     "tensor 'optimizer.slot1' has shape [25], expected [26]"},
    {"slot_missing", c_slot_missing, "tensor 'optimizer.slot1' is missing (adam keeps slot 1)"},
    {"slot_unused", c_slot_unused, "unknown tensor 'optimizer.slot2' (adam keeps no slot 2)"},
    {"state_bad_iterations", c_state_bad_iterations,
     "optimizer_state.iterations = -1 is out of range"},
    {"state_bad_lr_scale", c_state_bad_lr_scale, "optimizer_state.lr_scale is not a number"},
};
#define N_DAMAGES ((int)(sizeof damages / sizeof damages[0]))

static void test_damaged_files(void)
{
    blob g = good_file();
    ds_model *ok = load_blob(&g, NULL);
    CHECK(ok != NULL, "the good file loads");
    ds_model_free(ok);
    CHECK(N_DAMAGES >= 20, "%d cases", N_DAMAGES);
    for (int i = 0; i < N_DAMAGES; i++) {
        blob b = damages[i].make(&g);
        ds_model *m = (ds_model *)&b; /* must come back NULL */
        ds_metadata md = {0};
        ds_error err = {0};
        ds_status s = ds_model_load_buffer(&m, b.p, b.n, &md, &err);
        CHECK(s == DS_ERR_FORMAT, "%s: status %d (%s)", damages[i].name, (int)s, err.message);
        CHECK(m == NULL, "%s: no model", damages[i].name);
        CHECK(md.n == 0, "%s: no metadata", damages[i].name);
        CHECK(strstr(err.message, damages[i].expect) != NULL, "%s: message '%s', expected '%s'",
              damages[i].name, err.message, damages[i].expect);
        CHECK(strncmp(err.message, "model file: ", 12) == 0 && !strchr(err.message, '\n'),
              "%s: one line starting 'model file: ': %s", damages[i].name, err.message);
        ds_model_free(m);
        free(b.p);
    }
    free(g.p);
}

/* every prefix of a good file fails cleanly; random damage never crashes (the sanitizer
 * build checks the reads) and only ever gives DS_OK or DS_ERR_FORMAT */
static void test_truncations_and_noise(void)
{
    blob g = good_file();
    unsigned char *copy = malloc(g.n);
    int bad_status = 0, bad_prefix = 0, loaded = 0;
    for (size_t n = 0; n < g.n; n++) {
        /* a buffer of exactly n bytes, so that the sanitizer catches a read past it */
        unsigned char *p = malloc(n ? n : 1);
        memcpy(p, g.p, n);
        ds_model *m = NULL;
        ds_error err = {0};
        if (ds_model_load_buffer(&m, p, n, NULL, &err) != DS_ERR_FORMAT) bad_prefix++;
        ds_model_free(m);
        free(p);
    }
    CHECK(bad_prefix == 0, "%d prefixes did not fail with DS_ERR_FORMAT", bad_prefix);
    ds_rng r = ds_rng_split(2024, 1);
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, g.p, g.n);
        int flips = 1 + (int)ds_rng_below(&r, 4);
        for (int k = 0; k < flips; k++) {
            /* mostly in the header, where the parsing is */
            size_t at = ds_rng_below(&r, 4) ? (size_t)ds_rng_below(&r, le64(g.p) + 8)
                                            : (size_t)ds_rng_below(&r, g.n);
            copy[at] = (unsigned char)ds_rng_below(&r, 256);
        }
        ds_model *m = NULL;
        ds_error err = {0};
        ds_status s = ds_model_load_buffer(&m, copy, g.n, NULL, &err);
        if (s != DS_OK && s != DS_ERR_FORMAT) bad_status++;
        if (s == DS_OK) loaded++;
        if (s == DS_OK) {
            float x[3] = {0.5f, -1, 2}, y[2];
            CHECK_OK(ds_model_predict(m, x, 1, y, NULL));
        }
        ds_model_free(m);
    }
    CHECK(bad_status == 0, "%d damaged files gave another status", bad_status);
    CHECK(loaded > 0, "some damage is harmless (data bytes, spaces): %d loaded", loaded);
    free(copy);
    free(g.p);
}

/* ---------------------------------------------------------------------------------- */
/* the NumPy reader */

static const char *find_python(void)
{
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* Runs examples/load_model.py on model + csv, reads its output rows (n, w) into out.
 * Returns the number of rows read, or -1. labels (may be NULL) receives the label column
 * of row 0.. (n strings of up to 15 chars) when the output has one. */
static int run_reader(const char *dir, const char *model, const char *csv, int w, float *out,
                      int n, char (*labels)[16])
{
    char cmd[1024], outpath[256];
    snprintf(outpath, sizeof outpath, "%s/out.csv", dir);
    snprintf(cmd, sizeof cmd, "%s examples/load_model.py %s %s > %s", find_python(), model, csv,
             outpath);
    int rc = system(cmd);
    CHECK(rc == 0, "%s: exit status %d", cmd, rc);
    if (rc != 0) return -1;
    FILE *f = fopen(outpath, "r");
    if (!f) return -1;
    char line[4096];
    int rows = 0;
    if (!fgets(line, sizeof line, f)) rows = -1; /* header */
    while (rows >= 0 && rows < n && fgets(line, sizeof line, f)) {
        char *p = line;
        for (int j = 0; j < w; j++) {
            out[rows * w + j] = strtof(p, &p);
            if (*p == ',') p++;
        }
        if (labels) {
            size_t k = strcspn(p, "\r\n");
            snprintf(labels[rows], 16, "%.*s", (int)(k < 15 ? k : 15), p);
        }
        rows++;
    }
    fclose(f);
    unlink(outpath);
    return rows;
}

static void test_python_reader(void)
{
    char probe[300];
    snprintf(probe, sizeof probe, "%s -c 'import json, struct, numpy' 2>/dev/null", find_python());
    if (system(probe) != 0) {
        CHECK(0, "%s cannot import numpy: install python3-numpy (scripts/deps.sh test does)",
              find_python());
        return;
    }
    char dir[] = "/tmp/descent-py-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char model[128], csv[128];
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(csv, sizeof csv, "%s/x.csv", dir);
    enum { N = 25 };
    /* every activation (and both hard_sigmoid slopes), as a hidden layer and an output
     * layer, with dropout in between (identity at inference) */
    for (int kv = 2; kv <= 3; kv++) {
        for (int k = 0; k < DS_ACT_COUNT; k++) {
            if (kv == 3 && k != DS_ACT_HARD_SIGMOID) continue;
            ds_model *m;
            ds_model_create(&m, 3, NULL);
            ds_dense_config c = ds_dense_defaults(6);
            c.activation = ds_activation_defaults((ds_act_kind)k);
            if (k == DS_ACT_LEAKY_RELU) c.activation.alpha = 0.2f;
            if (k == DS_ACT_ELU) c.activation.alpha = 0.6f;
            c.bias_initializer = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
            ds_model_add_dense(m, &c, NULL);
            ds_model_add_dropout(m, 0.5f, NULL);
            c.units = 4;
            c.use_bias = k % 2;
            ds_model_add_dense(m, &c, NULL);
            ds_model_set_keras_version(m, (ds_keras_version)kv);
            ds_model_build(m, 31 + (uint64_t)k, NULL);
            CHECK_OK(ds_model_save(m, model, NULL, NULL));
            float *x = random_rows(N, 3, (uint64_t)k, 2.5f), want[N * 4], got[N * 4];
            CHECK_OK(ds_model_predict(m, x, N, want, NULL));
            FILE *f = fopen(csv, "w");
            for (int i = 0; i < N; i++)
                fprintf(f, "%.9g,%.9g,%.9g\n", (double)x[i * 3], (double)x[i * 3 + 1],
                        (double)x[i * 3 + 2]);
            fclose(f);
            int rows = run_reader(dir, model, csv, 4, got, N, NULL);
            CHECK(rows == N, "%s: %d rows", ds_act_kind_name(k), rows);
            int bad = 0;
            for (int i = 0; i < N * 4 && rows == N; i++)
                bad += !(fabsf(got[i] - want[i]) <= 1e-6f + 1e-5f * fabsf(want[i]));
            CHECK(bad == 0, "%s keras %d: %d outputs differ (e.g. %.9g vs %.9g)",
                  ds_act_kind_name(k), kv, bad, (double)got[0], (double)want[0]);
            free(x);
            ds_model_free(m);
        }
    }

    /* raw features with the command's preprocessing entry: named columns in another
     * order, a target column to ignore, (x - shift) / scale, labels from the output */
    ds_model *m;
    ds_model_create(&m, 3, NULL);
    ds_dense_config c = ds_dense_defaults(5);
    c.activation = ds_activation_defaults(DS_ACT_RELU);
    ds_model_add_dense(m, &c, NULL);
    c = ds_dense_defaults(1);
    c.activation = ds_activation_defaults(DS_ACT_SIGMOID);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, 4, NULL);
    const double shift[3] = {10.0, -2.0, 0.5}, scale[3] = {4.0, 0.5, 2.0};
    ds_metadata extra = {0};
    ds_metadata_set(&extra, "preprocessing",
                    "{\"feature_names\": [\"a\", \"b\", \"c\"], \"shift\": [10, -2, 0.5], "
                    "\"scale\": [4, 0.5, 2], \"target_name\": \"y\", \"task\": \"binary\", "
                    "\"label_names\": [\"no\", \"yes\"]}",
                    NULL);
    ds_save_options o = ds_save_defaults();
    o.extra = &extra;
    CHECK_OK(ds_model_save(m, model, &o, NULL));
    ds_metadata_free(&extra);
    float *raw = random_rows(N, 3, 99, 3.0f), x[N * 3], want[N], got[N];
    char labels[N][16];
    FILE *f = fopen(csv, "w");
    fprintf(f, "c,y,b,a\n");
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 3; j++) {
            raw[i * 3 + j] += (float)shift[j];
            x[i * 3 + j] = (float)(((double)raw[i * 3 + j] - shift[j]) / scale[j]);
        }
        fprintf(f, "%.9g,%s,%.9g,%.9g\n", (double)raw[i * 3 + 2], i % 2 ? "yes" : "no",
                (double)raw[i * 3 + 1], (double)raw[i * 3]);
    }
    fclose(f);
    CHECK_OK(ds_model_predict(m, x, N, want, NULL));
    int rows = run_reader(dir, model, csv, 1, got, N, labels);
    CHECK(rows == N, "preprocessed: %d rows", rows);
    for (int i = 0; i < N && rows == N; i++) {
        CHECK(fabsf(got[i] - want[i]) <= 1e-6f + 1e-5f * fabsf(want[i]), "row %d: %.9g vs %.9g",
              i, (double)got[i], (double)want[i]);
        const char *label = want[i] > 0.5f ? "yes" : "no";
        CHECK(strcmp(labels[i], label) == 0, "row %d: label '%s', expected '%s'", i, labels[i],
              label);
    }
    free(raw);
    ds_model_free(m);
    unlink(model);
    unlink(csv);
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------- */
/* the fuzz corpus */

static int write_bytes(const char *dir, const char *name, const unsigned char *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(p, 1, n, f) != n;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

/* Writes the file as it is and, when its header length fits, in the fuzz target's text
 * encoding too ("text_" + name: the header without its padding, '\n', the data). */
static int write_file(const char *dir, const char *name, const blob *b)
{
    int bad = write_bytes(dir, name, b->p, b->n);
    if (b->n < 8 || le64(b->p) > b->n - 8 || b->p[8] != '{') return bad;
    size_t hn = (size_t)le64(b->p), dn = b->n - 8 - hn;
    while (hn > 0 && b->p[8 + hn - 1] == ' ') hn--;
    if (memchr(b->p + 8, '\n', hn)) return bad;
    unsigned char *t = malloc(hn + 1 + dn);
    memcpy(t, b->p + 8, hn);
    t[hn] = '\n';
    memcpy(t + hn + 1, b->p + 8 + le64(b->p), dn);
    char text_name[80];
    snprintf(text_name, sizeof text_name, "text_%s", name);
    bad |= write_bytes(dir, text_name, t, hn + 1 + dn);
    free(t);
    return bad;
}

static int write_corpus(const char *dir)
{
    int bad = 0;
    blob g = good_file();
    bad |= write_file(dir, "good_adam_state", &g);
    for (int i = 0; i < N_DAMAGES; i++) {
        blob b = damages[i].make(&g);
        char name[64];
        snprintf(name, sizeof name, "bad_%s", damages[i].name);
        bad |= write_file(dir, name, &b);
        free(b.p);
    }
    free(g.p);
    /* a few more good ones: no compile; every activation once; sgd with momentum */
    ds_model *m;
    ds_model_create(&m, 2, NULL);
    for (int k = 0; k < DS_ACT_COUNT; k++) {
        ds_dense_config c = ds_dense_defaults(2);
        c.activation = ds_activation_defaults((ds_act_kind)k);
        c.use_bias = k % 3 != 0;
        ds_model_add_dense(m, &c, NULL);
        if (k == 4) ds_model_add_dropout(m, 0.5f, NULL);
    }
    ds_model_set_keras_version(m, DS_KERAS_3);
    ds_model_build(m, 3, NULL);
    blob b = save_blob(m, 0, NULL);
    bad |= write_file(dir, "good_all_activations", &b);
    free(b.p);
    ds_model_free(m);
    m = mlp(1, 0.5f, "sgd(learning_rate=0.1, momentum=0.9, nesterov=true)");
    ds_metadata extra = {0};
    ds_metadata_set(&extra, "preprocessing", "{\"feature_names\": [\"a\", \"b\", \"c\"]}", NULL);
    b = save_blob(m, 1, &extra);
    bad |= write_file(dir, "good_sgd_momentum", &b);
    free(b.p);
    ds_metadata_free(&extra);
    ds_model_free(m);
    ds_model_create(&m, 1, NULL);
    ds_dense_config c = ds_dense_defaults(1);
    ds_model_add_dense(m, &c, NULL);
    ds_model_build(m, 0, NULL);
    b = save_blob(m, 0, NULL);
    bad |= write_file(dir, "good_tiny", &b);
    free(b.p);
    ds_model_free(m);
    if (bad) fprintf(stderr, "test_io: cannot write the corpus into %s\n", dir);
    else printf("wrote %d models (and their text forms) into %s\n", N_DAMAGES + 4, dir);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0) return write_corpus(argv[2]);
    RUN(test_roundtrip_activations);
    RUN(test_roundtrip_layers);
    RUN(test_roundtrip_optimizers);
    RUN(test_resume_equals_uninterrupted);
    RUN(test_fp_stays_open);
    RUN(test_path_save_load);
    RUN(test_metadata);
    RUN(test_layout);
    RUN(test_damaged_files);
    RUN(test_truncations_and_noise);
    RUN(test_python_reader);
    return HARNESS_DONE();
}
