/* Handshakes [handshake.seq]: every attached thread runs the request
 * exactly once per round, running threads on their own OS thread at a
 * safepoint, blocked threads on the caller's, and nobody else is stopped. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"
#include "internal.h"

#define WORKERS 3
#define ROUNDS 500

typedef struct worker {
    rtgc_heap *heap;
    rtgc_thread *t;
    pthread_t os;
    atomic_int ready;
    atomic_int stop;
    int blocking;                 /* spends its life in a blocking region */
    uint64_t served;              /* fn ran for this thread */
    uint64_t served_by_self;      /* ... on the thread's own OS thread */
    uint64_t polls;
} worker;

static worker workers[WORKERS];

static void count_fn(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)h;
    (void)arg;
    for (int i = 0; i < WORKERS; i++) {
        if (workers[i].t == t) {
            workers[i].served++;
            if (pthread_equal(pthread_self(), workers[i].os))
                workers[i].served_by_self++;
        }
    }
}

static void *worker_main(void *p) {
    worker *w = p;
    w->t = rtgc_thread_attach(w->heap, NULL);
    if (w->blocking)
        rtgc_enter_blocking(w->t);
    atomic_store(&w->ready, 1);
    while (!atomic_load(&w->stop)) {
        if (w->blocking) {
            usleep(100);
        } else {
            rtgc_poll(w->t);
            w->polls++;
        }
    }
    if (w->blocking)
        rtgc_leave_blocking(w->t);
    rtgc_thread_detach(w->t);
    return NULL;
}

static void test_rounds(void **state) {
    (void)state;
    rtgc_heap *h = test_heap("mode=stw");
    rtgc_thread *self = rtgc_thread_attach(h, NULL);
    for (int i = 0; i < WORKERS; i++) {
        workers[i].heap = h;
        workers[i].blocking = (i == WORKERS - 1);
        pthread_create(&workers[i].os, NULL, worker_main, &workers[i]);
        while (!atomic_load(&workers[i].ready))
            usleep(100);
    }
    for (int r = 0; r < ROUNDS; r++) {
        handshake_all(h, self, count_fn, NULL);
        for (int i = 0; i < WORKERS; i++)
            assert_int_equal(workers[i].served, (uint64_t)r + 1);
    }
    for (int i = 0; i < WORKERS; i++)
        atomic_store(&workers[i].stop, 1);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(workers[i].os, NULL);
    /* Running threads served themselves; the blocked one was served for. */
    assert_int_equal(workers[0].served_by_self, ROUNDS);
    assert_int_equal(workers[1].served_by_self, ROUNDS);
    assert_int_equal(workers[WORKERS - 1].served_by_self, 0);
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    assert_true(st.by_cause[RTGC_CAUSE_HANDSHAKE] >= 2 * ROUNDS);
    rtgc_thread_detach(self);
    rtgc_heap_destroy(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rounds)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
