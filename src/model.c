/*
 * model.c - the sequential model: layers, the parameter arena, forward and backward
 * passes over a batch, and Keras's model.summary().
 *
 * Parameters live in one contiguous arena (layer by layer: kernel (I,O) row-major, then
 * bias (O)); gradients mirror it, and so does every optimizer slot, so an optimizer
 * step is one loop over flat arrays and saving is one block. Work buffers for
 * activations are sized for the largest batch seen and reused: once fit has reserved
 * its batch size, a training step allocates nothing.
 *
 * Backward runs exactly the reverse of forward, seeded with the gradient of the mean
 * batch loss, and adds (+=) into the gradient arena; ds_model_zero_grad is separate.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------- */
/* creation and layers */

ds_status ds_model_create(ds_model **out, int n_inputs, ds_error *err)
{
    if (!out) return ds_fail(err, DS_ERR_ARG, "model: out is NULL");
    *out = NULL;
    if (n_inputs < 1)
        return ds_fail(err, DS_ERR_ARG, "model: n_inputs=%d must be >= 1", n_inputs);
    ds_kernel kernel;
    ds_status s = ds_kernel_from_env(&kernel, err);
    if (s) return s;
    int skip_zeros = 1;
    const char *sz = getenv("DESCENT_SKIP_ZEROS");
    if (sz && *sz) {
        if (strcmp(sz, "0") && strcmp(sz, "1"))
            return ds_fail(err, DS_ERR_ARG, "DESCENT_SKIP_ZEROS=%s: expected 0 or 1", sz);
        skip_zeros = sz[0] == '1';
    }
    ds_model *m = calloc(1, sizeof *m);
    if (!m) return ds_fail(err, DS_ERR_NOMEM, "model: out of memory");
    m->n_inputs = n_inputs;
    m->keras = DS_KERAS_2;
    ds_model_set_kernel(m, kernel, NULL);
    m->exec.skip_zeros = skip_zeros;
    *out = m;
    return DS_OK;
}

static ds_status alloc_pack(ds_model *m, int threads, ds_error *err);

ds_status ds_model_set_kernel(ds_model *m, ds_kernel k, ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "kernel: NULL model");
    const ds_dense_kernels *kern = ds_dense_kernels_for(k);
    if (!kern)
        return ds_fail(err, DS_ERR_ARG, "kernel: %s is not available here (best: %s)",
                       ds_kernel_name(k), ds_kernel_name(ds_kernel_best()));
    m->kernel = kern->kind;
    m->exec.kern = kern;
    return DS_OK;
}

ds_kernel ds_model_kernel(const ds_model *m) { return m->kernel; }

ds_status ds_model_set_skip_zeros(ds_model *m, int on, ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "skip zeros: NULL model");
    m->exec.skip_zeros = on != 0;
    return DS_OK;
}

int ds_model_skip_zeros(const ds_model *m) { return m ? m->exec.skip_zeros : 0; }

ds_status ds_model_set_threads(ds_model *m, int n, ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "threads: NULL model");
    if (n < 1 || n > DS_MAX_THREADS)
        return ds_fail(err, DS_ERR_ARG, "threads: %d is not in [1, %d]", n, DS_MAX_THREADS);
    if (n == ds_pool_threads(m->exec.pool)) return DS_OK;
    ds_pool *p = NULL;
    if (n > 1) {
        ds_status s = ds_pool_create(&p, n, err);
        if (s) return s;
    }
    ds_status s = alloc_pack(m, n, err); /* one scratch per thread */
    if (s) {
        ds_pool_free(p);
        return s;
    }
    ds_pool_free(m->exec.pool);
    m->exec.pool = p;
    return DS_OK;
}

int ds_model_threads(const ds_model *m) { return ds_pool_threads(m->exec.pool); }

static void free_work(ds_model *m)
{
    for (int k = 0; k < m->n_layers && m->z; k++) {
        free(m->z[k]);
        free(m->a[k]);
    }
    for (int k = 0; k < m->n_layers && m->sp; k++) ds_sparsity_free(m->sp[k]);
    free(m->z);
    free(m->a);
    free(m->d0);
    free(m->d1);
    free(m->dT);
    free(m->dT2);
    free(m->sp);
    free(m->exec.pack);
    free(m->exec.sparse);
    m->z = m->a = NULL;
    m->d0 = m->d1 = m->dT = m->dT2 = NULL;
    m->sp = NULL;
    m->exec.pack = NULL;
    m->exec.pack_stride = 0;
    m->exec.sparse = NULL;
    m->exec.sparse_stride = 0;
    m->cap_rows = 0;
}

/* Whether layer k may skip zero inputs with some kernel of this build (the zero-skipping
 * kernels exist for AVX-512 only). */
static int sparse_layer(const ds_model *m, int k)
{
#if defined(DS_HAVE_X86_KERNELS)
    const ds_layer *l = &m->layers[k];
    return l->kind == DS_LAYER_DENSE && ds_sparsity_shape(l->n_in, l->n_out);
#else
    (void)m;
    (void)k;
    return 0;
#endif
}

/* Scratch for the kernels to copy blocks of inp into (one per thread), when batches are
 * tall enough for it to pay (DS_PACK_MIN_ROWS). */
static ds_status alloc_pack(ds_model *m, int threads, ds_error *err)
{
    float *pack = NULL;
    size_t stride = 0;
    if (m->cap_rows >= DS_PACK_MIN_ROWS) {
        stride = ds_pack_floats(m->cap_rows);
        pack = malloc(sizeof(float) * stride * (size_t)threads);
        if (!pack) return ds_fail(err, DS_ERR_NOMEM, "model: out of memory for scratch");
    }
    size_t sstride = 0;
    float *sparse = NULL;
    for (int k = 0; k < m->n_layers && m->cap_rows > 0; k++)
        if (sparse_layer(m, k)) {
            size_t f = ds_sparse_scratch(m->cap_rows, m->layers[k].n_in, m->layers[k].n_out);
            if (f > sstride) sstride = f;
        }
    if (sstride) {
        sparse = malloc(sizeof(float) * sstride * (size_t)threads);
        if (!sparse) {
            free(pack);
            return ds_fail(err, DS_ERR_NOMEM, "model: out of memory for scratch");
        }
    }
    free(m->exec.pack); /* only now: on failure the old scratch stays */
    m->exec.pack = pack;
    m->exec.pack_stride = stride;
    free(m->exec.sparse);
    m->exec.sparse = sparse;
    m->exec.sparse_stride = sstride;
    return DS_OK;
}

void ds_model_free(ds_model *m)
{
    if (!m) return;
    free_work(m);
    ds_pool_free(m->exec.pool);
    free(m->layers);
    free(m->params);
    free(m->grads);
    free(m->scratch);
    free(m->tensors);
    ds_optim_free(&m->opt);
    free(m);
}

ds_dense_config ds_dense_defaults(int units)
{
    ds_dense_config c;
    c.units = units;
    c.activation = ds_activation_defaults(DS_ACT_LINEAR);
    c.use_bias = 1;
    c.kernel_initializer = ds_initializer_defaults(DS_INIT_GLOROT_UNIFORM);
    c.bias_initializer = ds_initializer_defaults(DS_INIT_ZEROS);
    return c;
}

/* The Keras-style name of a new layer: "dense", then "dense_1", "dense_2", ... */
static void name_layer(ds_model *m, ds_layer *l, const char *base)
{
    int count = 0;
    for (int k = 0; k < m->n_layers; k++)
        if (m->layers[k].kind == l->kind) count++;
    if (count == 0) snprintf(l->name, sizeof l->name, "%s", base);
    else snprintf(l->name, sizeof l->name, "%s_%d", base, count);
}

static ds_status push_layer(ds_model *m, const ds_layer *l, ds_error *err)
{
    if (m->built)
        return ds_fail(err, DS_ERR_STATE, "model: cannot add a layer after the model is built");
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 8;
        ds_layer *nl = realloc(m->layers, sizeof *nl * (size_t)cap);
        if (!nl) return ds_fail(err, DS_ERR_NOMEM, "model: out of memory");
        m->layers = nl;
        m->cap_layers = cap;
    }
    m->layers[m->n_layers++] = *l;
    return DS_OK;
}

static int last_width(const ds_model *m)
{
    return m->n_layers ? m->layers[m->n_layers - 1].n_out : m->n_inputs;
}

ds_status ds_model_add_dense(ds_model *m, const ds_dense_config *cfg, ds_error *err)
{
    if (!m || !cfg) return ds_fail(err, DS_ERR_ARG, "dense: NULL argument");
    if (cfg->units < 1)
        return ds_fail(err, DS_ERR_ARG, "dense: units=%d must be >= 1", cfg->units);
    if (cfg->activation.kind < 0 || cfg->activation.kind >= DS_ACT_COUNT)
        return ds_fail(err, DS_ERR_ARG, "dense: unknown activation %d", (int)cfg->activation.kind);
    if (!isfinite(cfg->activation.alpha))
        return ds_fail(err, DS_ERR_ARG, "dense: activation alpha must be finite");
    ds_status s = ds_initializer_check(&cfg->kernel_initializer, err);
    if (!s && cfg->use_bias) s = ds_initializer_check(&cfg->bias_initializer, err);
    if (s) return s;
    if (cfg->use_bias && (cfg->bias_initializer.kind == DS_INIT_ORTHOGONAL ||
                          cfg->bias_initializer.kind == DS_INIT_IDENTITY))
        return ds_fail(err, DS_ERR_ARG, "dense: bias_initializer %s needs a 2-D tensor",
                       ds_init_kind_name(cfg->bias_initializer.kind));
    ds_layer l;
    memset(&l, 0, sizeof l);
    l.kind = DS_LAYER_DENSE;
    l.n_in = last_width(m);
    l.n_out = cfg->units;
    l.dense = *cfg;
    l.w_off = l.b_off = -1;
    name_layer(m, &l, "dense");
    return push_layer(m, &l, err);
}

ds_status ds_model_add_dropout(ds_model *m, float rate, ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "dropout: NULL model");
    if (!(rate >= 0.0f && rate < 1.0f))
        return ds_fail(err, DS_ERR_ARG, "dropout: rate=%g must be in [0, 1)", (double)rate);
    ds_layer l;
    memset(&l, 0, sizeof l);
    l.kind = DS_LAYER_DROPOUT;
    l.n_in = l.n_out = last_width(m);
    l.rate = rate;
    l.w_off = l.b_off = -1;
    name_layer(m, &l, "dropout");
    return push_layer(m, &l, err);
}

/* ---------------------------------------------------------------------------------- */
/* build: the arena and initial values */

ds_status ds_model_build(ds_model *m, uint64_t seed, ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "build: NULL model");
    int n_dense = 0;
    for (int k = 0; k < m->n_layers; k++) n_dense += m->layers[k].kind == DS_LAYER_DENSE;
    if (n_dense == 0) return ds_fail(err, DS_ERR_STATE, "build: the model has no dense layer");
    if (!m->built) {
        size_t n = 0, scratch = 0;
        int nt = 0;
        for (int k = 0; k < m->n_layers; k++) {
            ds_layer *l = &m->layers[k];
            if (l->kind != DS_LAYER_DENSE) continue;
            size_t nw = (size_t)l->n_in * (size_t)l->n_out;
            l->w_off = (ptrdiff_t)n;
            n += nw;
            nt++;
            if (l->dense.use_bias) {
                l->b_off = (ptrdiff_t)n;
                n += (size_t)l->n_out;
                nt++;
            }
            if (nw + (size_t)l->n_out > scratch) scratch = nw + (size_t)l->n_out;
        }
        m->params = calloc(n, sizeof(float));
        m->grads = calloc(n, sizeof(float));
        m->scratch = malloc(scratch * sizeof(float));
        m->tensors = malloc(sizeof *m->tensors * (size_t)nt);
        if (!m->params || !m->grads || !m->scratch || !m->tensors) {
            free(m->params);
            free(m->grads);
            free(m->scratch);
            free(m->tensors);
            m->params = m->grads = m->scratch = NULL;
            m->tensors = NULL;
            return ds_fail(err, DS_ERR_NOMEM, "build: out of memory for %zu parameters", n);
        }
        m->n_params = n;
        m->n_tensors = 0;
        for (int k = 0; k < m->n_layers; k++) {
            ds_layer *l = &m->layers[k];
            if (l->kind != DS_LAYER_DENSE) continue;
            m->tensors[m->n_tensors++] =
                (ds_tensor_span){(size_t)l->w_off, (size_t)l->n_in * (size_t)l->n_out};
            if (l->b_off >= 0)
                m->tensors[m->n_tensors++] = (ds_tensor_span){(size_t)l->b_off, (size_t)l->n_out};
        }
        m->built = 1;
    }
    m->seed = seed;
    uint64_t init_seed = ds_seed_mix(seed, DS_STREAM_INIT);
    for (int k = 0; k < m->n_layers; k++) {
        ds_layer *l = &m->layers[k];
        if (l->kind != DS_LAYER_DENSE) continue;
        ds_rng rng = ds_rng_split(init_seed, 2 * (uint64_t)k);
        ds_status s = ds_initializer_fill(&l->dense.kernel_initializer, m->params + l->w_off,
                                          l->n_in, l->n_out, &rng, err);
        if (s) return s;
        if (l->b_off >= 0) {
            rng = ds_rng_split(init_seed, 2 * (uint64_t)k + 1);
            s = ds_initializer_fill(&l->dense.bias_initializer, m->params + l->b_off, 0,
                                    l->n_out, &rng, err);
            if (s) return s;
        }
    }
    memset(m->grads, 0, sizeof(float) * m->n_params);
    if (m->compiled) ds_optim_reset(&m->opt);
    return DS_OK;
}

/* ---------------------------------------------------------------------------------- */
/* compile */

ds_compile_config ds_compile_defaults(void)
{
    ds_compile_config c;
    memset(&c, 0, sizeof c);
    c.loss = ds_loss_defaults(DS_LOSS_BINARY_CROSSENTROPY);
    c.optimizer = ds_optimizer_defaults(DS_OPT_RMSPROP);
    c.n_metrics = 1;
    c.metrics[0] = DS_METRIC_ACCURACY;
    return c;
}

ds_status ds_model_compile(ds_model *m, const ds_compile_config *cfg, ds_error *err)
{
    if (!m || !cfg) return ds_fail(err, DS_ERR_ARG, "compile: NULL argument");
    if (!m->built) {
        ds_status s = ds_model_build(m, 0, err);
        if (s) return s;
    }
    int n_out = ds_model_n_outputs(m);
    ds_status s = ds_loss_check(&cfg->loss, n_out, err);
    if (s) return s;
    if ((s = ds_optimizer_check(&cfg->optimizer, err))) return s;
    if (cfg->n_metrics < 0 || cfg->n_metrics > 4)
        return ds_fail(err, DS_ERR_ARG, "compile: n_metrics=%d must be in [0, 4]", cfg->n_metrics);
    for (int i = 0; i < cfg->n_metrics; i++) {
        ds_metric_kind k = cfg->metrics[i];
        if (k < 0 || k >= DS_METRIC_COUNT)
            return ds_fail(err, DS_ERR_ARG, "compile: unknown metric %d", (int)k);
        ds_metric_kind r = ds_metric_resolve(k, cfg->loss.kind, n_out);
        if ((r == DS_METRIC_CATEGORICAL_ACCURACY || r == DS_METRIC_SPARSE_CATEGORICAL_ACCURACY) &&
            n_out < 2)
            return ds_fail(err, DS_ERR_SHAPE, "compile: %s needs 2 or more outputs",
                           ds_metric_kind_name(r));
        m->resolved[i] = r;
    }
    if ((s = ds_optim_init(&m->opt, &cfg->optimizer, m->keras, m->n_params, err))) return s;
    m->compile = *cfg;
    m->compiled = 1;
    /* logits recovery: the crossentropy reads the pre-activation of its own activation */
    const ds_layer *last = &m->layers[m->n_layers - 1];
    m->loss_input = DS_LOSS_FROM_PROBS;
    if (last->kind == DS_LAYER_DENSE) {
        ds_act_kind ak = last->dense.activation.kind;
        if (ak == DS_ACT_SIGMOID && cfg->loss.kind == DS_LOSS_BINARY_CROSSENTROPY)
            m->loss_input = DS_LOSS_FROM_SIGMOID_LOGITS;
        if (ak == DS_ACT_SOFTMAX && (cfg->loss.kind == DS_LOSS_CATEGORICAL_CROSSENTROPY ||
                                     cfg->loss.kind == DS_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY))
            m->loss_input = DS_LOSS_FROM_SOFTMAX_LOGITS;
    }
    return DS_OK;
}

void ds_model_set_keras_version(ds_model *m, ds_keras_version v)
{
    if (!m || (v != DS_KERAS_2 && v != DS_KERAS_3)) return;
    m->keras = v;
    m->opt.keras = v;
}

ds_keras_version ds_model_keras_version(const ds_model *m) { return m->keras; }

/* ---------------------------------------------------------------------------------- */
/* accessors */

int ds_model_n_inputs(const ds_model *m) { return m->n_inputs; }
int ds_model_n_outputs(const ds_model *m) { return last_width(m); }
int ds_model_n_layers(const ds_model *m) { return m->n_layers; }

static const ds_layer *layer_at(const ds_model *m, int k)
{
    return (m && k >= 0 && k < m->n_layers) ? &m->layers[k] : NULL;
}

ds_layer_kind ds_model_layer_kind(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return l ? l->kind : DS_LAYER_COUNT;
}

const char *ds_model_layer_name(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return l ? l->name : NULL;
}

int ds_model_layer_units(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return l ? l->n_out : 0;
}

const ds_dense_config *ds_model_layer_dense(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return (l && l->kind == DS_LAYER_DENSE) ? &l->dense : NULL;
}

float ds_model_layer_dropout_rate(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return (l && l->kind == DS_LAYER_DROPOUT) ? l->rate : 0.0f;
}

static size_t layer_params(const ds_layer *l)
{
    if (l->kind != DS_LAYER_DENSE) return 0;
    return (size_t)l->n_in * (size_t)l->n_out + (l->dense.use_bias ? (size_t)l->n_out : 0);
}

size_t ds_model_n_params(const ds_model *m)
{
    size_t n = 0;
    for (int k = 0; k < m->n_layers; k++) n += layer_params(&m->layers[k]);
    return n;
}

float *ds_model_params(ds_model *m) { return m->params; }
const float *ds_model_params_const(const ds_model *m) { return m->params; }
float *ds_model_grads(ds_model *m) { return m->grads; }

ptrdiff_t ds_model_kernel_offset(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return (l && m->built) ? l->w_off : -1;
}

ptrdiff_t ds_model_bias_offset(const ds_model *m, int k)
{
    const ds_layer *l = layer_at(m, k);
    return (l && m->built) ? l->b_off : -1;
}

const ds_compile_config *ds_model_compile_config(const ds_model *m)
{
    return m->compiled ? &m->compile : NULL;
}

int64_t ds_model_iterations(const ds_model *m) { return m->opt.iterations; }

int ds_model_n_metrics(const ds_model *m) { return m->compiled ? m->compile.n_metrics : 0; }

const char *ds_model_metric_name(const ds_model *m, int i)
{
    if (i == 0) return "loss";
    if (!m->compiled || i < 0 || i > m->compile.n_metrics) return NULL;
    return ds_metric_kind_name(m->compile.metrics[i - 1]);
}

int ds_model_max_width(const ds_model *m)
{
    int w = m->n_inputs;
    for (int k = 0; k < m->n_layers; k++)
        if (m->layers[k].n_out > w) w = m->layers[k].n_out;
    return w;
}

/* ---------------------------------------------------------------------------------- */
/* summary, as tf.keras 2.x prints it */

ds_status ds_model_summary(const ds_model *m, FILE *f, ds_error *err)
{
    if (!m || !f) return ds_fail(err, DS_ERR_ARG, "summary: NULL argument");
    static const char *rule_ =
        "_________________________________________________________________";
    static const char *rule_eq =
        "=================================================================";
    fprintf(f, "Model: \"sequential\"\n%s\n", rule_);
    fprintf(f, "%-29s%-26s%-10s\n", "Layer (type)", "Output Shape", "Param #");
    fprintf(f, "%s\n", rule_eq);
    size_t total = 0;
    for (int k = 0; k < m->n_layers; k++) {
        const ds_layer *l = &m->layers[k];
        char name[64], shape[32];
        snprintf(name, sizeof name, "%s (%s)", l->name,
                 l->kind == DS_LAYER_DENSE ? "Dense" : "Dropout");
        snprintf(shape, sizeof shape, "(None, %d)", l->n_out);
        size_t np = layer_params(l);
        total += np;
        fprintf(f, "%-29s%-26s%-10zu\n", name, shape, np);
        fprintf(f, "%s\n", k + 1 < m->n_layers ? rule_ : rule_eq);
    }
    if (m->n_layers == 0) fprintf(f, "%s\n", rule_eq);
    fprintf(f, "Total params: %zu\nTrainable params: %zu\nNon-trainable params: 0\n%s\n", total,
            total, rule_);
    if (ferror(f)) return ds_fail(err, DS_ERR_IO, "summary: write error");
    return DS_OK;
}

/* ---------------------------------------------------------------------------------- */
/* forward and backward */

ds_status ds_model_reserve(ds_model *m, int rows, ds_error *err)
{
    if (rows <= m->cap_rows) return DS_OK;
    free_work(m);
    m->z = calloc((size_t)m->n_layers, sizeof(float *));
    m->a = calloc((size_t)m->n_layers, sizeof(float *));
    if (!m->z || !m->a) goto nomem;
    for (int k = 0; k < m->n_layers; k++) {
        size_t len = (size_t)rows * (size_t)m->layers[k].n_out;
        m->z[k] = malloc(sizeof(float) * len);
        m->a[k] = malloc(sizeof(float) * len);
        if (!m->z[k] || !m->a[k]) goto nomem;
    }
    size_t dlen = (size_t)rows * (size_t)ds_model_max_width(m);
    m->d0 = malloc(sizeof(float) * dlen);
    m->d1 = malloc(sizeof(float) * dlen);
    m->dT = malloc(sizeof(float) * dlen);
    m->dT2 = malloc(sizeof(float) * dlen);
    if (!m->d0 || !m->d1 || !m->dT || !m->dT2) goto nomem;
    m->sp = calloc((size_t)m->n_layers, sizeof(ds_sparsity *));
    if (!m->sp) goto nomem;
    for (int k = 0; k < m->n_layers; k++)
        if (sparse_layer(m, k) &&
            !(m->sp[k] = ds_sparsity_create(rows, m->layers[k].n_in, m->layers[k].n_out)))
            goto nomem;
    m->cap_rows = rows;
    if (alloc_pack(m, ds_pool_threads(m->exec.pool), NULL)) goto nomem;
    return DS_OK;
nomem:
    free_work(m);
    return ds_fail(err, DS_ERR_NOMEM, "model: out of memory for a batch of %d rows", rows);
}

/* The forward pass; with defer_last_act, the last (dense) layer stops at its
 * pre-activation z, and whoever called fills its output a. */
static void model_forward(ds_model *m, const float *x, int n, int training,
                          ds_rng *dropout_rng, int defer_last_act)
{
    static const ds_activation linear = {DS_ACT_LINEAR, 0.0f};
    const float *inp = x;
    for (int k = 0; k < m->n_layers; k++) {
        const ds_layer *l = &m->layers[k];
        size_t len = (size_t)n * (size_t)l->n_out;
        if (l->kind == DS_LAYER_DENSE) {
            int defer = defer_last_act && k == m->n_layers - 1;
            ds_sparsity *sp = m->sp ? m->sp[k] : NULL;
            if (sp && ds_sparsity_eligible(&m->exec, l->n_in, l->n_out))
                ds_sparsity_prepare(&m->exec, sp, inp, n, l->n_in);
            else sp = NULL;
            ds_dense_forward_run(&m->exec, defer ? &linear : &l->dense.activation, m->keras,
                                 m->z[k], defer ? m->z[k] : m->a[k], inp, m->params + l->w_off,
                                 l->b_off >= 0 ? m->params + l->b_off : NULL, n, l->n_in,
                                 l->n_out, sp);
            if (m->sp && m->sp[k]) m->sp[k]->wpack_ok = 0; /* read once at most */
        } else if (training && l->rate > 0.0f && dropout_rng) {
            /* inverted dropout: keep with probability 1 - rate, scale kept values */
            float keep_scale = 1.0f / (1.0f - l->rate);
            for (size_t i = 0; i < len; i++) {
                float mask = ds_rng_uniform(dropout_rng) >= (double)l->rate ? keep_scale : 0.0f;
                m->z[k][i] = mask;
                m->a[k][i] = inp[i] * mask;
            }
        } else {
            for (size_t i = 0; i < len; i++) m->z[k][i] = 1.0f;
            memcpy(m->a[k], inp, sizeof(float) * len);
        }
        inp = m->a[k];
    }
}

void ds_model_forward(ds_model *m, const float *x, int n, int training, ds_rng *dropout_rng)
{
    model_forward(m, x, n, training, dropout_rng, 0);
}

/* The backward pass after a forward over the same n rows: d holds the loss gradient
 * with respect to the last layer's output (or its pre-activation when d_is_dz). With
 * `fused`, gradients are set rather than accumulated, and each layer's parameters take
 * their optimizer update as soon as nothing reads them any more: the first layer's in its
 * own weight-gradient tasks, the others' during the next layer's backward tasks; the
 * caller ends the step with ds_optim_finish. */
static void model_backward(ds_model *m, const float *x, int n, float *d, int d_is_dz, int fused)
{
    float *g = d;
    float *other = (d == m->d0) ? m->d1 : m->d0;
    ds_update none;
    memset(&none, 0, sizeof none);
    ds_update pending = none;
    float *gT = m->dT, *otherT = m->dT2; /* g transposed, and the next layer's */
    int g_T_ready = 0;
    for (int k = m->n_layers - 1; k >= 0; k--) {
        const ds_layer *l = &m->layers[k];
        if (l->kind == DS_LAYER_DENSE) {
            ds_dense_bwd b;
            b.act = &l->dense.activation;
            b.kv = m->keras;
            b.g_is_dz = d_is_dz;
            b.doutT_ready = g_T_ready;
            b.g = g;
            b.z = m->z[k];
            b.a = m->a[k];
            b.dinp = k ? other : NULL;
            /* a dense relu layer below: its backward's first step, done here by the
             * threads that compute dinp, each on its own columns */
            const ds_layer *below = k ? &m->layers[k - 1] : NULL;
            const int mask = below && below->kind == DS_LAYER_DENSE &&
                             below->dense.activation.kind == DS_ACT_RELU;
            b.below_relu = mask ? m->z[k - 1] : NULL;
            b.below_T = mask && ds_dense_reads_doutT(&m->exec, n, below->n_in, below->n_out,
                                                     k - 1 > 0)
                            ? otherT
                            : NULL;
            b.dweight = m->grads + l->w_off;
            b.dbias = l->b_off >= 0 ? m->grads + l->b_off : NULL;
            b.inp = k ? m->a[k - 1] : x;
            b.weight = m->params + l->w_off;
            b.scratch = m->scratch;
            b.doutT = gT;
            b.sp = m->sp ? m->sp[k] : NULL; /* described by the forward pass */
            b.B = n;
            b.I = l->n_in;
            b.O = l->n_out;
            b.zero_first = fused;
            b.own = none;
            if (fused) {
                /* on several threads, weights whose forward skipped zeros are packed
                 * for the next step's forward by the threads that update them, so that
                 * only those threads touch the weights: forward cuts them by columns,
                 * the update by rows, and writing what another processor has read is
                 * slow (docs/PERFORMANCE.md). On one thread only where the kernels say
                 * it pays (AVX2: forward then reads the panels without copying them). */
                ds_sparsity *sp = m->sp ? m->sp[k] : NULL;
                const ds_sparse_kernels *sk = m->exec.kern ? m->exec.kern->sparse : NULL;
                const int packs =
                    sk && ((ds_pool_threads(m->exec.pool) > 1 && !ds_pool_held(m->exec.pool)) ||
                           sk->pack_alone);
                ds_sparsity *pack =
                    m->pack_next && packs && sp && sp->fwd && sp->B == n ? sp : NULL;
                b.own = (ds_update){&m->opt, m->params, m->grads, (size_t)l->w_off, l->b_off,
                                    l->n_in, l->n_out,
                                    ds_dense_backward_parts(&m->exec, n, l->n_in, l->n_out),
                                    pack, sk};
                /* valid from the next forward on: this step's updates, which write
                 * it, all run before model_backward returns */
                if (pack) pack->wpack_ok = 1;
            }
            b.pending = pending;
            b.bal = &m->layers[k].bal;
            ds_dense_backward_run(&m->exec, &b);
            /* the weights were read for dinp: update them during the next layer's run */
            pending = b.dinp ? b.own : none;
            float *t = g;
            g = other;
            other = t;
            t = gT;
            gT = otherT;
            otherT = t;
            d_is_dz = mask;
            g_T_ready = b.below_T != NULL;
            continue;
        } else if (k) {
            size_t len = (size_t)n * (size_t)l->n_out;
            for (size_t i = 0; i < len; i++) g[i] *= m->z[k][i];
        }
        d_is_dz = 0;
        g_T_ready = 0;
    }
    ds_update_run(&m->exec, &pending);
}

void ds_model_pack_next(ds_model *m, int on) { m->pack_next = on; }

void ds_model_pack_drop(ds_model *m)
{
    m->pack_next = 0;
    for (int k = 0; k < m->n_layers && m->sp; k++)
        if (m->sp[k]) m->sp[k]->wpack_ok = 0;
}

static ds_status check_ready(const ds_model *m, ds_error *err)
{
    if (!m->built) return ds_fail(err, DS_ERR_STATE, "model: not built (call ds_model_build)");
    return DS_OK;
}

void ds_model_zero_grad(ds_model *m)
{
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
}

ds_status ds_model_train_batch_grad(ds_model *m, const float *x, const float *y, int n,
                                    ds_rng *dropout_rng, double *loss, ds_error *err)
{
    if (!m || !x || !y || n < 1) return ds_fail(err, DS_ERR_ARG, "train batch: bad arguments");
    if (!m->compiled) return ds_fail(err, DS_ERR_STATE, "train batch: model not compiled");
    ds_status s = ds_model_reserve(m, n, err);
    if (s) return s;
    int L = m->n_layers - 1;
    int w = m->layers[L].n_out;
    int logits = m->loss_input != DS_LOSS_FROM_PROBS;
    /* one sigmoid unit under binary crossentropy (the course's logistic regression): the
     * loss computes the sigmoid with the loss and its gradient, from one e^-|z| */
    int fused = m->loss_input == DS_LOSS_FROM_SIGMOID_LOGITS && w == 1 &&
                m->compile.loss.label_smoothing == 0.0f;
    model_forward(m, x, n, 1, dropout_rng, fused);
    double sum = fused ? ds_loss_bce_sigmoid_fused(m->z[L], y, n, m->a[L], m->d0, 1.0f / (float)n)
                       : ds_loss_compute(&m->compile.loss, m->loss_input, m->a[L], m->z[L], y,
                                         n, w, m->d0, 1.0f / (float)n);
    model_backward(m, x, n, m->d0, logits, 0);
    if (loss) *loss = sum / n;
    return DS_OK;
}

double ds_model_inference_grad(ds_model *m, const float *x, const float *y, int n,
                               float scale)
{
    ds_model_forward(m, x, n, 0, NULL);
    int L = m->n_layers - 1;
    int logits = m->loss_input != DS_LOSS_FROM_PROBS;
    double sum = ds_loss_compute(&m->compile.loss, m->loss_input, m->a[L], m->z[L], y, n,
                                 m->layers[L].n_out, m->d0, scale);
    model_backward(m, x, n, m->d0, logits, 0);
    return sum;
}

int ds_model_train_step(ds_model *m, const float *x, const float *y, int n,
                        ds_rng *dropout_rng, int stop_nonfinite, double *loss)
{
    int L = m->n_layers - 1;
    int w = m->layers[L].n_out;
    int logits = m->loss_input != DS_LOSS_FROM_PROBS;
    /* one sigmoid unit under binary crossentropy (the course's logistic regression): the
     * loss computes the sigmoid with the loss and its gradient, from one e^-|z| */
    int fused = m->loss_input == DS_LOSS_FROM_SIGMOID_LOGITS && w == 1 &&
                m->compile.loss.label_smoothing == 0.0f;
    ds_pool_step(m->exec.pool); /* threads or not, by how fast steps run (pool.c) */
    model_forward(m, x, n, 1, dropout_rng, fused);
    double sum = fused ? ds_loss_bce_sigmoid_fused(m->z[L], y, n, m->a[L], m->d0, 1.0f / (float)n)
                       : ds_loss_compute(&m->compile.loss, m->loss_input, m->a[L], m->z[L], y,
                                         n, w, m->d0, 1.0f / (float)n);
    *loss = sum / n;
    if (stop_nonfinite && !isfinite(*loss)) return 0;
    if (ds_optim_elementwise(&m->opt)) {
        model_backward(m, x, n, m->d0, logits, 1);
        ds_optim_finish(&m->opt);
    } else {
        ds_model_zero_grad(m);
        model_backward(m, x, n, m->d0, logits, 0);
        ds_optim_step(&m->opt, m->params, m->grads, m->tensors, m->n_tensors);
    }
    return 1;
}

ds_status ds_model_apply_gradients(ds_model *m, ds_error *err)
{
    if (!m->compiled) return ds_fail(err, DS_ERR_STATE, "apply gradients: model not compiled");
    ds_optim_step(&m->opt, m->params, m->grads, m->tensors, m->n_tensors);
    return DS_OK;
}

#define DS_PREDICT_CHUNK 256

ds_status ds_model_layer_outputs(ds_model *m, int layer, const float *x, int n, float *out,
                                 ds_error *err)
{
    if (!m || !x || !out || n < 0) return ds_fail(err, DS_ERR_ARG, "predict: bad arguments");
    if (layer < 0 || layer >= m->n_layers)
        return ds_fail(err, DS_ERR_ARG, "layer %d out of range [0, %d)", layer, m->n_layers);
    ds_status s = check_ready(m, err);
    if (s) return s;
    int chunk = n < DS_PREDICT_CHUNK ? n : DS_PREDICT_CHUNK;
    if (chunk > m->cap_rows && (s = ds_model_reserve(m, chunk, err))) return s;
    if (m->cap_rows > chunk) chunk = m->cap_rows;
    int w = m->layers[layer].n_out;
    for (int r0 = 0; r0 < n; r0 += chunk) {
        int nb = n - r0 < chunk ? n - r0 : chunk;
        ds_model_forward(m, x + (size_t)r0 * m->n_inputs, nb, 0, NULL);
        memcpy(out + (size_t)r0 * w, m->a[layer], sizeof(float) * (size_t)nb * (size_t)w);
    }
    return DS_OK;
}

ds_status ds_model_predict(ds_model *m, const float *x, int n, float *out, ds_error *err)
{
    if (!m) return ds_fail(err, DS_ERR_ARG, "predict: NULL model");
    return ds_model_layer_outputs(m, m->n_layers - 1, x, n, out, err);
}

ds_status ds_model_loss(ds_model *m, const float *x, const float *y, int n, double *loss,
                        ds_error *err)
{
    if (!m || !x || !y || n < 1) return ds_fail(err, DS_ERR_ARG, "loss: bad arguments");
    if (!m->compiled) return ds_fail(err, DS_ERR_STATE, "loss: model not compiled");
    ds_status s = ds_model_reserve(m, n, err);
    if (s) return s;
    ds_model_forward(m, x, n, 0, NULL);
    int L = m->n_layers - 1;
    *loss = ds_loss_compute(&m->compile.loss, m->loss_input, m->a[L], m->z[L], y, n,
                            m->layers[L].n_out, NULL, 1.0f) / n;
    return DS_OK;
}
