/* sysmem.c: the memory limits of sysmem.h, read from /proc and getrlimit. */
#define _POSIX_C_SOURCE 200809L
#include "core/sysmem.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The value in kB of `key` ("MemAvailable:") in a /proc file; 0 if absent. */
static uint64_t proc_kb(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    const size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) {
            sscanf(line + n, "%llu", &kb);
            break;
        }
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t sysmem_available(int ranks_on_host, const char **source)
{
    uint64_t avail = UINT64_MAX;
    *source = "nothing";
    const uint64_t host = proc_kb("/proc/meminfo", "MemAvailable:");
    if (host > 0) {
        avail = host / (uint64_t)(ranks_on_host > 0 ? ranks_on_host : 1);
        *source = "the host's available memory";
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        const uint64_t mapped = proc_kb("/proc/self/status", "VmSize:");
        const uint64_t left = rl.rlim_cur > mapped ? rl.rlim_cur - mapped : 0;
        if (left < avail) {
            avail = left;
            *source = "the address-space limit";
        }
    }
    return avail;
}

void sysmem_format(uint64_t bytes, char *buf, int len)
{
    const double gib = (double)bytes / (1024.0 * 1024.0 * 1024.0);
    if (gib >= 1.0)
        snprintf(buf, (size_t)len, "%.1f GiB", gib);
    else
        snprintf(buf, (size_t)len, "%.0f MiB", (double)bytes / (1024.0 * 1024.0));
}
