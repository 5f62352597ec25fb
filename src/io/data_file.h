/* data_file.h: the data file (data/digits.h5 or any file of its layout,
 * docs/design.md section 3): its layout checked at open, each rank reading
 * only its own rows of a split, and the checksum that ties a checkpoint to
 * the data it was trained on. */
#ifndef EBM_IO_DATA_FILE_H
#define EBM_IO_DATA_FILE_H

#include <stdint.h>

#include "core/data.h"
#include "core/err.h"
#include "par/dist.h"

typedef struct data_file data_file;

/* Collective. Opens the data file read-only and checks its layout (splits,
 * dataset ranks and element kinds, matching sizes, root attributes). */
int data_file_open(const dist_ctx *ctx, const char *path, data_file **file, data_info *info,
                   ebm_err *err);
/* Collective. Reads shard->n rows from shard->offset of `split` (which may be
 * zero rows on some ranks). */
int data_file_read(data_file *file, int split, data_shard *shard, ebm_err *err);
void data_file_close(data_file *file);

/* FNV-1a 64 of the file's bytes (rank-local). */
int data_file_checksum(const char *path, uint64_t *sum, ebm_err *err);

#endif
