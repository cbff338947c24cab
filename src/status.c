/*
 * status.c - status names and the error record. The library reports errors only
 * through return values and the optional ds_error; it never prints or exits.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *ds_status_str(ds_status s)
{
    switch (s) {
    case DS_OK: return "ok";
    case DS_ERR_NOMEM: return "out of memory";
    case DS_ERR_IO: return "input/output error";
    case DS_ERR_FORMAT: return "malformed input";
    case DS_ERR_SHAPE: return "shape mismatch";
    case DS_ERR_ARG: return "invalid argument";
    case DS_ERR_NUMERIC: return "numerical error";
    case DS_ERR_DIVERGED: return "training diverged";
    case DS_ERR_STATE: return "invalid state";
    default: return "unknown status";
    }
}

const char *ds_version(void) { return DS_VERSION_STRING; }

ds_status ds_fail(ds_error *err, ds_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = s;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return s;
}

void ds_error_clear(ds_error *err)
{
    if (err) {
        err->status = DS_OK;
        err->message[0] = '\0';
    }
}

int ds_streq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}
