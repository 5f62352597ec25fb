/* blas.c: OpenBLAS's threads and identity. */
#include "num/blas.h"

#include <cblas.h>
#include <stdio.h>

void blas_set_threads(int threads) { openblas_set_num_threads(threads); }

void blas_describe(char *buf, size_t len)
{
    snprintf(buf, len, "%s, core %s", openblas_get_config(), openblas_get_corename());
}
