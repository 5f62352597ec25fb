/* h5file.h: HDF5 mechanics behind paths. Files opened by every rank together
 * with the MPI-IO driver; datasets and attributes named by their path in the
 * file ("/model/layer0/weight"; "/" for the root); this rank's rows of a
 * dataset selected by a row range, none at all being a valid range. The
 * schemas (data file, checkpoints, metrics, per-example files) are written
 * in terms of this; only src/io/ sees hdf5.h.
 *
 * Every failure names the file, the object and what HDF5 said. "Collective"
 * functions must be called by every rank with the same arguments except the
 * row range and the data (HDF5's rule for metadata: create, extend and
 * attribute calls identical on all ranks). */
#ifndef EBM_IO_H5FILE_H
#define EBM_IO_H5FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "par/dist.h"

typedef struct h5file h5file;

/* The longest file name (as passed, relative or absolute) that MPI-IO may
 * open: Open MPI 4.1's shared-file-pointer component builds
 * "<name>.locktest.<rank>" in a 256-byte buffer while it opens a file, and a
 * longer name ends the process ("buffer overflow detected"). 256, less the
 * suffix, 7 digits of rank and the terminating NUL. Names are checked against
 * it before they reach the library (h5file_path_ok; the command line checks
 * each option's names up front). A serial context (dist_serial) opens files
 * with the sec2 driver: h5file_open does not limit its names. */
#define H5FILE_PATH_MAX 238

/* Fails naming `what` (an option, "data file") when `path` is too long for
 * MPI-IO. */
int h5file_path_ok(const char *path, const char *what, ebm_err *err);

/* Element types, as stored (little-endian) and as held in memory. */
typedef enum { H5FILE_F32, H5FILE_F64, H5FILE_I32, H5FILE_I64, H5FILE_U64 } h5file_type;

/* What a dataset holds, for checks on files from outside. */
typedef enum { H5FILE_OTHER, H5FILE_FLOAT, H5FILE_INTEGER } h5file_class;

/* Turns off HDF5's automatic error-stack printing (errors are reported by
 * us) and its atexit(3) shutdown; the first HDF5 call of the program. */
void h5file_quiet(void);
/* The same for the calling thread until h5file_print_restore, which puts back
 * the handler saved in `saved` (len bytes, at least 4 pointers): the library
 * must not print, nor change its caller's HDF5 settings. */
void h5file_print_off(void *saved, size_t len);
void h5file_print_restore(const void *saved, size_t len);
void h5file_library_version(char *buf, size_t len);

/* Rank-local checks before a collective open: `path` exists, is a regular
 * file and is HDF5 (`kind` names it in the message: "data file"). */
int h5file_precheck(const char *path, const char *kind, ebm_err *err);

/* Rank-local. Opens `path` read-only without ever blocking (a FIFO, a
 * terminal) and refuses anything but a regular file, naming its kind: *fd
 * and its size in *size, for a read bounded by that size; close(*fd) after. */
int h5file_open_regular(const char *path, const char *kind, int *fd, int64_t *size,
                        ebm_err *err);

/* Collective. Creates (truncates) `path` for writing. */
int h5file_create(const dist_ctx *ctx, const char *path, h5file **file, ebm_err *err);
/* Collective. h5file_precheck on every rank (agreed), then opens read-only or
 * read-write. */
int h5file_open(const dist_ctx *ctx, const char *path, const char *kind, int writable,
                h5file **file, ebm_err *err);
/* Collective. Flushes to the file system. */
int h5file_flush(h5file *file, ebm_err *err);
/* Collective. Closes and frees; NULL is a no-op. A failure is reported unless
 * err is NULL (closing after an earlier error). */
int h5file_close(h5file *file, ebm_err *err);
const char *h5file_path(const h5file *file);

/* ---- datasets (`rank` 1: dims[0] values; 2: dims[0] rows of dims[1]) ---- */

/* Whether the object exists (intermediate groups included). */
int h5file_exists(h5file *file, const char *name);
/* Fails, naming `kind` ("data file") and why, unless dataset `name` (which
 * exists) is stored in this file itself: no external link on its path, not
 * a virtual dataset, no raw data in external files. What a data file's
 * checksum covers is then what is read. */
int h5file_require_local(h5file *file, const char *name, const char *kind, ebm_err *err);
/* Shape and element class of a dataset. */
int h5file_dims(h5file *file, const char *name, int *rank, int64_t dims[2],
                h5file_class *cls, ebm_err *err);
/* Collective. Creates the dataset (and its parent groups) and writes this
 * rank's rows [row0, row0 + nrows) from data. */
int h5file_write_rows(h5file *file, const char *name, h5file_type type, int rank,
                      const int64_t dims[2], int64_t row0, int64_t nrows, const void *data,
                      ebm_err *err);
/* Collective. The same, whole dataset from rank 0 (the others pass nothing). */
int h5file_write_all(const dist_ctx *ctx, h5file *file, const char *name, h5file_type type,
                     int rank, const int64_t dims[2], const void *data, ebm_err *err);
/* Collective. Reads this rank's rows of a dataset whose shape must be dims. */
int h5file_read_rows(h5file *file, const char *name, h5file_type type, int rank,
                     const int64_t dims[2], int64_t row0, int64_t nrows, void *data,
                     ebm_err *err);

/* ---- growing 1-D float64 columns (metrics.h5) ---------------------------- */

/* Collective. An empty column of unlimited length in chunks of `chunk`. */
int h5file_column_create(h5file *file, const char *name, int64_t chunk, ebm_err *err);
/* Collective. Sets the column's length to n (dropping rows past it) and,
 * when it grew, writes the new rows [old, n) from rows (rank 0's; the other
 * ranks' rows are not read). *old_length gets the length it had. */
int h5file_column_resize(h5file *file, const char *name, int64_t n, const double *rows,
                         int64_t *old_length, ebm_err *err);

/* ---- attributes of the object at `obj` --------------------------------- */

int h5file_attr_exists(h5file *file, const char *obj, const char *name);
/* Collective (metadata). */
int h5file_attr_write_int(h5file *file, const char *obj, const char *name, int64_t value,
                          ebm_err *err);
int h5file_attr_write_double(h5file *file, const char *obj, const char *name, double value,
                             ebm_err *err);
int h5file_attr_write_string(h5file *file, const char *obj, const char *name,
                             const char *value, ebm_err *err);
/* A list of attributes to write together (a run record). */
typedef enum { H5FILE_ATTR_INT, H5FILE_ATTR_DOUBLE, H5FILE_ATTR_TEXT } h5file_attr_kind;
typedef struct {
    const char *name;
    h5file_attr_kind kind;
    int64_t i;
    double d;
    const char *text;
} h5file_attr;
/* Collective (metadata). */
int h5file_attr_write_list(h5file *file, const char *obj, const h5file_attr *attrs, size_t n,
                           ebm_err *err);

/* A scalar numeric attribute as a double; fails naming it when missing. */
int h5file_attr_read_double(h5file *file, const char *obj, const char *name, double *value,
                            ebm_err *err);
/* A string attribute (fixed or variable length) into buf; "" when absent or
 * not a string. */
void h5file_attr_read_string(h5file *file, const char *obj, const char *name, char *buf,
                             size_t len);

/* ---- atomic files --------------------------------------------------------- */

/* The temporary file an atomic write makes beside `path`: <path>.tmp.XXXXXX,
 * six random characters (the template's length counts for MPI-IO's limit). */
#define H5FILE_TMP_SUFFIX ".tmp.XXXXXX"

/* Collective. Writes `path` atomically: rank 0 draws an unpredictable
 * temporary name (H5FILE_TMP_SUFFIX), shared with every rank; HDF5 creates
 * it exclusively (O_CREAT|O_EXCL: never through a link planted there, never
 * over another writer's file); `write` fills it; it is closed and published
 * (below) only if it is still the file created (device and inode, not a
 * link). On any failure no temporary file stays. */
int h5file_write_atomic(const dist_ctx *ctx, const char *path,
                        int (*write)(h5file *file, void *data, ebm_err *err), void *data,
                        ebm_err *err);

/* Collective. The end of an atomic write: agrees on rc (every rank's result
 * of writing and closing `tmp`); then rank 0 makes `tmp` durable (fsync) and
 * renames it to `path`, so a reader sees the previous file or the complete
 * new one; the outcome is agreed again. */
int h5file_publish(const dist_ctx *ctx, int rc, const char *tmp, const char *path,
                   ebm_err *err);

/* Rank-local. Removes what a killed writer of `path` left: <path>.tmp (an
 * older version's name) and every <path>.tmp.XXXXXX (links themselves, not
 * their targets). The caller holds the directory (its lock). */
int h5file_remove_stale_tmp(const char *path, ebm_err *err);

#endif
