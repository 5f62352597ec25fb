/* test_abort.c: par_wait_drained of par/abort.h, the wait before MPI_Abort
 * until the launcher has read this process's output. A pipe whose bytes are
 * read (by a thread, 100 ms later) is waited for until they are, and no
 * longer; one nobody reads costs the limit and says so (-1); an empty pipe,
 * a file and /dev/null cost nothing. That the line then reaches the user
 * under MPICH is tests/mpi/disk_full.sh (KIND outputs at np 2). The abort
 * itself is not called here: it would end the test. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "par/abort.h"

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_abort_empty_pipe_file_and_null_cost_nothing(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fputs("bytes in a file", f) >= 0, 1);
    assert_int_equal(fflush(f), 0);
    const int null = open("/dev/null", O_WRONLY);
    assert_true(null >= 0);
    const int fds[] = {p[1], fileno(f), null, p[0]};
    const double t = seconds_now();
    assert_int_equal(par_wait_drained(fds, 4, 1000), 0);
    assert_true(seconds_now() - t < 0.1);
    close(p[0]), close(p[1]), close(null);
    fclose(f);
}

static void test_abort_unread_pipe_costs_the_limit(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "line\n", 5), 5);
    const int fds[] = {p[1]};
    const double t = seconds_now();
    assert_int_equal(par_wait_drained(fds, 1, 200), -1);
    const double waited = seconds_now() - t;
    if (waited < 0.19 || waited > 2.0)
        fail_msg("a pipe nobody reads: waited %.3f s, expected the 0.2 s limit", waited);
    close(p[0]), close(p[1]);
}

/* Reads what is in the pipe 100 ms after it starts. */
static void *late_reader(void *arg)
{
    const int fd = *(const int *)arg;
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    char buf[64];
    ssize_t got = read(fd, buf, sizeof buf);
    return (void *)(intptr_t)got;
}

static void test_abort_waits_until_the_reader_has_read(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    /* Two descriptors: stdout's pipe empty, stderr's holding the line. */
    int q[2];
    assert_int_equal(pipe(q), 0);
    assert_int_equal(write(p[1], "ebm_mpi: error: ...\n", 20), 20);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, late_reader, &p[0]), 0);
    const int fds[] = {q[1], p[1]};
    const double t = seconds_now();
    const int rc = par_wait_drained(fds, 2, 5000);
    const double waited = seconds_now() - t;
    void *got = NULL;
    pthread_join(reader, &got);
    assert_int_equal(rc, 0);
    assert_int_equal((intptr_t)got, 20);
    if (waited < 0.08 || waited > 3.0)
        fail_msg("waited %.3f s for a reader that read after 0.1 s", waited);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_empty_pipe_file_and_null_cost_nothing),
        cmocka_unit_test(test_abort_unread_pipe_costs_the_limit),
        cmocka_unit_test(test_abort_waits_until_the_reader_has_read),
    };
    return harness_run(argc, argv, "test_abort", tests, HARNESS_COUNT(tests), NULL, NULL);
}
