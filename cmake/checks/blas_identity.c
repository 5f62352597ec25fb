/* blas_identity.c (configure-time check, cmake/deps.cmake): the BLAS found
 * computes through <cblas.h> (a 2x2 sgemm checked against its closed form),
 * which library file provides cblas_sgemm, which library that is (OpenBLAS
 * or BLIS, told by their own entry points, else unknown), and whose cblas.h
 * was included. src/num/blas.c's adapter is chosen from this. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

typedef char *(*string_fn)(void);

static void *sym(const char *name) { return dlsym(RTLD_DEFAULT, name); }

int main(void)
{
    const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    float c[4] = {0, 0, 0, 0};
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    const float want[4] = {19, 22, 43, 50};
    for (int i = 0; i < 4; i++)
        if (c[i] != want[i]) {
            printf("SGEMM=wrong\n");
            return 1;
        }
    printf("SGEMM=ok\n");
    Dl_info info;
    if (dladdr((void *)cblas_sgemm, &info) && info.dli_fname)
        printf("BLAS_LIB=%s\n", info.dli_fname);
#if defined(OPENBLAS_VERSION)
    printf("HEADER=OPENBLAS\n");
#elif defined(BLIS_SYSTEM_H) || defined(BLIS_H)
    printf("HEADER=BLIS\n");
#else
    printf("HEADER=UNKNOWN\n");
#endif
    /* The library's own entry points, wherever they are loaded from: KIND_LIB
     * is the file providing them, which configure compares with the files
     * linked (a generic libblas.so.3 that loads OpenBLAS underneath does not
     * provide them to the program). */
    string_fn get = NULL;
    void *p, *threads;
    if ((p = sym("openblas_get_config")) && (threads = sym("openblas_set_num_threads"))) {
        memcpy(&get, &p, sizeof get);
        printf("KIND=OPENBLAS\nDESCRIPTION=%s\n", get());
    } else if ((p = sym("bli_info_get_version_str")) &&
               (threads = sym("bli_thread_set_num_threads"))) {
        memcpy(&get, &p, sizeof get);
        printf("KIND=BLIS\nDESCRIPTION=BLIS %s\n", get());
    } else {
        printf("KIND=UNKNOWN\n");
        return 0;
    }
    if (dladdr(threads, &info) && info.dli_fname)
        printf("KIND_LIB=%s\n", info.dli_fname);
    return 0;
}
