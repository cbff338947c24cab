/*
 * init.c - weight initializers with Keras's names, parameters, defaults and sampling rules
 * (keras: src/initializers/constant_initializers.py for
 * Zeros, Ones, Constant, Identity and src/initializers/random_initializers.py for
 * RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling, GlorotUniform/Normal,
 * HeUniform/Normal, LecunUniform/Normal, Orthogonal), plus three untruncated variants
 * named so that no Keras name changes meaning.
 *
 * Shapes. A kernel is (fan_in, fan_out), row-major, as Keras stores a Dense kernel:
 * w[i * fan_out + o]. A bias of n values is filled by calling ds_initializer_fill with
 * fan_in = 0 and fan_out = n; its fans are then fan_in = fan_out = n, Keras's rule for a
 * rank-1 shape (compute_fans). Orthogonal and identity need rank 2, so they reject a bias.
 *
 * Sampling rules (fi, fo = fans; u ~ U[0,1) with 53 bits; z ~ N(0,1) by Box-Muller):
 *   random_uniform(minval, maxval)   w = minval + (maxval - minval) u
 *   random_normal(mean, stddev)      w = mean + stddev z
 *   truncated_normal(mean, stddev)   the same, z redrawn while |z| > 2 (no correction)
 *   variance_scaling(scale, mode, distribution):
 *       n = max(1, fi) | max(1, fo) | max(1, (fi + fo) / 2) for fan_in | fan_out | fan_avg
 *       s = scale / n
 *       truncated_normal:   w = sigma z, z redrawn while |z| > 2,
 *                           sigma = sqrt(s) / 0.87962566103423978
 *       untruncated_normal: w = sqrt(s) z
 *       uniform:            w = U[-sqrt(3 s), sqrt(3 s))
 *   glorot_uniform/normal = variance_scaling(1, fan_avg, uniform/truncated_normal)
 *   he_uniform/normal     = variance_scaling(2, fan_in, uniform/truncated_normal)
 *   lecun_uniform/normal  = variance_scaling(1, fan_in, uniform/truncated_normal)
 *   he/glorot/lecun_normal_untruncated: the same with untruncated_normal (PyTorch's
 *       kaiming_normal_ and xavier_normal_ with their default gains)
 *   orthogonal(gain): A ~ N(0,1) of shape (max(fi,fo), min(fi,fo)) drawn row-major;
 *       A = QR by Householder reflections in double; column j of Q times sign(R[j][j])
 *       (sign(0) taken as +1); transposed when fi < fo; times gain.
 *   identity(gain): gain on the diagonal of the (possibly rectangular) kernel, 0 elsewhere.
 * 0.87962566103423978 is the standard deviation of N(0,1) truncated to [-2, 2],
 * sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))); dividing by it makes the standard deviation
 * after truncation sqrt(s). Plain truncated_normal does not divide (Keras does not).
 *
 * Float32. Draws are computed in double and rounded to nearest float. Rounding may leave
 * the interval the rule promises (a uniform value reaching maxval, a truncated one beyond
 * 2 stddev); such a value is moved one float inward, so every weight w satisfies
 * minval <= w < maxval, or |w - mean| <= 2 stddev, compared in double. Products and sums
 * are separate statements so that no compiler fuses them into an FMA (C contracts only
 * within one expression), which keeps the bytes the same on every platform.
 *
 * Not here: per-initializer seeds (every draw comes from the caller's ds_rng; the model
 * derives one stream per tensor) and rank >= 3 shapes (descent has only Dense layers).
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Standard deviation of N(0,1) truncated to [-2, 2] (keras: VarianceScaling.__call__). */
#define TRUNC_STD 0.87962566103423978

/* The largest finite float, as a double (comparisons with doubles stay in double). */
#define FLOAT_MAX ((double)FLT_MAX)

/* ------------------------------------------------------------------------------------ */
/* names */

static const char *const kind_names[DS_INIT_COUNT] = {
    [DS_INIT_ZEROS] = "zeros",
    [DS_INIT_ONES] = "ones",
    [DS_INIT_CONSTANT] = "constant",
    [DS_INIT_RANDOM_UNIFORM] = "random_uniform",
    [DS_INIT_RANDOM_NORMAL] = "random_normal",
    [DS_INIT_TRUNCATED_NORMAL] = "truncated_normal",
    [DS_INIT_VARIANCE_SCALING] = "variance_scaling",
    [DS_INIT_GLOROT_UNIFORM] = "glorot_uniform",
    [DS_INIT_GLOROT_NORMAL] = "glorot_normal",
    [DS_INIT_HE_UNIFORM] = "he_uniform",
    [DS_INIT_HE_NORMAL] = "he_normal",
    [DS_INIT_LECUN_UNIFORM] = "lecun_uniform",
    [DS_INIT_LECUN_NORMAL] = "lecun_normal",
    [DS_INIT_ORTHOGONAL] = "orthogonal",
    [DS_INIT_IDENTITY] = "identity",
    [DS_INIT_HE_NORMAL_UNTRUNCATED] = "he_normal_untruncated",
    [DS_INIT_GLOROT_NORMAL_UNTRUNCATED] = "glorot_normal_untruncated",
    [DS_INIT_LECUN_NORMAL_UNTRUNCATED] = "lecun_normal_untruncated",
};

/* Keras's other spellings: its string aliases and class names (matched without regard to
 * case). xavier_uniform is PyTorch's name for the same rule (xavier_uniform_ with gain 1
 * is glorot_uniform). PyTorch's kaiming_normal_ and xavier_normal_ are not truncated, so
 * kaiming_* and xavier_normal are deliberately not aliases of he_* and glorot_normal:
 * ds_initializer_parse explains the choice instead. */
static const struct {
    const char *name;
    ds_init_kind kind;
} aliases[] = {
    {"zero", DS_INIT_ZEROS},
    {"one", DS_INIT_ONES},
    {"uniform", DS_INIT_RANDOM_UNIFORM},
    {"randomuniform", DS_INIT_RANDOM_UNIFORM},
    {"normal", DS_INIT_RANDOM_NORMAL},
    {"randomnormal", DS_INIT_RANDOM_NORMAL},
    {"truncatednormal", DS_INIT_TRUNCATED_NORMAL},
    {"variancescaling", DS_INIT_VARIANCE_SCALING},
    {"glorotuniform", DS_INIT_GLOROT_UNIFORM},
    {"xavier_uniform", DS_INIT_GLOROT_UNIFORM},
    {"glorotnormal", DS_INIT_GLOROT_NORMAL},
    {"heuniform", DS_INIT_HE_UNIFORM},
    {"henormal", DS_INIT_HE_NORMAL},
    {"lecununiform", DS_INIT_LECUN_UNIFORM},
    {"lecunnormal", DS_INIT_LECUN_NORMAL},
    {"orthogonalinitializer", DS_INIT_ORTHOGONAL},
    {"identityinitializer", DS_INIT_IDENTITY},
};

const char *ds_init_kind_name(ds_init_kind k)
{
    if ((int)k < 0 || k >= DS_INIT_COUNT) return "unknown";
    return kind_names[k];
}

ds_status ds_init_kind_parse(const char *name, ds_init_kind *out)
{
    if (!name) return DS_ERR_ARG;
    /* class names ("Zeros", "GlorotUniform") match the snake-case names case-blind */
    for (int k = 0; k < DS_INIT_COUNT; k++) {
        if (ds_streq_nocase(name, kind_names[k])) {
            *out = (ds_init_kind)k;
            return DS_OK;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (ds_streq_nocase(name, aliases[i].name)) {
            *out = aliases[i].kind;
            return DS_OK;
        }
    }
    return DS_ERR_ARG;
}

static const char *fan_mode_name(ds_fan_mode m)
{
    switch (m) {
    case DS_FAN_IN: return "fan_in";
    case DS_FAN_OUT: return "fan_out";
    case DS_FAN_AVG: return "fan_avg";
    }
    return "unknown";
}

static const char *distribution_name(ds_distribution d)
{
    switch (d) {
    case DS_DIST_TRUNCATED_NORMAL: return "truncated_normal";
    case DS_DIST_UNTRUNCATED_NORMAL: return "untruncated_normal";
    case DS_DIST_UNIFORM: return "uniform";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------------------ */
/* defaults and the variance-scaling presets */

ds_initializer ds_initializer_defaults(ds_init_kind k)
{
    /* Every field holds the Keras default of the class it belongs to; fields that do not
     * belong to kind k are ignored by fill, check and str. */
    ds_initializer x;
    memset(&x, 0, sizeof x);
    x.kind = k;
    x.value = 0.0;                             /* Constant */
    x.minval = -0.05;                          /* RandomUniform */
    x.maxval = 0.05;
    x.mean = 0.0;                              /* RandomNormal, TruncatedNormal */
    x.stddev = 0.05;
    x.scale = 1.0;                             /* VarianceScaling */
    x.mode = DS_FAN_IN;
    x.distribution = DS_DIST_TRUNCATED_NORMAL;
    x.gain = 1.0;                              /* Orthogonal, Identity */
    return x;
}

/* The variance-scaling parameters behind init (keras: GlorotUniform.__init__ etc. call
 * VarianceScaling(scale, mode, distribution)). Returns 0 when the kind is not one. */
static int vs_params(const ds_initializer *init, double *scale, ds_fan_mode *mode,
                     ds_distribution *dist)
{
    switch (init->kind) {
    case DS_INIT_VARIANCE_SCALING:
        *scale = init->scale, *mode = init->mode, *dist = init->distribution;
        return 1;
    case DS_INIT_GLOROT_UNIFORM:
        *scale = 1.0, *mode = DS_FAN_AVG, *dist = DS_DIST_UNIFORM;
        return 1;
    case DS_INIT_GLOROT_NORMAL:
        *scale = 1.0, *mode = DS_FAN_AVG, *dist = DS_DIST_TRUNCATED_NORMAL;
        return 1;
    case DS_INIT_HE_UNIFORM:
        *scale = 2.0, *mode = DS_FAN_IN, *dist = DS_DIST_UNIFORM;
        return 1;
    case DS_INIT_HE_NORMAL:
        *scale = 2.0, *mode = DS_FAN_IN, *dist = DS_DIST_TRUNCATED_NORMAL;
        return 1;
    case DS_INIT_LECUN_UNIFORM:
        *scale = 1.0, *mode = DS_FAN_IN, *dist = DS_DIST_UNIFORM;
        return 1;
    case DS_INIT_LECUN_NORMAL:
        *scale = 1.0, *mode = DS_FAN_IN, *dist = DS_DIST_TRUNCATED_NORMAL;
        return 1;
    case DS_INIT_HE_NORMAL_UNTRUNCATED:
        *scale = 2.0, *mode = DS_FAN_IN, *dist = DS_DIST_UNTRUNCATED_NORMAL;
        return 1;
    case DS_INIT_GLOROT_NORMAL_UNTRUNCATED:
        *scale = 1.0, *mode = DS_FAN_AVG, *dist = DS_DIST_UNTRUNCATED_NORMAL;
        return 1;
    case DS_INIT_LECUN_NORMAL_UNTRUNCATED:
        *scale = 1.0, *mode = DS_FAN_IN, *dist = DS_DIST_UNTRUNCATED_NORMAL;
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------------------ */
/* check */

/* The smallest float >= x (x finite and within the float range). */
static float float_at_or_above(double x)
{
    float f = (float)x;
    if ((double)f < x) f = nextafterf(f, INFINITY);
    return f;
}

static int fits_float(double x) { return isfinite(x) && fabs(x) <= FLOAT_MAX; }

ds_status ds_initializer_check(const ds_initializer *init, ds_error *err)
{
    if (!init) return ds_fail(err, DS_ERR_ARG, "initializer: missing (NULL)");
    if ((int)init->kind < 0 || init->kind >= DS_INIT_COUNT)
        return ds_fail(err, DS_ERR_ARG, "initializer: unknown kind %d", (int)init->kind);
    const char *name = kind_names[init->kind];
    switch (init->kind) {
    case DS_INIT_CONSTANT:
        if (!fits_float(init->value))
            return ds_fail(err, DS_ERR_ARG, "initializer %s: value=%g does not fit in float32",
                           name, init->value);
        break;
    case DS_INIT_RANDOM_UNIFORM:
        if (!fits_float(init->minval))
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: minval=%g does not fit in float32", name,
                           init->minval);
        if (!fits_float(init->maxval))
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: maxval=%g does not fit in float32", name,
                           init->maxval);
        if (!(init->minval < init->maxval))
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: minval=%g must be less than maxval=%g", name,
                           init->minval, init->maxval);
        if (!isfinite(init->maxval - init->minval))
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: maxval - minval (%g - %g) overflows", name,
                           init->maxval, init->minval);
        if (!((double)float_at_or_above(init->minval) < init->maxval))
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: no float32 value lies in [minval=%.17g, "
                           "maxval=%.17g)", name, init->minval, init->maxval);
        break;
    case DS_INIT_RANDOM_NORMAL:
    case DS_INIT_TRUNCATED_NORMAL:
        if (!fits_float(init->mean))
            return ds_fail(err, DS_ERR_ARG, "initializer %s: mean=%g does not fit in float32",
                           name, init->mean);
        if (!isfinite(init->stddev) || init->stddev < 0)
            return ds_fail(err, DS_ERR_ARG, "initializer %s: stddev=%g must be >= 0", name,
                           init->stddev);
        /* |z| < 8.6 for every Box-Muller draw (see rng.c), so values stay finite */
        if (fabs(init->mean) + 9.0 * init->stddev > FLOAT_MAX)
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: stddev=%g is too large for float32 weights", name,
                           init->stddev);
        break;
    case DS_INIT_VARIANCE_SCALING:
        if (!isfinite(init->scale) || !(init->scale > 0))
            return ds_fail(err, DS_ERR_ARG, "initializer %s: scale=%g must be > 0", name,
                           init->scale);
        /* the widest draw is 8.6 sqrt(scale) / 0.8796 (normal, fan 1) */
        if (10.0 * sqrt(init->scale) > FLOAT_MAX)
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: scale=%g is too large for float32 weights", name,
                           init->scale);
        if ((int)init->mode < 0 || init->mode > DS_FAN_AVG)
            return ds_fail(err, DS_ERR_ARG, "initializer %s: mode=%d is not a fan mode", name,
                           (int)init->mode);
        if ((int)init->distribution < 0 || init->distribution > DS_DIST_UNIFORM)
            return ds_fail(err, DS_ERR_ARG,
                           "initializer %s: distribution=%d is not a distribution", name,
                           (int)init->distribution);
        break;
    case DS_INIT_ORTHOGONAL:
    case DS_INIT_IDENTITY:
        if (!fits_float(init->gain))
            return ds_fail(err, DS_ERR_ARG, "initializer %s: gain=%g does not fit in float32",
                           name, init->gain);
        break;
    default:
        break;
    }
    return DS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* parse and str */

/* Reads a numeric argument `key` (positional index pos, -1 for none) into *out when
 * present. */
static ds_status arg_number(const ds_spec *s, const char *key, int pos, double *out,
                            const char *what, int *used, ds_error *err)
{
    const ds_spec_arg *a = ds_spec_get(s, key, pos, used);
    if (!a) return DS_OK;
    return ds_spec_number(a->value, out, what, key, err);
}

/* Copies value into buf without surrounding quotes ('fan_in' or "fan_in" as in Python). */
static void unquote(char *buf, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= 2 && (value[0] == '\'' || value[0] == '"') && value[n - 1] == value[0]) {
        value++;
        n -= 2;
    }
    if (n >= size) n = size - 1;
    memcpy(buf, value, n);
    buf[n] = '\0';
}

static ds_status arg_mode(const ds_spec *s, int pos, ds_fan_mode *out, const char *what,
                          int *used, ds_error *err)
{
    const ds_spec_arg *a = ds_spec_get(s, "mode", pos, used);
    if (!a) return DS_OK;
    char v[DS_SPEC_VALUE_SIZE];
    unquote(v, sizeof v, a->value);
    for (int m = DS_FAN_IN; m <= DS_FAN_AVG; m++) {
        if (ds_streq_nocase(v, fan_mode_name((ds_fan_mode)m))) {
            *out = (ds_fan_mode)m;
            return DS_OK;
        }
    }
    return ds_fail(err, DS_ERR_ARG, "%s: mode=%s is not fan_in, fan_out or fan_avg", what,
                   a->value);
}

static ds_status arg_distribution(const ds_spec *s, int pos, ds_distribution *out,
                                  const char *what, int *used, ds_error *err)
{
    const ds_spec_arg *a = ds_spec_get(s, "distribution", pos, used);
    if (!a) return DS_OK;
    char v[DS_SPEC_VALUE_SIZE];
    unquote(v, sizeof v, a->value);
    /* keras: VarianceScaling maps "normal" to "truncated_normal" */
    if (ds_streq_nocase(v, "normal")) {
        *out = DS_DIST_TRUNCATED_NORMAL;
        return DS_OK;
    }
    for (int d = DS_DIST_TRUNCATED_NORMAL; d <= DS_DIST_UNIFORM; d++) {
        if (ds_streq_nocase(v, distribution_name((ds_distribution)d))) {
            *out = (ds_distribution)d;
            return DS_OK;
        }
    }
    return ds_fail(err, DS_ERR_ARG,
                   "%s: distribution=%s is not truncated_normal, normal, untruncated_normal "
                   "or uniform", what, a->value);
}

static ds_status unknown_name(const char *name, ds_error *err)
{
    static const struct {
        const char *name, *hint;
    } hints[] = {
        {"kaiming_normal", "he_normal_untruncated (PyTorch's kaiming_normal_) or he_normal "
                           "(Keras: truncated and rescaled)"},
        {"kaiming_uniform", "he_uniform (the same as PyTorch's kaiming_uniform_ with a = 0; "
                            "nn.Linear's default uses a = sqrt(5))"},
        {"xavier_normal", "glorot_normal_untruncated (PyTorch's xavier_normal_) or "
                          "glorot_normal (Keras: truncated and rescaled)"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (ds_streq_nocase(name, hints[i].name))
            return ds_fail(err, DS_ERR_ARG,
                           "unknown initializer '%s': descent keeps Keras's meanings, so "
                           "choose %s", name, hints[i].hint);
    return ds_fail(err, DS_ERR_ARG,
                   "unknown initializer '%s' (known: zeros, ones, constant, random_uniform, "
                   "random_normal, truncated_normal, variance_scaling, glorot_uniform, "
                   "glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, "
                   "orthogonal, identity, he_normal_untruncated, glorot_normal_untruncated, "
                   "lecun_normal_untruncated)", name);
}

ds_status ds_initializer_parse(const char *spec, ds_initializer *out, ds_error *err)
{
    ds_spec s;
    ds_status st = ds_spec_parse(spec, &s, "initializer", err);
    if (st != DS_OK) return st;
    ds_init_kind k;
    if (ds_init_kind_parse(s.name, &k) != DS_OK) return unknown_name(s.name, err);

    char what[DS_SPEC_NAME_SIZE + 16];
    snprintf(what, sizeof what, "initializer %s", s.name);
    const ds_spec_arg *seed = ds_spec_get(&s, "seed", -1, NULL);
    if (seed)
        return ds_fail(err, DS_ERR_ARG,
                       "%s: seed=%s is not accepted: every initializer draws from the "
                       "model's seed (ds_model_build)", what, seed->value);

    /* positional arguments follow Keras's constructor order */
    ds_initializer x = ds_initializer_defaults(k);
    int used[DS_SPEC_MAX_ARGS] = {0};
    switch (k) {
    case DS_INIT_CONSTANT:
        st = arg_number(&s, "value", 0, &x.value, what, used, err);
        break;
    case DS_INIT_RANDOM_UNIFORM:
        st = arg_number(&s, "minval", 0, &x.minval, what, used, err);
        if (st == DS_OK) st = arg_number(&s, "maxval", 1, &x.maxval, what, used, err);
        break;
    case DS_INIT_RANDOM_NORMAL:
    case DS_INIT_TRUNCATED_NORMAL:
        st = arg_number(&s, "mean", 0, &x.mean, what, used, err);
        if (st == DS_OK) st = arg_number(&s, "stddev", 1, &x.stddev, what, used, err);
        break;
    case DS_INIT_VARIANCE_SCALING:
        st = arg_number(&s, "scale", 0, &x.scale, what, used, err);
        if (st == DS_OK) st = arg_mode(&s, 1, &x.mode, what, used, err);
        if (st == DS_OK) st = arg_distribution(&s, 2, &x.distribution, what, used, err);
        break;
    case DS_INIT_ORTHOGONAL:
    case DS_INIT_IDENTITY:
        st = arg_number(&s, "gain", 0, &x.gain, what, used, err);
        break;
    default:
        break;
    }
    if (st != DS_OK) return st;
    st = ds_spec_check_used(&s, used, "initializer", err);
    if (st != DS_OK) return st;
    st = ds_initializer_check(&x, err);
    if (st != DS_OK) return st;
    *out = x;
    return DS_OK;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x (17 digits always do). */
static void format_number(char *buf, size_t size, double x)
{
    for (int digits = 15; digits < 17; digits++) {
        snprintf(buf, size, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) return;
    }
    snprintf(buf, size, "%.17g", x);
}

const char *ds_initializer_str(const ds_initializer *init, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    if (!init) {
        snprintf(buf, size, "unknown");
        return buf;
    }
    char a[32], b[32];
    const char *name = ds_init_kind_name(init->kind);
    switch (init->kind) {
    case DS_INIT_CONSTANT:
        format_number(a, sizeof a, init->value);
        snprintf(buf, size, "%s(value=%s)", name, a);
        break;
    case DS_INIT_RANDOM_UNIFORM:
        format_number(a, sizeof a, init->minval);
        format_number(b, sizeof b, init->maxval);
        snprintf(buf, size, "%s(minval=%s, maxval=%s)", name, a, b);
        break;
    case DS_INIT_RANDOM_NORMAL:
    case DS_INIT_TRUNCATED_NORMAL:
        format_number(a, sizeof a, init->mean);
        format_number(b, sizeof b, init->stddev);
        snprintf(buf, size, "%s(mean=%s, stddev=%s)", name, a, b);
        break;
    case DS_INIT_VARIANCE_SCALING:
        format_number(a, sizeof a, init->scale);
        snprintf(buf, size, "%s(scale=%s, mode=%s, distribution=%s)", name, a,
                 fan_mode_name(init->mode), distribution_name(init->distribution));
        break;
    case DS_INIT_ORTHOGONAL:
    case DS_INIT_IDENTITY:
        format_number(a, sizeof a, init->gain);
        snprintf(buf, size, "%s(gain=%s)", name, a);
        break;
    default:
        snprintf(buf, size, "%s", name);
        break;
    }
    return buf;
}

/* ------------------------------------------------------------------------------------ */
/* sampling */

/* w[i] = minval + (maxval - minval) u, rounded to float and kept in [minval, maxval)
 * (keras: RandomUniform; random.uniform). ds_initializer_check guarantees a float in
 * that interval, so one step inward always lands inside (see the file header). */
static void fill_uniform(float *w, size_t n, double minval, double maxval, ds_rng *rng)
{
    double width = maxval - minval;
    for (size_t i = 0; i < n; i++) {
        double d = width * ds_rng_uniform(rng);
        double v = minval + d;
        float f = (float)v;
        if ((double)f >= maxval) f = nextafterf(f, -INFINITY);
        if ((double)f < minval) f = nextafterf(f, INFINITY);
        w[i] = f;
    }
}

/* w[i] = mean + stddev z (keras: RandomNormal; random.normal). With `truncate`, z is
 * redrawn while |z| > 2 (keras: TruncatedNormal; random.truncated_normal) and the float
 * kept within [mean - 2 stddev, mean + 2 stddev]. */
static void fill_normal(float *w, size_t n, double mean, double stddev, int truncate,
                        ds_rng *rng)
{
    double lo = mean - 2.0 * stddev, hi = mean + 2.0 * stddev;
    for (size_t i = 0; i < n; i++) {
        double z = ds_rng_normal(rng);
        while (truncate && fabs(z) > 2.0) z = ds_rng_normal(rng);
        double d = stddev * z;
        double v = mean + d;
        float f = (float)v;
        if (truncate) {
            if ((double)f > hi) f = nextafterf(f, -INFINITY);
            if ((double)f < lo) f = nextafterf(f, INFINITY);
        }
        w[i] = f;
    }
}

/* keras: VarianceScaling.__call__ with fans from compute_fans. */
static void fill_variance_scaling(float *w, size_t n, double fan_in, double fan_out,
                                  double scale, ds_fan_mode mode, ds_distribution dist,
                                  ds_rng *rng)
{
    double fan;
    switch (mode) {
    case DS_FAN_OUT: fan = fmax(1.0, fan_out); break;
    case DS_FAN_AVG: fan = fmax(1.0, (fan_in + fan_out) / 2.0); break;
    default: fan = fmax(1.0, fan_in); break;
    }
    double s = scale / fan;
    switch (dist) {
    case DS_DIST_UNIFORM: {
        double limit = sqrt(3.0 * s);
        fill_uniform(w, n, -limit, limit, rng);
        break;
    }
    case DS_DIST_UNTRUNCATED_NORMAL:
        fill_normal(w, n, 0.0, sqrt(s), 0, rng);
        break;
    default:
        fill_normal(w, n, 0.0, sqrt(s) / TRUNC_STD, 1, rng);
        break;
    }
}

/* Householder QR of a (m, n), m >= n, row-major, in place: afterwards column k below and
 * on the diagonal holds the reflector v_k (H_k = I - tau_k v_k v_k^T acting on rows
 * k..m-1), and rdiag[k] = R[k][k]. H_{n-1} ... H_0 A = R. */
static void householder_qr(double *a, int m, int n, double *tau, double *rdiag)
{
    for (int k = 0; k < n; k++) {
        double norm2 = 0.0;
        for (int i = k; i < m; i++) norm2 += a[(size_t)i * n + k] * a[(size_t)i * n + k];
        double norm = sqrt(norm2);
        if (norm == 0.0) { /* column already zero: H_k = I, R[k][k] = 0 */
            tau[k] = 0.0;
            rdiag[k] = 0.0;
            continue;
        }
        /* H x = alpha e_1 with alpha = -sign(x_0) |x|, so v_0 = x_0 - alpha cancels nothing */
        double x0 = a[(size_t)k * n + k];
        double alpha = x0 >= 0.0 ? -norm : norm;
        a[(size_t)k * n + k] = x0 - alpha;
        double vnorm2 = 0.0;
        for (int i = k; i < m; i++) vnorm2 += a[(size_t)i * n + k] * a[(size_t)i * n + k];
        tau[k] = 2.0 / vnorm2;
        rdiag[k] = alpha;
        /* columns j > k: a_j -= tau v (v^T a_j) */
        for (int j = k + 1; j < n; j++) {
            double dot = 0.0;
            for (int i = k; i < m; i++) dot += a[(size_t)i * n + k] * a[(size_t)i * n + j];
            double t = tau[k] * dot;
            for (int i = k; i < m; i++) a[(size_t)i * n + j] -= t * a[(size_t)i * n + k];
        }
    }
}

/* The thin Q (m, n) of householder_qr: Q = H_0 H_1 ... H_{n-1} [I_n; 0]. */
static void householder_q(const double *a, int m, int n, const double *tau, double *q)
{
    memset(q, 0, (size_t)m * n * sizeof *q);
    for (int j = 0; j < n; j++) q[(size_t)j * n + j] = 1.0;
    for (int k = n - 1; k >= 0; k--) {
        if (tau[k] == 0.0) continue;
        /* columns j < k are still e_j, zero in rows >= k, so H_k leaves them alone */
        for (int j = k; j < n; j++) {
            double dot = 0.0;
            for (int i = k; i < m; i++) dot += a[(size_t)i * n + k] * q[(size_t)i * n + j];
            double t = tau[k] * dot;
            for (int i = k; i < m; i++) q[(size_t)i * n + j] -= t * a[(size_t)i * n + k];
        }
    }
}

/* keras: OrthogonalInitializer.__call__ for a kernel (rows, cols). */
static ds_status fill_orthogonal(float *w, int rows, int cols, double gain, ds_rng *rng,
                                 ds_error *err)
{
    int m = rows >= cols ? rows : cols; /* A is (m, n), m >= n */
    int n = rows >= cols ? cols : rows;
    size_t mn = (size_t)m * (size_t)n;
    if (mn > SIZE_MAX / (2 * sizeof(double)))
        return ds_fail(err, DS_ERR_NOMEM, "initializer orthogonal: (%d, %d) is too large",
                       rows, cols);
    double *a = malloc(mn * sizeof *a);
    double *q = malloc(mn * sizeof *q);
    double *tau = malloc(2 * (size_t)n * sizeof *tau);
    if (!a || !q || !tau) {
        free(a);
        free(q);
        free(tau);
        return ds_fail(err, DS_ERR_NOMEM,
                       "initializer orthogonal: out of memory for a (%d, %d) kernel", rows,
                       cols);
    }
    double *rdiag = tau + n;
    for (size_t i = 0; i < mn; i++) a[i] = ds_rng_normal(rng);
    householder_qr(a, m, n, tau, rdiag);
    householder_q(a, m, n, tau, q);
    /* Q diag(sign(R)) makes R's diagonal positive: the unique QR, which gives Haar-
     * distributed Q (Mezzadri, "How to generate random matrices from the classical
     * compact groups", 2007) */
    for (int j = 0; j < n; j++)
        if (rdiag[j] < 0.0)
            for (int i = 0; i < m; i++) q[(size_t)i * n + j] = -q[(size_t)i * n + j];
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            /* rows < cols: the kernel is Q^T */
            double v = rows >= cols ? q[(size_t)i * n + j] : q[(size_t)j * n + i];
            w[(size_t)i * cols + j] = (float)(gain * v);
        }
    free(a);
    free(q);
    free(tau);
    return DS_OK;
}

ds_status ds_initializer_fill(const ds_initializer *init, float *w, int fan_in, int fan_out,
                              ds_rng *rng, ds_error *err)
{
    ds_status st = ds_initializer_check(init, err);
    if (st != DS_OK) return st;
    const char *name = kind_names[init->kind];
    if (fan_in < 0 || fan_out < 0)
        return ds_fail(err, DS_ERR_SHAPE, "initializer %s: negative shape (%d, %d)", name,
                       fan_in, fan_out);
    int bias = fan_in == 0;
    if (bias && (init->kind == DS_INIT_ORTHOGONAL || init->kind == DS_INIT_IDENTITY))
        return ds_fail(err, DS_ERR_SHAPE,
                       "initializer %s needs a 2-D kernel, got a vector of %d values "
                       "(fan_in = 0)", name, fan_out);
    /* a bias of n values: fans n and n, as Keras's compute_fans for shape (n,) */
    size_t n = bias ? (size_t)fan_out : (size_t)fan_in * (size_t)fan_out;
    double fi = bias ? (double)fan_out : (double)fan_in;
    double fo = (double)fan_out;
    if (n == 0) return DS_OK;
    if (!w) return ds_fail(err, DS_ERR_ARG, "initializer %s: no output array", name);
    int random = init->kind != DS_INIT_ZEROS && init->kind != DS_INIT_ONES &&
                 init->kind != DS_INIT_CONSTANT && init->kind != DS_INIT_IDENTITY;
    if (random && !rng)
        return ds_fail(err, DS_ERR_ARG, "initializer %s: no random generator", name);

    double scale;
    ds_fan_mode mode;
    ds_distribution dist;
    if (vs_params(init, &scale, &mode, &dist)) {
        fill_variance_scaling(w, n, fi, fo, scale, mode, dist, rng);
        return DS_OK;
    }
    switch (init->kind) {
    case DS_INIT_ZEROS:
        for (size_t i = 0; i < n; i++) w[i] = 0.0f;
        break;
    case DS_INIT_ONES:
        for (size_t i = 0; i < n; i++) w[i] = 1.0f;
        break;
    case DS_INIT_CONSTANT: {
        float c = (float)init->value;
        for (size_t i = 0; i < n; i++) w[i] = c;
        break;
    }
    case DS_INIT_RANDOM_UNIFORM:
        fill_uniform(w, n, init->minval, init->maxval, rng);
        break;
    case DS_INIT_RANDOM_NORMAL:
        fill_normal(w, n, init->mean, init->stddev, 0, rng);
        break;
    case DS_INIT_TRUNCATED_NORMAL:
        fill_normal(w, n, init->mean, init->stddev, 1, rng);
        break;
    case DS_INIT_ORTHOGONAL:
        return fill_orthogonal(w, fan_in, fan_out, init->gain, rng, err);
    case DS_INIT_IDENTITY: {
        float g = (float)init->gain;
        for (int i = 0; i < fan_in; i++)
            for (int j = 0; j < fan_out; j++) w[(size_t)i * fan_out + j] = i == j ? g : 0.0f;
        break;
    }
    default:
        return ds_fail(err, DS_ERR_ARG, "initializer %s: not implemented", name);
    }
    return DS_OK;
}
