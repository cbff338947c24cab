/*
 * atomic.h - output files that are complete or absent: write to a temporary file in the
 * target's directory, then rename it over the target. A crash or an error leaves no
 * half-written file behind.
 */
#ifndef CLI_ATOMIC_H
#define CLI_ATOMIC_H

#include <stdio.h>

#include "descent.h"

typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4096 + 16];
} cli_atomic;

/* Opens PATH.XXXXXX for writing. DS_ERR_IO with a message naming the path on failure. */
ds_status cli_atomic_open(cli_atomic *a, const char *path, ds_error *err);
/* Flushes, closes and renames the temporary file to the target. On any write error the
 * temporary file is removed and DS_ERR_IO returned. */
ds_status cli_atomic_commit(cli_atomic *a, ds_error *err);
/* Closes and removes the temporary file (after an error). Safe to call twice. */
void cli_atomic_abort(cli_atomic *a);
/* Writes a whole string to PATH atomically. */
ds_status cli_write_file(const char *path, const char *text, size_t len, ds_error *err);

#endif
