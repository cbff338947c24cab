/*
 * table.c - reads a CSV file into a cli_table with libcsv (Debian's libcsv-dev, a
 * streaming parser that reports each field and each record end through callbacks).
 *
 * libcsv keeps no positions, so the reader tracks them around it: the input is handed to
 * csv_parse in runs that contain no CR or LF, and every CR or LF byte on its own. Line
 * numbers change only at those bytes, and a record can only end at one of them (or at
 * csv_fini), so the line on which a record starts is the line of the first run after the
 * previous record end that holds something other than spaces and tabs (libcsv skips
 * blank lines). The column of a field is its number within the record.
 *
 * All cell text lives in one buffer of NUL-terminated strings, addressed by offsets
 * (the buffer moves while it grows). Row 0 of the offset grid is the header.
 * Left out: other delimiters, comment lines, encodings other than ASCII/UTF-8.
 */
#include "table.h"
#include "util.h"

#include <csv.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct cli_table {
    char *path;
    int n_rows;      /* data rows, header excluded */
    int n_cols;
    char *text;      /* every cell, NUL-terminated, back to back */
    size_t *off;     /* (n_rows + 1, n_cols) offsets into text; row 0 is the header */
    int *line;       /* (n_rows + 1) start line of each record; [0] is the header's */
};

/* ---------------------------------------------------------------------------------- */
/* errors */

/* ---------------------------------------------------------------------------------- */
/* the reader: state shared with libcsv's callbacks */

typedef struct {
    const char *path;
    ds_error *err;
    ds_status status;  /* first failure; callbacks do nothing once it is set */

    char *text;
    size_t text_len, text_cap;
    size_t *off;       /* offsets of stored cells, record after record */
    size_t off_len, off_cap;
    int *line;         /* start line of each stored record */
    size_t n_records, line_cap;

    int n_cols;        /* -1 until the header has ended */
    int field;         /* fields seen so far in the current record */
    int cur_line;      /* physical line of the next byte, 1-based */
    int prev_cr;       /* the last byte was CR (a following LF ends no further line) */
    int in_record;     /* a record has started and not ended */
    int rec_line;      /* line on which the current record started */
} reader;

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return 0;
        n *= 2;
    }
    void *p = realloc(*buf, n * elem);
    if (!p) return 0;
    *buf = p;
    *cap = n;
    return 1;
}

static void set_nomem(reader *r)
{
    r->status = cli_fail_status(r->err, DS_ERR_NOMEM, "%s: out of memory while reading", r->path);
}

/* libcsv field callback: stores the field unless the record already has too many. */
static void on_field(void *s, size_t len, void *data)
{
    reader *r = data;
    if (r->status != DS_OK) return;
    r->field++;
    if (len && memchr(s, '\0', len)) {
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT,
                         "%s:%d:%d: NUL byte in field (is this a text file?)", r->path,
                         r->rec_line, r->field);
        return;
    }
    if (r->n_cols >= 0 && r->field > r->n_cols) return; /* counted, reported at record end */
    if (r->field == INT_MAX) {
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s:%d: too many fields", r->path,
                         r->rec_line);
        return;
    }
    if (!grow((void **)&r->text, &r->text_cap, r->text_len + len + 1, 1) ||
        !grow((void **)&r->off, &r->off_cap, r->off_len + 1, sizeof *r->off)) {
        set_nomem(r);
        return;
    }
    if (len) memcpy(r->text + r->text_len, s, len);
    r->text[r->text_len + len] = '\0';
    r->off[r->off_len++] = r->text_len;
    r->text_len += len + 1;
}

static void check_header(reader *r)
{
    const size_t *names = r->off; /* the header's fields are the first stored cells */
    for (int c = 0; c < r->n_cols; c++) {
        const char *name = r->text + names[c];
        if (!name[0]) {
            r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s:%d:%d: empty column name", r->path,
                             r->rec_line, c + 1);
            return;
        }
        for (int k = 0; k < c; k++) {
            if (strcmp(name, r->text + names[k]) == 0) {
                r->status = cli_fail_status(r->err, DS_ERR_FORMAT,
                                 "%s:%d:%d: duplicate column name '%.60s' (also column %d)",
                                 r->path, r->rec_line, c + 1, name, k + 1);
                return;
            }
        }
    }
}

/* libcsv record callback: the first record fixes the column count, later ones must
 * match it. */
static void on_record(int c, void *data)
{
    reader *r = data;
    (void)c;
    if (r->status != DS_OK) return;
    if (r->n_cols < 0) {
        r->n_cols = r->field;
    } else if (r->field != r->n_cols) {
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s:%d: expected %d fields, found %d",
                         r->path, r->rec_line, r->n_cols, r->field);
        return;
    }
    if (r->n_records >= (size_t)INT_MAX) {
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s:%d: too many rows", r->path,
                         r->rec_line);
        return;
    }
    if (!grow((void **)&r->line, &r->line_cap, r->n_records + 1, sizeof *r->line)) {
        set_nomem(r);
        return;
    }
    r->line[r->n_records++] = r->rec_line;
    if (r->n_records == 1) check_header(r);
    r->field = 0;
    r->in_record = 0;
}

/* Reports a libcsv failure of csv_parse or csv_fini. */
static void parse_failed(reader *r, struct csv_parser *p, int at_end)
{
    if (r->status != DS_OK) return;
    int e = csv_error(p);
    if (e == CSV_ENOMEM) {
        set_nomem(r);
    } else if (e == CSV_ETOOBIG) {
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s:%d:%d: field too large", r->path,
                         r->rec_line, r->field + 1);
    } else if (at_end) {
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT,
                         "%s:%d:%d: unterminated quoted field (no closing '\"' before the "
                         "end of the file)", r->path, r->rec_line, r->field + 1);
    } else {
        char near[32] = "";
        if (r->cur_line != r->rec_line) snprintf(near, sizeof near, " (at line %d)",
                                                 r->cur_line);
        r->status = cli_fail_status(r->err, DS_ERR_FORMAT,
                         "%s:%d:%d: malformed quoted field%s: a field with quotes must be "
                         "quoted entirely, and a quote inside quotes written as \"\"",
                         r->path, r->rec_line, r->field + 1, near);
    }
}

/* Feeds one block of input, split into runs without CR/LF and single CR/LF bytes. */
static void feed(reader *r, struct csv_parser *p, const unsigned char *buf, size_t n)
{
    size_t i = 0;
    while (i < n && r->status == DS_OK) {
        unsigned char ch = buf[i];
        if (ch == '\r' || ch == '\n') {
            if (csv_parse(p, buf + i, 1, on_field, on_record, r) != 1) {
                parse_failed(r, p, 0);
                return;
            }
            if (ch == '\r' || !r->prev_cr) {
                if (r->cur_line == INT_MAX) {
                    r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s: too many lines", r->path);
                    return;
                }
                r->cur_line++;
            }
            r->prev_cr = ch == '\r';
            i++;
            continue;
        }
        size_t j = i;
        int blank = 1;
        while (j < n && buf[j] != '\r' && buf[j] != '\n') {
            if (buf[j] != ' ' && buf[j] != '\t') blank = 0;
            j++;
        }
        if (!r->in_record && !blank) {
            r->in_record = 1;
            r->rec_line = r->cur_line;
        }
        r->prev_cr = 0;
        if (csv_parse(p, buf + i, j - i, on_field, on_record, r) != j - i) {
            parse_failed(r, p, 0);
            return;
        }
        i = j;
    }
}

/* Reads and parses the open file f into r. */
static void read_stream(reader *r, FILE *f, size_t max_bytes)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        set_nomem(r);
        return;
    }
    enum { BLOCK = 1 << 16 };
    unsigned char *buf = malloc(BLOCK);
    if (!buf) {
        set_nomem(r);
        csv_free(&p);
        return;
    }
    size_t total = 0;
    int first = 1;
    while (r->status == DS_OK) {
        size_t n = fread(buf, 1, BLOCK, f);
        if (n == 0) break;
        total += n;
        if (total > max_bytes) {
            r->status = cli_fail_status(r->err, DS_ERR_FORMAT, "%s: file too large (over %zu bytes)",
                             r->path, max_bytes);
            break;
        }
        size_t skip = 0;
        if (first && n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) skip = 3;
        first = 0;
        feed(r, &p, buf + skip, n - skip);
    }
    if (r->status == DS_OK && ferror(f)) {
        r->status = cli_fail_status(r->err, DS_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    }
    if (r->status == DS_OK && csv_fini(&p, on_field, on_record, r) != 0) {
        parse_failed(r, &p, 1);
    }
    free(buf);
    csv_free(&p);
}

/* ---------------------------------------------------------------------------------- */
/* public functions */

ds_status cli_table_read_limited(cli_table **out, const char *path, size_t max_bytes,
                                 ds_error *err)
{
    if (!out) return cli_fail_status(err, DS_ERR_ARG, "cli_table_read: out is NULL");
    *out = NULL;
    if (!path || !path[0]) return cli_fail_status(err, DS_ERR_ARG, "cli_table_read: no path given");
    if (max_bytes == 0) return cli_fail_status(err, DS_ERR_ARG, "cli_table_read: max_bytes is 0");

    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail_status(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            fclose(f);
            return cli_fail_status(err, DS_ERR_IO, "%s: is a directory, not a CSV file", path);
        }
        if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max_bytes) {
            fclose(f);
            return cli_fail_status(err, DS_ERR_FORMAT, "%s: file too large (%lld bytes, limit %zu)",
                        path, (long long)st.st_size, max_bytes);
        }
    }

    reader r = {0};
    r.path = path;
    r.err = err;
    r.status = DS_OK;
    r.n_cols = -1;
    r.cur_line = 1;
    read_stream(&r, f, max_bytes);
    fclose(f);

    if (r.status == DS_OK && r.n_records == 0) {
        r.status = cli_fail_status(err, DS_ERR_FORMAT, "%s: no header row (the file is empty or blank)", path);
    } else if (r.status == DS_OK && r.n_records == 1) {
        r.status = cli_fail_status(err, DS_ERR_FORMAT, "%s:%d: no data rows after the header", path,
                        r.line[0]);
    }
    cli_table *t = NULL;
    if (r.status == DS_OK) {
        t = calloc(1, sizeof *t);
        char *p = malloc(strlen(path) + 1);
        if (!t || !p) {
            free(t);
            free(p);
            t = NULL;
            r.status = cli_fail_status(err, DS_ERR_NOMEM, "%s: out of memory while reading", path);
        } else {
            strcpy(p, path);
            t->path = p;
            t->n_rows = (int)r.n_records - 1;
            t->n_cols = r.n_cols;
            t->text = r.text;
            t->off = r.off;
            t->line = r.line;
            r.text = NULL;
            r.off = NULL;
            r.line = NULL;
        }
    }
    free(r.text);
    free(r.off);
    free(r.line);
    *out = t;
    return r.status;
}

ds_status cli_table_read(cli_table **out, const char *path, ds_error *err)
{
    return cli_table_read_limited(out, path, CLI_TABLE_MAX_BYTES, err);
}

void cli_table_free(cli_table *t)
{
    if (!t) return;
    free(t->path);
    free(t->text);
    free(t->off);
    free(t->line);
    free(t);
}

const char *cli_table_path(const cli_table *t) { return t->path; }
int cli_table_rows(const cli_table *t) { return t->n_rows; }
int cli_table_cols(const cli_table *t) { return t->n_cols; }
int cli_table_header_line(const cli_table *t) { return t->line[0]; }

const char *cli_table_col_name(const cli_table *t, int col)
{
    if (col < 0 || col >= t->n_cols) return NULL;
    return t->text + t->off[col];
}

int cli_table_find(const cli_table *t, const char *name)
{
    if (!name) return -1;
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->text + t->off[c], name) == 0) return c;
    return -1;
}

const char *cli_table_cell(const cli_table *t, int row, int col)
{
    if (row < 0 || row >= t->n_rows || col < 0 || col >= t->n_cols) return NULL;
    return t->text + t->off[(size_t)(row + 1) * (size_t)t->n_cols + (size_t)col];
}

int cli_table_row_line(const cli_table *t, int row)
{
    if (row < 0 || row >= t->n_rows) return 0;
    return t->line[row + 1];
}

/* ---------------------------------------------------------------------------------- */
/* numbers */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Clinger's fast path (W. D. Clinger, "How to read floating point numbers accurately",
 * PLDI 1990): a number of at most 15 significant digits is an integer m < 2^53 times
 * 10^k; when |k| <= 22, both m and 10^|k| are exact doubles, so the one multiplication
 * or division rounds correctly, as strtod would. b..e is already checked to be a decimal
 * number; returns 0 (and leaves the work to strtod) for anything longer. */
static int parse_short(const char *b, const char *e, double *out)
{
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *q = b;
    int neg = 0;
    if (*q == '+' || *q == '-') neg = *q++ == '-';
    uint64_t m = 0;
    int nd = 0, k = 0, frac = 0;
    for (; q < e && (is_digit(*q) || (*q == '.' && !frac)); q++) {
        if (*q == '.') {
            frac = 1;
            continue;
        }
        if (nd || *q != '0') /* leading zeros are not significant */
            if (++nd > 15) return 0;
        m = m * 10 + (uint64_t)(*q - '0');
        k -= frac;
    }
    if (q < e) { /* the exponent */
        q++;
        int eneg = 0, x = 0;
        if (*q == '+' || *q == '-') eneg = *q++ == '-';
        for (; q < e; q++) {
            if (x > 100000) return 0;
            x = x * 10 + (*q - '0');
        }
        k += eneg ? -x : x;
    }
    if (k < -22 || k > 22) return 0;
    double v = (double)m;
    v = k < 0 ? v / p10[-k] : v * p10[k];
    *out = neg ? -v : v;
    return 1;
}

ds_status cli_parse_number(const char *s, double *out)
{
    if (!s) return DS_ERR_FORMAT;
    const char *b = s;
    while (*b == ' ' || *b == '\t') b++;
    const char *e = b + strlen(b);
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;

    /* [+-]? (D+ ('.' D*)? | '.' D+) ([eE] [+-]? D+)?  -- checked here so that strtod's
     * extras (nan, inf, hexadecimal) are never accepted */
    const char *q = b;
    if (q < e && (*q == '+' || *q == '-')) q++;
    int digits = 0;
    while (q < e && is_digit(*q)) q++, digits++;
    if (q < e && *q == '.') {
        q++;
        while (q < e && is_digit(*q)) q++, digits++;
    }
    if (!digits) return DS_ERR_FORMAT;
    if (q < e && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < e && (*q == '+' || *q == '-')) q++;
        if (q == e || !is_digit(*q)) return DS_ERR_FORMAT;
        while (q < e && is_digit(*q)) q++;
    }
    if (q != e) return DS_ERR_FORMAT;
    if (parse_short(b, e, out)) return DS_OK;

    char *end = NULL;
    errno = 0;
    double v = strtod(b, &end);
    if (end != e) {
        /* the numeric locale has another decimal point: convert a copy written its way */
        const char *dp = localeconv()->decimal_point;
        size_t n = (size_t)(e - b), k = strlen(dp), len = 0;
        char *copy = malloc(n * (k + 1) + 1);
        if (!copy) return DS_ERR_NOMEM;
        for (const char *c = b; c < e; c++) {
            if (*c == '.') {
                memcpy(copy + len, dp, k);
                len += k;
            } else {
                copy[len++] = *c;
            }
        }
        copy[len] = '\0';
        errno = 0;
        v = strtod(copy, &end);
        int whole = end == copy + len;
        free(copy);
        if (!whole) return DS_ERR_FORMAT;
    }
    if (errno == ERANGE && fabs(v) > 1.0) return DS_ERR_FORMAT; /* overflow, not underflow */
    if (!isfinite(v)) return DS_ERR_FORMAT;
    *out = v;
    return DS_OK;
}
