/*
 * stats.h - statistics of a sweep: descriptive statistics with a Student-t confidence
 * interval for one quantity (cli_stat_compute), the per-configuration summary of a sweep
 * (cli_summarize) and its table summary.csv (cli_write_summary_csv).
 *
 * Deliberately left out: tests between configurations (paired t, Wilcoxon) and any
 * plotting (report.h draws the charts).
 */
#ifndef CLI_STATS_H
#define CLI_STATS_H

#include "descent.h"
#include "results.h"

/* The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1.
 * Returns NaN for arguments outside that domain. Accurate to about 1e-14. */
double cli_beta_inc(double a, double b, double x);

/* The CDF of Student's t distribution with df > 0 degrees of freedom at t:
 * P(T <= t) = 1 - I_{df/(df+t^2)}(df/2, 1/2) / 2 for t >= 0, symmetric for t < 0. */
double cli_t_cdf(double t, double df);

/* The quantile of Student's t distribution: the t with cli_t_cdf(t, df) = p, for
 * 0 < p < 1 and df > 0 (found by bisection on the CDF to double precision).
 * Returns -inf / +inf for p = 0 / 1 and NaN for p or df outside their domains.
 * E.g. cli_t_quantile(0.975, 9) = 2.2622. */
double cli_t_quantile(double p, double df);

/* Statistics of the values v[0..n-1] (v may be NULL when n == 0). Values that are not
 * finite (NaN, +-inf) are ignored; out->n counts the rest.
 *   mean, median, min, max   as usual (median: mean of the two middle values for even n)
 *   std                      sample standard deviation (ddof = 1), 0 when n == 1
 *   ci_low, ci_high          95% confidence interval of the mean:
 *                            mean -+ t(0.975, n - 1) * std / sqrt(n)
 * With n == 1 the interval is infinite (ci_low = -inf, ci_high = +inf): one value says
 * nothing about the spread. With n == 0 every field but n is NaN. */
void cli_stat_compute(const double *v, int n, cli_stat *out);

/* Summarizes every configuration of r into out[0 .. r->n_configs - 1]:
 *   final[k]   statistics over repeats of each run's last finite value of history metric
 *              k (a run that stopped early contributes its last epoch; a run with no
 *              finite value contributes nothing)
 *   test[k]    statistics over repeats of test metric k
 *   median_epochs_to_target   median of epochs_to_target over the runs that reached the
 *              target (a value v >= 0 is read as "reached after v epochs"); NaN when
 *              none did or no target was set (r->target_metric or r->epochs_to_target
 *              NULL)
 *   never_reached             runs with epochs_to_target < 0 (0 without a target)
 *   stalls, diverged          runs whose final attempt stalled / diverged
 *   restarts                  restarts summed over the configuration's runs
 * The per-run arrays seeds, restarts, stalled, diverged and epochs_to_target may be NULL
 * (counted as zero / absent). DS_ERR_ARG for an inconsistent r, DS_ERR_NOMEM. */
ds_status cli_summarize(const cli_results *r, cli_summary *out, ds_error *err);

/* Writes summary.csv to path (atomically): a header and one row per configuration, with
 * the columns
 *   <vary_names...>                             the configuration's varied values
 *   <m>_mean,_std,_min,_max,_ci95_low,_ci95_high   for each history metric m (final values)
 *   test_<m>_mean, ...                          the same for each test metric m
 *   repeats, median_epochs_to_target, never_reached_target, stalls, restarts, diverged
 * No comment lines, so pandas.read_csv reads it as is. Fields with a comma, quote or line
 * break are quoted (RFC 4180); invalid UTF-8 bytes become U+FFFD. Numbers are printed with
 * %.6g, NaN as "nan" and infinities as "inf" / "-inf"; never_reached_target is empty when
 * no target was set.
 * s holds r->n_configs summaries from cli_summarize. */
ds_status cli_write_summary_csv(const cli_results *r, const cli_summary *s, const char *path,
                                ds_error *err);

#endif
