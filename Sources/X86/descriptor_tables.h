// The layout of pxHV's GDT, TSS and IDT, shared by the boot CPU
// (descriptors.c, static tables) and every application processor (ap.c,
// tables in the AP's state page): the same selectors on every CPU, so a
// per-CPU VMCS has the same host selectors.
//
// Intel SDM Vol. 3A, "Task Management in 64-bit Mode" (TSS layout, IST) and
// "Interrupt and Exception Handling in 64-bit Mode" (gate layout).
#pragma once
#include <stdint.h>

enum {
    X86_SELECTOR_CODE = 0x08,
    X86_SELECTOR_DATA = 0x10,
    X86_SELECTOR_TSS = 0x18,
    X86_GDT_ENTRIES = 5,  // null, code, data, TSS (two slots)
    X86_EXCEPTION_VECTORS = 32,
    X86_IST_COUNT = 4,    // IST 1 #DF, 2 NMI, 3 #MC, 4 #PF
};

struct __attribute__((packed)) x86_tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct x86_tss64) == 104, "64-bit TSS is 104 bytes");

struct __attribute__((packed)) x86_gate64 {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
_Static_assert(sizeof(struct x86_gate64) == 16, "64-bit IDT gate is 16 bytes");

/// Fills `gdt` (flat 64-bit code and data, a 64-bit TSS descriptor for
/// `tss`), `tss` (the IST stack tops, no I/O bitmap) and `idt` (vector v
/// goes to `stubs[v]`; #DF, NMI, #MC and #PF on their IST stacks).
void x86_descriptor_tables_build(uint64_t gdt[X86_GDT_ENTRIES], struct x86_tss64 *tss,
                                 struct x86_gate64 idt[X86_EXCEPTION_VECTORS],
                                 const uint64_t ist_top[X86_IST_COUNT],
                                 void (*const stubs[X86_EXCEPTION_VECTORS])(void));

/// LGDT, LIDT, reloads every segment register (CS by a far return, FS and
/// GS null), LTR.
void x86_descriptor_tables_load(const uint64_t gdt[X86_GDT_ENTRIES], const struct x86_gate64 idt[X86_EXCEPTION_VECTORS]);
