// Application processors (APs): the real-mode trampoline they start in, and
// the per-AP state block their descriptor tables and NMI handler use.
// Included by X86.h; the offsets are shared with ap_trampoline.S.
//
// Intel SDM Vol. 3A, "Multiple-Processor Management" ("MP Initialization
// Protocol Algorithm for MP Systems"): an AP woken by a STARTUP IPI with
// vector VV begins in real mode at CS:IP = VV00:0000, i.e. physical
// 0xVV000, which must be a 4 KiB page below 1 MiB.
#pragma once

// --- The trampoline page: parameters the BSP writes before the SIPI --------
#define AP_TRAMPOLINE_CR3        8   // u32: the BSP's CR3 (its tables are below 4 GiB)
#define AP_TRAMPOLINE_EFER       12  // u64: IA32_EFER to load (LME, NXE as on the BSP)
#define AP_TRAMPOLINE_STACK      20  // u32: the AP's stack top (below 4 GiB)
#define AP_TRAMPOLINE_STATE      24  // u32: the AP's x86_ap_state (below 4 GiB); RDI for hv_ap_main
#define AP_TRAMPOLINE_CR0        28  // u32: CR0 with PG|PE, loaded to enter long mode
#define AP_TRAMPOLINE_CR4        32  // u32: CR4 for the switch (PAE)
#define AP_TRAMPOLINE_STARTED    36  // u32: the AP writes 1 here first thing, in real mode
#define AP_TRAMPOLINE_FAR64      40  // m16:32 far pointer to x86_ap_entry64 (offset by the BSP)
#define AP_TRAMPOLINE_FAR32      48  // m16:32 far pointer to the 32-bit part (the AP fills it)
#define AP_TRAMPOLINE_GDTR       56  // u16 limit, u32 base (the AP fills the base)
#define AP_TRAMPOLINE_GDT        64  // null, 0x08 code64, 0x10 data, 0x18 code32
#define AP_TRAMPOLINE_CODE       96

// --- The per-AP state block (one page in the hypervisor's pool) ------------
// IA32_GS_BASE points at it on its AP, so the NMI handler needs no register.
#define AP_STATE_PHASE           0
#define AP_STATE_NMI_COUNT       8
#define AP_STATE_VMCS_POINTER    16
#define AP_STATE_SIZE            4096

#ifndef __ASSEMBLER__
#include <stdint.h>

// The fields Swift and the NMI handler use; the AP's GDT (at 128), TSS
// (at 192) and IDT (at 512) follow in the same page (ap.c).
typedef struct {
    uint64_t phase;            // AP_STATE_PHASE: written by the AP, read by the BSP
    uint64_t nmi_count;        // AP_STATE_NMI_COUNT: NMIs taken (in VMX root: see VMPTRST)
    uint64_t vmcs_pointer;     // AP_STATE_VMCS_POINTER: VMPTRST by the NMI handler
    uint64_t cpu_number;       // 1, 2, ... in MADT order (the BSP is 0)
    uint64_t apic_id;
    uint64_t vmxon_region;     // the AP's VMXON region (physical)
    uint64_t ist_top[4];       // #DF, NMI, #MC, #PF stacks (IST 1-4)
} x86_ap_state;

#define AP_STATE_GDT             128
#define AP_STATE_TSS             192
#define AP_STATE_IDT             512

_Static_assert(sizeof(x86_ap_state) <= AP_STATE_GDT, "fields before the GDT");
_Static_assert(__builtin_offsetof(x86_ap_state, nmi_count) == AP_STATE_NMI_COUNT, "NMI count offset");
_Static_assert(__builtin_offsetof(x86_ap_state, vmcs_pointer) == AP_STATE_VMCS_POINTER, "VMCS pointer offset");

/// The trampoline's bytes in the image (copied to the page below 1 MiB).
uint64_t x86_ap_trampoline_address(void);
uint64_t x86_ap_trampoline_size(void);
/// Where the trampoline's far jump lands in 64-bit mode (in .text).
uint64_t x86_ap_entry64_address(void);

/// On an AP: builds its GDT, TSS (IST stacks from `state->ist_top`) and IDT
/// in `state`, loads them and points IA32_GS_BASE at `state`. Vector 2
/// (NMI) counts and returns; every other exception goes to `hv_ap_exception`.
void x86_ap_install_descriptor_tables(x86_ap_state *state);

/// Loads and stores another CPU sees in order (x86 is TSO; these keep the
/// compiler from caching or reordering them).
static inline __attribute__((always_inline)) uint64_t x86_load_acquire64(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline __attribute__((always_inline)) void x86_store_release64(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline __attribute__((always_inline)) uint32_t x86_load_acquire32(const uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
/// MMIO: a 32-bit load/store the compiler neither merges nor elides.
static inline __attribute__((always_inline)) uint32_t x86_mmio_read32(uint64_t address) {
    return *(volatile uint32_t *)address;
}
static inline __attribute__((always_inline)) void x86_mmio_write32(uint64_t address, uint32_t value) {
    *(volatile uint32_t *)address = value;
}
#endif
