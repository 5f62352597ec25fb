/* test_options.c: options_parse on option strings alone, as the library
 * takes them (ebm_train_mpi: no argv[0], no command word); the full syntax
 * and every refusal are test_cli.c's, through cli_parse. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "options.h"

#define STRINGS(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)), \
                     (const char *const[]){__VA_ARGS__}

static void test_options_parse_strings(void **state)
{
    (void)state;
    ebm_config c;
    ebm_err err = {0};
    assert_int_equal(options_parse(CMD_TRAIN, STRINGS("--hidden", "16", "--epochs=1", "--out",
                                                      "run", "--overwrite"),
                                   &c, &err),
                     0);
    assert_int_equal(c.command, CMD_TRAIN);
    assert_int_equal(c.hidden, 16);
    assert_int_equal(c.epochs, 1);
    assert_string_equal(c.out, "run");
    assert_int_equal(c.overwrite, 1);
    /* The rest at the stable preset's values (docs/stable-preset.md). */
    assert_int_equal(c.batch_size, 64);
    assert_true(c.lr == 4e-3);
    assert_true(c.gen_weight == 0.2);
    assert_int_equal(c.preset, PRESET_STABLE);
}

static void test_options_parse_no_strings_is_the_defaults(void **state)
{
    (void)state;
    ebm_config c, d;
    ebm_err err = {0};
    assert_int_equal(options_parse(CMD_EVAL, 0, NULL, &c, &err), -1); /* eval needs --ckpt */
    assert_non_null(strstr(err.msg, "--ckpt"));
    memset(&err, 0, sizeof err);
    assert_int_equal(options_parse(CMD_TRAIN, 0, NULL, &c, &err), 0);
    options_defaults(&d);
    d.command = CMD_TRAIN;
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_options_parse_preset_first_wherever_it_stands(void **state)
{
    (void)state;
    ebm_config c;
    ebm_err err = {0};
    assert_int_equal(
        options_parse(CMD_TRAIN, STRINGS("--lr", "0.5", "--preset", "seed"), &c, &err), 0);
    assert_true(c.lr == 0.5);          /* given */
    assert_true(c.gen_weight == 1.0);  /* the seed preset's */
    assert_int_equal(c.map_inputs, 0); /* the seed preset's */
}

static void test_options_parse_refuses(void **state)
{
    (void)state;
    ebm_config c;
    ebm_err err = {0};
    assert_int_equal(options_parse(CMD_TRAIN, 2, (const char *const[]){"--hidden", NULL}, &c, &err),
                     -1);
    assert_non_null(strstr(err.msg, "NULL"));
    memset(&err, 0, sizeof err);
    assert_int_equal(options_parse(CMD_TRAIN, -1, NULL, &c, &err), -1);
    memset(&err, 0, sizeof err);
    assert_int_equal(options_parse(CMD_TRAIN, STRINGS("--ckpt", "x.h5"), &c, &err), -1);
    assert_non_null(strstr(err.msg, "'--ckpt' for 'train'"));
    memset(&err, 0, sizeof err);
    assert_int_equal(options_parse(CMD_TRAIN, STRINGS("train", "--hidden", "16"), &c, &err), -1);
    assert_non_null(strstr(err.msg, "unexpected argument 'train'"));
    memset(&err, 0, sizeof err);
    assert_int_equal(options_parse(CMD_NONE, STRINGS("--hidden", "16"), &c, &err), -1);
    memset(&err, 0, sizeof err);
    assert_int_equal(options_parse(CMD_TRAIN, STRINGS("--hidden", "0"), &c, &err), -1);
    assert_non_null(strstr(err.msg, "out of range"));
}

static void test_options_parse_help_and_names(void **state)
{
    (void)state;
    ebm_config c;
    ebm_err err = {0};
    assert_int_equal(options_parse(CMD_SAMPLE, STRINGS("--n", "3", "--help"), &c, &err), 0);
    assert_int_equal(c.want_help, 1);
    assert_string_equal(options_command_name(CMD_TRAIN), "train");
    assert_string_equal(options_command_name(CMD_EVAL), "eval");
    assert_string_equal(options_command_name(CMD_SAMPLE), "sample");
    assert_string_equal(options_command_name(CMD_NONE), "");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parse_strings),
        cmocka_unit_test(test_options_parse_no_strings_is_the_defaults),
        cmocka_unit_test(test_options_parse_preset_first_wherever_it_stands),
        cmocka_unit_test(test_options_parse_refuses),
        cmocka_unit_test(test_options_parse_help_and_names),
    };
    return harness_run(argc, argv, "test_options", tests, HARNESS_COUNT(tests), NULL, NULL);
}
