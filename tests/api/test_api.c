/* test_api.c: the public calls' contract, as a user's program meets it:
 * errors come back as status codes with a message naming what failed (a
 * missing file, a file that is not a checkpoint, a wrong-shaped batch, a
 * class out of range, a buffer too small, another header version), the
 * out-parameters untouched; the last error is per thread; one loaded model
 * serves several threads at once with the results of one thread; the
 * library prints nothing. MPI_Init is defined here to fail: none of this may
 * initialise MPI.
 *   usage: test_api CKPT DATA WORKDIR   (CKPT: a checkpoint, DATA: its data file) */
#define _DEFAULT_SOURCE /* realpath, symlink */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ebm_mpi/ebm_mpi_mpi.h"

/* Exported (the program is linked with ENABLE_EXPORTS), so that the dynamic
 * linker binds libebm_mpi.so's reference to MPI_Init_thread (dist_init's)
 * to these definitions, not to libmpi's. */
#define EXPORTED __attribute__((visibility("default")))
int MPI_Init(int *argc, char ***argv);
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
EXPORTED int MPI_Init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "FAIL: MPI_Init called\n");
    exit(99);
}
EXPORTED int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)argc, (void)argv, (void)required, (void)provided;
    fprintf(stderr, "FAIL: MPI_Init_thread called\n");
    exit(99);
}

static int failures = 0;

#define EXPECT(cond, ...)                                                                        \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                          \
            printf(__VA_ARGS__);                                                                 \
            printf("\n");                                                                        \
            failures++;                                                                          \
        }                                                                                        \
    } while (0)

/* A call failed with `status`, and the message holds `needle`. */
static void expect_error(int got, int status, const char *needle, const char *what)
{
    EXPECT(got == status, "%s: status %s, expected %s (%s)", what, ebm_status_name(got),
           ebm_status_name(status), ebm_last_error());
    EXPECT(strstr(ebm_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
           ebm_last_error(), needle);
    EXPECT(strstr(ebm_last_error_trail(), "at src/") == ebm_last_error_trail(),
           "%s: trail '%s' does not start with a place in src/", what, ebm_last_error_trail());
}

static void test_version(void)
{
    int major = -1, minor = -1, patch = -1;
    const char *v = ebm_version(&major, &minor, &patch);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", EBM_MPI_VERSION_MAJOR, EBM_MPI_VERSION_MINOR,
             EBM_MPI_VERSION_PATCH);
    EXPECT(strcmp(v, want) == 0, "ebm_version '%s', header %s", v, want);
    EXPECT(major == EBM_MPI_VERSION_MAJOR && minor == EBM_MPI_VERSION_MINOR &&
               patch == EBM_MPI_VERSION_PATCH, "ebm_version parts %d.%d.%d", major, minor, patch);
    EXPECT(EBM_MPI_CHECK_VERSION() == EBM_OK, "the header's own version refused: %s",
           ebm_last_error());
    expect_error(ebm_check_version(EBM_MPI_VERSION_MAJOR + 1, 0, 0), EBM_ERR_VERSION,
                 "needs the same major version", "another major version");
    expect_error(ebm_check_version(EBM_MPI_VERSION_MAJOR, EBM_MPI_VERSION_MINOR + 1, 0),
                 EBM_ERR_VERSION, "compiled against ebm_mpi.h", "a newer minor version");
    EXPECT(strcmp(ebm_status_name(EBM_ERR_IO), "EBM_ERR_IO") == 0, "status name");
    EXPECT(strcmp(ebm_status_name(12345), "unknown status") == 0, "unknown status name");
}

/* A communicator call without MPI initialised: an error, not a crash, and
 * MPI is not initialised behind the caller's back (MPI_Init fails above). */
static void test_mpi_not_initialised(const char *ckpt, const char *data)
{
    ebm_eval_result r;
    expect_error(ebm_eval_mpi_f(0, ckpt, data, "test", &r, sizeof r, NULL, 0), EBM_ERR_MPI,
                 "MPI is not initialised", "ebm_eval_mpi_f without MPI");
    expect_error(ebm_eval_mpi(MPI_COMM_WORLD, ckpt, data, "test", &r, sizeof r, NULL, 0),
                 EBM_ERR_MPI, "MPI is not initialised", "ebm_eval_mpi without MPI");
}

static void test_load_errors(const char *workdir)
{
    ebm_model *model = (ebm_model *)&failures; /* must become NULL */
    char path[4096];
    snprintf(path, sizeof path, "%s/no_such_file.h5", workdir);
    expect_error(ebm_model_load(path, &model), EBM_ERR_IO, "no_such_file.h5", "missing file");
    EXPECT(strstr(ebm_last_error(), "No such file") != NULL, "missing file: '%s'",
           ebm_last_error());
    EXPECT(model == NULL, "missing file: model not set to NULL");
    snprintf(path, sizeof path, "%s/not_hdf5.h5", workdir);
    FILE *f = fopen(path, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    model = (ebm_model *)&failures;
    expect_error(ebm_model_load(path, &model), EBM_ERR_FORMAT, "is not an HDF5 file",
                 "a text file");
    EXPECT(model == NULL, "a text file: model not set to NULL");
    EXPECT(ebm_model_load(NULL, &model) == EBM_ERR_ARGUMENT, "NULL path accepted");
    EXPECT(ebm_model_load(path, NULL) == EBM_ERR_ARGUMENT, "NULL out-parameter accepted");
}

/* A path longer than MPI-IO's limit (238 characters, io/h5file.h) loads:
 * the serial calls read through HDF5's sec2 driver. */
static void test_long_path(const char *ckpt, const char *workdir)
{
    char dir[1024], link[1200], real[4096];
    snprintf(dir, sizeof dir, "%s/%s", workdir,
             "a_directory_name_of_sixty_characters_to_make_the_path_long_0/"
             "a_directory_name_of_sixty_characters_to_make_the_path_long_1/"
             "a_directory_name_of_sixty_characters_to_make_the_path_long_2/"
             "a_directory_name_of_sixty_characters_to_make_the_path_long_3");
    for (char *p = dir + strlen(workdir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
    snprintf(link, sizeof link, "%s/model.h5", dir);
    unlink(link);
    EXPECT(realpath(ckpt, real) && symlink(real, link) == 0, "cannot make %s", link);
    ebm_model *model = NULL;
    EXPECT(strlen(link) > 238, "the long path has only %zu characters", strlen(link));
    EXPECT(ebm_model_load(link, &model) == EBM_OK, "a %zu-character path: %s", strlen(link),
           ebm_last_error());
    ebm_model_free(model);
}

static void test_batch_errors(const ebm_model *model, const ebm_info *info)
{
    const size_t d = (size_t)info->input_size, k = (size_t)info->n_classes, n = 3;
    float x[3 * 4096] = {0}, out[3 * 64];
    int32_t label[3];
    for (size_t i = 0; i < n * k; i++)
        out[i] = 12345.0f;
    expect_error(ebm_model_logits(model, x, n, n * d - 1, out, n * k), EBM_ERR_ARGUMENT,
                 "x holds", "a batch one pixel short");
    expect_error(ebm_model_logits(model, x, n, n * d, out, n * k + 1), EBM_ERR_ARGUMENT,
                 "the output holds", "logits one too many");
    expect_error(ebm_model_energy(model, x, n, n * d, out, n - 1), EBM_ERR_ARGUMENT,
                 "the output holds", "energies one short");
    expect_error(ebm_model_predict(model, x, 0, 0, label, NULL, 0), EBM_ERR_ARGUMENT,
                 "n = 0", "an empty batch");
    expect_error(ebm_model_logits(model, NULL, n, n * d, out, n * k), EBM_ERR_ARGUMENT,
                 "x is NULL", "NULL images");
    int untouched = 1;
    for (size_t i = 0; i < n * k; i++)
        untouched &= out[i] == 12345.0f;
    EXPECT(untouched, "a refused call wrote into its output");
    /* A success clears the last error. */
    EXPECT(ebm_model_energy(model, x, n, n * d, out, n) == EBM_OK, "energy: %s",
           ebm_last_error());
    EXPECT(ebm_last_error()[0] == '\0', "last error kept after a success: '%s'",
           ebm_last_error());
    char small[8];
    size_t need = 0;
    expect_error(ebm_model_hyperparameters(model, small, sizeof small, &need), EBM_ERR_ARGUMENT,
                 "bytes", "a small hyperparameter buffer");
    EXPECT(need > sizeof small, "needed %zu bytes", need);
    ebm_info big[2];
    expect_error(ebm_model_info(model, big, sizeof big), EBM_ERR_ARGUMENT, "info_size",
                 "an ebm_info larger than the library's");
}

static void test_sampler_errors(const ebm_model *model, const ebm_info *info, const char *data)
{
    ebm_sampler *s = NULL;
    expect_error(ebm_sampler_create(model, 1, 7, data, &s), EBM_ERR_ARGUMENT, "start 7",
                 "an unknown start");
    if (info->chain_init)
        expect_error(ebm_sampler_create(model, 1, EBM_START_FRESH, NULL, &s), EBM_ERR_ARGUMENT,
                     "data_path", "Gaussian starts without the data file");
    EXPECT(ebm_sampler_create(model, 1, EBM_START_FRESH, data, &s) == EBM_OK, "sampler: %s",
           ebm_last_error());
    const size_t d = (size_t)info->input_size;
    float x[2 * 4096];
    expect_error(ebm_sampler_draw(s, 2, info->n_classes, 1, x, 2 * d), EBM_ERR_ARGUMENT,
                 "classes", "a class out of range");
    expect_error(ebm_sampler_draw(s, 2, -1, 1, x, 2 * d + 1), EBM_ERR_ARGUMENT, "out holds",
                 "a sample buffer one too long");
    EXPECT(ebm_sampler_draw(s, 2, 0, 2, x, 2 * d) == EBM_OK, "draw: %s", ebm_last_error());
    for (size_t i = 0; i < 2 * d; i++)
        EXPECT(x[i] >= info->value_min - 1e-4 && x[i] <= info->value_max + 1e-4,
               "sample value %g outside the data range", (double)x[i]);
    ebm_sampler_free(s);
    if (info->n_chains > 0) {
        EXPECT(ebm_sampler_create(model, 1, EBM_START_CHAINS, NULL, &s) == EBM_OK,
               "chains sampler: %s", ebm_last_error());
        const size_t n = (size_t)info->n_chains;
        float *all = malloc((n + 1) * d * sizeof(float));
        expect_error(ebm_sampler_draw(s, n + 1, -1, 0, all, (n + 1) * d), EBM_ERR_ARGUMENT,
                     "left of", "more chains than the checkpoint holds");
        EXPECT(ebm_sampler_draw(s, n, -1, 0, all, n * d) == EBM_OK, "all chains: %s",
               ebm_last_error());
        expect_error(ebm_sampler_draw(s, 1, -1, 0, all, d), EBM_ERR_ARGUMENT, "0 left",
                     "a draw after the last chain");
        free(all);
        ebm_sampler_free(s);
    }
    ebm_sampler_free(NULL);
    ebm_model_free(NULL);
}

/* ---- threads ------------------------------------------------------------------ */

typedef struct {
    const ebm_model *model;
    const float *x;
    size_t n, d, k;
    float *logits;
    int status;
    char message[600];
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < 5 && j->status == EBM_OK; rep++)
        j->status = ebm_model_logits(j->model, j->x, j->n, j->n * j->d, j->logits, j->n * j->k);
    /* This thread's own error; the main thread's earlier one must not show. */
    snprintf(j->message, sizeof j->message, "%s", ebm_last_error());
    return NULL;
}

/* Loads the model repeatedly (the library serialises HDF5 inside). */
static void *load_job(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < 5 && j->status == EBM_OK; rep++) {
        ebm_model *m = NULL;
        j->status = ebm_model_load(j->message, &m);
        ebm_model_free(m);
    }
    return NULL;
}

static void *fail_in_thread(void *arg)
{
    ebm_model *m = NULL;
    job *j = arg;
    j->status = ebm_model_load("/nonexistent/thread.h5", &m);
    snprintf(j->message, sizeof j->message, "%s", ebm_last_error());
    return NULL;
}

static void test_threads(const ebm_model *model, const ebm_info *info, const float *x, size_t n)
{
    enum { THREADS = 4 };
    const size_t d = (size_t)info->input_size, k = (size_t)info->n_classes;
    float *want = malloc(n * k * sizeof(float));
    EXPECT(ebm_model_logits(model, x, n, n * d, want, n * k) == EBM_OK, "logits: %s",
           ebm_last_error());
    /* An error on this thread first: the workers must not see it. */
    ebm_model *none = NULL;
    ebm_model_load("/nonexistent/main.h5", &none);
    pthread_t t[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){model, x, n, d, k, malloc(n * k * sizeof(float)), EBM_OK, ""};
        pthread_create(&t[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        EXPECT(jobs[i].status == EBM_OK, "thread %d: %s", i, jobs[i].message);
        EXPECT(jobs[i].message[0] == '\0', "thread %d sees another thread's error '%s'", i,
               jobs[i].message);
        EXPECT(memcmp(jobs[i].logits, want, n * k * sizeof(float)) == 0,
               "thread %d: logits differ from one thread's", i);
        free(jobs[i].logits);
    }
    EXPECT(strstr(ebm_last_error(), "main.h5") != NULL, "the main thread's error was lost: '%s'",
           ebm_last_error());
    job other = {0};
    pthread_create(&t[0], NULL, fail_in_thread, &other);
    pthread_join(t[0], NULL);
    EXPECT(other.status == EBM_ERR_IO && strstr(other.message, "thread.h5"),
           "the other thread's error: %s '%s'", ebm_status_name(other.status), other.message);
    EXPECT(strstr(ebm_last_error(), "main.h5") != NULL,
           "another thread's failure replaced this thread's error: '%s'", ebm_last_error());
    free(want);
}

static void test_concurrent_loads(const char *ckpt)
{
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){0};
        snprintf(jobs[i].message, sizeof jobs[i].message, "%s", ckpt);
        pthread_create(&t[i], NULL, load_job, &jobs[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        EXPECT(jobs[i].status == EBM_OK, "concurrent load in thread %d: %s", i,
               ebm_status_name(jobs[i].status));
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_api CKPT DATA WORKDIR\n");
        return 2;
    }
    /* The library never prints: stdout and stderr must stay empty of its
     * text (the driver checks this program's output holds only PASS/FAIL). */
    test_version();
    test_load_errors(argv[3]);
    test_mpi_not_initialised(argv[1], argv[2]);
    test_long_path(argv[1], argv[3]);
    ebm_model *model = NULL;
    if (ebm_model_load(argv[1], &model) != EBM_OK) {
        printf("FAIL: cannot load %s: %s\n", argv[1], ebm_last_error());
        return 1;
    }
    ebm_info info;
    EXPECT(ebm_model_info(model, &info, sizeof info) == EBM_OK, "info: %s", ebm_last_error());
    test_batch_errors(model, &info);
    test_sampler_errors(model, &info, argv[2]);
    size_t n = 0;
    int d = 0;
    expect_error(ebm_data_read_split(argv[2], "testing", NULL, 0, NULL, 0, &n, &d),
                 EBM_ERR_ARGUMENT, "split 'testing'", "an unknown split");
    EXPECT(ebm_data_read_split(argv[2], "val", NULL, 0, NULL, 0, &n, &d) == EBM_OK, "split: %s",
           ebm_last_error());
    float *x = malloc(n * (size_t)d * sizeof(float));
    int32_t *labels = malloc(n * sizeof(int32_t));
    expect_error(ebm_data_read_split(argv[2], "val", x, n * (size_t)d - 1, labels, n, NULL, NULL),
                 EBM_ERR_ARGUMENT, "the buffers hold", "a split buffer one short");
    EXPECT(ebm_data_read_split(argv[2], "val", x, n * (size_t)d, labels, n, NULL, NULL) == EBM_OK,
           "read val: %s", ebm_last_error());
    test_threads(model, &info, x, n);
    test_concurrent_loads(argv[1]);
    free(x);
    free(labels);
    ebm_model_free(model);
    if (failures) {
        printf("FAIL: %d check(s) failed\n", failures);
        return 1;
    }
    printf("PASS: status codes and messages, per-thread errors, a model shared by threads\n");
    return 0;
}
