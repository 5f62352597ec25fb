/* dist.c: the MPI layer: init, collectives, error agreement, abort. */
#include "par/dist.h"

#include "par/dist_mpi.h"
#include "par/watchdog.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The failure of an MPI call, recorded at the MPI_TRY that saw it. */
static int mpi_fail_at(ebm_err *err, const char *call, int code, const char *file, int line,
                       const char *func)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error code %d", code);
    return ebm_fail_at(err, file, line, func, "%s failed: %s", call, text);
}

#define MPI_TRY(call, name)                                                                    \
    do {                                                                                       \
        const int mpi_rc_ = (call);                                                            \
        if (mpi_rc_ != MPI_SUCCESS)                                                            \
            return mpi_fail_at(err, name, mpi_rc_, __FILE__, __LINE__, __func__);              \
    } while (0)

static int count_ok(size_t n, ebm_err *err)
{
    if (n > INT_MAX)
        return ebm_fail(err, "message of %zu elements is too large for one MPI call", n);
    return 0;
}

struct dist_handle {
    MPI_Comm comm;
    struct dist_watch *watch; /* NULL: no stall watchdog */
    /* The nonblocking sums in flight, in the order they were started. */
    MPI_Request pending[DIST_MAX_PENDING];
    int n_pending;
};

/* An MPI collective under the stall watchdog. */
#define COLL_TRY(call, name)                                                                   \
    do {                                                                                       \
        dist_watch_enter(ctx->comm->watch, name);                                              \
        const int mpi_rc_ = (call);                                                            \
        dist_watch_leave(ctx->comm->watch);                                                    \
        if (mpi_rc_ != MPI_SUCCESS)                                                            \
            return mpi_fail_at(err, name, mpi_rc_, __FILE__, __LINE__, __func__);              \
    } while (0)

/* A serial context (dist_serial) has no communicator and no watchdog. */
static struct dist_watch *watch_of(const dist_ctx *ctx)
{
    return ctx->comm ? ctx->comm->watch : NULL;
}

void dist_serial(dist_ctx *ctx)
{
    ctx->comm = NULL;
    ctx->rank = 0, ctx->size = 1;
    ctx->show_trail = 0;
}

int dist_is_serial(const dist_ctx *ctx) { return ctx->comm == NULL; }

int dist_watchdog_start(const dist_ctx *ctx, double timeout_seconds, int (*ending)(void),
                        ebm_err *err)
{
    if (!ctx->comm)
        return ebm_fail(err, "the stall watchdog needs MPI (a serial context has none)");
    if (ctx->comm->watch || timeout_seconds <= 0)
        return 0;
    ctx->comm->watch = dist_watch_new(ctx->comm->comm, ctx->rank, timeout_seconds, ending);
    if (!ctx->comm->watch)
        return ebm_fail(err, "cannot start the stall watchdog's thread");
    return 0;
}

void dist_watchdog_timeout(const dist_ctx *ctx, double timeout_seconds)
{
    dist_watch_set_timeout(watch_of(ctx), timeout_seconds);
}

double dist_watchdog_current(const dist_ctx *ctx)
{
    return dist_watch_get_timeout(watch_of(ctx));
}

double dist_stall_auto(double floor, double slowest_step)
{
    const double scaled = DIST_STALL_AUTO_FACTOR * slowest_step;
    return scaled > floor ? scaled : floor;
}

void dist_watch_begin(const dist_ctx *ctx, const char *what)
{
    dist_watch_enter(watch_of(ctx), what);
}

void dist_watch_end(const dist_ctx *ctx) { dist_watch_leave(watch_of(ctx)); }

void dist_watch_where(const dist_ctx *ctx, const char *where, long long number)
{
    dist_watch_place(watch_of(ctx), where, number);
}

MPI_Comm dist_comm(const dist_ctx *ctx) { return ctx->comm->comm; }

/* Open MPI's nonblocking allreduce (coll/libnbc) runs, by default, a
 * binomial reduce + broadcast for in-place buffers and below 4 ranks: each
 * link carries the whole vector twice, one way at a time, where the blocking
 * MPI_Allreduce (coll/tuned, Rabenseifner for these sizes) sends half of it
 * each way at once. Selecting libnbc's Rabenseifner through the MPI tool
 * interface gives the nonblocking sums the blocking one's traffic and the
 * same pairing of ranks (so the same bits: tests/unit/test_dist.c). It is a
 * process-wide setting that touches only MPI_Iallreduce, which only
 * dist_sum_floats_start calls. Best effort: another MPI without this
 * variable keeps its own choice (every rank alike: same library). */
static void prefer_rabenseifner_iallreduce(void)
{
    int provided = 0, n = 0;
    if (MPI_T_init_thread(MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return;
    if (MPI_T_cvar_get_num(&n) == MPI_SUCCESS) {
        for (int i = 0; i < n; i++) {
            char name[256], desc[8];
            int name_len = sizeof name, desc_len = sizeof desc, verbosity, bind, scope;
            MPI_Datatype type;
            MPI_T_enum values;
            if (MPI_T_cvar_get_info(i, name, &name_len, &verbosity, &type, &values, desc,
                                    &desc_len, &bind, &scope) != MPI_SUCCESS ||
                strcmp(name, "coll_libnbc_iallreduce_algorithm") != 0 || type != MPI_INT)
                continue;
            MPI_T_cvar_handle handle;
            int count = 0;
            if (MPI_T_cvar_handle_alloc(i, NULL, &handle, &count) == MPI_SUCCESS) {
                const int rabenseifner = 3; /* "0 ignore, 1 ring, 2 binomial, 3 rabenseifner" */
                if (count == 1)
                    (void)MPI_T_cvar_write(handle, &rabenseifner);
                MPI_T_cvar_handle_free(&handle);
            }
            break;
        }
    }
    MPI_T_finalize();
}

int dist_init(int *argc, char ***argv, int show_trail, dist_ctx *ctx, ebm_err *err)
{
    ctx->show_trail = show_trail;
    ctx->rank = 0, ctx->size = 1;
    ctx->comm = ebm_calloc(1, sizeof *ctx->comm, "MPI context", err);
    if (!ctx->comm)
        return -1;
    /* FUNNELED: MPI calls come from the main thread; the stall watchdog's
     * thread only ever calls MPI_Abort, to end a job that cannot go on. */
    int provided = 0;
    MPI_TRY(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    ctx->comm->comm = MPI_COMM_WORLD;
    MPI_TRY(MPI_Comm_set_errhandler(ctx->comm->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_TRY(MPI_Comm_rank(ctx->comm->comm, &ctx->rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(ctx->comm->comm, &ctx->size), "MPI_Comm_size");
    prefer_rabenseifner_iallreduce();
    return 0;
}

int dist_self(const dist_ctx *world, dist_ctx *self, ebm_err *err)
{
    self->show_trail = world->show_trail;
    self->rank = 0, self->size = 1;
    self->comm = ebm_calloc(1, sizeof *self->comm, "MPI context", err);
    if (!self->comm)
        return ebm_trace(err);
    self->comm->comm = MPI_COMM_SELF;
    return 0;
}

void dist_self_free(dist_ctx *self)
{
    free(self->comm);
    self->comm = NULL;
}

/* A context on a duplicate of `user` (see dist_from_user). */
static int adopt(MPI_Comm user, dist_ctx *ctx, ebm_err *err)
{
    ctx->comm = NULL;
    ctx->rank = 0, ctx->size = 1, ctx->show_trail = 0;
    int up = 0, down = 0;
    MPI_TRY(MPI_Initialized(&up), "MPI_Initialized");
    MPI_TRY(MPI_Finalized(&down), "MPI_Finalized");
    if (!up || down)
        return ebm_fail(err, "MPI is %s: initialise it (MPI_Init) before calling a communicator "
                        "function of ebm_mpi_mpi.h", down ? "already finalised" : "not initialised");
    if (user == MPI_COMM_NULL)
        return ebm_fail(err, "the communicator is MPI_COMM_NULL");
    struct dist_handle *h = ebm_calloc(1, sizeof *h, "MPI context", err);
    if (!h)
        return ebm_trace(err);
    int rc = MPI_Comm_dup(user, &h->comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(h->comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(h->comm, &ctx->rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(h->comm, &ctx->size);
    if (rc != MPI_SUCCESS) {
        if (h->comm != MPI_COMM_NULL)
            MPI_Comm_free(&h->comm);
        free(h);
        return mpi_fail_at(err, "MPI_Comm_dup of the caller's communicator", rc, __FILE__,
                           __LINE__, __func__);
    }
    ctx->comm = h;
    return 0;
}

int dist_from_user(const void *comm, size_t comm_size, dist_ctx *ctx, ebm_err *err)
{
    if (comm_size != sizeof(MPI_Comm))
        return ebm_fail(err,
                        "the caller's MPI_Comm has %zu bytes, this library's MPI %zu: it was "
                        "compiled with another MPI than the library was built with",
                        comm_size, sizeof(MPI_Comm));
    MPI_Comm user;
    memcpy(&user, comm, sizeof user);
    return adopt(user, ctx, err);
}

int dist_from_fortran(int64_t fint, dist_ctx *ctx, ebm_err *err)
{
    int up = 0;
    if (MPI_Initialized(&up) != MPI_SUCCESS || !up)
        return adopt(MPI_COMM_NULL, ctx, err); /* says MPI is not initialised */
    return adopt(MPI_Comm_f2c((MPI_Fint)fint), ctx, err);
}

void dist_user_free(dist_ctx *ctx)
{
    if (ctx->comm) {
        dist_watch_free(ctx->comm->watch); /* ebm_train_mpi's watchdog, if any */
        MPI_Comm_free(&ctx->comm->comm);
        free(ctx->comm);
    }
    ctx->comm = NULL;
}

void dist_finalize(dist_ctx *ctx)
{
    if (ctx->comm)
        dist_watch_free(ctx->comm->watch);
    free(ctx->comm);
    ctx->comm = NULL;
    MPI_Finalize();
}

int dist_agree(const dist_ctx *ctx, int local_rc, ebm_err *err)
{
    if (!ctx->comm)
        return local_rc == 0 ? 0 : ebm_trace(err);
    int first_failed = local_rc != 0 ? ctx->rank : ctx->size;
    COLL_TRY(MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, ctx->comm->comm),
            "MPI_Allreduce");
    if (first_failed == ctx->size)
        return 0;
    ebm_err shared;
    if (ctx->rank == first_failed)
        shared = *err;
    COLL_TRY(MPI_Bcast(&shared, sizeof shared, MPI_BYTE, first_failed, ctx->comm->comm), "MPI_Bcast");
    shared.msg[sizeof shared.msg - 1] = '\0';
    *err = shared;
    return ebm_trace(err);
}

_Noreturn void dist_abort(const dist_ctx *ctx, const ebm_err *err)
{
    if (!ctx->comm) { /* not reached: serial callers return their errors */
        if (err)
            ebm_err_print(stderr, err, -1, ctx->show_trail);
        abort();
    }
    if (err)
        ebm_err_print(stderr, err, ctx->size > 1 ? ctx->rank : -1, ctx->show_trail);
    fflush(stdout);
    fflush(stderr);
    par_abort(ctx->comm->comm);
}

int dist_sum_floats(const dist_ctx *ctx, float *buf, size_t n, ebm_err *err)
{
    if (!ctx->comm)
        return 0; /* serial: this process holds the whole sum */
    if (count_ok(n, err))
        return -1;
    COLL_TRY(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, ctx->comm->comm),
            "MPI_Allreduce");
    return 0;
}

int dist_sum_floats_start(const dist_ctx *ctx, float *buf, size_t n, ebm_err *err)
{
    if (!ctx->comm)
        return 0; /* serial: the sum is the buffer itself */
    struct dist_handle *h = ctx->comm;
    if (count_ok(n, err))
        return -1;
    if (h->n_pending >= DIST_MAX_PENDING)
        return ebm_fail(err, "more than %d nonblocking sums in flight", DIST_MAX_PENDING);
    COLL_TRY(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, h->comm,
                            &h->pending[h->n_pending]),
             "MPI_Iallreduce");
    h->n_pending++;
    return 0;
}

int dist_progress(const dist_ctx *ctx, ebm_err *err)
{
    if (!ctx->comm)
        return 0;
    struct dist_handle *h = ctx->comm;
    /* One MPI_Test runs Open MPI's progress engine, which advances every
     * pending request; a completed request becomes MPI_REQUEST_NULL, which
     * the waits below accept. Nothing is decided here: the order in which
     * sums finish does not matter, dist_wait_all takes them in order. */
    for (int i = 0; i < h->n_pending; i++) {
        if (h->pending[i] == MPI_REQUEST_NULL)
            continue;
        int done = 0;
        MPI_TRY(MPI_Test(&h->pending[i], &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (!done)
            break; /* the later ones were started later: test them next time */
    }
    return 0;
}

int dist_wait_all(const dist_ctx *ctx, ebm_err *err)
{
    if (!ctx->comm)
        return 0;
    struct dist_handle *h = ctx->comm;
    const int n = h->n_pending;
    h->n_pending = 0;
    for (int i = 0; i < n; i++)
        COLL_TRY(MPI_Wait(&h->pending[i], MPI_STATUS_IGNORE), "MPI_Wait (MPI_Iallreduce)");
    return 0;
}

int dist_pending(const dist_ctx *ctx) { return ctx->comm ? ctx->comm->n_pending : 0; }

int dist_sum_doubles(const dist_ctx *ctx, double *buf, size_t n, ebm_err *err)
{
    if (!ctx->comm)
        return 0; /* serial: this process holds the whole sum */
    if (count_ok(n, err))
        return -1;
    COLL_TRY(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, ctx->comm->comm),
            "MPI_Allreduce");
    return 0;
}

int dist_bcast_floats(const dist_ctx *ctx, float *buf, size_t n, int root, ebm_err *err)
{
    if (!ctx->comm)
        return 0; /* serial: this process holds the whole sum */
    if (count_ok(n, err))
        return -1;
    COLL_TRY(MPI_Bcast(buf, (int)n, MPI_FLOAT, root, ctx->comm->comm), "MPI_Bcast");
    return 0;
}

int dist_bcast_bytes(const dist_ctx *ctx, void *buf, size_t n, int root, ebm_err *err)
{
    if (!ctx->comm)
        return 0; /* serial: this process holds the whole sum */
    if (count_ok(n, err))
        return -1;
    COLL_TRY(MPI_Bcast(buf, (int)n, MPI_BYTE, root, ctx->comm->comm), "MPI_Bcast");
    return 0;
}

int dist_min_mean_max(const dist_ctx *ctx, double local, double out[3], ebm_err *err)
{
    if (!ctx->comm) {
        out[0] = out[1] = out[2] = local;
        return 0;
    }
    double sum = local;
    out[0] = local;
    out[2] = local;
    COLL_TRY(MPI_Allreduce(MPI_IN_PLACE, &out[0], 1, MPI_DOUBLE, MPI_MIN, ctx->comm->comm),
            "MPI_Allreduce");
    COLL_TRY(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, ctx->comm->comm),
            "MPI_Allreduce");
    COLL_TRY(MPI_Allreduce(MPI_IN_PLACE, &out[2], 1, MPI_DOUBLE, MPI_MAX, ctx->comm->comm),
            "MPI_Allreduce");
    out[1] = sum / ctx->size;
    return 0;
}

int dist_min_mean_max_n(const dist_ctx *ctx, const double *local, size_t n, double (*out)[3],
                        ebm_err *err)
{
    if (!ctx->comm) {
        for (size_t i = 0; i < n; i++)
            out[i][0] = out[i][1] = out[i][2] = local[i];
        return 0;
    }
    enum { MAX_N = 64 };
    double lo[MAX_N], sum[MAX_N], hi[MAX_N];
    if (n > MAX_N)
        return ebm_fail(err, "dist_min_mean_max_n: %zu values, at most %d", n, MAX_N);
    COLL_TRY(MPI_Allreduce(local, lo, (int)n, MPI_DOUBLE, MPI_MIN, ctx->comm->comm),
            "MPI_Allreduce");
    COLL_TRY(MPI_Allreduce(local, sum, (int)n, MPI_DOUBLE, MPI_SUM, ctx->comm->comm),
            "MPI_Allreduce");
    COLL_TRY(MPI_Allreduce(local, hi, (int)n, MPI_DOUBLE, MPI_MAX, ctx->comm->comm),
            "MPI_Allreduce");
    for (size_t i = 0; i < n; i++) {
        out[i][0] = lo[i];
        out[i][1] = sum[i] / ctx->size;
        out[i][2] = hi[i];
    }
    return 0;
}

int dist_barrier(const dist_ctx *ctx, ebm_err *err)
{
    if (!ctx->comm)
        return 0; /* serial: this process holds the whole sum */
    COLL_TRY(MPI_Barrier(ctx->comm->comm), "MPI_Barrier");
    return 0;
}

int dist_max_loc(const dist_ctx *ctx, double local, double *max, int *rank, ebm_err *err)
{
    if (!ctx->comm) {
        *max = local, *rank = 0;
        return 0;
    }
    struct {
        double value;
        int rank;
    } in = {local, ctx->rank}, out;
    COLL_TRY(MPI_Allreduce(&in, &out, 1, MPI_DOUBLE_INT, MPI_MAXLOC, ctx->comm->comm),
            "MPI_Allreduce");
    *max = out.value;
    *rank = out.rank;
    return 0;
}

int dist_gather_bytes(const dist_ctx *ctx, const void *in, size_t n, void *out, int root,
                      ebm_err *err)
{
    if (!ctx->comm) {
        if (n > 0 && !out) /* one process: it is the root, which receives */
            return ebm_fail(err, "dist_gather_bytes: no receive buffer at the root");
        if (n > 0)
            memmove(out, in, n);
        return 0;
    }
    if (count_ok(n, err))
        return ebm_trace(err);
    COLL_TRY(MPI_Gather(in, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, root, ctx->comm->comm),
            "MPI_Gather");
    return 0;
}

int dist_local_size(const dist_ctx *ctx, int *local, ebm_err *err)
{
    if (!ctx->comm) {
        *local = 1;
        return 0;
    }
    MPI_Comm node;
    COLL_TRY(MPI_Comm_split_type(ctx->comm->comm, MPI_COMM_TYPE_SHARED, ctx->rank, MPI_INFO_NULL,
                                &node),
            "MPI_Comm_split_type");
    const int rc = MPI_Comm_size(node, local);
    MPI_Comm_free(&node);
    MPI_TRY(rc, "MPI_Comm_size");
    return 0;
}

/* Appends to out[*used..len); on overflow ends it with "..." and returns -1. */
static int append(char *out, size_t len, size_t *used, const char *text)
{
    const size_t n = strlen(text);
    if (*used + n + 4 > len) {
        if (*used + 4 <= len)
            memcpy(out + *used, "...", 4);
        *used = len;
        return -1;
    }
    memcpy(out + *used, text, n + 1);
    *used += n;
    return 0;
}

int dist_host_summary(const dist_ctx *ctx, char *out, size_t len, ebm_err *err)
{
    enum { NAME = MPI_MAX_PROCESSOR_NAME };
    char mine[NAME] = {0};
    dist_host_name(mine, sizeof mine);
    char *all = NULL;
    int rc = 0;
    if (ctx->rank == 0) {
        all = calloc((size_t)ctx->size, NAME);
        if (!all)
            rc = ebm_fail(err, "out of memory for %d host names", ctx->size);
    }
    /* "|| rc": dist_agree fails whenever rc does; said again for gcc -fanalyzer.
     * all is freed also when another rank failed. */
    if (dist_agree(ctx, rc, err) || rc || dist_gather_bytes(ctx, mine, NAME, all, 0, err)) {
        free(all);
        return ebm_trace(err);
    }
    if (!all) /* every rank but 0 */
        return 0;
    int hosts = 0;
    for (int r = 0; r < ctx->size; r++) {
        int seen = 0;
        for (int q = 0; q < r && !seen; q++)
            seen = strncmp(all + (size_t)q * NAME, all + (size_t)r * NAME, NAME) == 0;
        hosts += !seen;
    }
    char item[NAME + 48];
    snprintf(item, sizeof item, "%d (", hosts);
    size_t used = 0;
    out[0] = '\0';
    int r = 0, full = append(out, len, &used, item);
    while (r < ctx->size && !full) {
        const char *host = all + (size_t)r * NAME;
        int last = r;
        while (last + 1 < ctx->size && strncmp(all + (size_t)(last + 1) * NAME, host, NAME) == 0)
            last++;
        if (last > r)
            snprintf(item, sizeof item, "%s%.*s: ranks %d-%d", r ? "; " : "", NAME - 1, host, r,
                     last);
        else
            snprintf(item, sizeof item, "%s%.*s: rank %d", r ? "; " : "", NAME - 1, host, r);
        full = append(out, len, &used, item);
        r = last + 1;
    }
    if (!full)
        append(out, len, &used, ")");
    free(all);
    return 0;
}

void dist_host_name(char *buf, size_t len)
{
    char name[MPI_MAX_PROCESSOR_NAME];
    int n = 0;
    if (MPI_Get_processor_name(name, &n) != MPI_SUCCESS)
        snprintf(name, sizeof name, "unknown");
    snprintf(buf, len, "%s", name);
}

void dist_library_version(char *buf, size_t len)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    if (MPI_Get_library_version(v, &n) != MPI_SUCCESS)
        snprintf(v, sizeof v, "unknown");
    /* Open MPI's string is "Open MPI v4.1.4, package: ...", MPICH's
     * "MPICH Version:\t4.0.2\nMPICH Release date: ...": keep the first part,
     * its tabs as spaces. */
    v[strcspn(v, ",\n")] = '\0';
    for (char *c = v; *c; c++)
        if (*c == '\t' || *c == '\r')
            *c = ' ';
    snprintf(buf, len, "%s", v);
}
