/*
 * test_csv.c - the CSV reader of the descent command (cli/table.c): every quirk it
 * promises to handle, checked on small files written into a temporary directory, the
 * three bundled data sets, cli_parse_number, and each error message's path, line and
 * column. Run from the repository root (the bundled files are opened as data/...).
 */
#include "../cli/table.h"
#include "../cli/util.h"
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the temporary directory, made in main and removed at the end */
static char tmp_dir[64];

#define MAX_FILES 64
static char tmp_files[MAX_FILES][128];
static int n_tmp_files;

/* Writes len bytes into tmp_dir/name; returns the path (kept until cleanup). */
static const char *write_file(const char *name, const char *bytes, size_t len)
{
    if (n_tmp_files == MAX_FILES) return "/nonexistent/too-many-files";
    char *path = tmp_files[n_tmp_files++];
    snprintf(path, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    fwrite(bytes, 1, len, f);
    fclose(f);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static int contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

static int cell_is(const cli_table *t, int row, int col, const char *want)
{
    const char *c = cli_table_cell(t, row, col);
    return c && strcmp(c, want) == 0;
}

/* Reads `path`, expecting failure with `status`; checks that the message starts with
 * `prefix` (the path and position) and contains `words`. */
static void expect_error(const char *path, ds_status status, const char *prefix,
                         const char *words)
{
    ds_error err = {0};
    cli_table *sentinel = (cli_table *)(void *)&err;
    cli_table *t = sentinel; /* must be reset to NULL */
    ds_status s = cli_table_read(&t, path, &err);
    CHECK(s == status, "%s: status %d, expected %d (%s)", path, (int)s, (int)status,
          err.message);
    CHECK(err.status == status, "err.status %d", (int)err.status);
    CHECK(t == NULL, "table not NULL after failure");
    CHECK(strncmp(err.message, prefix, strlen(prefix)) == 0, "message '%s' does not start "
          "with '%s'", err.message, prefix);
    CHECK(contains(err.message, words), "message '%s' lacks '%s'", err.message, words);
    CHECK(!strchr(err.message, '\n'), "message spans lines: '%s'", err.message);
    /* the same failure without an error record */
    t = NULL;
    CHECK(cli_table_read(&t, path, NULL) == status, "status without err");
    CHECK(t == NULL, "table not NULL");
}

/* "PATH:rest" */
static const char *at(const char *path, const char *rest)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", path, rest);
    return buf[k];
}

/* ---------------------------------------------------------------------------------- */

static void test_basic_lf(void)
{
    const char *p = write_text("basic.csv", "a,b,c\n1,2,3\n4,5,6\n");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 2, "rows %d", cli_table_rows(t));
    CHECK(cli_table_cols(t) == 3, "cols %d", cli_table_cols(t));
    CHECK(strcmp(cli_table_col_name(t, 0), "a") == 0, "name 0");
    CHECK(strcmp(cli_table_col_name(t, 2), "c") == 0, "name 2");
    CHECK(cli_table_col_name(t, 3) == NULL, "name 3 out of range");
    CHECK(cli_table_col_name(t, -1) == NULL, "name -1 out of range");
    CHECK(cell_is(t, 0, 0, "1") && cell_is(t, 0, 2, "3"), "row 0");
    CHECK(cell_is(t, 1, 0, "4") && cell_is(t, 1, 2, "6"), "row 1");
    CHECK(cli_table_cell(t, 2, 0) == NULL && cli_table_cell(t, 0, 3) == NULL, "range");
    CHECK(cli_table_row_line(t, 0) == 2 && cli_table_row_line(t, 1) == 3, "lines");
    CHECK(cli_table_row_line(t, 2) == 0, "line out of range");
    CHECK(cli_table_header_line(t) == 1, "header line");
    CHECK(cli_table_find(t, "b") == 1 && cli_table_find(t, "B") == -1, "find");
    CHECK(cli_table_find(t, "zz") == -1 && cli_table_find(t, NULL) == -1, "find missing");
    CHECK(strcmp(cli_table_path(t), p) == 0, "path");
    cli_table_free(t);
    cli_table_free(NULL);
}

static void test_crlf(void)
{
    const char *p = write_text("crlf.csv", "x,y\r\n1,2\r\n\r\n3,4\r\n");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 2 && cli_table_cols(t) == 2, "shape");
    CHECK(strcmp(cli_table_col_name(t, 1), "y") == 0, "no CR in the last name");
    CHECK(cell_is(t, 0, 1, "2") && cell_is(t, 1, 1, "4"), "no CR in cells");
    CHECK(cli_table_row_line(t, 0) == 2, "line %d", cli_table_row_line(t, 0));
    CHECK(cli_table_row_line(t, 1) == 4, "line %d (blank line 3 skipped)",
          cli_table_row_line(t, 1));
    cli_table_free(t);
}

static void test_cr_only(void)
{
    const char *p = write_text("cr.csv", "x,y\r1,2\r3,4");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 2, "rows %d", cli_table_rows(t));
    CHECK(cli_table_row_line(t, 0) == 2 && cli_table_row_line(t, 1) == 3, "lines");
    CHECK(cell_is(t, 1, 1, "4"), "last cell");
    cli_table_free(t);
}

static void test_bom(void)
{
    const char *p = write_text("bom.csv", "\xEF\xBB\xBFx,y\n1,2\n");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(strcmp(cli_table_col_name(t, 0), "x") == 0, "BOM kept: '%s'",
          cli_table_col_name(t, 0));
    CHECK(cli_table_find(t, "x") == 0, "find x");
    cli_table_free(t);
}

static void test_no_final_newline(void)
{
    const char *p = write_text("nofinal.csv", "a,b\n1,2\n3,44");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 2, "rows %d", cli_table_rows(t));
    CHECK(cell_is(t, 1, 1, "44"), "last cell '%s'", cli_table_cell(t, 1, 1));
    CHECK(cli_table_row_line(t, 1) == 3, "line");
    cli_table_free(t);
}

static void test_quoted(void)
{
    const char *p = write_text("quoted.csv",
                               "name,note\n"
                               "\"Smith, J\",\"said \"\"hi\"\"\"\n"
                               "\"multi\nline\",x\n"
                               "last,\"\"\n"
                               "\"a\"\"\",\"two\r\nlines\"\n");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 4, "rows %d", cli_table_rows(t));
    CHECK(cell_is(t, 0, 0, "Smith, J"), "comma in quotes: '%s'", cli_table_cell(t, 0, 0));
    CHECK(cell_is(t, 0, 1, "said \"hi\""), "escaped quotes: '%s'", cli_table_cell(t, 0, 1));
    CHECK(cell_is(t, 1, 0, "multi\nline"), "newline in quotes");
    CHECK(cell_is(t, 2, 1, ""), "empty quoted field");
    CHECK(cell_is(t, 3, 0, "a\""), "quote at the end: '%s'", cli_table_cell(t, 3, 0));
    CHECK(cell_is(t, 3, 1, "two\r\nlines"), "CRLF inside quotes kept");
    CHECK(cli_table_row_line(t, 0) == 2, "line 0");
    CHECK(cli_table_row_line(t, 1) == 3, "line 1: %d", cli_table_row_line(t, 1));
    CHECK(cli_table_row_line(t, 2) == 5, "line 2 (after a 2-line record): %d",
          cli_table_row_line(t, 2));
    CHECK(cli_table_row_line(t, 3) == 6, "line 3: %d", cli_table_row_line(t, 3));
    cli_table_free(t);
}

static void test_spaces_and_blank_lines(void)
{
    const char *p = write_text("spaces.csv",
                               " a ,\tb\t\n"
                               "\n"
                               " 1 , \" 2 \" \n"
                               "   \n"
                               "3,4\n"
                               "\n\n");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 2, "rows %d", cli_table_rows(t));
    CHECK(strcmp(cli_table_col_name(t, 0), "a") == 0, "name trimmed");
    CHECK(strcmp(cli_table_col_name(t, 1), "b") == 0, "tab trimmed");
    CHECK(cell_is(t, 0, 0, "1"), "unquoted trimmed");
    CHECK(cell_is(t, 0, 1, " 2 "), "spaces inside quotes kept: '%s'",
          cli_table_cell(t, 0, 1));
    CHECK(cli_table_row_line(t, 0) == 3 && cli_table_row_line(t, 1) == 5, "lines %d %d",
          cli_table_row_line(t, 0), cli_table_row_line(t, 1));
    cli_table_free(t);
}

static void test_blocks(void)
{
    /* more than one 64 KiB read block, with a quoted field across the boundary */
    size_t cap = 200000, len = 0;
    char *buf = malloc(cap);
    if (!buf) return;
    len += (size_t)snprintf(buf + len, cap - len, "i,s\n");
    int rows = 0;
    while (len < 65536 - 8) len += (size_t)snprintf(buf + len, cap - len, "%d,x\n", rows++);
    len += (size_t)snprintf(buf + len, cap - len, "%d,\"across the\nblock\"\n", rows++);
    while (len < 150000) len += (size_t)snprintf(buf + len, cap - len, "%d,y\r\n", rows++);
    const char *p = write_file("blocks.csv", buf, len);
    free(buf);
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, p, &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == rows, "rows %d, expected %d", cli_table_rows(t), rows);
    int lines_ok = 1, cells_ok = 1, seen = 0;
    for (int r = 0; r < rows; r++) {
        char want[16];
        snprintf(want, sizeof want, "%d", r);
        if (!cell_is(t, r, 0, want)) cells_ok = 0;
        /* one record spans two lines, so rows after it start one line later */
        int expect = r + 2 + seen;
        if (cli_table_row_line(t, r) != expect) lines_ok = 0;
        if (strchr(cli_table_cell(t, r, 1), '\n')) seen = 1;
    }
    CHECK(cells_ok, "cell text");
    CHECK(lines_ok, "line numbers");
    CHECK(seen, "the quoted field with a line break");
    cli_table_free(t);
}

/* ---------------------------------------------------------------------------------- */

static void test_numbers(void)
{
    struct { const char *s; double v; } good[] = {
        {"1", 1.0},       {"-0.5", -0.5}, {".28", 0.28}, {"1e-3", 1e-3}, {" 7 ", 7.0},
        {"\t-2.5\t", -2.5}, {"+2.", 2.0},   {"1E+2", 100.0}, {"-.5e1", -5.0},
        {"0", 0.0},       {"007", 7.0},   {"1e-400", 0.0}, {"3.6216", 3.6216},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -123.0;
        ds_status s = cli_parse_number(good[i].s, &v);
        CHECK(s == DS_OK, "'%s' rejected", good[i].s);
        CHECK(v == good[i].v, "'%s' -> %.17g, expected %.17g", good[i].s, v, good[i].v);
    }
    const char *bad[] = {"",    " ",    "abc", "nan", "NaN",  "inf", "-inf", "infinity",
                         "1.5x", "0x10", "1e",  "e5",  ".",    "-",   "1,5",  "--1",
                         "1e400", "-1e400", "1 2", "1e+", "+",  "1.2.3", "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = -123.0;
        CHECK(cli_parse_number(bad[i], &v) == DS_ERR_FORMAT, "'%s' accepted", bad[i]);
        CHECK(v == -123.0, "'%s' changed the output", bad[i]);
    }
    double v = 0.0;
    CHECK(cli_parse_number(NULL, &v) == DS_ERR_FORMAT, "NULL accepted");
}

/* ---------------------------------------------------------------------------------- */

static void test_error_open(void)
{
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-file.csv", tmp_dir);
    expect_error(missing, DS_ERR_IO, at(missing, ": cannot open"), "No such file");
    expect_error(tmp_dir, DS_ERR_IO, at(tmp_dir, ": "), "is a directory");
}

static void test_error_empty(void)
{
    const char *p = write_text("empty.csv", "");
    expect_error(p, DS_ERR_FORMAT, at(p, ": "), "no header row");
    p = write_text("blank.csv", "\n  \r\n\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ": "), "no header row");
    p = write_text("bomonly.csv", "\xEF\xBB\xBF");
    expect_error(p, DS_ERR_FORMAT, at(p, ": "), "no header row");
    p = write_text("headeronly.csv", "a,b,c\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":1: "), "no data rows");
    p = write_text("headeronly2.csv", "\na,b,c\n\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":2: "), "no data rows");
}

static void test_error_header(void)
{
    const char *p = write_text("emptyname.csv", "a,,c\n1,2,3\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":1:2: "), "empty column name");
    p = write_text("emptyname2.csv", "a,b,\n1,2,3\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":1:3: "), "empty column name");
    p = write_text("dup.csv", "a,b,a\n1,2,3\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":1:3: "), "duplicate column name 'a' (also column 1)");
}

static void test_error_fields(void)
{
    const char *p = write_text("short.csv", "a,b\n1,2\n3\n5,6\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":3: "), "expected 2 fields, found 1");
    p = write_text("long.csv", "a,b\n1,2\n\n3,4,5\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":4: "), "expected 2 fields, found 3");
    p = write_text("longlast.csv", "a,b\n1,2\n3,4,");
    expect_error(p, DS_ERR_FORMAT, at(p, ":3: "), "expected 2 fields, found 3");
    p = write_text("multiline.csv", "a,b\n\"x\ny\",2\n\"p\nq\"\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":4: "), "expected 2 fields, found 1");
}

static void test_error_quotes(void)
{
    const char *p = write_text("unterminated.csv", "a,b\n1,2\n3,\"oops\n4,5\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":3:2: "), "unterminated quoted field");
    p = write_text("unterminated2.csv", "a,b\n\"1,2");
    expect_error(p, DS_ERR_FORMAT, at(p, ":2:1: "), "unterminated quoted field");
    p = write_text("junkafter.csv", "a,b\n1,\"x\"y\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":2:2: "), "malformed quoted field");
    p = write_text("straychar.csv", "a,b,c\n1,2,3\n1,x\"y,3\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":3:2: "), "malformed quoted field");
    p = write_text("junklater.csv", "a,b\n\"x\ny\"z,2\n");
    expect_error(p, DS_ERR_FORMAT, at(p, ":2:1: "), "(at line 3)");
}

static void test_error_binary(void)
{
    const char bytes[] = "a,b\n1,2\n3,x\0y\n";
    const char *p = write_file("nul.csv", bytes, sizeof bytes - 1);
    expect_error(p, DS_ERR_FORMAT, at(p, ":3:2: "), "NUL byte");
}

static void test_error_too_large(void)
{
    const char *p = write_text("big.csv", "a,b\n1,2\n3,4\n5,6\n");
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read_limited(&t, p, 10, &err) == DS_ERR_FORMAT, "status");
    CHECK(t == NULL, "table");
    CHECK(strncmp(err.message, at(p, ": "), strlen(p) + 2) == 0 &&
          contains(err.message, "too large"), "message '%s'", err.message);
    CHECK(cli_table_read_limited(&t, p, 100, &err) == DS_OK, "under the limit");
    cli_table_free(t);
    /* a device has no size up front: the guard counts bytes while reading */
    t = NULL;
    CHECK(cli_table_read_limited(&t, "/dev/zero", 100000, &err) == DS_ERR_FORMAT, "status");
    CHECK(t == NULL && contains(err.message, "/dev/zero: file too large"), "message '%s'",
          err.message);
}

/* ---------------------------------------------------------------------------------- */

static void test_banknotes(void)
{
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, "data/banknotes.csv", &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 1372, "rows %d", cli_table_rows(t));
    CHECK(cli_table_cols(t) == 5, "cols %d", cli_table_cols(t));
    CHECK(strcmp(cli_table_col_name(t, 0), "variace") == 0, "the misspelt header");
    CHECK(cli_table_find(t, "class") == 4, "class column");
    CHECK(cell_is(t, 0, 0, "3.6216"), "first cell");
    CHECK(cell_is(t, 1371, 4, "1"), "last cell (no final newline): '%s'",
          cli_table_cell(t, 1371, 4));
    CHECK(cell_is(t, 1371, 0, "-2.5419"), "last row");
    CHECK(cli_table_row_line(t, 1371) == 1373, "last line %d", cli_table_row_line(t, 1371));
    int bad = 0;
    for (int r = 0; r < 1372; r++)
        for (int c = 0; c < 5; c++) {
            double v;
            if (cli_parse_number(cli_table_cell(t, r, c), &v) != DS_OK) bad++;
        }
    CHECK(bad == 0, "%d cells are not numbers", bad);
    cli_table_free(t);
}

static void test_wines(void)
{
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, "data/wines.csv", &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 178, "rows %d", cli_table_rows(t));
    CHECK(cli_table_cols(t) == 14, "cols %d", cli_table_cols(t));
    CHECK(strcmp(cli_table_col_name(t, 0), "Class") == 0, "target first");
    CHECK(cell_is(t, 0, 8, ".28"), "'.28' kept as text: '%s'", cli_table_cell(t, 0, 8));
    double v = 0.0;
    CHECK(cli_parse_number(cli_table_cell(t, 0, 8), &v) == DS_OK && v == 0.28, ".28");
    CHECK(cell_is(t, 177, 13, "560"), "last cell '%s'", cli_table_cell(t, 177, 13));
    cli_table_free(t);
}

static void test_iris(void)
{
    cli_table *t = NULL;
    ds_error err = {0};
    CHECK(cli_table_read(&t, "data/iris.csv", &err) == DS_OK, "%s", err.message);
    if (!t) return;
    CHECK(cli_table_rows(t) == 150 && cli_table_cols(t) == 5, "shape %d x %d",
          cli_table_rows(t), cli_table_cols(t));
    CHECK(strcmp(cli_table_col_name(t, 4), "species") == 0, "target name");
    CHECK(cell_is(t, 0, 4, "setosa") && cell_is(t, 149, 4, "virginica"), "labels");
    cli_table_free(t);
}

/* ---------------------------------------------------------------------------------- */

/* random decimal numbers of every length and exponent read exactly as strtod reads them
 * (cli_parse_number converts short ones itself, longer ones through strtod) */
static void test_numbers_as_strtod(void)
{
    uint64_t x = 88172645463325252ull;
    int bad = 0, n = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char buf[64];
        int len = 0;
        int nd = 1 + (int)(x % 19), point = (int)((x >> 8) % (uint64_t)(nd + 1));
        uint64_t y = x * 0x9e3779b97f4a7c15ull;
        if ((x >> 20) & 1) buf[len++] = '-';
        for (int d = 0; d < nd; d++) {
            if (d == point && d > 0) buf[len++] = '.';
            buf[len++] = (char)('0' + (int)(y % 10));
            y = y / 10 ? y / 10 : y * 0x2545f4914f6cdd1dull;
        }
        if ((x >> 24) % 3 == 0)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "e%d", (int)((x >> 30) % 61) - 30);
        buf[len] = '\0';
        double got, want = strtod(buf, NULL);
        n++;
        if (cli_parse_number(buf, &got) != DS_OK || memcmp(&got, &want, sizeof got) != 0) {
            if (bad++ < 5) CHECK(0, "'%s' read as %.17g, strtod gives %.17g", buf, got, want);
        }
    }
    CHECK(bad == 0, "%d of %d numbers read differently from strtod", bad, n);
    double v;
    CHECK(cli_parse_number("-0.0", &v) == DS_OK && v == 0.0 && signbit(v), "-0.0 lost its sign");
    CHECK(cli_parse_number("9007199254740993", &v) == DS_OK && v == 9007199254740992.0,
          "2^53 + 1 = %.17g", v);
    CHECK(cli_parse_number("0.1", &v) == DS_OK && v == 0.1, "0.1 = %.17g", v);
    CHECK(cli_parse_number("123456789012345e-22", &v) == DS_OK && v == 123456789012345e-22,
          "123456789012345e-22 = %.17g", v);
}

/* cli_fmt_g9 writes what snprintf's "%.9g" writes: random bit patterns (every exponent,
 * subnormals, NaN, infinities), fractions, float values, and decimal numbers with a 5 in
 * the tenth significant digit (near ties, where only the exact binary value decides) */
static void test_format_g9(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int bad = 0, n = 0;
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 1e-5, 1e-4, 0.0001234567895,
                                     999999999.5, 999999999.4, 1e9, 123456789.0, 1e300,
                                     5e-324, 2.2250738585072014e-308, 1.7976931348623157e308};
    for (int i = 0; i < 1000000 + (int)(sizeof special / sizeof *special); i++) {
        double v;
        if (i < (int)(sizeof special / sizeof *special)) {
            v = special[i];
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            switch (i % 4) {
            case 0: memcpy(&v, &x, sizeof v); break;
            case 1: v = (double)(x >> 11) / 9007199254740992.0; break;
            case 2: v = (double)(float)((double)(x >> 11) / 9007199254740992.0 * 100.0); break;
            default:
                v = ((double)(x % 1000000000u) + 0.5) * pow(10.0, (double)((int)((x >> 40) % 40) - 29));
            }
        }
        char want[64], got[CLI_G9_SIZE];
        snprintf(want, sizeof want, "%.9g", v);
        int len = cli_fmt_g9(got, v);
        n++;
        if (strcmp(want, got) != 0 || len != (int)strlen(want))
            if (bad++ < 5) CHECK(0, "%.17g: '%s', snprintf gives '%s'", v, got, want);
    }
    CHECK(bad == 0, "%d of %d numbers formatted differently from snprintf", bad, n);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/descent_test_csv_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_basic_lf);
    RUN(test_crlf);
    RUN(test_cr_only);
    RUN(test_bom);
    RUN(test_no_final_newline);
    RUN(test_quoted);
    RUN(test_spaces_and_blank_lines);
    RUN(test_blocks);
    RUN(test_numbers);
    RUN(test_numbers_as_strtod);
    RUN(test_format_g9);
    RUN(test_error_open);
    RUN(test_error_empty);
    RUN(test_error_header);
    RUN(test_error_fields);
    RUN(test_error_quotes);
    RUN(test_error_binary);
    RUN(test_error_too_large);
    RUN(test_banknotes);
    RUN(test_wines);
    RUN(test_iris);
    for (int i = 0; i < n_tmp_files; i++) remove(tmp_files[i]);
    rmdir(tmp_dir);
    return HARNESS_DONE();
}
