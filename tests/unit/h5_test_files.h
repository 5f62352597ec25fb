/* h5_test_files.h: what the unit tests of the HDF5 files (test_h5file,
 * test_rows_file, test_ckpt, test_data_file, test_metrics_file) share: a
 * fresh directory under /tmp that the group teardown removes whole, small
 * files made in it, and attributes and datasets written and read with the
 * HDF5 C API directly, so that neither a fixture nor a check depends on
 * src/io, the code under test. */
#ifndef EBM_TEST_H5_TEST_FILES_H
#define EBM_TEST_H5_TEST_FILES_H

#include <stddef.h>

#include <hdf5.h>

enum { H5T_DIR_LEN = 64 };

/* Each of these tests' group fixtures is a struct whose first member is its
 * directory, `char dir[H5T_DIR_LEN]`, so that one pair of calls makes and
 * removes it; H5T_FIXTURE_CHECK(type) holds a type to that at compile time. */
#define H5T_FIXTURE_CHECK(type)                                                             \
    _Static_assert(offsetof(type, dir) == 0 && sizeof(((type *)0)->dir) == H5T_DIR_LEN,  \
                   #type " must start with char dir[H5T_DIR_LEN]")

/* The fixture of a group that needs nothing but its directory. */
typedef struct {
    char dir[H5T_DIR_LEN];
} h5t_dir_fixture;

/* A zeroed fixture of `size` bytes whose dir is a fresh directory
 * /tmp/<prefix>.XXXXXX; NULL (nothing left behind) when either failed. */
void *h5t_fixture_new(size_t size, const char *prefix);

/* Removes the fixture's directory with everything below it, and frees the
 * fixture. 0, or -1 when anything stayed. */
int h5t_fixture_free(void *fixture);

/* The cmocka group teardown of such a fixture: h5t_fixture_free(*state). */
int h5t_group_teardown(void **state);

/* 1 when path exists (of any kind), else 0. */
int h5t_file_exists(const char *path);

/* <dir>/<name> into path (len bytes) and <path>.tmp, the fixed name the
 * atomic writes once used for their temporary file, into tmp (tlen). */
void h5t_paths(const char *dir, const char *name, char *path, size_t len, char *tmp,
               size_t tlen);

/* A file at path holding text: a file of another kind, or a stale
 * temporary file; a failure fails the test. */
void h5t_write_text_file(const char *path, const char *text);

/* A scalar attribute `name` on loc holding *v, stored with `type` itself
 * (a native type: what the machine writes). 0, or -1 on any HDF5 failure. */
int h5t_write_scalar_attr(hid_t loc, const char *name, hid_t type, const void *v);

/* A string attribute holding s, the two ways h5py writes one: vlen != 0, a
 * variable-length UTF-8 string (a str); vlen == 0, a fixed-length NULLPAD
 * string exactly strlen(s) long (bytes). 0, or -1 on any HDF5 failure. */
int h5t_write_string_attr(hid_t loc, const char *name, const char *s, int vlen);

/* A contiguous dataset `name` on loc of `rank` dimensions dims, stored as
 * ftype, written whole from data in memory type mtype. 0, or -1. */
int h5t_write_dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                      const hsize_t *dims, const void *data);

/* Reads string attribute `name` of obj with the HDF5 C API into buf (len
 * bytes, zero-filled first), either kind h5py writes; fails the test when it
 * is missing, not a string or does not fit. Returns 1 when it is stored
 * variable-length, 0 when fixed-length, for the tests that check which. */
int h5t_read_string_attr(hid_t obj, const char *name, char *buf, size_t len);

/* Reads scalar attribute `name` of obj with the HDF5 C API as mtype into
 * out; fails the test when it is missing or cannot be read as mtype. */
void h5t_read_scalar_attr(hid_t obj, const char *name, hid_t mtype, void *out);

/* Opens dataset `name` of loc with the HDF5 C API, checking that it is
 * stored as ftype; fails the test when it is missing or of another type. */
hid_t h5t_open_dataset(hid_t loc, const char *name, hid_t ftype);

#endif
