/* ebm_mpi.h: the public C interface of libebm_mpi: load a model that
 * `ebm_mpi train` wrote (any checkpoint format the program reads), ask it for
 * logits, energies and classes of images, and draw samples from it by
 * Langevin dynamics. docs/api.md is the guide; this header is the contract.
 *
 * Compiling against it needs nothing but a C99 (or C++) compiler: no MPI,
 * HDF5 or BLAS header. The calls here never initialise MPI: a checkpoint is
 * read with HDF5's default driver (plain POSIX reads), so a program that
 * never calls MPI_Init can use them. Calls that need a communicator
 * (training, sharded evaluation) are in ebm_mpi/ebm_mpi_mpi.h, the one
 * public header that includes mpi.h.
 *
 * Conventions
 *  - Every function returns an int status (ebm_status: EBM_OK = 0, else a
 *    code) unless it says otherwise; on failure ebm_last_error() says what
 *    failed and where, and the out-parameters are left as they were (a
 *    handle out-parameter is set to NULL).
 *  - Objects are opaque handles created through an out-parameter
 *    (ebm_model_load(path, &model)) and released by their _free function
 *    (NULL is accepted and ignored).
 *  - Outputs are caller-allocated; each buffer comes with its length in
 *    elements, checked against what the call writes (a wrong-shaped batch is
 *    EBM_ERR_ARGUMENT, nothing is written).
 *  - Images are float rows of ebm_info.input_size pixels in DATA units (the
 *    units of the data file, e.g. 0..16 for the shipped digits), row major;
 *    the model's input map is applied inside.
 *  - The library never prints, never calls exit() or abort(), and installs
 *    no signal handler. The calls of this header never call MPI at all (so
 *    never MPI_Abort). The library's code calls MPI_Abort in exactly two
 *    documented cases, where a job cannot go on coherently: a failed
 *    collective HDF5 write (docs/design.md section 3) and the stall watchdog
 *    (docs/design.md section 2); only ebm_train_mpi can reach them
 *    (ebm_eval_mpi writes nothing, starts no watchdog).
 *
 * Threads
 *  - ebm_model: read-only once loaded; one model may be used by any number
 *    of threads at once (logits, energy, predict, info, and samplers created
 *    from it), each call with its own output buffers. Free it once, after
 *    every sampler made from it and every call on it has finished.
 *  - ebm_sampler: belongs to one thread at a time (it holds a random stream
 *    and scratch space); give each thread its own.
 *  - ebm_last_error() is per thread: it reports the last failure of a call
 *    made by the calling thread.
 *  - Calls that read files (ebm_model_load, ebm_data_read_split,
 *    ebm_sampler_create) may be made from several threads at once; they take
 *    turns inside the library (HDF5 is usually built without thread safety).
 *    A program that also calls HDF5 itself must not do so while one of them
 *    runs in another thread.
 *
 * Stability: everything declared here is stable within a major version
 * (EBM_MPI_VERSION_MAJOR): functions keep their signatures, enums keep their
 * values, struct ebm_info only grows at its end (ebm_model_info takes the
 * size the caller was compiled with). The shared library's SONAME carries
 * the major version. */
#ifndef EBM_MPI_H
#define EBM_MPI_H

#include <stddef.h>
#include <stdint.h>

#define EBM_MPI_VERSION_MAJOR 0
#define EBM_MPI_VERSION_MINOR 4
#define EBM_MPI_VERSION_PATCH 1
/* One number that orders versions: 10000 major + 100 minor + patch. */
#define EBM_MPI_VERSION                                                                          \
    (EBM_MPI_VERSION_MAJOR * 10000 + EBM_MPI_VERSION_MINOR * 100 + EBM_MPI_VERSION_PATCH)

/* Functions the shared library exports (the rest of it is hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define EBM_MPI_API __attribute__((visibility("default")))
#else
#define EBM_MPI_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The status every call returns. */
typedef enum {
    EBM_OK = 0,
    EBM_ERR_ARGUMENT = 1, /* a NULL pointer, a count or class out of range, a wrong-sized buffer */
    EBM_ERR_IO = 2,       /* a file cannot be opened or read */
    EBM_ERR_FORMAT = 3,   /* a file is not what it must be (not a complete checkpoint, an
                             unknown format version, a value out of range, mismatched data) */
    EBM_ERR_MEMORY = 4,   /* out of memory */
    EBM_ERR_VERSION = 5,  /* the header and the library disagree (ebm_check_version) */
    EBM_ERR_MPI = 6       /* an MPI call failed, or MPI is not initialised (ebm_mpi_mpi.h) */
} ebm_status;

/* ---- versions and errors ------------------------------------------------ */

/* The library's version ("0.4.1"); *major etc. get its parts (each may be NULL). */
EBM_MPI_API const char *ebm_version(int *major, int *minor, int *patch);

/* EBM_OK when a program compiled against header version major.minor.patch
 * can use this library: the same major version and a minor version at least
 * the header's. Else EBM_ERR_VERSION, with both versions in ebm_last_error().
 * Call it through EBM_MPI_CHECK_VERSION() at start-up. */
EBM_MPI_API int ebm_check_version(int major, int minor, int patch);
#define EBM_MPI_CHECK_VERSION()                                                                  \
    ebm_check_version(EBM_MPI_VERSION_MAJOR, EBM_MPI_VERSION_MINOR, EBM_MPI_VERSION_PATCH)

/* The message of the calling thread's last failure: what failed, naming the
 * file, object or argument ("" when no call of this thread has failed). Valid
 * until this thread's next call into the library. */
EBM_MPI_API const char *ebm_last_error(void);
/* Where that failure was raised and passed through inside the library, one
 * "at src/file.c:line (function)" a line, origin first ("" when none). */
EBM_MPI_API const char *ebm_last_error_trail(void);
/* The name of a status ("EBM_ERR_IO"); "unknown status" for other values. */
EBM_MPI_API const char *ebm_status_name(int status);

/* ---- models ---------------------------------------------------------------- */

typedef struct ebm_model ebm_model;

/* The MLP has EBM_MPI_LAYERS layers: input_size -> hidden x 3 -> n_classes. */
#define EBM_MPI_LAYERS 4

/* What a model is and how it was trained (ebm_model_info). */
typedef struct ebm_info {
    int input_size;  /* D: pixels per image */
    int n_classes;   /* K */
    int hidden;      /* width of the hidden layers */
    int layer_sizes[EBM_MPI_LAYERS + 1]; /* D, hidden, hidden, hidden, K */
    size_t n_params; /* weights and biases */
    int height, width; /* image shape (0 when the file does not say) */
    /* Pixel values of the data, and the map into the model's input space:
     * input = input_scale * x + input_shift. */
    double value_min, value_max, input_scale, input_shift;
    int format_version; /* of the checkpoint file */
    int epoch;          /* epochs trained */
    /* The Langevin sampler it was trained with (what ebm_sampler uses; input
     * space): steps, step size eta, noise sigma, step decay (step t uses
     * eta decay^t), whether chains are clamped to the data range, and where
     * fresh chains start (0: U[-1,1]; 1: Gaussians fitted per class to the
     * training images, which ebm_sampler_create then reads; 2: exact
     * samples of the base density, has_base). */
    int langevin_steps;
    double step_size, noise, step_decay;
    int clamp_chains, chain_init;
    int64_t n_chains; /* persistent chains stored in the file (0: none) */
    /* 1: the energy includes a base density (checkpoint format 6, trained
     * with --base pixels or --preset density): E(x) = -logsumexp f(x) +
     * E_base(x), what ebm_model_energy returns and ebm_sampler climbs; the
     * logits and classes do not depend on it. 0: E(x) = -logsumexp f(x).
     * (Added in 0.3.0: a caller compiled against 0.2's header passes the
     * smaller size and does not get it.) */
    int has_base;
} ebm_info;

/* Loads the model of a complete checkpoint (best.h5 or last.h5, format
 * versions 1 to the current one) into *model. Never initialises MPI.
 * EBM_ERR_IO: the file cannot be opened; EBM_ERR_FORMAT: it is not a
 * complete ebm_mpi checkpoint or holds invalid values. */
EBM_MPI_API int ebm_model_load(const char *path, ebm_model **model);
EBM_MPI_API void ebm_model_free(ebm_model *model);

/* Fills *info. info_size: sizeof(ebm_info) as the caller compiled it (a
 * newer library fills only that much). */
EBM_MPI_API int ebm_model_info(const ebm_model *model, ebm_info *info, size_t info_size);

/* The hyperparameters of the run that trained the model, as its checkpoint
 * records them: "--name value" one a line, in `ebm_mpi train --help`'s order,
 * NUL-terminated. *needed (may be NULL) gets the bytes the whole text needs,
 * NUL included; a smaller buffer gets EBM_ERR_ARGUMENT and nothing. */
EBM_MPI_API int ebm_model_hyperparameters(const ebm_model *model, char *buf, size_t len,
                                          size_t *needed);

/* f(x): n images x (n x input_size floats, x_count = n * input_size) ->
 * logits (n x n_classes floats; logits_count must be n * n_classes). */
EBM_MPI_API int ebm_model_logits(const ebm_model *model, const float *x, size_t n,
                                 size_t x_count, float *logits, size_t logits_count);

/* E(x) = -logsumexp f(x) of n images into energy (energy_count = n); for a
 * model with a base density (ebm_info.has_base) E(x) = -logsumexp f(x) +
 * E_base(x), E_base the base's -log density of the image in the model's
 * input space (docs/api.md), as `ebm_mpi sample` reports it. */
EBM_MPI_API int ebm_model_energy(const ebm_model *model, const float *x, size_t n,
                                 size_t x_count, float *energy, size_t energy_count);

/* The class (argmax f(x), the first of equal ones) of n images and its
 * softmax probability; probability may be NULL. out_count = n. */
EBM_MPI_API int ebm_model_predict(const ebm_model *model, const float *x, size_t n,
                                  size_t x_count, int32_t *label, float *probability,
                                  size_t out_count);

/* ---- data files ------------------------------------------------------------ */

/* One split ("train", "val" or "test") of a data file in ebm_mpi's layout
 * (docs/design.md section 3; the shipped digits.h5): with images and labels
 * both NULL, only *n (examples) and *d (pixels per image) are set, to size
 * the buffers; else images (images_count = n * d floats, data units) and
 * labels (labels_count = n) are filled, after the same checks the program
 * makes (labels in range, pixels finite and inside the value range). n and d
 * may be NULL. Never initialises MPI. */
EBM_MPI_API int ebm_data_read_split(const char *path, const char *split, float *images,
                                    size_t images_count, int32_t *labels, size_t labels_count,
                                    size_t *n, int *d);

/* ---- samplers ----------------------------------------------------------- */

typedef struct ebm_sampler ebm_sampler;

/* Where chains start (the `sample` command's starts). */
typedef enum {
    /* Fresh chains for every draw, started as the model was trained
     * (ebm_info.chain_init: U[-1,1], or the per-class Gaussians of the
     * training images of data_path): `ebm_mpi sample`. */
    EBM_START_FRESH = 0,
    /* The checkpoint's persistent chains, continued: the first draw takes
     * chains 0..n-1, the next the following ones (`sample --from-chains`). */
    EBM_START_CHAINS = 1
} ebm_start;

/* A sampler on `model` with its own random stream of `seed` (the same seed
 * and draws give the same samples: `ebm_mpi sample --seed S` on one process
 * draws what one ebm_sampler_draw of the same n gives). data_path: the data
 * file the model was trained on, read (and its checksum checked) when
 * EBM_START_FRESH needs its Gaussians (ebm_info.chain_init = 1); may be NULL
 * otherwise. The model must outlive the sampler. */
EBM_MPI_API int ebm_sampler_create(const ebm_model *model, uint64_t seed, int start,
                                   const char *data_path, ebm_sampler **sampler);
EBM_MPI_API void ebm_sampler_free(ebm_sampler *sampler);

/* n samples into out (out_count = n * input_size floats, data units), after
 * `steps` Langevin steps (< 0: the model's langevin_steps); label -1:
 * unconditional (climbing logsumexp f(x)), 0..n_classes-1: of that class
 * (climbing f(x)[label]); with a base density (ebm_info.has_base) both
 * climb -E_base(x) too. */
EBM_MPI_API int ebm_sampler_draw(ebm_sampler *sampler, size_t n, int label, int steps,
                                 float *out, size_t out_count);

/* ---- stopping a training --------------------------------------------------- */

/* Asks the training running in this process (ebm_train_mpi, ebm_mpi_mpi.h)
 * to stop after its current step: every rank then stops after the same step,
 * writes last.h5 and returns with result->stopped = 1 (continue with
 * "--resume auto"). Asked on any one rank, it stops them all. Asked while no
 * training runs, it stops the next one at its first step; a training that
 * stopped on a request has consumed it. Async-signal-safe (it only writes a
 * volatile sig_atomic_t): call it from a SIGTERM or SIGUSR1 handler of your
 * own, as `ebm_mpi train` does; the library installs no handler. Returns
 * nothing and never fails. */
EBM_MPI_API void ebm_request_stop(void);

#ifdef __cplusplus
}
#endif

#endif
