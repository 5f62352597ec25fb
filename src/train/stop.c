/* stop.c: stop requests by signal. The handler only sets a flag; the
 * training loop puts it on the step's allreduce, so every rank stops after
 * the same step. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "train/train.h"

/* The one global a signal handler can reach. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) { stop_signal = sig; }

int train_install_stop_handlers(ebm_err *err)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return ebm_fail(err, "cannot install signal handlers: %s", strerror(errno));
    return 0;
}

int train_stop_requested(void) { return stop_signal != 0; }

int train_terminate_requested(void) { return stop_signal == SIGTERM; }
