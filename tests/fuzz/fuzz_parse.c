/* fuzz_parse.c: libFuzzer target for the code that parses and checks what
 * comes from outside without HDF5 in the way (issue 24, item 9):
 *   first byte even: the option parser, the input split at NUL bytes into
 *     argv[1..] (argv[0] "ebm_mpi"); an accepted configuration is then
 *     described and printed (what --dry-run and the banner do);
 *   first byte odd: the data values' check (data_validate) fed a data_info
 *     and a shard made of the input's bytes, past HDF5; when it accepts them
 *     and the value range is one a data file may declare (data_check_range,
 *     which data_file.c applies), every pixel mapped into the model's input
 *     box must land in [-1, 1] (data_input_map, data_map): the property the
 *     checks exist for. Its first finding (a range of 1e-315 accepted, NaN
 *     inputs) is corpus/crash-denormal-range and unit test_data's test.
 * The sanitizers (address, undefined) are the other oracle. Built by the
 * fuzz tree only (EBM_FUZZ=ON with clang; tests/fuzz/CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/data.h"

enum { MAX_ARGS = 40, MAX_D = 64, MAX_ROWS = 16 };

static void fuzz_cli(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"ebm_mpi";
    for (size_t at = 0; at <= size && argc <= MAX_ARGS;) {
        argv[argc++] = buf + at;
        at += strlen(buf + at) + 1;
    }
    argv[argc] = NULL;
    ebm_config cfg;
    ebm_err err = {0};
    if (cli_parse(argc, argv, &cfg, &err) == 0) {
        char text[4096];
        cli_describe(&cfg, text, sizeof text);
        static FILE *sink;
        if (!sink)
            sink = fopen("/dev/null", "w");
        if (sink)
            cli_print_config(sink, &cfg);
    } else if (err.msg[0] == '\0') {
        abort(); /* a refusal must say why */
    }
    free(buf);
}

static void fuzz_values(const uint8_t *data, size_t size)
{
    if (size < 2 + 2 * sizeof(double))
        return;
    data_info info;
    memset(&info, 0, sizeof info);
    info.d = 1 + data[0] % MAX_D;
    info.k = (int)(int8_t)data[1];
    memcpy(&info.value_min, data + 2, sizeof(double));
    memcpy(&info.value_max, data + 2 + sizeof(double), sizeof(double));
    data += 2 + 2 * sizeof(double), size -= 2 + 2 * sizeof(double);
    const size_t row_bytes = (size_t)info.d * sizeof(float) + sizeof(int32_t);
    const int64_t n = (int64_t)(size / row_bytes < MAX_ROWS ? size / row_bytes : MAX_ROWS);
    float images[MAX_ROWS * MAX_D];
    int32_t labels[MAX_ROWS];
    for (int64_t i = 0; i < n; i++) {
        memcpy(images + i * info.d, data, (size_t)info.d * sizeof(float));
        memcpy(&labels[i], data + (size_t)info.d * sizeof(float), sizeof(int32_t));
        data += row_bytes;
    }
    data_shard shard = {n, 0, n, info.d, images, labels};
    ebm_err err = {0};
    const int ok = data_validate(&shard, &info, "fuzz.h5", "train", &err) == 0;
    if (!ok && err.msg[0] == '\0')
        abort();
    ebm_err range_err = {0};
    if (!ok || data_check_range(&info, "fuzz.h5", &range_err) != 0)
        return; /* data_file.c refuses such a range before any value is read */
    const input_map map = data_input_map(&info, 1);
    float mapped[MAX_ROWS * MAX_D];
    data_map(&map, images, mapped, (size_t)(n * info.d));
    for (int64_t i = 0; i < n * info.d; i++)
        if (!(mapped[i] >= -1.0f - 1e-3f && mapped[i] <= 1.0f + 1e-3f)) {
            fprintf(stderr, "pixel %.9g in [%.9g, %.9g] mapped to %.9g\n", (double)images[i],
                    info.value_min, info.value_max, (double)mapped[i]);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        fuzz_cli(data + 1, size - 1);
    else
        fuzz_values(data + 1, size - 1);
    return 0;
}
