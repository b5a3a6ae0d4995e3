// pxHV's own GDT, TSS and IDT. Stage 2's GDT lives in memory the guest
// will own, and a host without an IDT triple-faults on its first fault;
// these tables make every CPU exception a readable panic report instead.
//
// Intel SDM Vol. 3A, "Task Management in 64-bit Mode" (TSS layout, IST) and
// "Interrupt and Exception Handling in 64-bit Mode" (gate layout).
#include "X86.h"

#include "descriptor_tables.h"

#if !__STDC_HOSTED__

// The boot CPU's IST stacks (the APs' come from the pool, Processors.swift,
// the same size). NMI's stub needs only its 40-byte frame; #DF, #MC and #PF
// run hv_exception's panic report, which used 848 bytes of its IST stack
// when a stack overflow hit the guard page (measured with
// `build-image --stack-overflow-test`), so 8 KiB is over 9 times that.
enum { IST_STACK_SIZE = 8192 };

struct __attribute__((packed)) table_register {
    uint16_t limit;
    uint64_t base;
};

static uint64_t gdt[X86_GDT_ENTRIES] __attribute__((aligned(16)));
static struct x86_tss64 tss __attribute__((aligned(16)));
static struct x86_gate64 idt[X86_EXCEPTION_VECTORS] __attribute__((aligned(16)));
static uint8_t ist_stacks[X86_IST_COUNT][IST_STACK_SIZE] __attribute__((aligned(16)));

extern void (*const x86_exception_stubs[X86_EXCEPTION_VECTORS])(void);

// IST slot (1-based in the gate) per vector: 1 #DF, 2 NMI, 3 #MC, 4 #PF.
static uint8_t ist_for_vector(unsigned vector) {
    switch (vector) {
    case 8: return 1;
    case 2: return 2;
    case 18: return 3;
    case 14: return 4;
    default: return 0;
    }
}

void x86_descriptor_tables_build(uint64_t gdt_[X86_GDT_ENTRIES], struct x86_tss64 *tss_,
                                 struct x86_gate64 idt_[X86_EXCEPTION_VECTORS],
                                 const uint64_t ist_top[X86_IST_COUNT],
                                 void (*const stubs[X86_EXCEPTION_VECTORS])(void)) {
    *tss_ = (struct x86_tss64){0};
    for (unsigned i = 0; i < X86_IST_COUNT; i++) tss_->ist[i] = ist_top[i];
    tss_->iomap_base = sizeof(*tss_);  // no I/O permission bitmap

    uint64_t base = (uint64_t)tss_, limit = sizeof(*tss_) - 1;
    gdt_[0] = 0;
    gdt_[1] = 0x00AF9A000000FFFFull;  // 64-bit code, DPL 0, present
    gdt_[2] = 0x00CF92000000FFFFull;  // data, writable, present
    gdt_[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40)  // available 64-bit TSS
              | (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt_[4] = base >> 32;

    for (unsigned v = 0; v < X86_EXCEPTION_VECTORS; v++) {
        uint64_t handler = (uint64_t)stubs[v];
        idt_[v] = (struct x86_gate64){
            .offset_low = handler & 0xFFFF,
            .selector = X86_SELECTOR_CODE,
            .ist = ist_for_vector(v),
            .type_attributes = 0x8E,  // present, DPL 0, 64-bit interrupt gate
            .offset_mid = (handler >> 16) & 0xFFFF,
            .offset_high = handler >> 32,
        };
    }
}

void x86_descriptor_tables_load(const uint64_t gdt_[X86_GDT_ENTRIES], const struct x86_gate64 idt_[X86_EXCEPTION_VECTORS]) {
    struct table_register gdtr = {X86_GDT_ENTRIES * 8 - 1, (uint64_t)gdt_};
    struct table_register idtr = {X86_EXCEPTION_VECTORS * sizeof(struct x86_gate64) - 1, (uint64_t)idt_};
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
        :: "m"(gdtr), "m"(idtr), "r"((uint64_t)X86_SELECTOR_DATA), "i"(X86_SELECTOR_CODE), "r"((uint64_t)X86_SELECTOR_TSS)
        : "rax", "memory");
}

void x86_install_descriptor_tables(void) {
    uint64_t ist_top[X86_IST_COUNT];
    for (unsigned i = 0; i < X86_IST_COUNT; i++) ist_top[i] = (uint64_t)&ist_stacks[i][IST_STACK_SIZE];
    x86_descriptor_tables_build(gdt, &tss, idt, ist_top, x86_exception_stubs);
    x86_descriptor_tables_load(gdt, idt);
    // After the GS load (which zeroes the base): the BSP's per-CPU block.
    x86_wrmsr(0xC0000101, (uint64_t)&x86_bsp_state);
}

// The TSS descriptor TR selects, from the current GDT: a 16-byte system
// descriptor, base in bits 16-39 and 56-63 of the first quadword and 0-31
// of the second (Intel SDM Vol. 3A, "TSS Descriptor in 64-bit mode").
uint64_t x86_tss_base(void) {
    x86_descriptor_table gdtr = x86_sgdt();
    const uint64_t *entry = (const uint64_t *)(gdtr.base + (x86_str() & ~7u));
    uint64_t low = entry[0], high = entry[1];
    return ((low >> 16) & 0xFFFFFF) | (((low >> 56) & 0xFF) << 24) | ((high & 0xFFFFFFFF) << 32);
}

#else
void x86_install_descriptor_tables(void) {}
uint64_t x86_tss_base(void) { return 0; }
#endif
