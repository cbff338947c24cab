/*
 * report_int.h - private to the report's two files: report.c (the page, the training
 * curves, these shared helpers) and report_layers.c (diagnostics by layer, stall reasons,
 * recorded layer outputs). A text buffer with HTML/XML escaping, the configurations'
 * colors and dash patterns, axis ticks, and writing one output file.
 */
#ifndef CLI_REPORT_INT_H
#define CLI_REPORT_INT_H

#include <math.h>
#include <stddef.h>

#include "descent.h"
#include "results.h"

/* NAN and INFINITY are float constants; these spare a promotion warning per use. */
#define D_NAN ((double)NAN)
#define D_INF ((double)INFINITY)

#define PM "\xc2\xb1"          /* U+00B1 plus-minus sign */
#define NDASH "\xe2\x80\x93"   /* U+2013 en dash */
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

/* A growing text buffer; after a failed allocation it ignores writes and sets oom.
 * p is NULL until the first write; free(p) when done. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} cli_sbuf;

void cli_sb_add(cli_sbuf *b, const char *s, size_t n);
void cli_sb_puts(cli_sbuf *b, const char *s);
void cli_sb_printf(cli_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s escaped for HTML text and attributes and for XML, at most max_chars
 * characters (-1: all); a longer text ends in an ellipsis within that limit. CR LF and
 * lone CR become LF; invalid bytes and disallowed characters become U+FFFD. */
void cli_sb_esc_n(cli_sbuf *b, const char *s, int max_chars);
void cli_sb_esc(cli_sbuf *b, const char *s);
/* The number of characters cli_sb_esc would show for s (an invalid byte counts as one). */
int cli_text_chars(const char *s);

/* Configuration c's line color (Okabe-Ito, cycling) and its stroke-dasharray attribute
 * (with a leading space; nothing for solid lines, i.e. the first eight configurations). */
const char *cli_config_color(int c);
void cli_sb_dash(cli_sbuf *b, int c);
/* A small sample of configuration c's line (inline SVG), as in the charts' legends. */
void cli_sb_swatch(cli_sbuf *b, int c);

/* A "nice" step (1, 2 or 5 times a power of ten) near range / n. */
double cli_nice_step(double range, int n);
/* Formats a tick value so that ticks step apart stay distinct and short. */
void cli_fmt_tick(char *buf, size_t size, double v, double step);

/* Writes b's text to dir/name atomically. DS_ERR_NOMEM when b ran out of memory. */
ds_status cli_report_write(const char *dir, const char *name, const cli_sbuf *b,
                           ds_error *err);

/* report_layers.c. Whether the results hold diagnostics / recorded layer outputs (the
 * zero-initialized fields mean neither: record_layer 0 with rec NULL counts as none). */
int cli_report_has_diag(const cli_results *r);
int cli_report_has_rec(const cli_results *r);
/* Writes diag_<quantity>.svg (and diag_epochs.svg) into dir and appends the diagnostics
 * section to h; nothing without diagnostics. */
ds_status cli_report_diag(const cli_results *r, const char *dir, cli_sbuf *h, ds_error *err);
/* Appends the list of stall reasons per configuration to h; nothing without reasons. */
void cli_report_stalls(cli_sbuf *h, const cli_results *r);
/* Writes layer_<n>.svg (n = 1 + configuration index) into dir and appends the recorded
 * outputs section to h; nothing without recorded outputs. */
ds_status cli_report_layer_outputs(const cli_results *r, const char *dir, cli_sbuf *h,
                                   ds_error *err);
/* The epochs (0-based) to plot out of n: all when n <= 25, else 25 evenly spaced
 * including the first and the last. sel holds 25; returns the count. */
int cli_report_pick_epochs(int n, int *sel);

#endif
