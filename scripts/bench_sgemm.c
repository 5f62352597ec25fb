/* bench_sgemm.c: the machine's OpenBLAS sgemm throughput at the shapes one
 * ebm_mpi training epoch calls, to put ebm_mpi's speed against a limit.
 *
 * It replays, with no other work in between, exactly the cblas_sgemm calls
 * an epoch of `ebm_mpi train` makes on each rank (same transposes, leading
 * dimensions and row counts):
 *   Langevin, per step and per chain batch of c rows (input gradient only):
 *     forward   z (c,out) = a (c,in) @ W^T + z      layers 0..3 (z: bias rows)
 *     backward da (c,in)  = g (c,out) @ W           layers 3..0
 *   training step on 2c rows (data + samples):
 *     forward   z (2c,out) = a (2c,in) @ W^T + z    layers 0..3
 *     backward dW (out,in) += g^T (out,2c) @ a      layers 3..0
 *              da (2c,in)  = g (2c,out) @ W         layers 3..1
 * The epoch has ceil(N/B) steps of B examples (the last N - (S-1)B), each
 * spread over P ranks in proportion (fewer than 4 rows: sgemv per row, as
 * ebm_mpi does); --procs Q forks Q processes that replay
 * ranks 0..Q-1 of a P-rank epoch at the same time, each with --threads BLAS
 * threads, and reports the slowest.
 *
 * Output: one JSON object per line (what scripts/bench.py reads).
 *
 *   bench_sgemm [--d 64] [--h 512] [--k 10] [--examples 1257] [--batch 64]
 *               [--langevin 20] [--ranks 1] [--procs 1] [--threads 1]
 *               [--repeat 5] [--shapes]
 * --shapes also times each distinct call shape of rank 0 alone. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* OpenBLAS's own entry point (not in cblas.h of every BLAS). */
void openblas_set_num_threads(int num_threads);

#define LAYERS 4

typedef struct {
    int d, h, k, examples, batch, langevin, ranks, procs, threads, repeat, shapes;
} config;

typedef struct {
    int in[LAYERS], out[LAYERS];
    float *w[LAYERS], *dw[LAYERS];
    float *act[LAYERS + 1]; /* act[0] input (rows, d); act[l+1] output of layer l */
    float *ga, *gb;         /* backward scratch (rows, max(d,h)) */
    double flops;           /* counted as 2 m n k per call */
} net;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_fill(size_t n, float scale, unsigned *seed)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_sgemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = scale * ((float)(*seed >> 8) * 0x1.0p-24f - 0.5f);
    }
    return p;
}

static void net_init(net *nt, const config *c, int rows)
{
    const int in[LAYERS] = {c->d, c->h, c->h, c->h}, out[LAYERS] = {c->h, c->h, c->h, c->k};
    const int wide = c->d > c->h ? c->d : c->h;
    unsigned seed = 12345;
    memset(nt, 0, sizeof *nt);
    for (int l = 0; l < LAYERS; l++) {
        nt->in[l] = in[l], nt->out[l] = out[l];
        nt->w[l] = alloc_fill((size_t)in[l] * out[l], 2.0f / (float)in[l], &seed);
        nt->dw[l] = alloc_fill((size_t)in[l] * out[l], 0.0f, &seed);
        nt->act[l + 1] = alloc_fill((size_t)rows * out[l], 1.0f, &seed);
    }
    nt->act[0] = alloc_fill((size_t)rows * c->d, 2.0f, &seed);
    nt->ga = alloc_fill((size_t)rows * wide, 1.0f, &seed);
    nt->gb = alloc_fill((size_t)rows * wide, 1.0f, &seed);
}

/* As src/model.c: fewer rows than this go through sgemv row by row. */
#define GEMV_ROWS 4

static void forward(net *nt, int m)
{
    for (int l = 0; l < LAYERS; l++) {
        const int in = nt->in[l], out = nt->out[l];
        /* z (m,out) = a (m,in) @ W^T (in,out) + z: ebm_mpi copies the bias
         * rows into z first (beta = 1 saves OpenBLAS's zeroing pass) */
        if (m < GEMV_ROWS)
            for (int i = 0; i < m; i++)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, nt->w[l], in,
                            nt->act[l] + (size_t)i * in, 1, 1.0f,
                            nt->act[l + 1] + (size_t)i * out, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, out, in, 1.0f, nt->act[l],
                        in, nt->w[l], in, 1.0f, nt->act[l + 1], out);
        nt->flops += 2.0 * m * out * in;
    }
}

/* weights: also form dW; first: lowest layer whose input gradient is formed. */
static void backward(net *nt, int m, int weights, int first)
{
    float *scratch[2] = {nt->ga, nt->gb};
    const float *g = nt->act[LAYERS]; /* stands for dlogits (m, k) */
    for (int l = LAYERS - 1; l >= 0; l--) {
        const int in = nt->in[l], out = nt->out[l];
        if (weights) {
            /* dW (out,in) += g^T (out,m) @ a (m,in) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, m, 1.0f, g, out,
                        nt->act[l], in, 1.0f, nt->dw[l], in);
            nt->flops += 2.0 * m * out * in;
        }
        if (l < first)
            break;
        float *da = scratch[l % 2];
        /* da (m,in) = g (m,out) @ W (out,in) */
        if (m < GEMV_ROWS)
            for (int i = 0; i < m; i++)
                cblas_sgemv(CblasRowMajor, CblasTrans, out, in, 1.0f, nt->w[l], in,
                            g + (size_t)i * out, 1, 0.0f, da + (size_t)i * in, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, in, out, 1.0f, g, out,
                        nt->w[l], in, 0.0f, da, in);
        nt->flops += 2.0 * m * out * in;
        g = da;
    }
}

/* Rank r's share of a step of c examples (shards differ by at most one). */
static int rank_rows(const config *cf, int c, int r)
{
    const int64_t n = cf->examples, p = cf->ranks;
    const int64_t lo = (int64_t)c * (r * (n / p) + (r < n % p ? r : n % p)) / n;
    const int64_t r1 = r + 1;
    const int64_t hi = (int64_t)c * (r1 * (n / p) + (r1 < n % p ? r1 : n % p)) / n;
    return (int)(hi - lo);
}

/* One epoch of rank r; returns its seconds. */
static double replay_epoch(net *nt, const config *cf, int r)
{
    const int steps = (cf->examples + cf->batch - 1) / cf->batch;
    const double t0 = now();
    for (int s = 0; s < steps; s++) {
        const int cg = s < steps - 1 ? cf->batch : cf->examples - (steps - 1) * cf->batch;
        const int c = rank_rows(cf, cg, r);
        if (c == 0)
            continue;
        for (int t = 0; t < cf->langevin; t++) {
            forward(nt, c);
            backward(nt, c, 0, 0);
        }
        forward(nt, 2 * c);
        backward(nt, 2 * c, 1, 1);
    }
    return now() - t0;
}

static int max_rows(const config *cf)
{
    return 2 * cf->batch; /* rank rows never exceed the global batch */
}

/* One distinct call shape. */
typedef struct {
    const char *what;
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k;
} call_shape;

/* Times each distinct call of rank 0 on its own (best of --repeat runs of
 * at least 50 ms each). */
static void time_shapes(const config *cf)
{
    const int c = rank_rows(cf, cf->batch, 0);
    const int in[LAYERS] = {cf->d, cf->h, cf->h, cf->h}, out[LAYERS] = {cf->h, cf->h, cf->h, cf->k};
    call_shape calls[3 * LAYERS * 2];
    int nc = 0;
    for (int pass = 0; pass < 2; pass++) {
        const int m = pass == 0 ? c : 2 * c; /* Langevin rows, training rows */
        for (int l = 0; l < LAYERS; l++) {
            calls[nc++] = (call_shape){"forward", CblasNoTrans, CblasTrans, m, out[l], in[l]};
            calls[nc++] = (call_shape){"input_grad", CblasNoTrans, CblasNoTrans, m, in[l], out[l]};
            if (pass == 1)
                calls[nc++] = (call_shape){"weight_grad", CblasTrans, CblasNoTrans, out[l], in[l], m};
        }
    }
    unsigned seed = 7;
    for (int i = 0; i < nc; i++) {
        const int m = calls[i].m, n = calls[i].n, k = calls[i].k;
        const int lda = calls[i].ta == CblasNoTrans ? k : m;
        const int ldb = calls[i].tb == CblasNoTrans ? n : k;
        float *a = alloc_fill((size_t)m * k, 1.0f, &seed);
        float *b = alloc_fill((size_t)k * n, 0.01f, &seed);
        float *cm = alloc_fill((size_t)m * n, 0.0f, &seed);
        double best = 1e30;
        for (int rep = 0; rep < cf->repeat; rep++) {
            int iters = 0;
            const double t0 = now();
            double t;
            do {
                cblas_sgemm(CblasRowMajor, calls[i].ta, calls[i].tb, m, n, k, 1.0f, a, lda, b,
                            ldb, 1.0f, cm, n);
                iters++;
            } while ((t = now() - t0) < 0.05);
            if (t / iters < best)
                best = t / iters;
        }
        printf("{\"kind\": \"shape\", \"threads\": %d, \"call\": \"%s\", \"transa\": \"%s\", "
               "\"transb\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"gflops\": %.3f}\n",
               cf->threads, calls[i].what, calls[i].ta == CblasTrans ? "T" : "N",
               calls[i].tb == CblasTrans ? "T" : "N", m, n, k, 2.0 * m * n * k / best * 1e-9);
        free(a), free(b), free(cm);
    }
}

/* Replays rank r's epoch --repeat times (out == NULL: once, a warm-up);
 * out = {best seconds, median seconds, FLOPs of one epoch}. */
static void replay_rank(const config *cf, int r, double out[3])
{
    static net nt;
    static int ready;
    if (!ready) {
        net_init(&nt, cf, max_rows(cf));
        ready = 1;
    }
    if (!out) {
        replay_epoch(&nt, cf, r);
        return;
    }
    double sec[64];
    const int n = cf->repeat < 64 ? cf->repeat : 64;
    nt.flops = 0;
    for (int i = 0; i < n; i++)
        sec[i] = replay_epoch(&nt, cf, r);
    for (int i = 0; i < n; i++) /* insertion sort for the median */
        for (int j = i; j > 0 && sec[j] < sec[j - 1]; j--) {
            const double t = sec[j];
            sec[j] = sec[j - 1], sec[j - 1] = t;
        }
    out[0] = sec[0], out[1] = sec[n / 2], out[2] = nt.flops / n;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_sgemm [--d D] [--h H] [--k K] [--examples N] [--batch B] "
                    "[--langevin S] [--ranks P] [--procs Q] [--threads T] [--repeat R] "
                    "[--shapes]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    config cf = {64, 512, 10, 1257, 64, 20, 1, 1, 1, 5, 0};
    for (int i = 1; i < argc; i++) {
        struct {
            const char *name;
            int *v;
        } opts[] = {{"--d", &cf.d},           {"--h", &cf.h},         {"--k", &cf.k},
                    {"--examples", &cf.examples}, {"--batch", &cf.batch},
                    {"--langevin", &cf.langevin}, {"--ranks", &cf.ranks},
                    {"--procs", &cf.procs},   {"--threads", &cf.threads},
                    {"--repeat", &cf.repeat}};
        int done = 0;
        if (!strcmp(argv[i], "--shapes")) {
            cf.shapes = 1;
            continue;
        }
        for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++)
            if (!strcmp(argv[i], opts[o].name) && i + 1 < argc) {
                *opts[o].v = atoi(argv[++i]);
                done = 1;
            }
        if (!done)
            usage();
    }
    if (cf.d < 1 || cf.h < 1 || cf.k < 1 || cf.batch < 1 || cf.ranks < 1 || cf.procs < 1 ||
        cf.procs > cf.ranks || cf.threads < 1 || cf.repeat < 1 || cf.examples < cf.ranks)
        usage();
    openblas_set_num_threads(cf.threads);
    if (cf.shapes) {
        time_shapes(&cf);
        return 0;
    }

    double best = 0, median = 0, flops = 0;
    if (cf.procs == 1) {
        /* In this process: OpenBLAS's thread pool does not survive fork(). */
        double out[3];
        replay_rank(&cf, 0, NULL); /* warm-up */
        replay_rank(&cf, 0, out);
        best = out[0], median = out[1], flops = out[2];
    } else {
        /* Q processes (1 BLAS thread each) wait on `go` and start together;
         * each reports its best and median epoch through `res`. */
        int go[2], res[2];
        if (pipe(go) || pipe(res)) {
            perror("bench_sgemm: pipe");
            return 1;
        }
        for (int q = 0; q < cf.procs; q++) {
            const pid_t pid = fork();
            if (pid < 0) {
                perror("bench_sgemm: fork");
                return 1;
            }
            if (pid == 0) {
                close(go[1]);
                char c;
                double out[3];
                replay_rank(&cf, q, NULL); /* warm-up, then wait for the start */
                while (read(go[0], &c, 1) > 0) {
                }
                replay_rank(&cf, q, out);
                if (write(res[1], out, sizeof out) != (ssize_t)sizeof out)
                    _exit(1);
                _exit(0);
            }
        }
        close(go[0]);
        close(res[1]);
        sleep(1); /* let every child finish its warm-up before the start */
        close(go[1]);
        for (int q = 0; q < cf.procs; q++) {
            double out[3];
            if (read(res[0], out, sizeof out) != (ssize_t)sizeof out) {
                fprintf(stderr, "bench_sgemm: a worker failed\n");
                return 1;
            }
            best = out[0] > best ? out[0] : best;
            median = out[1] > median ? out[1] : median;
            flops += out[2];
        }
        for (int q = 0; q < cf.procs; q++)
            wait(NULL);
    }
    /* The slowest process bounds the epoch, as the slowest rank does. */
    printf("{\"kind\": \"epoch\", \"d\": %d, \"h\": %d, \"k\": %d, \"examples\": %d, "
           "\"batch\": %d, \"langevin\": %d, \"ranks\": %d, \"procs\": %d, \"threads\": %d, "
           "\"gflop\": %.4f, \"best_seconds\": %.5f, \"median_seconds\": %.5f, "
           "\"gflops\": %.3f}\n",
           cf.d, cf.h, cf.k, cf.examples, cf.batch, cf.langevin, cf.ranks, cf.procs,
           cf.threads, flops * 1e-9, best, median, flops * 1e-9 / best);
    return 0;
}
