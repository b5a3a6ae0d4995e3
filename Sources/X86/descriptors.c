// pxHV's own GDT, TSS and IDT. Stage 2's GDT lives in memory the guest
// will own, and a host without an IDT triple-faults on its first fault;
// these tables make every CPU exception a readable panic report instead.
//
// Intel SDM Vol. 3A, "Task Management in 64-bit Mode" (TSS layout, IST) and
// "Interrupt and Exception Handling in 64-bit Mode" (gate layout).
#include "X86.h"

#if !__STDC_HOSTED__

enum {
    SELECTOR_CODE = 0x08,
    SELECTOR_DATA = 0x10,
    SELECTOR_TSS = 0x18,
    IST_STACK_SIZE = 16384,
    EXCEPTION_VECTORS = 32,
};

// IST slots (1-based in the gate's IST field).
enum { IST_DOUBLE_FAULT = 1, IST_NMI = 2, IST_MACHINE_CHECK = 3, IST_PAGE_FAULT = 4, IST_COUNT = 4 };

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

struct __attribute__((packed)) gate64 {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
_Static_assert(sizeof(struct gate64) == 16, "64-bit IDT gate is 16 bytes");

struct __attribute__((packed)) table_register {
    uint16_t limit;
    uint64_t base;
};

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct gate64 idt[EXCEPTION_VECTORS] __attribute__((aligned(16)));
static uint8_t ist_stacks[IST_COUNT][IST_STACK_SIZE] __attribute__((aligned(16)));

extern void (*const x86_exception_stubs[EXCEPTION_VECTORS])(void);

static uint8_t ist_for_vector(unsigned vector) {
    switch (vector) {
    case 2: return IST_NMI;
    case 8: return IST_DOUBLE_FAULT;
    case 14: return IST_PAGE_FAULT;
    case 18: return IST_MACHINE_CHECK;
    default: return 0;
    }
}

void x86_install_descriptor_tables(void) {
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFull;  // 64-bit code, DPL 0, present
    gdt[2] = 0x00CF92000000FFFFull;  // data, writable, present
    uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
    gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40)  // available 64-bit TSS
             | (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[4] = base >> 32;

    for (unsigned i = 0; i < IST_COUNT; i++) {
        tss.ist[i] = (uint64_t)&ist_stacks[i][IST_STACK_SIZE];
    }
    tss.iomap_base = sizeof(tss);  // no I/O permission bitmap

    for (unsigned v = 0; v < EXCEPTION_VECTORS; v++) {
        uint64_t handler = (uint64_t)x86_exception_stubs[v];
        idt[v] = (struct gate64){
            .offset_low = handler & 0xFFFF,
            .selector = SELECTOR_CODE,
            .ist = ist_for_vector(v),
            .type_attributes = 0x8E,  // present, DPL 0, 64-bit interrupt gate
            .offset_mid = (handler >> 16) & 0xFFFF,
            .offset_high = handler >> 32,
        };
    }

    struct table_register gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};
    struct table_register idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile(
        "lgdt %0\n\t"
        "lidt %1\n\t"
        "mov %2, %%ds\n\t"
        "mov %2, %%es\n\t"
        "mov %2, %%ss\n\t"
        "xor %%eax, %%eax\n\t"
        "mov %%ax, %%fs\n\t"
        "mov %%ax, %%gs\n\t"
        "pushq %3\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "ltr %w4\n\t"
        :: "m"(gdtr), "m"(idtr), "r"((uint64_t)SELECTOR_DATA), "i"(SELECTOR_CODE), "r"((uint64_t)SELECTOR_TSS)
        : "rax", "memory");
}

uint64_t x86_tss_base(void) { return (uint64_t)&tss; }

#else
void x86_install_descriptor_tables(void) {}
uint64_t x86_tss_base(void) { return 0; }
#endif
