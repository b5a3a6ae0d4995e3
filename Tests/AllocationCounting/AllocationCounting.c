// Counts heap allocations per thread, for tests that prove code does not
// allocate. Linked into the test executable, these definitions of malloc
// and its siblings take the place of glibc's for the whole test process
// (the executable's symbols come first in the dynamic linker's lookup, the
// standard way to replace malloc: glibc manual, "Replacing malloc"); each
// counts the call in a thread-local counter and forwards to glibc's own
// implementation (the __libc_* entry points), so the heap itself is the
// same as without them.
//
// Why not glibc's mallinfo2() before and after, as these tests did: it
// reports bytes in use, which a transient allocation (a String built and
// dropped on every call) leaves unchanged, and it counts every thread of
// the process, so the tests had to run alone. A per-thread count sees
// every allocation of the code under test and nothing of the other tests
// running in parallel.
#include "AllocationCounting.h"

#if defined(__linux__) && defined(__GLIBC__)
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
extern void __libc_free(void *pointer);

// Initial-exec TLS in the executable: no allocation, no lock on access.
static __thread int64_t allocations;

int64_t pxhv_allocations_on_this_thread(void) { return allocations; }

void *malloc(size_t size) {
    allocations++;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    allocations++;
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    if (size != 0) allocations++;
    return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
    allocations++;
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    allocations++;
    return __libc_memalign(alignment, size);
}

void *valloc(size_t size) {
    allocations++;
    return __libc_valloc(size);
}

void *pvalloc(size_t size) {
    allocations++;
    return __libc_pvalloc(size);
}

// As glibc's: EINVAL unless the alignment is a power of two and a multiple
// of sizeof(void *); ENOMEM if memalign fails.
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    allocations++;
    void *block = __libc_memalign(alignment, size);
    if (!block) return ENOMEM;
    *out = block;
    return 0;
}

#else
int64_t pxhv_allocations_on_this_thread(void) { return -1; }
#endif
