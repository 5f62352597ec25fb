/* api.h: what the public calls of include/ebm_mpi/ebm_mpi.h share inside
 * the library: the model handle, and turning an internal failure (ebm_err)
 * into a status and the calling thread's last error. */
#ifndef EBM_API_API_H
#define EBM_API_API_H

#include "ebm_mpi/ebm_mpi.h"

#include "ckpt.h"
#include "infer.h"
#include "core/err.h"
#include "ebm/langevin.h"
#include "par/dist.h"

struct ebm_model {
    ckpt_model m;
    char path[EBM_PATH_LEN];
};

/* Records err as this thread's last error and returns status. */
int api_fail(int status, const ebm_err *err);
/* The same for a failure raised here (printf format), with its place. */
#define api_failf(status, ...) api_failf_at((status), __FILE__, __LINE__, __func__, __VA_ARGS__)
int api_failf_at(int status, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A call starts: this thread's last error is cleared. */
void api_begin(void);
/* EBM_ERR_MEMORY when err says an allocation failed, else `otherwise`. */
int api_status_of(const ebm_err *err, int otherwise);

/* Brackets every use of HDF5 in a call: one thread at a time (HDF5 is
 * usually built without thread safety), and HDF5's automatic error printing
 * off meanwhile (the library never prints), the caller's setting restored. */
typedef struct {
    unsigned char saved[4 * sizeof(void *)];
} api_quiet;
void api_quiet_begin(api_quiet *q);
void api_quiet_end(const api_quiet *q);

#endif
