/*
 * util.h - small helpers the command's modules share.
 */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "descent.h"

#include <stdio.h>

/* Fills err with DS_ERR_ARG and a printf-style message; returns DS_ERR_ARG. */
ds_status cli_fail(ds_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The same with another status. */
ds_status cli_fail_status(ds_error *err, ds_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* ASCII case-insensitive equality. */
int cli_eq_nocase(const char *a, const char *b);
/* malloc'd copy; NULL when out of memory. */
char *cli_strdup(const char *s);
/* v as printf's "%.9g" writes it (the same characters; checked against snprintf on
 * millions of values), into buf of at least CLI_G9_SIZE bytes; returns the length.
 * Several times faster than printf for the numbers of the CSV tables. */
enum { CLI_G9_SIZE = 32 };
int cli_fmt_g9(char *buf, double v);
/* writes s to f as one CSV field: as it is, or quoted (inner quotes doubled) when it
 * holds a comma, a quote or a line break */
void cli_csv_field(FILE *f, const char *s);
/* writes v to f as cli_fmt_g9 formats it */
void cli_put_g9(FILE *f, double v);

/* A growable string. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} cli_buf;
void cli_buf_printf(cli_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void cli_buf_free(cli_buf *b);

/* 64-bit FNV-1a hash of a string (stable across runs and machines). */
uint64_t cli_hash(const char *s);

/* Exit status for a status: 0 ok, 2 the user can fix it, 3 diverged, 1 otherwise. */
int cli_exit_code(ds_status s);

#endif
