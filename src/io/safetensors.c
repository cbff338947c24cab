/*
 * safetensors.c - the safetensors container: reading and checking an image in memory,
 * writing one to a stream. Format (huggingface/safetensors, docs/FORMAT.md here):
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   JSON object: "name": {"dtype", "shape", "data_offsets": [begin, end]} per
 *             tensor, optionally "__metadata__": {string: string}; may end in spaces
 *   rest      the data section; offsets are relative to its start, and the tensors
 *             cover it exactly, without overlaps or holes
 * Only F32 tensors are read or written: descent's parameters and optimizer state are all
 * float32, and refusing other dtypes is simpler than converting them.
 *
 * Nothing read from the file is trusted before it is checked: lengths and offsets are
 * compared with the image size, products are checked for overflow, and every message
 * names the tensor and the numbers involved on one line.
 */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------- */
/* helpers */

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void ds_st_read_f32(float *dst, const unsigned char *src, size_t n)
{
    if (host_is_little_endian()) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = src + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        memcpy(&dst[i], &u, sizeof u);
    }
}

const char *ds_st_printable(const char *s, char *buf, size_t size)
{
    size_t n = 0, max = size - 4;
    for (; s[n] && n < max; n++) buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    if (s[n]) {
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--; /* inside a character */
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

void ds_st_ascii(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) *s = '?';
}

static void format_shape(char *buf, size_t size, const uint64_t *shape, int rank)
{
    size_t len = 0;
    buf[0] = '\0';
    len += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%llu", i ? ", " : "",
                                (unsigned long long)shape[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
}

/* a * b, or 0 with *overflow set */
static uint64_t mul_checked(uint64_t a, uint64_t b, int *overflow)
{
    if (a != 0 && b > UINT64_MAX / a) {
        *overflow = 1;
        return 0;
    }
    return a * b;
}

/* ---------------------------------------------------------------------------------- */
/* reading */

/* A non-negative JSON integer, or -1 with the reason in *why. */
static int json_uint(const json_t *v, uint64_t *out, const char **why)
{
    if (!json_is_integer(v)) {
        *why = "is not an integer";
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < 0) {
        *why = "is negative";
        return -1;
    }
    *out = (uint64_t)x;
    return 0;
}

static ds_status parse_tensor(const char *name, json_t *v, ds_st_tensor *t,
                              uint64_t data_size, ds_error *err)
{
    char nm[80];
    ds_st_printable(name, nm, sizeof nm);
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!json_is_object(v))
        return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': entry is not an object", nm);
    const char *key;
    json_t *item;
    json_object_foreach(v, key, item) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets")) {
            char k[48];
            return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': unknown key '%s'", nm,
                           ds_st_printable(key, k, sizeof k));
        }
    }

    json_t *dtype = json_object_get(v, "dtype");
    if (!dtype) return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': no dtype", nm);
    if (!json_is_string(dtype))
        return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': dtype is not a string", nm);
    if (strcmp(json_string_value(dtype), "F32") != 0) {
        char d[32];
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: tensor '%s': dtype %s is not supported (descent reads F32 "
                       "only)", nm, ds_st_printable(json_string_value(dtype), d, sizeof d));
    }

    json_t *shape = json_object_get(v, "shape");
    if (!shape) return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': no shape", nm);
    if (!json_is_array(shape))
        return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': shape is not an array", nm);
    size_t rank = json_array_size(shape);
    if (rank > DS_ST_MAX_RANK)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: tensor '%s': shape has %zu dimensions (at most %d)", nm, rank,
                       DS_ST_MAX_RANK);
    t->rank = (int)rank;
    uint64_t count = 1;
    int overflow = 0;
    for (size_t i = 0; i < rank; i++) {
        const char *why;
        if (json_uint(json_array_get(shape, i), &t->shape[i], &why))
            return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': shape[%zu] %s", nm, i,
                           why);
        count = mul_checked(count, t->shape[i], &overflow);
    }
    uint64_t bytes = mul_checked(count, sizeof(float), &overflow);
    char sh[DS_ST_MAX_RANK * 24];
    format_shape(sh, sizeof sh, t->shape, t->rank);
    if (overflow)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: tensor '%s': shape %s has more bytes than 64 bits count", nm,
                       sh);

    json_t *offs = json_object_get(v, "data_offsets");
    if (!offs) return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': no data_offsets", nm);
    const char *why = "is not an array of 2 integers";
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        json_uint(json_array_get(offs, 0), &t->begin, &why) ||
        json_uint(json_array_get(offs, 1), &t->end, &why))
        return ds_fail(err, DS_ERR_FORMAT, "model file: tensor '%s': data_offsets %s", nm, why);
    if (t->begin > t->end)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: tensor '%s': data_offsets [%llu, %llu] are reversed", nm,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_size)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: tensor '%s': data_offsets [%llu, %llu] run past the data "
                       "section (%llu bytes)", nm, (unsigned long long)t->begin,
                       (unsigned long long)t->end, (unsigned long long)data_size);
    if (t->end - t->begin != bytes)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: tensor '%s': shape %s needs %llu bytes but data_offsets "
                       "[%llu, %llu] hold %llu", nm, sh, (unsigned long long)bytes,
                       (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin));
    return DS_OK;
}

static int by_offset(const void *a, const void *b)
{
    const ds_st_tensor *x = *(const ds_st_tensor *const *)a, *y = *(const ds_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The tensors must tile the data section: sorted by offset, each starts where the last
 * ended, and the last ends at the end of the section. */
static ds_status check_coverage(const ds_st_file *f, ds_error *err)
{
    const ds_st_tensor **order = malloc(sizeof *order * (size_t)(f->n_tensors ? f->n_tensors : 1));
    if (!order) return ds_fail(err, DS_ERR_NOMEM, "model file: out of memory");
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, by_offset);
    ds_status s = DS_OK;
    uint64_t at = 0;
    for (int i = 0; i < f->n_tensors && !s; i++) {
        const ds_st_tensor *t = order[i];
        if (t->begin < at) {
            const ds_st_tensor *p = order[i - 1];
            char a[80], b[80];
            s = ds_fail(err, DS_ERR_FORMAT,
                        "model file: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                        ds_st_printable(p->name, a, sizeof a), (unsigned long long)p->begin,
                        (unsigned long long)p->end, ds_st_printable(t->name, b, sizeof b),
                        (unsigned long long)t->begin, (unsigned long long)t->end);
        } else if (t->begin > at) {
            s = ds_fail(err, DS_ERR_FORMAT,
                        "model file: bytes [%llu, %llu) of the data section belong to no tensor",
                        (unsigned long long)at, (unsigned long long)t->begin);
        }
        at = t->end;
    }
    if (!s && at != f->data_size)
        s = ds_fail(err, DS_ERR_FORMAT,
                    "model file: bytes [%llu, %llu) of the data section belong to no tensor",
                    (unsigned long long)at, (unsigned long long)f->data_size);
    free(order);
    return s;
}

void ds_st_free(ds_st_file *f)
{
    if (!f) return;
    json_decref(f->root);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

ds_status ds_st_parse(ds_st_file *f, const void *buf, size_t size, ds_error *err)
{
    memset(f, 0, sizeof *f);
    if (!buf && size) return ds_fail(err, DS_ERR_ARG, "model file: NULL buffer");
    const unsigned char *p = buf;
    if (size < 8)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: %zu bytes is too short for the 8-byte header length", size);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)p[i] << (8 * i);
    if (n > DS_ST_MAX_HEADER)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: header length %llu exceeds the limit of %u bytes",
                       (unsigned long long)n, DS_ST_MAX_HEADER);
    if (n > size - 8)
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: header length %llu runs past the end of the file (%zu "
                       "bytes)", (unsigned long long)n, size);
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        ds_st_ascii(je.text);
        return ds_fail(err, DS_ERR_FORMAT,
                       "model file: the header is not valid JSON: %s (header byte %d)", je.text,
                       je.position);
    }
    f->root = root;
    if (!json_is_object(root)) {
        ds_st_free(f);
        return ds_fail(err, DS_ERR_FORMAT, "model file: the header is not a JSON object");
    }
    f->data = p + 8 + n;
    f->data_size = (uint64_t)size - 8 - n;
    size_t count = json_object_size(root);
    f->tensors = malloc(sizeof *f->tensors * (count ? count : 1));
    if (!f->tensors) {
        ds_st_free(f);
        return ds_fail(err, DS_ERR_NOMEM, "model file: out of memory");
    }
    ds_status s = DS_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) {
                s = ds_fail(err, DS_ERR_FORMAT, "model file: __metadata__ is not an object");
                break;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    char k[80];
                    s = ds_fail(err, DS_ERR_FORMAT,
                                "model file: __metadata__ entry '%s' is not a string",
                                ds_st_printable(mk, k, sizeof k));
                    break;
                }
            }
            if (s) break;
            f->metadata = v;
            continue;
        }
        if ((s = parse_tensor(key, v, &f->tensors[f->n_tensors], f->data_size, err))) break;
        f->n_tensors++;
    }
    if (!s) s = check_coverage(f, err);
    if (s) ds_st_free(f);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* writing */

static json_t *tensor_entry(const ds_st_out *t, uint64_t begin, uint64_t end)
{
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    int bad = !e || !shape || !offs;
    for (int i = 0; !bad && i < t->rank; i++)
        bad |= json_array_append_new(shape, json_integer((json_int_t)t->shape[i])) != 0;
    if (!bad) {
        bad |= json_array_append_new(offs, json_integer((json_int_t)begin)) != 0;
        bad |= json_array_append_new(offs, json_integer((json_int_t)end)) != 0;
    }
    if (!bad) {
        bad |= json_object_set_new(e, "dtype", json_string("F32")) != 0;
        bad |= json_object_set(e, "shape", shape) != 0;
        bad |= json_object_set(e, "data_offsets", offs) != 0;
    }
    json_decref(shape);
    json_decref(offs);
    if (bad) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static uint64_t tensor_count(const ds_st_out *t)
{
    uint64_t c = 1;
    for (int i = 0; i < t->rank; i++) c *= t->shape[i];
    return c;
}

/* n floats as little-endian bytes */
static int write_f32(FILE *f, const float *v, size_t n)
{
    if (host_is_little_endian()) return fwrite(v, sizeof(float), n, f) == n ? 0 : -1;
    unsigned char b[4096];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; i < n && k + 4 <= sizeof b; i++, k += 4) {
            uint32_t u;
            memcpy(&u, &v[i], sizeof u);
            for (int j = 0; j < 4; j++) b[k + (size_t)j] = (unsigned char)(u >> (8 * j));
        }
        if (fwrite(b, 1, k, f) != k) return -1;
    }
    return 0;
}

ds_status ds_st_write(FILE *f, const ds_st_out *t, int n, json_t *metadata, ds_error *err)
{
    json_t *root = json_object();
    if (!root) return ds_fail(err, DS_ERR_NOMEM, "save: out of memory");
    int bad = metadata && json_object_set(root, "__metadata__", metadata) != 0;
    uint64_t at = 0;
    for (int i = 0; i < n && !bad; i++) {
        uint64_t end = at + tensor_count(&t[i]) * sizeof(float);
        bad |= json_object_set_new(root, t[i].name, tensor_entry(&t[i], at, end)) != 0;
        at = end;
    }
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) return ds_fail(err, DS_ERR_NOMEM, "save: out of memory for the header");
    size_t len = strlen(text);
    size_t padded = len + (8 - len % 8) % 8; /* 8 + padded is a multiple of 8 */
    unsigned char hl[8];
    for (int i = 0; i < 8; i++) hl[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int werr = fwrite(hl, 1, 8, f) != 8 || fwrite(text, 1, len, f) != len;
    for (size_t i = len; i < padded && !werr; i++) werr = fputc(' ', f) == EOF;
    free(text);
    for (int i = 0; i < n && !werr; i++)
        werr = write_f32(f, t[i].data, (size_t)tensor_count(&t[i])) != 0;
    if (werr || fflush(f) != 0 || ferror(f))
        return ds_fail(err, DS_ERR_IO, "save: write error");
    return DS_OK;
}
