// Per-AP descriptor tables, built in the AP's state page (X86AP.h) with the
// same selectors as the BSP's (descriptors.c): 0x08 code, 0x10 data,
// 0x18 TSS, so that a later per-CPU VMCS has the same host selectors.
//
// Intel SDM Vol. 3A, "Task Management in 64-bit Mode" (TSS layout, IST) and
// "Interrupt and Exception Handling in 64-bit Mode" (gate layout).
#include "X86.h"

#if !__STDC_HOSTED__

extern char x86_ap_trampoline_begin[], x86_ap_trampoline_end[];
extern void x86_ap_entry64(void);
extern void (*const x86_ap_exception_stubs[32])(void);

uint64_t x86_ap_trampoline_address(void) { return (uint64_t)x86_ap_trampoline_begin; }
uint64_t x86_ap_trampoline_size(void) { return (uint64_t)(x86_ap_trampoline_end - x86_ap_trampoline_begin); }
uint64_t x86_ap_entry64_address(void) { return (uint64_t)x86_ap_entry64; }

struct __attribute__((packed)) ap_tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct ap_tss64) == 104, "64-bit TSS is 104 bytes");

struct __attribute__((packed)) ap_gate64 {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

struct __attribute__((packed)) ap_table_register {
    uint16_t limit;
    uint64_t base;
};

// IST slots as on the BSP: 1 #DF, 2 NMI, 3 #MC, 4 #PF.
static uint8_t ap_ist_for_vector(unsigned vector) {
    switch (vector) {
    case 8: return 1;
    case 2: return 2;
    case 18: return 3;
    case 14: return 4;
    default: return 0;
    }
}

void x86_ap_install_descriptor_tables(x86_ap_state *state) {
    uint8_t *page = (uint8_t *)state;
    uint64_t *gdt = (uint64_t *)(page + AP_STATE_GDT);
    struct ap_tss64 *tss = (struct ap_tss64 *)(page + AP_STATE_TSS);
    struct ap_gate64 *idt = (struct ap_gate64 *)(page + AP_STATE_IDT);
    _Static_assert(AP_STATE_GDT + 5 * 8 <= AP_STATE_TSS, "GDT fits");
    _Static_assert(AP_STATE_TSS + sizeof(struct ap_tss64) <= AP_STATE_IDT, "TSS fits");
    _Static_assert(AP_STATE_IDT + 32 * sizeof(struct ap_gate64) <= AP_STATE_SIZE, "IDT fits");
    *tss = (struct ap_tss64){0};
    tss->ist[0] = state->ist_top[0];
    tss->ist[1] = state->ist_top[1];
    tss->ist[2] = state->ist_top[2];
    tss->ist[3] = state->ist_top[3];
    tss->iomap_base = sizeof(*tss);  // no I/O permission bitmap

    uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFull;  // 64-bit code, DPL 0
    gdt[2] = 0x00CF92000000FFFFull;  // data
    gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40)  // available 64-bit TSS
                    | (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[4] = base >> 32;

    for (unsigned v = 0; v < 32; v++) {
        uint64_t handler = (uint64_t)x86_ap_exception_stubs[v];
        idt[v] = (struct ap_gate64){
            .offset_low = handler & 0xFFFF,
            .selector = 0x08,
            .ist = ap_ist_for_vector(v),
            .type_attributes = 0x8E,  // present, DPL 0, 64-bit interrupt gate
            .offset_mid = (handler >> 16) & 0xFFFF,
            .offset_high = handler >> 32,
        };
    }

    struct ap_table_register gdtr = {5 * 8 - 1, (uint64_t)gdt};
    struct ap_table_register idtr = {32 * sizeof(struct ap_gate64) - 1, (uint64_t)idt};
    __asm__ volatile(
        "lgdt %0\n\t"
        "lidt %1\n\t"
        "mov %2, %%ds\n\t"
        "mov %2, %%es\n\t"
        "mov %2, %%ss\n\t"
        "xor %%eax, %%eax\n\t"
        "mov %%ax, %%fs\n\t"
        "mov %%ax, %%gs\n\t"
        "pushq $0x08\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "ltr %w3\n\t"
        :: "m"(gdtr), "m"(idtr), "r"((uint64_t)0x10), "r"((uint64_t)0x18)
        : "rax", "memory");
    // After the GS load (which zeroes the base): IA32_GS_BASE = the state block.
    x86_wrmsr(0xC0000101, (uint64_t)state);
}

#else
uint64_t x86_ap_trampoline_address(void) { return 0; }
uint64_t x86_ap_trampoline_size(void) { return 0; }
uint64_t x86_ap_entry64_address(void) { return 0; }
void x86_ap_install_descriptor_tables(x86_ap_state *state) { (void)state; }
#endif
