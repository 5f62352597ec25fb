/* test_sysmem.c: the memory limits of src/core/sysmem.h against the OS's own
 * figures: an address-space limit set in a child process (setrlimit) is the
 * limit reported, and without one the host's MemAvailable, shared by the
 * ranks on the host, bounds it. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "core/sysmem.h"

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    assert_non_null(f);
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

static void test_sysmem_available_shares_the_host(void **state)
{
    (void)state;
    const char *source;
    const uint64_t one = sysmem_available(1, &source), four = sysmem_available(4, &source);
    /* MemAvailable moves a little between two reads: 5% and 64 MiB of slack. */
    const uint64_t host = mem_available();
    assert_true(host > 0);
    assert_true(one <= host + host / 20 + (64u << 20));
    assert_true(four <= host / 4 + host / 20 + (64u << 20));
    assert_true(four < one);
}

static void test_sysmem_available_reports_the_address_space_limit(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child only lowers its limit and reports (no MPI, no cmocka).
         * The limit is 3 GB above what it maps already (under ASan that is
         * terabytes of shadow memory). */
        FILE *st = fopen("/proc/self/status", "r");
        char line[256];
        unsigned long long vm_kb = 0;
        while (st && fgets(line, sizeof line, st))
            if (sscanf(line, "VmSize: %llu kB", &vm_kb) == 1)
                break;
        if (st)
            fclose(st);
        const rlim_t lim = (rlim_t)(vm_kb * 1024ULL + 3000000000ULL);
        const struct rlimit rl = {lim, lim};
        const char *source = "";
        uint64_t got = 0;
        if (setrlimit(RLIMIT_AS, &rl) == 0)
            got = sysmem_available(1, &source);
        const int limit = strcmp(source, "the address-space limit") == 0;
        if (write(fds[1], &got, sizeof got) != sizeof got || write(fds[1], &limit, sizeof limit) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    uint64_t got = 0;
    int limit = 0;
    assert_int_equal(read(fds[0], &got, sizeof got), (ssize_t)sizeof got);
    assert_int_equal(read(fds[0], &limit, sizeof limit), (ssize_t)sizeof limit);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The limit less what the process maps already: about 3e9 (the child
     * maps a little more between the two reads: 256 MiB of slack). */
    assert_true(limit);
    assert_true(got > 3000000000ULL - (256ULL << 20) && got <= 3000000000ULL);
}

static void test_sysmem_format_units(void **state)
{
    (void)state;
    char buf[32];
    sysmem_format(3ULL << 30, buf, sizeof buf);
    assert_string_equal(buf, "3.0 GiB");
    sysmem_format(512ULL << 20, buf, sizeof buf);
    assert_string_equal(buf, "512 MiB");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sysmem_available_shares_the_host),
        cmocka_unit_test(test_sysmem_available_reports_the_address_space_limit),
        cmocka_unit_test(test_sysmem_format_units),
    };
    return harness_run(argc, argv, "test_sysmem", tests, HARNESS_COUNT(tests), NULL, NULL);
}
