/*
 * harness.h - a minimal test harness: each test is a function; CHECK records a failure
 * with file and line and carries on; RUN prints "ok NAME" or "FAIL NAME" per test.
 * A test binary exits 1 when any test failed. tests/run.sh counts the lines.
 */
#ifndef DS_HARNESS_H
#define DS_HARNESS_H

#include <math.h>
#include <stdio.h>

static int th_failed_checks; /* failures in the current test */
static int th_tests_failed;
static int th_tests_run;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            th_failed_checks++;                                                            \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                                      \
    do {                                                                                   \
        double th_a = (double)(a), th_b = (double)(b);                                     \
        CHECK(fabs(th_a - th_b) <= (atol) + (rtol) * fabs(th_b), "%s = %.9g, expected %.9g", \
              #a, th_a, th_b);                                                             \
    } while (0)

#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        ds_error th_err = {0};                                                             \
        (void)th_err;                                                                      \
        int th_s = (int)(expr);                                                            \
        CHECK(th_s == 0, "status %d", th_s);                                               \
    } while (0)

#define RUN(fn)                                                                            \
    do {                                                                                   \
        th_failed_checks = 0;                                                              \
        fn();                                                                              \
        th_tests_run++;                                                                    \
        if (th_failed_checks) {                                                            \
            th_tests_failed++;                                                             \
            printf("FAIL %s\n", #fn);                                                      \
        } else {                                                                           \
            printf("ok %s\n", #fn);                                                        \
        }                                                                                  \
        fflush(stdout);                                                                    \
    } while (0)

#define HARNESS_DONE() (th_tests_failed ? 1 : 0)

#endif
