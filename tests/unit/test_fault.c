/* test_fault.c: the fault injection points of core/fault.h against their
 * definitions in the header: nothing fires unless configured, the stop fires
 * at exactly the configured global step, and the checkpoint kill SIGKILLs
 * rank 0 at exactly the N-th checkpoint and no other rank ever; the data
 * read stall stops the configured rank at exactly its N-th read; the slow
 * step sleeps at its step only; the auto floor replaces 300 s only when set.
 *
 * The kill is observed from outside: each scenario runs in a fork()ed child
 * that calls only fault_* and then _exit(0)s if it survived, and the parent
 * reads the wait status. The parent has MPI initialised (the harness); the
 * child touches nothing of MPI and never returns into cmocka. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "core/fault.h"

/* Exit code of a child that ran every call and was not killed. */
#define SURVIVED 0

static void configure(int64_t stop_at_step, int64_t kill_at_checkpoint)
{
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stop_at_step = stop_at_step;
    cfg.kill_at_checkpoint = kill_at_checkpoint;
    fault_configure(&cfg);
}

/* What a child that ran a hook did: its wait status, whether it stopped
 * itself (SIGSTOP: it is then killed) and how many calls returned. */
typedef struct {
    int status;
    int stopped;
    int returned;
} child_run;

/* Runs `calls` calls of hook(rank) in a child configured with *cfg
 * (fault_configure resets the hooks' counts). The child writes one byte to a
 * pipe after each call that returned (at most a few thousand: the pipe never
 * fills), and _exit(SURVIVED)s after the last. */
static child_run hook_in_child(const fault_config *cfg, void (*hook)(int rank), int rank,
                               int calls)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL); /* nothing buffered is written twice by the child */
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        fault_configure(cfg);
        for (int i = 0; i < calls; i++) {
            hook(rank);
            if (write(fd[1], "x", 1) != 1)
                _exit(SURVIVED + 1);
        }
        _exit(SURVIVED);
    }
    close(fd[1]);
    child_run run = {0, 0, 0};
    pid_t got;
    do
        got = waitpid(pid, &run.status, WUNTRACED);
    while (got < 0 && errno == EINTR);
    assert_int_equal(got, pid);
    run.stopped = WIFSTOPPED(run.status) && WSTOPSIG(run.status) == SIGSTOP;
    if (run.stopped) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &run.status, 0) < 0 && errno == EINTR)
            ;
    }
    /* The child is gone: its end of the pipe is closed, the read ends. */
    char buf[256];
    ssize_t n;
    while ((n = read(fd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        run.returned += n > 0 ? (int)n : 0;
    close(fd[0]);
    return run;
}

/* `calls` checkpoints on `rank` in a child configured with kill_at; *returned
 * says how many calls it lived through; returns the child's wait status. */
static int checkpoints_in_child(int64_t kill_at, int rank, int calls, int *returned)
{
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kill_at_checkpoint = kill_at;
    const child_run run = hook_in_child(&cfg, fault_checkpoint_midway, rank, calls);
    *returned = run.returned;
    return run.status;
}

static void expect_survived(int status, const char *what)
{
    if (WIFSIGNALED(status))
        fail_msg("%s: killed by signal %d, expected to survive", what, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != SURVIVED)
        fail_msg("%s: wait status 0x%x, expected a normal exit %d", what, status, SURVIVED);
}

static void expect_sigkill(int status, const char *what)
{
    if (!WIFSIGNALED(status))
        fail_msg("%s: %s %d, expected death by SIGKILL", what,
                 WIFEXITED(status) ? "exited with" : "wait status", WIFEXITED(status)
                                                                     ? WEXITSTATUS(status)
                                                                     : status);
    if (WTERMSIG(status) != SIGKILL)
        fail_msg("%s: killed by signal %d, expected SIGKILL (%d)", what, WTERMSIG(status),
                 SIGKILL);
}

static int teardown_unconfigure(void **state)
{
    (void)state;
    configure(0, 0);
    return 0;
}

/* ---- nothing configured ------------------------------------------------- */

static void test_fault_stop_at_step_unconfigured_never_fires(void **state)
{
    (void)state;
    configure(0, 0);
    for (int64_t s = -3; s <= 10000; s++)
        if (fault_stop_at_step(s))
            fail_msg("unconfigured: fault_stop_at_step(%lld) fired", (long long)s);
    assert_false(fault_stop_at_step(INT64_MAX));
    assert_false(fault_stop_at_step(INT64_MIN));
}

static void test_fault_checkpoint_midway_unconfigured_never_kills(void **state)
{
    (void)state;
    /* Many checkpoints on rank 0 and on another rank: every call returns. */
    int returned = -1;
    expect_survived(checkpoints_in_child(0, 0, 1000, &returned),
                    "unconfigured, rank 0, 1000 checkpoints");
    assert_int_equal(returned, 1000);
    expect_survived(checkpoints_in_child(0, 1, 1000, &returned),
                    "unconfigured, rank 1, 1000 checkpoints");
    assert_int_equal(returned, 1000);
}

/* A run that did not ask for faults (fault_configure(NULL), what main does
 * without EBM_MPI_FAULT_*): even after a configuration that fires at every
 * hook on this rank, no hook fires. In a child: a stall would SIGSTOP it, the
 * kill SIGKILL it. */
static void test_fault_disarmed_never_fires(void **state)
{
    (void)state;
    fflush(NULL);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fault_config cfg;
        memset(&cfg, 0xA5, sizeof cfg); /* stack garbage, as main once had */
        cfg.stop_at_step = 1, cfg.kill_at_checkpoint = 1, cfg.diverge_at_step = 1;
        cfg.diverge_times = 1, cfg.nan_ranges = 1, cfg.nan_from[0] = 1, cfg.nan_to[0] = 1;
        cfg.nan_rank = 0, cfg.stall_rank = 0, cfg.stall_at = 1;
        memcpy(cfg.stall_where, "step", 5);
        cfg.slow_step = 1, cfg.slow_step_ms = 60000, cfg.auto_floor = 1.0;
        fault_configure(&cfg);
        fault_configure(NULL);
        int fired = fault_stop_at_step(1) || fault_lr_factor(1, 0) != 1.0 ||
                    fault_nan_gradient(1, 0) || fault_auto_floor(300.0) != 300.0;
        fault_stall("step", 1, 0);
        fault_slow_step(1);
        fault_data_read(0);
        fault_checkpoint_midway(0);
        _exit(fired ? SURVIVED + 1 : SURVIVED);
    }
    int status = 0;
    pid_t got;
    do
        got = waitpid(pid, &status, WUNTRACED);
    while (got < 0 && errno == EINTR);
    assert_int_equal(got, pid);
    if (WIFSTOPPED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("disarmed: a stall hook stopped the process");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == SURVIVED + 1)
        fail_msg("disarmed: a hook returned its fault value");
    expect_survived(status, "disarmed, every hook");
}

/* ---- fault_stop_at_step --------------------------------------------------- */

static void test_fault_stop_at_step_fires_exactly_at_step(void **state)
{
    (void)state;
    const int64_t at[] = {1, 2, 7, 40, 1000, INT64_C(5000000000)};
    for (size_t c = 0; c < sizeof at / sizeof at[0]; c++) {
        configure(at[c], 0);
        const int64_t lo = at[c] > 200 ? at[c] - 200 : -2;
        for (int64_t s = lo; s <= at[c] + 200; s++) {
            const int want = s == at[c];
            if (fault_stop_at_step(s) != want)
                fail_msg("stop_at_step = %lld: fault_stop_at_step(%lld) = %d, expected %d",
                         (long long)at[c], (long long)s, fault_stop_at_step(s), want);
        }
    }
}

static void test_fault_stop_at_step_depends_only_on_step(void **state)
{
    (void)state;
    /* A query, not a one-shot: asking again gives the same answer. */
    configure(5, 0);
    for (int i = 0; i < 3; i++) {
        assert_true(fault_stop_at_step(5));
        assert_false(fault_stop_at_step(4));
        assert_false(fault_stop_at_step(6));
    }
}

static void test_fault_stop_at_step_negative_config_never_fires(void **state)
{
    (void)state;
    /* Only N >= 1 is a step (1-based); a negative N is "never", like 0. */
    configure(-4, 0);
    for (int64_t s = -10; s <= 10; s++)
        assert_false(fault_stop_at_step(s));
}

/* ---- fault_checkpoint_midway ------------------------------------------------ */

static void test_fault_checkpoint_midway_kills_rank0_at_nth(void **state)
{
    (void)state;
    const int at[] = {1, 2, 3, 10};
    for (size_t c = 0; c < sizeof at / sizeof at[0]; c++) {
        const int n = at[c];
        char what[96];
        int returned = -1;
        /* N - 1 checkpoints: alive, every call returned. */
        snprintf(what, sizeof what, "kill_at_checkpoint = %d, rank 0, %d checkpoints", n, n - 1);
        expect_survived(checkpoints_in_child(n, 0, n - 1, &returned), what);
        assert_int_equal(returned, n - 1);
        /* 2N attempted: SIGKILL inside the N-th call, so exactly N - 1 returned. */
        snprintf(what, sizeof what, "kill_at_checkpoint = %d, rank 0, %d checkpoints", n, 2 * n);
        expect_sigkill(checkpoints_in_child(n, 0, 2 * n, &returned), what);
        if (returned != n - 1)
            fail_msg("kill_at_checkpoint = %d: %d calls returned before the kill, expected %d", n,
                     returned, n - 1);
    }
}

static void test_fault_checkpoint_midway_never_kills_other_ranks(void **state)
{
    (void)state;
    const int ranks[] = {1, 2, 7, 63};
    const int at[] = {1, 3};
    for (size_t r = 0; r < sizeof ranks / sizeof ranks[0]; r++)
        for (size_t c = 0; c < sizeof at / sizeof at[0]; c++) {
            char what[96];
            int returned = -1;
            snprintf(what, sizeof what, "kill_at_checkpoint = %d, rank %d, 50 checkpoints", at[c],
                     ranks[r]);
            expect_survived(checkpoints_in_child(at[c], ranks[r], 50, &returned), what);
            assert_int_equal(returned, 50);
        }
}

static void test_fault_configure_resets_checkpoint_count(void **state)
{
    (void)state;
    /* Two checkpoints, reconfigure with N = 3, two more: the count restarted,
     * so the process is alive; the third after the reset kills it. */
    for (int third = 0; third <= 1; third++) {
        fflush(NULL);
        const pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            configure(0, 3);
            fault_checkpoint_midway(0);
            fault_checkpoint_midway(0);
            configure(0, 3);
            fault_checkpoint_midway(0);
            fault_checkpoint_midway(0);
            if (third)
                fault_checkpoint_midway(0);
            _exit(SURVIVED);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (third)
            expect_sigkill(status, "reset, then 3 checkpoints");
        else
            expect_survived(status, "2 checkpoints, reset, 2 checkpoints");
    }
}

static void test_fault_lr_factor_five_steps_before_a_rollback(void **state)
{
    (void)state;
    configure(0, 0);
    for (int64_t step = 1; step < 40; step++)
        assert_true(fault_lr_factor(step, 0) == 1.0);
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.diverge_at_step = 21;
    fault_configure(&cfg);
    for (int64_t step = 1; step < 40; step++) {
        const double want = step >= 21 && step <= 25 ? 1e4 : 1.0;
        assert_true(fault_lr_factor(step, 0) == want);
        assert_true(fault_lr_factor(step, 1) == 1.0); /* once rolled back, never again */
    }
}

static void test_fault_lr_factor_recurs_until_k_rollbacks(void **state)
{
    (void)state;
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.diverge_at_step = 21;
    cfg.diverge_times = 6;
    fault_configure(&cfg);
    for (int rollbacks = 0; rollbacks < 9; rollbacks++)
        for (int64_t step = 1; step < 40; step++) {
            const double want = rollbacks < 6 && step >= 21 && step <= 25 ? 1e4 : 1.0;
            if (fault_lr_factor(step, rollbacks) != want)
                fail_msg("times 6: fault_lr_factor(%lld, %d) = %g, expected %g", (long long)step,
                         rollbacks, fault_lr_factor(step, rollbacks), want);
        }
}

/* The global steps of "spec" at which `rank` plants a NaN, as a bit mask of
 * steps 1..63 (bit s); nan_rank is set to `rank`. */
static uint64_t nan_mask(const char *spec, int nan_rank, int rank)
{
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (fault_parse_nan_steps(&cfg, spec) != 0)
        fail_msg("'%s' was not accepted", spec);
    cfg.nan_rank = nan_rank;
    fault_configure(&cfg);
    uint64_t mask = 0;
    for (int64_t s = -2; s < 70; s++)
        if (fault_nan_gradient(s, rank)) {
            if (s < 1 || s > 63)
                fail_msg("'%s': a NaN at step %lld", spec, (long long)s);
            mask |= UINT64_C(1) << s;
        }
    return mask;
}

static uint64_t bits(int from, int to)
{
    uint64_t m = 0;
    for (int s = from; s <= to; s++)
        m |= UINT64_C(1) << s;
    return m;
}

static void test_fault_nan_steps_exactly_the_listed_steps_of_one_rank(void **state)
{
    (void)state;
    assert_true(nan_mask("", 1, 1) == 0);
    assert_true(nan_mask(NULL, 1, 1) == 0);
    assert_true(nan_mask("25", 1, 1) == bits(25, 25));
    assert_true(nan_mask("25", 1, 0) == 0);
    assert_true(nan_mask("25", 0, 0) == bits(25, 25));
    assert_true(nan_mask("26-34", 1, 1) == bits(26, 34));
    assert_true(nan_mask("26-33,35", 1, 1) == (bits(26, 33) | bits(35, 35)));
    assert_true(nan_mask("26-33,35", 1, 2) == 0);
    assert_true(nan_mask("1,3,5,7,9,11,13,15", 1, 1) ==
                (bits(1, 1) | bits(3, 3) | bits(5, 5) | bits(7, 7) | bits(9, 9) | bits(11, 11) |
                 bits(13, 13) | bits(15, 15)));
}

static void test_fault_nan_steps_refuses_malformed_text(void **state)
{
    (void)state;
    const char *bad[] = {"x",    "25x",  "-3", "0",   "5-3",  "25,", ",25", "25-",
                         "2--4", " 25",  "25 ", "1,2,3,4,5,6,7,8,9", "3-4,x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fault_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.nan_ranges = 5; /* reset by the parse, also when it fails */
        if (fault_parse_nan_steps(&cfg, bad[i]) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        if (cfg.nan_ranges != 0)
            fail_msg("'%s': %d ranges configured after a refusal", bad[i], cfg.nan_ranges);
    }
}

/* ---- fault_data_read (EBM_MPI_FAULT_STALL=read:N) ------------------------------ */

/* A child configured with read:`at` on rank `stall_rank` calls
 * fault_data_read(rank) `calls` times. Returns how many returned; *stopped
 * says whether it stopped itself (SIGSTOP). */
static int reads_in_child(int64_t at, int stall_rank, int rank, int calls, int *stopped)
{
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.stall_where, sizeof cfg.stall_where, "read");
    cfg.stall_at = at;
    cfg.stall_rank = stall_rank;
    const child_run run = hook_in_child(&cfg, fault_data_read, rank, calls);
    *stopped = run.stopped;
    if (!run.stopped)
        expect_survived(run.status, "data reads");
    return run.returned;
}

static void test_fault_data_read_stops_rank_at_nth_read(void **state)
{
    (void)state;
    int stopped;
    for (int at = 1; at <= 3; at++) {
        /* The configured rank stops inside its at-th read: at - 1 returned. */
        const int returned = reads_in_child(at, 1, 1, 5, &stopped);
        if (!stopped || returned != at - 1)
            fail_msg("read:%d on rank 1: stopped %d after %d reads returned, expected a stop "
                     "after %d",
                     at, stopped, returned, at - 1);
        /* Another rank reads on. */
        assert_int_equal(reads_in_child(at, 1, 0, 5, &stopped), 5);
        assert_false(stopped);
    }
    /* Unconfigured (at 0): never. */
    assert_int_equal(reads_in_child(0, 0, 0, 20, &stopped), 20);
    assert_false(stopped);
}

/* ---- fault_slow_step, fault_auto_floor ------------------------------------------ */

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_fault_slow_step_sleeps_at_its_step_only(void **state)
{
    (void)state;
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.slow_step = 3;
    cfg.slow_step_ms = 300;
    fault_configure(&cfg);
    double t = seconds_now();
    fault_slow_step(3);
    const double slow = seconds_now() - t;
    if (slow < 0.3)
        fail_msg("slow step 3 of 300 ms took %.3f s", slow);
    t = seconds_now();
    for (int64_t s = 1; s <= 10; s++)
        if (s != 3)
            fault_slow_step(s);
    /* Nine calls that must not sleep: far less than one 300 ms sleep. */
    const double others = seconds_now() - t;
    if (others > 0.15)
        fail_msg("the other steps took %.3f s: one of them slept", others);
    configure(0, 0);
    t = seconds_now();
    fault_slow_step(3);
    assert_true(seconds_now() - t < 0.15);
}

static void test_fault_auto_floor_only_when_set(void **state)
{
    (void)state;
    configure(0, 0);
    assert_true(fault_auto_floor(300.0) == 300.0);
    fault_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.auto_floor = 2.5;
    fault_configure(&cfg);
    assert_true(fault_auto_floor(300.0) == 2.5);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_stop_at_step_unconfigured_never_fires,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_checkpoint_midway_unconfigured_never_kills,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_disarmed_never_fires, teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_stop_at_step_fires_exactly_at_step,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_stop_at_step_depends_only_on_step,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_stop_at_step_negative_config_never_fires,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_checkpoint_midway_kills_rank0_at_nth,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_checkpoint_midway_never_kills_other_ranks,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_configure_resets_checkpoint_count,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_lr_factor_five_steps_before_a_rollback,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_lr_factor_recurs_until_k_rollbacks,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_nan_steps_exactly_the_listed_steps_of_one_rank,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_nan_steps_refuses_malformed_text,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_data_read_stops_rank_at_nth_read,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_slow_step_sleeps_at_its_step_only,
                                  teardown_unconfigure),
        cmocka_unit_test_teardown(test_fault_auto_floor_only_when_set, teardown_unconfigure),
    };
    return harness_run(argc, argv, "test_fault", tests, HARNESS_COUNT(tests), NULL, NULL);
}
