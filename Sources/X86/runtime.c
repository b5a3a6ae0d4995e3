// What a freestanding Embedded Swift program must supply itself: memory
// and string primitives, the allocator behind the Swift runtime, and
// putchar for the runtime's fatal-error text. Compiled only in the
// embedded build (-ffreestanding makes __STDC_HOSTED__ 0); the hosted build
// keeps libc's.
#include "X86.h"
#include <stddef.h>

// NMIs taken in VMX root operation (entry.S, stub_2), not yet given to a
// guest (X86.h, x86_take_root_nmis). Defined in both builds: the inline
// reader in X86.h refers to it.
uint64_t x86_root_nmi_count;

#if !__STDC_HOSTED__

extern char __image_start[], __data_start[], __image_end[], __stack_bottom[], __stack_top[];
uint64_t x86_image_start(void) { return (uint64_t)__image_start; }
uint64_t x86_data_start(void) { return (uint64_t)__data_start; }
uint64_t x86_image_end(void) { return (uint64_t)__image_end; }
uint64_t x86_stack_bottom(void) { return (uint64_t)__stack_bottom; }
uint64_t x86_stack_top(void) { return (uint64_t)__stack_top; }

void *memset(void *dst, int c, size_t n) {
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) :: "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    while (n--) d[n] = s[n];
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) return x[i] - y[i];
    }
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// --- The early heap ---------------------------------------------------------
// A bump allocator over a fixed block in .bss. The Swift runtime allocates
// for strings and arrays while the hypervisor boots; nothing on the VM-exit
// path allocates. free() does not return memory: a boot allocates a bounded
// amount, and x86_heap_used() lets the hypervisor report it.

enum { HEAP_SIZE = 1 << 20 };
static uint8_t heap[HEAP_SIZE] __attribute__((aligned(4096)));
static size_t heap_used;

uint64_t x86_heap_used(void) { return heap_used; }

uint64_t x86_heap_size(void) { return HEAP_SIZE; }

extern void hv_heap_exhausted(size_t request) __attribute__((noreturn));

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < 16) alignment = 16;
    size_t start = (heap_used + alignment - 1) & ~(alignment - 1);
    if (start + size > HEAP_SIZE || start + size < start) hv_heap_exhausted(size);
    heap_used = start + size;
    *out = &heap[start];
    return 0;
}

void free(void *p) { (void)p; }

// --- COM1 for the runtime's own messages -----------------------------------

enum { COM1 = 0x3F8, LSR = 5, LSR_THR_EMPTY = 0x20 };

void x86_serial_putc(uint8_t byte) {
    for (unsigned spin = 0; spin < 100000 && !(x86_inb(COM1 + LSR) & LSR_THR_EMPTY); spin++) x86_pause();
    x86_outb(COM1, byte);
}

int putchar(int c) {
    if (c == '\n') x86_serial_putc('\r');
    x86_serial_putc((uint8_t)c);
    return c;
}

#else
uint64_t x86_image_start(void) { return 0; }
uint64_t x86_data_start(void) { return 0; }
uint64_t x86_image_end(void) { return 0; }
uint64_t x86_stack_bottom(void) { return 0; }
uint64_t x86_stack_top(void) { return 0; }
uint64_t x86_heap_used(void) { return 0; }
void x86_unblock_nmis(void) {}
uint64_t x86_heap_size(void) { return 0; }
void x86_serial_putc(uint8_t byte) { (void)byte; }
#endif
