/* fault.h: fault injection for the tests, configured once at start-up from
 * the environment (main.c reads it; README "Tests" documents the variables).
 * Production code holds one named call per injection point and nothing
 * else; with nothing configured every call is a no-op.
 *
 * The configuration is the program's one deliberate global besides the stop
 * signal flag: it is written once, before any other work, by fault_configure,
 * and only the test-only counters below change afterwards. */
#ifndef EBM_FAULT_H
#define EBM_FAULT_H

#include <stdint.h>

#define FAULT_NAN_RANGES 8

typedef struct {
    /* EBM_MPI_FAULT_STOP_AT_STEP=N: training behaves as if SIGUSR1 arrived
     * during global step N (1-based; 0: never). */
    int64_t stop_at_step;
    /* EBM_MPI_FAULT_KILL_AT_CHECKPOINT=N: rank 0 kills itself (SIGKILL)
     * half-way through writing its N-th checkpoint (0: never). */
    int64_t kill_at_checkpoint;
    /* EBM_MPI_FAULT_DIVERGE_AT_STEP=N: global steps N to N+4 run with 10^4
     * times the learning rate, until the first rollback (0: never): a
     * divergence forced through the real detector. */
    int64_t diverge_at_step;
    /* EBM_MPI_FAULT_DIVERGE_TIMES=K (default 1): the forced divergence
     * recurs after each rollback until K rollbacks were made (K = 6 makes the
     * sixth divergence, one past the limit, end training). */
    int diverge_times;
    /* EBM_MPI_FAULT_NAN_STEPS=N[-M][,N[-M]...] and EBM_MPI_FAULT_NAN_RANK=R
     * (default 1): rank R puts a NaN into its local gradient at these global
     * steps, so the step's reduced gradient is not finite (the skipped-step
     * path). At most FAULT_NAN_RANGES ranges; nan_ranges 0: never. */
    int64_t nan_from[FAULT_NAN_RANGES], nan_to[FAULT_NAN_RANGES];
    int nan_ranges;
    int nan_rank;
    /* EBM_MPI_FAULT_STALL=step:N | eval:E | checkpoint:N | read:N |
     * eval-command:1 | sample-command:C and EBM_MPI_FAULT_STALL_RANK=R
     * (default 1): rank R stops itself (SIGSTOP) at the start of global step
     * N, before the validation after epoch E, half-way through the N-th
     * checkpoint write, before its N-th collective read of a data file's
     * split, before the eval command's evaluation, or before the sample
     * command draws its C-th chunk of chains: a rank that stops answering,
     * for the stall watchdog's tests. */
    char stall_where[16];
    int64_t stall_at;
    int stall_rank;
    /* EBM_MPI_FAULT_SLOW_STEP=N:MS: every rank sleeps MS milliseconds inside
     * global step N (0: never), a step of known least length for the test
     * of --stall-timeout auto. */
    int64_t slow_step;
    int64_t slow_step_ms;
    /* EBM_MPI_FAULT_AUTO_FLOOR=S: --stall-timeout auto's floor is S seconds
     * instead of 300 (0: unchanged), so that its rule shows within seconds. */
    double auto_floor;
} fault_config;

/* Arms the hooks with *cfg; NULL (no EBM_MPI_FAULT_* variable set) disarms
 * them all: no hook can fire in a run that did not ask for one. */
void fault_configure(const fault_config *cfg);

/* Whether a stop is to be injected into global step `step`. */
int fault_stop_at_step(int64_t step);

/* The factor on the learning rate of global step `step` (1 unless forced to
 * diverge; `rollbacks` so far). */
double fault_lr_factor(int64_t step, int rollbacks);

/* Reads EBM_MPI_FAULT_NAN_STEPS's text ("25", "26-33,35") into cfg; returns
 * -1 (and configures no step) on anything else. */
int fault_parse_nan_steps(fault_config *cfg, const char *text);

/* Whether `rank` is to plant a NaN into its local gradient of global step
 * `step`. */
int fault_nan_gradient(int64_t step, int rank);

/* Stops the calling process (SIGSTOP) if `where` and `n` are the configured
 * stall point and `rank` its rank. */
void fault_stall(const char *where, int64_t n, int rank);

/* Inside global step `step`: sleeps the configured time at the slow step. */
void fault_slow_step(int64_t step);

/* `floor`, or the configured floor of --stall-timeout auto. */
double fault_auto_floor(double floor);

/* Before a collective read of a data file's split: counts the reads and
 * stops the calling process at the configured one ("read:N"). */
void fault_data_read(int rank);

/* Inside a checkpoint write, after its first datasets: counts checkpoints and
 * SIGKILLs the calling process on rank 0 at the configured one. */
void fault_checkpoint_midway(int rank);

#endif
