/* blas.h: the BLAS library itself (OpenBLAS): its threads and its identity.
 * The matrix products are in num/model.c. */
#ifndef EBM_BLAS_H
#define EBM_BLAS_H

#include <stddef.h>

/* Threads of the BLAS library for this process. */
void blas_set_threads(int threads);

/* "OpenBLAS 0.3.21 DYNAMIC_ARCH ... MAX_THREADS=64, core Zen": the build's
 * configuration and the kernel set chosen for this CPU. */
void blas_describe(char *buf, size_t len);

#endif
