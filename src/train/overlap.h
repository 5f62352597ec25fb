/* overlap.h: the step's gradient sum overlapped with the backward pass
 * (--overlap on; docs/design.md section 2, "Overlapping the reduction").
 * One bucket per layer, fixed by the layer sizes: layer l's weight and bias
 * gradient, grad[w_off[l], b_off[l] + out[l]), and the status floats ride
 * with layer 3's bucket, the first to complete (they are contiguous). A
 * bucket's nonblocking sum starts at the backward stage that completes it;
 * every stage after it calls dist_progress; grad_overlap_finish starts what
 * is left (all four buckets when the rank had no examples) and waits for
 * the sums in the order they started. Nothing reads the reduced vector
 * before then, so the step's checks see the whole sum, as with one
 * MPI_Allreduce; each element's sum is the same bits. */
#ifndef EBM_TRAIN_OVERLAP_H
#define EBM_TRAIN_OVERLAP_H

#include <stddef.h>

#include "core/err.h"
#include "num/model.h"
#include "par/dist.h"

typedef struct {
    const dist_ctx *ctx;
    const model_shape *shape;
    float *grad;     /* n_params gradient sums + n_status floats */
    size_t n_status;
    int next;        /* the next layer whose bucket starts (3, 2, 1, 0; -1: all started) */
    int rc;          /* first failure inside the backward pass (reported by finish) */
    ebm_err err;
} grad_overlap;

/* Before the backward pass: the status floats must hold their final values. */
void grad_overlap_begin(grad_overlap *o, const dist_ctx *ctx, const model_shape *shape,
                        float *grad, size_t n_status);
/* The model_stage_fn for model_backward_staged (arg: the grad_overlap). */
void grad_overlap_stage(void *arg, int ready);
/* After the backward pass (or instead of it): the whole reduced vector. */
int grad_overlap_finish(grad_overlap *o, ebm_err *err);

#endif
