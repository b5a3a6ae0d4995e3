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

// --- The AMD-V park guest (ap_trampoline.S), in the trampoline page ------
#define SVM_PARK_OFFSET          0x800  // the code's offset in the page
#define SVM_PARK_HALT            0      // entry: HLT until an NMI, then report
#define SVM_PARK_REPORT          1      // entry: report (VMMCALL) at once
#define SVM_PARK_NMI             0x10   // vector 2's handler
#define SVM_PARK_FAULT           0x30   // vectors 0 and 1: UD2
#define SVM_PARK_IVT             0x100  // the IVT (vectors 0-2), after the code

// --- The per-CPU state block ------------------------------------------------
// One per CPU: an AP's is a page in the hypervisor's pool, the BSP's is
// `x86_bsp_state` in .bss (only its fields; its GDT, TSS and IDT are
// descriptors.c's). IA32_GS_BASE points at it on its CPU (and the VMCS
// host GS base, so every VM exit restores it): the NMI handlers and the
// exit path reach their own CPU's block with no register.
#define AP_STATE_PHASE           0
#define AP_STATE_NMI_COUNT       8
#define AP_STATE_VMCS_POINTER    16
#define AP_STATE_ROOT_NMIS       80
#define AP_STATE_REQUEST         88
#define AP_STATE_STOP_REQUEST    96
#define AP_STATE_KICKS           112
#define AP_STATE_STARTUP_MAILBOX 120
#define AP_STATE_SIZE            4096

#ifndef __ASSEMBLER__
#include <stdint.h>

// The fields Swift and the NMI handler use; the AP's GDT (at 128), TSS
// (at 192) and IDT (at 512) follow in the same page (ap.c).
typedef struct {
    uint64_t phase;            // AP_STATE_PHASE: written by the AP, read by the BSP
    uint64_t nmi_count;        // AP_STATE_NMI_COUNT: NMIs taken (in VMX root: see VMPTRST)
    union {
        uint64_t vmcs_pointer; // AP_STATE_VMCS_POINTER: VMPTRST by the NMI handler (VT-x)
        uint64_t init_exits;   // AMD-V: INIT exits of the park guest (a latched INIT)
    };
    uint64_t cpu_number;       // 1, 2, ... in MADT order (the BSP is 0)
    uint64_t apic_id;
    uint64_t vmxon_region;     // the AP's VMXON region (physical)
    uint64_t ist_top[4];       // #DF, NMI, #MC, #PF stacks (IST 1-4)
    uint64_t root_nmis;        // AP_STATE_ROOT_NMIS: NMIs taken in VMX root, owed to this CPU's guest
    uint64_t request;          // AP_STATE_REQUEST: what the BSP asks of a parked AP (Processors.Request)
    uint64_t stop_request;     // AP_STATE_STOP_REQUEST: nonzero = stop this CPU's guest (who asked, + 1)
    uint64_t vcpu_context;     // the AP's vCPU context (APGuest.Context), set by the BSP
    uint64_t kicks;            // AP_STATE_KICKS: NMIs other CPUs sent this one for a request (not the guest's)
    uint64_t startup_mailbox;  // AP_STATE_STARTUP_MAILBOX: INIT/STARTUP posted for this AP's vCPU (StartupMailbox)
} x86_ap_state;

/// The BSP's per-CPU block (cpu_number 0); IA32_GS_BASE on the BSP.
extern x86_ap_state x86_bsp_state;
/// The same, for Swift (which refuses a mutable C global).
static inline __attribute__((always_inline)) x86_ap_state *x86_boot_cpu(void) { return &x86_bsp_state; }

#define AP_STATE_GDT             128
#define AP_STATE_TSS             192
#define AP_STATE_IDT             512

_Static_assert(sizeof(x86_ap_state) <= AP_STATE_GDT, "fields before the GDT");
_Static_assert(__builtin_offsetof(x86_ap_state, nmi_count) == AP_STATE_NMI_COUNT, "NMI count offset");
_Static_assert(__builtin_offsetof(x86_ap_state, vmcs_pointer) == AP_STATE_VMCS_POINTER, "VMCS pointer offset");
_Static_assert(__builtin_offsetof(x86_ap_state, root_nmis) == AP_STATE_ROOT_NMIS, "root NMIs offset");
_Static_assert(__builtin_offsetof(x86_ap_state, request) == AP_STATE_REQUEST, "request offset");
_Static_assert(__builtin_offsetof(x86_ap_state, stop_request) == AP_STATE_STOP_REQUEST, "stop request offset");
_Static_assert(__builtin_offsetof(x86_ap_state, kicks) == AP_STATE_KICKS, "kicks offset");
_Static_assert(__builtin_offsetof(x86_ap_state, startup_mailbox) == AP_STATE_STARTUP_MAILBOX, "startup mailbox offset");

/// NMIs this CPU took in VMX root operation (entry.S stub_2 on the BSP,
/// ap_nmi on an AP) since the last call; the count restarts at 0. Inline,
/// and a plain load first: the exit path calls it on every exit, and the
/// common answer (none) then costs two instructions and no locked exchange.
static inline __attribute__((always_inline)) uint64_t x86_take_root_nmis(void) {
    uint64_t n;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(n) : "i"(AP_STATE_ROOT_NMIS));
    if (n == 0) return 0;
    n = 0;
    __asm__ volatile("xchgq %0, %%gs:%c1" : "+r"(n) : "i"(AP_STATE_ROOT_NMIS) : "memory");
    return n;
}

/// True while NMIs taken in VMX root operation wait for `x86_take_root_nmis`
/// (one load: the fast exit path's check before it resumes the guest).
static inline __attribute__((always_inline)) _Bool x86_root_nmis_pending(void) {
    uint64_t n;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(n) : "i"(AP_STATE_ROOT_NMIS));
    return n != 0;
}

/// This CPU's stop request (0: none; else the CPU that asked, + 1).
static inline __attribute__((always_inline)) uint64_t x86_stop_request(void) {
    uint64_t n;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(n) : "i"(AP_STATE_STOP_REQUEST) : "memory");
    return n;
}

/// Of `arrived` NMIs this CPU took, how many were kicks (another CPU's
/// request, counted in `kicks` before its NMI was sent): those are taken
/// off `kicks` and are not the guest's. A compare-and-exchange loop, since
/// senders add to `kicks` at any time.
static inline __attribute__((always_inline)) uint64_t x86_consume_kicks(uint64_t arrived) {
    uint64_t kicks;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(kicks) : "i"(AP_STATE_KICKS) : "memory");
    while (kicks != 0) {
        uint64_t taken = kicks < arrived ? kicks : arrived;
        uint64_t expected = kicks;
        uint64_t desired = kicks - taken;
        __asm__ volatile("lock cmpxchgq %1, %%gs:%c2"
                         : "+a"(expected) : "r"(desired), "i"(AP_STATE_KICKS) : "memory", "cc");
        if (expected == kicks) return taken;
        kicks = expected;
    }
    return 0;
}

/// This CPU's startup mailbox word (StartupMailbox), as it is now.
static inline __attribute__((always_inline)) uint64_t x86_startup_mailbox(void) {
    uint64_t n;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(n) : "i"(AP_STATE_STARTUP_MAILBOX) : "memory");
    return n;
}

/// On an AP in VMX root: halts with interrupts off until an NMI, unless one
/// arrived since `x86_take_root_nmis` last took them. An NMI that lands
/// between that check and the HLT makes the handler skip the HLT
/// (ap_trampoline.S), so no kick is ever slept through.
void x86_ap_halt_unless_nmi(void);

/// An atomic add; the value before.
static inline __attribute__((always_inline)) uint64_t x86_fetch_add64(uint64_t *p, uint64_t v) {
    return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
}

/// This CPU's per-CPU block (IA32_GS_BASE).
static inline __attribute__((always_inline)) x86_ap_state *x86_this_cpu(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000101u));
    return (x86_ap_state *)(((uint64_t)hi << 32) | lo);
}

/// The trampoline's bytes in the image (copied to the page below 1 MiB).
uint64_t x86_ap_trampoline_address(void);
uint64_t x86_ap_trampoline_size(void);
/// The AMD-V park guest's code (SVM_PARK_*), to copy to SVM_PARK_OFFSET.
uint64_t x86_svm_park_address(void);
uint64_t x86_svm_park_size(void);
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
/// An atomic compare-and-exchange (the console lock): true if `*p` was
/// `expected` and is now `desired`.
static inline __attribute__((always_inline)) _Bool x86_compare_exchange64(uint64_t *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
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
