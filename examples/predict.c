/* predict.c: classifies the test split of a data file with a trained
 * model through libebm_mpi, one line per image: "index predicted
 * probability true-label". No MPI: a plain serial program.
 *   usage: predict CHECKPOINT DATA_FILE   (e.g. checkpoints/best.h5 digits.h5) */
#include <stdio.h>
#include <stdlib.h>

#include <ebm_mpi/ebm_mpi.h>

/* Prints the last error of a failed call and ends the program. */
static void check(int status, const char *what)
{
    if (status != EBM_OK) {
        fprintf(stderr, "predict: %s: %s (%s)\n", what, ebm_last_error(),
                ebm_status_name(status));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: predict CHECKPOINT DATA_FILE\n");
        return 2;
    }
    check(EBM_MPI_CHECK_VERSION(), "version");

    /* ---- the model and the images ---- */
    ebm_model *model = NULL;
    check(ebm_model_load(argv[1], &model), "loading the model");
    size_t n = 0;
    int d = 0;
    check(ebm_data_read_split(argv[2], "test", NULL, 0, NULL, 0, &n, &d), "sizing the split");
    float *images = malloc(n * (size_t)d * sizeof *images);
    int32_t *labels = malloc(n * sizeof *labels), *predicted = malloc(n * sizeof *predicted);
    float *probability = malloc(n * sizeof *probability);
    if (!images || !labels || !predicted || !probability) {
        fprintf(stderr, "predict: out of memory\n");
        return 1;
    }
    check(ebm_data_read_split(argv[2], "test", images, n * (size_t)d, labels, n, NULL, NULL),
          "reading the test split");

    /* ---- classify: images in data units, as the file holds them ---- */
    check(ebm_model_predict(model, images, n, n * (size_t)d, predicted, probability, n),
          "predicting");
    for (size_t i = 0; i < n; i++)
        printf("%zu %d %.6f %d\n", i, (int)predicted[i], (double)probability[i], (int)labels[i]);

    free(images), free(labels), free(predicted), free(probability);
    ebm_model_free(model);
    return 0;
}
