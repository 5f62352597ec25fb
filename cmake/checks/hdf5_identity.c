/* hdf5_identity.c (configure-time check, cmake/deps.cmake): which HDF5
 * library this program loads, whether it is the parallel build (the header's
 * H5_HAVE_PARALLEL and the library's H5Pset_fapl_mpio), and which MPI
 * library that HDF5 brings with it. The program is linked against HDF5 only,
 * not against the MPI configure found (mpi.h is on the include path because
 * parallel HDF5's header includes it), so the MPI_Get_library_version found
 * by dlsym is the one HDF5 itself loaded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#ifndef H5_HAVE_PARALLEL
#error "EBM_SERIAL_HDF5: this hdf5.h is a serial build (H5_HAVE_PARALLEL unset)"
#endif

typedef int (*version_fn)(char *, int *);
static char version[1 << 16];

int main(void)
{
    if (H5open() < 0)
        return 1;
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    printf("HDF5_VERSION=%u.%u.%u\n", maj, min, rel);
    Dl_info info;
    if (dladdr((void *)H5open, &info) && info.dli_fname)
        printf("HDF5_LIB=%s\n", info.dli_fname);
    printf("HDF5_MPIO=%s\n", dlsym(RTLD_DEFAULT, "H5Pset_fapl_mpio") ? "yes" : "no");
    version_fn get = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "MPI_Get_library_version");
    memcpy(&get, &sym, sizeof get);
    if (!get) {
        printf("MPI_LIB=none\n");
        return 0;
    }
    int len = 0;
    get(version, &len);
    for (int i = 0; i < len && version[i]; i++)
        if (version[i] == '\n' || version[i] == '\r' || version[i] == '\t')
            version[i] = ' ';
    if (dladdr(sym, &info) && info.dli_fname)
        printf("MPI_LIB=%s\n", info.dli_fname);
    printf("MPI_VERSION=%s\n", version);
    return 0;
}
