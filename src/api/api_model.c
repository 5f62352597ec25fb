/* api_model.c: the model calls of ebm_mpi.h (load, info, logits, energy,
 * predict) and reading a data file's split, all on a serial context: no MPI. */
#define _POSIX_C_SOURCE 200809L
#include "api/api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/data.h"
#include "core/shard.h"
#include "io/data_file.h"
#include "num/model.h"
#include "par/dist.h"

/* A file the library is asked to read: it must exist and be readable
 * (EBM_ERR_IO) before its contents are judged (EBM_ERR_FORMAT). */
static int readable(const char *path, const char *kind)
{
    struct stat st;
    if (!path)
        return api_failf(EBM_ERR_ARGUMENT, "%s path is NULL", kind);
    if (stat(path, &st) != 0)
        return api_failf(EBM_ERR_IO, "cannot open %s '%s': %s", kind, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return api_failf(EBM_ERR_IO, "%s '%s' is not a regular file", kind, path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return api_failf(EBM_ERR_IO, "cannot open %s '%s': %s", kind, path, strerror(errno));
    fclose(f);
    return EBM_OK;
}

int ebm_model_load(const char *path, ebm_model **model)
{
    api_begin();
    if (!model)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_model_load: model is NULL");
    *model = NULL;
    int status = readable(path, "checkpoint");
    if (status)
        return status;
    if (strlen(path) >= EBM_PATH_LEN)
        return api_failf(EBM_ERR_ARGUMENT, "checkpoint path of %zu characters: at most %d",
                         strlen(path), EBM_PATH_LEN - 1);
    ebm_err err;
    ebm_model *m = ebm_calloc(1, sizeof *m, "model handle", &err);
    if (!m)
        return api_fail(EBM_ERR_MEMORY, &err);
    dist_ctx serial;
    dist_serial(&serial);
    api_quiet q;
    api_quiet_begin(&q);
    const int rc = ckpt_read_model(&serial, path, &m->m, &err);
    api_quiet_end(&q);
    if (rc) {
        free(m);
        return api_fail(api_status_of(&err, EBM_ERR_FORMAT), &err);
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    *model = m;
    return EBM_OK;
}

void ebm_model_free(ebm_model *model)
{
    if (!model)
        return;
    ckpt_model_free(&model->m);
    free(model);
}

int ebm_model_info(const ebm_model *model, ebm_info *info, size_t info_size)
{
    api_begin();
    if (!model || !info)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_model_info: %s is NULL", model ? "info" : "model");
    if (info_size == 0 || info_size > sizeof(ebm_info))
        return api_failf(EBM_ERR_ARGUMENT,
                         "ebm_model_info: info_size %zu, this library's ebm_info has %zu bytes",
                         info_size, sizeof(ebm_info));
    const ckpt_model *m = &model->m;
    ebm_info out;
    memset(&out, 0, sizeof out);
    out.input_size = m->shape.d;
    out.n_classes = m->shape.k;
    out.hidden = m->shape.h;
    out.layer_sizes[0] = m->shape.in[0];
    for (int l = 0; l < EBM_LAYERS && l < EBM_MPI_LAYERS; l++)
        out.layer_sizes[l + 1] = m->shape.out[l];
    out.n_params = m->shape.n_params;
    out.height = m->height, out.width = m->width;
    out.value_min = m->value_min, out.value_max = m->value_max;
    out.input_scale = m->map.scale, out.input_shift = m->map.shift;
    out.format_version = m->format_version;
    out.epoch = m->epoch;
    out.langevin_steps = m->langevin_steps;
    out.step_size = m->step_size, out.noise = m->noise, out.step_decay = m->step_decay;
    out.clamp_chains = m->clamp_chains, out.chain_init = m->chain_init;
    out.n_chains = m->n_chains;
    out.has_base = m->base.d > 0;
    memcpy(info, &out, info_size);
    return EBM_OK;
}

int ebm_model_hyperparameters(const ebm_model *model, char *buf, size_t len, size_t *needed)
{
    api_begin();
    if (!model)
        return api_failf(EBM_ERR_ARGUMENT, "ebm_model_hyperparameters: model is NULL");
    const size_t n = strlen(model->m.hyperparameters) + 1;
    if (needed)
        *needed = n;
    if (!buf || len < n)
        return api_failf(EBM_ERR_ARGUMENT,
                         "ebm_model_hyperparameters: the text needs %zu bytes, the buffer has %zu",
                         n, buf ? len : 0);
    memcpy(buf, model->m.hyperparameters, n);
    return EBM_OK;
}

/* The checks every batch call makes: model and buffers present, the counts
 * those of n images. */
static int check_batch(const char *call, const ebm_model *model, const float *x, size_t n,
                       size_t x_count, const void *out, size_t out_count, size_t out_per_row)
{
    if (!model || !x || !out)
        return api_failf(EBM_ERR_ARGUMENT, "%s: %s is NULL", call,
                         !model ? "model" : !x ? "x" : "the output buffer");
    const size_t d = (size_t)model->m.shape.d;
    if (n == 0 || n > (size_t)1 << 40)
        return api_failf(EBM_ERR_ARGUMENT, "%s: n = %zu images, must be 1 to 2^40", call, n);
    if (x_count != n * d)
        return api_failf(EBM_ERR_ARGUMENT,
                         "%s: x holds %zu floats, %zu images of %zu pixels need %zu", call,
                         x_count, n, d, n * d);
    if (out_count != n * out_per_row)
        return api_failf(EBM_ERR_ARGUMENT, "%s: the output holds %zu values, %zu images give %zu",
                         call, out_count, n, n * out_per_row);
    return EBM_OK;
}

/* f(x) of n images in data units: chunks of EBM_CHUNK_ROWS mapped to the
 * model's input space and through the MLP; each call has its own workspace,
 * so a model serves several threads at once. sink(model, data, i0, c, in,
 * logits) takes the mapped inputs (c, D) and logits (c, K) of images i0..
 * i0+c-1. */
typedef void (*logits_sink)(const ckpt_model *m, void *data, size_t first, int count,
                            const float *in, const float *logits);

static int run_model(const char *call, const ebm_model *model, const float *x, size_t n,
                     logits_sink sink, void *data)
{
    const model_shape *shape = &model->m.shape;
    const int cap = n < EBM_CHUNK_ROWS ? (int)n : EBM_CHUNK_ROWS;
    const size_t d = (size_t)shape->d;
    ebm_err err;
    model_workspace ws = {0};
    float *in = ebm_calloc((size_t)cap * d, sizeof(float), "mapped inputs", &err);
    if (!in || model_workspace_init(&ws, shape, cap, &err)) {
        free(in);
        model_workspace_free(&ws);
        ebm_trace(&err);
        return api_fail(EBM_ERR_MEMORY, &err);
    }
    for (size_t first = 0; first < n; first += (size_t)cap) {
        const int c = (int)(n - first < (size_t)cap ? n - first : (size_t)cap);
        data_map(&model->m.map, x + first * d, in, (size_t)c * d);
        sink(&model->m, data, first, c, in, model_forward(shape, model->m.params, &ws, in, c));
    }
    free(in);
    model_workspace_free(&ws);
    (void)call;
    return EBM_OK;
}

static void copy_logits(const ckpt_model *m, void *data, size_t first, int count,
                        const float *in, const float *logits)
{
    (void)in;
    const int k = m->shape.k;
    memcpy((float *)data + first * (size_t)k, logits, (size_t)count * k * sizeof(float));
}

int ebm_model_logits(const ebm_model *model, const float *x, size_t n, size_t x_count,
                     float *logits, size_t logits_count)
{
    api_begin();
    const int status = check_batch("ebm_model_logits", model, x, n, x_count, logits,
                                   logits_count, model ? (size_t)model->m.shape.k : 0);
    if (status)
        return status;
    return run_model("ebm_model_logits", model, x, n, copy_logits, logits);
}

/* E(x) as `ebm_mpi sample` computes it: -LSE f(x), plus the base density's
 * energy of the mapped input when the model has one (format 6, --base). */
static void to_energy(const ckpt_model *m, void *data, size_t first, int count,
                      const float *in, const float *logits)
{
    const int k = m->shape.k;
    float *energy = (float *)data + first;
    for (int i = 0; i < count; i++)
        energy[i] = -model_logsumexp(logits + (size_t)i * k, k);
    if (m->base.d > 0)
        base_energy_addf(&m->base, in, count, energy, NULL);
}

int ebm_model_energy(const ebm_model *model, const float *x, size_t n, size_t x_count,
                     float *energy, size_t energy_count)
{
    api_begin();
    const int status =
        check_batch("ebm_model_energy", model, x, n, x_count, energy, energy_count, 1);
    if (status)
        return status;
    return run_model("ebm_model_energy", model, x, n, to_energy, energy);
}

typedef struct {
    int32_t *label;
    float *probability;
} prediction;

/* p(y|x) = softmax f(x): a base density does not depend on the class. */
static void to_prediction(const ckpt_model *m, void *data, size_t first, int count,
                          const float *in, const float *logits)
{
    (void)in;
    const int k = m->shape.k;
    const prediction *p = data;
    for (int i = 0; i < count; i++) {
        const float *row = logits + (size_t)i * k;
        const int best = model_argmax(row, k);
        p->label[first + i] = best;
        if (p->probability)
            p->probability[first + i] = expf(row[best] - model_logsumexp(row, k));
    }
}

int ebm_model_predict(const ebm_model *model, const float *x, size_t n, size_t x_count,
                      int32_t *label, float *probability, size_t out_count)
{
    api_begin();
    const int status =
        check_batch("ebm_model_predict", model, x, n, x_count, label, out_count, 1);
    if (status)
        return status;
    prediction p = {label, probability};
    return run_model("ebm_model_predict", model, x, n, to_prediction, &p);
}

int ebm_data_read_split(const char *path, const char *split, float *images, size_t images_count,
                        int32_t *labels, size_t labels_count, size_t *n, int *d)
{
    api_begin();
    int s = -1;
    for (int i = 0; split && i < SPLIT_COUNT; i++)
        if (strcmp(split, data_split_names[i]) == 0)
            s = i;
    if (s < 0)
        return api_failf(EBM_ERR_ARGUMENT, "split '%s': must be train, val or test",
                         split ? split : "(NULL)");
    if ((images == NULL) != (labels == NULL))
        return api_failf(EBM_ERR_ARGUMENT,
                         "ebm_data_read_split: images and labels must both be given or both NULL");
    int status = readable(path, "data file");
    if (status)
        return status;
    dist_ctx serial;
    dist_serial(&serial);
    ebm_err err;
    data_file *file = NULL;
    data_info info;
    data_shard shard = {0};
    api_quiet q;
    api_quiet_begin(&q);
    int rc = data_file_open(&serial, path, &file, &info, &err);
    status = rc ? api_status_of(&err, EBM_ERR_FORMAT) : EBM_OK;
    const size_t count = rc ? 0 : (size_t)info.n[s], dim = rc ? 0 : (size_t)info.d;
    if (rc == 0 && images) {
        if (images_count != count * dim || labels_count != count) {
            status = api_failf(EBM_ERR_ARGUMENT,
                               "ebm_data_read_split: the %s split of '%s' has %zu images of %zu "
                               "pixels; the buffers hold %zu floats and %zu labels",
                               split, path, count, dim, images_count, labels_count);
            rc = -1;
        } else {
            rc = data_shard_alloc(&shard, info.n[s], 0, info.n[s], info.d, &err);
            if (rc == 0)
                rc = data_file_read(file, s, &shard, &err);
            if (rc == 0)
                rc = data_validate(&shard, &info, path, split, &err);
            if (rc)
                status = api_status_of(&err, EBM_ERR_FORMAT);
            else {
                memcpy(images, shard.images, count * dim * sizeof(float));
                memcpy(labels, shard.labels, count * sizeof(int32_t));
            }
        }
    }
    data_file_close(file);
    api_quiet_end(&q);
    data_shard_free(&shard);
    if (status && status != EBM_ERR_ARGUMENT)
        return api_fail(status, &err);
    if (status)
        return status;
    if (n)
        *n = count;
    if (d)
        *d = (int)dim;
    return EBM_OK;
}
