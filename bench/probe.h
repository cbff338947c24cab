/*
 * probe.h - the machine's FMA peak, for the benchmarks: independent FMA chains kept in
 * registers (12 accumulators, enough to cover the FMA latency on two pipes) with the
 * widest vectors the processor has, on one thread or on several at once (to see how
 * many cores a shared machine really gives right now), and how far apart two of its
 * processors are (the time a cache line takes to go from one to the other and back).
 */
#ifndef DS_BENCH_PROBE_H
#define DS_BENCH_PROBE_H

#include "../src/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static inline double probe_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(DS_HAVE_X86_KERNELS)
#include <immintrin.h>

/* 12 chains a = a * x + y, n rounds; the empty asm keeps every chain alive and distinct */
#define PROBE_CHAINS(T, SET, FMA, C)                                                       \
    T a0 = SET(1.0f), a1 = SET(1.1f), a2 = SET(1.2f), a3 = SET(1.3f), a4 = SET(1.4f),      \
      a5 = SET(1.5f), a6 = SET(1.6f), a7 = SET(1.7f), a8 = SET(1.8f), a9 = SET(1.9f),      \
      a10 = SET(2.0f), a11 = SET(2.1f);                                                    \
    const T x = SET(0.999999f), y = SET(1e-7f);                                            \
    double t = probe_now();                                                                \
    for (long i = 0; i < n; i++) {                                                         \
        a0 = FMA(a0, x, y), a1 = FMA(a1, x, y), a2 = FMA(a2, x, y), a3 = FMA(a3, x, y);    \
        a4 = FMA(a4, x, y), a5 = FMA(a5, x, y), a6 = FMA(a6, x, y), a7 = FMA(a7, x, y);    \
        a8 = FMA(a8, x, y), a9 = FMA(a9, x, y), a10 = FMA(a10, x, y), a11 = FMA(a11, x, y); \
        __asm__ volatile(""                                                                \
                         : "+" C(a0), "+" C(a1), "+" C(a2), "+" C(a3), "+" C(a4), "+" C(a5), \
                           "+" C(a6), "+" C(a7), "+" C(a8), "+" C(a9), "+" C(a10),        \
                           "+" C(a11));                                                    \
    }                                                                                      \
    t = probe_now() - t

/* GFLOP/s of n rounds of 12 AVX-512 FMAs */
__attribute__((target("avx512f"), unused)) static double probe_avx512(long n)
{
    PROBE_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, "v");
    return (double)n * 12 * 32 / t / 1e9;
}

/* GFLOP/s of n rounds of 12 AVX2 FMAs */
__attribute__((target("avx2,fma"), unused)) static double probe_avx2(long n)
{
    PROBE_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, "x");
    return (double)n * 12 * 16 / t / 1e9;
}
#endif

/* The peak in GFLOP/s from about `ms` milliseconds of probing (0 without x86 kernels). */
static inline double probe_peak(double ms)
{
#if defined(DS_HAVE_X86_KERNELS)
    long n = (long)(ms * 1e-3 * 120e9 / (12 * 32)); /* rounds at about 120 GFLOP/s */
    if (ds_kernel_available(DS_KERNEL_AVX512)) return probe_avx512(n);
    if (ds_kernel_available(DS_KERNEL_AVX2)) return probe_avx2(2 * n);
#endif
    (void)ms;
    return 0.0;
}

typedef struct {
    double ms, gflops;
} probe_arg;

static void *probe_thread(void *arg)
{
    probe_arg *a = arg;
    a->gflops = probe_peak(a->ms);
    return NULL;
}

/* Total GFLOP/s of the probe run on n threads at once (n <= 16). */
static inline double probe_peak_threads(int n, double ms)
{
    pthread_t th[16];
    probe_arg arg[16];
    if (n > 16) n = 16;
    for (int i = 1; i < n; i++) {
        arg[i].ms = ms;
        if (pthread_create(&th[i], NULL, probe_thread, &arg[i])) n = i;
    }
    double total = probe_peak(ms);
    for (int i = 1; i < n; i++) {
        pthread_join(th[i], NULL);
        total += arg[i].gflops;
    }
    return total;
}

/* The cost of writing what another thread has read: one thread (the caller) updates a
 * 1 MB buffer in place (x = x / 2 + r), first right after reading it itself, then right
 * after a second thread has read it too, so that every line must be taken back from the
 * other processor's cache. Medians over `rounds` of each, in microseconds. On one machine
 * the second is the price of cutting a product one way and its update another. */
typedef struct {
    float *buf;
    size_t n;
    int rounds;
    _Atomic int phase;
} probe_share;

static float probe_share_read(const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i += 16) s += b[i];
    return s;
}

static void *probe_share_reader(void *arg)
{
    probe_share *p = arg;
    for (int r = 0; r < p->rounds; r++) {
        while (atomic_load(&p->phase) != 2 * r + 1) sched_yield();
        volatile float s = probe_share_read(p->buf, p->n);
        (void)s;
        atomic_store(&p->phase, 2 * r + 2);
    }
    return NULL;
}

static int probe_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* *own: the update after the caller's own read; *other: after the other thread's */
static inline void probe_shared_write(double *own, double *other)
{
    enum { ROUNDS = 31 };
    probe_share p;
    p.n = (size_t)1 << 18; /* 1 MB */
    p.rounds = ROUNDS;
    atomic_init(&p.phase, 0);
    p.buf = calloc(p.n, sizeof(float));
    double t_own[ROUNDS], t_other[ROUNDS];
    pthread_t th;
    *own = *other = 0.0;
    if (!p.buf || pthread_create(&th, NULL, probe_share_reader, &p)) {
        free(p.buf);
        return;
    }
    float *b = p.buf;
    enum { n = 1 << 18 }; /* a constant count: gcc -O2 vectorizes the loops then */
    for (int r = 0; r < ROUNDS; r++) {
        volatile float s = probe_share_read(b, n);
        (void)s;
        const float add = (float)r;
        double t = probe_now();
        for (size_t i = 0; i < n; i++) b[i] = b[i] * 0.5f + add;
        t_own[r] = probe_now() - t;
        atomic_store(&p.phase, 2 * r + 1);
        while (atomic_load(&p.phase) != 2 * r + 2) sched_yield();
        t = probe_now();
        for (size_t i = 0; i < n; i++) b[i] = b[i] * 0.5f + add;
        t_other[r] = probe_now() - t;
    }
    pthread_join(th, NULL);
    qsort(t_own, ROUNDS, sizeof(double), probe_cmp);
    qsort(t_other, ROUNDS, sizeof(double), probe_cmp);
    *own = t_own[ROUNDS / 2] * 1e6;
    *other = t_other[ROUNDS / 2] * 1e6;
    free(p.buf);
}

/* How far apart the processors running two threads are: the caller and a second thread
 * pass a counter back and forth through one cache line, `trips` times; nanoseconds per
 * round trip (0 when the thread cannot start). Processors sharing a cache answer in some
 * tens of nanoseconds; a shared virtual machine (docs/PERFORMANCE.md) answered 55-70 ns
 * in some minutes and 320-410 ns in others, and two threads of one training step lose to
 * one thread in the second case (src/pool.c). */
typedef struct {
    _Alignas(64) _Atomic long ball;
    int trips;
} probe_pingpong;

static void *probe_pong(void *arg)
{
    probe_pingpong *p = arg;
    for (long i = 0; i < p->trips; i++) {
        while (atomic_load_explicit(&p->ball, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&p->ball, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static inline double probe_round_trip(int trips)
{
    probe_pingpong p;
    atomic_init(&p.ball, 0);
    p.trips = trips;
    pthread_t th;
    if (pthread_create(&th, NULL, probe_pong, &p)) return 0.0;
    double t = probe_now();
    for (long i = 0; i < trips; i++) {
        atomic_store_explicit(&p.ball, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&p.ball, memory_order_acquire) != 2 * i + 2) {
        }
    }
    t = probe_now() - t;
    pthread_join(th, NULL);
    return t / trips * 1e9;
}

#endif
