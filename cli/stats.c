/*
 * stats.c - see stats.h. The t quantile inverts the t CDF by bisection; the CDF comes from
 * the regularized incomplete beta function, evaluated with its continued fraction
 * (Abramowitz and Stegun 26.5.8) by the modified Lentz method (Thompson and Barnett,
 * J. Comput. Phys. 64, 1986). Checked against mpmath to about 1e-13 (relative).
 */
#include "stats.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "utf8.h"

/* NAN and INFINITY are float constants; these spare a promotion warning per use. */
#define D_NAN ((double)NAN)
#define D_INF ((double)INFINITY)

/* ------------------------------------------------------------------------------------ */
/* Student's t distribution */

/* The continued fraction of I_x(a, b) (A&S 26.5.8):
 *   I_x(a,b) = x^a y^b / (a B(a,b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))
 *   d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),  d_{2m} = m(b-m) x / ((a+2m-1)(a+2m))
 * with y = 1 - x passed separately so that it keeps its precision. It converges fast for
 * x < (a+1)/(a+b+2); the caller uses the symmetry I_x(a,b) = 1 - I_y(b,a) otherwise. */
static double beta_cf(double a, double b, double x, double y)
{
    const double tiny = 1e-300;
    const double eps = 1e-16;
    /* f = b0 + a1/(b1 + a2/(b2 + ...)) with b0 = 0, b_j = 1, a1 = 1, a_{j+1} = d_j */
    double f = tiny, c = tiny, d = 0.0;
    for (int j = 1; j <= 200000; j++) {
        double aj;
        if (j == 1) {
            aj = 1.0;
        } else {
            int i = j - 1; /* d_i */
            int m = i / 2;
            if (i % 2 == 1)
                aj = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            else
                aj = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        }
        d = 1.0 + aj * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aj / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double delta = c * d;
        f *= delta;
        if (fabs(delta - 1.0) < eps) break;
    }
    double lbeta = lgamma(a) + lgamma(b) - lgamma(a + b);
    return exp(a * log(x) + b * log(y) - lbeta) / a * f;
}

/* I_x(a, b) with y = 1 - x given accurately by the caller. */
static double beta_inc2(double a, double b, double x, double y)
{
    if (x <= 0.0) return 0.0;
    if (y <= 0.0) return 1.0;
    if (x < (a + 1.0) / (a + b + 2.0)) return beta_cf(a, b, x, y);
    return 1.0 - beta_cf(b, a, y, x);
}

double cli_beta_inc(double a, double b, double x)
{
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0)) return D_NAN;
    return beta_inc2(a, b, x, 1.0 - x);
}

/* P(T > t) for t >= 0: I_{df/(df+t^2)}(df/2, 1/2) / 2. */
static double t_upper_tail(double t, double df)
{
    double t2 = t * t;
    if (isinf(t2)) return 0.0;
    return 0.5 * beta_inc2(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2));
}

double cli_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0.0)) return D_NAN;
    double tail = t_upper_tail(fabs(t), df);
    return t >= 0.0 ? 1.0 - tail : tail;
}

double cli_t_quantile(double p, double df)
{
    if (isnan(p) || p < 0.0 || p > 1.0 || !(df > 0.0)) return D_NAN;
    if (p == 0.0) return -D_INF;
    if (p == 1.0) return D_INF;
    if (p == 0.5) return 0.0;
    /* solve P(T > t) = q for t >= 0, then attach the sign; 1 - p is exact for p >= 0.5 */
    double q = p < 0.5 ? p : 1.0 - p;
    double lo = 0.0, hi = 1.0;
    while (t_upper_tail(hi, df) > q) {
        lo = hi;
        hi *= 2.0;
        if (isinf(hi)) return p < 0.5 ? -D_INF : D_INF;
    }
    /* the tail decreases in t: keep tail(lo) > q >= tail(hi) */
    for (int it = 0; it < 2000 && hi - lo > 2.0 * DBL_EPSILON * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (t_upper_tail(mid, df) > q)
            lo = mid;
        else
            hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return p < 0.5 ? -t : t;
}

/* ------------------------------------------------------------------------------------ */
/* Descriptive statistics */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The k-th smallest (0-based) finite value of v by counting ranks: O(n^2), used only when
 * there is no memory to sort a copy. */
static double kth_finite(const double *v, int n, int k)
{
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            if (!isfinite(v[j])) continue;
            less += v[j] < v[i];
            equal += v[j] == v[i];
        }
        if (less <= k && k < less + equal) return v[i];
    }
    return D_NAN;
}

void cli_stat_compute(const double *v, int n, cli_stat *out)
{
    out->n = 0;
    out->mean = out->std = out->min = out->max = out->median = D_NAN;
    out->ci_low = out->ci_high = D_NAN;

    int m = 0;
    double sum = 0.0, lo = D_INF, hi = -D_INF;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        m++;
        sum += v[i];
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    if (m == 0) return;
    double mean = sum / m;
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - mean) * (v[i] - mean);

    /* median: sort the finite values in a stack buffer when they fit, else on the heap */
    double small[64];
    double *buf = m <= 64 ? small : malloc((size_t)m * sizeof *buf);
    double median;
    if (buf) {
        int j = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(v[i])) buf[j++] = v[i];
        qsort(buf, (size_t)m, sizeof *buf, cmp_double);
        median = m % 2 ? buf[m / 2] : 0.5 * (buf[m / 2 - 1] + buf[m / 2]);
        if (buf != small) free(buf);
    } else {
        median = m % 2 ? kth_finite(v, n, m / 2)
                       : 0.5 * (kth_finite(v, n, m / 2 - 1) + kth_finite(v, n, m / 2));
    }

    out->n = m;
    out->mean = mean;
    out->min = lo;
    out->max = hi;
    out->median = median;
    if (m == 1) {
        out->std = 0.0;
        out->ci_low = -D_INF;
        out->ci_high = D_INF;
        return;
    }
    out->std = sqrt(ss / (m - 1));
    /* every statistic of a sweep has the same number of runs: the quantile is kept */
    static _Thread_local int known_df;
    static _Thread_local double known_q;
    if (known_df != m - 1) {
        known_q = cli_t_quantile(0.975, m - 1);
        known_df = m - 1;
    }
    double half = known_q * out->std / sqrt((double)m);
    out->ci_low = mean - half;
    out->ci_high = mean + half;
}

/* ------------------------------------------------------------------------------------ */
/* Summary of a sweep */

static ds_status check_results(const cli_results *r, ds_error *err)
{
    if (!r) return cli_fail_status(err, DS_ERR_ARG, "summary: no results");
    if (r->n_configs < 1 || r->n_repeats < 1)
        return cli_fail_status(err, DS_ERR_ARG, "summary: %d configurations x %d repeats: need at least 1",
                    r->n_configs, r->n_repeats);
    if (r->n_vary < 0 || (r->n_vary > 0 && (!r->vary_names || !r->values)))
        return cli_fail_status(err, DS_ERR_ARG, "summary: %d varied settings without names or values",
                    r->n_vary);
    if (r->n_metrics < 0 || r->n_metrics > CLI_MAX_METRICS || r->n_test < 0 ||
        r->n_test > CLI_MAX_METRICS)
        return cli_fail_status(err, DS_ERR_ARG, "summary: %d history and %d test metrics (at most %d)",
                    r->n_metrics, r->n_test, CLI_MAX_METRICS);
    if (r->n_epochs < 0 || (r->n_metrics > 0 && r->n_epochs > 0 && !r->curves))
        return cli_fail_status(err, DS_ERR_ARG, "summary: %d epochs of %d metrics without curves",
                    r->n_epochs, r->n_metrics);
    if (r->n_test > 0 && !r->test)
        return cli_fail_status(err, DS_ERR_ARG, "summary: %d test metrics without values", r->n_test);
    for (int k = 0; k < r->n_metrics; k++)
        if (!r->metrics[k]) return cli_fail_status(err, DS_ERR_ARG, "summary: history metric %d unnamed", k);
    for (int k = 0; k < r->n_test; k++)
        if (!r->test_metrics[k]) return cli_fail_status(err, DS_ERR_ARG, "summary: test metric %d unnamed", k);
    return DS_OK;
}

static int has_target(const cli_results *r)
{
    return r->target_metric != NULL && r->epochs_to_target != NULL;
}

ds_status cli_summarize(const cli_results *r, cli_summary *out, ds_error *err)
{
    ds_status st = check_results(r, err);
    if (st) return st;
    if (!out) return cli_fail_status(err, DS_ERR_ARG, "summary: no output");
    int R = r->n_repeats, E = r->n_epochs, K = r->n_metrics;
    double *v = malloc((size_t)R * sizeof *v);
    if (!v) return cli_fail_status(err, DS_ERR_NOMEM, "summary: out of memory");

    for (int c = 0; c < r->n_configs; c++) {
        cli_summary *s = &out[c];
        memset(s, 0, sizeof *s);
        for (int k = 0; k < K; k++) {
            for (int rep = 0; rep < R; rep++) {
                /* curve (E) of run (c, rep), metric k; its last finite value */
                const double *curve = r->curves + ((size_t)(c * R + rep) * K + k) * E;
                v[rep] = D_NAN;
                for (int e = E - 1; e >= 0; e--) {
                    if (isfinite(curve[e])) {
                        v[rep] = curve[e];
                        break;
                    }
                }
            }
            cli_stat_compute(v, R, &s->final[k]);
        }
        for (int k = 0; k < r->n_test; k++) {
            for (int rep = 0; rep < R; rep++)
                v[rep] = r->test[(size_t)(c * R + rep) * r->n_test + k];
            cli_stat_compute(v, R, &s->test[k]);
        }

        int reached = 0;
        for (int rep = 0; rep < R; rep++) {
            int run = c * R + rep;
            if (has_target(r)) {
                if (r->epochs_to_target[run] >= 0)
                    v[reached++] = r->epochs_to_target[run];
                else
                    s->never_reached++;
            }
            if (r->stalled && r->stalled[run]) s->stalls++;
            if (r->diverged && r->diverged[run]) s->diverged++;
            if (r->restarts) s->restarts += r->restarts[run];
        }
        cli_stat stat;
        cli_stat_compute(v, reached, &stat);
        s->median_epochs_to_target = stat.median;
    }
    free(v);
    return DS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* summary.csv */

/* Writes s as UTF-8, with U+FFFD for invalid bytes (pandas reads UTF-8 by default);
 * doubles quotes when quoted. */
static void csv_text(FILE *f, const char *s, int quoted)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned long cp;
        int len = cli_utf8_decode(p + i, n - i, &cp);
        if (len == 0) {
            fputs(CLI_UTF8_REPLACEMENT, f);
            i++;
            continue;
        }
        if (quoted && cp == '"') fputc('"', f);
        fwrite(p + i, 1, (size_t)len, f);
        i += (size_t)len;
    }
}

/* Writes the concatenation a b c as one CSV field, quoted when it holds a comma, a quote
 * or a line break (RFC 4180: quotes inside are doubled). */
static void csv_field3(FILE *f, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a ? a : "", b ? b : "", c ? c : ""};
    int quote = 0;
    for (int i = 0; i < 3; i++)
        if (strpbrk(parts[i], ",\"\r\n")) quote = 1;
    if (quote) fputc('"', f);
    for (int i = 0; i < 3; i++) csv_text(f, parts[i], quote);
    if (quote) fputc('"', f);
}

static void csv_num(FILE *f, double x)
{
    if (isnan(x))
        fputs("nan", f);
    else if (isinf(x))
        fputs(x > 0 ? "inf" : "-inf", f);
    else
        fprintf(f, "%.6g", x);
}

static const char *const stat_suffix[6] = {"_mean", "_std",      "_min",
                                           "_max",  "_ci95_low", "_ci95_high"};

/* Starts the next field of a row: a comma before every field but the first. */
static void csv_next(FILE *f, int *col)
{
    if ((*col)++) fputc(',', f);
}

ds_status cli_write_summary_csv(const cli_results *r, const cli_summary *s, const char *path,
                                ds_error *err)
{
    ds_status st = check_results(r, err);
    if (st) return st;
    if (!s || !path) return cli_fail_status(err, DS_ERR_ARG, "summary.csv: no summary or path");
    cli_atomic a;
    st = cli_atomic_open(&a, path, err);
    if (st) return st;
    FILE *f = a.f;
    int n_stat = r->n_metrics + r->n_test;
    static const char *const tail[6] = {"repeats",  "median_epochs_to_target",
                                        "never_reached_target", "stalls",
                                        "restarts", "diverged"};

    int col = 0;
    for (int v = 0; v < r->n_vary; v++) {
        csv_next(f, &col);
        csv_field3(f, r->vary_names[v], NULL, NULL);
    }
    for (int k = 0; k < n_stat; k++) {
        int is_test = k >= r->n_metrics;
        const char *name = is_test ? r->test_metrics[k - r->n_metrics] : r->metrics[k];
        for (int i = 0; i < 6; i++) {
            csv_next(f, &col);
            csv_field3(f, is_test ? "test_" : "", name, stat_suffix[i]);
        }
    }
    for (int i = 0; i < 6; i++) {
        csv_next(f, &col);
        fputs(tail[i], f);
    }
    fputc('\n', f);

    for (int c = 0; c < r->n_configs; c++) {
        col = 0;
        for (int v = 0; v < r->n_vary; v++) {
            csv_next(f, &col);
            csv_field3(f, r->values[c * r->n_vary + v], NULL, NULL);
        }
        for (int k = 0; k < n_stat; k++) {
            const cli_stat *x = k < r->n_metrics ? &s[c].final[k] : &s[c].test[k - r->n_metrics];
            const double val[6] = {x->mean, x->std, x->min, x->max, x->ci_low, x->ci_high};
            for (int i = 0; i < 6; i++) {
                csv_next(f, &col);
                csv_num(f, val[i]);
            }
        }
        csv_next(f, &col);
        fprintf(f, "%d", r->n_repeats);
        csv_next(f, &col);
        csv_num(f, s[c].median_epochs_to_target);
        csv_next(f, &col);
        if (has_target(r)) fprintf(f, "%d", s[c].never_reached);
        fprintf(f, ",%d,%d,%d\n", s[c].stalls, s[c].restarts, s[c].diverged);
    }
    return cli_atomic_commit(&a, err);
}
