/*
 * table.h - a CSV file read into memory as a table of strings, for the descent command.
 *
 * The first record is the header (column names); every later record is a data row with
 * exactly as many fields. Parsing is done by libcsv in strict mode: quoted fields may
 * hold commas, doubled quotes and line breaks; LF, CRLF and CR line ends are accepted; a
 * UTF-8 byte-order mark at the start is skipped; the last row needs no line end; spaces
 * and tabs around unquoted fields (and outside quotes) are dropped; blank lines are
 * skipped. Cells stay strings here: turning them into numbers is prep.h's job.
 *
 * Positions in error messages: LINE is the 1-based physical line on which the record
 * starts (a quoted field with line breaks makes a record span several lines), COLUMN is
 * the 1-based field number within the record (not a character offset). Every error a
 * user can cause is one line, "PATH:LINE:COLUMN: what is wrong", "PATH:LINE: ..." or
 * "PATH: ...", with status DS_ERR_IO (cannot open or read) or DS_ERR_FORMAT (malformed
 * content, or over the size limit).
 */
#ifndef DS_CLI_TABLE_H
#define DS_CLI_TABLE_H

#include "descent.h"

#include <stddef.h>

/* Files larger than this are refused by cli_table_read: every byte is kept in memory,
 * plus an offset per cell. */
#define CLI_TABLE_MAX_BYTES ((size_t)512 << 20)

typedef struct cli_table cli_table;

/* Reads the CSV file at `path` into *out (owned by the caller, free with
 * cli_table_free). On failure *out is NULL and err (may be NULL) says why:
 *   DS_ERR_IO      cannot open (with the system's reason), a directory, a read error
 *   DS_ERR_FORMAT  no header row (empty file), an empty or duplicate column name, a row
 *                  with the wrong number of fields, no data rows, a malformed or
 *                  unterminated quoted field, a NUL byte, more than CLI_TABLE_MAX_BYTES
 *   DS_ERR_NOMEM   out of memory */
ds_status cli_table_read(cli_table **out, const char *path, ds_error *err);
/* The same with another size limit (bytes, > 0), e.g. for tests of the guard. */
ds_status cli_table_read_limited(cli_table **out, const char *path, size_t max_bytes,
                                 ds_error *err);
void cli_table_free(cli_table *t);

/* The path given to cli_table_read. Borrowed, valid until the table is freed. */
const char *cli_table_path(const cli_table *t);
/* Data rows (the header is not counted) and columns. */
int cli_table_rows(const cli_table *t);
int cli_table_cols(const cli_table *t);
/* Name of column `col` (0-based), NULL when out of range. Borrowed. */
const char *cli_table_col_name(const cli_table *t, int col);
/* Index of the column called `name` (exact, case-sensitive match), or -1. */
int cli_table_find(const cli_table *t, const char *name);
/* Text of data row `row`, column `col` (both 0-based), NUL-terminated, without the
 * quotes and surrounding spaces; NULL when out of range. Borrowed. */
const char *cli_table_cell(const cli_table *t, int row, int col);
/* The 1-based line of the file on which data row `row` starts; 0 when out of range. */
int cli_table_row_line(const cli_table *t, int row);
/* The 1-based line of the header. */
int cli_table_header_line(const cli_table *t);

/* Parses the whole of s as a decimal number: optional spaces and tabs around it, an
 * optional sign, digits with an optional '.', an optional exponent ("1", "-0.5", ".28",
 * "1e-3", "2.", "+7E+2"). Rejects an empty string, NaN, infinities, hexadecimal,
 * trailing characters and values beyond the range of double. Not affected by the locale
 * (the decimal separator is always '.').
 * Returns DS_OK and sets *out, or DS_ERR_FORMAT and leaves *out unchanged (DS_ERR_NOMEM
 * is possible only under a numeric locale whose decimal point is not ".").
 */
ds_status cli_parse_number(const char *s, double *out);

#endif /* DS_CLI_TABLE_H */
