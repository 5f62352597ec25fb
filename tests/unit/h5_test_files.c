/* h5_test_files.c: the HDF5 unit tests' shared fixture helpers
 * (h5_test_files.h). */
#define _XOPEN_SOURCE 700
#include "h5_test_files.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void *h5t_fixture_new(size_t size, const char *prefix)
{
    if (size < H5T_DIR_LEN)
        return NULL;
    char *dir = calloc(1, size); /* the fixture, seen through its first member */
    if (!dir)
        return NULL;
    const int n = snprintf(dir, H5T_DIR_LEN, "/tmp/%s.XXXXXX", prefix);
    if (n < 0 || n >= H5T_DIR_LEN || !mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}

int h5t_fixture_free(void *fixture)
{
    const int rc = nftw((const char *)fixture, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fixture);
    return rc == 0 ? 0 : -1;
}

int h5t_group_teardown(void **state) { return h5t_fixture_free(*state); }

int h5t_file_exists(const char *path) { return access(path, F_OK) == 0; }

void h5t_paths(const char *dir, const char *name, char *path, size_t len, char *tmp,
               size_t tlen)
{
    snprintf(path, len, "%s/%s", dir, name);
    snprintf(tmp, tlen, "%s.tmp", path);
}

void h5t_write_text_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        fail_msg("cannot create %s", path);
    const int put = fputs(text, fp);
    if (fclose(fp) != 0 || put < 0)
        fail_msg("cannot write %s", path);
}

int h5t_write_scalar_attr(hid_t loc, const char *name, hid_t type, const void *v)
{
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = a >= 0 ? H5Awrite(a, type, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

int h5t_write_string_attr(hid_t loc, const char *name, const char *s, int vlen)
{
    const hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return -1;
    herr_t rc;
    if (vlen) {
        rc = H5Tset_size(type, H5T_VARIABLE);
        if (rc >= 0)
            rc = H5Tset_cset(type, H5T_CSET_UTF8);
    } else {
        rc = H5Tset_size(type, strlen(s));
        if (rc >= 0)
            rc = H5Tset_strpad(type, H5T_STR_NULLPAD);
    }
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = rc >= 0 ? H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (a >= 0)
        rc = vlen ? H5Awrite(a, type, &s) : H5Awrite(a, type, s);
    else
        rc = -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return rc < 0 ? -1 : 0;
}

int h5t_write_dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                      const hsize_t *dims, const void *data)
{
    const hid_t space = H5Screate_simple(rank, dims, NULL);
    const hid_t ds =
        H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = ds >= 0 ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

int h5t_read_string_attr(hid_t obj, const char *name, char *buf, size_t len)
{
    const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no attribute '%s'", name);
    const hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) != H5T_STRING)
        fail_msg("attribute '%s' is not a string", name);
    memset(buf, 0, len);
    const int variable = H5Tis_variable_str(t) > 0;
    if (variable) {
        char *s = NULL;
        assert_true(H5Aread(a, t, &s) >= 0);
        snprintf(buf, len, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        if (H5Tget_size(t) >= len)
            fail_msg("attribute '%s' of %zu bytes does not fit %zu", name, H5Tget_size(t), len);
        assert_true(H5Aread(a, t, buf) >= 0);
    }
    H5Tclose(t);
    H5Aclose(a);
    return variable;
}

void h5t_read_scalar_attr(hid_t obj, const char *name, hid_t mtype, void *out)
{
    const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no attribute '%s'", name);
    const herr_t rc = H5Aread(a, mtype, out);
    H5Aclose(a);
    if (rc < 0)
        fail_msg("attribute '%s' cannot be read as the type asked", name);
}

hid_t h5t_open_dataset(hid_t loc, const char *name, hid_t ftype)
{
    const hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        fail_msg("no dataset %s", name);
    const hid_t t = H5Dget_type(ds);
    if (H5Tequal(t, ftype) <= 0)
        fail_msg("%s is not stored with the expected type", name);
    H5Tclose(t);
    return ds;
}
