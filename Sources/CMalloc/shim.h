#ifndef TIMEKEEPER_CMALLOC_SHIM_H
#define TIMEKEEPER_CMALLOC_SHIM_H

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

/// Returns memory glibc's allocator holds free to the system (`malloc_trim`); does nothing elsewhere.
static inline void timekeeper_give_back_freed_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

#endif
