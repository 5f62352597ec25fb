/* test_err.c: the error pattern of core/err.h: ebm_fail's message and first
 * frame, the trail EBM_TRY / ebm_trace / ebm_pass build from the origin
 * outwards, its bound, ebm_err_print's lines and ebm_calloc. Every expected
 * frame is written here from the documented form "file:line (function)",
 * with the line taken by __LINE__ on the line of the call itself and the
 * file as the build names it (CMakeLists.txt maps __FILE__ to the path
 * relative to the source tree). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/err.h"

/* The name every frame raised in this file must carry: the build's
 * -fmacro-prefix-map makes __FILE__ relative to the source tree. */
#define THIS_FILE "tests/unit/test_err.c"

/* "tests/unit/test_err.c:<line> (<func>)", the documented frame form. */
static void expect_frame(const ebm_err *err, int i, int line, const char *func)
{
    char want[EBM_FRAME_LEN];
    snprintf(want, sizeof want, "%s:%d (%s)", THIS_FILE, line, func);
    if (i >= err->n_frames)
        fail_msg("frame %d expected (%s) but the error has %d frames", i, want, err->n_frames);
    if (strcmp(err->frames[i], want) != 0)
        fail_msg("frame %d is '%s', expected '%s'", i, err->frames[i], want);
}

/* An error struct with every byte set, so that a field the code should have
 * written but did not shows up. */
static void dirty(ebm_err *err)
{
    memset(err, 'Z', sizeof *err);
    err->n_frames = 5;
}

/* ---- a call chain of four levels, each recording the line of its call ---- */

static int chain_line[4];

static int chain_origin(ebm_err *err, int fail)
{
    if (!fail)
        return 0;
    chain_line[0] = __LINE__; return ebm_fail(err, "disk %s is full (%d%%)", "/scratch", 100);
}

static int chain_try(ebm_err *err, int fail)
{
    chain_line[1] = __LINE__; EBM_TRY(chain_origin(err, fail));
    return 0;
}

static int chain_pass(ebm_err *err, int fail)
{
    const int rc = chain_try(err, fail);
    chain_line[2] = __LINE__; return ebm_pass(err, rc);
}

static int chain_trace(ebm_err *err, int fail)
{
    if (chain_pass(err, fail) != 0) {
        chain_line[3] = __LINE__; return ebm_trace(err);
    }
    return 0;
}

/* EBM_TRY with a succeeding call must fall through to what follows it. */
static int try_then_continue(ebm_err *err, int *reached)
{
    EBM_TRY(chain_origin(err, 0));
    *reached = 1;
    return 0;
}

/* Reads a whole stream written by ebm_err_print into a NUL-terminated buffer. */
static char *slurp(FILE *f)
{
    assert_int_equal(fflush(f), 0);
    const long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = calloc((size_t)n + 1, 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

static char *print_to_string(const ebm_err *err, int rank, int with_trail)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    ebm_err_print(f, err, rank, with_trail);
    char *text = slurp(f);
    fclose(f);
    return text;
}

/* What ebm_err_print writes for err is exactly want. */
static void expect_printed(const ebm_err *err, int rank, int with_trail, const char *want)
{
    char *text = print_to_string(err, rank, with_trail);
    assert_string_equal(text, want);
    free(text);
}

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* ---- ebm_fail ----------------------------------------------------------- */

/* A string of size - 1 copies of c: longer than the buffer it is cut to. */
static void fill_long(char *buf, size_t size, char c)
{
    memset(buf, c, size - 1);
    buf[size - 1] = '\0';
}

/* got is full cut to a buffer of cap bytes: its first cap - 1 characters,
 * still a terminated string. */
static void expect_cut(const char *got, const char *full, size_t cap)
{
    assert_int_equal(strlen(got), cap - 1);
    assert_memory_equal(got, full, cap - 1);
}

static void test_ebm_fail_records_message_and_one_frame(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err); /* a previous failure's frames must not survive */
    const int rc = ebm_fail(&err, "cannot open '%s': %s (%d)", "a.h5", "gone", 2), line = __LINE__;
    assert_int_equal(rc, -1);
    assert_string_equal(err.msg, "cannot open 'a.h5': gone (2)");
    assert_int_equal(err.n_frames, 1);
    expect_frame(&err, 0, line, __func__);
}

static void test_ebm_fail_truncates_long_message(void **state)
{
    (void)state;
    char longer[3 * EBM_ERR_LEN];
    fill_long(longer, sizeof longer, 'x');
    ebm_err err;
    dirty(&err);
    assert_int_equal(ebm_fail(&err, "%s", longer), -1);
    /* Cut to the buffer and still a string: EBM_ERR_LEN - 1 characters of it. */
    expect_cut(err.msg, longer, EBM_ERR_LEN);
    assert_int_equal(err.n_frames, 1);
}

static void test_ebm_fail_null_err_returns_minus_one(void **state)
{
    (void)state;
    assert_int_equal(ebm_fail(NULL, "nobody listens: %d", 7), -1);
    assert_int_equal(ebm_trace(NULL), -1);
    assert_int_equal(ebm_pass((ebm_err *)NULL, -1), -1);
    assert_int_equal(ebm_pass((ebm_err *)NULL, 0), 0);
    /* The chain with EBM_TRY and ebm_pass in it, without anywhere to write. */
    assert_int_equal(chain_trace(NULL, 1), -1);
}

static void test_ebm_fail_at_long_frame_is_cut(void **state)
{
    (void)state;
    char file[2 * EBM_FRAME_LEN];
    fill_long(file, sizeof file, 'f');
    ebm_err err;
    dirty(&err);
    assert_int_equal(ebm_fail_at(&err, file, 12, "fn", "m"), -1);
    assert_int_equal(err.n_frames, 1);
    /* A frame longer than EBM_FRAME_LEN is cut and NUL-terminated in place. */
    expect_cut(err.frames[0], file, EBM_FRAME_LEN);
}

/* ---- EBM_TRY, ebm_trace, ebm_pass ---------------------------------------- */

static void test_ebm_trace_trail_origin_first(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    assert_int_equal(chain_trace(&err, 1), -1);
    assert_string_equal(err.msg, "disk /scratch is full (100%)");
    assert_int_equal(err.n_frames, 4);
    expect_frame(&err, 0, chain_line[0], "chain_origin");
    expect_frame(&err, 1, chain_line[1], "chain_try");
    expect_frame(&err, 2, chain_line[2], "chain_pass");
    expect_frame(&err, 3, chain_line[3], "chain_trace");
}

static void test_ebm_trace_appends_to_existing_trail(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    const int l0 = __LINE__; ebm_fail(&err, "origin");
    const int l1 = __LINE__; assert_int_equal(ebm_trace(&err), -1);
    const int l2 = __LINE__; assert_int_equal(ebm_trace(&err), -1);
    assert_int_equal(err.n_frames, 3);
    expect_frame(&err, 0, l0, __func__);
    expect_frame(&err, 1, l1, __func__);
    expect_frame(&err, 2, l2, __func__);
    assert_string_equal(err.msg, "origin"); /* tracing leaves the message alone */
}

static void test_ebm_pass_success_adds_nothing(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    ebm_fail(&err, "earlier failure");
    ebm_err before;
    memcpy(&before, &err, sizeof err);
    assert_int_equal(ebm_pass(&err, 0), 0);
    assert_memory_equal(&err, &before, sizeof err);
    /* The whole chain succeeding: 0 through EBM_TRY and ebm_pass, nothing written. */
    assert_int_equal(chain_trace(&err, 0), 0);
    assert_memory_equal(&err, &before, sizeof err);
}

static void test_ebm_pass_failure_adds_frame(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    const int l0 = __LINE__; int rc = ebm_fail(&err, "inner");
    const int l1 = __LINE__; rc = ebm_pass(&err, rc);
    assert_int_equal(rc, -1);
    assert_int_equal(err.n_frames, 2);
    expect_frame(&err, 0, l0, __func__);
    expect_frame(&err, 1, l1, __func__);
}

static void test_ebm_try_success_continues(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    ebm_err before;
    memcpy(&before, &err, sizeof err);
    int reached = 0;
    assert_int_equal(try_then_continue(&err, &reached), 0);
    assert_int_equal(reached, 1);
    assert_memory_equal(&err, &before, sizeof err);
}

static void test_ebm_trace_beyond_capacity_counts_without_overflow(void **state)
{
    (void)state;
    /* Guard bytes right after the struct: a write past frames[] lands there
     * (and ASan would also report it). */
    struct {
        ebm_err err;
        unsigned char guard[4 * EBM_FRAME_LEN];
    } box;
    memset(&box, 0xA5, sizeof box);
    const int extra = EBM_TRAIL_FRAMES + 9;
    int line[EBM_TRAIL_FRAMES];
    line[0] = __LINE__; ebm_fail(&box.err, "deep");
    for (int i = 1; i <= extra; i++) {
        const int l = __LINE__; ebm_trace(&box.err);
        if (i < EBM_TRAIL_FRAMES)
            line[i] = l;
    }
    assert_int_equal(box.err.n_frames, 1 + extra);
    expect_frame(&box.err, 0, line[0], __func__);
    for (int i = 1; i < EBM_TRAIL_FRAMES; i++)
        expect_frame(&box.err, i, line[i], __func__);
    for (size_t i = 0; i < sizeof box.guard; i++)
        if (box.guard[i] != 0xA5)
            fail_msg("guard byte %zu after the ebm_err was overwritten", i);
}

/* ---- ebm_err_print -------------------------------------------------------- */

static void test_ebm_err_print_one_line_without_trail(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    ebm_fail(&err, "bad label 13");
    ebm_trace(&err);
    expect_printed(&err, -1, 0, "ebm_mpi: error: bad label 13\n");
}

static void test_ebm_err_print_rank_prefix(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    ebm_fail(&err, "bad label 13");
    expect_printed(&err, 3, 0, "ebm_mpi: error: rank 3: bad label 13\n");
    /* Rank 0 is a rank: it gets the prefix too (only rank < 0 has none). */
    expect_printed(&err, 0, 0, "ebm_mpi: error: rank 0: bad label 13\n");
}

static void test_ebm_err_print_trail_lines_in_order(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    assert_int_equal(chain_trace(&err, 1), -1);
    /* open_memstream here (tmpfile in the other tests): both are FILE *s. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ebm_err_print(f, &err, 1, 1);
    fclose(f);
    char want[1024];
    snprintf(want, sizeof want,
             "ebm_mpi: error: rank 1: disk /scratch is full (100%%)\n"
             "ebm_mpi: at %s:%d (chain_origin)\n"
             "ebm_mpi: at %s:%d (chain_try)\n"
             "ebm_mpi: at %s:%d (chain_pass)\n"
             "ebm_mpi: at %s:%d (chain_trace)\n",
             THIS_FILE, chain_line[0], THIS_FILE, chain_line[1], THIS_FILE, chain_line[2],
             THIS_FILE, chain_line[3]);
    assert_string_equal(text, want);
    assert_int_equal(count_lines_starting(text, "ebm_mpi: error:"), 1);
    free(text);
}

static void test_ebm_err_print_trail_beyond_capacity(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    ebm_fail(&err, "deep");
    for (int i = 0; i < EBM_TRAIL_FRAMES + 4; i++)
        ebm_trace(&err);
    char *text = print_to_string(&err, -1, 1);
    /* One error line, the EBM_TRAIL_FRAMES stored frames, then one line
     * saying how many more there were (5 frames were only counted). */
    assert_int_equal(count_lines_starting(text, "ebm_mpi: error: deep\n"), 1);
    assert_int_equal(count_lines_starting(text, "ebm_mpi: error:"), 1);
    assert_int_equal(count_lines_starting(text, "ebm_mpi: at " THIS_FILE ":"),
                     EBM_TRAIL_FRAMES);
    assert_int_equal(count_lines_starting(text, "ebm_mpi: at ... (5 more)\n"), 1);
    assert_int_equal(count_lines_starting(text, "ebm_mpi: "), EBM_TRAIL_FRAMES + 2);
    assert_int_equal(count_lines_starting(text, ""), EBM_TRAIL_FRAMES + 2);
    free(text);
}

/* ---- ebm_calloc ----------------------------------------------------------- */

static void test_ebm_calloc_zero_elements_not_null(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    ebm_err before;
    memcpy(&before, &err, sizeof err);
    void *a = ebm_calloc(0, sizeof(double), "nothing", &err);
    void *b = ebm_calloc(5, 0, "zero-sized things", &err);
    void *c = ebm_calloc(0, 0, "nothing at all", &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_memory_equal(&err, &before, sizeof err); /* success writes no error */
    free(a);
    free(b);
    free(c);
}

static void test_ebm_calloc_overflow_fails_naming_what(void **state)
{
    (void)state;
    ebm_err err;
    dirty(&err);
    /* (SIZE_MAX / 8 + 1) * 8 > SIZE_MAX: the product wraps, so it must be
     * refused before any allocation. */
    const size_t n = SIZE_MAX / 8 + 1;
    void *p = ebm_calloc(n, 8, "the chain buffer", &err); const int line = __LINE__;
    assert_null(p);
    assert_non_null(strstr(err.msg, "out of memory"));
    assert_non_null(strstr(err.msg, "the chain buffer"));
    /* The frame is the caller's place, not err.c's. */
    assert_int_equal(err.n_frames, 1);
    expect_frame(&err, 0, line, __func__);
    /* Both factors at the edge: SIZE_MAX * 2 wraps as well. */
    assert_null(ebm_calloc(SIZE_MAX, 2, "buffer A", &err));
    assert_non_null(strstr(err.msg, "buffer A"));
    assert_null(ebm_calloc(2, SIZE_MAX, "buffer B", &err));
    assert_non_null(strstr(err.msg, "buffer B"));
    /* And with nowhere to write the message. */
    assert_null(ebm_calloc(n, 8, "z", NULL));
}

static void test_ebm_calloc_memory_is_zeroed(void **state)
{
    (void)state;
    /* Dirty some heap first, freed at the same size, so a malloc that reuses
     * it would hand back non-zero bytes (ASan's malloc also fills fresh
     * blocks up to 4 KiB with 0xbe; 3000 bytes is below that). */
    const size_t n = 375, size = 8;
    unsigned char *junk = malloc(n * size);
    assert_non_null(junk);
    memset(junk, 0xEE, n * size);
    free(junk);
    ebm_err err = {0};
    unsigned char *p = ebm_calloc(n, size, "zeroed", &err);
    assert_non_null(p);
    for (size_t i = 0; i < n * size; i++)
        if (p[i] != 0)
            fail_msg("byte %zu of a fresh ebm_calloc block is 0x%02x", i, p[i]);
    /* The whole size is usable (ASan reports a write past the block). */
    memset(p, 1, n * size);
    free(p);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ebm_fail_records_message_and_one_frame),
        cmocka_unit_test(test_ebm_fail_truncates_long_message),
        cmocka_unit_test(test_ebm_fail_null_err_returns_minus_one),
        cmocka_unit_test(test_ebm_fail_at_long_frame_is_cut),
        cmocka_unit_test(test_ebm_trace_trail_origin_first),
        cmocka_unit_test(test_ebm_trace_appends_to_existing_trail),
        cmocka_unit_test(test_ebm_pass_success_adds_nothing),
        cmocka_unit_test(test_ebm_pass_failure_adds_frame),
        cmocka_unit_test(test_ebm_try_success_continues),
        cmocka_unit_test(test_ebm_trace_beyond_capacity_counts_without_overflow),
        cmocka_unit_test(test_ebm_err_print_one_line_without_trail),
        cmocka_unit_test(test_ebm_err_print_rank_prefix),
        cmocka_unit_test(test_ebm_err_print_trail_lines_in_order),
        cmocka_unit_test(test_ebm_err_print_trail_beyond_capacity),
        cmocka_unit_test(test_ebm_calloc_zero_elements_not_null),
        cmocka_unit_test(test_ebm_calloc_overflow_fails_naming_what),
        cmocka_unit_test(test_ebm_calloc_memory_is_zeroed),
    };
    return harness_run(argc, argv, "test_err", tests, HARNESS_COUNT(tests), NULL, NULL);
}
