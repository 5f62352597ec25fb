/* dir_lock.c: the output directory's lock (dir_lock.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), 0 when
 * it cannot be read; *state gets field 3 ('?' unknown). The command name
 * (field 2) may hold spaces and ')', so fields are counted from the last ')'. */
static unsigned long long proc_stat(long pid, char *state)
{
    *state = '?';
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    if (p[1] == ' ' && p[2])
        *state = p[2];
    /* After ")": field 3 (state) ... field 22. */
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return field == 22 ? strtoull(p, NULL, 10) : 0;
}

void dir_lock_self(dir_lock_holder *me, const char *job)
{
    memset(me, 0, sizeof *me);
    if (gethostname(me->host, sizeof me->host - 1) != 0 || !me->host[0])
        snprintf(me->host, sizeof me->host, "unknown-host");
    me->pid = (long)getpid();
    char state;
    me->start_ticks = proc_stat(me->pid, &state);
    snprintf(me->job, sizeof me->job, "%s", job && job[0] ? job : "-");
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(me->started, sizeof me->started, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dir_lock_format(const dir_lock_holder *h, char *buf, size_t len)
{
    snprintf(buf, len,
             "ebm_mpi output directory lock: this directory belongs to the run below.\n"
             "host %s\npid %ld\npid_start %llu\njob %s\nstarted %s\n",
             h->host, h->pid, h->start_ticks, h->job, h->started);
}

int dir_lock_parse(const char *text, dir_lock_holder *h)
{
    memset(h, 0, sizeof *h);
    int have = 0;
    for (const char *line = text; line && *line;) {
        if (sscanf(line, "host %255s", h->host) == 1)
            have |= 1;
        else if (sscanf(line, "pid_start %llu", &h->start_ticks) == 1)
            have |= 2;
        else if (sscanf(line, "pid %ld", &h->pid) == 1)
            have |= 4;
        else if (sscanf(line, "job %63s", h->job) == 1)
            have |= 8;
        else if (sscanf(line, "started %31s", h->started) == 1)
            have |= 16;
        const char *end = strchr(line, '\n');
        line = end ? end + 1 : NULL;
    }
    return have == 31 && h->pid > 0 ? 0 : -1;
}

int dir_lock_holder_alive(const dir_lock_holder *h)
{
    if (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH)
        return 0;
    /* A PID in use: the holder's, unless it started at another time or has
     * ended and waits to be reaped (a zombie: an aborted rank whose mpirun
     * has just exited). */
    char state;
    const unsigned long long now = proc_stat(h->pid, &state);
    if (state == 'Z' || state == 'X')
        return 0;
    return !(h->start_ticks && now && now != h->start_ticks);
}

int dir_lock_judge(const dir_lock_holder *h, const dir_lock_holder *me, int alive,
                   int break_lock, char *why, size_t len)
{
    if (strcmp(h->host, me->host) == 0) {
        if (h->pid == me->pid && h->start_ticks == me->start_ticks)
            return snprintf(why, len, "it was this process's"), 1;
        if (!alive)
            return snprintf(why, len, "its process %ld on %s is gone", h->pid, h->host), 1;
        return 0;
    }
    if (strcmp(h->job, "-") != 0 && strcmp(h->job, me->job) == 0)
        return snprintf(why, len, "it was held by an earlier run of this SLURM job %s", h->job), 1;
    if (break_lock)
        return snprintf(why, len, "--break-lock"), 1;
    return 0;
}

/* <dir>/<name> in a new string (NULL: out of memory). */
static char *join(const char *dir, const char *name)
{
    const size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Writes me's lock text into a new file made from the template `path`
 * (mkstemp: its XXXXXX replaced, created O_EXCL with an unpredictable name,
 * so never through a link planted in the directory). */
static int write_holder(char *path, const dir_lock_holder *me, ebm_err *err)
{
    char text[1024];
    dir_lock_format(me, text, sizeof text);
    const int fd = mkstemp(path);
    if (fd < 0)
        return ebm_fail(err, "cannot create '%s': %s", path, strerror(errno));
    (void)fchmod(fd, 0644); /* readable by whoever checks who holds --out */
    const size_t n = strlen(text);
    const int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    const int saved = errno;
    close(fd);
    if (!ok)
        return ebm_fail(err, "cannot write '%s': %s", path, strerror(saved));
    return 0;
}

/* Reads the lock at `path` into h: 1 read, 0 absent, -1 unreadable or not a
 * lock (its text in buf for the message). */
static int read_holder(const char *path, dir_lock_holder *h, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    const size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return dir_lock_parse(buf, h) == 0 ? 1 : -1;
}

int dir_lock_take(const char *dir, const dir_lock_holder *me, int break_lock, char *note,
                  size_t len, ebm_err *err)
{
    note[0] = '\0';
    char *lock = join(dir, DIR_LOCK_NAME);
    char tmp_name[512];
    snprintf(tmp_name, sizeof tmp_name, ".%s.%s.%ld.XXXXXX", DIR_LOCK_NAME, me->host, me->pid);
    char *tmp = join(dir, tmp_name);
    if (!lock || !tmp) {
        free(lock), free(tmp);
        return ebm_fail(err, "out of memory taking the lock of '%s'", dir);
    }
    int rc = write_holder(tmp, me, err);
    if (rc != 0) {
        free(lock), free(tmp);
        return ebm_trace(err);
    }
    /* A few rounds: a lock can vanish (its run ended) between a failed link
     * and the read. */
    int linked = 0;
    for (int round = 0; rc == 0 && !linked && round < 5; round++) {
        if (link(tmp, lock) == 0) {
            linked = 1;
            break;
        }
        if (errno != EEXIST) {
            rc = ebm_fail(err, "cannot create the lock '%s': %s", lock, strerror(errno));
            break;
        }
        dir_lock_holder h;
        char text[1024], why[320];
        const int got = read_holder(lock, &h, text, sizeof text);
        if (got == 0)
            continue;
        if (got < 0) {
            rc = ebm_fail(err,
                          "--out '%s' has a lock file '%s' that is not ebm_mpi's or is damaged: "
                          "remove it if no run uses this directory",
                          dir, lock);
            break;
        }
        const int same_host = strcmp(h.host, me->host) == 0;
        if (!dir_lock_judge(&h, me, same_host ? dir_lock_holder_alive(&h) : 1, break_lock, why,
                            sizeof why)) {
            rc = ebm_fail(err,
                          "--out '%s' is in use by another run: host %s, pid %ld, SLURM job %s, "
                          "started %s (lock '%s'). Wait for it to end or use another --out;%s",
                          dir, h.host, h.pid, h.job, h.started, lock,
                          same_host ? " if that process is not an ebm_mpi run, remove the lock"
                                    : " if that run is gone (its node lost), pass --break-lock");
            break;
        }
        /* Taken over: our complete file replaces it in one step; a rival
         * doing the same at once is caught by reading back. */
        if (rename(tmp, lock) != 0) {
            rc = ebm_fail(err, "cannot take over the lock '%s': %s", lock, strerror(errno));
            break;
        }
        dir_lock_holder back;
        if (read_holder(lock, &back, text, sizeof text) != 1 || back.pid != me->pid ||
            strcmp(back.host, me->host) != 0) {
            rc = ebm_fail(err, "--out '%s': another run took the lock '%s' at the same time",
                          dir, lock);
            break;
        }
        snprintf(note, len, "  took over the lock of the run on %s (pid %ld, job %s, started %s): %s",
                 h.host, h.pid, h.job, h.started, why);
        free(lock), free(tmp);
        return 0;
    }
    if (rc == 0 && !linked)
        rc = ebm_fail(err, "--out '%s': the lock '%s' keeps changing hands", dir, lock);
    unlink(tmp);
    free(lock), free(tmp);
    return ebm_pass(err, rc);
}

void dir_lock_release(const char *dir, const dir_lock_holder *me)
{
    char *lock = join(dir, DIR_LOCK_NAME);
    if (!lock)
        return;
    dir_lock_holder h;
    char text[1024];
    if (read_holder(lock, &h, text, sizeof text) == 1 && h.pid == me->pid &&
        strcmp(h.host, me->host) == 0)
        unlink(lock);
    free(lock);
}
