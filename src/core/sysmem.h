/* sysmem.h: how much memory this process may still use: the host's
 * available memory (MemAvailable of /proc/meminfo) shared by the ranks on
 * the host, and the process's own address-space limit (RLIMIT_AS, e.g.
 * `prlimit --as` or a batch system's limit) minus what it maps already. */
#ifndef EBM_SYSMEM_H
#define EBM_SYSMEM_H

#include <stdint.h>

/* Bytes this rank may allocate, with `ranks_on_host` ranks sharing the
 * host's memory; UINT64_MAX when nothing limits it (no /proc). `source`
 * gets which limit decided ("the host's available memory" or "the
 * address-space limit"). */
uint64_t sysmem_available(int ranks_on_host, const char **source);

/* A human-readable size: "3.2 GiB", "512 MiB". */
void sysmem_format(uint64_t bytes, char *buf, int len);

#endif
