/*
 * util.c - see util.h.
 */
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
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

/* 9 significant digits: x = |v| 10^(8 - k) lies in [1e8, 1e9) for v's decimal exponent k
 * and is rounded to an integer. In long double (64-bit significand; 10^n exact for
 * |n| <= 27) the computed x is within about 1e-10 of the true one, so only when x is
 * within 1e-6 of a half (a possible tie, where the last digit depends on v's exact binary
 * value) does it leave the work to snprintf. Everything else is the layout of %g: fixed
 * for -4 <= k < 9, else d.ddde+XX, trailing zeros dropped. */
static long double pow10l_(int n) /* exact for |n| <= 27 */
{
    static const long double p[28] = {
        1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
        1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
        1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
    if (n >= 0 && n <= 27) return p[n];
    if (n < 0 && n >= -27) return 1.0L / p[-n];
    return powl(10.0L, (long double)n);
}

int cli_fmt_g9(char *buf, double v)
{
    if (!isfinite(v) || v == 0.0) return snprintf(buf, CLI_G9_SIZE, "%.9g", v);
    long double a = fabsl((long double)v);
    int e2;
    (void)frexp(v, &e2); /* 2^(e2-1) <= |v| < 2^e2: k is floor((e2 - 1) log10 2) or one more */
    int k = (int)floor((double)(e2 - 1) * 0.30102999566398120);
    long double x = a * pow10l_(8 - k);
    if (x >= 1e9L) {
        k++;
        x = a * pow10l_(8 - k);
    } else if (x < 1e8L) {
        k--;
        x = a * pow10l_(8 - k);
    }
    long double whole = floorl(x), frac = x - whole;
    if (!(x >= 1e8L && x < 1e9L) || fabsl(frac - 0.5L) < 1e-6L)
        return snprintf(buf, CLI_G9_SIZE, "%.9g", v);
    uint64_t d = (uint64_t)whole + (frac > 0.5L);
    if (d >= UINT64_C(1000000000)) {
        d /= 10;
        k++;
    }
    char dig[9];
    for (int i = 8; i >= 0; i--) {
        dig[i] = (char)('0' + (int)(d % 10));
        d /= 10;
    }
    int nd = 9;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    int n = 0;
    if (signbit(v)) buf[n++] = '-';
    if (k < -4 || k >= 9) {
        buf[n++] = dig[0];
        if (nd > 1) {
            buf[n++] = '.';
            for (int i = 1; i < nd; i++) buf[n++] = dig[i];
        }
        n += snprintf(buf + n, (size_t)(CLI_G9_SIZE - n), "e%c%02d", k < 0 ? '-' : '+',
                      k < 0 ? -k : k);
    } else if (k >= 0) {
        for (int i = 0; i <= k; i++) buf[n++] = i < nd ? dig[i] : '0';
        if (nd > k + 1) {
            buf[n++] = '.';
            for (int i = k + 1; i < nd; i++) buf[n++] = dig[i];
        }
    } else {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = 0; i < -k - 1; i++) buf[n++] = '0';
        for (int i = 0; i < nd; i++) buf[n++] = dig[i];
    }
    buf[n] = '\0';
    return n;
}

void cli_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cli_put_g9(FILE *f, double v)
{
    char b[CLI_G9_SIZE];
    fwrite(b, 1, (size_t)cli_fmt_g9(b, v), f);
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
