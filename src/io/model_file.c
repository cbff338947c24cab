/*
 * model_file.c - a descent model as a safetensors file: the parameter arena as one
 * tensor per kernel and bias, the optimizer slots as tensors of the arena's length, and
 * the architecture, compile settings and optimizer counters as JSON texts in the
 * __metadata__ strings. docs/FORMAT.md is the contract; this file implements it.
 *
 * Loading trusts nothing: the container is checked by safetensors.c, then every JSON
 * field here (type, range, known keys), then every tensor against the shape the
 * architecture implies. Sizes are bounded before anything is allocated (units, layers,
 * parameters), and since the tensors must tile the data section, the model's arena can
 * never be larger than the file. The model is then rebuilt through the public API.
 */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LAYERS 1024
#define MAX_UNITS (1 << 24)                /* also the limit on n_inputs */
#define MAX_PARAMS ((uint64_t)1 << 31)     /* weights and biases of the whole model */
#define FORMAT_NAME "descent-model"

/* The __metadata__ keys descent writes; applications may not use them. */
static const char *const reserved_keys[] = {"format",       "format_version", "descent_version",
                                            "architecture", "compile",        "optimizer_state"};

/* ---------------------------------------------------------------------------------- */
/* saving */

ds_save_options ds_save_defaults(void)
{
    ds_save_options o;
    o.include_optimizer = 0;
    o.extra = NULL;
    return o;
}

/* A float as the JSON number with the fewest digits that reads back as it (dumped with
 * 9 significant digits, which keep that text). */
static json_t *float_json(float v)
{
    char b[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(b, sizeof b, "%.*g", p, (double)v);
        if ((float)strtod(b, NULL) == v) break;
    }
    return json_real(strtod(b, NULL));
}

/* Sets o[key] = v (taking v); returns nonzero when v is NULL or setting fails. */
static int put(json_t *o, const char *key, json_t *v)
{
    return !v || json_object_set_new(o, key, v) != 0;
}

static json_t *architecture_json(const ds_model *m)
{
    json_t *a = json_object(), *layers = json_array();
    char seed[24], buf[512];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->seed);
    int bad = !a || !layers;
    bad = bad || put(a, "n_inputs", json_integer(m->n_inputs));
    bad = bad || put(a, "keras_version", json_integer((int)m->keras));
    bad = bad || put(a, "seed", json_string(seed));
    for (int k = 0; k < m->n_layers && !bad; k++) {
        const ds_layer *l = &m->layers[k];
        json_t *j = json_object();
        bad = !j || json_array_append_new(layers, j) != 0;
        if (bad) break;
        if (l->kind == DS_LAYER_DENSE) {
            bad = bad || put(j, "kind", json_string("dense"));
            bad = bad || put(j, "name", json_string(l->name));
            bad = bad || put(j, "units", json_integer(l->dense.units));
            ds_activation_str(&l->dense.activation, buf, sizeof buf);
            bad = bad || put(j, "activation", json_string(buf));
            bad = bad || put(j, "use_bias", json_boolean(l->dense.use_bias));
            ds_initializer_str(&l->dense.kernel_initializer, buf, sizeof buf);
            bad = bad || put(j, "kernel_initializer", json_string(buf));
            ds_initializer_str(&l->dense.bias_initializer, buf, sizeof buf);
            bad = bad || put(j, "bias_initializer", json_string(buf));
        } else {
            bad = bad || put(j, "kind", json_string("dropout"));
            bad = bad || put(j, "name", json_string(l->name));
            bad = bad || put(j, "rate", float_json(l->rate));
        }
    }
    if (!bad && json_object_set(a, "layers", layers) != 0) bad = 1;
    json_decref(layers);
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *compile_json(const ds_model *m)
{
    const ds_compile_config *c = &m->compile;
    json_t *j = json_object(), *loss = json_object(), *metrics = json_array();
    char buf[4096];
    int bad = !j || !loss || !metrics;
    bad = bad || put(loss, "name", json_string(ds_loss_kind_name(c->loss.kind)));
    bad = bad || put(loss, "delta", float_json(c->loss.delta));
    bad = bad || put(loss, "label_smoothing", float_json(c->loss.label_smoothing));
    ds_optimizer_str(&c->optimizer, buf, sizeof buf);
    bad = bad || strlen(buf) + 1 >= sizeof buf; /* never for a valid optimizer */
    for (int i = 0; i < c->n_metrics && !bad; i++)
        bad = json_array_append_new(metrics, json_string(ds_metric_kind_name(c->metrics[i])));
    if (!bad) {
        bad = json_object_set(j, "loss", loss) != 0;
        bad = bad || put(j, "optimizer", json_string(buf));
        bad = bad || json_object_set(j, "metrics", metrics) != 0;
    }
    json_decref(loss);
    json_decref(metrics);
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *optimizer_state_json(const ds_model *m)
{
    json_t *j = json_object();
    int bad = !j;
    bad = bad || put(j, "iterations", json_integer((json_int_t)m->opt.iterations));
    bad = bad || put(j, "nadam_prod", json_real(m->opt.nadam_prod));
    bad = bad || put(j, "lr_scale", json_real(m->opt.lr_scale));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Dumps v (taking it) as compact JSON text into md[key]. Reals keep `digits`
 * significant digits (9 for float32 settings, 17 for double counters). */
static int put_text(json_t *md, const char *key, json_t *v, int digits)
{
    if (!v) return 1;
    char *text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(digits));
    json_decref(v);
    if (!text) return 1;
    int bad = put(md, key, json_string(text));
    free(text);
    return bad;
}

static int is_reserved(const char *key)
{
    for (size_t i = 0; i < sizeof reserved_keys / sizeof reserved_keys[0]; i++)
        if (strcmp(key, reserved_keys[i]) == 0) return 1;
    return 0;
}

static ds_status build_metadata(const ds_model *m, const ds_save_options *o, json_t **out,
                                ds_error *err)
{
    *out = NULL;
    json_t *md = json_object();
    char version[16];
    snprintf(version, sizeof version, "%d", DS_MODEL_FORMAT_VERSION);
    int bad = !md;
    bad = bad || put(md, "format", json_string(FORMAT_NAME));
    bad = bad || put(md, "format_version", json_string(version));
    bad = bad || put(md, "descent_version", json_string(DS_VERSION_STRING));
    bad = bad || put_text(md, "architecture", architecture_json(m), 9);
    if (m->compiled) bad = bad || put_text(md, "compile", compile_json(m), 9);
    if (o->include_optimizer)
        bad = bad || put_text(md, "optimizer_state", optimizer_state_json(m), 17);
    if (bad) {
        json_decref(md);
        return ds_fail(err, DS_ERR_NOMEM, "save: out of memory");
    }
    const ds_metadata *x = o->extra;
    for (int i = 0; x && i < x->n; i++) {
        const char *k = x->keys[i], *v = x->values[i];
        ds_status s = DS_OK;
        if (!k || !v) s = ds_fail(err, DS_ERR_ARG, "save: metadata entry %d is NULL", i);
        else if (is_reserved(k))
            s = ds_fail(err, DS_ERR_ARG, "save: metadata key '%s' is reserved for descent", k);
        else {
            json_t *jk = json_string(k), *jv = jk ? json_string(v) : NULL;
            char t[72];
            if (!jk) s = ds_fail(err, DS_ERR_ARG, "save: metadata key %d is not valid UTF-8", i);
            else if (!jv)
                s = ds_fail(err, DS_ERR_ARG, "save: metadata value of '%s' is not valid UTF-8",
                            ds_st_printable(k, t, sizeof t));
            else if (json_object_set_new(md, k, jv) != 0)
                s = ds_fail(err, DS_ERR_NOMEM, "save: out of memory");
            json_decref(jk);
        }
        if (s) {
            json_decref(md);
            return s;
        }
    }
    *out = md;
    return DS_OK;
}

ds_status ds_model_save_fp(const ds_model *m, FILE *f, const ds_save_options *opt,
                           ds_error *err)
{
    if (!m || !f) return ds_fail(err, DS_ERR_ARG, "save: NULL argument");
    ds_save_options o = opt ? *opt : ds_save_defaults();
    if (!m->built) return ds_fail(err, DS_ERR_STATE, "save: the model is not built");
    if (o.include_optimizer && !m->compiled)
        return ds_fail(err, DS_ERR_STATE, "save: include_optimizer needs a compiled model");
    /* never write a file that loading would refuse */
    if (m->n_layers > MAX_LAYERS)
        return ds_fail(err, DS_ERR_ARG, "save: %d layers; model files hold at most %d",
                       m->n_layers, MAX_LAYERS);
    if (m->n_inputs > MAX_UNITS)
        return ds_fail(err, DS_ERR_ARG, "save: %d inputs; model files hold at most %d",
                       m->n_inputs, MAX_UNITS);
    for (int k = 0; k < m->n_layers; k++)
        if (m->layers[k].n_out > MAX_UNITS)
            return ds_fail(err, DS_ERR_ARG, "save: layer %d has %d units; model files hold at "
                           "most %d", k, m->layers[k].n_out, MAX_UNITS);
    if ((uint64_t)m->n_params > MAX_PARAMS)
        return ds_fail(err, DS_ERR_ARG, "save: %zu parameters; model files hold at most %llu",
                       m->n_params, (unsigned long long)MAX_PARAMS);
    json_t *md;
    ds_status s = build_metadata(m, &o, &md, err);
    if (s) return s;
    /* tensors: each dense layer's kernel and bias in arena order, then the slots */
    int cap = 2 * m->n_layers + 3, n = 0;
    ds_st_out *t = malloc(sizeof *t * (size_t)cap);
    char (*names)[40] = malloc(sizeof *names * (size_t)cap);
    if (!t || !names) {
        free(t);
        free(names);
        json_decref(md);
        return ds_fail(err, DS_ERR_NOMEM, "save: out of memory");
    }
    for (int k = 0; k < m->n_layers; k++) {
        const ds_layer *l = &m->layers[k];
        if (l->kind != DS_LAYER_DENSE) continue;
        snprintf(names[n], sizeof names[n], "layers.%d.kernel", k);
        t[n] = (ds_st_out){names[n], 2, {(uint64_t)l->n_in, (uint64_t)l->n_out},
                           m->params + l->w_off};
        n++;
        if (l->b_off >= 0) {
            snprintf(names[n], sizeof names[n], "layers.%d.bias", k);
            t[n] = (ds_st_out){names[n], 1, {(uint64_t)l->n_out, 0}, m->params + l->b_off};
            n++;
        }
    }
    for (int i = 0; i < 3 && o.include_optimizer; i++) {
        if (!m->opt.slot[i]) continue;
        snprintf(names[n], sizeof names[n], "optimizer.slot%d", i);
        t[n] = (ds_st_out){names[n], 1, {(uint64_t)m->n_params, 0}, m->opt.slot[i]};
        n++;
    }
    s = ds_st_write(f, t, n, md, err);
    json_decref(md);
    free(t);
    free(names);
    return s;
}

static ds_status io_fail(ds_error *err, const char *what, const char *path)
{
    return ds_fail(err, DS_ERR_IO, "%s '%.400s': %s", what, path, strerror(errno));
}

/* fsync the folder that holds path, so that the rename itself is durable. Best effort:
 * some file systems refuse to sync a folder. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash && slash != path && (dir = malloc((size_t)(slash - path) + 1))) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    const char *d = !slash ? "." : slash == path ? "/" : dir;
    int fd = d ? open(d, O_RDONLY) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

ds_status ds_model_save(const ds_model *m, const char *path, const ds_save_options *opt,
                        ds_error *err)
{
    if (!m || !path) return ds_fail(err, DS_ERR_ARG, "save: NULL argument");
    size_t len = strlen(path);
    char *tmp = malloc(len + 8);
    if (!tmp) return ds_fail(err, DS_ERR_NOMEM, "save: out of memory");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ds_status s = io_fail(err, "save: cannot create a temporary file next to", path);
        free(tmp);
        return s;
    }
    ds_status s = DS_OK;
    /* mkstemp makes the file 0600; a model file is an ordinary file others may read */
    if (fchmod(fd, 0644) != 0) s = io_fail(err, "save: cannot set the mode of", tmp);
    FILE *f = s ? NULL : fdopen(fd, "wb");
    if (!s && !f) s = io_fail(err, "save: cannot open", tmp);
    if (!f) close(fd);
    if (!s) s = ds_model_save_fp(m, f, opt, err);
    if (!s && fflush(f) != 0) s = io_fail(err, "save: cannot write", tmp);
    if (!s && fsync(fileno(f)) != 0 && errno != EINVAL) s = io_fail(err, "save: cannot sync", tmp);
    if (f && fclose(f) != 0 && !s) s = io_fail(err, "save: cannot write", tmp);
    if (!s && rename(tmp, path) != 0) s = io_fail(err, "save: cannot rename the temporary file to",
                                                  path);
    if (s) unlink(tmp);
    else sync_parent(path);
    free(tmp);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* loading: the JSON texts */

/* Messages for a JSON field name it by its path, e.g. "architecture.layers[2].units". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static ds_status bad(ds_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        char msg[DS_ERROR_MESSAGE_SIZE];
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        ds_fail(err, DS_ERR_FORMAT, "model file: %s", msg);
    }
    return DS_ERR_FORMAT;
}

/* Passes on a failure of a library call (a parse, a check) as DS_ERR_FORMAT prefixed
 * with where it happened; out of memory stays out of memory. */
static ds_status wrap(ds_error *err, ds_status s, const char *where)
{
    if (!s) return s;
    if (err) {
        /* the inner message may quote the file's text: keep it on one line */
        char inner[DS_ERROR_MESSAGE_SIZE], line[DS_ERROR_MESSAGE_SIZE];
        snprintf(inner, sizeof inner, "%s", err->message);
        ds_st_printable(inner, line, sizeof line);
        ds_fail(err, s == DS_ERR_NOMEM ? s : DS_ERR_FORMAT, "model file: %s: %s", where, line);
    }
    return s == DS_ERR_NOMEM ? s : DS_ERR_FORMAT;
}

static ds_status parse_json_text(const char *text, const char *what, json_t **out,
                                 ds_error *err)
{
    json_error_t je;
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        ds_st_ascii(je.text);
        return bad(err, "%s is not valid JSON: %s (byte %d)", what, je.text, je.position);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return bad(err, "%s is not a JSON object", what);
    }
    return DS_OK;
}

/* Rejects keys outside `known` (NULL-terminated): within a format version every key is
 * known, so a stray one means a damaged file or one this reader would misread. */
static ds_status check_keys(json_t *o, const char *where, const char *const *known,
                            ds_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            char k[48];
            return bad(err, "%s: unknown key '%s'", where, ds_st_printable(key, k, sizeof k));
        }
    }
    return DS_OK;
}

static ds_status get_field(json_t *o, const char *where, const char *key, json_t **v,
                           ds_error *err)
{
    *v = json_object_get(o, key);
    if (!*v) return bad(err, "%s: no \"%s\"", where, key);
    return DS_OK;
}

static ds_status get_int(json_t *o, const char *where, const char *key, long long lo,
                         long long hi, long long *out, ds_error *err)
{
    json_t *v;
    ds_status s = get_field(o, where, key, &v, err);
    if (s) return s;
    if (!json_is_integer(v)) return bad(err, "%s.%s is not an integer", where, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return bad(err, "%s.%s = %lld is out of range [%lld, %lld]", where, key, x, lo, hi);
    *out = x;
    return DS_OK;
}

/* A number within [lo, hi] (bounds inclusive; hi_open makes the top exclusive). */
static ds_status get_num(json_t *o, const char *where, const char *key, double lo, double hi,
                         int hi_open, double *out, ds_error *err)
{
    json_t *v;
    ds_status s = get_field(o, where, key, &v, err);
    if (s) return s;
    if (!json_is_number(v)) return bad(err, "%s.%s is not a number", where, key);
    double x = json_number_value(v);
    if (!(x >= lo && (hi_open ? x < hi : x <= hi)))
        return bad(err, "%s.%s = %g is out of range [%g, %g%s", where, key, x, lo, hi,
                   hi_open ? ")" : "]");
    *out = x;
    return DS_OK;
}

static ds_status get_str(json_t *o, const char *where, const char *key, const char **out,
                         ds_error *err)
{
    json_t *v;
    ds_status s = get_field(o, where, key, &v, err);
    if (s) return s;
    if (!json_is_string(v)) return bad(err, "%s.%s is not a string", where, key);
    *out = json_string_value(v);
    return DS_OK;
}

static ds_status get_bool(json_t *o, const char *where, const char *key, int *out,
                          ds_error *err)
{
    json_t *v;
    ds_status s = get_field(o, where, key, &v, err);
    if (s) return s;
    if (!json_is_boolean(v)) return bad(err, "%s.%s is not true or false", where, key);
    *out = json_is_true(v);
    return DS_OK;
}

/* What the architecture entry describes, checked and bounded. */
typedef struct {
    int n_inputs;
    ds_keras_version keras;
    uint64_t seed;
    int n_layers;
    ds_layer *layers; /* kind, n_in, n_out, dense or rate; names are the model's own */
    uint64_t n_params;
} arch_info;

static ds_status parse_seed(const char *s, uint64_t *out, ds_error *err)
{
    uint64_t v = 0;
    char t[40];
    if (!*s || strlen(s) > 20)
        return bad(err, "architecture.seed '%s' is not a seed", ds_st_printable(s, t, sizeof t));
    for (const char *p = s; *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return bad(err, "architecture.seed '%s' is not an unsigned 64-bit integer",
                       ds_st_printable(s, t, sizeof t));
        v = v * 10 + d;
    }
    *out = v;
    return DS_OK;
}

static ds_status parse_layer(json_t *j, const char *where, int n_in, ds_layer *l,
                             ds_error *err)
{
    static const char *const dense_keys[] = {"kind", "name", "units", "activation", "use_bias",
                                             "kernel_initializer", "bias_initializer", NULL};
    static const char *const dropout_keys[] = {"kind", "name", "rate", NULL};
    memset(l, 0, sizeof *l);
    if (!json_is_object(j)) return bad(err, "%s is not an object", where);
    const char *kind, *text;
    ds_status s = get_str(j, where, "kind", &kind, err);
    if (s) return s;
    json_t *name = json_object_get(j, "name");
    if (name && !json_is_string(name)) return bad(err, "%s.name is not a string", where);
    char ctx[96];
    l->n_in = n_in;
    if (strcmp(kind, "dense") == 0) {
        l->kind = DS_LAYER_DENSE;
        if ((s = check_keys(j, where, dense_keys, err))) return s;
        long long units;
        if ((s = get_int(j, where, "units", 1, MAX_UNITS, &units, err))) return s;
        ds_dense_config *c = &l->dense;
        *c = ds_dense_defaults((int)units);
        l->n_out = (int)units;
        if ((s = get_str(j, where, "activation", &text, err))) return s;
        snprintf(ctx, sizeof ctx, "%s.activation", where);
        if ((s = wrap(err, ds_activation_parse(text, &c->activation, err), ctx))) return s;
        if ((s = get_bool(j, where, "use_bias", &c->use_bias, err))) return s;
        if ((s = get_str(j, where, "kernel_initializer", &text, err))) return s;
        snprintf(ctx, sizeof ctx, "%s.kernel_initializer", where);
        if ((s = wrap(err, ds_initializer_parse(text, &c->kernel_initializer, err), ctx)))
            return s;
        if ((s = get_str(j, where, "bias_initializer", &text, err))) return s;
        snprintf(ctx, sizeof ctx, "%s.bias_initializer", where);
        if ((s = wrap(err, ds_initializer_parse(text, &c->bias_initializer, err), ctx))) return s;
        return DS_OK;
    }
    if (strcmp(kind, "dropout") == 0) {
        l->kind = DS_LAYER_DROPOUT;
        if ((s = check_keys(j, where, dropout_keys, err))) return s;
        double rate;
        if ((s = get_num(j, where, "rate", 0.0, 1.0, 1, &rate, err))) return s;
        l->rate = (float)rate;
        if (!(l->rate < 1.0f)) return bad(err, "%s.rate = %.17g rounds to 1", where, rate);
        l->n_out = n_in;
        return DS_OK;
    }
    char k[32];
    return bad(err, "%s.kind '%s' is not a layer descent knows (dense, dropout)", where,
               ds_st_printable(kind, k, sizeof k));
}

static ds_status parse_architecture(const char *text, arch_info *a, ds_error *err)
{
    static const char *const keys[] = {"n_inputs", "keras_version", "seed", "layers", NULL};
    memset(a, 0, sizeof *a);
    json_t *j;
    ds_status s = parse_json_text(text, "architecture", &j, err);
    if (s) return s;
    long long v;
    const char *seed;
    json_t *layers;
    if ((s = check_keys(j, "architecture", keys, err))) goto done;
    if ((s = get_int(j, "architecture", "n_inputs", 1, MAX_UNITS, &v, err))) goto done;
    a->n_inputs = (int)v;
    if ((s = get_int(j, "architecture", "keras_version", 2, 3, &v, err))) goto done;
    a->keras = v == 3 ? DS_KERAS_3 : DS_KERAS_2;
    if ((s = get_str(j, "architecture", "seed", &seed, err))) goto done;
    if ((s = parse_seed(seed, &a->seed, err))) goto done;
    if ((s = get_field(j, "architecture", "layers", &layers, err))) goto done;
    size_t n = json_array_size(layers);
    if (!json_is_array(layers) || n < 1 || n > MAX_LAYERS) {
        s = bad(err, "architecture.layers must be an array of 1 to %d layers", MAX_LAYERS);
        goto done;
    }
    a->layers = calloc(n, sizeof *a->layers);
    if (!a->layers) {
        s = ds_fail(err, DS_ERR_NOMEM, "model file: out of memory");
        goto done;
    }
    int width = a->n_inputs, n_dense = 0;
    for (size_t k = 0; k < n; k++) {
        char where[48];
        snprintf(where, sizeof where, "architecture.layers[%zu]", k);
        ds_layer *l = &a->layers[k];
        if ((s = parse_layer(json_array_get(layers, k), where, width, l, err))) goto done;
        a->n_layers++;
        width = l->n_out;
        if (l->kind != DS_LAYER_DENSE) continue;
        n_dense++;
        /* at most 2^24 * 2^24 + 2^24 per layer and 1024 layers: no overflow in 64 bits */
        a->n_params += (uint64_t)l->n_in * (uint64_t)l->n_out +
                       (l->dense.use_bias ? (uint64_t)l->n_out : 0);
        if (a->n_params > MAX_PARAMS) {
            s = bad(err, "architecture: more than %llu parameters (at layer %zu)",
                    (unsigned long long)MAX_PARAMS, k);
            goto done;
        }
    }
    if (n_dense == 0) s = bad(err, "architecture: no dense layer");
done:
    json_decref(j);
    if (s) {
        free(a->layers);
        a->layers = NULL;
    }
    return s;
}

static ds_status parse_compile(const char *text, ds_compile_config *c, ds_error *err)
{
    static const char *const keys[] = {"loss", "optimizer", "metrics", NULL};
    static const char *const loss_keys[] = {"name", "delta", "label_smoothing", NULL};
    *c = ds_compile_defaults();
    json_t *j;
    ds_status s = parse_json_text(text, "compile", &j, err);
    if (s) return s;
    json_t *loss, *metrics;
    const char *name;
    double x;
    if ((s = check_keys(j, "compile", keys, err))) goto done;
    if ((s = get_field(j, "compile", "loss", &loss, err))) goto done;
    if (!json_is_object(loss)) {
        s = bad(err, "compile.loss is not an object");
        goto done;
    }
    if ((s = check_keys(loss, "compile.loss", loss_keys, err))) goto done;
    if ((s = get_str(loss, "compile.loss", "name", &name, err))) goto done;
    ds_loss_kind lk;
    if (ds_loss_kind_parse(name, &lk)) {
        char t[48];
        s = bad(err, "compile.loss.name '%s' is not a loss descent knows",
                ds_st_printable(name, t, sizeof t));
        goto done;
    }
    c->loss = ds_loss_defaults(lk);
    if ((s = get_num(loss, "compile.loss", "delta", 0.0, (double)FLT_MAX, 0, &x, err))) goto done;
    c->loss.delta = (float)x;
    if ((s = get_num(loss, "compile.loss", "label_smoothing", 0.0, 1.0, 0, &x, err))) goto done;
    c->loss.label_smoothing = (float)x;
    if ((s = get_str(j, "compile", "optimizer", &name, err))) goto done;
    if ((s = wrap(err, ds_optimizer_parse(name, &c->optimizer, err), "compile.optimizer")))
        goto done;
    if ((s = get_field(j, "compile", "metrics", &metrics, err))) goto done;
    if (!json_is_array(metrics) || json_array_size(metrics) > 4) {
        s = bad(err, "compile.metrics must be an array of at most 4 names");
        goto done;
    }
    c->n_metrics = (int)json_array_size(metrics);
    for (int i = 0; i < c->n_metrics; i++) {
        json_t *mv = json_array_get(metrics, (size_t)i);
        if (!json_is_string(mv) || ds_metric_kind_parse(json_string_value(mv), &c->metrics[i])) {
            s = bad(err, "compile.metrics[%d] is not a metric descent knows", i);
            goto done;
        }
    }
done:
    json_decref(j);
    return s;
}

typedef struct {
    long long iterations;
    double nadam_prod, lr_scale;
} state_info;

static ds_status parse_state(const char *text, state_info *st, ds_error *err)
{
    static const char *const keys[] = {"iterations", "nadam_prod", "lr_scale", NULL};
    json_t *j;
    ds_status s = parse_json_text(text, "optimizer_state", &j, err);
    if (s) return s;
    const char *w = "optimizer_state";
    if (!(s = check_keys(j, w, keys, err)) &&
        !(s = get_int(j, w, "iterations", 0, INT64_MAX, &st->iterations, err)) &&
        !(s = get_num(j, w, "nadam_prod", 0.0, 1.0, 0, &st->nadam_prod, err)))
        s = get_num(j, w, "lr_scale", 0.0, 1.0, 0, &st->lr_scale, err);
    json_decref(j);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* loading: matching tensors to the architecture */

enum { T_KERNEL = 0, T_BIAS = 1 };

/* "layers.K.kernel" / "layers.K.bias" (K without leading zeros) -> 0 with *layer, *what;
 * "optimizer.slotS" (S in 0..2) -> 1 with *slot; otherwise -1. */
static int classify(const char *s, int *layer, int *what, int *slot)
{
    if (strncmp(s, "optimizer.slot", 14) == 0 && s[14] >= '0' && s[14] <= '2' && !s[15]) {
        *slot = s[14] - '0';
        return 1;
    }
    if (strncmp(s, "layers.", 7) != 0) return -1;
    const char *p = s + 7;
    long k = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits == 6) return -1;
        k = 10 * k + (*p - '0');
    }
    if (digits == 0 || (digits > 1 && s[7] == '0')) return -1;
    if (strcmp(p, ".kernel") == 0) *what = T_KERNEL;
    else if (strcmp(p, ".bias") == 0) *what = T_BIAS;
    else return -1;
    *layer = (int)k;
    return 0;
}

static const char *shape_text(char *buf, size_t size, const ds_st_tensor *t)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%llu", i ? ", " : "",
                                (unsigned long long)t->shape[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

static ds_status check_shape(const ds_st_tensor *t, uint64_t d0, uint64_t d1, int rank,
                             ds_error *err)
{
    if (t->rank == rank && t->shape[0] == d0 && (rank == 1 || t->shape[1] == d1)) return DS_OK;
    char got[DS_ST_MAX_RANK * 24], want[48], nm[80];
    if (rank == 2)
        snprintf(want, sizeof want, "[%llu, %llu]", (unsigned long long)d0,
                 (unsigned long long)d1);
    else snprintf(want, sizeof want, "[%llu]", (unsigned long long)d0);
    return bad(err, "tensor '%s' has shape %s, expected %s",
               ds_st_printable(t->name, nm, sizeof nm), shape_text(got, sizeof got, t), want);
}

/* Which tensor holds each layer's kernel and bias (-1: none) and each optimizer slot. */
typedef struct {
    int *kernel, *bias;
    int slot[3];
} tensor_map;

static ds_status match_tensors(const ds_st_file *f, const arch_info *a, int have_state,
                               tensor_map *tm, ds_error *err)
{
    tm->slot[0] = tm->slot[1] = tm->slot[2] = -1;
    for (int k = 0; k < a->n_layers; k++) tm->kernel[k] = tm->bias[k] = -1;
    for (int i = 0; i < f->n_tensors; i++) {
        const ds_st_tensor *t = &f->tensors[i];
        int layer = 0, what = 0, slot = 0;
        int c = classify(t->name, &layer, &what, &slot);
        char nm[80];
        ds_st_printable(t->name, nm, sizeof nm);
        if (c < 0) return bad(err, "unknown tensor '%s'", nm);
        if (c == 1) {
            if (!have_state)
                return bad(err, "tensor '%s' without an optimizer_state entry", nm);
            ds_status s = check_shape(t, a->n_params, 0, 1, err);
            if (s) return s;
            tm->slot[slot] = i;
            continue;
        }
        if (layer >= a->n_layers)
            return bad(err, "unknown tensor '%s' (the architecture has %d layers)", nm,
                       a->n_layers);
        const ds_layer *l = &a->layers[layer];
        if (l->kind != DS_LAYER_DENSE)
            return bad(err, "unknown tensor '%s' (layer %d is a dropout layer)", nm, layer);
        if (what == T_BIAS && !l->dense.use_bias)
            return bad(err, "unknown tensor '%s' (layer %d has use_bias false)", nm, layer);
        ds_status s = what == T_KERNEL
                          ? check_shape(t, (uint64_t)l->n_in, (uint64_t)l->n_out, 2, err)
                          : check_shape(t, (uint64_t)l->n_out, 0, 1, err);
        if (s) return s;
        if (what == T_KERNEL) tm->kernel[layer] = i;
        else tm->bias[layer] = i;
    }
    for (int k = 0; k < a->n_layers; k++) {
        const ds_layer *l = &a->layers[k];
        if (l->kind != DS_LAYER_DENSE) continue;
        if (tm->kernel[k] < 0)
            return bad(err, "tensor 'layers.%d.kernel' is missing (expected shape [%d, %d])", k,
                       l->n_in, l->n_out);
        if (l->dense.use_bias && tm->bias[k] < 0)
            return bad(err, "tensor 'layers.%d.bias' is missing (expected shape [%d])", k,
                       l->n_out);
    }
    return DS_OK;
}

/* ---------------------------------------------------------------------------------- */
/* loading: rebuilding the model */

/* Creates, builds and compiles the model the architecture describes. The build runs with
 * zeros initializers, since the file's values replace every initial value anyway (this
 * also skips the work of an orthogonal initializer); the recorded initializers are put
 * back into the layers afterwards. */
static ds_status rebuild(const arch_info *a, const ds_compile_config *cc, ds_model **out,
                         ds_error *err)
{
    ds_model *m = NULL;
    ds_status s = wrap(err, ds_model_create(&m, a->n_inputs, err), "architecture");
    for (int k = 0; k < a->n_layers && !s; k++) {
        const ds_layer *l = &a->layers[k];
        s = l->kind == DS_LAYER_DENSE ? ds_model_add_dense(m, &l->dense, err)
                                      : ds_model_add_dropout(m, l->rate, err);
        s = wrap(err, s, "architecture");
    }
    if (!s) {
        ds_model_set_keras_version(m, a->keras);
        ds_initializer zeros = ds_initializer_defaults(DS_INIT_ZEROS);
        for (int k = 0; k < m->n_layers; k++)
            if (m->layers[k].kind == DS_LAYER_DENSE)
                m->layers[k].dense.kernel_initializer = m->layers[k].dense.bias_initializer = zeros;
        s = wrap(err, ds_model_build(m, a->seed, err), "architecture");
        for (int k = 0; k < m->n_layers; k++) {
            if (m->layers[k].kind != DS_LAYER_DENSE) continue;
            m->layers[k].dense.kernel_initializer = a->layers[k].dense.kernel_initializer;
            m->layers[k].dense.bias_initializer = a->layers[k].dense.bias_initializer;
        }
    }
    if (!s && cc) s = wrap(err, ds_model_compile(m, cc, err), "compile");
    if (s) {
        ds_model_free(m);
        return s;
    }
    *out = m;
    return DS_OK;
}

static const char *meta_get(const ds_st_file *f, const char *key)
{
    json_t *v = f->metadata ? json_object_get(f->metadata, key) : NULL;
    return v ? json_string_value(v) : NULL; /* every value was checked to be a string */
}

static ds_status check_format(const ds_st_file *f, ds_error *err)
{
    if (!f->metadata) return bad(err, "no __metadata__: not a descent model file");
    const char *fmt = meta_get(f, "format");
    if (!fmt) return bad(err, "no \"format\" entry in __metadata__: not a descent model file");
    char t[48];
    if (strcmp(fmt, FORMAT_NAME) != 0)
        return bad(err, "format is '%s', not '" FORMAT_NAME "'", ds_st_printable(fmt, t, sizeof t));
    const char *v = meta_get(f, "format_version");
    if (!v) return bad(err, "no \"format_version\" entry in __metadata__");
    long version = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && p - v < 9; p++) version = 10 * version + (*p - '0');
    if (p == v || *p || version < 1)
        return bad(err, "format_version '%s' is not a version number",
                   ds_st_printable(v, t, sizeof t));
    if (version > DS_MODEL_FORMAT_VERSION)
        return bad(err, "made by a newer descent (format version %ld > %d)", version,
                   DS_MODEL_FORMAT_VERSION);
    return DS_OK;
}

ds_status ds_model_load_buffer(ds_model **out, const void *data, size_t size,
                               ds_metadata *meta, ds_error *err)
{
    if (!out) return ds_fail(err, DS_ERR_ARG, "load: out is NULL");
    *out = NULL;
    ds_st_file f;
    ds_status s = ds_st_parse(&f, data, size, err);
    if (s) return s;
    arch_info a;
    memset(&a, 0, sizeof a);
    ds_compile_config cc = ds_compile_defaults();
    state_info st = {0, 1.0, 1.0};
    tensor_map tm = {NULL, NULL, {-1, -1, -1}};
    ds_model *m = NULL;
    const char *text;
    if ((s = check_format(&f, err))) goto done;
    if (!(text = meta_get(&f, "architecture"))) {
        s = bad(err, "no \"architecture\" entry in __metadata__");
        goto done;
    }
    if ((s = parse_architecture(text, &a, err))) goto done;
    const char *compile_text = meta_get(&f, "compile");
    const char *state_text = meta_get(&f, "optimizer_state");
    if (compile_text && (s = parse_compile(compile_text, &cc, err))) goto done;
    if (state_text && !compile_text) {
        s = bad(err, "an optimizer_state entry without a compile entry");
        goto done;
    }
    if (state_text && (s = parse_state(state_text, &st, err))) goto done;
    tm.kernel = malloc(sizeof(int) * (size_t)a.n_layers);
    tm.bias = malloc(sizeof(int) * (size_t)a.n_layers);
    if (!tm.kernel || !tm.bias) {
        s = ds_fail(err, DS_ERR_NOMEM, "model file: out of memory");
        goto done;
    }
    if ((s = match_tensors(&f, &a, state_text != NULL, &tm, err))) goto done;
    if ((s = rebuild(&a, compile_text ? &cc : NULL, &m, err))) goto done;
    /* the optimizer's slots must be exactly the ones in the file */
    for (int i = 0; i < 3 && state_text; i++) {
        const char *name = ds_opt_kind_name(m->opt.cfg.kind);
        if (m->opt.slot[i] && tm.slot[i] < 0) {
            s = bad(err, "tensor 'optimizer.slot%d' is missing (%s keeps slot %d)", i, name, i);
            goto done;
        }
        if (!m->opt.slot[i] && tm.slot[i] >= 0) {
            s = bad(err, "unknown tensor 'optimizer.slot%d' (%s keeps no slot %d)", i, name, i);
            goto done;
        }
    }
    for (int k = 0; k < a.n_layers; k++) {
        const ds_layer *l = &m->layers[k];
        if (l->kind != DS_LAYER_DENSE) continue;
        const ds_st_tensor *t = &f.tensors[tm.kernel[k]];
        ds_st_read_f32(m->params + l->w_off, f.data + t->begin, (size_t)l->n_in * (size_t)l->n_out);
        if (l->b_off >= 0) {
            t = &f.tensors[tm.bias[k]];
            ds_st_read_f32(m->params + l->b_off, f.data + t->begin, (size_t)l->n_out);
        }
    }
    if (state_text) {
        for (int i = 0; i < 3; i++)
            if (m->opt.slot[i])
                ds_st_read_f32(m->opt.slot[i], f.data + f.tensors[tm.slot[i]].begin, m->n_params);
        m->opt.iterations = (int64_t)st.iterations;
        m->opt.nadam_prod = st.nadam_prod;
        m->opt.lr_scale = st.lr_scale;
    }
    if (meta) {
        const char *key;
        json_t *v;
        json_object_foreach(f.metadata, key, v) {
            if ((s = ds_metadata_set(meta, key, json_string_value(v), err))) goto done;
        }
    }
done:
    free(tm.kernel);
    free(tm.bias);
    free(a.layers);
    ds_st_free(&f);
    if (s) ds_model_free(m);
    else *out = m;
    if (s && err) /* every message is one line, whatever text from the file it quotes */
        for (char *p = err->message; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return s;
}

/* Reads the rest of f into a buffer of its own. */
static ds_status read_all(FILE *f, unsigned char **out, size_t *size, ds_error *err)
{
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return ds_fail(err, DS_ERR_NOMEM, "load: out of memory");
    for (;;) {
        if (len == cap) {
            unsigned char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                return ds_fail(err, DS_ERR_NOMEM, "load: out of memory reading the file");
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return ds_fail(err, DS_ERR_IO, "load: read error");
    }
    *out = buf;
    *size = len;
    return DS_OK;
}

ds_status ds_model_load_fp(ds_model **out, FILE *f, ds_metadata *meta, ds_error *err)
{
    if (!out) return ds_fail(err, DS_ERR_ARG, "load: out is NULL");
    *out = NULL;
    if (!f) return ds_fail(err, DS_ERR_ARG, "load: NULL stream");
    unsigned char *buf = NULL;
    size_t size = 0;
    ds_status s = read_all(f, &buf, &size, err);
    if (s) return s;
    s = ds_model_load_buffer(out, buf, size, meta, err);
    free(buf);
    return s;
}

ds_status ds_model_load(ds_model **out, const char *path, ds_metadata *meta, ds_error *err)
{
    if (!out) return ds_fail(err, DS_ERR_ARG, "load: out is NULL");
    *out = NULL;
    if (!path) return ds_fail(err, DS_ERR_ARG, "load: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return io_fail(err, "load: cannot open", path);
    ds_status s = ds_model_load_fp(out, f, meta, err);
    fclose(f);
    if (s && err) { /* name the file */
        char inner[DS_ERROR_MESSAGE_SIZE];
        snprintf(inner, sizeof inner, "%s", err->message);
        ds_fail(err, s, "%.200s: %s", path, inner);
    }
    return s;
}
