/* test_timer.c: timer_now (core/timer.h) is a monotonic clock in seconds:
 * never goes back over many calls, and advances by the time slept; the
 * phases have their names (a file format) and titles, and phase_lap adds
 * the time since the mark to one phase and moves the mark. The
 * reference for "time slept" is nanosleep's guarantee (it sleeps at least
 * the request, measured on CLOCK_MONOTONIC on Linux) and, for the upper
 * side, the system's CLOCK_MONOTONIC read by this test around the interval. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

#include "core/timer.h"

/* Sleep of the advance test. */
#define SLEEP_NS 20000000L /* 20 ms */
/* Tolerances of the advance test. Lower: nanosleep never returns early, so
 * the elapsed time is >= 20 ms; 19 ms leaves 1 ms for the conversion of the
 * two readings to double seconds (~1e-10 s each at any uptime) and clock
 * granularity. Upper: 2 s, generous for a loaded shared machine that may not
 * reschedule us promptly. Both are far from a wrong unit (a timer in
 * milliseconds reads 20, in microseconds 20000: above the upper bound) or a
 * wrong scale (a clock at half speed reads 10 ms: below the lower one). */
#define ADVANCE_MIN 0.019
#define ADVANCE_MAX 2.0
/* Slack of the comparison with CLOCK_MONOTONIC bracketing the interval: two
 * conversions to double plus any rate difference between kernel clocks
 * (ppm over 20 ms, i.e. nanoseconds). */
#define BRACKET_SLACK 1e-6

static double ref_monotonic(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_ns(long ns)
{
    struct timespec req = {0, ns}, rem;
    while (nanosleep(&req, &rem) != 0) {
        assert_int_equal(errno, EINTR);
        req = rem;
    }
}

static void test_timer_now_monotonic_many_calls(void **state)
{
    (void)state;
    const int n = 200000;
    const double first = timer_now();
    double prev = first;
    for (int i = 1; i < n; i++) {
        const double t = timer_now();
        if (t < prev)
            fail_msg("timer_now went back at call %d: %.9f after %.9f", i, t, prev);
        prev = t;
    }
    /* Not a constant: after a 1 ms sleep it has moved on. */
    sleep_ns(1000000L);
    const double after = timer_now();
    assert_true(after > first);
    assert_true(after >= prev);
}

static void test_timer_now_advances_by_slept_time(void **state)
{
    (void)state;
    const double r0 = ref_monotonic();
    const double t0 = timer_now();
    sleep_ns(SLEEP_NS);
    const double t1 = timer_now();
    const double r1 = ref_monotonic();
    const double dt = t1 - t0;
    if (dt < ADVANCE_MIN || dt > ADVANCE_MAX)
        fail_msg("timer_now advanced %.6f s over a %.3f s sleep (accepted [%.3f, %.1f])", dt,
                 SLEEP_NS * 1e-9, ADVANCE_MIN, ADVANCE_MAX);
    /* The interval measured by timer_now lies inside the one measured by the
     * system clock around it. */
    if (dt > (r1 - r0) + BRACKET_SLACK)
        fail_msg("timer_now advanced %.9f s, CLOCK_MONOTONIC around it only %.9f s", dt,
                 r1 - r0);
}

static void test_timer_now_is_seconds_over_repeated_sleeps(void **state)
{
    (void)state;
    /* Five sleeps of 20 ms each: the total is >= 100 ms (same argument as
     * above, 5 ms slack) and within the bracketing system interval. */
    const double r0 = ref_monotonic();
    const double t0 = timer_now();
    for (int i = 0; i < 5; i++)
        sleep_ns(SLEEP_NS);
    const double dt = timer_now() - t0;
    const double r1 = ref_monotonic();
    if (dt < 5 * ADVANCE_MIN || dt > ADVANCE_MAX)
        fail_msg("timer_now advanced %.6f s over 5 x %.3f s (accepted [%.3f, %.1f])", dt,
                 SLEEP_NS * 1e-9, 5 * ADVANCE_MIN, ADVANCE_MAX);
    assert_true(dt <= (r1 - r0) + BRACKET_SLACK);
}

/* ---- phases ------------------------------------------------------------------ */

/* The phase names, in timer_phase order, as metrics.h5 spells its columns
 * time_<name>_min/mean/max (a file format: they may not change). */
static const char *const phase_names[] = {
    "sample", "forward_backward", "reduce", "adamax", "bcast",
    "eval",   "checkpoint",       "metrics", "setup", "report"};
_Static_assert(sizeof phase_names / sizeof phase_names[0] == PHASE_COUNT,
               "a phase was added or removed: update phase_names");

static void test_timer_phase_name_every_phase(void **state)
{
    (void)state;
    for (int p = 0; p < PHASE_COUNT; p++) {
        const char *name = timer_phase_name((timer_phase)p);
        if (!name)
            fail_msg("phase %d has no name", p);
        if (strcmp(name, phase_names[p]) != 0)
            fail_msg("phase %d is named '%s', expected '%s'", p, name, phase_names[p]);
    }
}

static void test_timer_phase_title_every_phase(void **state)
{
    (void)state;
    /* Each phase has a title of its own for the end-of-run table. */
    for (int p = 0; p < PHASE_COUNT; p++) {
        const char *title = timer_phase_title((timer_phase)p);
        if (!title || !title[0])
            fail_msg("phase %d (%s) has no title", p, phase_names[p]);
        for (int q = 0; q < p; q++)
            if (strcmp(timer_phase_title((timer_phase)q), title) == 0)
                fail_msg("phases %d and %d share the title '%s'", q, p, title);
    }
}

static void test_phase_lap_adds_elapsed_and_moves_mark(void **state)
{
    (void)state;
    phase_times t;
    memset(&t, 0, sizeof t);
    double mark = timer_now();
    const double start = mark;
    sleep_ns(SLEEP_NS);
    const double r0 = timer_now();
    phase_lap(&t, PHASE_REDUCE, &mark);
    const double r1 = timer_now();
    /* The mark moved to "now", read inside the call. */
    assert_true(mark >= r0 && mark <= r1);
    /* From the definition, starting at 0: seconds = now - old mark, and the
     * new mark is that now, so the identity below is exact in IEEE double. */
    assert_true(t.seconds[PHASE_REDUCE] == mark - start);
    /* The sleep is in it (tolerances as for timer_now above). */
    assert_true(t.seconds[PHASE_REDUCE] >= ADVANCE_MIN);
    assert_true(t.seconds[PHASE_REDUCE] <= ADVANCE_MAX);
    for (int p = 0; p < PHASE_COUNT; p++)
        if (p != PHASE_REDUCE && t.seconds[p] != 0.0)
            fail_msg("phase %s got %g s from a lap of reduce", phase_names[p], t.seconds[p]);

    /* A second lap of the same phase adds to it. */
    const double first = t.seconds[PHASE_REDUCE], mark1 = mark;
    sleep_ns(SLEEP_NS / 4);
    phase_lap(&t, PHASE_REDUCE, &mark);
    assert_true(t.seconds[PHASE_REDUCE] == first + (mark - mark1));
    assert_true(t.seconds[PHASE_REDUCE] >= first + ADVANCE_MIN / 4);

    /* A lap of another phase leaves this one alone and starts from the mark
     * the previous lap left: no time is lost or counted twice between laps. */
    const double reduce = t.seconds[PHASE_REDUCE], mark2 = mark;
    phase_lap(&t, PHASE_REPORT, &mark);
    assert_true(t.seconds[PHASE_REDUCE] == reduce);
    assert_true(t.seconds[PHASE_REPORT] == mark - mark2);
    assert_true(t.seconds[PHASE_REPORT] >= 0.0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_now_monotonic_many_calls),
        cmocka_unit_test(test_timer_now_advances_by_slept_time),
        cmocka_unit_test(test_timer_now_is_seconds_over_repeated_sleeps),
        cmocka_unit_test(test_timer_phase_name_every_phase),
        cmocka_unit_test(test_timer_phase_title_every_phase),
        cmocka_unit_test(test_phase_lap_adds_elapsed_and_moves_mark),
    };
    return harness_run(argc, argv, "test_timer", tests, HARNESS_COUNT(tests), NULL, NULL);
}
