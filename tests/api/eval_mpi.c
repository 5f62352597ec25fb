/* eval_mpi.c: ebm_eval_mpi as an MPI program calls it, for eval_mpi.sh: the
 * figures `ebm_mpi eval` prints (rank 0, at full precision), from the C handle
 * and from the Fortran one, which must agree; then the errors of a missing
 * checkpoint (on every rank) and of MPI's absence are not tested here
 * (test_api covers a program without MPI).
 *   usage: mpirun -np P eval_mpi CKPT DATA SPLIT */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebm_mpi/ebm_mpi_mpi.h"

/* The figures at full precision, one "figure NAME VALUE" a line, then the
 * confusion matrix a row a line: eval_mpi.sh reads the command's printed
 * figures and compares (no second copy of the command's formatting). */
static void print_result(const ebm_eval_result *r, const double *confusion, int k)
{
    printf("figure loss %.17g\nfigure cross_entropy %.17g\nfigure generative %.17g\n"
           "figure error %.17g\nfigure ece %.17g\nfigure energy_data %.17g\n",
           r->loss, r->cross_entropy, r->generative, r->error, r->ece, r->energy_data);
    for (int i = 0; i < k; i++) {
        printf("confusion");
        for (int j = 0; j < k; j++)
            printf(" %.17g", confusion[(size_t)i * k + j]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, rc = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc != 4) {
        if (rank == 0)
            fprintf(stderr, "usage: eval_mpi CKPT DATA SPLIT\n");
        MPI_Finalize();
        return 2;
    }
    ebm_model *model = NULL;
    ebm_info info;
    if (ebm_model_load(argv[1], &model) || ebm_model_info(model, &info, sizeof info)) {
        printf("FAIL: %s\n", ebm_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const int k = info.n_classes;
    ebm_model_free(model);
    double *c1 = calloc((size_t)k * k, sizeof(double)), *c2 = calloc((size_t)k * k, sizeof(double));
    ebm_eval_result r1, r2;
    /* A communicator of our own, split by nothing: the library must not need WORLD. */
    MPI_Comm mine;
    MPI_Comm_dup(MPI_COMM_WORLD, &mine);
    int s1 = ebm_eval_mpi(mine, argv[1], argv[2], argv[3], &r1, sizeof r1, c1, (size_t)k * k);
    int s2 = ebm_eval_mpi_f(MPI_Comm_c2f(mine), argv[1], argv[2], argv[3], &r2, sizeof r2, c2,
                            (size_t)k * k);
    if (s1 || s2) {
        printf("FAIL: rank %d: %s: %s\n", rank, ebm_status_name(s1 ? s1 : s2), ebm_last_error());
        rc = 1;
    } else if (memcmp(&r1, &r2, sizeof r1) || memcmp(c1, c2, (size_t)k * k * sizeof(double))) {
        printf("FAIL: rank %d: the Fortran entry's figures differ from the C entry's\n", rank);
        rc = 1;
    }
    /* Every rank has the same figures: compare with rank 0's. */
    ebm_eval_result r0 = r1;
    MPI_Bcast(&r0, sizeof r0, MPI_BYTE, 0, mine);
    if (rc == 0 && memcmp(&r0, &r1, sizeof r0)) {
        printf("FAIL: rank %d's figures differ from rank 0's\n", rank);
        rc = 1;
    }
    /* A missing checkpoint fails on every rank with the same message. */
    ebm_eval_result r3;
    int s3 = ebm_eval_mpi(mine, "no_such_checkpoint.h5", argv[2], argv[3], &r3, sizeof r3, NULL, 0);
    if (rc == 0 && (s3 == EBM_OK || !strstr(ebm_last_error(), "no_such_checkpoint.h5"))) {
        printf("FAIL: rank %d: a missing checkpoint gave %s '%s'\n", rank, ebm_status_name(s3),
               ebm_last_error());
        rc = 1;
    }
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0 && all == 0) {
        printf("eval_mpi: %lld examples\n", (long long)r1.n);
        print_result(&r1, c1, k);
    }
    MPI_Comm_free(&mine);
    free(c1), free(c2);
    MPI_Finalize();
    return all;
}
