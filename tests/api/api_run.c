/* api_run.c: drives libebm_mpi the way a user's program does, for the
 * checks in api_check.py, and proves the serial calls never initialise MPI:
 * it defines MPI_Init, MPI_Init_thread and their PMPI_ names itself (the
 * linker takes the program's definitions over libmpi's), each of which
 * prints and exits 99 when called.
 *
 *   api_run logits CKPT DATA SPLIT OUT      f(x) of the split, raw float32 (n, K)
 *   api_run predict CKPT DATA SPLIT OUT     class (int32) and probability (float32) per image
 *   api_run energy CKPT DATA SPLIT OUT      E(x) per image, raw float32
 *   api_run sample CKPT DATA SEED N LABEL START STEPS OUT
 *                                          one draw of N samples (START: fresh|chains;
 *                                          DATA "-": NULL), raw float32 (N, D)
 *   api_run info CKPT                       ebm_info and the hyperparameters as text
 * Exit 0 done; 1 a call failed: "api_run: <status name>: <message>" on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebm_mpi/ebm_mpi.h"

/* ---- MPI_Init must never be called ------------------------------------------ */
/* Exported (the program is linked with ENABLE_EXPORTS), so that the dynamic
 * linker binds libebm_mpi.so's reference to MPI_Init_thread (dist_init's)
 * to these definitions, not to libmpi's. */
#define EXPORTED __attribute__((visibility("default")))
static int mpi_init_called(const char *name)
{
    fprintf(stderr, "api_run: %s was called: the serial API must not initialise MPI\n", name);
    exit(99);
}
int MPI_Init(int *argc, char ***argv);
int PMPI_Init(int *argc, char ***argv);
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int PMPI_Init_thread(int *argc, char ***argv, int required, int *provided);
EXPORTED int MPI_Init(int *argc, char ***argv) { (void)argc, (void)argv; return mpi_init_called("MPI_Init"); }
EXPORTED int PMPI_Init(int *argc, char ***argv) { (void)argc, (void)argv; return mpi_init_called("PMPI_Init"); }
EXPORTED int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)argc, (void)argv, (void)required, (void)provided;
    return mpi_init_called("MPI_Init_thread");
}
EXPORTED int PMPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)argc, (void)argv, (void)required, (void)provided;
    return mpi_init_called("PMPI_Init_thread");
}

static void check(int status)
{
    if (status != EBM_OK) {
        fprintf(stderr, "api_run: %s: %s\n", ebm_status_name(status), ebm_last_error());
        exit(1);
    }
}

static void write_raw(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "api_run: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see api_run.c\n");
        return 2;
    }
    check(EBM_MPI_CHECK_VERSION());
    const char *mode = argv[1];
    ebm_model *model = NULL;
    check(ebm_model_load(argv[2], &model));
    ebm_info info;
    check(ebm_model_info(model, &info, sizeof info));
    const size_t d = (size_t)info.input_size, k = (size_t)info.n_classes;
    if (strcmp(mode, "info") == 0) {
        printf("input_size %d\nn_classes %d\nhidden %d\nlayers %d %d %d %d %d\nn_params %zu\n"
               "image %dx%d\nvalue_range %g %g\ninput_map %.9g %.9g\nformat_version %d\n"
               "epoch %d\nlangevin %d %g %g %g clamp %d chain_init %d\nn_chains %lld\nhas_base %d\n",
               info.input_size, info.n_classes, info.hidden, info.layer_sizes[0],
               info.layer_sizes[1], info.layer_sizes[2], info.layer_sizes[3],
               info.layer_sizes[4], info.n_params, info.height, info.width, info.value_min,
               info.value_max, info.input_scale, info.input_shift, info.format_version,
               info.epoch, info.langevin_steps, info.step_size, info.noise, info.step_decay,
               info.clamp_chains, info.chain_init, (long long)info.n_chains, info.has_base);
        size_t need = 0;
        ebm_model_hyperparameters(model, NULL, 0, &need);
        char *text = malloc(need);
        check(text ? ebm_model_hyperparameters(model, text, need, NULL) : EBM_ERR_MEMORY);
        printf("%s", text);
        free(text);
    } else if (strcmp(mode, "sample") == 0 && argc == 10) {
        const size_t n = strtoul(argv[5], NULL, 10);
        const int start = strcmp(argv[7], "chains") == 0 ? EBM_START_CHAINS : EBM_START_FRESH;
        ebm_sampler *sampler = NULL;
        check(ebm_sampler_create(model, strtoull(argv[4], NULL, 10), start,
                                 strcmp(argv[3], "-") == 0 ? NULL : argv[3], &sampler));
        float *x = malloc(n * d * sizeof(float));
        check(x ? ebm_sampler_draw(sampler, n, atoi(argv[6]), atoi(argv[8]), x, n * d)
                : EBM_ERR_MEMORY);
        write_raw(argv[9], x, n * d * sizeof(float));
        free(x);
        ebm_sampler_free(sampler);
    } else if (argc == 6) {
        size_t n = 0;
        int dd = 0;
        check(ebm_data_read_split(argv[3], argv[4], NULL, 0, NULL, 0, &n, &dd));
        float *x = malloc(n * (size_t)dd * sizeof(float));
        int32_t *labels = malloc(n * sizeof(int32_t));
        float *out = malloc(n * k * sizeof(float));
        int32_t *cls = malloc(n * sizeof(int32_t));
        if (!x || !labels || !out || !cls)
            check(EBM_ERR_MEMORY);
        check(ebm_data_read_split(argv[3], argv[4], x, n * (size_t)dd, labels, n, NULL, NULL));
        if (strcmp(mode, "logits") == 0) {
            check(ebm_model_logits(model, x, n, n * d, out, n * k));
            write_raw(argv[5], out, n * k * sizeof(float));
        } else if (strcmp(mode, "energy") == 0) {
            check(ebm_model_energy(model, x, n, n * d, out, n));
            write_raw(argv[5], out, n * sizeof(float));
        } else if (strcmp(mode, "predict") == 0) {
            check(ebm_model_predict(model, x, n, n * d, cls, out, n));
            write_raw(argv[5], cls, n * sizeof(int32_t));
            FILE *f = fopen(argv[5], "ab");
            if (!f || fwrite(out, sizeof(float), n, f) != n || fclose(f) != 0)
                check(EBM_ERR_IO);
        } else {
            fprintf(stderr, "api_run: unknown mode %s\n", mode);
            return 2;
        }
        free(x), free(labels), free(out), free(cls);
    } else {
        fprintf(stderr, "api_run: unknown mode %s or wrong arguments\n", mode);
        return 2;
    }
    ebm_model_free(model);
    return 0;
}
