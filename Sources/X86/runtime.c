// What a freestanding Embedded Swift program must supply itself: memory
// and string primitives, the allocator behind the Swift runtime, and
// putchar for the runtime's fatal-error text. Compiled only in the
// embedded build (-ffreestanding makes __STDC_HOSTED__ 0); the hosted build
// keeps libc's.
#include "X86.h"
#include <stddef.h>

#if !__STDC_HOSTED__

extern char __image_start[], __data_start[], __image_end[], __stack_guard[], __stack_bottom[], __stack_top[];
uint64_t x86_image_start(void) { return (uint64_t)__image_start; }
uint64_t x86_stack_guard(void) { return (uint64_t)__stack_guard; }
uint64_t x86_data_start(void) { return (uint64_t)__data_start; }
uint64_t x86_image_end(void) { return (uint64_t)__image_end; }
uint64_t x86_stack_bottom(void) { return (uint64_t)__stack_bottom; }
uint64_t x86_stack_top(void) { return (uint64_t)__stack_top; }

// memset and memcpy move eight bytes per string iteration and the last
// 0-7 one by one: on real CPUs `rep movsb` is as fast (ERMS), but under
// Bochs every iteration of a `rep` string instruction costs a TSC tick, so
// a bulk copy or clear costs an eighth of the byte-wise one there.
void *memset(void *dst, int c, size_t n) {
    void *d = dst;
    size_t quads = n >> 3, rest = n & 7;
    uint64_t pattern = 0x0101010101010101ull * (uint8_t)c;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(rest) : "a"(pattern) : "memory");
    return dst;
}

// Forward: also what memmove uses when the destination is below the source.
void *memcpy(void *dst, const void *src, size_t n) {
    void *d = dst;
    size_t quads = n >> 3, rest = n & 7;
    __asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(quads) :: "memory");
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(rest) :: "memory");
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

// --- COM1 (and COM2) for the runtime's own messages ------------------------

enum { COM1 = 0x3F8, COM2 = 0x2F8, LSR = 5, LSR_THR_EMPTY = 0x20 };

static void x86_serial_putc_port(uint16_t port, uint8_t byte) {
    for (unsigned spin = 0; spin < 100000 && !(x86_inb(port + LSR) & LSR_THR_EMPTY); spin++) x86_pause();
    x86_outb(port, byte);
}

void x86_serial_putc(uint8_t byte) { x86_serial_putc_port(COM1, byte); }

int putchar(int c) {
    if (c == '\n') x86_serial_putc('\r');
    x86_serial_putc((uint8_t)c);
    return c;
}

// --- The heap -----------------------------------------------------------------
// The Swift runtime allocates for strings and arrays (posix_memalign) and
// frees them again (free). Page tables, VMCSs, EPT and the other CPUs'
// stacks come from the page pool (HostMemoryPlan), never from here; the
// VM-exit path does not allocate, but some rarer exits print a line, and
// every formatted line is a String that lives briefly.
//
// So free() must give memory back, or the heap would fill with dead
// strings at a rate a guest can drive (a bump allocator with a no-op free,
// as before, let the hostile suite's printing alone exhaust 48 KiB). Blocks
// come in size classes of 16 << k bytes (k < HEAP_CLASSES): a freed block
// goes onto its class's list and the next request of that class takes it
// back. Larger blocks (never seen) are taken from the bump region for good.
// Each block has a 16-byte header before it: its class and a check word.
//
// HEAP_SIZE is sized from the `pxhv: heap:` line at power-off, which gives
// the bump region's extent (the memory ever used), the peak of live bytes
// and the total ever allocated. Measured under Bochs once diagnostics no
// longer build Strings (issue 8): test guests 9,072 used (8,864 live at
// most, 9,056 allocated in all), hostile suite with 2 CPUs 9,920 (9,056;
// 43,872), Linux 9,200 (8,992; 9,184); 8 KiB of each is the CRC-32 tables
// (Loader/CRC32.swift). 20 KiB is twice the most used. (With String
// diagnostics the same runs used 16.1-16.4 KB.)
//
// Exhaustion stays loud: the first failed request opens HEAP_PANIC_RESERVE
// for hv_heap_exhausted's report (Swift strings allocate); if even that
// runs out, a fixed message goes out from here and the CPU halts.
enum {
    HEAP_SIZE = 20 << 10,
    HEAP_PANIC_RESERVE = 2048,
    HEAP_HEADER = 16,
    HEAP_CLASSES = 10,          // 16 B ... 8 KiB
    HEAP_LARGE = HEAP_CLASSES,  // a block that is never reused
    HEAP_CHECK = 0x50584850,    // "PHXP": the header of a live heap block
};
struct heap_header {
    uint32_t size_class;
    uint32_t check;
    uint64_t size;              // bytes after the header
};
_Static_assert(sizeof(struct heap_header) == HEAP_HEADER, "the header keeps blocks 16-byte aligned");

static uint8_t heap[HEAP_SIZE + HEAP_PANIC_RESERVE] __attribute__((aligned(16)));
static size_t heap_used;                // the bump region: [0, heap_used)
static size_t heap_limit = HEAP_SIZE;
static void *heap_free[HEAP_CLASSES];   // per class, linked through the blocks' first word
static uint64_t heap_live, heap_peak, heap_total;

uint64_t x86_heap_used(void) { return heap_used; }
uint64_t x86_heap_size(void) { return HEAP_SIZE; }
uint64_t x86_heap_peak_live(void) { return heap_peak; }
uint64_t x86_heap_total_allocated(void) { return heap_total; }

extern void hv_heap_exhausted(size_t request) __attribute__((noreturn));
static void heap_report_failed(void) __attribute__((noreturn));

static unsigned heap_class(size_t size) {
    unsigned k = 0;
    while (k < HEAP_CLASSES && ((size_t)16 << k) < size) k++;
    return k;
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < 16) alignment = 16;
    unsigned k = heap_class(size);
    size_t block = k < HEAP_CLASSES ? (size_t)16 << k : size;
    void *reused = (k < HEAP_CLASSES) ? heap_free[k] : 0;
    if (reused && ((uintptr_t)reused & (alignment - 1)) == 0) {
        heap_free[k] = *(void **)reused;
    } else {
        // A new block from the bump region, aligned as an address (the
        // array itself is only 16-byte aligned), with its header before it.
        uintptr_t base = (uintptr_t)heap;
        size_t start = ((base + heap_used + HEAP_HEADER + alignment - 1) & ~(uintptr_t)(alignment - 1)) - base;
        if (start + block > heap_limit || start + block < start) {
            if (heap_limit != HEAP_SIZE) heap_report_failed();
            heap_limit = HEAP_SIZE + HEAP_PANIC_RESERVE;
            hv_heap_exhausted(size);
        }
        heap_used = start + block;
        reused = &heap[start];
        struct heap_header *header = (struct heap_header *)reused - 1;
        *header = (struct heap_header){.size_class = k, .check = HEAP_CHECK, .size = block};
    }
    heap_live += block;
    heap_total += block;
    if (heap_live > heap_peak) heap_peak = heap_live;
    *out = reused;
    return 0;
}

void free(void *p) {
    if (!p) return;
    struct heap_header *header = (struct heap_header *)p - 1;
    // Not a block of ours (or a corrupted header): keep it, do not guess.
    if ((uint8_t *)p < heap || (uint8_t *)p >= heap + sizeof heap || header->check != HEAP_CHECK) return;
    heap_live -= header->size;
    if (header->size_class >= HEAP_CLASSES) return;
    *(void **)p = heap_free[header->size_class];
    heap_free[header->size_class] = p;
}

// The reserve did not suffice for hv_heap_exhausted's report: a fixed line
// on COM1 and on the verdict channel (COM2), then halt.
static void heap_report_failed(void) {
    static const char line[] = "pxhv: error: panic: early heap exhausted (the report did not fit either)\r\npxhv: halted\r\n";
    for (const char *c = line; *c; c++) {
        x86_serial_putc((uint8_t)*c);
        x86_serial_putc_port(COM2, (uint8_t)*c);
    }
    x86_halt_forever();
}

#else
uint64_t x86_image_start(void) { return 0; }
uint64_t x86_data_start(void) { return 0; }
uint64_t x86_image_end(void) { return 0; }
uint64_t x86_stack_guard(void) { return 0; }
uint64_t x86_stack_bottom(void) { return 0; }
uint64_t x86_stack_top(void) { return 0; }
uint64_t x86_heap_used(void) { return 0; }
void x86_unblock_nmis(void) {}
uint64_t x86_heap_size(void) { return 0; }
uint64_t x86_heap_peak_live(void) { return 0; }
uint64_t x86_heap_total_allocated(void) { return 0; }
void x86_serial_putc(uint8_t byte) { (void)byte; }
#endif
