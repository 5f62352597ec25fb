/* data_file.c: the data file's layout, shards and checksum. */
#define _POSIX_C_SOURCE 200809L
#include "io/data_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fault.h"
#include "io/h5file.h"

struct data_file {
    const dist_ctx *ctx;
    h5file *h5;
    int d;
};

/* Dimensions of dataset `name`, which must have `want_rank` dimensions and
 * hold floats (images) or integers (labels). */
static int dataset_dims(h5file *f, const char *name, int want_rank, int want_float,
                        int64_t dims[2], ebm_err *err)
{
    const char *path = h5file_path(f);
    if (!h5file_exists(f, name))
        return ebm_fail(err, "data file '%s' has no dataset %s", path, name);
    EBM_TRY(h5file_require_local(f, name, "data file", err));
    int rank;
    h5file_class cls;
    EBM_TRY(h5file_dims(f, name, &rank, dims, &cls, err));
    if (rank != want_rank)
        return ebm_fail(err, "data file '%s': %s has %d dimensions, expected %d", path, name,
                        rank, want_rank);
    if (cls != (want_float ? H5FILE_FLOAT : H5FILE_INTEGER))
        return ebm_fail(err, "data file '%s': %s should hold %s", path, name,
                        want_float ? "floating-point pixels" : "integer labels");
    return 0;
}

static int check_layout(h5file *f, data_info *info, ebm_err *err)
{
    const char *path = h5file_path(f);
    memset(info, 0, sizeof *info);
    double v;
    if (h5file_attr_read_double(f, "/", "num_classes", &v, NULL) || v < 1 || v > 1e6 ||
        v != (int)v)
        return ebm_fail(err, "data file '%s': root attribute num_classes missing or invalid",
                        path);
    info->k = (int)v;
    if (h5file_attr_read_double(f, "/", "value_min", &info->value_min, NULL) ||
        h5file_attr_read_double(f, "/", "value_max", &info->value_max, NULL) ||
        !isfinite(info->value_min) || !isfinite(info->value_max) ||
        !(info->value_max > info->value_min))
        return ebm_fail(err,
                        "data file '%s': root attributes value_min < value_max missing, not finite or invalid",
                        path);
    EBM_TRY(data_check_range(info, path, err));
    info->height = 0, info->width = 0;
    if (h5file_attr_read_double(f, "/", "height", &v, NULL) == 0) {
        if (!(v >= 0 && v <= 1 << 24 && v == floor(v)))
            return ebm_fail(err, "data file '%s': root attribute height = %g is invalid", path, v);
        info->height = (int)v;
    }
    if (h5file_attr_read_double(f, "/", "width", &v, NULL) == 0) {
        if (!(v >= 0 && v <= 1 << 24 && v == floor(v)))
            return ebm_fail(err, "data file '%s': root attribute width = %g is invalid", path, v);
        info->width = (int)v;
    }
    h5file_attr_read_string(f, "/", "source", info->source, sizeof info->source);
    h5file_attr_read_string(f, "/", "license", info->license, sizeof info->license);
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char group[16], images[32], labels[32];
        snprintf(group, sizeof group, "/%s", data_split_names[s]);
        snprintf(images, sizeof images, "/%s/images", data_split_names[s]);
        snprintf(labels, sizeof labels, "/%s/labels", data_split_names[s]);
        if (!h5file_exists(f, group))
            return ebm_fail(err, "data file '%s' has no group %s", path, group);
        int64_t di[2] = {0, 0}, dl[2] = {0, 0};
        EBM_TRY(dataset_dims(f, images, 2, 1, di, err));
        EBM_TRY(dataset_dims(f, labels, 1, 0, dl, err));
        if (di[0] != dl[0])
            return ebm_fail(err, "data file '%s': %s has %llu labels but %s has %llu images",
                            path, labels, (unsigned long long)dl[0], images,
                            (unsigned long long)di[0]);
        if (s == 0)
            info->d = (int)di[1];
        else if ((int)di[1] != info->d)
            return ebm_fail(err, "data file '%s': %s has %llu pixels per image, /train has %d",
                            path, images, (unsigned long long)di[1], info->d);
        info->n[s] = di[0];
    }
    if (info->d < 1)
        return ebm_fail(err, "data file '%s': images have no pixels", path);
    if (info->height > 0 && info->width > 0 && info->height * info->width != info->d)
        return ebm_fail(err, "data file '%s': images have %d pixels but height x width = %d x %d",
                        path, info->d, info->height, info->width);
    if (info->n[SPLIT_TRAIN] < 1 || info->n[SPLIT_VAL] < 1)
        return ebm_fail(err, "data file '%s': train and val splits must not be empty", path);
    return 0;
}

int data_file_open(const dist_ctx *ctx, const char *path, data_file **out, data_info *info,
                   ebm_err *err)
{
    *out = NULL;
    /* The stall watchdog's line names the file until data_file_close. */
    char where[EBM_ERR_LEN];
    snprintf(where, sizeof where, "reading data file %s", path);
    dist_watch_where(ctx, where, DIST_WATCH_KEEP);
    h5file *f;
    if (h5file_open(ctx, path, "data file", 0, &f, err)) {
        dist_watch_where(ctx, "", DIST_WATCH_KEEP);
        return ebm_trace(err);
    }
    data_file *h = NULL;
    if (check_layout(f, info, err) || !(h = ebm_calloc(1, sizeof *h, "data file handle", err))) {
        h5file_close(f, NULL);
        dist_watch_where(ctx, "", DIST_WATCH_KEEP);
        return ebm_trace(err);
    }
    h->ctx = ctx;
    h->h5 = f;
    h->d = info->d;
    *out = h;
    return 0;
}

int data_file_read(data_file *h, int split, data_shard *shard, ebm_err *err)
{
    char name[32];
    const int64_t dims[2] = {shard->n_total, h->d};
    fault_data_read(h->ctx->rank); /* tests only */
    snprintf(name, sizeof name, "/%s/images", data_split_names[split]);
    EBM_TRY(h5file_read_rows(h->h5, name, H5FILE_F32, 2, dims, shard->offset, shard->n,
                             shard->images, err));
    snprintf(name, sizeof name, "/%s/labels", data_split_names[split]);
    EBM_TRY(h5file_read_rows(h->h5, name, H5FILE_I32, 1, dims, shard->offset, shard->n,
                             shard->labels, err));
    return 0;
}

void data_file_close(data_file *h)
{
    if (!h)
        return;
    h5file_close(h->h5, NULL);
    dist_watch_where(h->ctx, "", DIST_WATCH_KEEP);
    free(h);
}

int data_file_checksum(const char *path, uint64_t *sum, ebm_err *err)
{
    /* A regular file only (a FIFO or /dev/zero would never end), read up to
     * the size it had when opened. */
    int fd;
    int64_t left;
    EBM_TRY(h5file_open_regular(path, "data file", &fd, &left, err));
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char buf[1 << 16];
    while (left > 0) {
        const ssize_t n = read(fd, buf, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int e = errno;
            close(fd);
            return ebm_fail(err, "cannot read data file '%s': %s", path, strerror(e));
        }
        if (n == 0)
            break; /* shorter than when opened: the checksum of what is there */
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ULL;
        left -= n;
    }
    close(fd);
    *sum = h;
    return 0;
}
