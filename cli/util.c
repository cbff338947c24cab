/*
 * util.c - see util.h.
 */
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ds_status vfail(ds_error *err, ds_status s, const char *fmt, va_list ap)
{
    if (err) {
        err->status = s;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    }
    return s;
}

ds_status cli_fail(ds_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ds_status s = vfail(err, DS_ERR_ARG, fmt, ap);
    va_end(ap);
    return s;
}

ds_status cli_fail_status(ds_error *err, ds_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ds_status s = vfail(err, st, fmt, ap);
    va_end(ap);
    return s;
}

int cli_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

char *cli_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void cli_buf_printf(cli_buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

void cli_buf_free(cli_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

uint64_t cli_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int cli_exit_code(ds_status s)
{
    switch (s) {
    case DS_OK: return 0;
    case DS_ERR_ARG:
    case DS_ERR_FORMAT:
    case DS_ERR_SHAPE:
    case DS_ERR_IO: return 2;
    case DS_ERR_DIVERGED: return 3;
    default: return 1;
    }
}
