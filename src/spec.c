/*
 * spec.c - the small "name(arg, key=value, ...)" language that names an optimizer,
 * initializer, activation, loss or layer with its arguments, as a Keras call would:
 *   sgd(learning_rate=0.01, momentum=0.3, nesterov=true)   he_normal   elu(0.5)
 * Values may themselves be calls (a schedule as learning_rate) or bracketed lists
 * ("boundaries=[100, 200]"); commas inside () or [] do not split.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *p)
{
    while (*p && isspace((unsigned char)*p)) p++;
    return p;
}

/* Copies [b, e) trimmed into dst (size n); 0 when it does not fit. */
static int copy_trimmed(char *dst, size_t n, const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if ((size_t)(e - b) >= n) return 0;
    memcpy(dst, b, (size_t)(e - b));
    dst[e - b] = '\0';
    return 1;
}

static int is_ident_char(int c) { return isalnum(c) || c == '_' || c == '.' || c == '-'; }

ds_status ds_spec_parse(const char *text, ds_spec *out, const char *what, ds_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text) return ds_fail(err, DS_ERR_ARG, "%s: missing", what);
    const char *p = skip_space(text);
    const char *nb = p;
    while (*p && is_ident_char((unsigned char)*p)) p++;
    if (p == nb) return ds_fail(err, DS_ERR_ARG, "%s '%s': expected a name", what, text);
    if (!copy_trimmed(out->name, sizeof out->name, nb, p))
        return ds_fail(err, DS_ERR_ARG, "%s '%s': name too long", what, text);
    p = skip_space(p);
    if (*p == '\0') return DS_OK;
    if (*p != '(')
        return ds_fail(err, DS_ERR_ARG, "%s '%s': unexpected '%c' at column %d", what, text,
                       *p, (int)(p - text) + 1);
    p++;
    /* split the argument list at top-level commas */
    for (;;) {
        const char *ab = p;
        int depth = 0;
        while (*p && !(depth == 0 && (*p == ',' || *p == ')'))) {
            if (*p == '(' || *p == '[') depth++;
            else if (*p == ')' || *p == ']') depth--;
            p++;
        }
        if (*p == '\0')
            return ds_fail(err, DS_ERR_ARG, "%s '%s': missing ')'", what, text);
        const char *ae = p;
        const char *q = skip_space(ab);
        if (q == ae && *p == ')' && out->n_args == 0) { p++; break; } /* "name()" */
        if (q == ae)
            return ds_fail(err, DS_ERR_ARG, "%s '%s': empty argument at column %d", what, text,
                           (int)(ab - text) + 1);
        if (out->n_args == DS_SPEC_MAX_ARGS)
            return ds_fail(err, DS_ERR_ARG, "%s '%s': too many arguments", what, text);
        ds_spec_arg *a = &out->args[out->n_args++];
        /* key=value when an '=' appears before any '(' */
        const char *eq = NULL;
        for (const char *r = ab; r < ae && *r != '('; r++)
            if (*r == '=') { eq = r; break; }
        if (eq) {
            if (!copy_trimmed(a->key, sizeof a->key, ab, eq) || a->key[0] == '\0')
                return ds_fail(err, DS_ERR_ARG, "%s '%s': bad argument name at column %d",
                               what, text, (int)(ab - text) + 1);
            for (const char *k = a->key; *k; k++)
                if (!is_ident_char((unsigned char)*k))
                    return ds_fail(err, DS_ERR_ARG, "%s '%s': bad argument name '%s'", what,
                                   text, a->key);
            if (!copy_trimmed(a->value, sizeof a->value, eq + 1, ae))
                return ds_fail(err, DS_ERR_ARG, "%s '%s': value too long", what, text);
            if (a->value[0] == '\0')
                return ds_fail(err, DS_ERR_ARG, "%s '%s': no value for '%s'", what, text,
                               a->key);
        } else {
            for (int i = 0; i < out->n_args - 1; i++)
                if (out->args[i].key[0])
                    return ds_fail(err, DS_ERR_ARG,
                                   "%s '%s': positional argument after a named one", what,
                                   text);
            if (!copy_trimmed(a->value, sizeof a->value, ab, ae))
                return ds_fail(err, DS_ERR_ARG, "%s '%s': value too long", what, text);
        }
        if (*p == ')') { p++; break; }
        p++; /* ',' */
    }
    p = skip_space(p);
    if (*p)
        return ds_fail(err, DS_ERR_ARG, "%s '%s': unexpected text after ')' at column %d", what,
                       text, (int)(p - text) + 1);
    return DS_OK;
}

ds_status ds_spec_number(const char *value, double *out, const char *what, const char *key,
                         ds_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    const char *rest = skip_space(end);
    if (end == value || *rest || errno == ERANGE || !isfinite(v))
        return ds_fail(err, DS_ERR_ARG, "%s: %s=%s is not a number", what, key, value);
    *out = v;
    return DS_OK;
}

ds_status ds_spec_bool(const char *value, int *out, const char *what, const char *key,
                       ds_error *err)
{
    if (ds_streq_nocase(value, "true") || ds_streq_nocase(value, "yes") ||
        strcmp(value, "1") == 0) {
        *out = 1;
        return DS_OK;
    }
    if (ds_streq_nocase(value, "false") || ds_streq_nocase(value, "no") ||
        strcmp(value, "0") == 0) {
        *out = 0;
        return DS_OK;
    }
    return ds_fail(err, DS_ERR_ARG, "%s: %s=%s is not true or false", what, key, value);
}

const ds_spec_arg *ds_spec_get(const ds_spec *s, const char *key, int pos, int *used)
{
    for (int i = 0; i < s->n_args; i++) {
        const ds_spec_arg *a = &s->args[i];
        if ((a->key[0] && strcmp(a->key, key) == 0) || (!a->key[0] && i == pos)) {
            if (used) used[i] = 1;
            return a;
        }
    }
    return NULL;
}

ds_status ds_spec_check_used(const ds_spec *s, const int *used, const char *what,
                             ds_error *err)
{
    for (int i = 0; i < s->n_args; i++) {
        if (used[i]) continue;
        if (s->args[i].key[0])
            return ds_fail(err, DS_ERR_ARG, "%s %s: unknown argument '%s'", what, s->name,
                           s->args[i].key);
        return ds_fail(err, DS_ERR_ARG, "%s %s: too many positional arguments ('%s')", what,
                       s->name, s->args[i].value);
    }
    return DS_OK;
}
