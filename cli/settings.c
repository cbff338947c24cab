/*
 * settings.c - the table of settings, their checks, and their conversion into the
 * typed configuration of a run. Names and defaults are Keras's (fit's batch_size 32 and
 * epochs 1, compile's rmsprop, Dense's glorot_uniform and zeros) except where the
 * command adds its own (data preparation, sweeps).
 */
#include "settings.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* value kinds, checked when a setting is set */
enum {
    K_PATH, K_TEXT, K_INT0, K_INT1, K_FLOAT, K_FRAC, K_BOOL, K_ACT, K_INIT, K_OPT, K_LOSS,
    K_LAYERS, K_ES, K_RLR, K_SCALE, K_TMODE, K_KERAS, K_SEED, K_LR
};

typedef struct {
    cli_setting_def d;
    int kind;
} setting;

#define S(key, sec, def, meta, help, varies, kind) {{key, sec, def, meta, help, varies}, kind}

static const setting table[] = {
    S("data", CLI_SEC_DATA, "", "FILE", "training data: a CSV file with a header row", 1,
      K_PATH),
    S("test_data", CLI_SEC_DATA, "", "FILE", "test data (a CSV file); replaces --test-size", 1,
      K_PATH),
    S("target", CLI_SEC_DATA, "", "NAME", "target column (default: the last column)", 1,
      K_TEXT),
    S("target_mode", CLI_SEC_DATA, "auto", "MODE",
      "target encoding: auto|binary|onehot|sparse|regression", 1, K_TMODE),
    S("scale", CLI_SEC_DATA, "standard", "MODE",
      "feature scaling fitted on the training rows: standard|minmax|none", 1, K_SCALE),
    S("test_size", CLI_SEC_DATA, "0.3", "F", "fraction of rows held out for testing, [0, 1)",
      1, K_FRAC),
    S("split_seed", CLI_SEC_DATA, "42", "N", "seed of the train/test split", 1, K_SEED),
    S("stratify", CLI_SEC_DATA, "false", "BOOL", "keep class proportions in the split", 1,
      K_BOOL),
    S("scale_before_split", CLI_SEC_DATA, "false", "BOOL",
      "fit the scaler on all rows, as the course does", 1, K_BOOL),
    S("layers", CLI_SEC_MODEL, "", "SPEC",
      "layers, e.g. \"dense(8, relu), dense(1, sigmoid)\" (default: one output layer fitted "
      "to the target)",
      1, K_LAYERS),
    S("activation", CLI_SEC_MODEL, "linear", "NAME",
      "activation of the dense layers whose spec names none", 1, K_ACT),
    S("kernel_initializer", CLI_SEC_MODEL, "glorot_uniform", "SPEC",
      "initializer of kernels whose layer names none", 1, K_INIT),
    S("bias_initializer", CLI_SEC_MODEL, "zeros", "SPEC",
      "initializer of biases whose layer names none", 1, K_INIT),
    S("loss", CLI_SEC_COMPILE, "auto", "SPEC",
      "loss (auto: from the output layer and the target)", 1, K_LOSS),
    S("optimizer", CLI_SEC_COMPILE, "rmsprop", "SPEC",
      "optimizer, e.g. \"sgd(learning_rate=0.01, momentum=0.3, nesterov=true)\"", 1, K_OPT),
    S("learning_rate", CLI_SEC_COMPILE, "", "F",
      "learning rate, overriding the optimizer's", 1, K_LR),
    S("keras_version", CLI_SEC_COMPILE, "2", "2|3",
      "Keras rules where versions differ (2 = tf.keras 2.x, the course's)", 1, K_KERAS),
    S("batch_size", CLI_SEC_FIT, "32", "N", "rows per gradient step", 1, K_INT1),
    S("epochs", CLI_SEC_FIT, "1", "N", "passes over the training rows", 1, K_INT0),
    S("validation_split", CLI_SEC_FIT, "0", "F",
      "fraction of training rows (the last ones) held out for validation, [0, 1)", 1, K_FRAC),
    S("shuffle", CLI_SEC_FIT, "true", "BOOL", "reshuffle the training rows every epoch", 1,
      K_BOOL),
    S("early_stopping", CLI_SEC_FIT, "", "SPEC",
      "early stopping, e.g. \"patience=3, monitor=val_loss, restore_best_weights=true\"", 1,
      K_ES),
    S("reduce_lr", CLI_SEC_FIT, "", "SPEC",
      "reduce the learning rate on a plateau, e.g. \"factor=0.5, patience=2\"", 1, K_RLR),
    S("threads", CLI_SEC_FIT, "1", "N",
      "threads for one model's batch work (large models; results do not depend on it)", 0,
      K_INT1),
    S("diagnostics", CLI_SEC_FIT, "false", "BOOL",
      "record per-layer diagnostics every epoch (norms, saturation, dead units)", 0, K_BOOL),
    S("record_layer", CLI_SEC_FIT, "", "LAYER",
      "sweep: record this layer's outputs on the probe rows every epoch (index or name)", 0,
      K_TEXT),
    S("save", CLI_SEC_FIT, "", "FILE",
      "train: save the trained model (safetensors, with optimizer state)", 0, K_PATH),
    S("resume", CLI_SEC_FIT, "", "FILE",
      "train: continue a saved model's training up to --epochs", 0, K_PATH),
    S("checkpoint", CLI_SEC_FIT, "", "FILE",
      "train: save the model after every epoch (or the best one, see save_best_only)", 0,
      K_PATH),
    S("checkpoint_monitor", CLI_SEC_FIT, "", "NAME",
      "train: the metric save_best_only watches (default val_loss, or loss)", 0, K_TEXT),
    S("save_best_only", CLI_SEC_FIT, "false", "BOOL",
      "train: checkpoint only epochs that improve the monitored metric", 0, K_BOOL),
    S("seed", CLI_SEC_FIT, "1", "N",
      "seed of initialization, shuffling and dropout (sweeps derive one per repeat)", 0,
      K_SEED),
    S("repeats", CLI_SEC_SWEEP, "10", "N", "runs of every configuration, each with its seed",
      0, K_INT1),
    S("unpaired", CLI_SEC_SWEEP, "false", "BOOL",
      "derive seeds from the configuration too (default: repeat r shares its seeds)", 0,
      K_BOOL),
    S("restarts", CLI_SEC_SWEEP, "0", "N",
      "re-initialize a stalled run with the next seed, up to N times", 0, K_INT0),
    S("stall_patience", CLI_SEC_SWEEP, "5", "N",
      "a run stalls when its monitored loss has not improved for N epochs while its "
      "accuracy is below target_accuracy", 0, K_INT1),
    S("stall_min_delta", CLI_SEC_SWEEP, "0.0001", "F",
      "smallest decrease of the monitored loss that counts as progress", 0, K_FLOAT),
    S("stall_monitor", CLI_SEC_SWEEP, "loss", "NAME", "the loss watched for stalls", 0,
      K_TEXT),
    S("target_accuracy", CLI_SEC_SWEEP, "0.9", "F",
      "report the epochs each run needs to reach this accuracy", 0, K_FLOAT),
    S("jobs", CLI_SEC_SWEEP, "0", "N", "runs in parallel (0 = one per core)", 0, K_INT0),
    S("out", CLI_SEC_SWEEP, "", "DIR",
      "output folder (default: out/NAME for FILE.ini, else out/sweep)", 0, K_PATH),
    S("sort", CLI_SEC_SWEEP, "", "METRIC",
      "summary order (default: test_accuracy, else the first test metric)", 0, K_TEXT),
    {{NULL, CLI_SEC_DATA, NULL, NULL, NULL, 0}, 0},
};

#define N_SETTINGS ((int)(sizeof table / sizeof table[0]) - 1)

const cli_setting_def *cli_setting_def_at(int i)
{
    return (i >= 0 && i < N_SETTINGS) ? &table[i].d : NULL;
}

const char *cli_section_name(cli_section s)
{
    static const char *names[CLI_SEC_COUNT] = {"data", "model", "compile", "fit", "sweep"};
    return (s >= 0 && s < CLI_SEC_COUNT) ? names[s] : "?";
}

int cli_setting_find(const char *key)
{
    char k[64];
    size_t n = strlen(key);
    if (n >= sizeof k) return -1;
    for (size_t i = 0; i <= n; i++) k[i] = key[i] == '-' ? '_' : key[i];
    for (int i = 0; i < N_SETTINGS; i++)
        if (strcmp(table[i].d.key, k) == 0) return i;
    return -1;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void cli_settings_init(cli_settings *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < N_SETTINGS; i++) s->value[i] = dupstr(table[i].d.def);
}

void cli_settings_free(cli_settings *s)
{
    for (int i = 0; i < CLI_MAX_SETTINGS; i++) free(s->value[i]);
    memset(s, 0, sizeof *s);
}

ds_status cli_settings_copy(cli_settings *dst, const cli_settings *src)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < N_SETTINGS; i++) {
        dst->value[i] = dupstr(src->value[i]);
        dst->set[i] = src->set[i];
        if (!dst->value[i]) {
            cli_settings_free(dst);
            return DS_ERR_NOMEM;
        }
    }
    return DS_OK;
}

const char *cli_settings_get(const cli_settings *s, const char *key)
{
    int i = cli_setting_find(key);
    return i < 0 ? NULL : s->value[i];
}

/* ---------------------------------------------------------------------------------- */
/* value checks and conversions */

static ds_status bad(ds_error *err, const char *origin, const char *key, const char *value,
                     const char *why)
{
    return cli_fail(err, "%s: %s=%s: %s", origin, key, value, why);
}

static ds_status parse_int(const char *v, long long lo, long long *out)
{
    char *end;
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return DS_ERR_ARG;
    long long x = strtoll(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (*end || x < lo || x > 1000000000LL) return DS_ERR_ARG;
    *out = x;
    return DS_OK;
}

static ds_status parse_u64(const char *v, uint64_t *out)
{
    char *end;
    while (isspace((unsigned char)*v)) v++;
    if (!*v || *v == '-') return DS_ERR_ARG;
    unsigned long long x = strtoull(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (*end) return DS_ERR_ARG;
    *out = x;
    return DS_OK;
}

static ds_status parse_float(const char *v, double *out)
{
    return cli_parse_number(v, out) ? DS_ERR_ARG : DS_OK;
}

static ds_status parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (cli_eq_nocase(v, yes[i])) return *out = 1, DS_OK;
        if (cli_eq_nocase(v, no[i])) return *out = 0, DS_OK;
    }
    return DS_ERR_ARG;
}

/* early_stopping / reduce_lr: "patience=3, monitor=val_loss" or "true" for defaults */
static ds_status parse_monitor_mode(const char *v, ds_monitor_mode *m)
{
    if (cli_eq_nocase(v, "auto")) *m = DS_MODE_AUTO;
    else if (cli_eq_nocase(v, "min")) *m = DS_MODE_MIN;
    else if (cli_eq_nocase(v, "max")) *m = DS_MODE_MAX;
    else return DS_ERR_ARG;
    return DS_OK;
}

static ds_status parse_callback(const char *text, int is_es, ds_early_stopping *es,
                                ds_reduce_lr *rl, ds_error *err)
{
    const char *what = is_es ? "early_stopping" : "reduce_lr";
    int flag;
    if (!parse_bool(text, &flag)) {
        if (is_es) es->enabled = flag;
        else rl->enabled = flag;
        return DS_OK;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s(%s)", what, text);
    ds_spec sp;
    ds_status st = ds_spec_parse(buf, &sp, what, err);
    if (st) return st;
    for (int i = 0; i < sp.n_args; i++) {
        const char *k = sp.args[i].key, *v = sp.args[i].value;
        double x;
        int b;
        ds_monitor_mode mm;
        if (!k[0]) return cli_fail(err, "%s: '%s' needs a name (e.g. patience=%s)", what, v, v);
        if (strcmp(k, "monitor") == 0) {
            if (strlen(v) >= sizeof es->monitor)
                return cli_fail(err, "%s: monitor=%s is too long", what, v);
            memcpy(is_es ? es->monitor : rl->monitor, v, strlen(v) + 1);
        } else if (strcmp(k, "mode") == 0) {
            if (parse_monitor_mode(v, &mm))
                return cli_fail(err, "%s: mode=%s must be auto, min or max", what, v);
            if (is_es) es->mode = mm;
            else rl->mode = mm;
        } else if (strcmp(k, "patience") == 0 || strcmp(k, "cooldown") == 0 ||
                   strcmp(k, "start_from_epoch") == 0) {
            long long n;
            if (parse_int(v, 0, &n)) return cli_fail(err, "%s: %s=%s must be an integer >= 0", what, k, v);
            if (strcmp(k, "patience") == 0) {
                if (is_es) es->patience = (int)n;
                else rl->patience = (int)n;
            } else if (strcmp(k, "cooldown") == 0 && !is_es) {
                rl->cooldown = (int)n;
            } else if (strcmp(k, "start_from_epoch") == 0 && is_es) {
                es->start_from_epoch = (int)n;
            } else {
                return cli_fail(err, "%s: unknown argument '%s'", what, k);
            }
        } else if (strcmp(k, "restore_best_weights") == 0 && is_es) {
            if (parse_bool(v, &b)) return cli_fail(err, "%s: %s=%s is not true or false", what, k, v);
            es->restore_best_weights = b;
        } else if (strcmp(k, "min_delta") == 0 || strcmp(k, "baseline") == 0 ||
                   strcmp(k, "factor") == 0 || strcmp(k, "min_lr") == 0) {
            if (parse_float(v, &x)) return cli_fail(err, "%s: %s=%s is not a number", what, k, v);
            if (strcmp(k, "min_delta") == 0) {
                if (is_es) es->min_delta = x;
                else rl->min_delta = x;
            } else if (strcmp(k, "baseline") == 0 && is_es) {
                es->has_baseline = 1;
                es->baseline = x;
            } else if (strcmp(k, "factor") == 0 && !is_es) {
                if (!(x > 0 && x < 1)) return cli_fail(err, "%s: factor=%s must be in (0, 1)", what, v);
                rl->factor = x;
            } else if (strcmp(k, "min_lr") == 0 && !is_es) {
                if (x < 0) return cli_fail(err, "%s: min_lr=%s must be >= 0", what, v);
                rl->min_lr = x;
            } else {
                return cli_fail(err, "%s: unknown argument '%s'", what, k);
            }
        } else {
            return cli_fail(err, "%s: unknown argument '%s'", what, k);
        }
    }
    if (is_es) es->enabled = 1;
    else rl->enabled = 1;
    return DS_OK;
}

/* Checks one value of setting i; fills the matching part of c when c is not NULL. */
static ds_status check_value(int i, const char *v, const char *origin, cli_config *c,
                             ds_error *err)
{
    const char *key = table[i].d.key;
    long long n;
    double x;
    int b;
    uint64_t u;
    ds_error e2;
    switch (table[i].kind) {
    case K_PATH:
    case K_TEXT:
        if (strlen(v) >= (table[i].kind == K_PATH ? CLI_PATH_MAX : 256))
            return bad(err, origin, key, v, "too long");
        return DS_OK;
    case K_INT0:
    case K_INT1:
        if (parse_int(v, table[i].kind == K_INT1 ? 1 : 0, &n))
            return bad(err, origin, key, v,
                       table[i].kind == K_INT1 ? "must be an integer >= 1"
                                               : "must be an integer >= 0");
        return DS_OK;
    case K_SEED:
        if (parse_u64(v, &u)) return bad(err, origin, key, v, "must be an integer >= 0");
        return DS_OK;
    case K_FLOAT:
        if (parse_float(v, &x)) return bad(err, origin, key, v, "is not a number");
        return DS_OK;
    case K_LR:
        if (!*v) return DS_OK;
        if (parse_float(v, &x) || x < 0)
            return bad(err, origin, key, v, "must be a number >= 0");
        return DS_OK;
    case K_FRAC:
        if (parse_float(v, &x) || !(x >= 0 && x < 1))
            return bad(err, origin, key, v, "must be a number in [0, 1)");
        return DS_OK;
    case K_BOOL:
        if (parse_bool(v, &b)) return bad(err, origin, key, v, "must be true or false");
        return DS_OK;
    case K_SCALE: {
        cli_scale_mode m;
        if (cli_scale_mode_parse(v, &m)) return bad(err, origin, key, v, "must be standard, minmax or none");
        return DS_OK;
    }
    case K_TMODE: {
        cli_target_mode m;
        if (cli_target_mode_parse(v, &m))
            return bad(err, origin, key, v, "must be auto, binary, onehot, sparse or regression");
        return DS_OK;
    }
    case K_KERAS:
        if (strcmp(v, "2") && strcmp(v, "3")) return bad(err, origin, key, v, "must be 2 or 3");
        return DS_OK;
    case K_ACT: {
        ds_activation a;
        if (ds_activation_parse(v, &a, &e2)) return bad(err, origin, key, v, e2.message);
        return DS_OK;
    }
    case K_INIT: {
        ds_initializer in;
        if (ds_initializer_parse(v, &in, &e2)) return bad(err, origin, key, v, e2.message);
        return DS_OK;
    }
    case K_OPT: {
        ds_optimizer o;
        if (ds_optimizer_parse(v, &o, &e2) || ds_optimizer_check(&o, &e2))
            return bad(err, origin, key, v, e2.message);
        return DS_OK;
    }
    case K_LOSS: {
        ds_loss l;
        if (cli_eq_nocase(v, "auto")) return DS_OK;
        if (ds_loss_parse(v, &l, &e2)) return bad(err, origin, key, v, e2.message);
        return DS_OK;
    }
    case K_LAYERS: {
        if (!*v) return DS_OK;
        cli_layer tmp[CLI_MAX_LAYERS];
        int nl;
        if (cli_layers_parse(v, tmp, &nl, &e2)) return bad(err, origin, key, v, e2.message);
        return DS_OK;
    }
    case K_ES:
    case K_RLR: {
        if (!*v) return DS_OK;
        ds_early_stopping es = ds_early_stopping_defaults();
        ds_reduce_lr rl = ds_reduce_lr_defaults();
        if (parse_callback(v, table[i].kind == K_ES, &es, &rl, &e2))
            return bad(err, origin, key, v, e2.message);
        return DS_OK;
    }
    default:
        return DS_OK;
    }
    (void)c;
}

ds_status cli_settings_set(cli_settings *s, const char *key, const char *value,
                           const char *origin, ds_error *err)
{
    int i = cli_setting_find(key);
    if (i < 0) return cli_fail(err, "%s: unknown setting '%s'", origin, key);
    ds_status st = check_value(i, value, origin, NULL, err);
    if (st) return st;
    char *v = dupstr(value);
    if (!v) return cli_fail(err, "out of memory");
    free(s->value[i]);
    s->value[i] = v;
    s->set[i] = 1;
    return DS_OK;
}

char *cli_settings_dump(const cli_settings *s)
{
    size_t cap = 256;
    for (int i = 0; i < N_SETTINGS; i++) cap += strlen(table[i].d.key) + strlen(s->value[i]) + 8;
    char *out = malloc(cap), *p = out;
    if (!out) return NULL;
    for (int i = 0; i < N_SETTINGS; i++)
        p += sprintf(p, "%s = %s\n", table[i].d.key, s->value[i]);
    *p = '\0';
    return out;
}

/* ---------------------------------------------------------------------------------- */
/* lists and layers */

ds_status cli_split_list(const char *text, char ***parts, int *n, ds_error *err)
{
    *parts = NULL;
    *n = 0;
    int cap = 8;
    char **out = malloc(sizeof(char *) * (size_t)cap);
    if (!out) return cli_fail(err, "out of memory");
    const char *p = text;
    int count = 0;
    for (;;) {
        const char *b = p;
        int depth = 0;
        while (*p && !(depth == 0 && (*p == ',' || *p == ';'))) {
            if (*p == '(' || *p == '[') depth++;
            else if ((*p == ')' || *p == ']') && depth > 0) depth--;
            p++;
        }
        const char *e = p;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (e > b) {
            if (count == cap) {
                cap *= 2;
                char **np = realloc(out, sizeof(char *) * (size_t)cap);
                if (!np) {
                    cli_free_list(out, count);
                    return cli_fail(err, "out of memory");
                }
                out = np;
            }
            out[count] = malloc((size_t)(e - b) + 1);
            if (!out[count]) {
                cli_free_list(out, count);
                return cli_fail(err, "out of memory");
            }
            memcpy(out[count], b, (size_t)(e - b));
            out[count][e - b] = '\0';
            count++;
        }
        if (!*p) break;
        p++;
    }
    *parts = out;
    *n = count;
    return DS_OK;
}

ds_status cli_split_axis(const char *text, char ***parts, int *n, ds_error *err)
{
    int depth = 0, semi = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '(' || *p == '[') depth++;
        else if ((*p == ')' || *p == ']') && depth > 0) depth--;
        else if (*p == ';' && depth == 0) semi = 1;
    }
    if (!semi) return cli_split_list(text, parts, n, err);
    /* values separated by ';' may hold commas: split there only */
    char *copy = malloc(strlen(text) + 1);
    if (!copy) return cli_fail(err, "out of memory");
    depth = 0;
    for (size_t i = 0;; i++) {
        char ch = text[i];
        if (ch == '(' || ch == '[') depth++;
        else if ((ch == ')' || ch == ']') && depth > 0) depth--;
        /* commas become a byte the splitter ignores, then come back */
        copy[i] = (ch == ',' && depth == 0) ? '\x1f' : ch;
        if (!ch) break;
    }
    ds_status s = cli_split_list(copy, parts, n, err);
    free(copy);
    for (int k = 0; !s && k < *n; k++)
        for (char *q = (*parts)[k]; *q; q++)
            if (*q == '\x1f') *q = ',';
    return s;
}

void cli_free_list(char **parts, int n)
{
    for (int i = 0; i < n; i++) free(parts[i]);
    free(parts);
}

static ds_status parse_layer(const char *text, cli_layer *l, ds_error *err)
{
    ds_spec sp;
    ds_status st = ds_spec_parse(text, &sp, "layer", err);
    if (st) return st;
    memset(l, 0, sizeof *l);
    if (cli_eq_nocase(sp.name, "dropout")) {
        l->kind = DS_LAYER_DROPOUT;
        if (sp.n_args != 1) return cli_fail(err, "layer '%s': dropout takes one rate", text);
        double x;
        if (parse_float(sp.args[0].value, &x) || !(x >= 0 && x < 1) ||
            (sp.args[0].key[0] && strcmp(sp.args[0].key, "rate") != 0))
            return cli_fail(err, "layer '%s': the dropout rate must be a number in [0, 1)", text);
        l->rate = (float)x;
        return DS_OK;
    }
    if (!cli_eq_nocase(sp.name, "dense"))
        return cli_fail(err, "layer '%s': unknown layer '%s' (known: dense, dropout)", text,
                           sp.name);
    l->kind = DS_LAYER_DENSE;
    l->dense = ds_dense_defaults(0);
    int have_units = 0;
    for (int i = 0; i < sp.n_args; i++) {
        const char *k = sp.args[i].key, *v = sp.args[i].value;
        ds_error e2;
        if ((!k[0] && i == 0) || strcmp(k, "units") == 0) {
            long long n;
            if (parse_int(v, 1, &n))
                return cli_fail(err, "layer '%s': units=%s must be an integer >= 1", text, v);
            l->dense.units = (int)n;
            have_units = 1;
        } else if ((!k[0] && i == 1) || strcmp(k, "activation") == 0) {
            if (ds_activation_parse(v, &l->dense.activation, &e2))
                return cli_fail(err, "layer '%s': %s", text, e2.message);
            l->activation_given = 1;
        } else if (strcmp(k, "kernel_initializer") == 0) {
            if (ds_initializer_parse(v, &l->dense.kernel_initializer, &e2))
                return cli_fail(err, "layer '%s': %s", text, e2.message);
            l->kinit_given = 1;
        } else if (strcmp(k, "bias_initializer") == 0) {
            if (ds_initializer_parse(v, &l->dense.bias_initializer, &e2))
                return cli_fail(err, "layer '%s': %s", text, e2.message);
            l->binit_given = 1;
        } else if (strcmp(k, "use_bias") == 0) {
            int b;
            if (parse_bool(v, &b))
                return cli_fail(err, "layer '%s': use_bias=%s must be true or false", text, v);
            l->dense.use_bias = b;
        } else {
            return cli_fail(err, "layer '%s': unknown argument '%s'", text, k[0] ? k : v);
        }
    }
    if (!have_units) return cli_fail(err, "layer '%s': dense needs a number of units", text);
    return DS_OK;
}

ds_status cli_layers_parse(const char *text, cli_layer *layers, int *n, ds_error *err)
{
    char **parts;
    int np;
    ds_status st = cli_split_list(text, &parts, &np, err);
    if (st) return st;
    if (np == 0) st = cli_fail(err, "layers: empty list");
    if (np > CLI_MAX_LAYERS) st = cli_fail(err, "layers: more than %d layers", CLI_MAX_LAYERS);
    for (int i = 0; !st && i < np; i++) st = parse_layer(parts[i], &layers[i], err);
    if (!st && layers[np - 1].kind != DS_LAYER_DENSE)
        st = cli_fail(err, "layers: the last layer must be dense");
    *n = st ? 0 : np;
    cli_free_list(parts, np);
    return st;
}

/* ---------------------------------------------------------------------------------- */
/* typed configuration */

ds_status cli_config_from_settings(const cli_settings *s, cli_config *c, ds_error *err)
{
    memset(c, 0, sizeof *c);
#define V(key) s->value[cli_setting_find(key)]
    long long n;
    double x;
    int b;
    ds_error e2;
    snprintf(c->data, sizeof c->data, "%s", V("data"));
    snprintf(c->test_data, sizeof c->test_data, "%s", V("test_data"));
    snprintf(c->target, sizeof c->target, "%s", V("target"));
    c->prep = cli_prep_defaults();
    c->prep.target = c->target[0] ? c->target : NULL;
    cli_target_mode_parse(V("target_mode"), &c->prep.target_mode);
    cli_scale_mode_parse(V("scale"), &c->prep.scale);
    parse_float(V("test_size"), &c->prep.test_size);
    parse_u64(V("split_seed"), &c->prep.split_seed);
    parse_bool(V("stratify"), &c->prep.stratify);
    parse_bool(V("scale_before_split"), &c->prep.scale_before_split);
    if (c->test_data[0]) c->prep.test_size = 0;

    if (*V("layers") && cli_layers_parse(V("layers"), c->layers, &c->n_layers, &e2))
        return cli_fail(err, "layers: %s", e2.message);
    ds_activation_parse(V("activation"), &c->activation, NULL);
    ds_initializer_parse(V("kernel_initializer"), &c->kernel_initializer, NULL);
    ds_initializer_parse(V("bias_initializer"), &c->bias_initializer, NULL);
    for (int i = 0; i < c->n_layers; i++) {
        cli_layer *l = &c->layers[i];
        if (l->kind != DS_LAYER_DENSE) continue;
        if (!l->activation_given) l->dense.activation = c->activation;
        if (!l->kinit_given) l->dense.kernel_initializer = c->kernel_initializer;
        if (!l->binit_given) l->dense.bias_initializer = c->bias_initializer;
    }

    c->loss_given = !cli_eq_nocase(V("loss"), "auto");
    if (c->loss_given) ds_loss_parse(V("loss"), &c->loss, NULL);
    ds_optimizer_parse(V("optimizer"), &c->optimizer, NULL);
    if (*V("learning_rate")) {
        parse_float(V("learning_rate"), &x);
        c->optimizer.learning_rate = x;
        c->optimizer.schedule.kind = DS_SCHEDULE_CONSTANT;
    }
    if (ds_optimizer_check(&c->optimizer, &e2))
        return cli_fail(err, "optimizer: %s", e2.message);
    c->keras_version = strcmp(V("keras_version"), "3") == 0 ? DS_KERAS_3 : DS_KERAS_2;

    c->fit = ds_fit_defaults();
    parse_int(V("batch_size"), 1, &n);
    c->fit.batch_size = (int)n;
    parse_int(V("epochs"), 0, &n);
    c->fit.epochs = (int)n;
    parse_float(V("validation_split"), &c->fit.validation_split);
    parse_bool(V("shuffle"), &b);
    c->fit.shuffle = b;
    if (*V("early_stopping") &&
        parse_callback(V("early_stopping"), 1, &c->fit.early_stopping, NULL, err))
        return DS_ERR_ARG;
    if (*V("reduce_lr") && parse_callback(V("reduce_lr"), 0, NULL, &c->fit.reduce_lr, err))
        return DS_ERR_ARG;
    parse_u64(V("seed"), &c->seed);
    parse_int(V("threads"), 1, &n);
    if (n > 64) return cli_fail(err, "threads: %lld is more than 64", n);
    c->fit.threads = (int)n;
    parse_bool(V("diagnostics"), &c->diagnostics);
    snprintf(c->record_layer, sizeof c->record_layer, "%s", V("record_layer"));
    snprintf(c->save, sizeof c->save, "%s", V("save"));
    snprintf(c->resume, sizeof c->resume, "%s", V("resume"));
    snprintf(c->checkpoint, sizeof c->checkpoint, "%s", V("checkpoint"));
    if (strlen(V("checkpoint_monitor")) >= sizeof c->checkpoint_monitor)
        return cli_fail(err, "checkpoint_monitor: '%s' is too long", V("checkpoint_monitor"));
    snprintf(c->checkpoint_monitor, sizeof c->checkpoint_monitor, "%s", V("checkpoint_monitor"));
    parse_bool(V("save_best_only"), &c->save_best_only);

    parse_int(V("repeats"), 1, &n);
    c->repeats = (int)n;
    parse_bool(V("unpaired"), &c->unpaired);
    parse_int(V("restarts"), 0, &n);
    c->restarts = (int)n;
    parse_int(V("stall_patience"), 1, &n);
    c->stall_patience = (int)n;
    parse_float(V("stall_min_delta"), &c->stall_min_delta);
    snprintf(c->stall_monitor, sizeof c->stall_monitor, "%s", V("stall_monitor"));
    parse_float(V("target_accuracy"), &c->target_accuracy);
    parse_int(V("jobs"), 0, &n);
    c->jobs = (int)n;
    snprintf(c->out, sizeof c->out, "%s", V("out"));
    snprintf(c->sort, sizeof c->sort, "%s", V("sort"));
#undef V
    return DS_OK;
}

ds_status cli_settings_load_dump(cli_settings *s, const char *text, const char *origin,
                                 const char *const *skip, ds_error *err)
{
    const char *p = text;
    int line = 0;
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (e > p && !eq)
            return cli_fail_status(err, DS_ERR_FORMAT, "%s: line %d: expected key = value",
                                   origin, line);
        if (eq) {
            char key[64], value[CLI_PATH_MAX];
            const char *kb = p, *ke = eq, *vb = eq + 1, *ve = e;
            while (kb < ke && isspace((unsigned char)*kb)) kb++;
            while (ke > kb && isspace((unsigned char)ke[-1])) ke--;
            while (vb < ve && isspace((unsigned char)*vb)) vb++;
            while (ve > vb && isspace((unsigned char)ve[-1])) ve--;
            if ((size_t)(ke - kb) >= sizeof key || (size_t)(ve - vb) >= sizeof value)
                return cli_fail_status(err, DS_ERR_FORMAT, "%s: line %d: too long", origin, line);
            memcpy(key, kb, (size_t)(ke - kb));
            key[ke - kb] = '\0';
            memcpy(value, vb, (size_t)(ve - vb));
            value[ve - vb] = '\0';
            int skipped = 0;
            for (const char *const *k = skip; k && *k; k++) skipped |= strcmp(*k, key) == 0;
            char where[CLI_PATH_MAX + 32];
            snprintf(where, sizeof where, "%s: line %d", origin, line);
            ds_status st = skipped ? DS_OK : cli_settings_set(s, key, value, where, err);
            if (st) return st;
        }
        p = *e ? e + 1 : e;
    }
    return DS_OK;
}
