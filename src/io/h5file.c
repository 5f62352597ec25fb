/* h5file.c: the HDF5 calls behind h5file.h (parallel HDF5, MPI-IO driver). */
#define _GNU_SOURCE /* O_DIRECTORY */
#include "io/h5file.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "par/dist_mpi.h"

struct h5file {
    hid_t id;
    const dist_ctx *ctx;
    char *path;
    /* Written by several ranks (h5file_write_atomic with size > 1): a failed
     * call ends the job (abandon), `tmp` removed first. */
    int shared;
    const char *tmp;
    /* HDF5's error stack as the failing call left it (every later HDF5 call
     * clears the current one): kept for the message, -1 when none. */
    hid_t failed_stack;
};

/* Keeps HDF5's error stack of the call that just failed for write_fail. */
static void keep_error(h5file *f)
{
    if (f->failed_stack < 0)
        f->failed_stack = H5Eget_current_stack();
}

void h5file_quiet(void)
{
    /* No atexit(3) shutdown of HDF5 (H5dont_atexit must come before any call
     * that opens the library): its handler closes the files still open, and
     * after MPI_Abort that close runs without MPI. MPICH's MPI_Abort on a
     * one-rank job ends the process through exit(3), which runs the handler:
     * H5F__close_cb then crashes (SIGSEGV, status 11 instead of 1). Parallel
     * HDF5 still shuts down in MPI_Finalize (its MPI_COMM_SELF attribute), and
     * every file the program opens it closes itself. */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    H5E_auto2_t func;
    void *data;
} print_handler;

void h5file_print_off(void *saved, size_t len)
{
    print_handler h = {NULL, NULL};
    if (len < sizeof h)
        return;
    H5Eget_auto2(H5E_DEFAULT, &h.func, &h.data);
    memcpy(saved, &h, sizeof h);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5file_print_restore(const void *saved, size_t len)
{
    print_handler h;
    if (len < sizeof h)
        return;
    memcpy(&h, saved, sizeof h);
    H5Eset_auto2(H5E_DEFAULT, h.func, h.data);
}

void h5file_library_version(char *buf, size_t len)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, len, "%u.%u.%u", maj, min, rel);
}

/* ---- errors ------------------------------------------------------------ */

/* The innermost message of HDF5's error stack (where the failure was first
 * seen: usually the useful one), then the stack is cleared. The plugin
 * search's own failures are skipped: they follow from a filter HDF5 does not
 * have ("can't open directory: .../plugins"), which the entry above names
 * ("required filter 'lzf' is not registered"). */
static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    char *out = data;
    if (!out[0] && e->maj_num != H5E_PLUGIN && e->desc && e->desc[0])
        snprintf(out, 200, "%s", e->desc);
    return 0;
}

/* A failure on `path` (`what` says what was being done), with HDF5's
 * innermost message, recorded where the macro stands. */
#define h5_fail(err, path, ...) h5_fail_at((err), (path), __FILE__, __LINE__, __func__, __VA_ARGS__)
__attribute__((format(printf, 6, 7))) static int h5_fail_at(ebm_err *err, const char *path,
                                                            const char *file, int line,
                                                            const char *func, const char *fmt,
                                                            ...)
{
    char what[256], detail[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, detail);
    H5Eclear2(H5E_DEFAULT);
    if (detail[0])
        return ebm_fail_at(err, file, line, func, "'%s': %s (HDF5: %s)", path, what, detail);
    return ebm_fail_at(err, file, line, func, "'%s': %s", path, what);
}

/* As h5_fail, with the HDF5 stack keep_error kept for f, if any. */
#define h5_fail_kept(f, err, ...)                                                              \
    h5_fail_kept_at((f), (err), __FILE__, __LINE__, __func__, __VA_ARGS__)
__attribute__((format(printf, 6, 7))) static int h5_fail_kept_at(h5file *f, ebm_err *err,
                                                                 const char *file, int line,
                                                                 const char *func,
                                                                 const char *fmt, ...)
{
    char what[256], detail[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(f->failed_stack >= 0 ? f->failed_stack : H5E_DEFAULT, H5E_WALK_UPWARD,
             innermost_cb, detail);
    if (f->failed_stack >= 0)
        H5Eclose_stack(f->failed_stack);
    f->failed_stack = -1;
    H5Eclear2(H5E_DEFAULT);
    if (detail[0])
        return ebm_fail_at(err, file, line, func, "'%s': %s (HDF5: %s)", f->path, what, detail);
    return ebm_fail_at(err, file, line, func, "'%s': %s", f->path, what);
}

/* The directory holding `path` ("." for a bare name), in a new string; NULL
 * when out of memory. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Why a write into `path` failed, asked of the OS after the fact: MPI-IO
 * reports a short write without errno, so HDF5 says only "file write
 * failed". Looks, in order, for a vanished directory, a full file system
 * (under 1 MiB left for us) and a write the OS refuses now (a quota, EIO). */
static void os_reason(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    char *dir = parent_dir(path);
    if (!dir)
        return;
    struct stat st;
    struct statvfs vfs;
    if (stat(dir, &st) != 0) {
        snprintf(buf, len, "directory '%s': %s", dir, strerror(errno));
    } else if (statvfs(dir, &vfs) == 0) {
        const unsigned long long blocks = geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail;
        const unsigned long long free_bytes = blocks * (unsigned long long)vfs.f_frsize;
        if (free_bytes < (1ull << 20))
            snprintf(buf, len, "%s (%llu bytes free in '%s')", strerror(ENOSPC), free_bytes,
                     dir);
    }
    if (!buf[0]) {
        /* A file that does not exist (a create that failed) is asked for
         * again as a create, exclusively: a read-only file system, a
         * directory without write permission; one made here is removed. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(path);
            free(dir);
            return;
        }
        fd = errno == EEXIST ? open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (fd < 0) {
            snprintf(buf, len, "%s", strerror(errno));
        } else {
            const off_t end = lseek(fd, 0, SEEK_END);
            if (end >= 0 && pwrite(fd, "", 1, end) != 1)
                snprintf(buf, len, "%s", strerror(errno));
            else if (end >= 0 && ftruncate(fd, end) != 0)
                snprintf(buf, len, "%s", strerror(errno));
            close(fd);
        }
    }
    free(dir);
}

/* A failed write into f: the message names the file, what was written, the
 * OS reason and HDF5's innermost message. */
#define write_fail(f, err, ...) write_fail_at((f), (err), __FILE__, __LINE__, __func__, __VA_ARGS__)
__attribute__((format(printf, 6, 7))) static int write_fail_at(h5file *f, ebm_err *err,
                                                               const char *file, int line,
                                                               const char *func,
                                                               const char *fmt, ...)
{
    char what[256], detail[200] = "", reason[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (f->failed_stack >= 0) {
        H5Ewalk2(f->failed_stack, H5E_WALK_UPWARD, innermost_cb, detail);
        H5Eclose_stack(f->failed_stack);
        f->failed_stack = -1;
    } else {
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, detail);
    }
    H5Eclear2(H5E_DEFAULT);
    os_reason(f->tmp ? f->tmp : f->path, reason, sizeof reason);
    return ebm_fail_at(err, file, line, func, "'%s': %s: %s%s%s%s", f->path, what,
                       reason[0] ? reason : "the OS reports no error",
                       detail[0] ? " (HDF5: " : "", detail, detail[0] ? ")" : "");
}

/* The end of a file several ranks write, after a failure on this rank: the
 * temporary file is removed, the error printed and the job ended
 * (MPI_Abort), without waiting for the other ranks. Parallel HDF5 reports a
 * failure on the failing rank only, and the others may by then wait inside
 * one of its collectives (the next H5Dwrite's agreement, H5Fclose's metadata
 * flush and barrier) where no agreement of ours reaches; a file that failed
 * cannot be closed either, its close being such a collective. Nothing is
 * lost: the trainer cannot go on without its checkpoint, and the previous
 * complete files are untouched. A rank other than 0 waits a second first, so
 * that when rank 0 failed too, its line is the one printed. */
static _Noreturn void abandon(h5file *f, const ebm_err *err)
{
    const dist_ctx *ctx = f->ctx;
    if (f->tmp)
        unlink(f->tmp);
    if (ctx->rank != 0)
        nanosleep(&(struct timespec){1, 0}, NULL);
    ebm_err_print(stderr, err, ctx->size > 1 ? ctx->rank : -1, ctx->show_trail);
    dist_abort(ctx, NULL);
}

/* A failed call on a file several ranks write ends the job (abandon); on
 * one rank the failure returns, to close_written. */
static int write_failed(h5file *f, int rc, ebm_err *err)
{
    if (rc == 0 || !f->shared)
        return rc;
    abandon(f, err);
}

/* Closes and frees a file h5file_write_atomic wrote (`failed`: its writer
 * failed, on one rank). A close that fails ends the job (abandon), with the
 * earlier failure's message when there was one: HDF5 1.10 keeps a file whose
 * closing flush failed open, and closes it again in MPI_Finalize, where it
 * crashes. */
static void close_written(h5file *f, int failed, ebm_err *err)
{
    dist_watch_begin(f->ctx, "H5Fclose");
    const herr_t closed = H5Fclose(f->id);
    dist_watch_end(f->ctx);
    if (closed < 0) {
        if (!failed)
            write_fail(f, err, "cannot close");
        abandon(f, err);
    }
    free(f->path);
    free(f);
}

/* ---- types and property lists --------------------------------------------- */

static hid_t file_type(h5file_type t)
{
    switch (t) {
    case H5FILE_F32: return H5T_IEEE_F32LE;
    case H5FILE_F64: return H5T_IEEE_F64LE;
    case H5FILE_I32: return H5T_STD_I32LE;
    case H5FILE_I64: return H5T_STD_I64LE;
    case H5FILE_U64: return H5T_STD_U64LE;
    }
    return -1;
}

static hid_t memory_type(h5file_type t)
{
    switch (t) {
    case H5FILE_F32: return H5T_NATIVE_FLOAT;
    case H5FILE_F64: return H5T_NATIVE_DOUBLE;
    case H5FILE_I32: return H5T_NATIVE_INT32;
    case H5FILE_I64: return H5T_NATIVE_INT64;
    case H5FILE_U64: return H5T_NATIVE_UINT64;
    }
    return -1;
}

/* The MPI-IO driver on the context's communicator; for a serial context
 * (dist_serial: no MPI initialised) the default sec2 driver, plain POSIX
 * reads and writes by this process. */
static hid_t file_access(const dist_ctx *ctx)
{
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && dist_is_serial(ctx)) {
        if (H5Pset_fapl_sec2(fapl) < 0) {
            H5Pclose(fapl);
            return -1;
        }
        return fapl;
    }
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, dist_comm(ctx), MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* Collective MPI-IO transfers; the default ones for a serial context. */
static hid_t transfer_props(const dist_ctx *ctx)
{
    const hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && !dist_is_serial(ctx) && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        H5Pclose(dxpl);
        return -1;
    }
    return dxpl;
}

/* ---- files ------------------------------------------------------------------ */

static int wrap(const dist_ctx *ctx, const char *path, hid_t id, h5file **out, ebm_err *err)
{
    h5file *f = ebm_calloc(1, sizeof *f, "HDF5 file handle", err);
    char *copy = f ? strdup(path) : NULL;
    if (!f || !copy) {
        free(f);
        H5Fclose(id);
        return f ? ebm_fail(err, "out of memory opening '%s'", path) : ebm_trace(err);
    }
    f->id = id;
    f->ctx = ctx;
    f->path = copy;
    f->failed_stack = -1;
    *out = f;
    return 0;
}

int h5file_path_ok(const char *path, const char *what, ebm_err *err)
{
    const size_t n = strlen(path);
    if (n <= H5FILE_PATH_MAX)
        return 0;
    return ebm_fail(err,
                    "%s: the file name '%.40s...%s' is %zu characters; a file opened through "
                    "MPI-IO may have at most %d (Open MPI 4.1 builds '<name>.locktest.<rank>' "
                    "in 256 bytes): use a shorter or relative path, or a symbolic link",
                    what, path, path + n - 24, n, H5FILE_PATH_MAX);
}

/* What a file that is not a regular one is, for the refusal. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a file";
}

int h5file_open_regular(const char *path, const char *kind, int *fd, int64_t *size,
                        ebm_err *err)
{
    *fd = -1;
    /* O_NONBLOCK: opening a FIFO without a writer would wait for one; the
     * kind is checked on what was opened (fstat), not on the name. */
    const int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0)
        return ebm_fail(err, "cannot open %s '%s': %s", kind, path, strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0) {
        const int e = errno;
        close(f);
        return ebm_fail(err, "cannot open %s '%s': %s", kind, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return ebm_fail(err, "%s '%s' is not a regular file (%s): only regular files are read",
                        kind, path, file_kind(st.st_mode));
    }
    *fd = f;
    *size = (int64_t)st.st_size;
    return 0;
}

/* h5file_precheck; the MPI-IO name limit only where MPI-IO opens the file
 * (a serial context reads through sec2, which has none). */
static int precheck(const char *path, const char *kind, int mpiio, ebm_err *err)
{
    if (mpiio)
        EBM_TRY(h5file_path_ok(path, kind, err));
    int fd;
    int64_t size;
    EBM_TRY(h5file_open_regular(path, kind, &fd, &size, err));
    close(fd);
    const htri_t is_h5 = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is_h5 <= 0)
        return ebm_fail(err, "%s '%s' is not an HDF5 file", kind, path);
    return 0;
}

int h5file_precheck(const char *path, const char *kind, ebm_err *err)
{
    return ebm_pass(err, precheck(path, kind, 1, err));
}

static int h5file_create_unwatched(const dist_ctx *ctx, const char *path, unsigned mode,
                                   h5file **file, ebm_err *err)
{
    *file = NULL;
    EBM_TRY(h5file_path_ok(path, "output file", err));
    const hid_t fapl = file_access(ctx);
    const hid_t id = fapl >= 0 ? H5Fcreate(path, mode, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (id < 0) {
        char reason[300];
        os_reason(path, reason, sizeof reason);
        return h5_fail(err, path, "cannot create file: %s",
                       reason[0] ? reason : "the OS reports no error");
    }
    return wrap(ctx, path, id, file, err);
}

int h5file_create(const dist_ctx *ctx, const char *path, h5file **file, ebm_err *err)
{
    dist_watch_begin(ctx, "H5Fcreate");
    const int rc = h5file_create_unwatched(ctx, path, H5F_ACC_TRUNC, file, err);
    dist_watch_end(ctx);
    return rc;
}

static int h5file_open_unwatched(const dist_ctx *ctx, const char *path, const char *kind, int writable,
                h5file **file, ebm_err *err)
{
    *file = NULL;
    EBM_TRY(dist_agree(ctx, precheck(path, kind, !dist_is_serial(ctx), err), err));
    const hid_t fapl = file_access(ctx);
    const hid_t id =
        fapl >= 0 ? H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (id < 0)
        return h5_fail(err, path, "cannot open: the HDF5 file is damaged or truncated");
    return wrap(ctx, path, id, file, err);
}

int h5file_open(const dist_ctx *ctx, const char *path, const char *kind, int writable,
                h5file **file, ebm_err *err)
{
    dist_watch_begin(ctx, "H5Fopen");
    const int rc = h5file_open_unwatched(ctx, path, kind, writable, file, err);
    dist_watch_end(ctx);
    return rc;
}

static int h5file_flush_unwatched(h5file *f, ebm_err *err)
{
    if (H5Fflush(f->id, H5F_SCOPE_GLOBAL) < 0)
        return write_failed(f, write_fail(f, err, "cannot flush"), err);
    return 0;
}

int h5file_flush(h5file *f, ebm_err *err)
{
    dist_watch_begin(f->ctx, "H5Fflush");
    const int rc = h5file_flush_unwatched(f, err);
    dist_watch_end(f->ctx);
    return rc;
}

int h5file_close(h5file *f, ebm_err *err)
{
    if (!f)
        return 0;
    int rc = 0;
    dist_watch_begin(f->ctx, "H5Fclose");
    const herr_t closed = H5Fclose(f->id);
    dist_watch_end(f->ctx);
    if (closed < 0) {
        if (err)
            rc = h5_fail(err, f->path, "cannot close");
        else
            H5Eclear2(H5E_DEFAULT);
    }
    free(f->path);
    free(f);
    return rc;
}

const char *h5file_path(const h5file *f) { return f->path; }

/* ---- datasets ---------------------------------------------------------------- */

int h5file_exists(h5file *f, const char *name)
{
    /* H5Lexists checks one link: walk the path so a missing parent is "no". */
    char *buf = strdup(name);
    if (!buf)
        return 0;
    int ok = 1;
    for (char *p = buf + 1; ok && *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        ok = H5Lexists(f->id, buf, H5P_DEFAULT) > 0;
        *p = '/';
    }
    ok = ok && H5Lexists(f->id, buf, H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    free(buf);
    return ok;
}

/* Whether link `name` is an external one, with its target in `target`. */
static int external_link(h5file *f, const char *name, char *target, size_t len)
{
    H5L_info_t info;
    if (H5Lget_info(f->id, name, &info, H5P_DEFAULT) < 0 || info.type == H5L_TYPE_HARD ||
        info.type == H5L_TYPE_SOFT)
        return 0;
    snprintf(target, len, "a link of type %d", (int)info.type);
    char val[1024];
    const char *file = NULL, *object = NULL;
    unsigned flags = 0;
    if (info.type == H5L_TYPE_EXTERNAL && info.u.val_size <= sizeof val &&
        H5Lget_val(f->id, name, val, sizeof val, H5P_DEFAULT) >= 0 &&
        H5Lunpack_elink_val(val, info.u.val_size, &flags, &file, &object) >= 0)
        snprintf(target, len, "an external link to %s in '%s'", object, file);
    return 1;
}

int h5file_require_local(h5file *f, const char *name, const char *kind, ebm_err *err)
{
    static const char *const why =
        "refused: the arrays must be stored in the file itself (its checksum, which a "
        "resume checks, covers this file's bytes only)";
    char *buf = strdup(name);
    if (!buf)
        return ebm_fail(err, "out of memory checking %s in '%s'", name, f->path);
    char target[600];
    int rc = 0;
    /* Every link on the path: /train, then /train/images. */
    for (char *p = buf + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        const char c = *p;
        *p = '\0';
        if (external_link(f, buf, target, sizeof target))
            rc = ebm_fail(err, "%s '%s': %s is %s: %s", kind, f->path, buf, target, why);
        *p = c;
        if (c == '\0')
            break;
    }
    free(buf);
    hid_t ds = -1, dcpl = -1;
    if (rc == 0 && ((ds = H5Dopen2(f->id, name, H5P_DEFAULT)) < 0 ||
                    (dcpl = H5Dget_create_plist(ds)) < 0))
        rc = h5_fail(err, f->path, "cannot open %s", name);
    if (rc == 0 && H5Pget_layout(dcpl) == H5D_VIRTUAL)
        rc = ebm_fail(err, "%s '%s': %s is a virtual dataset (its data lives in other files): %s",
                      kind, f->path, name, why);
    if (rc == 0 && H5Pget_external_count(dcpl) > 0)
        rc = ebm_fail(err, "%s '%s': %s keeps its raw data in external files: %s", kind, f->path,
                      name, why);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (ds >= 0)
        H5Dclose(ds);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

int h5file_dims(h5file *f, const char *name, int *rank, int64_t dims[2], h5file_class *cls,
                ebm_err *err)
{
    if (!h5file_exists(f, name))
        return ebm_fail(err, "'%s' has no dataset %s", f->path, name);
    const hid_t ds = H5Dopen2(f->id, name, H5P_DEFAULT);
    if (ds < 0)
        return h5_fail(err, f->path, "cannot open %s", name);
    const hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
    hsize_t d[H5S_MAX_RANK] = {0};
    *rank = H5Sget_simple_extent_ndims(space);
    if (*rank > 0 && *rank <= H5S_MAX_RANK)
        H5Sget_simple_extent_dims(space, d, NULL);
    dims[0] = *rank > 0 ? (int64_t)d[0] : 0;
    dims[1] = *rank > 1 ? (int64_t)d[1] : 0;
    const H5T_class_t c = H5Tget_class(type);
    *cls = c == H5T_FLOAT ? H5FILE_FLOAT : c == H5T_INTEGER ? H5FILE_INTEGER : H5FILE_OTHER;
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(ds);
    return 0;
}

/* Selects rows [row0, row0 + nrows) of all `cols` columns in the file space;
 * with no rows, selects nothing in both spaces: the rank still takes part in
 * the collective transfer. */
static herr_t select_rows(hid_t fspace, hid_t mspace, hsize_t row0, hsize_t nrows, hsize_t cols)
{
    if (nrows == 0)
        return (H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0) ? -1 : 0;
    const hsize_t start[2] = {row0, 0}, count[2] = {nrows, cols};
    return H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
}

/* The collective transfer of this rank's rows between `ds` (file space
 * `space`) and data; a failure's error stack is kept in f. */
static herr_t transfer_rows(h5file *f, hid_t ds, hid_t space, hid_t mtype, int rank, hsize_t row0,
                            hsize_t nrows, hsize_t cols, void *data, int write)
{
    const hsize_t mdims[2] = {nrows > 0 ? nrows : 1, cols};
    const hid_t mspace = H5Screate_simple(rank, mdims, NULL);
    const hid_t dxpl = transfer_props(f->ctx);
    herr_t rc = (mspace < 0 || dxpl < 0) ? -1 : select_rows(space, mspace, row0, nrows, cols);
    if (rc >= 0)
        rc = write ? H5Dwrite(ds, mtype, mspace, space, dxpl, data)
                   : H5Dread(ds, mtype, mspace, space, dxpl, data);
    if (rc < 0)
        keep_error(f);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (mspace >= 0)
        H5Sclose(mspace);
    return rc;
}

static int h5file_write_rows_unwatched(h5file *f, const char *name, h5file_type type, int rank,
                      const int64_t dims[2], int64_t row0, int64_t nrows, const void *data,
                      ebm_err *err)
{
    const hsize_t hd[2] = {(hsize_t)dims[0], rank > 1 ? (hsize_t)dims[1] : 1};
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    const hid_t space = H5Screate_simple(rank, hd, NULL);
    hid_t ds = -1;
    if (lcpl >= 0 && space >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        ds = H5Dcreate2(f->id, name, file_type(type), space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : 0;
    /* An empty dataset (no chains): nothing to transfer, on any rank. */
    if (rc >= 0 && hd[0] > 0 && hd[1] > 0)
        rc = transfer_rows(f, ds, space, memory_type(type), rank, (hsize_t)row0, (hsize_t)nrows,
                           hd[1], (void *)data, 1);
    if (rc < 0)
        keep_error(f);
    if (ds >= 0)
        H5Dclose(ds);
    if (space >= 0)
        H5Sclose(space);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (rc < 0)
        return write_failed(f, write_fail(f, err, "cannot write %s", name), err);
    return 0;
}

int h5file_write_rows(h5file *f, const char *name, h5file_type type, int rank,
                      const int64_t dims[2], int64_t row0, int64_t nrows, const void *data,
                      ebm_err *err)
{
    dist_watch_begin(f->ctx, "a collective H5Dwrite");
    const int rc = h5file_write_rows_unwatched(f, name, type, rank, dims, row0, nrows, data, err);
    dist_watch_end(f->ctx);
    return rc;
}

int h5file_write_all(const dist_ctx *ctx, h5file *f, const char *name, h5file_type type,
                     int rank, const int64_t dims[2], const void *data, ebm_err *err)
{
    return h5file_write_rows(f, name, type, rank, dims, 0, ctx->rank == 0 ? dims[0] : 0, data,
                             err);
}

static int h5file_read_rows_unwatched(h5file *f, const char *name, h5file_type type, int rank,
                     const int64_t dims[2], int64_t row0, int64_t nrows, void *data,
                     ebm_err *err)
{
    const hid_t ds = h5file_exists(f, name) ? H5Dopen2(f->id, name, H5P_DEFAULT) : -1;
    if (ds < 0)
        return h5_fail(err, f->path, "cannot open %s", name);
    const hid_t space = H5Dget_space(ds);
    hsize_t have[H5S_MAX_RANK] = {0};
    const int have_rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (have_rank > 0 && have_rank <= H5S_MAX_RANK)
        H5Sget_simple_extent_dims(space, have, NULL);
    const hsize_t cols = rank > 1 ? (hsize_t)dims[1] : 1;
    /* A shape mismatch is seen alike by every rank, so all of them skip the
     * collective read together. */
    const int shape_ok = have_rank == rank && have[0] == (hsize_t)dims[0] &&
                         (rank == 1 || have[1] == (hsize_t)dims[1]);
    herr_t rc = shape_ok ? 0 : -1;
    if (shape_ok && dims[0] > 0 && cols > 0)
        rc = transfer_rows(f, ds, space, memory_type(type), rank, (hsize_t)row0, (hsize_t)nrows,
                           cols, data, 0);
    if (shape_ok && rc < 0)
        keep_error(f); /* HDF5's reason, before the closes below clear it */
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(ds);
    if (!shape_ok) {
        H5Eclear2(H5E_DEFAULT);
        if (rank == 1)
            return ebm_fail(err, "'%s': %s has %d dimension(s) of %llu, expected [%lld]",
                            f->path, name, have_rank, (unsigned long long)have[0],
                            (long long)dims[0]);
        return ebm_fail(err, "'%s': %s has %d dimension(s) of %llu x %llu, expected [%lld, %lld]",
                        f->path, name, have_rank, (unsigned long long)have[0],
                        (unsigned long long)have[1], (long long)dims[0], (long long)dims[1]);
    }
    if (rc < 0)
        return h5_fail_kept(f, err, "cannot read %s", name);
    return 0;
}

int h5file_read_rows(h5file *f, const char *name, h5file_type type, int rank,
                     const int64_t dims[2], int64_t row0, int64_t nrows, void *data,
                     ebm_err *err)
{
    dist_watch_begin(f->ctx, "a collective H5Dread");
    const int rc = h5file_read_rows_unwatched(f, name, type, rank, dims, row0, nrows, data, err);
    dist_watch_end(f->ctx);
    return rc;
}

/* ---- growing columns ---------------------------------------------------------- */

int h5file_column_create(h5file *f, const char *name, int64_t chunk, ebm_err *err)
{
    const hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED}, ch[1] = {(hsize_t)chunk};
    const hid_t space = H5Screate_simple(1, zero, unlimited);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = -1;
    if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, ch) >= 0)
        ds = H5Dcreate2(f->id, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0)
        keep_error(f);
    if (ds >= 0)
        H5Dclose(ds);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (ds < 0)
        return write_failed(f, write_fail(f, err, "cannot create %s", name), err);
    return 0;
}

static int h5file_column_resize_unwatched(h5file *f, const char *name, int64_t n, const double *rows,
                         int64_t *old_length, ebm_err *err)
{
    const hid_t ds = h5file_exists(f, name) ? H5Dopen2(f->id, name, H5P_DEFAULT) : -1;
    if (ds < 0)
        return write_failed(f, h5_fail(err, f->path, "has no column %s", name), err);
    hid_t space = H5Dget_space(ds);
    hsize_t have = 0;
    herr_t rc = (space >= 0 && H5Sget_simple_extent_ndims(space) == 1) ? 0 : -1;
    if (rc >= 0)
        H5Sget_simple_extent_dims(space, &have, NULL);
    if (space >= 0)
        H5Sclose(space);
    const hsize_t want = (hsize_t)n;
    if (rc >= 0 && have != want && (rc = H5Dset_extent(ds, &want)) < 0)
        keep_error(f);
    if (rc >= 0 && have < want) {
        /* Rows [have, want) from rank 0; the others select nothing. */
        space = H5Dget_space(ds);
        rc = space < 0 ? -1
                       : transfer_rows(f, ds, space, H5T_NATIVE_DOUBLE, 1, have,
                                       f->ctx->rank == 0 ? want - have : 0, 1,
                                       (void *)(rows + have), 1);
        if (rc < 0)
            keep_error(f);
        if (space >= 0)
            H5Sclose(space);
    }
    H5Dclose(ds);
    if (rc < 0)
        return write_failed(f, write_fail(f, err, "cannot write column %s", name), err);
    if (old_length)
        *old_length = (int64_t)have;
    return 0;
}

int h5file_column_resize(h5file *f, const char *name, int64_t n, const double *rows,
                         int64_t *old_length, ebm_err *err)
{
    dist_watch_begin(f->ctx, "a collective H5Dwrite");
    const int rc = h5file_column_resize_unwatched(f, name, n, rows, old_length, err);
    dist_watch_end(f->ctx);
    return rc;
}

/* ---- attributes ------------------------------------------------------------------ */

int h5file_attr_exists(h5file *f, const char *obj, const char *name)
{
    const htri_t e = H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

static int attr_write(h5file *f, const char *obj, const char *name, hid_t type,
                      const void *value, ebm_err *err)
{
    dist_watch_begin(f->ctx, "an HDF5 attribute write");
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a =
        space >= 0 ? H5Acreate_by_name(f->id, obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                                       H5P_DEFAULT)
                   : -1;
    const herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
    dist_watch_end(f->ctx);
    if (rc < 0)
        keep_error(f);
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    if (rc < 0)
        return write_failed(f, write_fail(f, err, "cannot write attribute %s of %s", name, obj),
                            err);
    return 0;
}

int h5file_attr_write_int(h5file *f, const char *obj, const char *name, int64_t value,
                          ebm_err *err)
{
    return attr_write(f, obj, name, H5T_NATIVE_INT64, &value, err);
}

int h5file_attr_write_double(h5file *f, const char *obj, const char *name, double value,
                             ebm_err *err)
{
    return attr_write(f, obj, name, H5T_NATIVE_DOUBLE, &value, err);
}

int h5file_attr_write_string(h5file *f, const char *obj, const char *name, const char *value,
                             ebm_err *err)
{
    const hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, strlen(value) + 1) < 0 ||
        H5Tset_strpad(type, H5T_STR_NULLTERM) < 0) {
        if (type >= 0)
            H5Tclose(type);
        return write_failed(f, h5_fail(err, f->path, "cannot write attribute %s of %s", name, obj),
                            err);
    }
    const int rc = attr_write(f, obj, name, type, value, err);
    H5Tclose(type);
    return rc;
}

int h5file_attr_write_list(h5file *f, const char *obj, const h5file_attr *attrs, size_t n,
                           ebm_err *err)
{
    for (size_t k = 0; k < n; k++) {
        const h5file_attr *a = &attrs[k];
        if (a->kind == H5FILE_ATTR_INT)
            EBM_TRY(h5file_attr_write_int(f, obj, a->name, a->i, err));
        else if (a->kind == H5FILE_ATTR_DOUBLE)
            EBM_TRY(h5file_attr_write_double(f, obj, a->name, a->d, err));
        else
            EBM_TRY(h5file_attr_write_string(f, obj, a->name, a->text ? a->text : "", err));
    }
    return 0;
}

int h5file_attr_read_double(h5file *f, const char *obj, const char *name, double *value,
                            ebm_err *err)
{
    if (!h5file_attr_exists(f, obj, name))
        return ebm_fail(err, "'%s' lacks attribute %s%s%s", f->path, name,
                        strcmp(obj, "/") ? " of " : "", strcmp(obj, "/") ? obj : "");
    const hid_t a = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t space = a >= 0 ? H5Aget_space(a) : -1;
    const hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    const herr_t rc = npoints == 1 ? H5Aread(a, H5T_NATIVE_DOUBLE, value) : -1;
    if (space >= 0)
        H5Sclose(space);
    if (a >= 0)
        H5Aclose(a);
    if (rc < 0)
        return h5_fail(err, f->path, "attribute %s of %s is not a number", name, obj);
    return 0;
}

void h5file_attr_read_string(h5file *f, const char *obj, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!h5file_attr_exists(f, obj, name))
        return;
    const hid_t a = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t ftype = a >= 0 ? H5Aget_type(a) : -1;
    if (ftype >= 0 && H5Tget_class(ftype) == H5T_STRING) {
        if (H5Tis_variable_str(ftype) > 0) {
            const hid_t mtype = H5Tcopy(H5T_C_S1);
            H5Tset_size(mtype, H5T_VARIABLE);
            H5Tset_cset(mtype, H5Tget_cset(ftype));
            char *s = NULL;
            if (H5Aread(a, mtype, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
            }
            H5Tclose(mtype);
        } else {
            const size_t n = H5Tget_size(ftype);
            char *s = calloc(n + 1, 1);
            const hid_t mtype = H5Tcopy(ftype);
            if (s && H5Aread(a, mtype, s) >= 0)
                snprintf(buf, len, "%s", s);
            free(s);
            H5Tclose(mtype);
        }
    }
    if (ftype >= 0)
        H5Tclose(ftype);
    if (a >= 0)
        H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
}

/* ---- atomic files ------------------------------------------------------------------ */

/* Rank 0. <path>.tmp.XXXXXX with six characters from the OS's random
 * source (the clock and pid when it has none): unpredictable, so that no
 * one can plant a link or file under the name beforehand. */
static void temporary_name(const char *path, char *tmp, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[6] = {0};
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        const unsigned long long x = (unsigned long long)t.tv_nsec * 2654435761ULL ^
                                     (unsigned long long)getpid() << 20 ^ (unsigned long long)t.tv_sec;
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)(x >> (8 * i));
    }
    char suffix[7];
    for (size_t i = 0; i < sizeof r; i++)
        suffix[i] = alphabet[r[i] % (sizeof alphabet - 1)];
    suffix[6] = '\0';
    snprintf(tmp, len, "%s.tmp.%s", path, suffix);
}

/* Rank 0. The identity of the regular file at `tmp`, not following a link. */
static int identify(const char *tmp, struct stat *made, ebm_err *err)
{
    if (lstat(tmp, made) != 0)
        return ebm_fail(err, "cannot stat '%s' just created: %s", tmp, strerror(errno));
    if (!S_ISREG(made->st_mode))
        return ebm_fail(err, "'%s' just created is not a regular file: another process "
                             "replaced it", tmp);
    return 0;
}

static int publish(const dist_ctx *ctx, int rc, const char *tmp, const char *path,
                   const struct stat *made, ebm_err *err);

int h5file_write_atomic(const dist_ctx *ctx, const char *path,
                        int (*write)(h5file *file, void *data, ebm_err *err), void *data,
                        ebm_err *err)
{
    const size_t len = strlen(path) + sizeof H5FILE_TMP_SUFFIX;
    char *tmp = ebm_calloc(len, 1, "file name", err);
    if (!tmp)
        return ebm_pass(err, dist_agree(ctx, -1, err));
    if (ctx->rank == 0)
        temporary_name(path, tmp, len);
    /* Every rank opens the name rank 0 drew. */
    int rc = dist_bcast_bytes(ctx, tmp, len, 0, err);
    if (rc != 0) {
        free(tmp);
        return ebm_trace(err);
    }
    char where[EBM_ERR_LEN];
    snprintf(where, sizeof where, "writing %s", path);
    dist_watch_where(ctx, where, DIST_WATCH_KEEP);
    h5file *f = NULL;
    /* H5F_ACC_EXCL: MPI_MODE_EXCL, an O_CREAT|O_EXCL open, which fails on an
     * existing name and on a link there instead of following it. */
    dist_watch_begin(ctx, "H5Fcreate");
    rc = h5file_create_unwatched(ctx, tmp, H5F_ACC_EXCL, &f, err);
    dist_watch_end(ctx);
    struct stat made;
    memset(&made, 0, sizeof made);
    if (rc == 0 && ctx->rank == 0)
        rc = identify(tmp, &made, err);
    /* A create fails alike on every rank (a missing directory, no
     * permission): agreed, and no file is open that would need closing. */
    if (ctx->size > 1 && dist_agree(ctx, rc, err) != 0 && f) {
        f->shared = 1, f->tmp = tmp;
        abandon(f, err);
    }
    if (rc == 0 && f) {
        /* Messages name the file the user asked for, not the temporary. */
        char *shown = strdup(path);
        if (shown) {
            free(f->path);
            f->path = shown;
        }
        f->shared = ctx->size > 1;
        f->tmp = tmp;
        rc = write(f, data, err);
    }
    if (f)
        close_written(f, rc, err);
    rc = publish(ctx, rc, tmp, path, &made, err);
    free(tmp);
    return ebm_pass(err, rc);
}

int h5file_remove_stale_tmp(const char *path, ebm_err *err)
{
    char *dir = parent_dir(path);
    if (!dir)
        return ebm_fail(err, "out of memory cleaning the directory of '%s'", path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const size_t n = strlen(base);
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d)
        rc = ebm_fail(err, "cannot list directory '%s': %s", dir, strerror(errno));
    for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
        /* <base>.tmp, or <base>.tmp. and six characters */
        const char *rest = strncmp(e->d_name, base, n) == 0 ? e->d_name + n : "";
        const int ours = strcmp(rest, ".tmp") == 0 ||
                         (strncmp(rest, ".tmp.", 5) == 0 && strlen(rest) == 11);
        if (!ours)
            continue;
        const int fd = dirfd(d);
        if (unlinkat(fd, e->d_name, 0) != 0 && errno != ENOENT)
            rc = ebm_fail(err, "cannot remove the stale '%s/%s': %s", dir, e->d_name,
                          strerror(errno));
    }
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

/* fsync of the directory holding `path`, so that a rename in it survives a
 * crash of the machine. */
static int sync_parent(const char *path, ebm_err *err)
{
    char *dir = parent_dir(path);
    if (!dir)
        return ebm_fail(err, "out of memory syncing the directory of '%s'", path);
    const int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;
    if (fd < 0 || fsync(fd) != 0)
        rc = ebm_fail(err, "cannot sync directory '%s': %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int h5file_publish(const dist_ctx *ctx, int rc, const char *tmp, const char *path, ebm_err *err)
{
    return publish(ctx, rc, tmp, path, NULL, err);
}

/* h5file_publish; with `made`, only the file of that device and inode is
 * renamed (a file swapped in under the name during the write is not). */
static int publish(const dist_ctx *ctx, int rc, const char *tmp, const char *path,
                   const struct stat *made, ebm_err *err)
{
    if (dist_agree(ctx, rc, err)) {
        /* A failed write leaves no half-written temporary file behind. */
        if (ctx->rank == 0)
            unlink(tmp);
        return ebm_trace(err);
    }
    if (ctx->rank == 0) {
        /* O_NOFOLLOW: a link is never synced nor renamed into place. */
        const int fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat now;
        if (fd < 0 || fstat(fd, &now) != 0)
            rc = ebm_fail(err, "cannot open '%s' to publish it: %s", tmp, strerror(errno));
        else if (!S_ISREG(now.st_mode) ||
                 (made && (now.st_dev != made->st_dev || now.st_ino != made->st_ino)))
            rc = ebm_fail(err,
                          "'%s' is no longer the file written (another process replaced it): "
                          "not published as '%s'",
                          tmp, path);
        else if (fsync(fd) != 0)
            rc = ebm_fail(err, "cannot sync '%s': %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = ebm_fail(err, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        if (rc == 0)
            rc = sync_parent(path, err);
        if (rc != 0)
            unlink(tmp);
    }
    return ebm_pass(err, dist_agree(ctx, rc, err));
}
