/*
 * metadata.c - ds_metadata, the key/value strings a model file carries in its
 * __metadata__ object: descent's own entries and the application's. A plain array
 * searched linearly: files hold a handful of entries.
 */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

ds_status ds_metadata_set(ds_metadata *md, const char *key, const char *value, ds_error *err)
{
    if (!md || !key || !value) return ds_fail(err, DS_ERR_ARG, "metadata: NULL argument");
    char *v = dup_string(value);
    if (!v) return ds_fail(err, DS_ERR_NOMEM, "metadata: out of memory");
    for (int i = 0; i < md->n; i++) {
        if (strcmp(md->keys[i], key) == 0) {
            free(md->values[i]);
            md->values[i] = v;
            return DS_OK;
        }
    }
    char *k = dup_string(key);
    char **nk = k ? realloc(md->keys, sizeof *nk * ((size_t)md->n + 1)) : NULL;
    if (nk) md->keys = nk;
    char **nv = nk ? realloc(md->values, sizeof *nv * ((size_t)md->n + 1)) : NULL;
    if (nv) md->values = nv;
    if (!nv) {
        free(k);
        free(v);
        return ds_fail(err, DS_ERR_NOMEM, "metadata: out of memory");
    }
    md->keys[md->n] = k;
    md->values[md->n] = v;
    md->n++;
    return DS_OK;
}

const char *ds_metadata_get(const ds_metadata *md, const char *key)
{
    if (!md || !key) return NULL;
    for (int i = 0; i < md->n; i++)
        if (strcmp(md->keys[i], key) == 0) return md->values[i];
    return NULL;
}

void ds_metadata_free(ds_metadata *md)
{
    if (!md) return;
    for (int i = 0; i < md->n; i++) {
        free(md->keys[i]);
        free(md->values[i]);
    }
    free(md->keys);
    free(md->values);
    md->n = 0;
    md->keys = md->values = NULL;
}
