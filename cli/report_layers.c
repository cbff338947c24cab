/*
 * report_layers.c - the parts of the sweep report that look inside the layers (see
 * report.h): the per-layer diagnostics against depth (diag_<quantity>.svg) and over
 * epochs (diag_epochs.svg), why runs stalled, and one layer's recorded outputs per
 * configuration (layer_<n>.svg). report.c calls these and places their HTML.
 *
 * Depth charts: x is the layer (1 = next to the input), y each run's last finite value,
 * one line per configuration (the mean over repeats) with a min-max band; log scale for
 * the norms and the update ratio, where zeros cannot be drawn and show as open triangles
 * at the bottom instead. Over-epochs grid: small multiples, one row per diagnostic and one
 * column per configuration, one line per layer colored by depth (viridis, van der Walt and
 * Smith, matplotlib 1.5). Layer outputs: one small scatter plot per epoch, at most 25 of
 * them and at most 400 probe rows each, on axes fixed for the whole configuration.
 * Leaves out anything interactive but SVG tooltips.
 */
#include "report.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* ------------------------------------------------------------------------------------ */
/* What each diagnostic means and how it is scaled */

typedef enum { SCALE_LOG, SCALE_LINEAR, SCALE_UNIT } scale_kind;

typedef struct {
    const char *name;
    scale_kind scale;
    const char *hint; /* what to look for, one line */
} diag_kind;

static const diag_kind diag_kinds[] = {
    {"weight_norm", SCALE_LOG, "norm of the kernel; growing without bound: exploding weights"},
    {"grad_norm", SCALE_LOG,
     "norm of the kernel's gradient; much smaller toward layer 1: vanishing gradients"},
    {"update_ratio", SCALE_LOG,
     "change of the kernel over the last epoch / its norm; near 0: not learning"},
    {"act_mean", SCALE_LINEAR, "mean of the layer's outputs on the probe rows"},
    {"act_std", SCALE_LINEAR, "std of the layer's outputs; near 0: they ignore the input"},
    {"saturated", SCALE_UNIT, "fraction of outputs where sigmoid or tanh is flat; near 1: "
                              "gradients vanish"},
    {"dead", SCALE_UNIT, "fraction of relu units that output 0 on every probe row"},
};

static const diag_kind *diag_kind_of(const char *name)
{
    static const diag_kind other = {"", SCALE_LINEAR, ""};
    for (size_t i = 0; i < sizeof diag_kinds / sizeof diag_kinds[0]; i++)
        if (strcmp(diag_kinds[i].name, name) == 0) return &diag_kinds[i];
    return &other;
}

/* diag[((run * L + l) * CLI_N_DIAG + q) * E + e] */
static double diag_at(const cli_results *r, int run, int l, int q, int e)
{
    size_t i = ((size_t)run * r->n_diag_layers + l) * CLI_N_DIAG + q;
    return r->diag[i * r->n_epochs + e];
}

/* Configuration c's name for layer l, or NULL. */
static const char *layer_name(const cli_results *r, int c, int l)
{
    if (!r->diag_layer_names || l < 0 || l >= r->n_diag_layers) return NULL;
    return r->diag_layer_names[c * r->n_diag_layers + l];
}

/* Layer l's name when every configuration that has the layer calls it the same. */
static const char *agreed_name(const cli_results *r, int l)
{
    const char *name = NULL;
    for (int c = 0; c < r->n_configs; c++) {
        const char *n = layer_name(r, c, l);
        if (!n) continue;
        if (!name)
            name = n;
        else if (strcmp(name, n) != 0)
            return NULL;
    }
    return name;
}

/* The part of configuration c's label that tells it apart, for legends too narrow for
 * the whole label: the value of the one setting that differs between configurations,
 * "name=value ..." for several, or the label when none differs. A setting given a single
 * value ("--vary activation=tanh") would otherwise fill every legend entry with the same
 * prefix. malloc'd; NULL when out of memory. */
static char *short_label(const cli_results *r, int c)
{
    int V = r->n_vary, n_diff = 0;
    cli_sbuf b = {0};
    for (int v = 0; v < V; v++) {
        int differs = 0;
        for (int c2 = 0; c2 < r->n_configs && !differs; c2++)
            differs = strcmp(r->values[c2 * V + v], r->values[c * V + v]) != 0;
        n_diff += differs;
    }
    for (int v = 0; v < V && n_diff > 0; v++) {
        int differs = 0;
        for (int c2 = 0; c2 < r->n_configs && !differs; c2++)
            differs = strcmp(r->values[c2 * V + v], r->values[c * V + v]) != 0;
        if (!differs) continue;
        if (b.len) cli_sb_puts(&b, " ");
        if (n_diff > 1) cli_sb_printf(&b, "%s=", r->vary_names[v]);
        cli_sb_puts(&b, r->values[c * V + v]);
    }
    if (n_diff == 0) cli_sb_puts(&b, r->labels[c]);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int cli_report_has_diag(const cli_results *r)
{
    return r->n_diag_layers > 0 && r->diag && r->n_epochs > 0;
}

int cli_report_has_rec(const cli_results *r)
{
    return r->record_layer >= 0 && r->rec && r->n_probe > 0 && r->n_epochs > 0;
}

/* ------------------------------------------------------------------------------------ */
/* Axes: linear, [0, 1] or logarithmic (whole decades) */

typedef struct {
    int log;         /* lo and hi are log10 of the values when set */
    double lo, hi;   /* the range shown */
    double step;     /* between ticks: in value units, or decades */
    double p0, p1;   /* pixels of lo and hi */
} axis;

static double ax_pos(const axis *a, double v)
{
    double t = a->log ? log10(v) : v;
    return a->p0 + (t - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Fits a to values in [vmin, vmax] (finite; positive for a log axis; vmin > vmax when
 * there are none) with about n ticks. */
static void ax_fit(axis *a, scale_kind s, double vmin, double vmax, int n)
{
    int none = !(vmin <= vmax);
    a->log = s == SCALE_LOG;
    if (a->log) {
        if (none) vmin = 1e-3, vmax = 1.0;
        /* a little room so that no value sits exactly on the frame */
        a->lo = floor(log10(vmin) - 0.05);
        a->hi = ceil(log10(vmax) + 0.05);
        a->step = fmax(1.0, ceil((a->hi - a->lo) / n));
        return;
    }
    if (s == SCALE_UNIT && (none || (vmin >= 0.0 && vmax <= 1.0))) {
        a->lo = 0.0, a->hi = 1.0, a->step = n >= 4 ? 0.2 : 0.5;
        return;
    }
    if (none) vmin = 0.0, vmax = 1.0;
    if (vmax - vmin <= 1e-12 * fmax(1.0, fabs(vmax))) {
        double pad = vmax != 0.0 ? 0.05 * fabs(vmax) : 0.5;
        vmin -= pad, vmax += pad;
    }
    a->step = cli_nice_step(vmax - vmin, n);
    a->lo = floor(vmin / a->step + 1e-9) * a->step;
    a->hi = ceil(vmax / a->step - 1e-9) * a->step;
    if (a->hi <= a->lo) a->hi = a->lo + a->step;
}

/* m x 10^k as a short label: "0.01", "200", "1e-5". */
static void fmt_pow10(char *buf, size_t size, int m, int k)
{
    if (k >= -3 && k <= 3)
        snprintf(buf, size, "%g", m * pow(10.0, k));
    else
        snprintf(buf, size, "%de%d", m, k);
}

typedef struct {
    double v;
    char label[32];
    int major; /* minor ticks (2 and 5 between decades) get a lighter grid line */
} tick;

/* The ticks of a, at most max. */
static int ax_ticks(const axis *a, tick *t, int max)
{
    int n = 0;
    if (a->log) {
        int minor = a->hi - a->lo <= 2.0 + 1e-9;
        for (double k = a->lo; k <= a->hi + 1e-9 && n < max; k += a->step) {
            t[n].v = pow(10.0, k);
            t[n].major = 1;
            fmt_pow10(t[n].label, sizeof t[n].label, 1, (int)k);
            n++;
            for (int m = 2; minor && m <= 5 && k + 1.0 <= a->hi + 1e-9 && n < max; m += 3) {
                t[n].v = m * pow(10.0, k);
                t[n].major = 0;
                fmt_pow10(t[n].label, sizeof t[n].label, m, (int)k);
                n++;
            }
        }
        return n;
    }
    int steps = (int)floor((a->hi - a->lo) / a->step + 0.5);
    for (int i = 0; i <= steps && n < max; i++, n++) {
        t[n].v = a->lo + i * a->step;
        t[n].major = 1;
        cli_fmt_tick(t[n].label, sizeof t[n].label, t[n].v, a->step);
    }
    return n;
}

/* A color of the depth ramp for layer l of L: viridis from 0 (dark purple, layer 1) to
 * 0.85 (green; its yellow end is too faint on white). */
static void depth_color(char *buf, size_t size, int l, int L)
{
    static const unsigned char stop[5][3] = {
        {0x44, 0x01, 0x54}, {0x3b, 0x52, 0x8b}, {0x21, 0x91, 0x8c}, {0x5e, 0xc9, 0x62},
        {0xfd, 0xe7, 0x25}};
    double t = L > 1 ? 0.85 * l / (L - 1) : 0.0;
    double s = 4.0 * t;
    int i = (int)s;
    if (i > 3) i = 3;
    double f = s - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)floor(stop[i][k] + f * (stop[i + 1][k] - stop[i][k]) + 0.5);
    snprintf(buf, size, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static void svg_open(cli_sbuf *b, int w, int h, const char *aria)
{
    cli_sb_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" "
                  "font-size=\"12\" role=\"img\" aria-label=\"",
                  w, h, w, h);
    cli_sb_esc(b, aria);
    cli_sb_puts(b, "\">\n<title>");
    cli_sb_esc(b, aria);
    cli_sb_printf(b, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h);
}

/* ------------------------------------------------------------------------------------ */
/* Diagnostics against depth */

enum { DIAG_W = 720, DIAG_H = 380 };

/* One configuration's value of a diagnostic in one layer: over its repeats, each run's
 * last finite value (on a log axis only the positive ones; zeros are counted apart). */
typedef struct {
    int n, zeros;
    double mean, lo, hi; /* lo, hi: min and max */
} dpoint;

static void depth_point(const cli_results *r, int c, int l, int q, int logy, dpoint *pt)
{
    int R = r->n_repeats;
    double sum = 0.0;
    pt->n = pt->zeros = 0;
    pt->lo = D_INF, pt->hi = -D_INF;
    for (int rep = 0; rep < R; rep++) {
        double v = D_NAN;
        for (int e = r->n_epochs - 1; e >= 0 && !isfinite(v); e--)
            v = diag_at(r, c * R + rep, l, q, e);
        if (!isfinite(v)) continue;
        if (logy && v <= 0.0) {
            pt->zeros += v == 0.0;
            continue;
        }
        sum += v;
        pt->n++;
        pt->lo = fmin(pt->lo, v);
        pt->hi = fmax(pt->hi, v);
    }
    pt->mean = pt->n ? sum / pt->n : D_NAN;
}

/* Draws the depth chart of diagnostic q from pts (C x L) as a standalone SVG. */
static void diag_depth_chart(cli_sbuf *b, const cli_results *r, int q, const dpoint *pts,
                             char *const *shown)
{
    int C = r->n_configs, L = r->n_diag_layers, R = r->n_repeats;
    const char *name = cli_diag_names[q];
    const diag_kind *kind = diag_kind_of(name);
    int logy = kind->scale == SCALE_LOG;

    double vmin = D_INF, vmax = -D_INF;
    int any_zero = 0, any_zero_only = 0;
    for (int i = 0; i < C * L; i++) {
        if (pts[i].n) vmin = fmin(vmin, pts[i].lo), vmax = fmax(vmax, pts[i].hi);
        any_zero |= pts[i].zeros > 0;
        any_zero_only |= pts[i].n == 0 && pts[i].zeros > 0;
    }
    int none = !(vmin <= vmax);

    /* legend: labels as in the training charts; a configuration with nothing to draw
     * says why */
    int longest = 4;
    for (int c = 0; c < C; c++) {
        int n = cli_text_chars(shown[c]);
        if (n > longest) longest = n;
    }
    if (longest > 26) longest = 26;
    double legend_w = 46.0 + 7.4 * longest;

    /* layer names under the axis, horizontal when they fit between the ticks, else
     * slanted */
    double left = 70.0, right = DIAG_W - legend_w - 14.0;
    double spacing = (right - left) / L;
    int name_chars = 0;
    for (int l = 0; l < L; l++) {
        const char *ln = agreed_name(r, l);
        int n = ln ? cli_text_chars(ln) : 0;
        if (n > 22) n = 22;
        if (n > name_chars) name_chars = n;
    }
    double name_w = 5.8 * name_chars;
    int slant = name_chars > 0 && name_w > spacing - 6.0;
    double names_h = name_chars == 0 ? 0.0 : slant ? 0.574 * name_w + 10.0 : 14.0;
    double top = 66.0, bottom = DIAG_H - 44.0 - names_h;

    axis x = {0, 0.5, L + 0.5, 1.0, left, right};
    axis y;
    ax_fit(&y, kind->scale, vmin, vmax, 5);
    y.p0 = bottom, y.p1 = top;

    char aria[200];
    snprintf(aria, sizeof aria, "%s by layer", name);
    svg_open(b, DIAG_W, DIAG_H, aria);
    cli_sb_printf(b, "<text x=\"%.1f\" y=\"22\" font-size=\"16\" font-weight=\"bold\">", left);
    cli_sb_esc(b, name);
    cli_sb_puts(b, "</text>\n");
    cli_sb_printf(b, "<text x=\"%.1f\" y=\"39\" font-size=\"11\" fill=\"#555555\">", left);
    cli_sb_esc(b, kind->hint);
    cli_sb_printf(b, "</text>\n<text x=\"%.1f\" y=\"54\" font-size=\"11\" fill=\"#555555\">"
                  "line: mean of %d repeat%s (each run's last finite value); band: min" NDASH
                  "max%s</text>\n",
                  left, R, R == 1 ? "" : "s",
                  !logy ? "" : any_zero_only ? "; log scale, &#9661; = all 0" : "; log scale");

    /* grid and y ticks */
    tick t[40];
    int nt = none ? 0 : ax_ticks(&y, t, 40);
    cli_sb_puts(b, "<g stroke-width=\"1\">\n");
    for (int i = 0; i < nt; i++)
        cli_sb_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"%s\"/>\n", left,
                      ax_pos(&y, t[i].v), right, t[i].major ? "#e3e3e3" : "#f0f0f0");
    cli_sb_puts(b, "</g>\n<g fill=\"#333333\" text-anchor=\"end\">\n");
    for (int i = 0; i < nt; i++)
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\"%s>%s</text>\n", left - 6.0,
                      ax_pos(&y, t[i].v) + 4.0, t[i].major ? "" : " font-size=\"10\"",
                      t[i].label);

    /* x ticks: the layer's number, and its name where the configurations agree; with
     * many layers only every few */
    int every = spacing >= 18.0 ? 1 : (int)ceil(18.0 / spacing);
    cli_sb_puts(b, "</g>\n<g fill=\"#333333\" text-anchor=\"middle\">\n");
    for (int l = 0; l < L; l++) {
        double px = ax_pos(&x, l + 1.0);
        cli_sb_printf(b, "<path d=\"M%.1f %.1fv%d\" stroke=\"#333333\"/>\n", px, bottom,
                      l % every ? 3 : 5);
        if (l % every) continue;
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%d</text>\n", px, bottom + 17.0, l + 1);
        const char *ln = agreed_name(r, l);
        if (!ln) continue;
        if (slant)
            cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                          "text-anchor=\"end\" transform=\"rotate(-35 %.1f %.1f)\">",
                          px + 3.0, bottom + 30.0, px + 3.0, bottom + 30.0);
        else
            cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">", px,
                          bottom + 30.0);
        cli_sb_esc_n(b, ln, 22);
        cli_sb_puts(b, "</text>\n");
    }
    cli_sb_puts(b, "</g>\n");
    cli_sb_printf(b,
                  "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#333333\"/>\n"
                  "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333333\">"
                  "layer (1 = next to the input)</text>\n"
                  "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                  "fill=\"#333333\">",
                  left, top, bottom, right, 0.5 * (left + right), DIAG_H - 10,
                  0.5 * (top + bottom));
    cli_sb_esc(b, name);
    cli_sb_puts(b, "</text>\n");
    if (none)
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555555\" "
                      "font-size=\"14\">%s</text>\n",
                      0.5 * (left + right), 0.5 * (top + bottom),
                      any_zero ? "all zero" : "no values in these layers");

    /* bands: min-max through the layers that have values, or an error bar for one */
    cli_sb_puts(b, "<g class=\"bands\" stroke=\"none\" fill-opacity=\"0.16\">\n");
    for (int c = 0; c < C; c++) {
        const dpoint *p = pts + (size_t)c * L;
        int n = 0, only = -1;
        for (int l = 0; l < L; l++)
            if (p[l].n) n++, only = l;
        if (n == 1 && p[only].hi > p[only].lo) {
            double px = ax_pos(&x, only + 1.0);
            cli_sb_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"%s\" stroke-width=\"6\" "
                          "stroke-opacity=\"0.3\"/>\n", px, ax_pos(&y, p[only].hi),
                          ax_pos(&y, p[only].lo), cli_config_color(c));
        } else if (n > 1) {
            cli_sb_printf(b, "<path fill=\"%s\" d=\"", cli_config_color(c));
            int first = 1;
            for (int l = 0; l < L; l++) {
                if (!p[l].n) continue;
                cli_sb_printf(b, "%s%.1f %.1f", first ? "M" : " L", ax_pos(&x, l + 1.0),
                              ax_pos(&y, p[l].hi));
                first = 0;
            }
            for (int l = L - 1; l >= 0; l--)
                if (p[l].n)
                    cli_sb_printf(b, " L%.1f %.1f", ax_pos(&x, l + 1.0), ax_pos(&y, p[l].lo));
            cli_sb_puts(b, " Z\"/>\n");
        }
    }
    cli_sb_puts(b, "</g>\n");

    /* layers where every run is 0, on a log axis: open triangles on the floor */
    if (logy && any_zero_only) {
        cli_sb_puts(b, "<g class=\"zeros\" fill=\"#ffffff\" stroke-width=\"1.4\">\n");
        for (int l = 0; l < L; l++) {
            /* side by side when several configurations are 0 in this layer */
            int nz = 0, k = 0;
            for (int c = 0; c < C; c++) {
                const dpoint *p = &pts[(size_t)c * L + l];
                nz += !p->n && p->zeros;
            }
            double dx = fmin(9.0, 0.8 * spacing / (nz ? nz : 1));
            for (int c = 0; c < C; c++) {
                const dpoint *p = &pts[(size_t)c * L + l];
                if (p->n || !p->zeros) continue;
                double px = ax_pos(&x, l + 1.0) + (k++ - 0.5 * (nz - 1)) * dx;
                cli_sb_printf(b, "<polygon points=\"%.1f %.1f %.1f %.1f %.1f %.1f\" "
                              "stroke=\"%s\"><title>", px - 4.0, bottom - 10.0, px + 4.0,
                              bottom - 10.0, px, bottom - 3.0, cli_config_color(c));
                cli_sb_esc(b, r->labels[c]);
                cli_sb_printf(b, ", layer %d: 0 in %d of %d runs</title></polygon>\n", l + 1,
                              p->zeros, R);
            }
        }
        cli_sb_puts(b, "</g>\n");
    }

    /* means: one line per configuration through its layers with values, with a dot and a
     * tooltip at each */
    cli_sb_puts(b, "<g class=\"means\" fill=\"none\" stroke-width=\"2.2\" "
                   "stroke-linejoin=\"round\">\n");
    for (int c = 0; c < C; c++) {
        const dpoint *p = pts + (size_t)c * L;
        int first = 1;
        for (int l = 0; l < L; l++) {
            if (!p[l].n) continue;
            if (first) {
                cli_sb_printf(b, "<path stroke=\"%s\"", cli_config_color(c));
                cli_sb_dash(b, c);
                cli_sb_puts(b, " d=\"");
            }
            cli_sb_printf(b, "%s%.1f %.1f", first ? "M" : " L", ax_pos(&x, l + 1.0),
                          ax_pos(&y, p[l].mean));
            first = 0;
        }
        if (first) continue;
        cli_sb_puts(b, "\"><title>");
        cli_sb_esc(b, r->labels[c]);
        cli_sb_puts(b, "</title></path>\n");
        for (int l = 0; l < L; l++) {
            if (!p[l].n) continue;
            cli_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" "
                          "stroke=\"none\"><title>", ax_pos(&x, l + 1.0),
                          ax_pos(&y, p[l].mean), cli_config_color(c));
            cli_sb_esc(b, r->labels[c]);
            cli_sb_printf(b, ", layer %d", l + 1);
            const char *ln = layer_name(r, c, l);
            if (ln) {
                cli_sb_puts(b, " (");
                cli_sb_esc(b, ln);
                cli_sb_puts(b, ")");
            }
            cli_sb_printf(b, ": mean %.4g, min %.4g, max %.4g (n=%d", p[l].mean, p[l].lo,
                          p[l].hi, p[l].n);
            if (p[l].zeros) cli_sb_printf(b, "; %d more at 0", p[l].zeros);
            cli_sb_puts(b, ")</title></circle>\n");
        }
    }
    cli_sb_puts(b, "</g>\n");

    /* legend */
    double row = fmin(18.0, (DIAG_H - top - 8.0) / C);
    double font = fmin(12.0, fmax(7.0, row - 3.0));
    double lx = DIAG_W - legend_w;
    cli_sb_printf(b, "<g class=\"legend\" font-size=\"%.1f\">\n", font);
    for (int c = 0; c < C; c++) {
        const dpoint *p = pts + (size_t)c * L;
        int n = 0, zeros = 0;
        for (int l = 0; l < L; l++) n += p[l].n, zeros += p[l].zeros;
        double ly = top + 6.0 + c * row;
        cli_sb_puts(b, "<g><title>");
        cli_sb_esc(b, r->labels[c]);
        cli_sb_printf(b, "</title><path d=\"M%.1f %.1fh26\" stroke=\"%s\" stroke-width=\"2.5\"",
                      lx, ly, cli_config_color(c));
        cli_sb_dash(b, c);
        cli_sb_printf(b, "/><text x=\"%.1f\" y=\"%.1f\">", lx + 32.0, ly + 0.35 * font);
        if (n) {
            cli_sb_esc_n(b, shown[c], 26);
        } else {
            cli_sb_esc_n(b, shown[c], 17);
            cli_sb_printf(b, " <tspan fill=\"#777777\">(%s)</tspan>",
                          zeros ? "all 0" : "none");
        }
        cli_sb_puts(b, "</text></g>\n");
    }
    cli_sb_puts(b, "</g>\n</svg>\n");
}

/* ------------------------------------------------------------------------------------ */
/* Diagnostics over epochs: rows = diagnostics, columns = configurations */

enum { EP_W = 720, EP_LEFT = 124, EP_COLS = 6, EP_CELL_H = 54, EP_GAP = 8, EP_ROW = 66 };

/* The mean over repeats of diagnostic q of configuration c, layer l, epoch e (on a log
 * axis over the positive values); NaN without values. *zeros counts zero values seen. */
static double epoch_mean(const cli_results *r, int c, int l, int q, int e, int logy,
                         int *zeros)
{
    double sum = 0.0;
    int n = 0;
    for (int rep = 0; rep < r->n_repeats; rep++) {
        double v = diag_at(r, c * r->n_repeats + rep, l, q, e);
        if (!isfinite(v)) continue;
        if (logy && v <= 0.0) {
            *zeros += v == 0.0;
            continue;
        }
        sum += v;
        n++;
    }
    return n ? sum / n : D_NAN;
}

/* The last epoch (1-based) at which any diagnostic has a value; 0 if none. */
static int diag_last_epoch(const cli_results *r)
{
    int last = 0, n_runs = r->n_configs * r->n_repeats;
    for (int i = 0; i < n_runs; i++)
        for (int l = 0; l < r->n_diag_layers; l++)
            for (int q = 0; q < CLI_N_DIAG; q++)
                for (int e = r->n_epochs - 1; e >= last; e--)
                    if (isfinite(diag_at(r, i, l, q, e))) {
                        last = e + 1;
                        break;
                    }
    return last;
}

/* Whether diagnostic q has any finite value. */
static int diag_has_values(const cli_results *r, int q)
{
    int n_runs = r->n_configs * r->n_repeats;
    for (int i = 0; i < n_runs; i++)
        for (int l = 0; l < r->n_diag_layers; l++)
            for (int e = 0; e < r->n_epochs; e++)
                if (isfinite(diag_at(r, i, l, q, e))) return 1;
    return 0;
}

/* Draws the grid as a standalone SVG; configurations beyond EP_COLS continue in further
 * blocks below. Rows without any value are left out. */
static void diag_epochs_chart(cli_sbuf *b, const cli_results *r, int last,
                              char *const *shown)
{
    int C = r->n_configs, L = r->n_diag_layers;
    int rows[CLI_N_DIAG], n_rows = 0;
    for (int q = 0; q < CLI_N_DIAG; q++)
        if (diag_has_values(r, q)) rows[n_rows++] = q;

    int per_block = C < EP_COLS ? C : EP_COLS;
    int n_blocks = (C + EP_COLS - 1) / EP_COLS;
    double cell_w = (EP_W - EP_LEFT - 8.0 - (per_block - 1) * EP_GAP) / per_block;
    if (cell_w > 200.0) cell_w = 200.0;
    double block_h = 30.0 + n_rows * EP_ROW + 12.0;
    double top = 74.0;
    int H = (int)ceil(top + n_blocks * block_h + 8.0);

    svg_open(b, EP_W, H, "diagnostics over epochs, by layer");
    cli_sb_puts(b, "<text x=\"8\" y=\"22\" font-size=\"16\" font-weight=\"bold\">"
                   "diagnostics over epochs</text>\n");
    cli_sb_printf(b, "<text x=\"8\" y=\"39\" font-size=\"11\" fill=\"#555555\">each cell: one "
                  "configuration (column) and diagnostic (row), epochs 1" NDASH "%d; one line "
                  "per layer: the mean over repeats</text>\n", last);
    /* the layers' colors */
    cli_sb_puts(b, "<g font-size=\"11\">\n<text x=\"8\" y=\"60\" fill=\"#555555\">layer</text>\n");
    int every = L <= 12 ? 1 : (L + 11) / 12;
    double lx = 48.0;
    for (int l = 0; l < L; l++) {
        char col[16];
        depth_color(col, sizeof col, l, L);
        cli_sb_printf(b, "<path d=\"M%.1f 56h%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", lx,
                      every == 1 ? 14 : 6, col);
        lx += every == 1 ? 16.0 : 7.0;
        if (l % every == 0 || l == L - 1) {
            cli_sb_printf(b, "<text x=\"%.1f\" y=\"60\" fill=\"#333333\"><title>", lx);
            const char *ln = agreed_name(r, l);
            if (ln) cli_sb_esc(b, ln);
            cli_sb_printf(b, "</title>%d</text>\n", l + 1);
            lx += 7.0 * (l + 1 >= 10 ? 2 : 1) + 8.0;
        }
    }
    cli_sb_puts(b, "</g>\n");

    for (int blk = 0; blk < n_blocks; blk++) {
        double by = top + blk * block_h;
        int c0 = blk * EP_COLS, c1 = c0 + EP_COLS < C ? c0 + EP_COLS : C;
        /* column heads */
        for (int c = c0; c < c1; c++) {
            double cx = EP_LEFT + (c - c0) * (cell_w + EP_GAP);
            cli_sb_printf(b, "<g><title>");
            cli_sb_esc(b, r->labels[c]);
            cli_sb_printf(b, "</title><text x=\"%.1f\" y=\"%.1f\" font-size=\"10.5\">", cx,
                          by + 16.0);
            cli_sb_esc_n(b, shown[c], (int)(cell_w / 6.0));
            cli_sb_printf(b, "</text><path d=\"M%.1f %.1fh%.1f\" stroke=\"%s\" "
                          "stroke-width=\"2.5\"", cx, by + 22.0, cell_w, cli_config_color(c));
            cli_sb_dash(b, c);
            cli_sb_puts(b, "/></g>\n");
        }
        for (int i = 0; i < n_rows; i++) {
            int q = rows[i];
            const diag_kind *kind = diag_kind_of(cli_diag_names[q]);
            int logy = kind->scale == SCALE_LOG;
            double ry = by + 30.0 + i * EP_ROW;
            /* the row's range, shared by its cells */
            double vmin = D_INF, vmax = -D_INF;
            int ignored = 0;
            for (int c = 0; c < C; c++)
                for (int l = 0; l < L; l++)
                    for (int e = 0; e < last; e++) {
                        double m = epoch_mean(r, c, l, q, e, logy, &ignored);
                        if (isfinite(m)) vmin = fmin(vmin, m), vmax = fmax(vmax, m);
                    }
            axis y;
            ax_fit(&y, kind->scale, vmin, vmax, 2);
            y.p0 = ry + EP_CELL_H, y.p1 = ry;
            int none = !(vmin <= vmax);
            cli_sb_printf(b, "<text x=\"8\" y=\"%.1f\" font-size=\"11\" fill=\"#333333\">",
                          ry + 0.5 * EP_CELL_H + 4.0);
            cli_sb_esc(b, cli_diag_names[q]);
            cli_sb_puts(b, "</text>\n");
            if (!none) {
                char lo[32], hi[32];
                if (logy) {
                    fmt_pow10(lo, sizeof lo, 1, (int)y.lo);
                    fmt_pow10(hi, sizeof hi, 1, (int)y.hi);
                } else {
                    cli_fmt_tick(lo, sizeof lo, y.lo, y.step);
                    cli_fmt_tick(hi, sizeof hi, y.hi, y.step);
                }
                cli_sb_printf(b, "<g font-size=\"9\" fill=\"#555555\" text-anchor=\"end\">"
                              "<text x=\"%d\" y=\"%.1f\">%s</text><text x=\"%d\" y=\"%.1f\">"
                              "%s</text></g>\n", EP_LEFT - 4, ry + 8.0, hi, EP_LEFT - 4,
                              ry + EP_CELL_H, lo);
            }
            for (int c = c0; c < c1; c++) {
                double cx = EP_LEFT + (c - c0) * (cell_w + EP_GAP);
                axis x = {0, 1.0, last > 1 ? last : 2.0, 1.0, cx + 3.0, cx + cell_w - 3.0};
                cli_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
                              "fill=\"#f7f7f7\" stroke=\"#dddddd\"/>\n", cx, ry, cell_w,
                              EP_CELL_H);
                int drawn = 0, cell_zeros = 0;
                cli_sb_puts(b, "<g fill=\"none\" stroke-width=\"1.3\" "
                               "stroke-linejoin=\"round\">\n");
                for (int l = 0; l < L; l++) {
                    char col[16];
                    depth_color(col, sizeof col, l, L);
                    cli_sbuf d = {0};
                    int prev_ok = 0;
                    for (int e = 0; e < last; e++) {
                        double m = epoch_mean(r, c, l, q, e, logy, &cell_zeros);
                        if (!isfinite(m)) {
                            prev_ok = 0;
                            continue;
                        }
                        double mx = last > 1 ? ax_pos(&x, e + 1.0) : cx + 0.5 * cell_w;
                        double my = ax_pos(&y, m);
                        int next_ok = e + 1 < last &&
                                      isfinite(epoch_mean(r, c, l, q, e + 1, logy, &ignored));
                        if (!prev_ok && !next_ok)
                            cli_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" "
                                          "fill=\"%s\" stroke=\"none\"/>\n", mx, my, col);
                        else
                            cli_sb_printf(&d, "%s%.1f %.1f", prev_ok ? " L" : " M", mx, my);
                        prev_ok = 1;
                        drawn = 1;
                    }
                    if (d.oom) b->oom = 1;
                    if (d.len) cli_sb_printf(b, "<path stroke=\"%s\" d=\"%s\"/>\n", col, d.p + 1);
                    free(d.p);
                }
                cli_sb_puts(b, "</g>\n");
                if (!drawn)
                    cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                                  "fill=\"#777777\" text-anchor=\"middle\">%s</text>\n",
                                  cx + 0.5 * cell_w, ry + 0.5 * EP_CELL_H + 3.0,
                                  cell_zeros ? "all 0" : "none");
                if (i == n_rows - 1)
                    cli_sb_printf(b, "<g font-size=\"9\" fill=\"#555555\"><text x=\"%.1f\" "
                                  "y=\"%.1f\">1</text><text x=\"%.1f\" y=\"%.1f\" "
                                  "text-anchor=\"end\">%d</text></g>\n", cx,
                                  ry + EP_CELL_H + 10.0, cx + cell_w, ry + EP_CELL_H + 10.0,
                                  last);
            }
        }
    }
    cli_sb_puts(b, "</svg>\n");
}

/* ------------------------------------------------------------------------------------ */
/* The diagnostics section */

static void figure(cli_sbuf *h, const cli_sbuf *svg, const char *file)
{
    cli_sb_puts(h, "<figure>\n");
    if (svg->p) cli_sb_puts(h, svg->p);
    cli_sb_puts(h, "<figcaption><a href=\"");
    cli_sb_esc(h, file);
    cli_sb_puts(h, "\">");
    cli_sb_esc(h, file);
    cli_sb_puts(h, "</a></figcaption>\n</figure>\n");
}

/* The layer names of every configuration, when they do not all agree. */
static void layer_names_table(cli_sbuf *h, const cli_results *r)
{
    int L = r->n_diag_layers, agree = 1;
    for (int l = 0; l < L && r->diag_layer_names; l++) {
        for (int c = 0; c < r->n_configs; c++) {
            const char *n = layer_name(r, c, l), *a = agreed_name(r, l);
            if (!n || !a) agree = 0;
        }
    }
    if (agree || !r->diag_layer_names) return;
    cli_sb_puts(h, "<details>\n<summary>the layers of each configuration</summary>\n"
                   "<div class=\"wide\">\n<table>\n<thead>\n<tr><th>configuration</th>");
    for (int l = 0; l < L; l++) cli_sb_printf(h, "<th>layer %d</th>", l + 1);
    cli_sb_puts(h, "</tr>\n</thead>\n<tbody>\n");
    for (int c = 0; c < r->n_configs; c++) {
        cli_sb_puts(h, "<tr><td class=\"label\">");
        cli_sb_esc(h, r->labels[c]);
        cli_sb_puts(h, "</td>");
        for (int l = 0; l < L; l++) {
            const char *n = layer_name(r, c, l);
            cli_sb_puts(h, "<td>");
            cli_sb_esc(h, n ? n : NDASH);
            cli_sb_puts(h, "</td>");
        }
        cli_sb_puts(h, "</tr>\n");
    }
    cli_sb_puts(h, "</tbody>\n</table>\n</div>\n</details>\n");
}

ds_status cli_report_diag(const cli_results *r, const char *dir, cli_sbuf *h, ds_error *err)
{
    if (!cli_report_has_diag(r)) return DS_OK;
    int C = r->n_configs, L = r->n_diag_layers;
    dpoint *pts = malloc((size_t)C * L * sizeof *pts);
    char **shown = calloc((size_t)C, sizeof *shown);
    int oom = !pts || !shown;
    for (int c = 0; c < C && !oom; c++) oom = (shown[c] = short_label(r, c)) == NULL;
    if (oom) {
        for (int c = 0; shown && c < C; c++) free(shown[c]);
        free(shown);
        free(pts);
        return cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory");
    }

    cli_sb_puts(h, "<section id=\"diagnostics\">\n<h2>Diagnostics by layer</h2>\n"
                   "<p class=\"note\">Measured on a fixed probe set after every epoch (see "
                   "<code>docs/DIAGNOSTICS.md</code>). Each chart shows one diagnostic at the "
                   "end of training against depth, layer 1 being next to the input. Gradient "
                   "norms that fall by orders of magnitude toward layer 1 mean vanishing "
                   "gradients; <code>saturated</code> near 1, flat sigmoid or tanh units; "
                   "<code>dead</code> near 1, relu units that pass nothing on.</p>\n"
                   "<div class=\"charts\">\n");
    ds_status st = DS_OK;
    int missing[CLI_N_DIAG], n_missing = 0;
    for (int q = 0; q < CLI_N_DIAG && !st; q++) {
        int logy = diag_kind_of(cli_diag_names[q])->scale == SCALE_LOG;
        for (int c = 0; c < C; c++)
            for (int l = 0; l < L; l++) depth_point(r, c, l, q, logy, &pts[(size_t)c * L + l]);
        cli_sbuf svg = {0};
        diag_depth_chart(&svg, r, q, pts, shown);
        char file[64];
        snprintf(file, sizeof file, "diag_%s.svg", cli_diag_names[q]);
        st = cli_report_write(dir, file, &svg, err);
        if (!st && diag_has_values(r, q))
            figure(h, &svg, file);
        else
            missing[n_missing++] = q;
        free(svg.p);
    }
    free(pts);
    cli_sb_puts(h, "</div>\n");
    if (!st && n_missing > 0) {
        cli_sb_puts(h, "<p class=\"note\">No values for ");
        for (int i = 0; i < n_missing; i++) {
            if (i) cli_sb_puts(h, i + 1 == n_missing ? " and " : ", ");
            const char *name = cli_diag_names[missing[i]];
            cli_sb_printf(h, "<a href=\"diag_%s.svg\"><code>%s</code></a>", name, name);
        }
        cli_sb_puts(h, " in these layers (<code>saturated</code> applies to sigmoid, tanh, "
                       "softsign and hard_sigmoid layers, <code>dead</code> to relu "
                       "layers).</p>\n");
    }
    layer_names_table(h, r);

    int last = diag_last_epoch(r);
    if (!st && last >= 2) {
        cli_sbuf svg = {0};
        diag_epochs_chart(&svg, r, last, shown);
        st = cli_report_write(dir, "diag_epochs.svg", &svg, err);
        if (!st) {
            cli_sb_puts(h, "<details open>\n<summary>over epochs: every layer of every "
                           "configuration</summary>\n<div class=\"charts\">\n");
            figure(h, &svg, "diag_epochs.svg");
            cli_sb_puts(h, "</div>\n</details>\n");
        }
        free(svg.p);
    }
    cli_sb_puts(h, "</section>\n");
    for (int c = 0; c < C; c++) free(shown[c]);
    free(shown);
    return st;
}

/* ------------------------------------------------------------------------------------ */
/* Why runs stalled */

void cli_report_stalls(cli_sbuf *h, const cli_results *r)
{
    if (!r->stall_reasons) return;
    int C = r->n_configs, R = r->n_repeats;
    int any = 0;
    for (int i = 0; i < C * R && !any; i++)
        any = r->stall_reasons[i] || (r->stalled && r->stalled[i]);
    if (!any) return;
    static const char *const unknown = "no reason recorded";
    cli_sb_puts(h, "<section id=\"stalls\">\n<h3>Why runs stalled</h3>\n<ul>\n");
    for (int c = 0; c < C; c++) {
        /* distinct reasons, most frequent first, ties in order of first appearance */
        const char *reason[256];
        int count[256], n = 0;
        for (int rep = 0; rep < R; rep++) {
            int i = c * R + rep;
            const char *s = r->stall_reasons[i];
            if (!s && !(r->stalled && r->stalled[i])) continue;
            if (!s) s = unknown;
            int k = 0;
            while (k < n && strcmp(reason[k], s) != 0) k++;
            if (k == n) {
                if (n == 256) continue; /* more distinct reasons than anyone will read */
                reason[n] = s, count[n++] = 0;
            }
            count[k]++;
        }
        if (!n) continue;
        for (int k = 1; k < n; k++) {
            for (int j = k; j > 0 && count[j] > count[j - 1]; j--) {
                const char *ts = reason[j];
                int tc = count[j];
                reason[j] = reason[j - 1], count[j] = count[j - 1];
                reason[j - 1] = ts, count[j - 1] = tc;
            }
        }
        cli_sb_puts(h, "<li>");
        cli_sb_swatch(h, c);
        cli_sb_puts(h, "<b>");
        cli_sb_esc(h, r->labels[c]);
        cli_sb_puts(h, "</b>");
        for (int k = 0; k < n; k++) {
            cli_sb_printf(h, "%s%d of %d run%s: ", k ? "; " : ": ", count[k], R,
                          R == 1 ? "" : "s");
            cli_sb_esc(h, reason[k]);
        }
        cli_sb_puts(h, "</li>\n");
    }
    cli_sb_puts(h, "</ul>\n</section>\n");
}

/* ------------------------------------------------------------------------------------ */
/* Recorded layer outputs: a grid of scatter plots per configuration */

enum { REC_W = 720, REC_MAX_PLOTS = 25, REC_MAX_POINTS = 400 };

/* rec[((c * E + e) * P + p) * 2 + k] */
static double rec_at(const cli_results *r, int c, int e, int p, int k)
{
    return r->rec[(((size_t)c * r->n_epochs + e) * r->n_probe + p) * 2 + k];
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The probe rows drawn, in row order: all of them, or a fixed random sample of
 * REC_MAX_POINTS (a partial Fisher-Yates shuffle with a constant seed). Every k-th row
 * would alias with rows stored in a periodic class order and could miss a class. The
 * same rows in every plot, so points can be followed. NULL when out of memory. */
static int *rec_rows(const cli_results *r, int *n)
{
    int P = r->n_probe;
    int *idx = malloc((size_t)P * sizeof *idx);
    if (!idx) return NULL;
    for (int p = 0; p < P; p++) idx[p] = p;
    *n = P;
    if (P > REC_MAX_POINTS) {
        ds_rng rng;
        ds_rng_seed(&rng, 20081); /* any constant: the sample only has to be fixed */
        for (int j = 0; j < REC_MAX_POINTS; j++) {
            int k = j + (int)(ds_rng_uniform(&rng) * (P - j));
            if (k >= P) k = P - 1;
            int t = idx[j];
            idx[j] = idx[k], idx[k] = t;
        }
        *n = REC_MAX_POINTS;
        qsort(idx, REC_MAX_POINTS, sizeof *idx, cmp_int);
    }
    return idx;
}

/* The last epoch (0-based) with any recorded point of configuration c; -1 if none. */
static int rec_last_epoch(const cli_results *r, int c)
{
    for (int e = r->n_epochs - 1; e >= 0; e--)
        for (int p = 0; p < r->n_probe; p++)
            if (isfinite(rec_at(r, c, e, p, 0)) && isfinite(rec_at(r, c, e, p, 1))) return e;
    return -1;
}

/* Epochs 0 .. n - 1, or REC_MAX_PLOTS of them evenly spaced with the first and last:
 * round(j (n - 1) / (REC_MAX_PLOTS - 1)), distinct as the step exceeds 1. */
int cli_report_pick_epochs(int n, int *sel)
{
    if (n <= REC_MAX_PLOTS) {
        for (int e = 0; e < n; e++) sel[e] = e;
        return n < 0 ? 0 : n;
    }
    const long long m = REC_MAX_PLOTS - 1;
    for (int j = 0; j < REC_MAX_PLOTS; j++)
        sel[j] = (int)((2 * j * (long long)(n - 1) + m) / (2 * m));
    return REC_MAX_PLOTS;
}

static const char *class_name(const cli_results *r, int k, char *buf, size_t size)
{
    if (r->class_names && k >= 0 && k < r->n_classes && r->class_names[k])
        return r->class_names[k];
    snprintf(buf, size, "class %d", k);
    return buf;
}

/* A phrase naming the recorded layer, e.g. "layer 2 (dense_2 (relu))", for configuration
 * c, or for all when c < 0 (with the name only if they agree); escaped when esc is set. */
static void rec_layer_phrase(cli_sbuf *b, const cli_results *r, int c, int esc)
{
    int l = r->record_layer;
    if (r->record_layers && c >= 0) l = r->record_layers[c];
    /* configurations that record different layers: no common name */
    for (int k = 0; r->record_layers && c < 0 && k < r->n_configs; k++)
        if (r->record_layers[k] != l) {
            cli_sb_puts(b, "the recorded layer");
            return;
        }
    cli_sb_printf(b, "layer %d", l + 1);
    const char *n = c >= 0 ? layer_name(r, c, l) : agreed_name(r, l);
    if (n) {
        cli_sb_puts(b, " (");
        if (esc)
            cli_sb_esc(b, n);
        else
            cli_sb_puts(b, n);
        cli_sb_puts(b, ")");
    }
}

/* Draws configuration c's grid of the probe rows rows[0 .. n_rows - 1] as a standalone
 * SVG; 0 when it has no recorded outputs. */
static int rec_grid(cli_sbuf *b, const cli_results *r, int c, const int *rows, int n_rows)
{
    int last = rec_last_epoch(r, c);
    if (last < 0) return 0;
    int sel[REC_MAX_PLOTS];
    int n_plots = cli_report_pick_epochs(last + 1, sel);
    int classes = r->probe_labels != NULL && r->n_classes > 0;

    /* limits over every epoch the run reached, so that motion between plots is real */
    double x0 = D_INF, x1 = -D_INF, y0 = D_INF, y1 = -D_INF;
    for (int e = 0; e <= last; e++) {
        for (int j = 0; j < n_rows; j++) {
            int p = rows[j];
            double u = rec_at(r, c, e, p, 0), v = rec_at(r, c, e, p, 1);
            if (!isfinite(u) || !isfinite(v)) continue;
            x0 = fmin(x0, u), x1 = fmax(x1, u), y0 = fmin(y0, v), y1 = fmax(y1, v);
        }
    }
    axis ax, ay;
    ax_fit(&ax, SCALE_LINEAR, x0, x1, 3);
    ax_fit(&ay, SCALE_LINEAR, y0, y1, 3);

    /* layout: square plots in a grid about as wide as tall, centered */
    int cols = (int)ceil(sqrt((double)n_plots));
    int grid_rows = (n_plots + cols - 1) / cols;
    const double left = 60.0, right = 10.0, gap = 12.0, title_h = 15.0, gap_v = 8.0;
    double cell = (REC_W - left - right - (cols - 1) * gap) / cols;
    if (cell > 220.0) cell = 220.0;
    double grid_w = cols * cell + (cols - 1) * gap;
    double gx = left + 0.5 * (REC_W - left - right - grid_w);

    /* legend of the classes, wrapping */
    char buf[32];
    double legend_h = 0.0;
    if (classes) {
        double lx = 8.0;
        legend_h = 16.0;
        for (int k = 0; k < r->n_classes; k++) {
            double w = 30.0 + 6.4 * fmin(20.0, cli_text_chars(class_name(r, k, buf, sizeof buf)));
            if (lx + w > REC_W - 8.0 && lx > 8.0) lx = 8.0, legend_h += 16.0;
            lx += w;
        }
    }
    double gy = 50.0 + legend_h + 8.0;
    double pitch = title_h + cell + gap_v + 12.0; /* 12: x tick labels */
    int H = (int)ceil(gy + grid_rows * pitch + 22.0);
    const char *ux = r->record_pca ? "PC 1" : "unit 1", *uy = r->record_pca ? "PC 2" : "unit 2";

    cli_sbuf title = {0};
    cli_sb_puts(&title, "outputs of ");
    rec_layer_phrase(&title, r, c, 0);
    cli_sb_puts(&title, ": ");
    cli_sb_puts(&title, r->labels[c]); /* escaped by svg_open */
    if (title.oom) b->oom = 1;
    svg_open(b, REC_W, H, title.p ? title.p : "");
    free(title.p);

    cli_sb_puts(b, "<text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\">");
    cli_sb_esc_n(b, r->labels[c], 80);
    cli_sb_puts(b, "</text>\n<text x=\"8\" y=\"37\" font-size=\"11\" fill=\"#555555\">"
                   "outputs of ");
    rec_layer_phrase(b, r, c, 1);
    if (n_rows < r->n_probe)
        cli_sb_printf(b, "; %d of %d probe rows", n_rows, r->n_probe);
    else
        cli_sb_printf(b, "; %d probe rows", r->n_probe);
    if (n_plots < last + 1) cli_sb_printf(b, "; %d of %d epochs", n_plots, last + 1);
    if (r->record_pca) cli_sb_puts(b, "; PCA of the last epoch");
    cli_sb_puts(b, "</text>\n");

    if (classes) {
        double lx = 8.0, ly = 56.0;
        cli_sb_puts(b, "<g class=\"classes\" font-size=\"11\">\n");
        for (int k = 0; k < r->n_classes; k++) {
            const char *cn = class_name(r, k, buf, sizeof buf);
            double w = 30.0 + 6.4 * fmin(20.0, cli_text_chars(cn));
            if (lx + w > REC_W - 8.0 && lx > 8.0) lx = 8.0, ly += 16.0;
            cli_sb_printf(b, "<path d=\"M%.1f %.1fh0\" stroke=\"%s\" stroke-width=\"7\" "
                          "stroke-linecap=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">", lx + 5.0,
                          ly - 4.0, cli_config_color(k), (k / 8) % 2 ? "square" : "round",
                          lx + 13.0, ly);
            cli_sb_esc_n(b, cn, 20);
            cli_sb_puts(b, "</text>\n");
            lx += w;
        }
        cli_sb_puts(b, "</g>\n");
    }

    /* axis names */
    cli_sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333333\">%s"
                  "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" "
                  "text-anchor=\"middle\" fill=\"#333333\">%s</text>\n",
                  gx + 0.5 * grid_w, H - 8, ux, gy + 0.5 * grid_rows * pitch, uy);

    tick tx[16], ty[16];
    int ntx = ax_ticks(&ax, tx, 16), nty = ax_ticks(&ay, ty, 16);
    ax.p0 = 0.0, ax.p1 = cell, ay.p0 = cell, ay.p1 = 0.0;
    for (int i = 0; i < n_plots; i++) {
        int e = sel[i], row = i / cols, col = i % cols;
        double ox = gx + col * (cell + gap), oy = gy + row * pitch + title_h;
        cli_sb_printf(b, "<g class=\"plot\" transform=\"translate(%.1f %.1f)\">\n", ox, oy);
        double acc = r->rec_accuracy ? r->rec_accuracy[(size_t)c * r->n_epochs + e] : D_NAN;
        cli_sb_printf(b, "<text x=\"%.1f\" y=\"-4\" font-size=\"11\" text-anchor=\"middle\">"
                      "epoch %d", 0.5 * cell, e + 1);
        if (isfinite(acc)) cli_sb_printf(b, " " NDASH " acc %.2f", acc);
        cli_sb_printf(b, "</text>\n<rect width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" "
                      "stroke=\"#bbbbbb\"/>\n<g stroke=\"#ececec\">", cell, cell);
        for (int k = 0; k < ntx; k++)
            cli_sb_printf(b, "<path d=\"M%.1f 0V%.1f\"/>", ax_pos(&ax, tx[k].v), cell);
        for (int k = 0; k < nty; k++)
            cli_sb_printf(b, "<path d=\"M0 %.1fH%.1f\"/>", ax_pos(&ay, ty[k].v), cell);
        cli_sb_puts(b, "</g>\n");
        /* tick labels on the outer plots: left column, and the lowest plot of a column */
        if (col == 0) {
            cli_sb_puts(b, "<g font-size=\"9\" fill=\"#555555\" text-anchor=\"end\">");
            for (int k = 0; k < nty; k++)
                cli_sb_printf(b, "<text x=\"-3\" y=\"%.1f\">%s</text>", ax_pos(&ay, ty[k].v) + 3.0,
                              ty[k].label);
            cli_sb_puts(b, "</g>\n");
        }
        if (i + cols >= n_plots) {
            /* the edge labels of neighbouring plots would run together */
            int inner = ntx >= 4 && cols > 1;
            cli_sb_puts(b, "<g font-size=\"9\" fill=\"#555555\" text-anchor=\"middle\">");
            for (int k = inner; k < ntx - inner; k++)
                cli_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", ax_pos(&ax, tx[k].v),
                              cell + 10.0, tx[k].label);
            cli_sb_puts(b, "</g>\n");
        }
        /* the points of each class as dots: zero-length strokes with round (or square)
         * caps; unlabelled rows (regression) in one color */
        int k_lo = classes ? 0 : -1, k_hi = classes ? r->n_classes : 0;
        for (int k = k_lo; k < k_hi; k++) {
            cli_sbuf d = {0};
            for (int j = 0; j < n_rows; j++) {
                int p = rows[j];
                if (classes && r->probe_labels[p] != k) continue;
                double u = rec_at(r, c, e, p, 0), v = rec_at(r, c, e, p, 1);
                if (!isfinite(u) || !isfinite(v)) continue;
                cli_sb_printf(&d, "M%.1f %.1fh0", ax_pos(&ax, u), ax_pos(&ay, v));
            }
            if (d.oom) b->oom = 1;
            if (d.len)
                cli_sb_printf(b, "<path stroke=\"%s\" stroke-width=\"%.1f\" "
                              "stroke-linecap=\"%s\" stroke-opacity=\"0.75\" d=\"%s\"/>\n",
                              k < 0 ? "#0072B2" : cli_config_color(k), cell >= 120.0 ? 3.4 : 2.8,
                              k >= 0 && (k / 8) % 2 ? "square" : "round", d.p);
            free(d.p);
        }
        cli_sb_puts(b, "</g>\n");
    }
    cli_sb_puts(b, "</svg>\n");
    return 1;
}

ds_status cli_report_layer_outputs(const cli_results *r, const char *dir, cli_sbuf *h,
                                   ds_error *err)
{
    if (!cli_report_has_rec(r)) return DS_OK;
    cli_sb_puts(h, "<section id=\"layer-outputs\">\n<h2>Outputs of ");
    rec_layer_phrase(h, r, -1, 1);
    cli_sb_printf(h, "</h2>\n<p class=\"note\">For the first repeat of each configuration, the "
                  "outputs of this layer on the %d probe rows after every epoch", r->n_probe);
    if (r->record_pca)
        cli_sb_puts(h, ", projected on their first two principal components (fitted on the "
                       "last epoch)");
    else
        cli_sb_puts(h, " (its two units)");
    cli_sb_puts(h, ". Colors are the rows' classes; the axes stay the same for all epochs of "
                   "a configuration, so movement between plots is real. "
                   "<i>acc</i> is the accuracy on the probe rows after that epoch.</p>\n"
                   "<div class=\"charts\">\n");
    int n_rows = 0;
    int *rows = rec_rows(r, &n_rows);
    if (!rows) return cli_fail_status(err, DS_ERR_NOMEM, "report: out of memory");
    ds_status st = DS_OK;
    int n_empty = 0;
    for (int c = 0; c < r->n_configs && !st; c++) {
        cli_sbuf svg = {0};
        if (!rec_grid(&svg, r, c, rows, n_rows)) {
            n_empty++;
            continue;
        }
        char file[64];
        snprintf(file, sizeof file, "layer_%d.svg", c + 1);
        st = cli_report_write(dir, file, &svg, err);
        if (!st) figure(h, &svg, file);
        free(svg.p);
    }
    free(rows);
    cli_sb_puts(h, "</div>\n");
    if (n_empty) {
        cli_sb_puts(h, "<p class=\"note\">Nothing recorded for ");
        for (int c = 0, shown = 0; c < r->n_configs; c++) {
            if (rec_last_epoch(r, c) >= 0) continue;
            if (shown++) cli_sb_puts(h, ", ");
            cli_sb_esc(h, r->labels[c]);
        }
        cli_sb_puts(h, ".</p>\n");
    }
    cli_sb_puts(h, "</section>\n");
    return st;
}
