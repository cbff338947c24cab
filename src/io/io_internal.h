/*
 * io_internal.h - private declarations of libdescent_io: the safetensors container
 * (safetensors.c) that the model file (model_file.c) is written in. Nothing here is a
 * stable interface; tests and the fuzz target may include it.
 */
#ifndef DS_IO_INTERNAL_H
#define DS_IO_INTERNAL_H

#include "descent_io.h"
#include "../internal.h"

#include <jansson.h>
#include <stdint.h>

/* Limits that keep a hostile file from asking for huge allocations or work. */
#define DS_ST_MAX_HEADER (100u << 20) /* bytes of JSON header (safetensors uses the same) */
#define DS_ST_MAX_RANK 8              /* dimensions of one tensor */

/* ---- reading ---- */

typedef struct {
    const char *name; /* borrowed from the parsed header: valid while the file lives */
    int rank;
    uint64_t shape[DS_ST_MAX_RANK];
    uint64_t begin, end; /* byte range in the data section, begin <= end <= data_size */
} ds_st_tensor;

typedef struct {
    json_t *root;     /* the parsed header (owned) */
    json_t *metadata; /* root's "__metadata__" object (borrowed; NULL when absent) */
    int n_tensors;
    ds_st_tensor *tensors; /* in header order */
    const unsigned char *data; /* the data section, inside the caller's buffer */
    uint64_t data_size;
} ds_st_file;

/* Parses and checks a safetensors image of `size` bytes: the header length against the
 * size and DS_ST_MAX_HEADER; the header as JSON (duplicate keys rejected); every tensor
 * entry (dtype F32 only, shape of non-negative integers whose byte count matches its
 * data_offsets, offsets inside the data section); the tensors covering the data section
 * without overlaps or holes; __metadata__ values being strings. DS_ERR_FORMAT with a
 * one-line message starting "model file: " otherwise. The file borrows buf. */
ds_status ds_st_parse(ds_st_file *f, const void *buf, size_t size, ds_error *err);
void ds_st_free(ds_st_file *f);

/* Text from a file fit for a one-line message: control characters become '?', and long
 * text is cut (at a UTF-8 character boundary) with "...". Returns buf. */
const char *ds_st_printable(const char *s, char *buf, size_t size);
/* Replaces every byte outside printable ASCII with '?' (for Jansson's error texts, which
 * may quote raw input bytes). */
void ds_st_ascii(char *s);

/* Copies n little-endian float32 values from src into dst (any host byte order). */
void ds_st_read_f32(float *dst, const unsigned char *src, size_t n);

/* ---- writing ---- */

typedef struct {
    const char *name;
    int rank; /* 1 or 2 */
    uint64_t shape[2];
    const float *data; /* shape[0] (* shape[1]) values */
} ds_st_out;

/* Writes a safetensors file: the header (metadata first, then the tensors in the order
 * given, laid out back to back), padded with spaces so that the data section starts at
 * a multiple of 8 bytes, then the data, little-endian. `metadata` (may be NULL) is an
 * object of strings (the header takes a reference; its contents are not modified).
 * DS_ERR_IO on a write error; f is flushed, not closed. */
ds_status ds_st_write(FILE *f, const ds_st_out *t, int n, json_t *metadata, ds_error *err);

#endif
