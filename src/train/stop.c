/* stop.c: stop requests. A request only sets a flag; the training loop puts
 * it on the step's allreduce, so every rank stops after the same step. The
 * signal handlers that ask are the command's (src/main.c). */
#include <signal.h>

#include "train/train.h"

/* The one global a signal handler can reach. */
static volatile sig_atomic_t stop_asked = 0;

void train_request_stop(void) { stop_asked = 1; }

int train_stop_requested(void) { return stop_asked != 0; }

void train_stop_clear(void) { stop_asked = 0; }
