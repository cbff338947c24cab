/*
 * optim.c - Keras's optimizers (SGD, RMSprop, Adam/AMSGrad, AdamW, Adagrad, Adadelta,
 * Adamax, Nadam), learning-rate schedules, gradient clipping and decoupled weight
 * decay, over the flat parameter arena: every rule is one loop over n floats.
 *
 * Sources: the update rules of keras (Keras 3: the files in src/optimizers/) and
 * tf.keras 2.x (OptimizerV2 at v2.6 and the TF training kernels it calls), summarised
 * with the version differences in docs/OPTIMIZERS.md.
 *
 * Numbers: weights and state are float32. Per-step scalars (learning rate, bias
 * corrections, Nadam's momentum schedule) are computed in double, rounded once to
 * float, and each element is then updated in float arithmetic, as Keras does with
 * float32 variables.
 *
 * Left out: Keras 3's gradient accumulation, EMA of weights and
 * exclude_from_weight_decay; the other Keras 3 optimizers (Ftrl, Lion, Lamb, ...).
 */
#include "internal.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double ds_pi = 3.14159265358979323846;

/* ------------------------------------------------------------------------------------ */
/* Names */

static const char *const opt_names[DS_OPT_COUNT] = {
    "sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam",
};

const char *ds_opt_kind_name(ds_opt_kind k)
{
    if ((int)k < 0 || k >= DS_OPT_COUNT) return "unknown";
    return opt_names[k];
}

ds_status ds_opt_kind_parse(const char *name, ds_opt_kind *out)
{
    if (!name) return DS_ERR_ARG;
    for (int k = 0; k < DS_OPT_COUNT; k++) {
        if (ds_streq_nocase(name, opt_names[k])) {
            *out = (ds_opt_kind)k;
            return DS_OK;
        }
    }
    return DS_ERR_ARG;
}

/* Keras's LearningRateSchedule names (snake_case as in Keras's serialized configs). */
static const char *const schedule_names[DS_SCHEDULE_COUNT] = {
    "constant", "inverse_time_decay", "exponential_decay", "piecewise_constant_decay",
    "cosine_decay",
};

/* Compares ignoring case and underscores, so "ExponentialDecay" names the same schedule
 * as "exponential_decay". */
static int name_matches(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_') a++;
        while (*b == '_') b++;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        if (*a == '\0') return 1;
        a++;
        b++;
    }
}

static int schedule_kind_parse(const char *name, ds_schedule_kind *out)
{
    for (int k = 1; k < DS_SCHEDULE_COUNT; k++) {
        if (name_matches(name, schedule_names[k])) {
            *out = (ds_schedule_kind)k;
            return 1;
        }
    }
    if (ds_streq_nocase(name, "step")) {
        *out = DS_SCHEDULE_STEP;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Defaults and the argument table */

ds_optimizer ds_optimizer_defaults(ds_opt_kind k)
{
    ds_optimizer o;
    memset(&o, 0, sizeof o);
    o.kind = k;
    o.learning_rate = k == DS_OPT_SGD ? 0.01 : 0.001;
    o.epsilon = 1e-7;
    o.schedule.kind = DS_SCHEDULE_CONSTANT;
    switch (k) {
    case DS_OPT_RMSPROP: o.rho = 0.9; break;
    case DS_OPT_ADADELTA: o.rho = 0.95; break;
    case DS_OPT_ADAMW: o.weight_decay = 0.004; /* fall through */
    case DS_OPT_ADAM:
    case DS_OPT_ADAMAX:
    case DS_OPT_NADAM:
        o.beta_1 = 0.9;
        o.beta_2 = 0.999;
        break;
    case DS_OPT_ADAGRAD: o.initial_accumulator_value = 0.1; break;
    default: break;
    }
    return o;
}

typedef enum {
    A_MOMENTUM = 0, A_NESTEROV, A_RHO, A_EPSILON, A_CENTERED, A_BETA_1, A_BETA_2, A_AMSGRAD,
    A_WEIGHT_DECAY, A_INITIAL_ACC, A_DECAY, A_CLIPNORM, A_CLIPVALUE, A_GLOBAL_CLIPNORM,
    A_COUNT,
    A_END = -1
} arg_id;

typedef struct {
    const char *name;
    int is_bool; /* an int field, else a double */
    size_t off;  /* in ds_optimizer */
} arg_desc;

static const arg_desc args[A_COUNT] = {
    {"momentum", 0, offsetof(ds_optimizer, momentum)},
    {"nesterov", 1, offsetof(ds_optimizer, nesterov)},
    {"rho", 0, offsetof(ds_optimizer, rho)},
    {"epsilon", 0, offsetof(ds_optimizer, epsilon)},
    {"centered", 1, offsetof(ds_optimizer, centered)},
    {"beta_1", 0, offsetof(ds_optimizer, beta_1)},
    {"beta_2", 0, offsetof(ds_optimizer, beta_2)},
    {"amsgrad", 1, offsetof(ds_optimizer, amsgrad)},
    {"weight_decay", 0, offsetof(ds_optimizer, weight_decay)},
    {"initial_accumulator_value", 0, offsetof(ds_optimizer, initial_accumulator_value)},
    {"decay", 0, offsetof(ds_optimizer, decay)},
    {"clipnorm", 0, offsetof(ds_optimizer, clipnorm)},
    {"clipvalue", 0, offsetof(ds_optimizer, clipvalue)},
    {"global_clipnorm", 0, offsetof(ds_optimizer, global_clipnorm)},
};

/* Each optimizer's arguments after learning_rate, in the order of its Keras signature
 * (positional arguments 1, 2, ...). */
static const arg_id kind_args[DS_OPT_COUNT][6] = {
    [DS_OPT_SGD] = {A_MOMENTUM, A_NESTEROV, A_END},
    [DS_OPT_RMSPROP] = {A_RHO, A_MOMENTUM, A_EPSILON, A_CENTERED, A_END},
    [DS_OPT_ADAM] = {A_BETA_1, A_BETA_2, A_EPSILON, A_AMSGRAD, A_END},
    [DS_OPT_ADAMW] = {A_WEIGHT_DECAY, A_BETA_1, A_BETA_2, A_EPSILON, A_AMSGRAD, A_END},
    [DS_OPT_ADAGRAD] = {A_INITIAL_ACC, A_EPSILON, A_END},
    [DS_OPT_ADADELTA] = {A_RHO, A_EPSILON, A_END},
    [DS_OPT_ADAMAX] = {A_BETA_1, A_BETA_2, A_EPSILON, A_END},
    [DS_OPT_NADAM] = {A_BETA_1, A_BETA_2, A_EPSILON, A_END},
};

/* Keyword-only arguments every optimizer accepts (Keras 3's base optimizer, plus
 * tf.keras 2.x's `decay`). */
static const arg_id common_args[] = {A_WEIGHT_DECAY, A_CLIPNORM, A_CLIPVALUE,
                                     A_GLOBAL_CLIPNORM, A_DECAY, A_END};

static double *num_field(ds_optimizer *o, arg_id a) { return (double *)((char *)o + args[a].off); }
static int *int_field(ds_optimizer *o, arg_id a) { return (int *)((char *)o + args[a].off); }
static double num_value(const ds_optimizer *o, arg_id a)
{
    return *(const double *)((const char *)o + args[a].off);
}
static int int_value(const ds_optimizer *o, arg_id a)
{
    return *(const int *)((const char *)o + args[a].off);
}

static int kind_has_arg(ds_opt_kind k, arg_id a)
{
    for (int i = 0; kind_args[k][i] != A_END; i++)
        if (kind_args[k][i] == a) return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Formatting */

typedef struct {
    char *buf;
    size_t size, len;
} strbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(strbuf *sb, const char *fmt, ...)
{
    if (sb->len + 1 >= sb->size) return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(sb->buf + sb->len, sb->size - sb->len, fmt, ap);
    va_end(ap);
    if (r < 0) return;
    sb->len += (size_t)r;
    if (sb->len >= sb->size) sb->len = sb->size - 1;
}

/* The shortest text that reads back as exactly v: integers without an exponent,
 * otherwise the fewest %g digits that round-trip. */
static void fmt_num(char *b, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(b, n, "%.0f", v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(b, n, "%.*g", p, v);
        if (strtod(b, NULL) == v) return;
    }
}

static void sb_num(strbuf *sb, double v)
{
    char t[40];
    fmt_num(t, sizeof t, v);
    sb_printf(sb, "%s", t);
}

static void sb_list(strbuf *sb, const double *v, int n)
{
    sb_printf(sb, "[");
    for (int i = 0; i < n; i++) {
        if (i) sb_printf(sb, ", ");
        sb_num(sb, v[i]);
    }
    sb_printf(sb, "]");
}

/* Writes the schedule as a spec, with learning_rate as its initial learning rate. */
static void sb_schedule(strbuf *sb, const ds_schedule *s, double learning_rate)
{
    sb_printf(sb, "%s(", schedule_names[s->kind]);
    switch (s->kind) {
    case DS_SCHEDULE_INVERSE_TIME:
    case DS_SCHEDULE_EXPONENTIAL:
        sb_printf(sb, "initial_learning_rate=");
        sb_num(sb, learning_rate);
        sb_printf(sb, ", decay_steps=");
        sb_num(sb, s->decay_steps);
        sb_printf(sb, ", decay_rate=");
        sb_num(sb, s->decay_rate);
        if (s->staircase) sb_printf(sb, ", staircase=true");
        break;
    case DS_SCHEDULE_COSINE:
        sb_printf(sb, "initial_learning_rate=");
        sb_num(sb, learning_rate);
        sb_printf(sb, ", decay_steps=");
        sb_num(sb, s->decay_steps);
        if (s->alpha != 0.0) {
            sb_printf(sb, ", alpha=");
            sb_num(sb, s->alpha);
        }
        break;
    case DS_SCHEDULE_STEP:
        sb_printf(sb, "boundaries=");
        sb_list(sb, s->boundaries, s->n_boundaries);
        sb_printf(sb, ", values=");
        sb_list(sb, s->values, s->n_boundaries + 1);
        break;
    default: break;
    }
    sb_printf(sb, ")");
}

const char *ds_optimizer_str(const ds_optimizer *opt, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    buf[0] = '\0';
    strbuf sb = {buf, size, 0};
    ds_opt_kind k = opt->kind;
    if ((int)k < 0 || k >= DS_OPT_COUNT) {
        sb_printf(&sb, "unknown");
        return buf;
    }
    ds_optimizer def = ds_optimizer_defaults(k);
    int n_out = 0;
    /* learning_rate always (it is what sweeps vary), the rest when not the default */
    sb_printf(&sb, "%s", opt_names[k]);

    if (opt->schedule.kind != DS_SCHEDULE_CONSTANT) {
        sb_printf(&sb, "(learning_rate=");
        sb_schedule(&sb, &opt->schedule, opt->learning_rate);
        n_out++;
    } else {
        sb_printf(&sb, "(learning_rate=");
        sb_num(&sb, opt->learning_rate);
        n_out++;
    }
    for (int pass = 0; pass < 2; pass++) {
        const arg_id *list = pass == 0 ? kind_args[k] : common_args;
        for (int i = 0; list[i] != A_END; i++) {
            arg_id a = list[i];
            if (pass == 1 && kind_has_arg(k, a)) continue;
            int differs = args[a].is_bool ? int_value(opt, a) != int_value(&def, a)
                                          : num_value(opt, a) != num_value(&def, a);
            if (!differs) continue;
            sb_printf(&sb, "%s%s=", n_out ? ", " : "(", args[a].name);
            if (args[a].is_bool) sb_printf(&sb, "%s", int_value(opt, a) ? "true" : "false");
            else sb_num(&sb, num_value(opt, a));
            n_out++;
        }
    }
    if (n_out) sb_printf(&sb, ")");
    return buf;
}

/* ------------------------------------------------------------------------------------ */
/* Checking */

static ds_status check_unit(const char *name, const char *key, double v, int closed_top,
                            ds_error *err)
{
    int ok = v >= 0.0 && (closed_top ? v <= 1.0 : v < 1.0);
    if (!ok)
        return ds_fail(err, DS_ERR_ARG, "%s: %s=%g must be in [0, 1%s", name, key, v,
                       closed_top ? "]" : ")");
    return DS_OK;
}

static ds_status check_nonneg(const char *name, const char *key, double v, ds_error *err)
{
    if (!(v >= 0.0 && isfinite(v)))
        return ds_fail(err, DS_ERR_ARG, "%s: %s=%g must be a finite number >= 0", name, key, v);
    return DS_OK;
}

static ds_status check_schedule(const char *name, const ds_schedule *s, ds_error *err)
{
    if ((int)s->kind < 0 || s->kind >= DS_SCHEDULE_COUNT)
        return ds_fail(err, DS_ERR_ARG, "%s: learning_rate schedule kind %d is not valid", name,
                       (int)s->kind);
    const char *sn = schedule_names[s->kind];
    switch (s->kind) {
    case DS_SCHEDULE_INVERSE_TIME:
    case DS_SCHEDULE_EXPONENTIAL:
    case DS_SCHEDULE_COSINE:
        if (!(s->decay_steps > 0.0 && isfinite(s->decay_steps)))
            return ds_fail(err, DS_ERR_ARG, "%s: %s: decay_steps=%g must be a finite number > 0",
                           name, sn, s->decay_steps);
        if (s->kind == DS_SCHEDULE_COSINE) {
            if (!(s->alpha >= 0.0 && s->alpha <= 1.0))
                return ds_fail(err, DS_ERR_ARG, "%s: %s: alpha=%g must be in [0, 1]", name, sn,
                               s->alpha);
        } else if (!(s->decay_rate >= 0.0 && isfinite(s->decay_rate))) {
            return ds_fail(err, DS_ERR_ARG, "%s: %s: decay_rate=%g must be a finite number >= 0",
                           name, sn, s->decay_rate);
        }
        break;
    case DS_SCHEDULE_STEP:
        if (s->n_boundaries < 1 || s->n_boundaries > DS_SCHEDULE_MAX_BOUNDARIES)
            return ds_fail(err, DS_ERR_ARG, "%s: %s: boundaries has %d entries, expected 1 to %d",
                           name, sn, s->n_boundaries, DS_SCHEDULE_MAX_BOUNDARIES);
        for (int i = 0; i < s->n_boundaries; i++) {
            if (!isfinite(s->boundaries[i]))
                return ds_fail(err, DS_ERR_ARG, "%s: %s: boundaries[%d]=%g is not finite", name,
                               sn, i, s->boundaries[i]);
            if (i > 0 && !(s->boundaries[i] > s->boundaries[i - 1]))
                return ds_fail(err, DS_ERR_ARG,
                               "%s: %s: boundaries must increase (boundaries[%d]=%g after %g)",
                               name, sn, i, s->boundaries[i], s->boundaries[i - 1]);
        }
        for (int i = 0; i <= s->n_boundaries; i++)
            if (!(s->values[i] >= 0.0 && isfinite(s->values[i])))
                return ds_fail(err, DS_ERR_ARG,
                               "%s: %s: values[%d]=%g must be a finite number >= 0", name, sn, i,
                               s->values[i]);
        break;
    default: break;
    }
    return DS_OK;
}

ds_status ds_optimizer_check(const ds_optimizer *opt, ds_error *err)
{
    ds_opt_kind k = opt->kind;
    if ((int)k < 0 || k >= DS_OPT_COUNT)
        return ds_fail(err, DS_ERR_ARG, "optimizer kind %d is not valid", (int)k);
    const char *nm = opt_names[k];
    ds_status s;
    if ((s = check_nonneg(nm, "learning_rate", opt->learning_rate, err))) return s;
    for (int i = 0; kind_args[k][i] != A_END; i++) {
        arg_id a = kind_args[k][i];
        double v = args[a].is_bool ? 0.0 : num_value(opt, a);
        switch (a) {
        case A_MOMENTUM: s = check_unit(nm, "momentum", v, 1, err); break;
        case A_RHO: s = check_unit(nm, "rho", v, 0, err); break;
        case A_BETA_1: s = check_unit(nm, "beta_1", v, 0, err); break;
        case A_BETA_2: s = check_unit(nm, "beta_2", v, 0, err); break;
        case A_EPSILON: s = check_nonneg(nm, "epsilon", v, err); break;
        case A_INITIAL_ACC: s = check_nonneg(nm, "initial_accumulator_value", v, err); break;
        default: break;
        }
        if (s) return s;
    }
    for (int i = 0; common_args[i] != A_END; i++) {
        arg_id a = common_args[i];
        if ((s = check_nonneg(nm, args[a].name, num_value(opt, a), err))) return s;
    }
    const arg_id clips[3] = {A_CLIPNORM, A_CLIPVALUE, A_GLOBAL_CLIPNORM};
    int first = -1;
    for (int i = 0; i < 3; i++) {
        if (num_value(opt, clips[i]) <= 0.0) continue;
        if (first >= 0)
            return ds_fail(err, DS_ERR_ARG,
                           "%s: only one of clipnorm, clipvalue and global_clipnorm may be set "
                           "(got %s=%g and %s=%g)",
                           nm, args[clips[first]].name, num_value(opt, clips[first]),
                           args[clips[i]].name, num_value(opt, clips[i]));
        first = i;
    }
    return check_schedule(nm, &opt->schedule, err);
}

/* ------------------------------------------------------------------------------------ */
/* Parsing */

/* The one argument called `key` (or positional number `pos`, -1 for none). Two
 * arguments meaning the same thing are an error. *found is NULL when absent. */
static ds_status find_arg(const ds_spec *s, const char *key, int pos, int *used,
                          const ds_spec_arg **found, const char *what, ds_error *err)
{
    *found = NULL;
    for (int i = 0; i < s->n_args; i++) {
        const ds_spec_arg *a = &s->args[i];
        if (!((a->key[0] && strcmp(a->key, key) == 0) || (!a->key[0] && i == pos))) continue;
        if (*found)
            return ds_fail(err, DS_ERR_ARG, "%s: %s given twice", what, key);
        *found = a;
        used[i] = 1;
    }
    return DS_OK;
}

/* Reads "[a, b, c]" (separators: commas, semicolons or spaces) into v. */
static ds_status parse_list(const char *text, double *v, int max, int *n, const char *what,
                            const char *key, ds_error *err)
{
    size_t len = strlen(text);
    if (len < 2 || text[0] != '[' || text[len - 1] != ']')
        return ds_fail(err, DS_ERR_ARG, "%s: %s=%s must be a list like [1, 2]", what, key, text);
    *n = 0;
    const char *p = text + 1, *end = text + len - 1;
    for (;;) {
        while (p < end && (isspace((unsigned char)*p) || *p == ',' || *p == ';')) p++;
        if (p >= end) break;
        const char *b = p;
        while (p < end && !isspace((unsigned char)*p) && *p != ',' && *p != ';') p++;
        char tok[64];
        if ((size_t)(p - b) >= sizeof tok)
            return ds_fail(err, DS_ERR_ARG, "%s: %s: list entry too long", what, key);
        memcpy(tok, b, (size_t)(p - b));
        tok[p - b] = '\0';
        if (*n == max)
            return ds_fail(err, DS_ERR_ARG, "%s: %s has more than %d entries", what, key, max);
        ds_status s = ds_spec_number(tok, &v[*n], what, key, err);
        if (s) return s;
        (*n)++;
    }
    return DS_OK;
}

static ds_status parse_number_arg(const ds_spec *s, const char *key, int pos, int *used,
                                  int required, double *out, const char *what, ds_error *err)
{
    const ds_spec_arg *a;
    ds_status st = find_arg(s, key, pos, used, &a, what, err);
    if (st) return st;
    if (!a) return required ? ds_fail(err, DS_ERR_ARG, "%s: missing %s", what, key) : DS_OK;
    return ds_spec_number(a->value, out, what, key, err);
}

/* Parses a schedule spec into o->schedule and o->learning_rate (its initial value). */
static ds_status parse_schedule(const char *text, ds_optimizer *o, ds_error *err)
{
    ds_spec s;
    ds_status st = ds_spec_parse(text, &s, "learning_rate schedule", err);
    if (st) return st;
    char what[128];
    snprintf(what, sizeof what, "%s: learning_rate=%.64s", opt_names[o->kind], s.name);
    ds_schedule_kind kind;
    if (!schedule_kind_parse(s.name, &kind))
        return ds_fail(err, DS_ERR_ARG,
                       "%s: unknown learning rate schedule '%s' (expected inverse_time_decay, "
                       "exponential_decay, piecewise_constant_decay or cosine_decay)",
                       opt_names[o->kind], s.name);
    ds_schedule sc;
    memset(&sc, 0, sizeof sc);
    sc.kind = kind;
    int used[DS_SPEC_MAX_ARGS] = {0};
    double lr = 0.0;
    const ds_spec_arg *a;
    switch (kind) {
    case DS_SCHEDULE_INVERSE_TIME:
    case DS_SCHEDULE_EXPONENTIAL:
        if ((st = parse_number_arg(&s, "initial_learning_rate", 0, used, 1, &lr, what, err)) ||
            (st = parse_number_arg(&s, "decay_steps", 1, used, 1, &sc.decay_steps, what, err)) ||
            (st = parse_number_arg(&s, "decay_rate", 2, used, 1, &sc.decay_rate, what, err)) ||
            (st = find_arg(&s, "staircase", 3, used, &a, what, err)))
            return st;
        if (a && (st = ds_spec_bool(a->value, &sc.staircase, what, "staircase", err))) return st;
        break;
    case DS_SCHEDULE_COSINE:
        if ((st = parse_number_arg(&s, "initial_learning_rate", 0, used, 1, &lr, what, err)) ||
            (st = parse_number_arg(&s, "decay_steps", 1, used, 1, &sc.decay_steps, what, err)) ||
            (st = parse_number_arg(&s, "alpha", 2, used, 0, &sc.alpha, what, err)))
            return st;
        break;
    case DS_SCHEDULE_STEP: {
        int n_values = 0;
        if ((st = find_arg(&s, "boundaries", 0, used, &a, what, err))) return st;
        if (!a) return ds_fail(err, DS_ERR_ARG, "%s: missing boundaries", what);
        if ((st = parse_list(a->value, sc.boundaries, DS_SCHEDULE_MAX_BOUNDARIES,
                             &sc.n_boundaries, what, "boundaries", err)))
            return st;
        if ((st = find_arg(&s, "values", 1, used, &a, what, err))) return st;
        if (!a) return ds_fail(err, DS_ERR_ARG, "%s: missing values", what);
        if ((st = parse_list(a->value, sc.values, DS_SCHEDULE_MAX_BOUNDARIES + 1, &n_values,
                             what, "values", err)))
            return st;
        if (n_values != sc.n_boundaries + 1)
            return ds_fail(err, DS_ERR_ARG,
                           "%s: values has %d entries, expected one more than boundaries (%d)",
                           what, n_values, sc.n_boundaries + 1);
        lr = sc.values[0];
        break;
    }
    default: break;
    }
    if ((st = ds_spec_check_used(&s, used, "learning rate schedule", err))) return st;
    o->schedule = sc;
    o->learning_rate = lr;
    return DS_OK;
}

ds_status ds_optimizer_parse(const char *spec, ds_optimizer *out, ds_error *err)
{
    ds_spec s;
    ds_status st = ds_spec_parse(spec, &s, "optimizer", err);
    if (st) return st;
    ds_opt_kind kind;
    if (ds_opt_kind_parse(s.name, &kind) != DS_OK)
        return ds_fail(err, DS_ERR_ARG,
                       "optimizer '%s': unknown name (expected sgd, rmsprop, adam, adamw, "
                       "adagrad, adadelta, adamax or nadam)",
                       s.name);
    const char *nm = opt_names[kind];
    ds_optimizer o = ds_optimizer_defaults(kind);
    int used[DS_SPEC_MAX_ARGS] = {0};

    /* learning_rate (positional 0), or tf.keras 2.x's alias lr; a number or a schedule */
    const ds_spec_arg *lr, *lr_alias;
    if ((st = find_arg(&s, "learning_rate", 0, used, &lr, nm, err)) ||
        (st = find_arg(&s, "lr", -1, used, &lr_alias, nm, err)))
        return st;
    if (lr && lr_alias)
        return ds_fail(err, DS_ERR_ARG, "%s: learning_rate given twice (as learning_rate and lr)",
                       nm);
    if (!lr) lr = lr_alias;
    if (lr) {
        const char *key = lr == lr_alias ? "lr" : "learning_rate";
        if (isalpha((unsigned char)lr->value[0])) st = parse_schedule(lr->value, &o, err);
        else st = ds_spec_number(lr->value, &o.learning_rate, nm, key, err);
        if (st) return st;
    }

    for (int pass = 0; pass < 2; pass++) {
        const arg_id *list = pass == 0 ? kind_args[kind] : common_args;
        for (int i = 0; list[i] != A_END; i++) {
            arg_id a = list[i];
            if (pass == 1 && kind_has_arg(kind, a)) continue;
            const ds_spec_arg *v;
            if ((st = find_arg(&s, args[a].name, pass == 0 ? i + 1 : -1, used, &v, nm, err)))
                return st;
            if (!v) continue;
            if (args[a].is_bool)
                st = ds_spec_bool(v->value, int_field(&o, a), nm, args[a].name, err);
            else
                st = ds_spec_number(v->value, num_field(&o, a), nm, args[a].name, err);
            if (st) return st;
        }
    }
    if ((st = ds_spec_check_used(&s, used, "optimizer", err))) return st;
    if ((st = ds_optimizer_check(&o, err))) return st;
    *out = o;
    return DS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Learning rate */

/* Keras's LearningRateSchedule formulas at step = iterations (keras:
 * src/optimizers/schedules/learning_rate_schedule.py), then tf.keras 2.x's legacy
 * inverse-time decay (OptimizerV2._decayed_lr):
 *   inverse_time_decay:  lr / (1 + decay_rate * p),   p = step / decay_steps (floored if staircase)
 *   exponential_decay:   lr * decay_rate ^ p
 *   piecewise_constant:  values[i], i = number of boundaries b with step > b
 *   cosine_decay:        lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, T) / T)) + alpha)
 *   legacy decay:        lr_t = lr_t / (1 + decay * iterations) */
double ds_optimizer_learning_rate(const ds_optimizer *opt, int64_t iterations)
{
    const ds_schedule *s = &opt->schedule;
    double step = iterations > 0 ? (double)iterations : 0.0;
    double lr = opt->learning_rate, p;
    switch (s->kind) {
    case DS_SCHEDULE_INVERSE_TIME:
        p = step / s->decay_steps;
        if (s->staircase) p = floor(p);
        lr = lr / (1.0 + s->decay_rate * p);
        break;
    case DS_SCHEDULE_EXPONENTIAL:
        p = step / s->decay_steps;
        if (s->staircase) p = floor(p);
        lr = lr * pow(s->decay_rate, p);
        break;
    case DS_SCHEDULE_STEP: {
        int i = 0;
        while (i < s->n_boundaries && step > s->boundaries[i]) i++;
        lr = s->values[i];
        break;
    }
    case DS_SCHEDULE_COSINE: {
        double frac = fmin(step, s->decay_steps) / s->decay_steps;
        double cosine = 0.5 * (1.0 + cos(ds_pi * frac));
        lr = lr * ((1.0 - s->alpha) * cosine + s->alpha);
        break;
    }
    default: break;
    }
    if (opt->decay > 0.0) lr = lr / (1.0 + opt->decay * step);
    return lr;
}

/* ------------------------------------------------------------------------------------ */
/* State */

/* Which of slot[0..2] the optimizer uses:
 *   sgd      slot0 velocity (momentum > 0 only)
 *   rmsprop  slot0 mean square, slot1 mean gradient (centered), slot2 momentum (> 0)
 *   adam(w)  slot0 m, slot1 v, slot2 vhat (amsgrad)
 *   adagrad  slot0 accumulator
 *   adadelta slot0 accumulated g^2, slot1 accumulated delta^2
 *   adamax   slot0 m, slot1 u (infinity norm)
 *   nadam    slot0 m, slot1 v */
static void slot_usage(const ds_optimizer *c, int use[3])
{
    use[0] = use[1] = use[2] = 0;
    switch (c->kind) {
    case DS_OPT_SGD: use[0] = c->momentum > 0.0; break;
    case DS_OPT_RMSPROP:
        use[0] = 1;
        use[1] = c->centered != 0;
        use[2] = c->momentum > 0.0;
        break;
    case DS_OPT_ADAM:
    case DS_OPT_ADAMW:
        use[0] = use[1] = 1;
        use[2] = c->amsgrad != 0;
        break;
    case DS_OPT_ADAGRAD: use[0] = 1; break;
    case DS_OPT_ADADELTA:
    case DS_OPT_ADAMAX:
    case DS_OPT_NADAM: use[0] = use[1] = 1; break;
    default: break;
    }
}

/* The slots share one allocation, packed in slot order, so the lowest-numbered slot in
 * use points at its start. */
void ds_optim_free(ds_optim_state *st)
{
    if (!st) return;
    for (int i = 0; i < 3; i++) {
        if (st->slot[i]) {
            free(st->slot[i]);
            break;
        }
    }
    st->slot[0] = st->slot[1] = st->slot[2] = NULL;
    st->n = 0;
}

ds_status ds_optim_init(ds_optim_state *st, const ds_optimizer *cfg, ds_keras_version kv,
                        size_t n, ds_error *err)
{
    ds_status s = ds_optimizer_check(cfg, err);
    if (s) return s;
    if (kv != DS_KERAS_2 && kv != DS_KERAS_3)
        return ds_fail(err, DS_ERR_ARG, "%s: keras version %d must be 2 or 3",
                       opt_names[cfg->kind], (int)kv);
    int use[3];
    slot_usage(cfg, use);
    size_t n_slots = (size_t)(use[0] + use[1] + use[2]);
    float *block = NULL;
    if (n_slots && n) {
        if (n > SIZE_MAX / sizeof(float) / n_slots)
            return ds_fail(err, DS_ERR_NOMEM, "%s: %zu optimizer slots of %zu parameters "
                           "do not fit in memory", opt_names[cfg->kind], n_slots, n);
        block = malloc(n_slots * n * sizeof(float));
        if (!block)
            return ds_fail(err, DS_ERR_NOMEM, "%s: cannot allocate %zu optimizer slots of %zu "
                           "parameters", opt_names[cfg->kind], n_slots, n);
    }
    ds_optim_free(st);
    memset(st, 0, sizeof *st);
    st->cfg = *cfg;
    st->keras = kv;
    st->n = n;
    size_t used = 0;
    for (int i = 0; i < 3; i++)
        if (use[i] && block) st->slot[i] = block + n * used++;
    ds_optim_reset(st);
    return DS_OK;
}

void ds_optim_reset(ds_optim_state *st)
{
    st->iterations = 0;
    st->nadam_prod = 1.0;
    st->lr_scale = 1.0;
    for (int i = 0; i < 3; i++)
        if (st->slot[i]) memset(st->slot[i], 0, st->n * sizeof(float));
    if (st->cfg.kind == DS_OPT_ADAGRAD && st->slot[0]) {
        float a0 = (float)st->cfg.initial_accumulator_value;
        for (size_t i = 0; i < st->n; i++) st->slot[0][i] = a0;
    }
}

double ds_optim_current_lr(const ds_optim_state *st)
{
    return ds_optimizer_learning_rate(&st->cfg, st->iterations) * st->lr_scale;
}

/* ------------------------------------------------------------------------------------ */
/* Clipping and weight decay (Keras 3 base optimizer; tf.keras 2.x for clipnorm and
 * clipvalue) */

static double sum_squares(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return s;
}

/* g <- g * c / max(||g||_2, c): leaves g alone when its norm is at most c (or NaN). */
static void scale_to_norm(float *g, size_t n, double norm, double c)
{
    if (!(norm > c)) return;
    float scale = (float)(c / norm);
    for (size_t i = 0; i < n; i++) g[i] *= scale;
}

/* clipvalue: g <- clip(g, -c, c) elementwise (NaN stays NaN).
 * clipnorm: per tensor, g <- g * c / max(||g||, c); without spans the arena is one tensor.
 * global_clipnorm: every entry scaled by c / max(global_norm, c), global_norm over the
 * whole arena. */
static void clip_gradients(const ds_optimizer *c, float *grad, size_t n,
                           const ds_tensor_span *tensors, int n_tensors)
{
    if (c->clipvalue > 0.0) {
        float cv = (float)c->clipvalue;
        for (size_t i = 0; i < n; i++) {
            if (grad[i] > cv) grad[i] = cv;
            else if (grad[i] < -cv) grad[i] = -cv;
        }
    } else if (c->clipnorm > 0.0) {
        if (!tensors || n_tensors <= 0) {
            scale_to_norm(grad, n, sqrt(sum_squares(grad, n)), c->clipnorm);
            return;
        }
        for (int t = 0; t < n_tensors; t++) {
            assert(tensors[t].offset + tensors[t].size <= n);
            float *g = grad + tensors[t].offset;
            size_t len = tensors[t].size;
            scale_to_norm(g, len, sqrt(sum_squares(g, len)), c->clipnorm);
        }
    } else if (c->global_clipnorm > 0.0) {
        scale_to_norm(grad, n, sqrt(sum_squares(grad, n)), c->global_clipnorm);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Update rules. Each takes the learning rate of this step; t = iterations + 1. */

/* SGD (keras: src/optimizers/sgd.py; tf.keras 2.x: the TF kernel ApplyKerasMomentum):
 *   mu = 0:   w <- w - lr g
 *   mu > 0:   v <- mu v - lr g;  w <- w + v           (v starts at 0)
 *   Nesterov: v <- mu v - lr g;  w <- w + mu v - lr g (with the updated v) */
static void sgd_step(const ds_optim_state *st, float *w, const float *g, float lr,
                     size_t lo, size_t hi)
{
    if (!st->slot[0]) {
        for (size_t i = lo; i < hi; i++) w[i] -= lr * g[i];
        return;
    }
    float mu = (float)st->cfg.momentum, *v = st->slot[0];
    if (st->cfg.nesterov) {
        for (size_t i = lo; i < hi; i++) {
            v[i] = mu * v[i] - lr * g[i];
            w[i] += mu * v[i] - lr * g[i];
        }
    } else {
        for (size_t i = lo; i < hi; i++) {
            v[i] = mu * v[i] - lr * g[i];
            w[i] += v[i];
        }
    }
}

/* RMSprop (Hinton's lecture 6e; keras: src/optimizers/rmsprop.py; tf.keras 2.x:
 * optimizer_v2/rmsprop.py and the TF kernels ApplyRMSProp / ApplyCenteredRMSProp):
 *   v  <- rho v + (1 - rho) g^2
 *   mg <- rho mg + (1 - rho) g,  D = v - mg^2      (centered)   else D = v
 *   inc = lr g / sqrt(D + eps)   Keras 3, and tf.keras 2.x with momentum (TF kernel)
 *   inc = lr g / (sqrt(D) + eps) tf.keras 2.x without momentum (its Python path)
 *   momentum > 0: m <- mu m + inc; w <- w - m    else w <- w - inc */
static void rmsprop_step(const ds_optim_state *st, float *w, const float *g, float lr,
                         size_t lo, size_t hi)
{
    const ds_optimizer *c = &st->cfg;
    float rho = (float)c->rho, one_m_rho = (float)(1.0 - c->rho);
    float eps = (float)c->epsilon, mu = (float)c->momentum;
    float *v = st->slot[0], *mg = st->slot[1], *m = st->slot[2];
    int eps_inside = st->keras == DS_KERAS_3 || m != NULL;
    for (size_t i = lo; i < hi; i++) {
        v[i] = rho * v[i] + one_m_rho * (g[i] * g[i]);
        float d = v[i];
        if (mg) {
            mg[i] = rho * mg[i] + one_m_rho * g[i];
            d = v[i] - mg[i] * mg[i];
        }
        float inc = eps_inside ? lr * g[i] / sqrtf(d + eps) : lr * g[i] / (sqrtf(d) + eps);
        if (m) {
            m[i] = mu * m[i] + inc;
            w[i] -= m[i];
        } else {
            w[i] -= inc;
        }
    }
}

/* Adam / AMSGrad (Kingma and Ba 2015, Algorithm 1 with "epsilon hat"; Reddi et al. 2018;
 * keras: src/optimizers/adam.py; TF kernel ApplyAdam):
 *   m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v)
 *   amsgrad: vhat <- max(vhat, v), used in place of v
 *   alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)
 *   w <- w - alpha_t m / (sqrt(v) + eps)
 * AdamW is this rule after the decoupled decay done in ds_optim_update. */
static void adam_step(const ds_optim_state *st, float *w, const float *g, double lr,
                      size_t lo, size_t hi)
{
    const ds_optimizer *c = &st->cfg;
    double t = (double)(st->iterations + 1);
    float alpha = (float)(lr * sqrt(1.0 - pow(c->beta_2, t)) / (1.0 - pow(c->beta_1, t)));
    float one_m_b1 = (float)(1.0 - c->beta_1), one_m_b2 = (float)(1.0 - c->beta_2);
    float eps = (float)c->epsilon;
    float *m = st->slot[0], *v = st->slot[1], *vhat = st->slot[2];
    for (size_t i = lo; i < hi; i++) {
        m[i] += (g[i] - m[i]) * one_m_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_m_b2;
        float vv = v[i];
        if (vhat) {
            if (vv > vhat[i]) vhat[i] = vv;
            vv = vhat[i];
        }
        w[i] -= (m[i] * alpha) / (sqrtf(vv) + eps);
    }
}

/* Adagrad (Duchi et al. 2011; keras: src/optimizers/adagrad.py; TF kernel AdagradV2):
 *   a <- a + g^2                         (a starts at initial_accumulator_value)
 *   Keras 3:      w <- w - lr g / sqrt(a + eps)
 *   tf.keras 2.x: w <- w - lr g / (sqrt(a) + eps) */
static void adagrad_step(const ds_optim_state *st, float *w, const float *g, float lr,
                         size_t lo, size_t hi)
{
    float eps = (float)st->cfg.epsilon, *a = st->slot[0];
    if (st->keras == DS_KERAS_3) {
        for (size_t i = lo; i < hi; i++) {
            a[i] += g[i] * g[i];
            w[i] -= lr * g[i] / sqrtf(a[i] + eps);
        }
    } else {
        for (size_t i = lo; i < hi; i++) {
            a[i] += g[i] * g[i];
            w[i] -= lr * g[i] / (sqrtf(a[i]) + eps);
        }
    }
}

/* Adadelta (Zeiler 2012, Algorithm 1, with a learning rate; keras:
 * src/optimizers/adadelta.py; TF kernel ApplyAdadelta):
 *   Ag <- rho Ag + (1 - rho) g^2
 *   delta = -sqrt(Ax + eps) g / sqrt(Ag + eps)
 *   Ax <- rho Ax + (1 - rho) delta^2
 *   w <- w + lr delta */
static void adadelta_step(const ds_optim_state *st, float *w, const float *g, float lr,
                          size_t lo, size_t hi)
{
    float rho = (float)st->cfg.rho, one_m_rho = (float)(1.0 - st->cfg.rho);
    float eps = (float)st->cfg.epsilon;
    float *ag = st->slot[0], *ax = st->slot[1];
    for (size_t i = lo; i < hi; i++) {
        ag[i] = rho * ag[i] + one_m_rho * (g[i] * g[i]);
        float delta = -sqrtf(ax[i] + eps) * g[i] / sqrtf(ag[i] + eps);
        ax[i] = rho * ax[i] + one_m_rho * (delta * delta);
        w[i] += lr * delta;
    }
}

/* Adamax (Kingma and Ba 2015, Algorithm 2; keras: src/optimizers/adamax.py):
 *   m <- m + (1 - b1)(g - m);  u <- max(b2 u, |g|)
 *   w <- w - lr m / ((1 - b1^t)(u + eps)) */
static void adamax_step(const ds_optim_state *st, float *w, const float *g, float lr,
                        size_t lo, size_t hi)
{
    const ds_optimizer *c = &st->cfg;
    double t = (double)(st->iterations + 1);
    float corr = (float)(1.0 - pow(c->beta_1, t));
    float one_m_b1 = (float)(1.0 - c->beta_1), b2 = (float)c->beta_2;
    float eps = (float)c->epsilon;
    float *m = st->slot[0], *u = st->slot[1];
    for (size_t i = lo; i < hi; i++) {
        m[i] += (g[i] - m[i]) * one_m_b1;
        float ag = fabsf(g[i]), bu = b2 * u[i];
        u[i] = bu > ag ? bu : ag;
        w[i] -= (lr * m[i]) / (corr * (u[i] + eps));
    }
}

/* Nadam (Dozat 2016; keras: src/optimizers/nadam.py; tf.keras 2.x: optimizer_v2/nadam.py):
 *   u_t = b1 (1 - 0.5 * 0.96^t)            Keras 3 (and tf.keras 2.11+)
 *   u_t = b1 (1 - 0.5 * 0.96^(0.004 t))    tf.keras 2.0 to 2.10
 *   P_t = u_1 ... u_t (nadam_prod, updated once per step)
 *   m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v)
 *   mhat = u_(t+1) m / (1 - P_t u_(t+1)) + (1 - u_t) g / (1 - P_t)
 *   vhat = v / (1 - b2^t)
 *   w <- w - lr mhat / (sqrt(vhat) + eps) */
static void nadam_step(const ds_optim_state *st, float *w, const float *g, float lr,
                       size_t lo, size_t hi)
{
    const ds_optimizer *c = &st->cfg;
    double t = (double)(st->iterations + 1);
    double rate = st->keras == DS_KERAS_2 ? 0.004 : 1.0;
    double u_t = c->beta_1 * (1.0 - 0.5 * pow(0.96, rate * t));
    double u_t1 = c->beta_1 * (1.0 - 0.5 * pow(0.96, rate * (t + 1.0)));
    double prod_t = st->nadam_prod * u_t; /* nadam_prod becomes prod_t in ds_optim_finish */
    double prod_t1 = prod_t * u_t1;
    float fu_t1 = (float)u_t1, f1m_u_t = (float)(1.0 - u_t);
    float den_m = (float)(1.0 - prod_t1), den_g = (float)(1.0 - prod_t);
    float den_v = (float)(1.0 - pow(c->beta_2, t));
    float one_m_b1 = (float)(1.0 - c->beta_1), one_m_b2 = (float)(1.0 - c->beta_2);
    float eps = (float)c->epsilon;
    float *m = st->slot[0], *v = st->slot[1];
    for (size_t i = lo; i < hi; i++) {
        m[i] += (g[i] - m[i]) * one_m_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_m_b2;
        float mhat = fu_t1 * m[i] / den_m + f1m_u_t * g[i] / den_g;
        float vhat = v[i] / den_v;
        w[i] -= (mhat * lr) / (sqrtf(vhat) + eps);
    }
}

/* One step: clipping -> decoupled weight decay -> the rule -> iterations += 1 (the
 * order of Keras 3's BaseOptimizer.apply). Decay (Loshchilov and Hutter 2019; keras:
 * BaseOptimizer._apply_weight_decay) uses this step's learning rate, not Adam's alpha_t:
 *   w <- w - lr wd w */
void ds_optim_step(ds_optim_state *st, float *param, float *grad,
                   const ds_tensor_span *tensors, int n_tensors)
{
    const ds_optimizer *c = &st->cfg;
    if (c->clipvalue <= 0.0) clip_gradients(c, grad, st->n, tensors, n_tensors);
    ds_optim_update(st, param, grad, 0, st->n);
    ds_optim_finish(st);
}

int ds_optim_elementwise(const ds_optim_state *st)
{
    return !(st->cfg.clipnorm > 0.0) && !(st->cfg.global_clipnorm > 0.0);
}

void ds_optim_update(const ds_optim_state *st, float *param, float *grad, size_t lo, size_t hi)
{
    const ds_optimizer *c = &st->cfg;
    if (c->clipvalue > 0.0) {
        float cv = (float)c->clipvalue;
        for (size_t i = lo; i < hi; i++) {
            if (grad[i] > cv) grad[i] = cv;
            else if (grad[i] < -cv) grad[i] = -cv;
        }
    }
    double lr = ds_optim_current_lr(st);
    float flr = (float)lr;
    if (c->weight_decay > 0.0) {
        float k = (float)(lr * c->weight_decay);
        for (size_t i = lo; i < hi; i++) param[i] -= k * param[i];
    }
    switch (c->kind) {
    case DS_OPT_SGD: sgd_step(st, param, grad, flr, lo, hi); break;
    case DS_OPT_RMSPROP: rmsprop_step(st, param, grad, flr, lo, hi); break;
    case DS_OPT_ADAM:
    case DS_OPT_ADAMW: adam_step(st, param, grad, lr, lo, hi); break;
    case DS_OPT_ADAGRAD: adagrad_step(st, param, grad, flr, lo, hi); break;
    case DS_OPT_ADADELTA: adadelta_step(st, param, grad, flr, lo, hi); break;
    case DS_OPT_ADAMAX: adamax_step(st, param, grad, flr, lo, hi); break;
    case DS_OPT_NADAM: nadam_step(st, param, grad, flr, lo, hi); break;
    default: break;
    }
}

void ds_optim_finish(ds_optim_state *st)
{
    const ds_optimizer *c = &st->cfg;
    if (c->kind == DS_OPT_NADAM) { /* P_t = P_(t-1) u_t, as nadam_step computed it */
        double t = (double)(st->iterations + 1);
        double rate = st->keras == DS_KERAS_2 ? 0.004 : 1.0;
        st->nadam_prod *= c->beta_1 * (1.0 - 0.5 * pow(0.96, rate * t));
    }
    st->iterations++;
}
