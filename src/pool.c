/*
 * pool.c - a small pool of worker threads owned by one model: ds_pool_run hands out
 * numbered tasks to the workers and the calling thread and returns when all are done.
 *
 * A run publishes (fn, ctx, n_tasks) and bumps a generation counter; every thread then
 * takes task numbers from a shared counter until none are left. Which thread runs which
 * task varies from run to run, so tasks must write disjoint results whose values do not
 * depend on the thread (the dense kernels guarantee that). Between runs the workers spin
 * for a short while, since in training the next run follows within microseconds, then
 * sleep on a condition variable. Deliberately absent: priorities, nested runs, work
 * stealing between runs.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* how long an idle worker spins before it sleeps: about 50 to 100 microseconds */
enum { SPIN_ROUNDS = 4000 };

struct ds_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation; /* bumped once per run */
    atomic_int next_task;
    atomic_int n_done; /* workers finished with the current run */
    atomic_int stop;
    /* the current run, written before generation is bumped */
    ds_task_fn fn;
    void *ctx;
    int n_tasks;
};

static void run_tasks(ds_pool *p)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t);
    }
}

static void *worker(void *arg)
{
    ds_pool *p = arg;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            if (++spins < SPIN_ROUNDS) {
                CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_relaxed))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        seen = g;
        run_tasks(p);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
    return NULL;
}

ds_status ds_pool_create(ds_pool **out, int n_threads, ds_error *err)
{
    *out = NULL;
    if (n_threads < 2 || n_threads > DS_MAX_THREADS)
        return ds_fail(err, DS_ERR_ARG, "threads: %d workers is not in [2, %d]", n_threads,
                       DS_MAX_THREADS);
    ds_pool *p = calloc(1, sizeof *p);
    if (!p) return ds_fail(err, DS_ERR_NOMEM, "threads: out of memory");
    p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return ds_fail(err, DS_ERR_NOMEM, "threads: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0u);
    atomic_init(&p->next_task, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->stop, 0);
    p->n_threads = 1;
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            ds_pool_free(p);
            return ds_fail(err, DS_ERR_STATE, "threads: the system refused thread %d of %d",
                           i + 2, n_threads);
        }
        p->n_threads++;
    }
    *out = p;
    return DS_OK;
}

void ds_pool_free(ds_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads - 1; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int ds_pool_threads(const ds_pool *p) { return p ? p->n_threads : 1; }

void ds_pool_run(ds_pool *p, int n_tasks, ds_task_fn fn, void *ctx)
{
    if (!p || n_tasks <= 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    /* the release publishes fn, ctx and n_tasks; the lock orders it with sleepers */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1u, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p);
    const int workers = p->n_threads - 1;
    int spins = 0;
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) < workers) {
        if (++spins < SPIN_ROUNDS) CPU_RELAX();
        else sched_yield();
    }
}
