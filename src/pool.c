/*
 * pool.c - a small pool of worker threads owned by one model: ds_pool_run hands out
 * numbered tasks to the workers and the calling thread and returns when all are done.
 *
 * Task t belongs first to thread t mod n (the caller is thread 0), so that work cut the
 * same way from run to run (rows of a layer's weights, say) stays with the same thread
 * and in that processor's cache. A thread that has run its own tasks takes any task left
 * unclaimed, so on a busy machine where a worker gets no processor the caller simply runs
 * every task itself; it waits only until every claimed task is finished. Each task has a
 * claim word holding 2g while unclaimed in run g and 2g + 1 once claimed; a claim is a
 * compare-and-swap from 2g, so a worker still looking at an older run can never claim a
 * task of a newer one, and fn and ctx are read only after a successful claim.
 * Idle workers spin briefly (the next run usually follows within microseconds in
 * training), then sleep on a condition variable. Which thread runs a task may vary, so
 * tasks must write disjoint results whose values do not depend on the thread (the dense
 * kernels guarantee that). Deliberately absent: priorities, nested runs, affinity.
 *
 * A worker the machine does not schedule (its other processors busy with other programs)
 * can still hold up a run: it claims a task and is then descheduled, and the caller waits.
 * So the caller counts, over windows of 64 runs, the runs in which it waited for the
 * workers longer than it worked itself (plus ABSENT_SLACK, the time a worker takes to
 * wake up); when a quarter of the window's runs did, ds_pool_parts answers 1 for the next
 * 2048 questions (some hundred training steps), so work is not cut and the caller runs it
 * alone, and then the workers are tried again. With a busy loop on the other processor,
 * two threads then trained the MLP at 0.89x the speed of one (0.77x before the pool left
 * absent workers out). Counting runs rather than adding up waiting time (as an earlier
 * version did: 0.84x in the same test) keeps a single hiccup, the worker descheduled once
 * for a few milliseconds as happens every few seconds on a shared machine, from leaving
 * the workers out for hundreds of steps of an otherwise quiet machine.
 *
 * Workers that are there can still be slower than none. Threads of one training step
 * exchange data every few microseconds (a layer's weights written by one processor and
 * read by the other, the batch, the activations), and what that costs depends on where
 * the machine put its processors: on a shared virtual machine of 2 processors, two
 * threads that each sat at 100% ran a step 1.7x faster than one in some minutes and 1.2x
 * slower in others, while a core-local probe ran 2.0x faster throughout; a cache line went
 * from one processor to the other and back in 55-70 ns in the first case and 320-410 ns
 * in the second, and the two alternated every few seconds. So the caller marks its steps
 * (ds_pool_step) and the pool now and then runs TRIAL_STEPS of them the other way (alone
 * when it uses the workers, with them when alone), compares the median step times, and
 * keeps the faster. A trial that confirms the choice doubles the steps until the next
 * one (up to MAX_PERIOD, or ALONE_PERIOD when alone, which cannot see the workers become
 * fast again), a switch starts again from MIN_PERIOD, and threaded steps becoming slow
 * (the median of the last TRIAL_STEPS more than SLOWER times the one measured at the
 * choice) start a trial at once.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* how long an idle worker spins before it sleeps: some tens of microseconds */
enum { SPIN_ROUNDS = 2000 };

typedef struct {
    ds_pool *pool;
    int thread;
} worker_arg;

/* A window of runs, how many of them must keep the caller waiting before the workers
 * count as absent, and for how many ds_pool_parts calls they are then left out (some
 * hundred training steps; the next window tries them again). A run keeps the caller
 * waiting when it waits longer than it worked plus ABSENT_SLACK seconds. */
enum { WINDOW_RUNS = 64, ABSENT_RUNS = 16, ALONE_PARTS = 2048 };
#define ABSENT_SLACK 20e-6

/* Choosing by step times: steps timed per trial (after one untimed step that changes
 * over), the periods between trials, how much faster the other way must be to switch
 * to it, and how much slower threaded steps must get to start a trial early. */
enum { TRIAL_STEPS = 16, MIN_PERIOD = 256, MAX_PERIOD = 8192, ALONE_PERIOD = 1024 };
#define SWITCH_GAIN 0.95
#define SLOWER 1.25

struct ds_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation; /* the current run */
    atomic_int stop;
    atomic_int finished; /* tasks of the current run done */
    /* the current run: written before its generation is published, constant while any
     * of its tasks is unclaimed or running */
    ds_task_fn fn;
    void *ctx;
    atomic_int n_tasks; /* atomic: a late worker may read it while the next run sets it */
    _Atomic uint64_t claim[DS_POOL_MAX_TASKS];
    /* the caller's view of the workers (its thread only): over a window of runs, how many
     * it waited for longer than it worked */
    int window_runs, absent_runs;
    int alone; /* parts left to hand out as 1 before trying again */
    /* the choice between alone and every thread, by step times (ds_pool_step) */
    int held;          /* alone by that choice: ds_pool_parts answers 1 */
    int trying;        /* steps of the trial left (counting the first, not timed), or 0 */
    int until, period; /* steps before the next trial, and the period it was given */
    double last;       /* when the step being timed began; 0: none yet */
    double chosen;     /* median step time of the choice at the last trial */
    double mine[TRIAL_STEPS], other[TRIAL_STEPS]; /* the choice's last steps, the trial's */
    int n_mine, n_other;
};


double ds_seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int try_task(ds_pool *p, uint64_t gen, int t, int thread)
{
    uint64_t want = 2 * gen;
    if (!atomic_compare_exchange_strong_explicit(&p->claim[t], &want, want + 1,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return 0;
    p->fn(p->ctx, t, thread);
    atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    return 1;
}

/* Runs this thread's own tasks of run gen (t = thread, thread + n, ...), then any left
 * unclaimed. */
static void run_tasks(ds_pool *p, uint64_t gen, int thread)
{
    const int n = p->n_threads;
    for (int t = thread;; t += n) {
        if (atomic_load_explicit(&p->generation, memory_order_acquire) != gen) return;
        if (t >= atomic_load_explicit(&p->n_tasks, memory_order_relaxed)) break;
        try_task(p, gen, t, thread);
    }
    for (int t = 0;; t++) {
        if (atomic_load_explicit(&p->generation, memory_order_acquire) != gen) return;
        if (t >= atomic_load_explicit(&p->n_tasks, memory_order_relaxed)) break;
        try_task(p, gen, t, thread);
    }
}

static void *worker(void *arg)
{
    ds_pool *p = ((worker_arg *)arg)->pool;
    const int thread = ((worker_arg *)arg)->thread;
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
        run_tasks(p, g, thread);
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
    atomic_init(&p->generation, 0u);
    atomic_init(&p->stop, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->n_tasks, 0);
    for (int t = 0; t < DS_POOL_MAX_TASKS; t++) atomic_init(&p->claim[t], (uint64_t)1);
    p->until = p->period = MIN_PERIOD; /* the first trial after MIN_PERIOD steps */
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

int ds_pool_parts(ds_pool *p)
{
    if (!p) return 1;
    if (p->held) return 1;
    if (p->alone > 0) {
        p->alone--;
        return 1;
    }
    return p->n_threads;
}

void ds_pool_run(ds_pool *p, int n_tasks, ds_task_fn fn, void *ctx)
{
    if (!p || n_tasks <= 1 || n_tasks > DS_POOL_MAX_TASKS) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    /* The previous run is complete: every claimed task finished, so no thread runs fn;
     * late workers read n_tasks only to stop, and a stale claim fails (wrong 2g). */
    uint64_t gen = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1u;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_tasks, n_tasks, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    for (int t = 0; t < n_tasks; t++)
        atomic_store_explicit(&p->claim[t], 2 * (uint64_t)(unsigned)gen, memory_order_relaxed);
    /* the release publishes all of the above; the lock orders it with sleepers */
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->generation, (unsigned)gen, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    double t0 = ds_seconds_now();
    run_tasks(p, (unsigned)gen, 0);
    double t1 = ds_seconds_now();
    int spins = 0;
    while (atomic_load_explicit(&p->finished, memory_order_acquire) < n_tasks) {
        if (++spins < SPIN_ROUNDS) CPU_RELAX();
        else sched_yield();
    }
    if (ds_seconds_now() - t1 > (t1 - t0) + ABSENT_SLACK) p->absent_runs++;
    if (++p->window_runs == WINDOW_RUNS) {
        if (p->absent_runs >= ABSENT_RUNS) p->alone = ALONE_PARTS;
        p->absent_runs = 0;
        p->window_runs = 0;
    }
}

/* ---- alone or with the workers, by step times ---- */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ds_pool_median(const double *v, int n)
{
    double s[TRIAL_STEPS];
    if (n <= 0) return 0.0;
    if (n > TRIAL_STEPS) n = TRIAL_STEPS;
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

int ds_pool_prefers(double chosen, double trial)
{
    return trial > 0.0 && trial < SWITCH_GAIN * chosen;
}

int ds_pool_held(const ds_pool *p) { return p ? p->held : 0; }

static void start_trial(ds_pool *p)
{
    p->trying = TRIAL_STEPS + 1;
    p->n_other = 0;
    p->held = !p->held;
}

void ds_pool_step(ds_pool *p)
{
    if (p) ds_pool_step_at(p, ds_seconds_now());
}

void ds_pool_step_at(ds_pool *p, double now)
{
    const double took = p->last > 0.0 ? now - p->last : -1.0;
    p->last = now;
    if (p->trying > 0) { /* the trial's steps; the first only changes over */
        if (took >= 0.0 && p->trying <= TRIAL_STEPS) p->other[p->n_other++] = took;
        if (--p->trying > 0) return;
        const double mine = ds_pool_median(p->mine, p->n_mine);
        const double trial = ds_pool_median(p->other, p->n_other);
        if (ds_pool_prefers(mine, trial)) {
            p->period = MIN_PERIOD; /* the trial's way is faster: keep it */
            p->chosen = trial;
        } else {
            p->held = !p->held; /* back to the choice */
            p->chosen = mine;
            p->period = 2 * p->period > MAX_PERIOD ? MAX_PERIOD : 2 * p->period;
        }
        if (p->held && p->period > ALONE_PERIOD) p->period = ALONE_PERIOD;
        p->until = p->period;
        p->n_mine = 0;
        return;
    }
    if (took >= 0.0) p->mine[p->n_mine++ % TRIAL_STEPS] = took;
    /* threaded steps got slower than at the choice: try alone now */
    if (!p->held && p->chosen > 0.0 && p->n_mine >= TRIAL_STEPS &&
        p->n_mine % TRIAL_STEPS == 0 &&
        ds_pool_median(p->mine, TRIAL_STEPS) > SLOWER * p->chosen)
        p->until = 0;
    if (--p->until <= 0 && p->n_mine >= TRIAL_STEPS) start_trial(p);
}
