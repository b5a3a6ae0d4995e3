// Counts heap allocations per thread, for tests that prove code does not
// allocate (Tests/VMExitTests: the dispatcher and the exit statistics).
#pragma once
#include <stdint.h>

/// Calls to malloc, calloc, realloc (to a non-zero size), posix_memalign,
/// aligned_alloc, memalign, valloc and pvalloc made by the calling thread
/// since it started, or -1 where the counting allocator is not built in
/// (it is on Linux with glibc).
int64_t pxhv_allocations_on_this_thread(void);
