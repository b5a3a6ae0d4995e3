// Per-AP descriptor tables, built in the AP's state page (X86AP.h) with the
// same selectors as the BSP's (descriptors.c): 0x08 code, 0x10 data,
// 0x18 TSS, so that a later per-CPU VMCS has the same host selectors.
//
// Intel SDM Vol. 3A, "Task Management in 64-bit Mode" (TSS layout, IST) and
// "Interrupt and Exception Handling in 64-bit Mode" (gate layout).
#include "X86.h"
#include "descriptor_tables.h"

// The BSP's per-CPU block (X86AP.h). Defined in both builds: Swift refers
// to it.
x86_ap_state x86_bsp_state;

#if !__STDC_HOSTED__

extern char x86_ap_trampoline_begin[], x86_ap_trampoline_end[];
extern char x86_svm_park_begin[], x86_svm_park_end[];
extern void x86_ap_entry64(void);
extern void (*const x86_ap_exception_stubs[32])(void);

uint64_t x86_ap_trampoline_address(void) { return (uint64_t)x86_ap_trampoline_begin; }
uint64_t x86_ap_trampoline_size(void) { return (uint64_t)(x86_ap_trampoline_end - x86_ap_trampoline_begin); }
uint64_t x86_ap_entry64_address(void) { return (uint64_t)x86_ap_entry64; }
uint64_t x86_svm_park_address(void) { return (uint64_t)x86_svm_park_begin; }
uint64_t x86_svm_park_size(void) { return (uint64_t)(x86_svm_park_end - x86_svm_park_begin); }

// GDT, TSS and IDT in the AP's state page, built and loaded by the same
// code as the boot CPU's (descriptors.c), its own IST stacks in the TSS.
void x86_ap_install_descriptor_tables(x86_ap_state *state) {
    uint8_t *page = (uint8_t *)state;
    uint64_t *gdt = (uint64_t *)(page + AP_STATE_GDT);
    struct x86_tss64 *tss = (struct x86_tss64 *)(page + AP_STATE_TSS);
    struct x86_gate64 *idt = (struct x86_gate64 *)(page + AP_STATE_IDT);
    _Static_assert(AP_STATE_GDT + X86_GDT_ENTRIES * 8 <= AP_STATE_TSS, "GDT fits");
    _Static_assert(AP_STATE_TSS + sizeof(struct x86_tss64) <= AP_STATE_IDT, "TSS fits");
    _Static_assert(AP_STATE_IDT + X86_EXCEPTION_VECTORS * sizeof(struct x86_gate64) <= AP_STATE_SIZE, "IDT fits");
    x86_descriptor_tables_build(gdt, tss, idt, state->ist_top, x86_ap_exception_stubs);
    x86_descriptor_tables_load(gdt, idt);
    // After the GS load (which zeroes the base): IA32_GS_BASE = the state block.
    x86_wrmsr(0xC0000101, (uint64_t)state);
}

#else
uint64_t x86_ap_trampoline_address(void) { return 0; }
uint64_t x86_ap_trampoline_size(void) { return 0; }
uint64_t x86_ap_entry64_address(void) { return 0; }
uint64_t x86_svm_park_address(void) { return 0; }
uint64_t x86_svm_park_size(void) { return 0; }
void x86_ap_install_descriptor_tables(x86_ap_state *state) { (void)state; }
void x86_ap_halt_unless_nmi(void) {}
#endif
