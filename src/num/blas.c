/* blas.c: the BLAS library's threads and identity, through one adapter per
 * library. Which one is compiled is decided at configure time from the
 * library CMake found (cmake/deps.cmake): EBM_BLAS_OPENBLAS, EBM_BLAS_BLIS,
 * or EBM_BLAS_UNKNOWN="<library file>" for any other CBLAS, whose threads
 * are left to its own defaults and environment variables. */
#include "num/blas.h"

#include <cblas.h>
#include <stdio.h>

#if defined(EBM_BLAS_OPENBLAS)

void blas_set_threads(int threads) { openblas_set_num_threads(threads); }

void blas_describe(char *buf, size_t len)
{
    snprintf(buf, len, "%s, core %s", openblas_get_config(), openblas_get_corename());
}

#elif defined(EBM_BLAS_BLIS)

#include <blis.h>

void blas_set_threads(int threads) { bli_thread_set_num_threads(threads); }

void blas_describe(char *buf, size_t len)
{
    const char *model = bli_info_get_enable_openmp()     ? "OpenMP"
                        : bli_info_get_enable_pthreads() ? "pthreads"
                                                         : "single-threaded";
    snprintf(buf, len, "BLIS %s, %s, arch %s", bli_info_get_version_str(), model,
             bli_arch_string(bli_arch_query_id()));
}

#else
#ifndef EBM_BLAS_UNKNOWN
#define EBM_BLAS_UNKNOWN "a CBLAS"
#endif

void blas_set_threads(int threads) { (void)threads; }

void blas_describe(char *buf, size_t len)
{
    snprintf(buf, len, "unknown (%s; threads not controlled)", EBM_BLAS_UNKNOWN);
}

#endif
