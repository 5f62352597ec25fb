/* infer.h: using a trained model: the `eval` and `sample` commands. */
#ifndef EBM_INFER_H
#define EBM_INFER_H

#include "options.h"
#include "par/dist.h"
#include "core/err.h"
#include "ckpt.h"

/* Collective. Loss, error, calibration and confusion matrix of --ckpt on
 * --split of the data, sharded over ranks; --dump writes per-example logits
 * and energies. */
int infer_eval_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                   ebm_err *err);

/* Collective. --n samples (unconditional, or of --class K) from fresh
 * U[-1,1] chains, or continuing the checkpoint's persistent ones with
 * --from-chains, in data units, to --out. A --chain-init 1 checkpoint starts
 * its chains from the Gaussians fitted to the training images of --data. */
int infer_sample_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                     ebm_err *err);

#endif
