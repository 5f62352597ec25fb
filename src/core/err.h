/* err.h: the one error pattern. A function that can fail returns 0, or -1
 * after filling the caller's ebm_err:
 *   return ebm_fail(err, "cannot open '%s': %s", path, strerror(errno));
 * records the message and where it was raised (file:line, function), and
 *   EBM_TRY(callee(..., err));
 * passes a failure up, adding the caller's place, so the trail reads from the
 * origin outwards (PETSc's PetscCall). Only main turns an error into the exit
 * status; dist_agree and dist_abort make it a decision of the whole job. */
#ifndef EBM_ERR_H
#define EBM_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define EBM_ERR_LEN 512
#define EBM_TRAIL_FRAMES 12
#define EBM_FRAME_LEN 112

/* Plain bytes (no pointers): dist_agree broadcasts it from the failing rank. */
typedef struct {
    char msg[EBM_ERR_LEN];
    int n_frames; /* frames recorded; past EBM_TRAIL_FRAMES only counted */
    char frames[EBM_TRAIL_FRAMES][EBM_FRAME_LEN]; /* "src/io/h5file.c:120 (h5f_create)" */
} ebm_err;

/* Writes the message (printf format) and the first frame into err when err is
 * not NULL; returns -1 so that `return ebm_fail(err, ...)` reads naturally. */
#define ebm_fail(err, ...) ebm_fail_at((err), __FILE__, __LINE__, __func__, __VA_ARGS__)
int ebm_fail_at(ebm_err *err, const char *file, int line, const char *func, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/* Adds the caller's frame to a failure a callee reported; returns -1. */
#define ebm_trace(err) ebm_trace_at((err), __FILE__, __LINE__, __func__)
int ebm_trace_at(ebm_err *err, const char *file, int line, const char *func);

/* `return ebm_pass(err, rc);` ends a function that collected its status in
 * rc: 0 stays 0, a failure gets the function's frame. */
#define ebm_pass(err, rc) ((rc) == 0 ? 0 : ebm_trace(err))

/* In a function with an `ebm_err *err` in scope: returns -1 with the caller's
 * frame added when `call` (returning 0 or -1) fails. */
#define EBM_TRY(call)                                                                          \
    do {                                                                                       \
        if ((call) != 0)                                                                       \
            return ebm_trace(err);                                                             \
    } while (0)

/* Prints `ebm_mpi: error: <msg>` (with "rank R: " when rank >= 0) and, when
 * with_trail is set, one `ebm_mpi: at <frame>` line per frame, origin first. */
void ebm_err_print(FILE *out, const ebm_err *err, int rank, int with_trail);

/* Allocation that reports failure through err (with the caller's place);
 * n*size overflow is checked; never NULL on success, even for n = 0. */
#define ebm_calloc(n, size, what, err)                                                         \
    ebm_calloc_at((n), (size), (what), (err), __FILE__, __LINE__, __func__)
void *ebm_calloc_at(size_t n, size_t size, const char *what, ebm_err *err, const char *file,
                    int line, const char *func);

#endif
