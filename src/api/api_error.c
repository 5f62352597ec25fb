/* api_error.c: versions, status names and the calling thread's last error
 * (the message and trail of the internal ebm_err that caused it). */
#include "api/api.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/h5file.h"

/* One per thread: a failure on one thread never shows on another. */
static _Thread_local ebm_err last_error;
static _Thread_local char last_trail[EBM_TRAIL_FRAMES * (EBM_FRAME_LEN + 8) + 32];

#define STR2(x) #x
#define STR(x) STR2(x)
static const char version_text[] =
    STR(EBM_MPI_VERSION_MAJOR) "." STR(EBM_MPI_VERSION_MINOR) "." STR(EBM_MPI_VERSION_PATCH);

const char *ebm_version(int *major, int *minor, int *patch)
{
    if (major)
        *major = EBM_MPI_VERSION_MAJOR;
    if (minor)
        *minor = EBM_MPI_VERSION_MINOR;
    if (patch)
        *patch = EBM_MPI_VERSION_PATCH;
    return version_text;
}

int ebm_check_version(int major, int minor, int patch)
{
    api_begin();
    if (major != EBM_MPI_VERSION_MAJOR || minor > EBM_MPI_VERSION_MINOR)
        return api_failf(EBM_ERR_VERSION,
                         "the program was compiled against ebm_mpi.h %d.%d.%d, the library is "
                         "%s: it needs the same major version and a minor version at least the "
                         "header's",
                         major, minor, patch, version_text);
    return EBM_OK;
}

const char *ebm_last_error(void) { return last_error.msg; }

const char *ebm_last_error_trail(void)
{
    const int shown = last_error.n_frames < EBM_TRAIL_FRAMES ? last_error.n_frames
                                                             : EBM_TRAIL_FRAMES;
    size_t used = 0;
    last_trail[0] = '\0';
    for (int i = 0; i < shown; i++)
        used += (size_t)snprintf(last_trail + used, sizeof last_trail - used, "%sat %s",
                                 i ? "\n" : "", last_error.frames[i]);
    if (last_error.n_frames > shown)
        snprintf(last_trail + used, sizeof last_trail - used, "\nat ... (%d more)",
                 last_error.n_frames - shown);
    return last_trail;
}

const char *ebm_status_name(int status)
{
    switch (status) {
    case EBM_OK: return "EBM_OK";
    case EBM_ERR_ARGUMENT: return "EBM_ERR_ARGUMENT";
    case EBM_ERR_IO: return "EBM_ERR_IO";
    case EBM_ERR_FORMAT: return "EBM_ERR_FORMAT";
    case EBM_ERR_MEMORY: return "EBM_ERR_MEMORY";
    case EBM_ERR_VERSION: return "EBM_ERR_VERSION";
    case EBM_ERR_MPI: return "EBM_ERR_MPI";
    }
    return "unknown status";
}

void api_begin(void)
{
    last_error.msg[0] = '\0';
    last_error.n_frames = 0;
}

int api_fail(int status, const ebm_err *err)
{
    last_error = *err;
    return status;
}

int api_failf_at(int status, const char *file, int line, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error.msg, sizeof last_error.msg, fmt, ap);
    va_end(ap);
    last_error.n_frames = 0;
    /* The place, as ebm_fail records it. */
    ebm_err place;
    ebm_fail_at(&place, file, line, func, "%s", "");
    memcpy(last_error.frames[0], place.frames[0], sizeof place.frames[0]);
    last_error.n_frames = 1;
    return status;
}

int api_status_of(const ebm_err *err, int otherwise)
{
    return strncmp(err->msg, "out of memory", 13) == 0 ? EBM_ERR_MEMORY : otherwise;
}

/* Debian's parallel HDF5 (and most) is built without thread safety: the
 * calls that read files take turns, so that threads may load models at once. */
static pthread_mutex_t hdf5_turn = PTHREAD_MUTEX_INITIALIZER;

void api_quiet_begin(api_quiet *q)
{
    pthread_mutex_lock(&hdf5_turn);
    h5file_print_off(q->saved, sizeof q->saved);
}

void api_quiet_end(const api_quiet *q)
{
    h5file_print_restore(q->saved, sizeof q->saved);
    pthread_mutex_unlock(&hdf5_turn);
}
