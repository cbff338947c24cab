/*
 * pool.c - a small pool of worker threads owned by one model: ds_pool_run hands out
 * numbered tasks to the workers and the calling thread and returns when all are done.
 *
 * A run publishes (fn, ctx) and then a 64-bit ticket holding the run's generation, its
 * number of tasks and the next task number. Threads claim tasks by advancing the ticket
 * with compare-and-swap, which fails once every task is claimed, so the caller never
 * waits for a worker that has not claimed anything: on a busy machine where a worker gets
 * no processor, the caller simply runs every task itself. It waits only until every
 * claimed task is finished. A claim succeeds only on the current ticket, and fn and ctx
 * are read after it, so a late worker can never mix two runs. Which thread runs which
 * task varies, so tasks must write disjoint results whose values do not depend on the
 * thread (the dense kernels guarantee that). Idle workers spin briefly (the next run
 * usually follows within microseconds in training), then sleep on a condition variable.
 * Deliberately absent: priorities, nested runs, affinity.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* how long an idle worker spins before it sleeps: some tens of microseconds */
enum { SPIN_ROUNDS = 2000 };

/* the ticket: generation (24 bits) | number of tasks (20 bits) | next task (20 bits) */
#define TASK_BITS 20
#define MAX_TASKS ((1 << TASK_BITS) - 1)
static uint32_t ticket_gen(uint64_t t) { return (uint32_t)(t >> (2 * TASK_BITS)); }
static int ticket_tasks(uint64_t t) { return (int)((t >> TASK_BITS) & MAX_TASKS); }
static int ticket_next(uint64_t t) { return (int)(t & MAX_TASKS); }

typedef struct {
    ds_pool *pool;
    int thread;
} worker_arg;

struct ds_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    _Atomic uint64_t ticket;
    atomic_int finished; /* tasks of the current run done */
    atomic_int stop;
    /* the current run: written before its ticket is published, constant while any of
     * its tasks is unclaimed or running */
    ds_task_fn fn;
    void *ctx;
};

/* Claims and runs tasks of the current run until none is left; `thread` is the
 * caller's number (0 for the caller of ds_pool_run, 1.. for the workers). */
static void run_tasks(ds_pool *p, int thread)
{
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    while (ticket_next(t) < ticket_tasks(t)) {
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* t now holds the current ticket */
        p->fn(p->ctx, ticket_next(t), thread);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
        t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    }
}

static void *worker(void *arg)
{
    ds_pool *p = ((worker_arg *)arg)->pool;
    const int thread = ((worker_arg *)arg)->thread;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = ticket_gen(atomic_load_explicit(&p->ticket, memory_order_acquire))) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            if (++spins < SPIN_ROUNDS) {
                CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (ticket_gen(atomic_load_explicit(&p->ticket, memory_order_acquire)) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_relaxed))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        seen = g;
        run_tasks(p, thread);
    }
    return NULL;
}

ds_status ds_pool_create(ds_pool **out, int n_threads, ds_error *err)
{
    *out = NULL;
    if (n_threads < 2 || n_threads > DS_MAX_THREADS)
        return ds_fail(err, DS_ERR_ARG, "threads: a pool of %d is not in [2, %d]", n_threads,
                       DS_MAX_THREADS);
    ds_pool *p = calloc(1, sizeof *p);
    if (!p) return ds_fail(err, DS_ERR_NOMEM, "threads: out of memory");
    p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
    p->args = calloc((size_t)n_threads - 1, sizeof *p->args);
    if (!p->threads || !p->args) {
        free(p->threads);
        free(p->args);
        free(p);
        return ds_fail(err, DS_ERR_NOMEM, "threads: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->ticket, (uint64_t)0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->stop, 0);
    p->n_threads = 1;
    for (int i = 0; i < n_threads - 1; i++) {
        p->args[i] = (worker_arg){p, i + 1};
        if (pthread_create(&p->threads[i], NULL, worker, &p->args[i]) != 0) {
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
    free(p->args);
    free(p);
}

int ds_pool_threads(const ds_pool *p) { return p ? p->n_threads : 1; }

void ds_pool_run(ds_pool *p, int n_tasks, ds_task_fn fn, void *ctx)
{
    if (!p || n_tasks <= 1 || n_tasks > MAX_TASKS) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    /* the previous run is complete, so no thread reads these now */
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    uint64_t gen = (ticket_gen(atomic_load_explicit(&p->ticket, memory_order_relaxed)) + 1) &
                   ((1u << (64 - 2 * TASK_BITS)) - 1);
    uint64_t ticket = gen << (2 * TASK_BITS) | (uint64_t)n_tasks << TASK_BITS;
    /* the release publishes fn and ctx; the lock orders it with sleepers */
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->ticket, ticket, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->finished, memory_order_acquire) < n_tasks) {
        if (++spins < SPIN_ROUNDS) CPU_RELAX();
        else sched_yield();
    }
}
