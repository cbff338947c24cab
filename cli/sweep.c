/*
 * sweep.c - see sweep.h. Scheduling (a thread pool today, machines later) is kept apart
 * from what a run computes: a worker takes the next run index, computes cli_run for it
 * and stores the result at that index; everything after that reads results in index
 * order, so nothing depends on which thread ran what, or when.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* sched_getcpu, CPU_SET, pthread_attr_setaffinity_np */
#endif
#include "sweep.h"
#include "atomic.h"
#include "idx.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------- */
/* the grid */

void cli_grid_free(cli_grid *g)
{
    for (int c = 0; c < g->n_configs; c++) {
        if (g->settings) cli_settings_free(&g->settings[c]);
        if (g->labels) free(g->labels[c]);
        for (int v = 0; g->values && v < g->n_axes; v++) free(g->values[c * g->n_axes + v]);
    }
    for (int v = 0; g->axis_names && v < g->n_axes; v++) free(g->axis_names[v]);
    free(g->settings);
    free(g->configs);
    free(g->labels);
    free(g->values);
    free(g->axis_names);
    memset(g, 0, sizeof *g);
}

ds_status cli_grid_make(const cli_args *a, cli_grid *g, ds_error *err)
{
    memset(g, 0, sizeof *g);
    int n = 1;
    for (int i = 0; i < a->n_axes; i++) {
        if (n > 100000 / a->axes[i].n_values) return cli_fail(err, "the grid has over 100000 configurations");
        n *= a->axes[i].n_values;
    }
    g->n_configs = n;
    g->n_axes = a->n_axes;
    g->settings = calloc((size_t)n, sizeof *g->settings);
    g->configs = calloc((size_t)n, sizeof *g->configs);
    g->labels = calloc((size_t)n, sizeof *g->labels);
    g->values = calloc((size_t)n * (size_t)(a->n_axes ? a->n_axes : 1), sizeof *g->values);
    g->axis_names = calloc((size_t)(a->n_axes ? a->n_axes : 1), sizeof *g->axis_names);
    if (!g->settings || !g->configs || !g->labels || !g->values || !g->axis_names) {
        cli_grid_free(g);
        return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < a->n_axes; v++) g->axis_names[v] = cli_strdup(a->axes[v].name);
    ds_status s = DS_OK;
    for (int c = 0; c < n && !s; c++) {
        /* the first axis varies slowest */
        if ((s = cli_settings_copy(&g->settings[c], &a->settings))) break;
        cli_buf label = {0};
        int rest = c;
        int stride = n;
        for (int v = 0; v < a->n_axes && !s; v++) {
            stride /= a->axes[v].n_values;
            int k = rest / stride;
            rest %= stride;
            const char *val = a->axes[v].values[k];
            g->values[c * a->n_axes + v] = cli_strdup(val);
            char origin[128];
            snprintf(origin, sizeof origin, "--vary %s", a->axes[v].name);
            s = cli_settings_set(&g->settings[c], a->axes[v].name, val, origin, err);
            if (a->n_axes == 1) cli_buf_printf(&label, "%s", val);
            else cli_buf_printf(&label, "%s%s=%s", v ? " " : "", a->axes[v].name, val);
        }
        g->labels[c] = label.s ? label.s : cli_strdup("default");
        if (!s) s = cli_config_from_settings(&g->settings[c], &g->configs[c], err);
        if (!s && !g->configs[c].data[0])
            s = cli_fail(err, "no training data: give --data FILE or data = FILE in [data]");
    }
    if (s) {
        cli_grid_free(g);
        return s;
    }
    g->repeats = g->configs[0].repeats;
    g->base_seed = g->configs[0].seed;
    g->paired = !g->configs[0].unpaired;
    return DS_OK;
}

uint64_t cli_grid_seed(const cli_grid *g, int c, int r)
{
    uint64_t base = g->base_seed;
    if (!g->paired) base = ds_seed_mix(base, cli_hash(g->labels[c]));
    return ds_seed_mix(base, (uint64_t)r);
}

/* ---------------------------------------------------------------------------------- */
/* finished runs on disk: an append-only journal, OUT/.runs, of records
 *   run KEY \n <the run's result as text> end KEY \n
 * where KEY is a hash of everything that decides the run's numbers (its full settings,
 * repeat, seed and the library version). A worker appends each finished run with one
 * write() on an O_APPEND descriptor, so a killed sweep leaves whole records and at most one
 * cut one, which is ignored; nothing waits on the disk (no fsync) because a record lost
 * to a power cut is only recomputed. Numbers are written as C99 hexadecimal floats
 * (%a): exact, and several times cheaper to print than 17 decimal digits; strtod reads
 * them, and the decimal ones of older journals. */

/* dump: configuration c's settings as cli_settings_dump gives them, or NULL to make them */
static uint64_t run_key(const cli_grid *g, int c, int r, const char *dump)
{
    char *own = dump ? NULL : cli_settings_dump(&g->settings[c]);
    if (own) dump = own;
    cli_buf b = {0};
    cli_buf_printf(&b, "%s\nrepeat=%d\nseed=%" PRIu64 "\nversion=%s\n", dump ? dump : "", r,
                   cli_grid_seed(g, c, r), ds_version());
    uint64_t h = cli_hash(b.s ? b.s : "");
    free(own);
    cli_buf_free(&b);
    return h;
}

static void format_run(cli_buf *b, uint64_t key, const cli_run_result *res)
{
    const ds_history *h = res->history;
    cli_buf_printf(b, "run %016" PRIx64 "\n", key);
    cli_buf_printf(b, "seed %" PRIu64 "\nrestarts %d\nstalled %d\ndiverged %d\n", res->seed_used,
                   res->restarts, res->stalled, res->diverged);
    cli_buf_printf(b, "test %d\n", res->n_test);
    for (int i = 0; i < res->n_test; i++)
        cli_buf_printf(b, "%s %a\n", res->test_names[i], res->test[i]);
    cli_buf_printf(b, "history %d %d\n", ds_history_epochs(h), ds_history_columns(h));
    for (int c = 0; c < ds_history_columns(h); c++)
        cli_buf_printf(b, "%s\n", ds_history_column_name(h, c));
    for (int r = 0; r < ds_history_epochs(h); r++) {
        cli_buf_printf(b, "%d", ds_history_epoch(h, r));
        for (int c = 0; c < ds_history_columns(h); c++)
            cli_buf_printf(b, " %a", ds_history_get(h, r, c));
        cli_buf_printf(b, "\n");
    }
    /* the stall reason (one line), then diagnostics and recorded outputs when present */
    cli_buf_printf(b, "reason %s\n", res->stall_reason[0] ? res->stall_reason : "-");
    cli_buf_printf(b, "layers %d epochs %d diag %d\n", res->diag || res->rec ? res->n_layers : 0,
                   res->n_epochs, res->diag != NULL);
    for (int l = 0; (res->diag || res->rec) && l < res->n_layers; l++)
        cli_buf_printf(b, "%s\n", res->layer_names[l]);
    if (res->diag)
        for (size_t i = 0; i < (size_t)res->n_layers * CLI_N_DIAG * res->n_epochs; i++)
            cli_buf_printf(b, "%a\n", res->diag[i]);
    cli_buf_printf(b, "rec %d %d\n", res->rec ? res->n_probe : 0, res->rec ? res->rec_width : 0);
    if (res->rec) {
        for (size_t i = 0; i < (size_t)res->n_epochs * res->n_probe * res->rec_width; i++)
            cli_buf_printf(b, "%a\n", (double)res->rec[i]);
        for (int e = 0; e < res->n_epochs; e++) cli_buf_printf(b, "%a\n", res->rec_acc[e]);
    }
    cli_buf_printf(b, "end %016" PRIx64 "\n", key);
}

/* the tail format_run writes after the history */
static int parse_tail(FILE *f, cli_run_result *res)
{
    char line[256];
    int has_diag, L, E, P, W;
    if (fscanf(f, " reason ") != 0 || !fgets(line, sizeof line, f)) return -1;
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, "-") != 0) snprintf(res->stall_reason, sizeof res->stall_reason, "%.159s", line);
    if (fscanf(f, " layers %d epochs %d diag %d", &L, &E, &has_diag) != 3 || L < 0 || L > 4096 ||
        E < 0 || E > 1000000)
        return -1;
    res->n_layers = L;
    res->n_epochs = E;
    if (L) {
        res->layer_names = calloc((size_t)L, sizeof *res->layer_names);
        if (!res->layer_names) return -1;
        if (fscanf(f, " ") != 0) return -1;
        for (int l = 0; l < L; l++) {
            if (!fgets(res->layer_names[l], sizeof res->layer_names[l], f)) return -1;
            res->layer_names[l][strcspn(res->layer_names[l], "\n")] = '\0';
        }
    }
    if (has_diag) {
        size_t n = (size_t)L * CLI_N_DIAG * (size_t)E;
        res->diag = malloc(sizeof(double) * (n + 1));
        if (!res->diag) return -1;
        for (size_t i = 0; i < n; i++) {
            char t[64];
            if (fscanf(f, "%63s", t) != 1) return -1;
            res->diag[i] = strtod(t, NULL);
        }
    }
    if (fscanf(f, " rec %d %d", &P, &W) != 2 || P < 0 || W < 0 || (size_t)P * W > (1u << 26))
        return -1;
    if (P && W) {
        size_t n = (size_t)E * P * W;
        res->n_probe = P;
        res->rec_width = W;
        res->rec = malloc(sizeof(float) * (n + 1));
        res->rec_acc = malloc(sizeof(double) * ((size_t)E + 1));
        if (!res->rec || !res->rec_acc) return -1;
        for (size_t i = 0; i < n; i++) {
            char t[64];
            if (fscanf(f, "%63s", t) != 1) return -1;
            res->rec[i] = strtof(t, NULL);
        }
        for (int e = 0; e < E; e++) {
            char t[64];
            if (fscanf(f, "%63s", t) != 1) return -1;
            res->rec_acc[e] = strtod(t, NULL);
        }
    }
    return 0;
}

/* Parses one record's body (after "run KEY\n"); nonzero when it is not well formed. */
static int parse_run(const char *text, size_t len, cli_run_result *res)
{
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) return -1;
    memset(res, 0, sizeof *res);
    int rows, cols, ok = 0;
    char names[CLI_MAX_METRICS][48];
    if (fscanf(f, "seed %" SCNu64 " restarts %d stalled %d diverged %d test %d", &res->seed_used,
               &res->restarts, &res->stalled, &res->diverged, &res->n_test) != 5 ||
        res->n_test < 0 || res->n_test > CLI_MAX_METRICS)
        goto done;
    for (int i = 0; i < res->n_test; i++) {
        char v[64];
        if (fscanf(f, "%47s %63s", res->test_names[i], v) != 2) goto done;
        res->test[i] = strtod(v, NULL);
    }
    if (fscanf(f, " history %d %d", &rows, &cols) != 2 || rows < 0 || rows > 1000000 ||
        cols < 0 || cols > CLI_MAX_METRICS)
        goto done;
    for (int c = 0; c < cols; c++)
        if (fscanf(f, "%47s", names[c]) != 1) goto done;
    if (ds_history_create(&res->history, NULL)) goto done;
    const char *np[CLI_MAX_METRICS];
    for (int c = 0; c < cols; c++) np[c] = names[c];
    for (int r = 0; r < rows; r++) {
        int ep;
        double v[CLI_MAX_METRICS];
        if (fscanf(f, "%d", &ep) != 1) goto done;
        for (int c = 0; c < cols; c++) {
            char t[64];
            if (fscanf(f, "%63s", t) != 1) goto done;
            v[c] = strtod(t, NULL); /* "nan" and "inf" read back as such */
        }
        if (ds_history_append(res->history, ep, cols, np, v, NULL)) goto done;
    }
    if (parse_tail(f, res)) goto done;
    ok = 1;
done:
    fclose(f);
    if (!ok) {
        cli_run_result_free(res);
        return -1;
    }
    return 0;
}

typedef struct {
    int fd;           /* O_APPEND, or -1 */
    char *text;       /* the journal as read at the start */
    int n;            /* complete records */
    uint64_t *keys;
    size_t *begin, *end; /* each record's body in text */
} journal;

static void journal_close(journal *j)
{
    if (j->fd >= 0) close(j->fd);
    free(j->text);
    free(j->keys);
    free(j->begin);
    free(j->end);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

static ds_status journal_open(journal *j, const char *path, ds_error *err)
{
    memset(j, 0, sizeof *j);
    j->fd = -1;
    FILE *f = fopen(path, "rb");
    if (f) {
        cli_buf b = {0};
        char chunk[65536];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            cli_buf_printf(&b, "%.*s", (int)got, chunk);
        fclose(f);
        j->text = b.s;
        size_t len = b.len;
        int cap = 0;
        for (size_t pos = 0; j->text && pos < len;) {
            uint64_t key;
            int used = 0;
            char *nl = memchr(j->text + pos, '\n', len - pos);
            if (!nl) break;
            if (sscanf(j->text + pos, "run %" SCNx64 "%n", &key, &used) == 1 &&
                j->text + pos + used == nl) {
                char end_line[48];
                snprintf(end_line, sizeof end_line, "\nend %016" PRIx64 "\n", key);
                size_t body = (size_t)(nl + 1 - j->text);
                char *e = strstr(j->text + body - 1, end_line);
                if (!e) break; /* the record a kill cut short: the rest is unusable */
                if (j->n == cap) {
                    cap = cap ? 2 * cap : 256;
                    j->keys = realloc(j->keys, sizeof *j->keys * (size_t)cap);
                    j->begin = realloc(j->begin, sizeof *j->begin * (size_t)cap);
                    j->end = realloc(j->end, sizeof *j->end * (size_t)cap);
                    if (!j->keys || !j->begin || !j->end) {
                        journal_close(j);
                        return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
                    }
                }
                j->keys[j->n] = key;
                j->begin[j->n] = body;
                j->end[j->n] = (size_t)(e + 1 - j->text);
                j->n++;
                pos = (size_t)(e - j->text) + strlen(end_line);
            } else {
                pos = (size_t)(nl + 1 - j->text);
            }
        }
    }
    j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (j->fd < 0) {
        ds_status s = cli_fail_status(err, DS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        journal_close(j);
        return s;
    }
    return DS_OK;
}

/* The last complete record of key, parsed into res; nonzero when there is none. */
static int journal_find(const journal *j, uint64_t key, cli_run_result *res)
{
    for (int i = j->n - 1; i >= 0; i--)
        if (j->keys[i] == key)
            return parse_run(j->text + j->begin[i], j->end[i] - j->begin[i], res);
    return -1;
}

static ds_status journal_append(journal *j, uint64_t key, const cli_run_result *res,
                                const char *path, ds_error *err)
{
    cli_buf b = {0};
    format_run(&b, key, res);
    ds_status s = DS_OK;
    if (b.oom) s = cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    else if (write(j->fd, b.s, b.len) != (ssize_t)b.len)
        s = cli_fail_status(err, DS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    cli_buf_free(&b);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* the pool */

typedef struct {
    const cli_grid *g;
    const cli_sweep_options *o;
    cli_rundata *data;     /* (n_configs), pointers into shared data */
    int *data_of;          /* config -> index into data */
    cli_run_result *res;   /* (n_runs) */
    char **dumps;          /* (n_configs) each configuration's settings, as text */
    int n_runs, next, done, reused, failed;
    journal *jr;
    ds_error err;
    pthread_mutex_t lock;
    struct timespec t0;
#if defined(__linux__)
    cpu_set_t cpus; /* the processors the process may use */
    int n_cpus;     /* how many (0: not known) */
#endif
} pool;

static double elapsed(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void draw_progress(pool *p)
{
    if (!p->o->progress) return;
    double t = elapsed(&p->t0);
    int width = 30, fill = p->n_runs ? p->done * width / p->n_runs : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : '.');
    bar[width] = '\0';
    double left = p->done > p->reused ? t / (p->done - p->reused) * (p->n_runs - p->done) : 0;
    fprintf(stderr, "\r[%s] %d/%d runs  %.1fs  ~%.1fs left ", bar, p->done, p->n_runs, t, left);
    if (p->done == p->n_runs) fputc('\n', stderr);
    fflush(stderr);
}

static void *worker(void *arg)
{
    pool *p = arg;
#if defined(__linux__)
    /* started on a processor of its own (start_job), now free to move */
    if (p->n_cpus > 1) pthread_setaffinity_np(pthread_self(), sizeof p->cpus, &p->cpus);
#endif
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int i = p->failed ? p->n_runs : p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n_runs) break;
        int c = i / p->g->repeats, r = i % p->g->repeats;
        uint64_t key = run_key(p->g, c, r, p->dumps ? p->dumps[c] : NULL);
        int reused = 0;
        ds_error e = {0};
        ds_status s = DS_OK;
        if (p->jr) reused = journal_find(p->jr, key, &p->res[i]) == 0;
        if (!reused)
            s = cli_run(&p->g->configs[c], &p->data[p->data_of[c]], cli_grid_seed(p->g, c, r),
                        NULL, NULL, NULL, NULL, r == 0, &p->res[i], &e);
        /* outside the lock: one write() on an O_APPEND descriptor lands whole */
        if (!s && !reused && p->jr) s = journal_append(p->jr, key, &p->res[i], p->o->cache, &e);
        pthread_mutex_lock(&p->lock);
        if (s && !p->failed) {
            p->failed = 1;
            p->err = e;
            snprintf(p->err.message, sizeof p->err.message, "configuration '%.100s', repeat %d: %.360s",
                     p->g->labels[c], r, e.message);
        }
        p->done++;
        p->reused += reused;
        draw_progress(p);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

/* Starts job j (1, 2, ...) on the j-th processor after the caller's among those the
 * process may use; the job then lets itself move anywhere (worker). Left to itself, Linux
 * may start a new thread on its creator's processor and keep it there for the whole of a
 * sweep that lasts milliseconds: in 2 of 10 runs of examples/initializers.ini with two
 * jobs both ran on one processor, each for 10-11 ms instead of 4-8. */
static int start_job(pool *p, pthread_t *th, int j)
{
    pthread_attr_t at;
    if (pthread_attr_init(&at) != 0) return pthread_create(th, NULL, worker, p);
#if defined(__linux__)
    if (p->n_cpus > 1) {
        int list[CPU_SETSIZE], n = 0, here = 0, cpu = sched_getcpu();
        for (int c = 0; c < CPU_SETSIZE && n < p->n_cpus; c++)
            if (CPU_ISSET(c, &p->cpus)) {
                if (c == cpu) here = n;
                list[n++] = c;
            }
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(list[(here + j) % n], &one);
        pthread_attr_setaffinity_np(&at, sizeof one, &one);
    }
#endif
    int rc = pthread_create(th, &at, worker, p);
    pthread_attr_destroy(&at);
    return rc == 0 ? 0 : pthread_create(th, NULL, worker, p);
}

/* ---------------------------------------------------------------------------------- */
/* data, shared between configurations that prepare it the same way */

static void prep_key(const cli_config *c, char *buf, size_t n)
{
    cli_prep_options o = cli_config_prep_options(c);
    snprintf(buf, n, "%s|%s|%s|%d|%d|%.17g|%" PRIu64 "|%d|%d", c->data, c->test_data,
             o.target ? o.target : "", (int)o.target_mode, (int)o.scale, o.test_size,
             o.split_seed, o.stratify, o.scale_before_split);
}

static ds_status load_table(const char *path, char ***paths, cli_table ***tables, int *n,
                            const cli_table **out, ds_error *err)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*paths)[i], path) == 0) return *out = (*tables)[i], DS_OK;
    cli_table *t;
    ds_status s = cli_table_read(&t, path, err);
    if (s) return s;
    *paths = realloc(*paths, sizeof(char *) * (size_t)(*n + 1));
    *tables = realloc(*tables, sizeof(cli_table *) * (size_t)(*n + 1));
    (*paths)[*n] = cli_strdup(path);
    (*tables)[*n] = t;
    (*n)++;
    *out = t;
    return DS_OK;
}

/* ---------------------------------------------------------------------------------- */
/* gathering */

void cli_results_free(cli_results *r)
{
    for (int c = 0; c < r->n_configs; c++) {
        free(r->labels ? r->labels[c] : NULL);
        for (int v = 0; r->values && v < r->n_vary; v++) free(r->values[c * r->n_vary + v]);
    }
    for (int v = 0; r->vary_names && v < r->n_vary; v++) free(r->vary_names[v]);
    for (int k = 0; k < r->n_metrics; k++) free(r->metrics[k]);
    for (int k = 0; k < r->n_test; k++) free(r->test_metrics[k]);
    free(r->vary_names);
    free(r->values);
    free(r->labels);
    free(r->curves);
    free(r->test);
    free(r->seeds);
    free(r->restarts);
    free(r->stalled);
    free(r->diverged);
    free(r->epochs_to_target);
    free(r->target_metric);
    if (r->diag_layer_names)
        for (int i = 0; i < r->n_configs * r->n_diag_layers; i++) free(r->diag_layer_names[i]);
    free(r->diag_layer_names);
    free(r->diag);
    if (r->stall_reasons)
        for (int i = 0; i < r->n_configs * r->n_repeats; i++) free(r->stall_reasons[i]);
    free(r->stall_reasons);
    free(r->rec);
    free(r->record_layers);
    free(r->rec_accuracy);
    free(r->probe_labels);
    if (r->class_names)
        for (int k = 0; k < r->n_classes; k++) free(r->class_names[k]);
    free(r->class_names);
    free(r->command);
    free(r->experiment);
    free(r->settings);
    memset(r, 0, sizeof *r);
}

static int name_index(char **names, int *n, const char *name, int add)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(names[i], name) == 0) return i;
    if (!add || *n == CLI_MAX_METRICS) return -1;
    names[*n] = cli_strdup(name);
    return (*n)++;
}

/* The top two principal axes of n points of width w (row-major, double), by power
 * iteration with deflation from fixed starting vectors: deterministic. Each axis is signed
 * so that its largest entry is positive. mean receives the points' mean. */
static void pca2(const double *x, int n, int w, double *mean, double *axes)
{
    double *cov = calloc((size_t)w * w, sizeof(double));
    if (!cov) return;
    for (int j = 0; j < w; j++) {
        mean[j] = 0;
        for (int i = 0; i < n; i++) mean[j] += x[(size_t)i * w + j];
        mean[j] /= n > 0 ? n : 1;
    }
    for (int i = 0; i < n; i++)
        for (int a = 0; a < w; a++)
            for (int b = 0; b < w; b++)
                cov[a * w + b] += (x[(size_t)i * w + a] - mean[a]) * (x[(size_t)i * w + b] - mean[b]);
    for (int k = 0; k < 2; k++) {
        double *v = axes + (size_t)k * w;
        for (int j = 0; j < w; j++) v[j] = 1.0 + 0.01 * j * (k + 1);
        for (int it = 0; it < 200; it++) {
            double nv[256], norm = 0;
            for (int a = 0; a < w && a < 256; a++) {
                nv[a] = 0;
                for (int b = 0; b < w; b++) nv[a] += cov[a * w + b] * v[b];
            }
            if (k == 1) { /* deflate: remove the first axis */
                double d = 0;
                for (int a = 0; a < w; a++) d += nv[a] * axes[a];
                for (int a = 0; a < w; a++) nv[a] -= d * axes[a];
            }
            for (int a = 0; a < w; a++) norm += nv[a] * nv[a];
            norm = sqrt(norm);
            if (norm == 0) break;
            for (int a = 0; a < w; a++) v[a] = nv[a] / norm;
        }
        int big = 0;
        for (int a = 1; a < w; a++)
            if (fabs(v[a]) > fabs(v[big])) big = a;
        if (v[big] < 0)
            for (int a = 0; a < w; a++) v[a] = -v[a];
    }
    free(cov);
}

/* class index of a row's target: argmax of one-hot, the index itself, or 0/1 */
static int target_class(const float *y, int ny)
{
    if (ny == 1) return (int)y[0];
    int best = 0;
    for (int k = 1; k < ny; k++)
        if (y[k] > y[best]) best = k;
    return best;
}

static ds_status gather_inside(const cli_grid *g, cli_run_result *res, const cli_rundata *data,
                               const int *data_of, cli_results *r, ds_error *err)
{
    int nr = g->n_configs * g->repeats;
    int E = r->n_epochs;
    /* diagnostics */
    int L = 0;
    for (int i = 0; i < nr; i++)
        if (res[i].diag && res[i].n_layers > L) L = res[i].n_layers;
    r->n_diag_layers = L;
    if (L) {
        size_t n = (size_t)nr * L * CLI_N_DIAG * E;
        r->diag = malloc(sizeof(double) * n);
        r->diag_layer_names = calloc((size_t)g->n_configs * L, sizeof(char *));
        if (!r->diag || !r->diag_layer_names) return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < n; k++) r->diag[k] = (double)NAN;
        for (int i = 0; i < nr; i++) {
            const cli_run_result *x = &res[i];
            int c = i / g->repeats;
            for (int l = 0; x->diag && l < x->n_layers; l++) {
                if (!r->diag_layer_names[c * L + l])
                    r->diag_layer_names[c * L + l] = cli_strdup(x->layer_names[l]);
                for (int q = 0; q < CLI_N_DIAG; q++)
                    for (int e = 0; e < x->n_epochs && e < E; e++)
                        r->diag[(((size_t)i * L + l) * CLI_N_DIAG + q) * E + e] =
                            x->diag[((size_t)l * CLI_N_DIAG + q) * x->n_epochs + e];
            }
        }
    }
    /* stall reasons */
    int any = 0;
    for (int i = 0; i < nr; i++) any |= res[i].stall_reason[0] != '\0';
    if (any) {
        r->stall_reasons = calloc((size_t)nr, sizeof(char *));
        if (!r->stall_reasons) return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
        for (int i = 0; i < nr; i++)
            if (res[i].stall_reason[0]) r->stall_reasons[i] = cli_strdup(res[i].stall_reason);
    }
    /* recorded outputs of repeat 0 of each configuration, in 2 dimensions */
    r->record_layer = -1;
    int P = 0;
    for (int c = 0; c < g->n_configs; c++) {
        const cli_run_result *x = &res[c * g->repeats];
        if (x->rec && (P == 0 || x->n_probe < P)) P = x->n_probe;
    }
    if (!P) return DS_OK;
    /* the recorded layer of each configuration: an index (negative counts from the
     * output, as in Python) or a name, resolved against that configuration's layers */
    r->record_layers = malloc(sizeof(int) * (size_t)g->n_configs);
    if (!r->record_layers) return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    const char *spec = g->configs[0].record_layer;
    char *endp;
    long li = strtol(spec, &endp, 10);
    for (int c = 0; c < g->n_configs; c++) {
        const cli_run_result *x = &res[c * g->repeats];
        int k = (*spec && !*endp) ? (int)(li < 0 ? li + x->n_layers : li) : 0;
        for (int l = 0; *endp && l < x->n_layers; l++) {
            size_t ln = strlen(spec);
            if (strncmp(x->layer_names[l], spec, ln) == 0 && x->layer_names[l][ln] == ' ') k = l;
        }
        r->record_layers[c] = k;
    }
    r->record_layer = r->record_layers[0];
    r->n_probe = P;
    r->rec = malloc(sizeof(double) * (size_t)g->n_configs * E * P * 2);
    r->rec_accuracy = malloc(sizeof(double) * (size_t)g->n_configs * E);
    r->probe_labels = malloc(sizeof(int) * (size_t)P);
    if (!r->rec || !r->rec_accuracy || !r->probe_labels)
        return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < (size_t)g->n_configs * E * P * 2; k++) r->rec[k] = (double)NAN;
    for (size_t k = 0; k < (size_t)g->n_configs * E; k++) r->rec_accuracy[k] = (double)NAN;
    const cli_rundata *d0 = &data[data_of[0]];
    const ds_dataset *probe = cli_probe(d0);
    const cli_data *pp = d0->prep;
    for (int p = 0; p < P; p++)
        r->probe_labels[p] = pp->n_classes ? target_class(ds_dataset_y(probe) + (size_t)p * ds_dataset_n_y(probe),
                                                          ds_dataset_n_y(probe))
                                           : -1;
    r->n_classes = pp->n_classes;
    if (pp->n_classes) {
        r->class_names = calloc((size_t)pp->n_classes, sizeof(char *));
        if (!r->class_names) return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
        for (int k = 0; k < pp->n_classes; k++) r->class_names[k] = cli_strdup(pp->label_names[k]);
    }
    for (int c = 0; c < g->n_configs; c++) {
        const cli_run_result *x = &res[c * g->repeats];
        if (!x->rec) continue;
        int W = x->rec_width;
        if (W > 2) r->record_pca = 1;
        /* the last epoch with values fits the projection */
        int last = -1;
        for (int e = 0; e < x->n_epochs; e++)
            if (!isnan(x->rec[(size_t)e * x->n_probe * W])) last = e;
        if (last < 0) continue;
        double *pts = malloc(sizeof(double) * (size_t)P * W);
        double mean[256] = {0}, axes[512] = {0};
        if (!pts || W > 256) {
            free(pts);
            return cli_fail_status(err, DS_ERR_NOMEM, "cannot project a layer of %d units", W);
        }
        for (int p = 0; p < P; p++)
            for (int u = 0; u < W; u++)
                pts[(size_t)p * W + u] = (double)x->rec[((size_t)last * x->n_probe + p) * W + u];
        if (W > 2) pca2(pts, P, W, mean, axes);
        for (int e = 0; e < x->n_epochs && e < E; e++) {
            r->rec_accuracy[(size_t)c * E + e] = x->rec_acc[e];
            for (int p = 0; p < P; p++) {
                const float *o = x->rec + ((size_t)e * x->n_probe + p) * W;
                double *dst = r->rec + (((size_t)c * E + e) * P + p) * 2;
                if (W > 2) {
                    for (int k = 0; k < 2; k++) {
                        double v = 0;
                        for (int u = 0; u < W; u++) v += ((double)o[u] - mean[u]) * axes[k * W + u];
                        dst[k] = v;
                    }
                } else {
                    dst[0] = (double)o[0];
                    dst[1] = W > 1 ? (double)o[1] : 0.0;
                }
            }
        }
        free(pts);
    }
    return DS_OK;
}

static ds_status gather(const cli_grid *g, cli_run_result *res, cli_results *r, ds_error *err)
{
    memset(r, 0, sizeof *r);
    int nr = g->n_configs * g->repeats;
    r->n_configs = g->n_configs;
    r->n_vary = g->n_axes;
    r->n_repeats = g->repeats;
    r->vary_names = calloc((size_t)(g->n_axes ? g->n_axes : 1), sizeof(char *));
    r->values = calloc((size_t)g->n_configs * (size_t)(g->n_axes ? g->n_axes : 1), sizeof(char *));
    r->labels = calloc((size_t)g->n_configs, sizeof(char *));
    for (int v = 0; v < g->n_axes; v++) r->vary_names[v] = cli_strdup(g->axis_names[v]);
    for (int c = 0; c < g->n_configs; c++) {
        r->labels[c] = cli_strdup(g->labels[c]);
        for (int v = 0; v < g->n_axes; v++)
            r->values[c * g->n_axes + v] = cli_strdup(g->values[c * g->n_axes + v]);
    }
    r->n_epochs = 1;
    for (int c = 0; c < g->n_configs; c++)
        if (g->configs[c].fit.epochs > r->n_epochs) r->n_epochs = g->configs[c].fit.epochs;
    for (int i = 0; i < nr; i++) {
        const ds_history *h = res[i].history;
        for (int k = 0; k < ds_history_columns(h); k++)
            name_index(r->metrics, &r->n_metrics, ds_history_column_name(h, k), 1);
        for (int k = 0; k < res[i].n_test; k++)
            name_index(r->test_metrics, &r->n_test, res[i].test_names[k], 1);
    }
    size_t ncurve = (size_t)nr * (size_t)(r->n_metrics ? r->n_metrics : 1) * (size_t)r->n_epochs;
    r->curves = malloc(sizeof(double) * ncurve);
    r->test = malloc(sizeof(double) * (size_t)nr * (size_t)(r->n_test ? r->n_test : 1));
    r->seeds = calloc((size_t)nr, sizeof(uint64_t));
    r->restarts = calloc((size_t)nr, sizeof(int));
    r->stalled = calloc((size_t)nr, sizeof(int));
    r->diverged = calloc((size_t)nr, sizeof(int));
    r->epochs_to_target = calloc((size_t)nr, sizeof(int));
    if (!r->vary_names || !r->values || !r->labels || !r->curves || !r->test || !r->seeds ||
        !r->restarts || !r->stalled || !r->diverged || !r->epochs_to_target)
        return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ncurve; i++) r->curves[i] = (double)NAN;
    for (int i = 0; i < nr * (r->n_test ? r->n_test : 1); i++) r->test[i] = (double)NAN;
    r->target_accuracy = g->configs[0].target_accuracy;
    int tm = -1;
    for (int k = 0; k < r->n_metrics && tm < 0; k++)
        if (strcmp(r->metrics[k], "val_accuracy") == 0) tm = k;
    for (int k = 0; k < r->n_metrics && tm < 0; k++)
        if (strcmp(r->metrics[k], "accuracy") == 0) tm = k;
    r->target_metric = cli_strdup(tm >= 0 ? r->metrics[tm] : "");
    for (int i = 0; i < nr; i++) {
        const ds_history *h = res[i].history;
        for (int col = 0; col < ds_history_columns(h); col++) {
            int k = name_index(r->metrics, &r->n_metrics, ds_history_column_name(h, col), 0);
            for (int row = 0; row < ds_history_epochs(h); row++) {
                int e = ds_history_epoch(h, row);
                if (k >= 0 && e >= 0 && e < r->n_epochs)
                    r->curves[((size_t)i * r->n_metrics + k) * r->n_epochs + e] =
                        ds_history_get(h, row, col);
            }
        }
        for (int t = 0; t < res[i].n_test; t++) {
            int k = name_index(r->test_metrics, &r->n_test, res[i].test_names[t], 0);
            if (k >= 0) r->test[(size_t)i * r->n_test + k] = res[i].test[t];
        }
        r->seeds[i] = res[i].seed_used;
        r->restarts[i] = res[i].restarts;
        r->stalled[i] = res[i].stalled;
        r->diverged[i] = res[i].diverged;
        r->epochs_to_target[i] = -1;
        for (int e = 0; tm >= 0 && e < r->n_epochs; e++)
            if (r->curves[((size_t)i * r->n_metrics + tm) * r->n_epochs + e] >=
                r->target_accuracy) {
                r->epochs_to_target[i] = e + 1; /* epochs trained when it was reached */
                break;
            }
    }
    r->base_seed = g->base_seed;
    r->paired = g->paired;
    r->record_layer = -1;
    return DS_OK;
}

ds_status cli_sweep_run(const cli_grid *g, const cli_sweep_options *o, cli_results *out,
                        ds_error *err)
{
    memset(out, 0, sizeof *out);
    ds_status s = DS_OK;
    /* data: each file read once, each distinct preparation made once */
    char **tpaths = NULL;
    cli_table **tables = NULL;
    int n_tables = 0;
    char **keys = calloc((size_t)g->n_configs, sizeof(char *));
    cli_rundata *data = calloc((size_t)g->n_configs, sizeof *data);
    int *data_of = calloc((size_t)g->n_configs, sizeof(int));
    int n_data = 0;
    int nr = g->n_configs * g->repeats;
    cli_run_result *res = calloc((size_t)nr, sizeof *res);
    if (!keys || !data || !data_of || !res) s = cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
    for (int c = 0; c < g->n_configs && !s; c++) {
        char key[CLI_PATH_MAX * 2 + 256];
        prep_key(&g->configs[c], key, sizeof key);
        int found = -1;
        for (int i = 0; i < n_data; i++)
            if (strcmp(keys[i], key) == 0) found = i;
        if (found >= 0) {
            data_of[c] = found;
            continue;
        }
        const cli_table *t = NULL, *tt = NULL;
        int idx = cli_is_idx(g->configs[c].data);
        if (!idx) s = load_table(g->configs[c].data, &tpaths, &tables, &n_tables, &t, err);
        if (!s && !idx && g->configs[c].test_data[0])
            s = load_table(g->configs[c].test_data, &tpaths, &tables, &n_tables, &tt, err);
        if (!s) s = cli_rundata_load(&g->configs[c], t, tt, &data[n_data], err);
        if (!s) {
            /* check that the model fits the data before any run starts */
            ds_model *m = NULL;
            s = cli_model_build(&g->configs[c], data[n_data].prep, 0, &m, err);
            ds_model_free(m);
        }
        if (!s) {
            keys[n_data] = cli_strdup(key);
            data_of[c] = n_data++;
        } else {
            cli_rundata_free(&data[n_data]);
        }
    }
    /* every configuration's model must fit its data: checked above for the first user of
     * each preparation; check the others too */
    for (int c = 0; c < g->n_configs && !s; c++) {
        ds_model *m = NULL;
        s = cli_model_build(&g->configs[c], data[data_of[c]].prep, 0, &m, err);
        ds_model_free(m);
        if (s && err) {
            char msg[DS_ERROR_MESSAGE_SIZE];
            snprintf(msg, sizeof msg, "%s", err->message);
            snprintf(err->message, sizeof err->message, "configuration '%.100s': %.390s", g->labels[c], msg);
        }
    }
    /* only now, with every configuration checked, is anything written */
    if (!s && o->out && mkdir(o->out, 0777) != 0 && errno != EEXIST)
        s = cli_fail_status(err, DS_ERR_IO, "%s: cannot create: %s", o->out, strerror(errno));
    journal jr;
    memset(&jr, 0, sizeof jr);
    jr.fd = -1;
    if (!s && o->cache) s = journal_open(&jr, o->cache, err);
    if (!s) {
        pool p;
        memset(&p, 0, sizeof p);
        p.g = g;
        p.o = o;
        p.data = data;
        p.data_of = data_of;
        p.res = res;
        p.dumps = calloc((size_t)g->n_configs, sizeof(char *));
        for (int c = 0; p.dumps && c < g->n_configs; c++)
            p.dumps[c] = cli_settings_dump(&g->settings[c]);
        p.n_runs = nr;
        p.jr = o->cache ? &jr : NULL;
        pthread_mutex_init(&p.lock, NULL);
        clock_gettime(CLOCK_MONOTONIC, &p.t0);
        int jobs = o->jobs < 1 ? 1 : (o->jobs > nr ? nr : o->jobs);
        pthread_t *th = malloc(sizeof(pthread_t) * (size_t)jobs);
        int started = 0;
#if defined(__linux__)
        if (jobs > 1 && sched_getaffinity(0, sizeof p.cpus, &p.cpus) == 0)
            p.n_cpus = CPU_COUNT(&p.cpus);
#endif
        for (int j = 1; th && j < jobs; j++)
            if (start_job(&p, &th[j], j) == 0) started = j;
            else break;
        worker(&p);
        for (int j = 1; j <= started; j++) pthread_join(th[j], NULL);
        free(th);
        for (int c = 0; p.dumps && c < g->n_configs; c++) free(p.dumps[c]);
        free(p.dumps);
        pthread_mutex_destroy(&p.lock);
        if (p.failed) {
            s = p.err.status ? p.err.status : DS_ERR_ARG;
            if (err) *err = p.err;
        }
    }
    journal_close(&jr);
    if (!s) s = gather(g, res, out, err);
    if (!s) s = gather_inside(g, res, data, data_of, out, err);
    for (int i = 0; res && i < nr; i++) cli_run_result_free(&res[i]);
    free(res);
    for (int i = 0; i < n_data; i++) {
        cli_rundata_free(&data[i]);
        free(keys[i]);
    }
    free(keys);
    free(data);
    free(data_of);
    for (int i = 0; i < n_tables; i++) {
        free(tpaths[i]);
        cli_table_free(tables[i]);
    }
    free(tpaths);
    free(tables);
    if (s) cli_results_free(out);
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* writers */

/* a CSV field, quoted when it holds a comma, quote or line break (RFC 4180) */

ds_status cli_write_history_csv(const cli_results *r, const char *path, ds_error *err)
{
    cli_atomic a;
    ds_status s = cli_atomic_open(&a, path, err);
    if (s) return s;
    FILE *f = a.f;
    fputs("configuration", f);
    for (int c = 0; c < r->n_configs; c++)
        for (int k = 0; k < r->n_metrics; k++) {
            fputc(',', f);
            cli_csv_field(f, r->labels[c]);
        }
    fputs("\nmetric", f);
    for (int c = 0; c < r->n_configs; c++)
        for (int k = 0; k < r->n_metrics; k++) {
            fputc(',', f);
            cli_csv_field(f, r->metrics[k]);
        }
    fputs("\nepoch", f);
    for (int i = 0; i < r->n_configs * r->n_metrics; i++) fputc(',', f);
    fputc('\n', f);
    for (int e = 0; e < r->n_epochs; e++) {
        fprintf(f, "%d", e);
        for (int c = 0; c < r->n_configs; c++)
            for (int k = 0; k < r->n_metrics; k++) {
                double sum = 0;
                int n = 0;
                for (int rep = 0; rep < r->n_repeats; rep++) {
                    double v = r->curves[(((size_t)c * r->n_repeats + rep) * r->n_metrics + k) *
                                             r->n_epochs + e];
                    if (isfinite(v)) {
                        sum += v;
                        n++;
                    }
                }
                if (n) {
                    char num[CLI_G9_SIZE];
                    fputc(',', f);
                    fwrite(num, 1, (size_t)cli_fmt_g9(num, sum / n), f);
                }
                else fputc(',', f);
            }
        fputc('\n', f);
    }
    return cli_atomic_commit(&a, err);
}

ds_status cli_write_runs_csv(const cli_results *r, const char *path, ds_error *err)
{
    cli_atomic a;
    ds_status s = cli_atomic_open(&a, path, err);
    if (s) return s;
    FILE *f = a.f;
    for (int v = 0; v < r->n_vary; v++) {
        cli_csv_field(f, r->vary_names[v]);
        fputc(',', f);
    }
    fputs("configuration,repeat,seed,epoch,metric,value\n", f);
    for (int c = 0; c < r->n_configs; c++)
        for (int rep = 0; rep < r->n_repeats; rep++) {
            size_t i = (size_t)c * r->n_repeats + rep;
            /* the columns every history row of this run repeats, formatted once */
            char *prefix = NULL;
            size_t prefix_len = 0;
            FILE *pf = open_memstream(&prefix, &prefix_len);
            if (!pf) {
                cli_atomic_abort(&a);
                return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
            }
            for (int vv = 0; vv < r->n_vary; vv++) {
                cli_csv_field(pf, r->values[c * r->n_vary + vv]);
                fputc(',', pf);
            }
            cli_csv_field(pf, r->labels[c]);
            fprintf(pf, ",%d,%" PRIu64 ",", rep, r->seeds[i]);
            if (fclose(pf) != 0 || !prefix) {
                free(prefix);
                cli_atomic_abort(&a);
                return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
            }
            int last = -1;
            for (int k = 0; k < r->n_metrics; k++)
                for (int e = 0; e < r->n_epochs; e++) {
                    double v = r->curves[(i * r->n_metrics + k) * r->n_epochs + e];
                    if (isnan(v)) continue;
                    if (e > last) last = e;
                    char num[16];
                    int nd = (int)sizeof num;
                    unsigned ev = (unsigned)e;
                    num[--nd] = ',';
                    do {
                        num[--nd] = (char)('0' + ev % 10);
                        ev /= 10;
                    } while (ev);
                    fwrite(prefix, 1, prefix_len, f);
                    fwrite(num + nd, 1, sizeof num - (size_t)nd, f);
                    cli_csv_field(f, r->metrics[k]);
                    char val[CLI_G9_SIZE + 2];
                    int vl = cli_fmt_g9(val + 1, v);
                    val[0] = ',';
                    val[vl + 1] = '\n';
                    fwrite(val, 1, (size_t)vl + 2, f);
                }
            free(prefix);
            /* per-layer diagnostics: metric "diag/<layer>/<quantity>" */
            for (int l = 0; r->diag && l < r->n_diag_layers; l++) {
                const char *ln = r->diag_layer_names[c * r->n_diag_layers + l];
                if (!ln) continue;
                int nl = (int)strcspn(ln, " ");
                for (int q = 0; q < CLI_N_DIAG; q++)
                    for (int e = 0; e < r->n_epochs; e++) {
                        double v = r->diag[((i * r->n_diag_layers + l) * CLI_N_DIAG + q) * r->n_epochs + e];
                        if (isnan(v)) continue;
                        for (int vv = 0; vv < r->n_vary; vv++) {
                            cli_csv_field(f, r->values[c * r->n_vary + vv]);
                            fputc(',', f);
                        }
                        cli_csv_field(f, r->labels[c]);
                        fprintf(f, ",%d,%" PRIu64 ",%d,diag/%.*s/%s,%.9g\n", rep, r->seeds[i], e, nl,
                                ln, cli_diag_names[q], v);
                    }
            }
            for (int t = 0; t < r->n_test; t++) {
                double v = r->test[i * r->n_test + t];
                if (isnan(v)) continue;
                for (int vv = 0; vv < r->n_vary; vv++) {
                    cli_csv_field(f, r->values[c * r->n_vary + vv]);
                    fputc(',', f);
                }
                cli_csv_field(f, r->labels[c]);
                fprintf(f, ",%d,%" PRIu64 ",%d,test_%s,%.9g\n", rep, r->seeds[i], last,
                        r->test_metrics[t], v);
            }
        }
    return cli_atomic_commit(&a, err);
}
