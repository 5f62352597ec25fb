/* infer.h: using a trained model: the `eval` and `sample` commands. */
#ifndef EBM_INFER_H
#define EBM_INFER_H

#include "options.h"
#include "par/dist.h"
#include "core/err.h"
#include "ckpt.h"
#include "ebm/eval.h"

#include <stdio.h>

/* Collective. --chain-init 1 models written before format 5: the per-class
 * Gaussians their chains start from, refitted to the training images of
 * data_path (each rank its shard) as training fitted them; the data must
 * be the one the model was trained on (its checksum). The command's eval
 * and sample and the library's sampler and ebm_eval_mpi all use this. */
int infer_fit_class_start(const dist_ctx *ctx, const ckpt_model *m, const char *model_path,
                          const char *data_path, langevin_gauss *g, ebm_err *err);

/* Collective. Loss, error, calibration and confusion matrix of --ckpt on
 * --split of the data, sharded over ranks; --dump writes per-example logits
 * and energies, --ood and --loglik add their figures. What the command
 * prints goes to `out` on rank 0 (stdout for the command, the caller's
 * text function for the library); *figures (may be NULL) gets the split's
 * figures on every rank (its confusion pointer NULL: confusion, if not
 * NULL, gets the K x K counts and must hold confusion_count = K^2). */
int infer_eval_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, FILE *out,
                   eval_result *figures, double *confusion, size_t confusion_count,
                   ebm_err *err);

/* Collective. --n samples (unconditional, or of --class K) from fresh
 * U[-1,1] chains, or continuing the checkpoint's persistent ones with
 * --from-chains, in data units, to --out. A --chain-init 1 checkpoint starts
 * its chains from the Gaussians fitted to the training images of --data. */
int infer_sample_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, FILE *out,
                     ebm_err *err);

#endif
