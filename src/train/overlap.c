/* overlap.c: per-layer nonblocking gradient sums during the backward pass. */
#include "train/overlap.h"

#include <string.h>

void grad_overlap_begin(grad_overlap *o, const dist_ctx *ctx, const model_shape *shape,
                        float *grad, size_t n_status)
{
    o->ctx = ctx;
    o->shape = shape;
    o->grad = grad;
    o->n_status = n_status;
    o->next = EBM_LAYERS - 1;
    o->rc = 0;
    o->err.msg[0] = '\0';
    o->err.n_frames = 0;
}

/* Starts the buckets of layers next .. ready (top down), then lets MPI progress. */
static int start_and_progress(grad_overlap *o, int ready, ebm_err *err)
{
    const model_shape *s = o->shape;
    for (; o->next >= ready && o->next >= 0; o->next--) {
        const int l = o->next;
        const size_t begin = s->w_off[l];
        const size_t end =
            l == EBM_LAYERS - 1 ? s->n_params + o->n_status : s->b_off[l] + (size_t)s->out[l];
        EBM_TRY(dist_sum_floats_start(o->ctx, o->grad + begin, end - begin, err));
    }
    return ebm_pass(err, dist_progress(o->ctx, err));
}

void grad_overlap_stage(void *arg, int ready)
{
    grad_overlap *o = arg;
    if (o->rc == 0)
        o->rc = start_and_progress(o, ready, &o->err);
}

int grad_overlap_finish(grad_overlap *o, ebm_err *err)
{
    if (o->rc == 0)
        o->rc = start_and_progress(o, 0, &o->err);
    if (o->rc != 0) {
        *err = o->err;
        return ebm_trace(err);
    }
    return ebm_pass(err, dist_wait_all(o->ctx, err));
}
