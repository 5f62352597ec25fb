/* test_watchdog.c: the stall watchdog of par/dist.h, from the outside. What
 * must not end the process: collectives shorter than the timeout, nested
 * brackets, a timeout of 0, and time during which the process was stopped
 * (SIGSTOP; a forked child, which touches no MPI, sends SIGCONT 3 s later)
 * while the timeout is 2 s: if any of these fired, the watchdog would
 * MPI_Abort this test and it would fail. That it does fire, within the
 * timeout, in a step, a validation and a checkpoint write, is
 * tests/mpi/stall.sh (it needs a second rank that stops). Also the rule of
 * --stall-timeout auto, dist_stall_auto, against README's sentence. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "par/dist.h"

static void sleep_s(double s)
{
    const struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

static void test_watchdog_quiet_when_in_time(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    ebm_err err = {0};
    assert_int_equal(dist_watchdog_start(ctx, 2.0, NULL, &err), 0);
    assert_true(dist_watchdog_current(ctx) == 2.0);
    dist_watch_where(ctx, "a test", 7);
    dist_watch_begin(ctx, "a test collective");
    sleep_s(1.0);
    dist_watch_begin(ctx, "a nested one"); /* nests: the outer span counts */
    sleep_s(0.5);
    dist_watch_end(ctx);
    dist_watch_end(ctx);
    /* Between collectives nothing is watched, however long. */
    sleep_s(2.5);
    assert_int_equal(dist_barrier(ctx, &err), 0); /* a watched collective of dist.c */
}

static void test_watchdog_timeout_zero_never_fires(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    dist_watchdog_timeout(ctx, 0.0);
    dist_watch_begin(ctx, "a long collective");
    sleep_s(2.5);
    dist_watch_end(ctx);
    dist_watchdog_timeout(ctx, 2.0);
    assert_true(dist_watchdog_current(ctx) == 2.0);
}

static void test_watchdog_stopped_time_does_not_count(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const pid_t parent = getpid();
    const pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        sleep_s(3.0);
        kill(parent, SIGCONT);
        _exit(0);
    }
    dist_watch_begin(ctx, "a collective while stopped");
    raise(SIGSTOP); /* 3 s stopped, more than the 2 s timeout */
    sleep_s(0.6);   /* the watchdog's next ticks see the gap */
    dist_watch_end(ctx);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
}

/* --stall-timeout auto, README "No silent hang": "the larger of 300 s and
 * 20 times the slowest step so far". Expected values written from that
 * sentence, not from the code. */
static void test_watchdog_auto_rule(void **state)
{
    (void)state;
    assert_true(DIST_STALL_AUTO_FLOOR == 300.0);
    const struct {
        double floor, slowest, want;
    } cases[] = {
        {300.0, 0.0, 300.0},   {300.0, 0.004, 300.0}, {300.0, 14.9, 300.0},
        {300.0, 15.0, 300.0},  {300.0, 15.5, 310.0},  {300.0, 16.0, 320.0},
        {300.0, 60.0, 1200.0}, {2.0, 0.0, 2.0},       {2.0, 0.05, 2.0},
        {2.0, 0.2, 4.0},       {3.0, 0.25, 5.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const double got = dist_stall_auto(cases[i].floor, cases[i].slowest);
        if (fabs(got - cases[i].want) > 1e-9)
            fail_msg("floor %g s, slowest step %g s: auto timeout %g s, expected %g s",
                     cases[i].floor, cases[i].slowest, got, cases[i].want);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watchdog_quiet_when_in_time),
        cmocka_unit_test(test_watchdog_timeout_zero_never_fires),
        cmocka_unit_test(test_watchdog_stopped_time_does_not_count),
        cmocka_unit_test(test_watchdog_auto_rule),
    };
    return harness_run(argc, argv, "test_watchdog", tests, HARNESS_COUNT(tests), NULL, NULL);
}
