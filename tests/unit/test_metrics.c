/* test_metrics.c: the column table of core/metrics.h covers metrics_row
 * exactly (every double once, in order, nothing else), and each column's
 * offset reads the field its name says, with the format version that
 * introduced it. The expected name -> field mapping is written out below
 * from the struct's declaration, so a field added to metrics_row without its
 * column (or a column pointing at the wrong field) fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/metrics.h"

/* The fields of metrics_row today, written out from its declaration:
 * X(column name, member, value, format version that has it first). Each
 * field gets a distinct value exact in binary (k + 0.25), so equality below
 * is exact. The time[phase][min, mean, max] columns are named after the
 * phases as spelled here, not through timer_phase_name. */
#define FIELDS(X)                                                                              \
    X(epoch, epoch, 1.25, 1)                                                                   \
    X(global_step, global_step, 2.25, 1)                                                       \
    X(train_loss, train_loss, 3.25, 1)                                                         \
    X(train_ce, train_ce, 4.25, 1)                                                             \
    X(train_gen, train_gen, 5.25, 1)                                                           \
    X(train_error, train_error, 6.25, 1)                                                       \
    X(val_loss, val_loss, 7.25, 1)                                                             \
    X(val_ce, val_ce, 8.25, 1)                                                                 \
    X(val_gen, val_gen, 9.25, 1)                                                               \
    X(val_error, val_error, 10.25, 1)                                                          \
    X(energy_data, energy_data, 11.25, 1)                                                      \
    X(energy_sample, energy_sample, 12.25, 1)                                                  \
    X(skipped_steps, skipped_steps, 13.25, 1)                                                  \
    X(wall_seconds, wall_seconds, 14.25, 1)                                                    \
    X(examples_per_second, examples_per_second, 15.25, 1)                                      \
    X(compute_min, compute_min, 16.25, 1)                                                      \
    X(compute_mean, compute_mean, 17.25, 1)                                                    \
    X(compute_max, compute_max, 18.25, 1)                                                      \
    X(comm_min, comm_min, 19.25, 1)                                                            \
    X(comm_mean, comm_mean, 20.25, 1)                                                          \
    X(comm_max, comm_max, 21.25, 1)                                                            \
    X(time_sample_min, time[PHASE_SAMPLE][0], 22.25, 2)                                        \
    X(time_sample_mean, time[PHASE_SAMPLE][1], 23.25, 2)                                       \
    X(time_sample_max, time[PHASE_SAMPLE][2], 24.25, 2)                                        \
    X(time_forward_backward_min, time[PHASE_FORWARD_BACKWARD][0], 25.25, 2)                    \
    X(time_forward_backward_mean, time[PHASE_FORWARD_BACKWARD][1], 26.25, 2)                   \
    X(time_forward_backward_max, time[PHASE_FORWARD_BACKWARD][2], 27.25, 2)                    \
    X(time_reduce_min, time[PHASE_REDUCE][0], 28.25, 2)                                        \
    X(time_reduce_mean, time[PHASE_REDUCE][1], 29.25, 2)                                       \
    X(time_reduce_max, time[PHASE_REDUCE][2], 30.25, 2)                                        \
    X(time_adamax_min, time[PHASE_ADAMAX][0], 31.25, 2)                                        \
    X(time_adamax_mean, time[PHASE_ADAMAX][1], 32.25, 2)                                       \
    X(time_adamax_max, time[PHASE_ADAMAX][2], 33.25, 2)                                        \
    X(time_bcast_min, time[PHASE_BCAST][0], 34.25, 2)                                          \
    X(time_bcast_mean, time[PHASE_BCAST][1], 35.25, 2)                                         \
    X(time_bcast_max, time[PHASE_BCAST][2], 36.25, 2)                                          \
    X(time_eval_min, time[PHASE_EVAL][0], 37.25, 2)                                            \
    X(time_eval_mean, time[PHASE_EVAL][1], 38.25, 2)                                           \
    X(time_eval_max, time[PHASE_EVAL][2], 39.25, 2)                                            \
    X(time_checkpoint_min, time[PHASE_CHECKPOINT][0], 40.25, 2)                                \
    X(time_checkpoint_mean, time[PHASE_CHECKPOINT][1], 41.25, 2)                               \
    X(time_checkpoint_max, time[PHASE_CHECKPOINT][2], 42.25, 2)                                \
    X(time_metrics_min, time[PHASE_METRICS][0], 43.25, 2)                                      \
    X(time_metrics_mean, time[PHASE_METRICS][1], 44.25, 2)                                     \
    X(time_metrics_max, time[PHASE_METRICS][2], 45.25, 2)                                      \
    X(time_wait_mean, time_wait_mean, 46.25, 2)                                                \
    X(time_slowest_rank, time_slowest_rank, 47.25, 2)                                          \
    X(rollbacks, rollbacks, 48.25, 3)

typedef struct {
    const char *name;
    double value;
    int since;
} expected_field;

#define AS_INIT(name, member, v, since) .member = v,
#define AS_ENTRY(name, member, v, since) {#name, v, since},

static const expected_field expected[] = {FIELDS(AS_ENTRY)};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

static const metrics_column *find_column(const metrics_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (cols[i].name && strcmp(cols[i].name, name) == 0)
            return &cols[i];
    return NULL;
}

/* ---- the table's shape ---------------------------------------------------- */

static void test_metrics_columns_cover_row_exactly(void **state)
{
    (void)state;
    size_t n = 0;
    const metrics_column *cols = metrics_columns(&n);
    assert_non_null(cols);
    /* Every field is a double, so doubles-in-the-struct is the column count. */
    assert_int_equal(n * sizeof(double), sizeof(metrics_row));
    for (size_t i = 0; i < n; i++) {
        const metrics_column *c = &cols[i];
        if (!c->name || !c->name[0])
            fail_msg("column %zu has no name", i);
        if (!c->description || !c->description[0])
            fail_msg("column %zu (%s) has no description", i, c->name);
        if (c->since < 1)
            fail_msg("column %s: since format %d, formats start at 1", c->name, c->since);
        if (c->offset % _Alignof(double) != 0)
            fail_msg("column %s: offset %zu is not aligned for a double", c->name, c->offset);
        if (c->offset + sizeof(double) > sizeof(metrics_row))
            fail_msg("column %s: offset %zu reaches past the %zu-byte row", c->name, c->offset,
                     sizeof(metrics_row));
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cols[j].name, c->name) == 0)
                fail_msg("columns %zu and %zu are both named %s", j, i, c->name);
            if (cols[j].offset == c->offset)
                fail_msg("columns %s and %s share offset %zu", cols[j].name, c->name, c->offset);
        }
    }
}

static void test_metrics_columns_in_struct_order(void **state)
{
    (void)state;
    /* "The columns of metrics_row, in order": distinct aligned offsets inside
     * the row, n of them for n doubles, ascending, are exactly 0, 8, 16, ... */
    size_t n = 0;
    const metrics_column *cols = metrics_columns(&n);
    for (size_t i = 0; i < n; i++)
        if (cols[i].offset != i * sizeof(double))
            fail_msg("column %zu (%s) at offset %zu, expected %zu", i, cols[i].name,
                     cols[i].offset, i * sizeof(double));
    /* And in the order of the declaration, as written in FIELDS above. */
    assert_int_equal(n, N_EXPECTED);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(cols[i].name, expected[i].name);
}

static void test_metrics_columns_names_are_identifiers(void **state)
{
    (void)state;
    /* The names become HDF5 dataset names in metrics.h5: lower case, digits,
     * underscores; no '/' (a group separator), no space. */
    size_t n = 0;
    const metrics_column *cols = metrics_columns(&n);
    for (size_t i = 0; i < n; i++)
        for (const char *p = cols[i].name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                fail_msg("column name '%s' has character '%c'", cols[i].name, *p);
}

/* ---- name -> field ------------------------------------------------------------ */

static void test_metrics_columns_offsets_read_named_fields(void **state)
{
    (void)state;
    const metrics_row row = {FIELDS(AS_INIT)};
    size_t n = 0;
    const metrics_column *cols = metrics_columns(&n);
    for (size_t e = 0; e < N_EXPECTED; e++) {
        const metrics_column *c = find_column(cols, n, expected[e].name);
        if (!c)
            fail_msg("no column named %s", expected[e].name);
        double v;
        memcpy(&v, (const char *)&row + c->offset, sizeof v);
        if (v != expected[e].value)
            fail_msg("column %s reads %g through offset %zu, the field holds %g", c->name, v,
                     c->offset, expected[e].value);
        if (c->since != expected[e].since)
            fail_msg("column %s: since format %d, expected %d", c->name, c->since,
                     expected[e].since);
    }
    /* Every column is one of the expected fields (none unaccounted for). */
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t e = 0; e < N_EXPECTED; e++)
            known |= strcmp(cols[i].name, expected[e].name) == 0;
        if (!known)
            fail_msg("column %s is not a field this test knows: add it to FIELDS", cols[i].name);
    }
}

static void test_metrics_columns_offsets_match_offsetof(void **state)
{
    (void)state;
    /* The same mapping through offsetof, independently of any row's values. */
    size_t n = 0;
    const metrics_column *cols = metrics_columns(&n);
#define CHECK_OFFSET(name, member, v, since)                                                   \
    do {                                                                                       \
        const metrics_column *c = find_column(cols, n, #name);                                 \
        assert_non_null(c);                                                                    \
        assert_int_equal(c->offset, offsetof(metrics_row, member));                            \
    } while (0);
    FIELDS(CHECK_OFFSET)
#undef CHECK_OFFSET
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_columns_cover_row_exactly),
        cmocka_unit_test(test_metrics_columns_in_struct_order),
        cmocka_unit_test(test_metrics_columns_names_are_identifiers),
        cmocka_unit_test(test_metrics_columns_offsets_read_named_fields),
        cmocka_unit_test(test_metrics_columns_offsets_match_offsetof),
    };
    return harness_run(argc, argv, "test_metrics", tests, HARNESS_COUNT(tests), NULL, NULL);
}
