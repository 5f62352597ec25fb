/* test_dir_lock.c: the output directory's lock (src/core/dir_lock.h): its
 * text round-trips, the take-over policy for each kind of holder, and the
 * lock on a real directory: taken, refused while a live run holds it (the
 * message names the holder), taken over from a process that has exited (a
 * child whose PID is known to be gone), from another host only with
 * --break-lock or the same SLURM job, and released only by its holder. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "core/dir_lock.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_dir_lock.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *lock_path(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, DIR_LOCK_NAME);
    return path;
}

/* Writes a lock held by h, as another run would have left it. */
static void plant(const dir_lock_holder *h)
{
    char text[1024];
    dir_lock_format(h, text, sizeof text);
    FILE *f = fopen(lock_path(), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The PID of a child that has exited and been reaped: no process has it
 * (until the kernel reuses it, which takes the whole PID space). */
static long gone_pid(void)
{
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return (long)pid;
}

static void test_dir_lock_text_round_trips(void **state)
{
    (void)state;
    dir_lock_holder me, back;
    dir_lock_self(&me, "4242");
    char text[1024];
    dir_lock_format(&me, text, sizeof text);
    assert_int_equal(dir_lock_parse(text, &back), 0);
    assert_string_equal(back.host, me.host);
    assert_int_equal(back.pid, (long)getpid());
    assert_true(back.start_ticks > 0); /* /proc/self/stat is read on Linux */
    assert_string_equal(back.job, "4242");
    assert_string_equal(back.started, me.started);
    dir_lock_self(&me, NULL);
    assert_string_equal(me.job, "-");
    assert_int_equal(dir_lock_parse("not a lock\n", &back), -1);
    assert_int_equal(dir_lock_parse("host a\npid 0\npid_start 1\njob -\nstarted x\n", &back), -1);
}

static void test_dir_lock_alive_tells_a_gone_or_reused_pid(void **state)
{
    (void)state;
    dir_lock_holder me;
    dir_lock_self(&me, NULL);
    assert_int_equal(dir_lock_holder_alive(&me), 1);
    dir_lock_holder reused = me;
    reused.start_ticks = me.start_ticks + 1; /* our PID, another start time */
    assert_int_equal(dir_lock_holder_alive(&reused), 0);
    dir_lock_holder gone = me;
    gone.pid = gone_pid();
    assert_int_equal(dir_lock_holder_alive(&gone), 0);
    /* A child that has exited but is not reaped yet (a zombie, as an aborted
     * rank is for a moment): its PID still answers kill(pid, 0). */
    const pid_t zombie = fork();
    assert_true(zombie >= 0);
    if (zombie == 0)
        _exit(0);
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)zombie);
    for (int i = 0; i < 500 && !strstr(buf, ") Z "); i++) {
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
        if (!strstr(buf, ") Z "))
            nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    assert_non_null(strstr(buf, ") Z "));
    dir_lock_holder z = me;
    z.pid = (long)zombie, z.start_ticks = 0;
    assert_int_equal(dir_lock_holder_alive(&z), 0);
    int status;
    assert_int_equal(waitpid(zombie, &status, 0), zombie);
}

static void test_dir_lock_judge_policy(void **state)
{
    (void)state;
    dir_lock_holder me, h;
    dir_lock_self(&me, "7");
    char why[320];
    h = me;
    h.pid = me.pid + 1;
    assert_int_equal(dir_lock_judge(&h, &me, 1, 0, why, sizeof why), 0); /* same host, alive */
    assert_int_equal(dir_lock_judge(&h, &me, 1, 1, why, sizeof why), 0); /* --break-lock: not here */
    assert_int_equal(dir_lock_judge(&h, &me, 0, 0, why, sizeof why), 1); /* same host, gone */
    assert_non_null(strstr(why, "is gone"));
    snprintf(h.host, sizeof h.host, "other-node");
    snprintf(h.job, sizeof h.job, "-");
    assert_int_equal(dir_lock_judge(&h, &me, 1, 0, why, sizeof why), 0); /* unknowable */
    assert_int_equal(dir_lock_judge(&h, &me, 1, 1, why, sizeof why), 1);
    snprintf(h.job, sizeof h.job, "7");
    assert_int_equal(dir_lock_judge(&h, &me, 1, 0, why, sizeof why), 1); /* same job */
    assert_non_null(strstr(why, "SLURM job 7"));
    snprintf(h.job, sizeof h.job, "8");
    assert_int_equal(dir_lock_judge(&h, &me, 1, 0, why, sizeof why), 0);
}

static void test_dir_lock_take_refuse_release(void **state)
{
    (void)state;
    dir_lock_holder me;
    dir_lock_self(&me, NULL);
    char note[1024];
    ebm_err err = {0};
    assert_int_equal(dir_lock_take(dir, &me, 0, note, sizeof note, &err), 0);
    assert_string_equal(note, "");
    struct stat st;
    assert_int_equal(stat(lock_path(), &st), 0);
    /* A live run on this host (this test process, seen from a "rival" with
     * another PID) holds it: refused, naming the holder. */
    dir_lock_holder rival = me;
    rival.pid = me.pid + 100000;
    assert_int_equal(dir_lock_take(dir, &rival, 1, note, sizeof note, &err), -1);
    assert_non_null(strstr(err.msg, "is in use by another run"));
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %ld", me.pid);
    assert_non_null(strstr(err.msg, pid_text));
    /* Released only by its holder. */
    dir_lock_release(dir, &rival);
    assert_int_equal(stat(lock_path(), &st), 0);
    dir_lock_release(dir, &me);
    assert_int_equal(stat(lock_path(), &st), -1);
    /* No temporary file is left either way. */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_dir_lock_takes_over_the_dead(void **state)
{
    (void)state;
    dir_lock_holder me, dead;
    dir_lock_self(&me, "11");
    dead = me;
    dead.pid = gone_pid();
    plant(&dead);
    char note[1024];
    ebm_err err = {0};
    assert_int_equal(dir_lock_take(dir, &me, 0, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "took over"));
    dir_lock_holder now;
    char text[1024];
    FILE *f = fopen(lock_path(), "r");
    assert_non_null(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    assert_int_equal(dir_lock_parse(text, &now), 0);
    assert_int_equal(now.pid, me.pid);
    dir_lock_release(dir, &me);

    /* Another host: refused, unless the same job or --break-lock. */
    dir_lock_holder far = me;
    snprintf(far.host, sizeof far.host, "lost-node");
    snprintf(far.job, sizeof far.job, "12");
    plant(&far);
    assert_int_equal(dir_lock_take(dir, &me, 0, note, sizeof note, &err), -1);
    assert_non_null(strstr(err.msg, "--break-lock"));
    assert_non_null(strstr(err.msg, "lost-node"));
    assert_int_equal(dir_lock_take(dir, &me, 1, note, sizeof note, &err), 0);
    dir_lock_release(dir, &me);
    snprintf(far.job, sizeof far.job, "11");
    plant(&far);
    assert_int_equal(dir_lock_take(dir, &me, 0, note, sizeof note, &err), 0);
    dir_lock_release(dir, &me);

    /* A file that is not a lock is refused, not replaced. */
    FILE *g = fopen(lock_path(), "w");
    assert_non_null(g);
    fputs("something else\n", g);
    fclose(g);
    assert_int_equal(dir_lock_take(dir, &me, 1, note, sizeof note, &err), -1);
    assert_non_null(strstr(err.msg, "not ebm_mpi's or is damaged"));
    unlink(lock_path());
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_lock_text_round_trips),
        cmocka_unit_test(test_dir_lock_alive_tells_a_gone_or_reused_pid),
        cmocka_unit_test(test_dir_lock_judge_policy),
        cmocka_unit_test(test_dir_lock_take_refuse_release),
        cmocka_unit_test(test_dir_lock_takes_over_the_dead),
    };
    return harness_run(argc, argv, "test_dir_lock", tests, HARNESS_COUNT(tests), make_dir,
                       remove_dir);
}
