/* vmath_noclone.c: vmath.h's kernels built without the AVX2 clone
 * (EBM_NO_CLONES), for test_vmath.c to compare bitwise. */
#define EBM_NO_CLONES
#include "vmath_kernels.h"

VMATH_KERNELS(plain)
