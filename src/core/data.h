/* data.h: the data set in memory (this rank's shards of each split), its
 * validation, and the affine map from data units to the model's input space.
 * File access is in io/data_file.h. */
#ifndef EBM_DATA_H
#define EBM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum { SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, SPLIT_COUNT };
extern const char *const data_split_names[SPLIT_COUNT];

/* What the data file says about itself (identical on every rank). */
typedef struct {
    int d, k, height, width;
    double value_min, value_max;
    int64_t n[SPLIT_COUNT];
    char source[256], license[256];
} data_info;

/* One rank's contiguous shard of a split. */
typedef struct {
    int64_t n_total; /* examples in the split, all ranks */
    int64_t offset;  /* global index of this shard's first example */
    int64_t n;       /* examples in this shard */
    int d;
    float *images;   /* [n, d], data units */
    int32_t *labels; /* [n] */
} data_shard;

int data_shard_alloc(data_shard *shard, int64_t n_total, int64_t offset, int64_t n, int d,
                     ebm_err *err);
void data_shard_free(data_shard *shard);

/* Labels in [0, K); pixels finite and inside [value_min, value_max]. Names the
 * file, the split, the global example index and the value of the first
 * violation. */
int data_validate(const data_shard *shard, const data_info *info, const char *path,
                  const char *split, ebm_err *err);

/* The file's value range [value_min, value_max] is one the pixels (float32)
 * can take and the map to [-1, 1] can represent: finite, value_min <
 * value_max, both within float range, the map's scale and shift finite and
 * the scale non-zero in single precision (a range of 1e-315 gave NaN inputs:
 * found by tests/fuzz). Names the file and the range. */
int data_check_range(const data_info *info, const char *path, ebm_err *err);

/* input = scale * x + shift. */
typedef struct {
    float scale, shift;
} input_map;

/* map_to_box: [value_min, value_max] -> [-1, 1]; else the identity. */
input_map data_input_map(const data_info *info, int map_to_box);

/* out[i] = map(x[i]) for n values. */
void data_map(const input_map *map, const float *x, float *out, size_t n);


#endif
