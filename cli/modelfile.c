/*
 * modelfile.c - see modelfile.h. JSON is read and written with Jansson.
 */
#include "modelfile.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *string_array(char **v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *number_array(const double *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

char *cli_preprocessing_to_json(const cli_data *d)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "feature_names", string_array(d->feature_names, d->n_features));
    json_object_set_new(o, "scale_mode", json_string(cli_scale_mode_name(d->scale_mode)));
    json_object_set_new(o, "shift", number_array(d->shift, d->n_features));
    json_object_set_new(o, "scale", number_array(d->scale, d->n_features));
    json_object_set_new(o, "target_name", json_string(d->target_name));
    json_object_set_new(o, "task", json_string(cli_target_mode_name(d->task)));
    json_object_set_new(o, "n_targets", json_integer(d->n_targets));
    json_object_set_new(o, "n_classes", json_integer(d->n_classes));
    json_object_set_new(o, "label_names", d->n_classes ? string_array(d->label_names, d->n_classes)
                                                       : json_array());
    json_object_set_new(o, "labels_numeric", json_boolean(d->labels_numeric));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    return text;
}

static ds_status bad(ds_error *err, const char *path, const char *what)
{
    return cli_fail_status(err, DS_ERR_FORMAT, "%s: preprocessing metadata: %s", path, what);
}

static char **strings_of(json_t *a, int n)
{
    char **v = calloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; v && i < n; i++) {
        json_t *s = json_array_get(a, (size_t)i);
        v[i] = cli_strdup(json_is_string(s) ? json_string_value(s) : "");
    }
    return v;
}

ds_status cli_preprocessing_from_json(const char *text, const char *path, cli_data **out,
                                      ds_error *err)
{
    *out = NULL;
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!o) return bad(err, path, je.text);
    ds_status s = DS_OK;
    json_t *fn = json_object_get(o, "feature_names"), *sh = json_object_get(o, "shift"),
           *sc = json_object_get(o, "scale"), *ln = json_object_get(o, "label_names");
    json_t *tn = json_object_get(o, "target_name"), *task = json_object_get(o, "task");
    json_t *nt = json_object_get(o, "n_targets"), *nc = json_object_get(o, "n_classes");
    if (!json_is_object(o) || !json_is_array(fn) || !json_is_array(sh) || !json_is_array(sc) ||
        !json_is_array(ln) || !json_is_string(tn) || !json_is_string(task) ||
        !json_is_integer(nt) || !json_is_integer(nc)) {
        json_decref(o);
        return bad(err, path, "a field is missing or has the wrong type");
    }
    int nf = (int)json_array_size(fn);
    int ncls = (int)json_integer_value(nc), ntg = (int)json_integer_value(nt);
    if (nf < 1 || nf > 1 << 24 || (int)json_array_size(sh) != nf ||
        (int)json_array_size(sc) != nf || ncls < 0 || ncls > 1 << 20 ||
        (int)json_array_size(ln) != ncls || ntg < 1 || ntg > 1 << 20) {
        json_decref(o);
        return bad(err, path, "inconsistent sizes");
    }
    cli_data *d = calloc(1, sizeof *d);
    if (!d) {
        json_decref(o);
        return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    }
    d->n_features = nf;
    d->n_targets = ntg;
    d->n_classes = ncls;
    d->feature_names = strings_of(fn, nf);
    d->label_names = ncls ? strings_of(ln, ncls) : NULL;
    d->target_name = cli_strdup(json_string_value(tn));
    d->shift = malloc(sizeof(double) * (size_t)nf);
    d->scale = malloc(sizeof(double) * (size_t)nf);
    d->labels_numeric = json_is_true(json_object_get(o, "labels_numeric"));
    if (cli_target_mode_parse(json_string_value(task), &d->task) || d->task == CLI_TARGET_AUTO)
        s = bad(err, path, "unknown task");
    json_t *sm = json_object_get(o, "scale_mode");
    if (!s && (!json_is_string(sm) || cli_scale_mode_parse(json_string_value(sm), &d->scale_mode)))
        s = bad(err, path, "unknown scale_mode");
    for (int j = 0; !s && j < nf; j++) {
        json_t *a = json_array_get(sh, (size_t)j), *b = json_array_get(sc, (size_t)j);
        if (!d->shift || !d->scale || !json_is_number(a) || !json_is_number(b) ||
            !(json_number_value(b) != 0)) {
            s = bad(err, path, "shift and scale must be numbers, scale nonzero");
            break;
        }
        d->shift[j] = json_number_value(a);
        d->scale[j] = json_number_value(b);
    }
    json_decref(o);
    if (s) {
        cli_data_free(d);
        return s;
    }
    *out = d;
    return DS_OK;
}

ds_status cli_model_save(const ds_model *m, const char *path, const cli_data *prep,
                         const cli_settings *settings, int epochs_done, ds_error *err)
{
    ds_metadata md = {0};
    ds_status s = DS_OK;
    char *pj = prep ? cli_preprocessing_to_json(prep) : NULL;
    char *sd = settings ? cli_settings_dump(settings) : NULL;
    char ep[32];
    snprintf(ep, sizeof ep, "%d", epochs_done);
    if ((prep && !pj) || (settings && !sd)) s = cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    if (!s && pj) s = ds_metadata_set(&md, "preprocessing", pj, err);
    if (!s && sd) s = ds_metadata_set(&md, "settings", sd, err);
    if (!s) s = ds_metadata_set(&md, "epochs_done", ep, err);
    if (!s) {
        ds_save_options o = ds_save_defaults();
        o.include_optimizer = ds_model_compile_config(m) != NULL;
        o.extra = &md;
        s = ds_model_save(m, path, &o, err);
    }
    ds_metadata_free(&md);
    free(pj);
    free(sd);
    return s;
}

void cli_saved_model_free(cli_saved_model *sm)
{
    if (!sm) return;
    ds_model_free(sm->model);
    cli_data_free(sm->prep);
    free(sm->settings);
    ds_metadata_free(&sm->meta);
    memset(sm, 0, sizeof *sm);
}

ds_status cli_model_load(const char *path, cli_saved_model *out, ds_error *err)
{
    memset(out, 0, sizeof *out);
    ds_status s = ds_model_load(&out->model, path, &out->meta, err);
    if (s) return s;
    const char *pj = ds_metadata_get(&out->meta, "preprocessing");
    if (pj) s = cli_preprocessing_from_json(pj, path, &out->prep, err);
    const char *sd = ds_metadata_get(&out->meta, "settings");
    if (!s && sd) out->settings = cli_strdup(sd);
    const char *ep = ds_metadata_get(&out->meta, "epochs_done");
    if (!s && ep) {
        char *end;
        long v = strtol(ep, &end, 10);
        if (*end || v < 0 || v > 1000000000L)
            s = cli_fail_status(err, DS_ERR_FORMAT, "%s: metadata epochs_done='%s' is not a count",
                                path, ep);
        out->epochs_done = (int)v;
    }
    if (!s && out->prep && out->prep->n_features != ds_model_n_inputs(out->model))
        s = cli_fail_status(err, DS_ERR_FORMAT,
                            "%s: the preprocessing has %d features, the model %d inputs", path,
                            out->prep->n_features, ds_model_n_inputs(out->model));
    if (s) cli_saved_model_free(out);
    return s;
}
