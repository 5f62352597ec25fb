/* err.c: error messages with the trail of places they passed. */
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void add_frame(ebm_err *err, const char *file, int line, const char *func)
{
    if (err->n_frames < EBM_TRAIL_FRAMES)
        snprintf(err->frames[err->n_frames], EBM_FRAME_LEN, "%s:%d (%s)", file, line, func);
    err->n_frames++;
}

int ebm_fail_at(ebm_err *err, const char *file, int line, const char *func, const char *fmt,
                ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->n_frames = 0;
        add_frame(err, file, line, func);
    }
    return -1;
}

int ebm_trace_at(ebm_err *err, const char *file, int line, const char *func)
{
    if (err)
        add_frame(err, file, line, func);
    return -1;
}

void ebm_err_print(FILE *out, const ebm_err *err, int rank, int with_trail)
{
    if (rank >= 0)
        fprintf(out, "ebm_mpi: error: rank %d: %s\n", rank, err->msg);
    else
        fprintf(out, "ebm_mpi: error: %s\n", err->msg);
    if (with_trail) {
        const int shown = err->n_frames < EBM_TRAIL_FRAMES ? err->n_frames : EBM_TRAIL_FRAMES;
        for (int i = 0; i < shown; i++)
            fprintf(out, "ebm_mpi: at %s\n", err->frames[i]);
        if (err->n_frames > shown)
            fprintf(out, "ebm_mpi: at ... (%d more)\n", err->n_frames - shown);
    }
    fflush(out);
}

void *ebm_calloc_at(size_t n, size_t size, const char *what, ebm_err *err, const char *file,
                    int line, const char *func)
{
    /* Zero elements still get one, so callers never see NULL for success. */
    if (n == 0)
        n = 1;
    if (size == 0)
        size = 1;
    if (n > SIZE_MAX / size) {
        ebm_fail_at(err, file, line, func, "out of memory: %s needs more than SIZE_MAX bytes",
                    what);
        return NULL;
    }
    void *p = calloc(n, size);
    if (!p)
        ebm_fail_at(err, file, line, func, "out of memory: %s (%zu bytes)", what, n * size);
    return p;
}
