/*
 * args.c - see args.h. Experiment files are parsed by inih (Debian's libinih).
 */
#include "args.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_args_free(cli_args *a)
{
    cli_settings_free(&a->settings);
    for (int i = 0; i < a->n_axes; i++) cli_free_list(a->axes[i].values, a->axes[i].n_values);
    free(a->experiment_path);
    free(a->experiment_text);
    free(a->command);
    memset(a, 0, sizeof *a);
}

ds_status cli_axis_add(cli_args *a, const char *text, const char *origin, ds_error *err)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return cli_fail(err, "%s: '%s' should be NAME=VALUE1,VALUE2,...", origin, text);
    char name[64];
    size_t n = (size_t)(eq - text);
    while (n > 0 && text[n - 1] == ' ') n--;
    if (n >= sizeof name) return cli_fail(err, "%s: setting name too long", origin);
    memcpy(name, text, n);
    name[n] = '\0';
    return cli_axis_add_values(a, name, eq + 1, origin, 0, err);
}

/* Checks every value of an axis (so a typo fails before any run starts) and stores the
 * axis, replacing one of the same name. Takes ownership of values. */
static ds_status put_axis(cli_args *a, const char *key, char **values, int n,
                          const char *origin, ds_error *err)
{
    ds_status s = DS_OK;
    if (n == 0) s = cli_fail(err, "%s: no values for '%s'", origin, key);
    cli_settings tmp;
    cli_settings_init(&tmp);
    for (int i = 0; i < n && !s; i++) {
        for (int j = 0; j < i && !s; j++)
            if (strcmp(values[i], values[j]) == 0)
                s = cli_fail(err, "%s: %s lists '%s' twice", origin, key, values[i]);
        if (!s) s = cli_settings_set(&tmp, key, values[i], origin, err);
    }
    cli_settings_free(&tmp);
    for (int i = 0; !s && i < a->n_axes; i++)
        if (strcmp(a->axes[i].name, key) == 0) {
            cli_free_list(a->axes[i].values, a->axes[i].n_values);
            a->axes[i] = a->axes[--a->n_axes];
            break;
        }
    if (!s && a->n_axes == CLI_MAX_AXES)
        s = cli_fail(err, "%s: more than %d axes", origin, CLI_MAX_AXES);
    if (s) {
        cli_free_list(values, n);
        return s;
    }
    cli_axis *ax = &a->axes[a->n_axes++];
    memset(ax, 0, sizeof *ax);
    snprintf(ax->name, sizeof ax->name, "%s", key);
    ax->values = values;
    ax->n_values = n;
    return DS_OK;
}

ds_status cli_axis_add_values(cli_args *a, const char *name, const char *list,
                              const char *origin, int append, ds_error *err)
{
    int idx = cli_setting_find(name);
    if (idx < 0) return cli_fail(err, "%s: unknown setting '%s'", origin, name);
    if (!cli_setting_def_at(idx)->varies)
        return cli_fail(err, "%s: '%s' cannot vary in a sweep", origin, name);
    const char *key = cli_setting_def_at(idx)->key;
    char **parts;
    int n;
    ds_status s = cli_split_axis(list, &parts, &n, err);
    if (s) return s;
    cli_axis *prev = NULL;
    for (int i = 0; i < a->n_axes; i++)
        if (strcmp(a->axes[i].name, key) == 0) prev = &a->axes[i];
    if (append && prev) {
        /* the list goes on: the earlier values first */
        char **all = malloc(sizeof(char *) * (size_t)(prev->n_values + n + 1));
        if (!all) {
            cli_free_list(parts, n);
            return cli_fail_status(err, DS_ERR_NOMEM, "out of memory");
        }
        int k = 0;
        for (int i = 0; i < prev->n_values; i++) all[k++] = cli_strdup(prev->values[i]);
        for (int i = 0; i < n; i++) all[k++] = parts[i];
        free(parts);
        return put_axis(a, key, all, k, origin, err);
    }
    return put_axis(a, key, parts, n, origin, err);
}

/* ---- experiment files ---- */

typedef struct {
    cli_args *a;
    const char *path;
    char prev_section[64], prev_name[64]; /* the key of the previous line inih passed */
    cli_buf vary_text;                    /* a [vary] list so far, over its lines */
    char dir[CLI_PATH_MAX];
    ds_error *err;
    ds_status status;
} ini_ctx;

static int is_path_key(const char *key)
{
    return strcmp(key, "data") == 0 || strcmp(key, "test_data") == 0 || strcmp(key, "out") == 0;
}

/* inih (as Debian builds it) does not pass line numbers to the handler: find the first
 * line of `section` that sets `name`, for messages. */
static int find_line(const char *text, const char *section, const char *name)
{
    char cur[128] = "";
    int line = 1;
    size_t nl = strlen(name);
    for (const char *p = text; *p; line++) {
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        const char *q = p;
        while (q < e && isspace((unsigned char)*q)) q++;
        if (*q == '[') {
            const char *r = memchr(q, ']', (size_t)(e - q));
            if (r) snprintf(cur, sizeof cur, "%.*s", (int)(r - q - 1), q + 1);
        } else if (strcmp(cur, section) == 0 && (size_t)(e - q) > nl && strncmp(q, name, nl) == 0) {
            const char *r = q + nl;
            while (r < e && (*r == ' ' || *r == '\t')) r++;
            if (r < e && (*r == '=' || *r == ':')) return line;
        }
        p = *e ? e + 1 : e;
    }
    return 0;
}

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *ctx = user;
    if (ctx->status) return 0;
    int lineno = find_line(ctx->a->experiment_text, section, name);
    /* inih passes an indented continuation line as another value of the same key */
    int continued = strcmp(section, ctx->prev_section) == 0 && strcmp(name, ctx->prev_name) == 0;
    snprintf(ctx->prev_section, sizeof ctx->prev_section, "%s", section);
    snprintf(ctx->prev_name, sizeof ctx->prev_name, "%s", name);
    char origin[CLI_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:%d", ctx->path, lineno);
    if (strcmp(section, "vary") == 0) {
        /* a long list may go on over indented lines: split the whole text, not each line */
        if (!continued) ctx->vary_text.len = 0;
        cli_buf_printf(&ctx->vary_text, "%s%s", continued ? " " : "", value);
        if (ctx->vary_text.oom) ctx->status = cli_fail_status(ctx->err, DS_ERR_NOMEM, "out of memory");
        else ctx->status = cli_axis_add_values(ctx->a, name, ctx->vary_text.s, origin, 0, ctx->err);
        return ctx->status == DS_OK;
    }
    int idx = cli_setting_find(name);
    if (idx < 0) {
        ctx->status = cli_fail(ctx->err, "%s: unknown setting '%s' in [%s]", origin, name, section);
        return 0;
    }
    if (strcmp(section, cli_section_name(cli_setting_def_at(idx)->section)) != 0) {
        ctx->status = cli_fail(ctx->err, "%s: '%s' belongs in section [%s], not [%s]", origin, name,
                               cli_section_name(cli_setting_def_at(idx)->section), section);
        return 0;
    }
    char buf[CLI_PATH_MAX * 2];
    const char *before = cli_settings_get(&ctx->a->settings, name);
    if (continued && before) {
        /* the value goes on: join the lines with a space */
        snprintf(buf, sizeof buf, "%s %s", before, value);
        value = buf;
    } else if (is_path_key(name) && value[0] && value[0] != '/' && ctx->dir[0]) {
        snprintf(buf, sizeof buf, "%s/%s", ctx->dir, value);
        value = buf;
    }
    ctx->status = cli_settings_set(&ctx->a->settings, name, value, origin, ctx->err);
    return ctx->status == DS_OK;
}

static ds_status read_experiment(cli_args *a, const char *path, ds_error *err)
{
    struct stat stt;
    if (stat(path, &stt) != 0)
        return cli_fail_status(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(stt.st_mode))
        return cli_fail_status(err, DS_ERR_IO, "%s: is a directory, not an experiment file", path);
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail_status(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    cli_buf text = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cli_buf_printf(&text, "%.*s", (int)n, chunk);
    fclose(f);
    free(a->experiment_text);
    a->experiment_text = text.s ? text.s : cli_strdup("");
    free(a->experiment_path);
    a->experiment_path = cli_strdup(path);
    ini_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.a = a;
    ctx.path = path;
    ctx.err = err;
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(ctx.dir, sizeof ctx.dir, "%.*s", (int)(slash - path), path);
    int rc = ini_parse_string(a->experiment_text, on_ini_line, &ctx);
    cli_buf_free(&ctx.vary_text);
    if (ctx.status) return ctx.status;
    if (rc > 0) return cli_fail(err, "%s:%d: malformed line (expected [section] or name = value)", path, rc);
    if (rc < 0) return cli_fail_status(err, DS_ERR_IO, "%s: cannot read", path);
    return DS_OK;
}

/* ---- the command line ---- */

static int needs_quotes(const char *s)
{
    if (!*s) return 1;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("-_./=:,+@%", *s))) return 1;
    return 0;
}

static char *join_command(int argc, char **argv)
{
    cli_buf b = {0};
    cli_buf_printf(&b, "descent");
    for (int i = 0; i < argc; i++) {
        if (!needs_quotes(argv[i])) {
            cli_buf_printf(&b, " %s", argv[i]);
            continue;
        }
        cli_buf_printf(&b, " '");
        for (const char *p = argv[i]; *p; p++) {
            if (*p == '\'') cli_buf_printf(&b, "'\\''");
            else cli_buf_printf(&b, "%c", *p);
        }
        cli_buf_printf(&b, "'");
    }
    return b.s;
}

static int in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

ds_status cli_args_parse(cli_args *a, int argc, char **argv, const char *const *extra,
                         int allow_vary, ds_error *err)
{
    memset(a, 0, sizeof *a);
    cli_settings_init(&a->settings);
    a->command = join_command(argc, argv);
    ds_status s;
    /* argv[0] is the command word; experiment files first, so options override them */
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (!strchr(argv[i], '=') && strcmp(argv[i], "--help") && strcmp(argv[i], "-h") &&
                !in_list(extra, argv[i] + 2) && i + 1 < argc)
                i++; /* skip the option's value */
            continue;
        }
        size_t n = strlen(argv[i]);
        if (n > 4 && strcmp(argv[i] + n - 4, ".ini") == 0) {
            if ((s = read_experiment(a, argv[i], err))) return s;
        } else if (a->n_positional < 4) {
            a->positional[a->n_positional++] = argv[i];
        } else {
            return cli_fail(err, "unexpected argument '%s'", argv[i]);
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') continue;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) return cli_fail(err, "unknown option '%s'", arg);
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (n >= sizeof name) return cli_fail(err, "unknown option '%.60s'", arg);
        memcpy(name, arg + 2, n);
        name[n] = '\0';
        if (in_list(extra, name)) {
            if (eq) return cli_fail(err, "option --%s takes no value", name);
            if (strcmp(name, "quiet") == 0) a->quiet = 1;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) return cli_fail(err, "option --%s needs a value", name);
            value = argv[++i];
        }
        char origin[96];
        snprintf(origin, sizeof origin, "option --%s", name);
        if (strcmp(name, "vary") == 0) {
            if (!allow_vary) return cli_fail(err, "option --vary belongs to 'descent sweep'");
            if ((s = cli_axis_add(a, value, origin, err))) return s;
            continue;
        }
        if (cli_setting_find(name) < 0)
            return cli_fail(err, "unknown option '--%s' (see --help)", name);
        if ((s = cli_settings_set(&a->settings, name, value, origin, err))) return s;
    }
    return DS_OK;
}

void cli_print_options(FILE *f, int sweep)
{
    for (int sec = 0; sec < CLI_SEC_COUNT; sec++) {
        if (sec == CLI_SEC_SWEEP && !sweep) continue;
        fprintf(f, "\n%s options:\n", cli_section_name((cli_section)sec));
        for (int i = 0; cli_setting_def_at(i); i++) {
            const cli_setting_def *d = cli_setting_def_at(i);
            if ((int)d->section != sec) continue;
            char opt[80];
            char dashed[64];
            snprintf(dashed, sizeof dashed, "%s", d->key);
            for (char *p = dashed; *p; p++)
                if (*p == '_') *p = '-';
            snprintf(opt, sizeof opt, "--%s %s", dashed, d->meta);
            fprintf(f, "  %-30s %s", opt, d->help);
            if (d->def[0]) fprintf(f, " [%s]", d->def);
            fputc('\n', f);
        }
    }
}
