/* api_sampler.c: ebm_sampler, the `sample` command's draws on one process
 * (fresh chains as the model was trained, or the checkpoint's persistent
 * ones), on a serial context: no MPI. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/data.h"
#include "core/rng.h"
#include "core/shard.h"
#include "ebm/langevin.h"
#include "io/data_file.h"
#include "num/model.h"
#include "par/dist.h"

struct ebm_sampler {
    const ebm_model *model;
    int start;
    ebm_rng rng;
    langevin_gauss gauss; /* chain_init 1, formats before 5: the refitted starts */
    langevin_sampler chains_run;
    model_workspace ws;
    float *buffer;       /* EBM_START_CHAINS: the checkpoint's chains (input space) */
    int64_t next_chain;  /* the next one a draw takes */
};

void ebm_sampler_free(ebm_sampler *s)
{
    if (!s)
        return;
    langevin_free(&s->chains_run);
    langevin_gauss_free(&s->gauss);
    model_workspace_free(&s->ws);
    free(s->buffer);
    free(s);
}

int ebm_sampler_create(const ebm_model *model, uint64_t seed, int start, const char *data_path,
                       ebm_sampler **sampler)
{
    api_begin();
    if (!sampler)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_sampler_create: sampler is NULL");
    *sampler = NULL;
    if (!model)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_sampler_create: model is NULL");
    if (start != EBM_START_FRESH && start != EBM_START_CHAINS)
        return api_failf(EBM_ERR_ARGUMENT,
                         "ebm_sampler_create: start %d is neither EBM_START_FRESH nor "
                         "EBM_START_CHAINS",
                         start);
    const ckpt_model *m = &model->m;
    if (start == EBM_START_CHAINS && m->n_chains == 0)
        return api_failf(EBM_ERR_ARGUMENT,
                         "EBM_START_CHAINS: checkpoint '%s' has no persistent chains (trained "
                         "with --buffer 0); use EBM_START_FRESH",
                         model->path);
    /* Gaussians stored in the file (format 5 on) need no data file, as for
     * `ebm_mpi sample`; --chain-init 2 starts from the base's own samples. */
    const int refit = start == EBM_START_FRESH && m->chain_init == 1 && m->class_start.k == 0;
    if (refit && !data_path)
        return api_failf(EBM_ERR_ARGUMENT,
                         "checkpoint '%s' starts fresh chains from Gaussians fitted to its "
                         "training images (--chain-init 1): pass the data file it was trained "
                         "on as data_path",
                         model->path);
    ebm_err err;
    ebm_sampler *s = ebm_calloc(1, sizeof *s, "sampler", &err);
    if (!s)
        return api_fail(EBM_ERR_MEMORY, &err);
    s->model = model;
    s->start = start;
    /* The stream `ebm_mpi sample --seed S` draws from on rank 0. */
    rng_derive(&s->rng, seed, RNG_RANK, 0, 0);
    dist_ctx serial;
    dist_serial(&serial);
    api_quiet q;
    api_quiet_begin(&q);
    int rc = 0, status = EBM_ERR_FORMAT;
    if (refit)
        rc = infer_fit_class_start(&serial, m, model->path, data_path, &s->gauss, &err);
    if (rc == 0 && start == EBM_START_CHAINS) {
        s->buffer = ebm_calloc((size_t)m->n_chains * m->shape.d, sizeof(float), "chains", &err);
        rc = s->buffer ? ckpt_read_chains(&serial, model->path, m, 0, m->n_chains, s->buffer,
                                          &err)
                       : -1;
    }
    api_quiet_end(&q);
    const langevin_params lp = {
        .steps = m->langevin_steps,
        .step_size = (float)m->step_size,
        .noise = (float)m->noise,
        .step_decay = (float)m->step_decay,
        .reinit = 0.0f,
        .clamp = m->clamp_chains,
        .lo = m->map.scale * (float)m->value_min + m->map.shift,
        .hi = m->map.scale * (float)m->value_max + m->map.shift,
        .target_class = -1,
        .start = start != EBM_START_FRESH || m->chain_init != 1 ? NULL
                 : refit                                       ? &s->gauss
                                                               : &m->class_start,
        /* The base density is part of the energy the chains climb. */
        .base = m->base.d > 0 ? &m->base : NULL,
        .start_base = start == EBM_START_FRESH && m->chain_init == 2,
    };
    if (rc == 0) {
        status = EBM_ERR_MEMORY;
        rc = model_workspace_init(&s->ws, &m->shape, EBM_CHUNK_ROWS, &err);
    }
    if (rc == 0)
        rc = langevin_init(&s->chains_run, &lp, m->shape.d, m->shape.k, EBM_CHUNK_ROWS, 0, 0,
                           &s->rng, &err);
    if (rc) {
        ebm_sampler_free(s);
        return api_fail(api_status_of(&err, status), &err);
    }
    *sampler = s;
    return EBM_OK;
}

int ebm_sampler_draw(ebm_sampler *s, size_t n, int label, int steps, float *out,
                     size_t out_count)
{
    api_begin();
    if (!s || !out)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_sampler_draw: %s is NULL", s ? "out" : "sampler");
    const ckpt_model *m = &s->model->m;
    const size_t d = (size_t)m->shape.d;
    if (n == 0 || n > (size_t)1 << 40)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_sampler_draw: n = %zu samples, must be 1 to 2^40",
                         n);
    if (out_count != n * d)
        return api_failf(EBM_ERR_ARGUMENT,
                         "ebm_sampler_draw: out holds %zu floats, %zu samples of %zu pixels "
                         "need %zu",
                         out_count, n, d, n * d);
    if (label < -1 || label >= m->shape.k)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_sampler_draw: label %d: the model has %d classes "
                         "(0..%d; -1: unconditional)", label, m->shape.k, m->shape.k - 1);
    if (steps > 1000000)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_sampler_draw: %d steps, at most 1000000", steps);
    if (s->start == EBM_START_CHAINS && (int64_t)n > m->n_chains - s->next_chain)
        return api_failf(EBM_ERR_ARGUMENT,
                         "ebm_sampler_draw: %zu chains asked, checkpoint '%s' has %lld left of "
                         "%lld",
                         n, s->model->path, (long long)(m->n_chains - s->next_chain),
                         (long long)m->n_chains);
    s->chains_run.p.steps = steps >= 0 ? steps : m->langevin_steps;
    s->chains_run.p.target_class = label;
    /* Chunks as `sample` cuts its share: the same draws from the stream. */
    for (size_t first = 0; first < n; first += EBM_CHUNK_ROWS) {
        const int c = (int)(n - first < EBM_CHUNK_ROWS ? n - first : EBM_CHUNK_ROWS);
        float *chunk = out + first * d;
        if (s->start == EBM_START_CHAINS) {
            memcpy(chunk, s->buffer + (size_t)(s->next_chain + (int64_t)first) * d,
                   (size_t)c * d * sizeof(float));
            langevin_continue(&s->chains_run, &m->shape, m->params, &s->ws, &s->rng, c, chunk);
        } else {
            langevin_draw_fresh(&s->chains_run, &m->shape, m->params, &s->ws, &s->rng, c, chunk);
        }
        /* Back to data units. */
        for (size_t i = 0; i < (size_t)c * d; i++)
            chunk[i] = (chunk[i] - m->map.shift) / m->map.scale;
    }
    if (s->start == EBM_START_CHAINS)
        s->next_chain += (int64_t)n;
    return EBM_OK;
}
