/* vmath_kernels.h: the loops of vmath.h's functions that the tests compare
 * between a build with EBM_VECTOR_CLONES (AVX2 and baseline clones, picked at
 * run time) and one without (EBM_NO_CLONES): test_vmath.c defines them with
 * clones, vmath_noclone.c without, under other names. */
#include <stddef.h>
#include <stdint.h>

#include "num/vmath.h"

#define VMATH_KERNELS(suffix)                                                                   \
    EBM_VECTOR_CLONES void vk_expm1_##suffix(const float *x, float *y, size_t n)               \
    {                                                                                          \
        for (size_t i = 0; i < n; i++)                                                         \
            y[i] = vm_select(x[i] > 0.0f, 0.0f, vm_expm1_nonpos(x[i]));                        \
    }                                                                                          \
    EBM_VECTOR_CLONES void vk_exp_##suffix(const float *x, float *y, size_t n)                 \
    {                                                                                          \
        for (size_t i = 0; i < n; i++)                                                         \
            y[i] = vm_exp_nonpos(x[i]);                                                        \
    }                                                                                          \
    EBM_VECTOR_CLONES void vk_log_##suffix(const double *u, double *y, size_t n)               \
    {                                                                                          \
        for (size_t i = 0; i < n; i++)                                                         \
            y[i] = vm_log_unit(u[i]);                                                          \
    }                                                                                          \
    EBM_VECTOR_CLONES void vk_sincos_##suffix(const uint32_t *k, float *c, float *s, size_t n) \
    {                                                                                          \
        for (size_t i = 0; i < n; i++)                                                         \
            vm_sincos_turn(k[i], &c[i], &s[i]);                                                \
    }

void vk_expm1_clone(const float *x, float *y, size_t n);
void vk_exp_clone(const float *x, float *y, size_t n);
void vk_log_clone(const double *u, double *y, size_t n);
void vk_sincos_clone(const uint32_t *k, float *c, float *s, size_t n);
void vk_expm1_plain(const float *x, float *y, size_t n);
void vk_exp_plain(const float *x, float *y, size_t n);
void vk_log_plain(const double *u, double *y, size_t n);
void vk_sincos_plain(const uint32_t *k, float *c, float *s, size_t n);
