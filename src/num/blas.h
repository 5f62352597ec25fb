/* blas.h: the BLAS library itself (OpenBLAS by default, BLIS, or another
 * CBLAS): its threads and its identity. The matrix products are in
 * num/model.c. */
#ifndef EBM_BLAS_H
#define EBM_BLAS_H

#include <stddef.h>

/* Threads of the BLAS library for this process (OpenBLAS and BLIS; a no-op
 * for an unknown CBLAS). */
void blas_set_threads(int threads);

/* The library and the kernels it chose for this CPU, for the banner and the
 * checkpoints' blas_version:
 *   OpenBLAS: "OpenBLAS 0.3.21 DYNAMIC_ARCH ... MAX_THREADS=64, core Zen"
 *             (openblas_get_config(), ", core ", openblas_get_corename())
 *   BLIS:     "BLIS 0.9.0, OpenMP, arch zen3" (version, threading model,
 *             the kernel set bli_arch_query_id() chose)
 *   other:    "unknown (libfoo.so; threads not controlled)" */
void blas_describe(char *buf, size_t len);

#endif
