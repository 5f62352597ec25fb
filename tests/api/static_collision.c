/* static_collision.c: a user's program with functions of its own named as
 * libebm_mpi's internal ones (dist_init, model_forward, rng_derive, with
 * other signatures), linked with the static libebm_mpi.a: it must link (no
 * "multiple definition"), its own functions must be the ones it calls, and
 * the library must still compute with its own.
 *   usage: static_collision CKPT */
#include <stdio.h>
#include <string.h>

#include "ebm_mpi/ebm_mpi.h"

int dist_init(void);
double model_forward(double x);
const char *rng_derive(int n);
int dist_init(void) { return 42; }
double model_forward(double x) { return 2 * x; }
const char *rng_derive(int n) { return n > 0 ? "mine" : "none"; }

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (dist_init() != 42 || model_forward(1.5) != 3.0 || strcmp(rng_derive(1), "mine") != 0) {
        printf("FAIL: the program's own dist_init/model_forward/rng_derive were replaced\n");
        return 1;
    }
    ebm_model *model = NULL;
    ebm_info info;
    if (ebm_model_load(argv[1], &model) != EBM_OK ||
        ebm_model_info(model, &info, sizeof info) != EBM_OK) {
        printf("FAIL: %s\n", ebm_last_error());
        return 1;
    }
    float x[64] = {0}, logits[64];
    const size_t d = (size_t)info.input_size, k = (size_t)info.n_classes;
    if (d > 64 || k > 64 || ebm_model_logits(model, x, 1, d, logits, k) != EBM_OK) {
        printf("FAIL: logits: %s\n", ebm_last_error());
        return 1;
    }
    ebm_sampler *s = NULL;
    if (ebm_sampler_create(model, 1, EBM_START_FRESH, NULL, &s) != EBM_OK ||
        ebm_sampler_draw(s, 1, -1, 3, x, d) != EBM_OK) {
        printf("FAIL: sampler: %s\n", ebm_last_error());
        return 1;
    }
    ebm_sampler_free(s);
    ebm_model_free(model);
    printf("PASS: linked statically beside its own dist_init, model_forward and rng_derive; "
           "the library's calls work (logit 0 = %g)\n", (double)logits[0]);
    return 0;
}
