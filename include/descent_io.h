/*
 * descent_io.h - saving and loading models as safetensors files (libdescent_io, an
 * optional part of descent that parses the file's JSON header with Jansson).
 *
 * A safetensors file is: 8 bytes, the little-endian length N of a JSON header; N bytes
 * of JSON, an object mapping each tensor's name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets relative to the end of the header) plus an optional
 * "__metadata__" object of string values; then the raw little-endian tensor bytes.
 *
 * descent writes, for a model of L layers (see docs/FORMAT.md for the full contract):
 *   layers.K.kernel   F32 (n_in, units)  for each dense layer K (Keras's kernel layout)
 *   layers.K.bias     F32 (units)        when the layer has a bias
 *   optimizer.slotS   F32 (n_params)     optimizer state, when saved (S = 0, 1, 2)
 * and in __metadata__: "format" = "descent-model", "format_version", "descent_version",
 * "architecture" (JSON text: n_inputs, keras_version, the build seed, layers with kind,
 * name, units, activation, use_bias, initializers, dropout rate), "compile" (JSON text:
 * loss, optimizer spec, metrics) and, with the optimizer state, "optimizer_state" (JSON
 * text: iterations, nadam_prod, lr_scale). Applications add their own string entries.
 *
 * Loading checks every length, offset, shape and dtype before trusting it; a damaged or
 * hostile file gives DS_ERR_FORMAT with a one-line message starting "model file: " that
 * names what is wrong, never a crash, an out-of-bounds read or a huge allocation (the
 * model's memory is proportional to the file's size).
 *
 * Link with -ldescent_io -ldescent and Jansson's libraries (pkg-config --libs jansson).
 */
#ifndef DESCENT_IO_H
#define DESCENT_IO_H

#include "descent.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The current format version written into files; loading a larger one fails. */
#define DS_MODEL_FORMAT_VERSION 1

/* Free-form metadata: key/value strings (both NUL-terminated, UTF-8). */
typedef struct {
    int n;
    char **keys;
    char **values;
} ds_metadata;

/* Adds or replaces key (copies both strings). */
ds_status ds_metadata_set(ds_metadata *md, const char *key, const char *value, ds_error *err);
/* The value of key, or NULL. Borrowed. */
const char *ds_metadata_get(const ds_metadata *md, const char *key);
void ds_metadata_free(ds_metadata *md); /* frees the contents; md itself is the caller's */

typedef struct {
    int include_optimizer;    /* save the optimizer state (slots, iterations); default 0 */
    const ds_metadata *extra; /* application entries (may be NULL); keys must not start
                                 with the names descent uses above */
} ds_save_options;

ds_save_options ds_save_defaults(void);

/* Writes the model (built; compiled when include_optimizer) to path atomically: a
 * temporary file in the same folder (mode 0644), synced and renamed over path when
 * complete; on failure path is untouched and the temporary file removed. opt may be NULL
 * (the defaults). Errors: DS_ERR_STATE (not built, or include_optimizer and not compiled),
 * DS_ERR_ARG (a reserved or invalid UTF-8 extra entry), DS_ERR_IO, DS_ERR_NOMEM. */
ds_status ds_model_save(const ds_model *m, const char *path, const ds_save_options *opt,
                        ds_error *err);
/* Writes to an open stream; the stream is the caller's and is not closed. */
ds_status ds_model_save_fp(const ds_model *m, FILE *f, const ds_save_options *opt,
                           ds_error *err);

/* Loads a model: creates, builds and (when the file has a compile entry) compiles it,
 * then sets the weights and, when present, the optimizer state, and the build seed (so
 * that fit's shuffling and dropout continue as they would have). `meta` (may be NULL;
 * zero-initialize it) receives every __metadata__ entry, descent's and the application's,
 * added or replaced with ds_metadata_set; it is left as it was when the file is refused.
 * *out is NULL on failure. Errors: DS_ERR_FORMAT for anything wrong in the file,
 * DS_ERR_IO (cannot open or read), DS_ERR_NOMEM. ds_model_load prefixes messages with
 * the path. */
ds_status ds_model_load(ds_model **out, const char *path, ds_metadata *meta, ds_error *err);
/* Reads from an open stream (to its end); the stream is not closed. */
ds_status ds_model_load_fp(ds_model **out, FILE *f, ds_metadata *meta, ds_error *err);
/* Loads from memory (the fuzz target's entry point). */
ds_status ds_model_load_buffer(ds_model **out, const void *data, size_t size,
                               ds_metadata *meta, ds_error *err);

#ifdef __cplusplus
}
#endif
#endif
