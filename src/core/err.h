/* err.h: the one error pattern. Functions return 0 on success or -1 on
 * failure after filling the caller's ebm_err; only main turns an error into an
 * exit of the whole job (see dist_agree and dist_abort). */
#ifndef EBM_ERR_H
#define EBM_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define EBM_ERR_LEN 512

typedef struct {
    char msg[EBM_ERR_LEN];
} ebm_err;

/* Writes the message (printf format) into err if err is not NULL; returns -1 so
 * that `return ebm_fail(err, ...)` reads naturally. */
int ebm_fail(ebm_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocation that reports failure through err; n*size overflow is checked. */
void *ebm_calloc(size_t n, size_t size, const char *what, ebm_err *err);

#endif
