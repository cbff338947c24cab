/*
 * report.c - see report.h. Everything is built as text in memory (the charts are needed
 * twice: as files and inlined into report.html) and written with cli_write_file.
 *
 * Charts: 720 x 420 SVG, Okabe-Ito colors (Okabe and Ito, "Color Universal Design",
 * 2008; distinguishable with the common color-vision deficiencies), cycling through dash
 * patterns after the eighth configuration. Per epoch the mean and std are over the runs
 * that have a finite value there, so after a run stops early they describe the runs
 * still training. Leaves out interactivity beyond hiding the individual runs.
 */
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "report_int.h"
#include "utf8.h"

/* ------------------------------------------------------------------------------------ */
/* The text buffer */

void cli_sb_add(cli_sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void cli_sb_puts(cli_sbuf *b, const char *s)
{
    cli_sb_add(b, s, strlen(s));
}

void cli_sb_printf(cli_sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        cli_sb_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cli_sb_add(b, big, (size_t)n);
    free(big);
}

/* ------------------------------------------------------------------------------------ */
/* Escaping for HTML and XML */

/* Characters that XML 1.0 and the HTML parser both accept without complaint: no control
 * characters but tab and line feed, no noncharacters. */
static int char_ok(unsigned long cp)
{
    if (cp == '\t' || cp == '\n') return 1;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return 0;
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) return 0;
    return 1;
}

/* Appends s escaped for HTML text and attributes and for XML, at most max_chars
 * characters (-1: all); a longer text ends in an ellipsis within that limit. CR LF and
 * lone CR become LF; invalid bytes and disallowed characters become U+FFFD. */
void cli_sb_esc_n(cli_sbuf *b, const char *s, int max_chars)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    int chars = 0;
    for (size_t i = 0; i < n;) {
        if (max_chars >= 0 && chars == max_chars - 1) {
            /* one place left: the ellipsis, unless exactly one character remains */
            unsigned long cp0;
            int l0 = cli_utf8_decode(p + i, n - i, &cp0);
            if (i + (size_t)(l0 ? l0 : 1) < n) {
                cli_sb_puts(b, ELLIPSIS);
                return;
            }
        }
        unsigned long cp;
        int len = cli_utf8_decode(p + i, n - i, &cp);
        chars++;
        if (len == 0) {
            cli_sb_puts(b, CLI_UTF8_REPLACEMENT);
            i++;
            continue;
        }
        switch (cp) {
        case '&': cli_sb_puts(b, "&amp;"); break;
        case '<': cli_sb_puts(b, "&lt;"); break;
        case '>': cli_sb_puts(b, "&gt;"); break;
        case '"': cli_sb_puts(b, "&quot;"); break;
        case '\'': cli_sb_puts(b, "&#39;"); break;
        case '\r':
            if (i + 1 >= n || p[i + 1] != '\n') cli_sb_puts(b, "\n");
            break;
        default:
            if (char_ok(cp))
                cli_sb_add(b, (const char *)p + i, (size_t)len);
            else
                cli_sb_puts(b, CLI_UTF8_REPLACEMENT);
        }
        i += (size_t)len;
    }
}

void cli_sb_esc(cli_sbuf *b, const char *s)
{
    cli_sb_esc_n(b, s, -1);
}

/* The number of characters sb_esc would show for s (an invalid byte counts as one). */
int cli_text_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    int chars = 0;
    for (size_t i = 0; i < n; chars++) {
        unsigned long cp;
        int len = cli_utf8_decode(p + i, n - i, &cp);
        i += (size_t)(len ? len : 1);
    }
    return chars;
}

/* ------------------------------------------------------------------------------------ */
/* Metric names, sorting, styles */

static int is_accuracy_like(const char *name)
{
    return strstr(name, "acc") != NULL;
}

/* Finds a summary column: "test_<m>" (a test metric) or a history metric's name. */
static int find_column(const cli_results *r, const char *name, int *is_test, int *k)
{
    if (strncmp(name, "test_", 5) == 0) {
        for (int i = 0; i < r->n_test; i++) {
            if (strcmp(name + 5, r->test_metrics[i]) == 0) {
                *is_test = 1, *k = i;
                return 1;
            }
        }
    }
    for (int i = 0; i < r->n_metrics; i++) {
        if (strcmp(name, r->metrics[i]) == 0) {
            *is_test = 0, *k = i;
            return 1;
        }
    }
    return 0;
}

ds_status cli_report_check_sort(const cli_results *r, const char *sort_metric, ds_error *err)
{
    if (!r) return cli_fail_status(err, DS_ERR_ARG, "report: no results");
    if (!sort_metric) return DS_OK;
    int is_test, k;
    if (find_column(r, sort_metric, &is_test, &k)) return DS_OK;
    char names[DS_ERROR_MESSAGE_SIZE] = "";
    size_t used = 0;
    for (int i = 0; i < r->n_test + r->n_metrics && used < sizeof names; i++) {
        int t = i < r->n_test;
        int w = snprintf(names + used, sizeof names - used, "%s%s%s", i ? ", " : "",
                         t ? "test_" : "", t ? r->test_metrics[i] : r->metrics[i - r->n_test]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return cli_fail_status(err, DS_ERR_ARG, "sort metric '%s' is not in the summary; choose one of: %s",
                sort_metric, names[0] ? names : "(no metrics)");
}

/* The Okabe-Ito palette, yellow last as it is the faintest on white. */
static const char *const palette[8] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                       "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
static const char *const dashes[4] = {"", "7 4", "2 3", "9 3 2 3"};

const char *cli_config_color(int c)
{
    return palette[c % 8];
}

/* A stroke-dasharray attribute (with a leading space) or "" for solid lines. */
void cli_sb_dash(cli_sbuf *b, int c)
{
    const char *d = dashes[(c / 8) % 4];
    if (d[0]) cli_sb_printf(b, " stroke-dasharray=\"%s\"", d);
}

/* ------------------------------------------------------------------------------------ */
/* Chart geometry */

/* A "nice" step (1, 2 or 5 times a power of ten) near range / n. */
double cli_nice_step(double range, int n)
{
    double rough = range / n;
    double mag = pow(10.0, floor(log10(rough)));
    double norm = rough / mag;
    return (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
}

/* Formats a tick value so that ticks step apart stay distinct and short. */
void cli_fmt_tick(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-9) v = 0.0; /* no "-0" */
    double mag = fmax(fabs(v), step);
    if (mag >= 1e6 || step < 1e-5) {
        snprintf(buf, size, "%.3g", v);
    } else {
        int decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%.*f", decimals, v);
    }
}

typedef struct {
    double x0, x1, y0, y1;           /* data ranges shown */
    double left, right, top, bottom; /* plot area in pixels */
} frame;

static double px(const frame *f, double epoch)
{
    return f->left + (epoch - f->x0) / (f->x1 - f->x0) * (f->right - f->left);
}

static double py(const frame *f, double v)
{
    return f->bottom - (v - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top);
}

enum { CHART_W = 720, CHART_H = 420 };

/* Per configuration and epoch of one metric, over the repeats with a finite value:
 * mean (C, E), sd (C, E; 0 for one value), cnt (C, E). */
typedef struct {
    double *mean, *sd;
    int *cnt;
} epoch_stats;

static int epoch_stats_compute(const cli_results *r, int k, epoch_stats *es)
{
    int C = r->n_configs, R = r->n_repeats, E = r->n_epochs, K = r->n_metrics;
    size_t n = (size_t)C * (size_t)(E > 0 ? E : 1);
    es->mean = malloc(n * sizeof *es->mean);
    es->sd = malloc(n * sizeof *es->sd);
    es->cnt = malloc(n * sizeof *es->cnt);
    if (!es->mean || !es->sd || !es->cnt) return 0;
    for (int c = 0; c < C; c++) {
        for (int e = 0; e < E; e++) {
            double sum = 0.0, ss = 0.0;
            int m = 0;
            for (int rep = 0; rep < R; rep++) {
                double v = r->curves[((size_t)(c * R + rep) * K + k) * E + e];
                if (isfinite(v)) sum += v, m++;
            }
            double mean = m ? sum / m : D_NAN;
            for (int rep = 0; rep < R; rep++) {
                double v = r->curves[((size_t)(c * R + rep) * K + k) * E + e];
                if (isfinite(v)) ss += (v - mean) * (v - mean);
            }
            es->mean[c * E + e] = mean;
            es->sd[c * E + e] = m > 1 ? sqrt(ss / (m - 1)) : 0.0;
            es->cnt[c * E + e] = m;
        }
    }
    return 1;
}

static void epoch_stats_free(epoch_stats *es)
{
    free(es->mean);
    free(es->sd);
    free(es->cnt);
}

/* The band's edges at one point: mean -+ sd, clipped to [0, 1] when clip01. */
static void band_at(const epoch_stats *es, int i, int clip01, double *lo, double *hi)
{
    *lo = es->mean[i] - es->sd[i];
    *hi = es->mean[i] + es->sd[i];
    if (clip01) {
        *lo = fmax(*lo, 0.0);
        *hi = fmin(*hi, 1.0);
    }
}

/* v with one decimal, as "%.1f" prints it except on exact ties (v * 10 is rounded to the
 * nearest integer here); an SVG path's coordinates are the many numbers of a report */
static void sb_num1(cli_sbuf *b, double v)
{
    if (!(fabs(v) < 1e15)) {
        cli_sb_printf(b, "%.1f", v);
        return;
    }
    long long t = llround(v * 10.0);
    char buf[32];
    int n = sizeof buf;
    buf[--n] = (char)('0' + (int)(t < 0 ? -(t % 10) : t % 10));
    buf[--n] = '.';
    long long ip = t < 0 ? -(t / 10) : t / 10;
    do {
        buf[--n] = (char)('0' + (int)(ip % 10));
        ip /= 10;
    } while (ip);
    if (t < 0) buf[--n] = '-';
    cli_sb_add(b, buf + n, sizeof buf - (size_t)n);
}

/* Appends path data through the finite points of y (n, epoch e at index e), one subpath
 * per run of consecutive finite points; isolated points are left out. */
static void sb_polyline(cli_sbuf *b, const frame *f, const double *y, int n, size_t stride)
{
    for (int e = 0; e < n; e++) {
        if (!isfinite(y[e * stride])) continue;
        int next_ok = e + 1 < n && isfinite(y[(e + 1) * stride]);
        int prev_ok = e > 0 && isfinite(y[(e - 1) * stride]);
        if (!prev_ok && !next_ok) continue;
        cli_sb_puts(b, prev_ok ? " L" : " M");
        sb_num1(b, px(f, e + 1));
        cli_sb_puts(b, " ");
        sb_num1(b, py(f, y[e * stride]));
    }
}

/* With a single epoch every configuration is one dot with an error bar: spread them
 * sideways (in epochs) so that they do not hide each other. */
static double dodge(int c, int n_configs, int last)
{
    return last == 1 && n_configs > 1 ? (c - 0.5 * (n_configs - 1)) * 0.8 / n_configs : 0.0;
}

/* Draws the chart of history metric k into b as a standalone SVG document. */
static void svg_chart(cli_sbuf *b, const cli_results *r, int k, const epoch_stats *es)
{
    int C = r->n_configs, R = r->n_repeats, E = r->n_epochs, K = r->n_metrics;
    const char *name = r->metrics[k];

    /* epochs that have data, the value range, and whether the metric looks like a
     * fraction in [0, 1] */
    int last = 0; /* 1-based last epoch with a finite value */
    double lo = D_INF, hi = -D_INF;
    for (size_t i = 0; i < (size_t)C * R; i++) {
        for (int e = 0; e < E; e++) {
            double v = r->curves[(i * K + k) * E + e];
            if (!isfinite(v)) continue;
            if (e + 1 > last) last = e + 1;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    int clip01 = is_accuracy_like(name) && lo >= 0.0 && hi <= 1.0;
    for (int i = 0; i < C * E && last > 0; i++) {
        if (es->cnt[i] == 0) continue;
        double blo, bhi;
        band_at(es, i, clip01, &blo, &bhi);
        lo = fmin(lo, blo);
        hi = fmax(hi, bhi);
    }

    /* layout: the legend takes the right-hand side, as wide as the longest label */
    int longest = 4;
    for (int c = 0; c < C; c++) {
        int n = cli_text_chars(r->labels[c]);
        if (n > longest) longest = n;
    }
    if (longest > 26) longest = 26;
    double legend_w = 46.0 + 7.4 * longest;
    frame f;
    f.left = 70.0, f.top = 52.0, f.bottom = CHART_H - 54.0;
    f.right = CHART_W - legend_w - 14.0;

    /* ranges: avoid a zero range, then widen to whole tick steps */
    if (last == 0) lo = 0.0, hi = 1.0;
    if (hi - lo <= 1e-12 * fmax(1.0, fabs(hi))) {
        double pad = hi != 0.0 ? 0.05 * fabs(hi) : 0.5;
        lo -= pad, hi += pad;
        if (clip01) lo = fmax(lo, 0.0), hi = fmin(hi, 1.0);
    }
    double ystep = cli_nice_step(hi - lo, 5);
    f.y0 = floor(lo / ystep + 1e-9) * ystep;
    f.y1 = ceil(hi / ystep - 1e-9) * ystep;
    if (f.y1 <= f.y0) f.y1 = f.y0 + ystep;
    if (last <= 1) {
        f.x0 = 0.0, f.x1 = 2.0;
    } else {
        f.x0 = 1.0, f.x1 = last;
    }
    double xstep = last > 1 ? cli_nice_step(last - 1.0, 8) : 1.0;
    if (xstep < 1.0) xstep = 1.0;

    cli_sb_printf(b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" "
              "font-size=\"12\" role=\"img\" aria-label=\"",
              CHART_W, CHART_H, CHART_W, CHART_H);
    cli_sb_esc(b, name);
    cli_sb_puts(b, " by epoch\">\n");
    cli_sb_puts(b, "<title>");
    cli_sb_esc(b, name);
    cli_sb_puts(b, "</title>\n");
    cli_sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", CHART_W, CHART_H);
    cli_sb_printf(b, "<text x=\"%.1f\" y=\"22\" font-size=\"16\" font-weight=\"bold\">", f.left);
    cli_sb_esc(b, name);
    cli_sb_puts(b, "</text>\n");
    cli_sb_printf(b,
              "<text x=\"%.1f\" y=\"40\" font-size=\"11\" fill=\"#555555\">line: mean of %d "
              "repeat%s; band: mean " PM " std; thin lines: single runs</text>\n",
              f.left, R, R == 1 ? "" : "s");

    /* grid, ticks and tick labels */
    char tick[64];
    cli_sb_puts(b, "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    int ny = (int)floor((f.y1 - f.y0) / ystep + 0.5);
    for (int i = 0; i <= ny; i++) {
        double y = py(&f, f.y0 + i * ystep);
        cli_sb_printf(b, "<path d=\"M%.1f %.1fH%.1f\"/>\n", f.left, y, f.right);
    }
    cli_sb_puts(b, "</g>\n<g fill=\"#333333\" text-anchor=\"end\">\n");
    for (int i = 0; i <= ny; i++) {
        double v = f.y0 + i * ystep;
        cli_fmt_tick(tick, sizeof tick, v, ystep);
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", f.left - 6.0, py(&f, v) + 4.0,
                  tick);
    }
    cli_sb_puts(b, "</g>\n<g fill=\"#333333\" text-anchor=\"middle\">\n");
    for (double e = 1.0; e <= last + 1e-9;) {
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%.0f</text>\n", px(&f, e),
                      f.bottom + 17.0, e);
        cli_sb_printf(b, "<path d=\"M%.1f %.1fv5\" stroke=\"#333333\"/>\n", px(&f, e), f.bottom);
        e = e == 1.0 && xstep > 1.0 ? xstep : e + xstep;
    }
    cli_sb_puts(b, "</g>\n");
    cli_sb_printf(b,
              "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#333333\"/>\n"
              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333333\">epoch</text>\n"
              "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" "
              "fill=\"#333333\">",
              f.left, f.top, f.bottom, f.right, 0.5 * (f.left + f.right), CHART_H - 14,
              0.5 * (f.top + f.bottom));
    cli_sb_esc(b, name);
    cli_sb_puts(b, "</text>\n");
    if (last == 0)
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555555\">"
                  "no finite values</text>\n", 0.5 * (f.left + f.right), 0.5 * (f.top + f.bottom));

    /* bands under everything: mean -+ std over consecutive epochs, or an error bar for an
     * isolated epoch */
    cli_sb_puts(b, "<g class=\"bands\" stroke=\"none\" fill-opacity=\"0.16\">\n");
    for (int c = 0; c < C && last > 0; c++) {
        const double *mean = es->mean + (size_t)c * E;
        for (int e = 0; e < last;) {
            if (!isfinite(mean[e])) {
                e++;
                continue;
            }
            int end = e;
            while (end + 1 < last && isfinite(mean[end + 1])) end++;
            double blo, bhi;
            if (end == e) {
                band_at(es, c * E + e, clip01, &blo, &bhi);
                double x = px(&f, e + 1 + dodge(c, C, last));
                if (bhi > blo)
                    cli_sb_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"%s\" stroke-width=\"6\" "
                              "stroke-opacity=\"0.3\"/>\n", x, py(&f, bhi), py(&f, blo),
                              cli_config_color(c));
            } else {
                cli_sb_printf(b, "<path fill=\"%s\" d=\"", cli_config_color(c));
                for (int i = e; i <= end; i++) {
                    band_at(es, c * E + i, clip01, &blo, &bhi);
                    cli_sb_printf(b, "%s%.1f %.1f", i == e ? "M" : " L", px(&f, i + 1),
                                  py(&f, bhi));
                }
                for (int i = end; i >= e; i--) {
                    band_at(es, c * E + i, clip01, &blo, &bhi);
                    cli_sb_printf(b, " L%.1f %.1f", px(&f, i + 1), py(&f, blo));
                }
                cli_sb_puts(b, " Z\"/>\n");
            }
            e = end + 1;
        }
    }
    cli_sb_puts(b, "</g>\n");

    /* individual runs, thin and faint */
    cli_sb_puts(b, "<g class=\"runs\" fill=\"none\" stroke-width=\"0.8\" "
                   "stroke-opacity=\"0.35\">\n");
    for (int c = 0; c < C && last > 0; c++) {
        for (int rep = 0; rep < R; rep++) {
            const double *curve = r->curves + ((size_t)(c * R + rep) * K + k) * E;
            cli_sbuf d = {0};
            sb_polyline(&d, &f, curve, last, 1);
            if (d.oom) b->oom = 1;
            if (d.len) {
                cli_sb_printf(b, "<path stroke=\"%s\"", cli_config_color(c));
                cli_sb_dash(b, c);
                cli_sb_printf(b, " d=\"%s\"><title>", d.p + 1);
                cli_sb_esc(b, r->labels[c]);
                cli_sb_printf(b, ", repeat %d</title></path>\n", rep + 1);
            }
            free(d.p);
        }
    }
    cli_sb_puts(b, "</g>\n");

    /* means on top; an isolated epoch becomes a dot */
    cli_sb_puts(b, "<g class=\"means\" fill=\"none\" stroke-width=\"2.2\" "
               "stroke-linejoin=\"round\">\n");
    for (int c = 0; c < C && last > 0; c++) {
        const double *mean = es->mean + (size_t)c * E;
        cli_sbuf d = {0};
        sb_polyline(&d, &f, mean, last, 1);
        if (d.oom) b->oom = 1;
        if (d.len) {
            cli_sb_printf(b, "<path stroke=\"%s\"", cli_config_color(c));
            cli_sb_dash(b, c);
            cli_sb_printf(b, " d=\"%s\"><title>", d.p + 1);
            cli_sb_esc(b, r->labels[c]);
            cli_sb_puts(b, "</title></path>\n");
        }
        free(d.p);
        for (int e = 0; e < last; e++) {
            int prev_ok = e > 0 && isfinite(mean[e - 1]);
            int next_ok = e + 1 < last && isfinite(mean[e + 1]);
            if (isfinite(mean[e]) && !prev_ok && !next_ok)
                cli_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" "
                          "stroke=\"none\"/>\n", px(&f, e + 1 + dodge(c, C, last)), py(&f, mean[e]),
                          cli_config_color(c));
        }
    }
    cli_sb_puts(b, "</g>\n");

    /* legend: a sample of each line and the label, shortened if long (full in a tooltip) */
    double row = fmin(18.0, (CHART_H - f.top - 8.0) / C);
    double font = fmin(12.0, fmax(7.0, row - 3.0));
    double lx = CHART_W - legend_w;
    cli_sb_printf(b, "<g class=\"legend\" font-size=\"%.1f\">\n", font);
    for (int c = 0; c < C; c++) {
        double y = f.top + 6.0 + c * row;
        cli_sb_puts(b, "<g><title>");
        cli_sb_esc(b, r->labels[c]);
        cli_sb_printf(b, "</title><path d=\"M%.1f %.1fh26\" stroke=\"%s\" stroke-width=\"2.5\"",
                  lx, y, cli_config_color(c));
        cli_sb_dash(b, c);
        cli_sb_printf(b, "/><text x=\"%.1f\" y=\"%.1f\">", lx + 32.0, y + 0.35 * font);
        cli_sb_esc_n(b, r->labels[c], 26);
        cli_sb_puts(b, "</text></g>\n");
    }
    cli_sb_puts(b, "</g>\n</svg>\n");
}

/* ------------------------------------------------------------------------------------ */
/* report.html */

/* A history metric's chart file name: the name with unsafe characters replaced. */
static void chart_file(char *buf, size_t size, const char *metric)
{
    size_t n = 0;
    for (const char *p = metric; *p && n + 5 < size; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || (ch == '.' && n > 0);
        buf[n++] = ok ? ch : '_';
    }
    if (n == 0) buf[n++] = '_';
    memcpy(buf + n, ".svg", 5);
}

/* The order of the charts: training metrics first, then "val_" ones, each in history
 * order. */
static void chart_order(const cli_results *r, int *order)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < r->n_metrics; k++)
            if ((strncmp(r->metrics[k], "val_", 4) == 0) == pass) order[n++] = k;
}

static void sb_num(cli_sbuf *b, double x, const char *fmt)
{
    if (isnan(x))
        cli_sb_puts(b, NDASH);
    else if (isinf(x))
        cli_sb_puts(b, x > 0 ? "&#8734;" : "&#8722;&#8734;");
    else
        cli_sb_printf(b, fmt, x);
}

/* A table cell "mean ± std" over "[ci_low, ci_high]". */
static void sb_stat_cell(cli_sbuf *b, const cli_stat *st, int n_repeats, int sorted)
{
    cli_sb_puts(b, sorted ? "<td class=\"num sorted\">" : "<td class=\"num\">");
    if (st->n == 0) {
        cli_sb_puts(b, NDASH "</td>");
        return;
    }
    sb_num(b, st->mean, "%.4g");
    cli_sb_puts(b, " " PM " ");
    sb_num(b, st->std, "%.2g");
    if (st->n < n_repeats) cli_sb_printf(b, " <span class=\"n\">(n=%d)</span>", st->n);
    cli_sb_puts(b, "<br><span class=\"ci\">");
    if (st->n == 1) {
        cli_sb_puts(b, "no CI from one run");
    } else {
        cli_sb_puts(b, "[");
        sb_num(b, st->ci_low, "%.3g");
        cli_sb_puts(b, ", ");
        sb_num(b, st->ci_high, "%.3g");
        cli_sb_puts(b, "]");
    }
    cli_sb_puts(b, "</span></td>");
}

/* A small sample of configuration c's line, as used in the charts' legends. */
void cli_sb_swatch(cli_sbuf *b, int c)
{
    cli_sb_printf(b, "<svg class=\"sw\" width=\"26\" height=\"10\" viewBox=\"0 0 26 10\" "
              "aria-hidden=\"true\"><path d=\"M1 5H25\" stroke=\"%s\" stroke-width=\"2.5\"",
              cli_config_color(c));
    cli_sb_dash(b, c);
    cli_sb_puts(b, "/></svg>");
}

typedef struct {
    const cli_summary *s;
    int is_test, k, descending;
} sort_ctx;

static double sort_value(const sort_ctx *x, int c)
{
    const cli_summary *s = &x->s[c];
    return x->is_test ? s->test[x->k].mean : s->final[x->k].mean;
}

/* Sorts the configuration indices by the sort column's mean: best first, NaN last,
 * ties in configuration order (insertion sort: stable, and n is small). */
static void sort_configs(const sort_ctx *x, int *idx, int n)
{
    for (int i = 1; i < n; i++) {
        int c = idx[i], j = i;
        double v = sort_value(x, c);
        while (j > 0) {
            double u = sort_value(x, idx[j - 1]);
            int before;
            if (isnan(v))
                before = 0;
            else if (isnan(u))
                before = 1;
            else
                before = x->descending ? v > u : v < u;
            if (!before) break;
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = c;
    }
}

static const char *const css =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Helvetica,Arial,sans-serif;"
    "color:#222;margin:0;background:#fafafa}\n"
    "main{max-width:1500px;margin:0 auto;padding:1.2em 1.5em 3em}\n"
    "h1{font-size:1.6em;margin:.3em 0}h2{font-size:1.25em;margin-top:1.8em;"
    "border-bottom:1px solid #ddd;padding-bottom:.2em}h3{font-size:1.05em}\n"
    "p.lead{max-width:60em;line-height:1.45}\n"
    "table{border-collapse:collapse;background:#fff;font-size:.86em}\n"
    "th,td{border:1px solid #ddd;padding:.3em .45em;vertical-align:top}\n"
    "th{background:#f0f0f0;text-align:left}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.sorted,th.sorted{background:#eef4fb}\n"
    "tr.best td{font-weight:600}\n"
    ".ci,.n{color:#666;font-size:.85em;font-weight:normal}\n"
    ".sw{vertical-align:middle;margin-right:.4em}\n"
    ".note{color:#555;font-size:.9em;max-width:60em}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:1em}\n"
    ".charts figure{margin:0;background:#fff;border:1px solid #ddd;flex:1 1 560px;"
    "max-width:740px}\n"
    ".charts svg{display:block;width:100%;height:auto}\n"
    ".wide{overflow-x:auto}\n"
    "td.label{white-space:nowrap}\n"
    ".charts figcaption{font-size:.85em;padding:.2em .6em .4em}\n"
    "#show-runs:not(:checked)~.charts .runs{display:none}\n"
    "pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow-x:auto;"
    "white-space:pre-wrap;word-break:break-all}\n"
    "details{margin:.6em 0}summary{cursor:pointer}\n";

/* "kernel_initializer (zeros, he_normal, ...)" for each varied setting: values in order
 * of first appearance. */
static void sb_varied(cli_sbuf *b, const cli_results *r)
{
    for (int v = 0; v < r->n_vary; v++) {
        if (v) cli_sb_puts(b, v + 1 == r->n_vary ? " and " : ", ");
        cli_sb_puts(b, "<code>");
        cli_sb_esc(b, r->vary_names[v]);
        cli_sb_puts(b, "</code> (");
        int shown = 0;
        for (int c = 0; c < r->n_configs; c++) {
            const char *val = r->values[c * r->n_vary + v];
            int seen = 0;
            for (int c2 = 0; c2 < c && !seen; c2++)
                seen = strcmp(r->values[c2 * r->n_vary + v], val) == 0;
            if (seen) continue;
            if (shown++) cli_sb_puts(b, ", ");
            cli_sb_esc(b, val);
        }
        cli_sb_puts(b, ")");
    }
}

/* diag_html and rec_html: the diagnostics and recorded outputs sections, or NULL */
static void html_report(cli_sbuf *b, const cli_results *r, const cli_summary *s,
                        const sort_ctx *sort, const int *order, const int *charts,
                        char *const *svgs, const char *diag_html, const char *rec_html)
{
    int C = r->n_configs, R = r->n_repeats;
    int target = r->target_metric != NULL && r->epochs_to_target != NULL;

    cli_sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>descent sweep");
    if (r->n_vary > 0) {
        cli_sb_puts(b, ": ");
        for (int v = 0; v < r->n_vary; v++) {
            if (v) cli_sb_puts(b, " \xc3\x97 ");
            cli_sb_esc(b, r->vary_names[v]);
        }
    }
    cli_sb_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", css);

    /* title and description */
    cli_sb_puts(b, "<h1>Sweep");
    if (r->n_vary > 0) {
        cli_sb_puts(b, " over ");
        for (int v = 0; v < r->n_vary; v++) {
            if (v) cli_sb_puts(b, " \xc3\x97 ");
            cli_sb_esc(b, r->vary_names[v]);
        }
    }
    cli_sb_puts(b, "</h1>\n<p class=\"lead\">");
    cli_sb_printf(b, "<code>descent sweep</code> trained %d configuration%s", C, C == 1 ? "" : "s");
    if (r->n_vary > 0) {
        cli_sb_puts(b, ", varying ");
        sb_varied(b, r);
        cli_sb_puts(b, ",");
    }
    cli_sb_printf(b, " %d time%s each with different seeds (%d runs of up to %d epoch%s). ", R,
              R == 1 ? "" : "s", C * R, r->n_epochs, r->n_epochs == 1 ? "" : "s");
    if (r->paired)
        cli_sb_printf(b, "Seeds are paired: repeat <i>i</i> uses the same seed in every "
                  "configuration (derived from base seed %" PRIu64 "), so configurations are "
                  "compared on the same random draws. ", r->base_seed);
    else
        cli_sb_printf(b, "Seeds are not paired: every run has its own seed (derived from base seed "
                  "%" PRIu64 "). ", r->base_seed);
    if (target) {
        cli_sb_puts(b, "The target is <code>");
        cli_sb_esc(b, r->target_metric);
        cli_sb_printf(b, "</code> &#8805; %g; <em>epochs to target</em> is the median over the "
                  "runs that reached it. ", r->target_accuracy);
    }
    cli_sb_puts(b, "Final values are each run's last finite epoch; intervals are 95% confidence "
               "intervals of the mean (Student's t).</p>\n");

    /* the summary table */
    cli_sb_puts(b, "<h2>Summary</h2>\n<div class=\"wide\">\n<table>\n<thead>\n"
               "<tr><th>#</th><th>configuration</th>");
    for (int k = 0; k < r->n_metrics + r->n_test; k++) {
        int is_test = k >= r->n_metrics, m = is_test ? k - r->n_metrics : k;
        int sorted = sort->k == m && sort->is_test == is_test;
        cli_sb_puts(b, sorted ? "<th class=\"sorted\">" : "<th>");
        cli_sb_puts(b, is_test ? "test " : "final ");
        cli_sb_esc(b, is_test ? r->test_metrics[m] : r->metrics[m]);
        if (sorted) cli_sb_puts(b, sort->descending ? " &#9660;" : " &#9650;");
        cli_sb_puts(b, "</th>");
    }
    if (target) cli_sb_puts(b, "<th>epochs to target<br>(median)</th><th>never reached</th>");
    cli_sb_puts(b, "<th>stalls</th><th>restarts</th><th>diverged</th></tr>\n</thead>\n<tbody>\n");
    for (int i = 0; i < C; i++) {
        int c = order[i];
        const cli_summary *x = &s[c];
        cli_sb_printf(b, "<tr%s><td class=\"num\">%d</td><td class=\"label\">",
                  i == 0 && sort->k >= 0 && C > 1 ? " class=\"best\"" : "", i + 1);
        cli_sb_swatch(b, c);
        cli_sb_esc(b, r->labels[c]);
        cli_sb_puts(b, "</td>");
        for (int k = 0; k < r->n_metrics; k++)
            sb_stat_cell(b, &x->final[k], R, !sort->is_test && sort->k == k);
        for (int k = 0; k < r->n_test; k++)
            sb_stat_cell(b, &x->test[k], R, sort->is_test && sort->k == k);
        if (target) {
            cli_sb_puts(b, "<td class=\"num\">");
            sb_num(b, x->median_epochs_to_target, "%g");
            cli_sb_printf(b, "</td><td class=\"num\">%d / %d</td>", x->never_reached, R);
        }
        cli_sb_printf(b, "<td class=\"num\">%d</td><td class=\"num\">%d</td>"
                  "<td class=\"num\">%d</td></tr>\n", x->stalls, x->restarts, x->diverged);
    }
    cli_sb_puts(b, "</tbody>\n</table>\n</div>\n<p class=\"note\">");
    if (sort->k >= 0) {
        cli_sb_puts(b, "Sorted by the mean of <code>");
        if (sort->is_test) cli_sb_puts(b, "test_");
        cli_sb_esc(b, sort->is_test ? r->test_metrics[sort->k] : r->metrics[sort->k]);
        cli_sb_printf(b, "</code>, %s first. ", sort->descending ? "highest" : "lowest");
    } else {
        cli_sb_puts(b, "In configuration order. ");
    }
    cli_sb_puts(b, "Each cell: mean " PM " sample std over repeats, below it [the 95% confidence "
               "interval of the mean]; (n=&#8230;) when fewer runs had a value. Stalls and "
               "diverged count runs whose final attempt stalled or diverged; restarts are "
               "summed over runs.</p>\n");
    cli_report_stalls(b, r);

    /* charts */
    cli_sb_puts(b, "<h2>Training curves</h2>\n");
    if (r->n_metrics > 0 && r->n_epochs > 0)
        cli_sb_puts(b, "<input type=\"checkbox\" id=\"show-runs\" checked> "
                   "<label for=\"show-runs\">show the individual runs</label>\n");
    cli_sb_puts(b, "<div class=\"charts\">\n");
    for (int i = 0; i < r->n_metrics && r->n_epochs > 0; i++) {
        char file[300];
        chart_file(file, sizeof file, r->metrics[charts[i]]);
        cli_sb_puts(b, "<figure>\n");
        cli_sb_puts(b, svgs[i]);
        cli_sb_puts(b, "<figcaption><a href=\"");
        cli_sb_esc(b, file);
        cli_sb_puts(b, "\">");
        cli_sb_esc(b, file);
        cli_sb_puts(b, "</a></figcaption>\n</figure>\n");
    }
    cli_sb_puts(b, "</div>\n");
    if (r->n_metrics == 0 || r->n_epochs == 0) cli_sb_puts(b, "<p>No per-epoch history.</p>\n");
    if (diag_html) cli_sb_puts(b, diag_html);
    if (rec_html) cli_sb_puts(b, rec_html);

    /* provenance */
    cli_sb_puts(b, "<h2>How this was made</h2>\n<h3>Command</h3>\n<pre><code>");
    cli_sb_esc(b, r->command ? r->command : "(not recorded)");
    cli_sb_puts(b, "</code></pre>\n");
    if (r->experiment) {
        cli_sb_puts(b, "<h3>Experiment file</h3>\n<pre>");
        cli_sb_esc(b, r->experiment);
        cli_sb_puts(b, "</pre>\n");
    }
    if (r->settings) {
        cli_sb_puts(b, "<h3>Settings</h3>\n<pre>");
        cli_sb_esc(b, r->settings);
        cli_sb_puts(b, "</pre>\n");
    }
    if (r->seeds) {
        cli_sb_printf(b, "<h3>Seeds</h3>\n<details>\n<summary>the seed of each of the %d runs"
                  "%s</summary>\n<div class=\"wide\">\n<table>\n<thead>\n"
                  "<tr><th>configuration</th>",
                  C * R, r->restarts ? " (after restarts)" : "");
        for (int rep = 0; rep < R; rep++) cli_sb_printf(b, "<th>repeat %d</th>", rep + 1);
        cli_sb_puts(b, "</tr>\n</thead>\n<tbody>\n");
        for (int c = 0; c < C; c++) {
            cli_sb_puts(b, "<tr><td>");
            cli_sb_esc(b, r->labels[c]);
            cli_sb_puts(b, "</td>");
            for (int rep = 0; rep < R; rep++) {
                int run = c * R + rep;
                cli_sb_printf(b, "<td class=\"num\">%" PRIu64, r->seeds[run]);
                if (r->restarts && r->restarts[run] > 0)
                    cli_sb_printf(b, " <span class=\"n\">(%d restart%s)</span>", r->restarts[run],
                              r->restarts[run] == 1 ? "" : "s");
                if (r->stalled && r->stalled[run])
                    cli_sb_puts(b, " <span class=\"n\">stalled</span>");
                if (r->diverged && r->diverged[run])
                    cli_sb_puts(b, " <span class=\"n\">diverged</span>");
                cli_sb_puts(b, "</td>");
            }
            cli_sb_puts(b, "</tr>\n");
        }
        cli_sb_puts(b, "</tbody>\n</table>\n</div>\n</details>\n");
    }
    cli_sb_puts(b, "<p class=\"note\">Written by descent ");
    cli_sb_esc(b, ds_version());
    cli_sb_puts(b, ".</p>\n</main>\n</body>\n</html>\n");
}

/* ------------------------------------------------------------------------------------ */
/* Writing the files */

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

ds_status cli_report_write(const char *dir, const char *name, const cli_sbuf *b,
                           ds_error *err)
{
    if (b->oom) return cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory writing %s", name);
    char *path = join_path(dir, name);
    if (!path) return cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory");
    ds_status st = cli_write_file(path, b->p ? b->p : "", b->len, err);
    free(path);
    return st;
}

static ds_status check_inputs(const cli_results *r, const cli_summary *s, const char *dir,
                              ds_error *err)
{
    if (!r || !s || !dir) return cli_fail_status(err, DS_ERR_ARG, "report: no results, summary or directory");
    if (r->n_configs < 1 || r->n_repeats < 1 || r->n_epochs < 0 || r->n_metrics < 0 ||
        r->n_metrics > CLI_MAX_METRICS || r->n_test < 0 || r->n_test > CLI_MAX_METRICS ||
        r->n_vary < 0)
        return cli_fail_status(err, DS_ERR_ARG, "report: bad sizes (%d configurations, %d repeats, %d "
                    "epochs, %d metrics, %d test metrics)", r->n_configs, r->n_repeats,
                    r->n_epochs, r->n_metrics, r->n_test);
    if (!r->labels || (r->n_vary > 0 && (!r->vary_names || !r->values)) ||
        (r->n_metrics > 0 && r->n_epochs > 0 && !r->curves))
        return cli_fail_status(err, DS_ERR_ARG, "report: results without labels, values or curves");
    for (int c = 0; c < r->n_configs; c++)
        if (!r->labels[c]) return cli_fail_status(err, DS_ERR_ARG, "report: configuration %d unlabeled", c);
    for (int i = 0; i < r->n_configs * r->n_vary; i++)
        if (!r->values[i]) return cli_fail_status(err, DS_ERR_ARG, "report: missing value %d", i);
    for (int v = 0; v < r->n_vary; v++)
        if (!r->vary_names[v]) return cli_fail_status(err, DS_ERR_ARG, "report: setting %d unnamed", v);
    for (int k = 0; k < r->n_metrics; k++)
        if (!r->metrics[k]) return cli_fail_status(err, DS_ERR_ARG, "report: history metric %d unnamed", k);
    for (int k = 0; k < r->n_test; k++)
        if (!r->test_metrics[k]) return cli_fail_status(err, DS_ERR_ARG, "report: test metric %d unnamed", k);
    if (r->n_diag_layers < 0 || (r->n_diag_layers > 0 && r->n_epochs > 0 && !r->diag))
        return cli_fail_status(err, DS_ERR_ARG, "report: %d diagnosed layers without values",
                               r->n_diag_layers);
    if (cli_report_has_rec(r) && (r->n_classes < 0 || (r->n_classes > 0 && !r->probe_labels)))
        return cli_fail_status(err, DS_ERR_ARG, "report: recorded outputs with %d classes "
                               "and no labels", r->n_classes);
    return DS_OK;
}

ds_status cli_write_report(const cli_results *r, const cli_summary *s, const char *dir,
                           const char *sort_metric, ds_error *err)
{
    ds_status st = check_inputs(r, s, dir, err);
    if (st) return st;
    st = cli_report_check_sort(r, sort_metric, err);
    if (st) return st;

    sort_ctx sort = {s, 0, -1, 0};
    static const char *const defaults[6] = {"test_accuracy", "val_accuracy", "accuracy",
                                            "test_loss",     "val_loss",     "loss"};
    const char *key = sort_metric;
    for (int i = 0; i < 6 && !key; i++)
        if (find_column(r, defaults[i], &sort.is_test, &sort.k)) key = defaults[i];
    if (key) {
        find_column(r, key, &sort.is_test, &sort.k);
        sort.descending = is_accuracy_like(key);
    }

    int C = r->n_configs, K = r->n_metrics;
    int *order = malloc((size_t)C * sizeof *order);
    int charts[CLI_MAX_METRICS];
    char *svgs[CLI_MAX_METRICS] = {0};
    cli_sbuf html = {0};
    if (!order) return cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory");
    for (int c = 0; c < C; c++) order[c] = c;
    if (sort.k >= 0) sort_configs(&sort, order, C);
    chart_order(r, charts);

    for (int i = 0; i < K && r->n_epochs > 0 && !st; i++) {
        epoch_stats es = {0};
        cli_sbuf svg = {0};
        if (!epoch_stats_compute(r, charts[i], &es)) {
            st = cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory");
        } else {
            svg_chart(&svg, r, charts[i], &es);
            char file[300];
            chart_file(file, sizeof file, r->metrics[charts[i]]);
            st = cli_report_write(dir, file, &svg, err);
        }
        epoch_stats_free(&es);
        svgs[i] = svg.p;
    }
    cli_sbuf diag_html = {0}, rec_html = {0};
    if (!st) st = cli_report_diag(r, dir, &diag_html, err);
    if (!st) st = cli_report_layer_outputs(r, dir, &rec_html, err);
    if (!st && (diag_html.oom || rec_html.oom))
        st = cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory");
    if (!st) {
        html_report(&html, r, s, &sort, order, charts, svgs, diag_html.p, rec_html.p);
        st = cli_report_write(dir, "report.html", &html, err);
    }
    free(html.p);
    free(diag_html.p);
    free(rec_html.p);
    for (int i = 0; i < K; i++) free(svgs[i]);
    free(order);
    return st;
}
