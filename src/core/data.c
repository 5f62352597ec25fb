/* data.c: shards in memory, validation, input mapping. */
#include "core/data.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const data_split_names[SPLIT_COUNT] = {"train", "val", "test"};

int data_shard_alloc(data_shard *shard, int64_t n_total, int64_t offset, int64_t n, int d,
                     ebm_err *err)
{
    memset(shard, 0, sizeof *shard);
    if (n < 0 || d < 0 || (d > 0 && (uint64_t)n > SIZE_MAX / sizeof(float) / (uint64_t)d))
        return ebm_fail(err, "out of memory: a data shard of %lld x %d values is too large",
                        (long long)n, d);
    shard->n_total = n_total, shard->offset = offset, shard->n = n, shard->d = d;
    shard->images = ebm_calloc((size_t)n * (size_t)d, sizeof(float), "data shard", err);
    shard->labels = ebm_calloc((size_t)n, sizeof(int32_t), "data shard labels", err);
    if (!shard->images || !shard->labels) {
        data_shard_free(shard);
        return -1;
    }
    return 0;
}

void data_shard_free(data_shard *shard)
{
    free(shard->images);
    free(shard->labels);
    shard->images = NULL;
    shard->labels = NULL;
}

int data_validate(const data_shard *shard, const data_info *info, const char *path,
                  const char *split, ebm_err *err)
{
    for (int64_t i = 0; i < shard->n; i++) {
        const int32_t y = shard->labels[i];
        if (y < 0 || y >= info->k)
            return ebm_fail(err, "data file '%s': /%s/labels[%lld] = %d is outside [0, %d) "
                            "(num_classes = %d)",
                            path, split, (long long)(shard->offset + i), (int)y, info->k, info->k);
        const float *row = shard->images + (size_t)i * shard->d;
        for (int j = 0; j < shard->d; j++) {
            const float v = row[j];
            if (!isfinite(v))
                return ebm_fail(err, "data file '%s': /%s/images[%lld][%d] = %g is not finite",
                                path, split, (long long)(shard->offset + i), j, (double)v);
            if (v < info->value_min || v > info->value_max)
                return ebm_fail(err,
                                "data file '%s': /%s/images[%lld][%d] = %.9g is outside the "
                                "file's value range [%.9g, %.9g]",
                                path, split, (long long)(shard->offset + i), j, v, info->value_min,
                                info->value_max);
        }
    }
    return 0;
}

int data_check_range(const data_info *info, const char *path, ebm_err *err)
{
    const double lo = info->value_min, hi = info->value_max;
    int ok = isfinite(lo) && isfinite(hi) && hi > lo && fabs(lo) <= FLT_MAX && fabs(hi) <= FLT_MAX &&
             isfinite(hi - lo);
    if (ok) {
        const input_map m = data_input_map(info, 1);
        ok = isfinite(m.scale) && m.scale > 0.0f && isfinite(m.shift);
    }
    if (!ok)
        return ebm_fail(err,
                        "data file '%s': root attributes value_min = %.9g, value_max = %.9g: "
                        "need finite single-precision values with value_min < value_max and a "
                        "range the map to [-1, 1] can represent",
                        path, lo, hi);
    return 0;
}

input_map data_input_map(const data_info *info, int map_to_box)
{
    input_map m = {1.0f, 0.0f};
    if (map_to_box) {
        const double scale = 2.0 / (info->value_max - info->value_min);
        m.scale = (float)scale;
        m.shift = (float)(-1.0 - scale * info->value_min);
    }
    return m;
}

void data_map(const input_map *map, const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = map->scale * x[i] + map->shift;
}
