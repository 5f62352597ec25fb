/* err.c: filling error messages and checked allocation. */
#include "core/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int ebm_fail(ebm_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void *ebm_calloc(size_t n, size_t size, const char *what, ebm_err *err)
{
    /* Zero elements still get one, so callers never see NULL for success. */
    if (n == 0)
        n = 1;
    if (size == 0)
        size = 1;
    if (n > SIZE_MAX / size) {
        ebm_fail(err, "out of memory: %s needs more than SIZE_MAX bytes", what);
        return NULL;
    }
    void *p = calloc(n, size);
    if (!p)
        ebm_fail(err, "out of memory: %s (%zu bytes)", what, n * size);
    return p;
}
