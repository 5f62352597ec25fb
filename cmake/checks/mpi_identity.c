/* mpi_identity.c (configure-time check, cmake/deps.cmake): the MPI library
 * this program is linked against, as that library names itself
 * (MPI_Get_library_version, callable before MPI_Init), and the file it was
 * loaded from. hdf5_identity.c prints the same for the MPI the HDF5
 * library brings; configure compares the two. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <mpi.h>
#include <stdio.h>

static char version[1 << 16];

int main(void)
{
    int len = 0;
    if (MPI_Get_library_version(version, &len) != MPI_SUCCESS)
        return 1;
    for (int i = 0; i < len && version[i]; i++)
        if (version[i] == '\n' || version[i] == '\r' || version[i] == '\t')
            version[i] = ' ';
    Dl_info info;
    if (dladdr((void *)MPI_Get_library_version, &info) && info.dli_fname)
        printf("MPI_LIB=%s\n", info.dli_fname);
    printf("MPI_VERSION=%s\n", version);
    return 0;
}
