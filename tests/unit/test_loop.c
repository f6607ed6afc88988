/* The event loop's timer wheel and its sleeping: fired order, clearing, and
 * that a loop with no armed timer blocks instead of ticking. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/loop.h"

struct rec {
    struct loop_timer t;
    int id;
    int *log;
    int *nlog;
    int rearm; /* times to re-arm from the callback */
};

static void on_timer(struct loop *l, struct loop_timer *t)
{
    struct rec *r = (struct rec *)t;

    r->log[(*r->nlog)++] = r->id;
    if (r->rearm > 0) {
        r->rearm--;
        loop_timer_set(l, t, 10, on_timer);
    }
}

static void stop_loop(void *arg)
{
    loop_stop(arg);
}

static void stop_timer(struct loop *l, struct loop_timer *t)
{
    (void)t;
    loop_stop(l);
}

static void count_wake(void *arg)
{
    (*(int *)arg)++;
}

Test(loop, timers_fire_in_deadline_order_and_cleared_ones_never)
{
    struct loop *l = loop_new();
    int log[16], nlog = 0;
    struct rec a = {.id = 1, .log = log, .nlog = &nlog};
    struct rec b = {.id = 2, .log = log, .nlog = &nlog};
    struct rec c = {.id = 3, .log = log, .nlog = &nlog};
    struct loop_timer end = {0};

    cr_assert_not_null(l);
    loop_timer_set(l, &c.t, 200, on_timer);
    loop_timer_set(l, &a.t, 10, on_timer);
    loop_timer_set(l, &b.t, 100, on_timer);
    loop_timer_clear(l, &b.t);
    cr_assert(!loop_timer_armed(&b.t));
    loop_timer_set(l, &end, 400, stop_timer);
    loop_run(l);
    cr_assert_eq(nlog, 2);
    cr_assert_eq(log[0], 1);
    cr_assert_eq(log[1], 3);
    loop_free(l);
}

Test(loop, timer_rearmed_from_its_callback_fires_again)
{
    struct loop *l = loop_new();
    int log[16], nlog = 0;
    struct rec a = {.id = 7, .log = log, .nlog = &nlog, .rearm = 2};
    struct loop_timer end = {0};

    loop_timer_set(l, &a.t, 10, on_timer);
    loop_timer_set(l, &end, 500, stop_timer);
    loop_run(l);
    cr_assert_eq(nlog, 3);
    cr_assert(!loop_timer_armed(&a.t));
    loop_free(l);
}

static void *post_stop_later(void *arg)
{
    usleep(400 * 1000);
    loop_post(arg, stop_loop, arg);
    return NULL;
}

/* A cleared timer must not leave the loop waking every tick: an idle
 * worker should cost nothing. */
Test(loop, no_armed_timer_means_no_wakeups)
{
    struct loop *l = loop_new();
    struct loop_timer t = {0}, u = {0};
    pthread_t th;
    int wakes = 0;

    loop_timer_set(l, &t, 1000, stop_timer);
    loop_timer_set(l, &u, 1000, stop_timer);
    loop_timer_set(l, &u, 2000, stop_timer); /* re-arming an armed timer counts once */
    loop_timer_clear(l, &t);
    loop_timer_clear(l, &u);
    loop_timer_clear(l, &u); /* clearing twice is harmless */
    loop_set_wake(l, count_wake, &wakes);
    cr_assert_eq(pthread_create(&th, NULL, post_stop_later, l), 0);
    loop_run(l);
    pthread_join(th, NULL);
    /* One wake for the post; ticking would have given about six. */
    cr_assert_leq(wakes, 2, "the loop woke %d times with no timer armed", wakes);
    loop_free(l);
}
