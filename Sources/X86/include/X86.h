// The one seam to the hardware: every privileged instruction pxHV executes
// is a static inline function here (always_inline, or -Osize leaves calls).
// Only the bare-metal build runs them; the hosted build compiles them so
// that Sources/Hypervisor type-checks everywhere.
//
// VMX instructions report success and failure in RFLAGS (Intel SDM Vol. 3C,
// "Conventions" in "VMX Instruction Reference"): CF=1 is VMfailInvalid,
// ZF=1 is VMfailValid (error number in the VM-instruction error field).
// The wrappers return RFLAGS so that Swift decodes it in one place.
#pragma once
#include <stdint.h>

#define X86_INLINE static inline __attribute__((always_inline))

typedef struct {
    uint32_t eax, ebx, ecx, edx;
} x86_cpuid_result;

X86_INLINE x86_cpuid_result x86_cpuid(uint32_t leaf, uint32_t subleaf) {
    x86_cpuid_result r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

X86_INLINE uint64_t x86_rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

X86_INLINE void x86_wrmsr(uint32_t msr, uint64_t value) {
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

X86_INLINE uint64_t x86_read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
X86_INLINE uint64_t x86_read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
X86_INLINE uint64_t x86_read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
X86_INLINE uint64_t x86_read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
X86_INLINE void x86_write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
X86_INLINE void x86_write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
X86_INLINE void x86_write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }

X86_INLINE uint64_t x86_read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }

X86_INLINE void x86_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
X86_INLINE void x86_outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
X86_INLINE void x86_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
X86_INLINE uint8_t x86_inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
X86_INLINE uint16_t x86_inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
X86_INLINE uint32_t x86_inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

X86_INLINE void x86_cli(void) { __asm__ volatile("cli" ::: "memory"); }
X86_INLINE void x86_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
X86_INLINE void x86_pause(void) { __asm__ volatile("pause"); }

X86_INLINE uint64_t x86_rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/// Stops this CPU for good: interrupts off, HLT in a loop (an NMI or SMI
/// would otherwise resume after a single HLT).
__attribute__((noreturn)) X86_INLINE void x86_halt_forever(void) {
    for (;;) { __asm__ volatile("cli; hlt" ::: "memory"); }
}

// --- VMX (Intel SDM Vol. 3C, "VMX Instruction Reference") ---------------

X86_INLINE uint64_t x86_vmxon(uint64_t region_pa) {
    uint64_t flags;
    __asm__ volatile("vmxon %1; pushfq; popq %0" : "=r"(flags) : "m"(region_pa) : "cc", "memory");
    return flags;
}

X86_INLINE uint64_t x86_vmxoff(void) {
    uint64_t flags;
    __asm__ volatile("vmxoff; pushfq; popq %0" : "=r"(flags) :: "cc", "memory");
    return flags;
}

X86_INLINE uint64_t x86_vmclear(uint64_t vmcs_pa) {
    uint64_t flags;
    __asm__ volatile("vmclear %1; pushfq; popq %0" : "=r"(flags) : "m"(vmcs_pa) : "cc", "memory");
    return flags;
}

X86_INLINE uint64_t x86_vmptrld(uint64_t vmcs_pa) {
    uint64_t flags;
    __asm__ volatile("vmptrld %1; pushfq; popq %0" : "=r"(flags) : "m"(vmcs_pa) : "cc", "memory");
    return flags;
}

/// VMREAD; `*value` is valid only when the returned RFLAGS has CF=ZF=0.
X86_INLINE uint64_t x86_vmread(uint64_t field, uint64_t *value) {
    uint64_t flags, v = 0;
    __asm__ volatile("vmread %2, %1; pushfq; popq %0" : "=r"(flags), "=r"(v) : "r"(field) : "cc");
    *value = v;
    return flags;
}

X86_INLINE uint64_t x86_vmwrite(uint64_t field, uint64_t value) {
    uint64_t flags;
    __asm__ volatile("vmwrite %2, %1; pushfq; popq %0" : "=r"(flags) : "r"(field), "r"(value) : "cc", "memory");
    return flags;
}

/// VMREAD without RFLAGS (two instructions fewer than `x86_vmread`; the
/// exit path's reads): the value, or 0 if the read failed (a field this
/// CPU does not have: VMREAD then leaves the destination alone). Volatile:
/// the VMCS changes on every VM exit.
X86_INLINE uint64_t x86_vmread_field(uint64_t field) {
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "+r"(v) : "r"(field) : "cc");
    return v;
}

/// VMWRITE of a valid field of the current VMCS (cannot fail), no RFLAGS.
X86_INLINE void x86_vmwrite_field(uint64_t field, uint64_t value) {
    __asm__ volatile("vmwrite %1, %0" : : "r"(field), "r"(value) : "cc", "memory");
}

typedef struct {
    uint64_t low, high;
} x86_invalidation_descriptor;

X86_INLINE uint64_t x86_invept(uint64_t type, const x86_invalidation_descriptor *descriptor) {
    uint64_t flags;
    __asm__ volatile("invept %1, %2; pushfq; popq %0" : "=r"(flags) : "m"(*descriptor), "r"(type) : "cc", "memory");
    return flags;
}

X86_INLINE uint64_t x86_invvpid(uint64_t type, const x86_invalidation_descriptor *descriptor) {
    uint64_t flags;
    __asm__ volatile("invvpid %1, %2; pushfq; popq %0" : "=r"(flags) : "m"(*descriptor), "r"(type) : "cc", "memory");
    return flags;
}

// --- Descriptor tables and the boot hand-over (Sources/X86/*.c, *.S) -------

/// Loads pxHV's own GDT (flat 64-bit code/data + a TSS whose IST slots point
/// at dedicated stacks) and IDT (vectors 0-31 go to `hv_exception`).
void x86_install_descriptor_tables(void);

/// The register frame the exception stubs build; `hv_exception` gets it.
typedef struct {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
} x86_exception_frame;

/// Linker-script symbols: the hypervisor image and its stack.
uint64_t x86_image_start(void);
/// The end of .text and .rodata (the start of .data).
uint64_t x86_data_start(void);
uint64_t x86_image_end(void);
uint64_t x86_stack_bottom(void);
uint64_t x86_stack_top(void);
/// The page below the boot stack, left unmapped: an overflow faults there.
uint64_t x86_stack_guard(void);

/// The heap (runtime.c: the Swift runtime's posix_memalign and free):
/// bytes of it ever used (what HEAP_SIZE must hold), its size, the most
/// bytes live at once, and the bytes ever allocated (freed blocks are reused).
uint64_t x86_heap_used(void);
uint64_t x86_heap_size(void);
uint64_t x86_heap_peak_live(void);
uint64_t x86_heap_total_allocated(void);

/// Writes one byte to COM1 (polling). Used by `putchar` for the Swift
/// runtime's own fatal-error messages.
void x86_serial_putc(uint8_t byte);

// --- More privileged instructions used by the VM-exit handlers -------------

typedef struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
} x86_descriptor_table;

X86_INLINE x86_descriptor_table x86_sgdt(void) { x86_descriptor_table t; __asm__ volatile("sgdt %0" : "=m"(t)); return t; }
X86_INLINE x86_descriptor_table x86_sidt(void) { x86_descriptor_table t; __asm__ volatile("sidt %0" : "=m"(t)); return t; }
X86_INLINE uint16_t x86_str(void) { uint16_t s; __asm__ volatile("str %0" : "=r"(s)); return s; }
X86_INLINE uint16_t x86_read_cs(void) { uint16_t s; __asm__ volatile("mov %%cs, %0" : "=r"(s)); return s; }
X86_INLINE uint16_t x86_read_ss(void) { uint16_t s; __asm__ volatile("mov %%ss, %0" : "=r"(s)); return s; }
X86_INLINE uint16_t x86_read_ds(void) { uint16_t s; __asm__ volatile("mov %%ds, %0" : "=r"(s)); return s; }
X86_INLINE uint16_t x86_read_es(void) { uint16_t s; __asm__ volatile("mov %%es, %0" : "=r"(s)); return s; }
X86_INLINE uint16_t x86_read_fs(void) { uint16_t s; __asm__ volatile("mov %%fs, %0" : "=r"(s)); return s; }
X86_INLINE uint16_t x86_read_gs(void) { uint16_t s; __asm__ volatile("mov %%gs, %0" : "=r"(s)); return s; }

X86_INLINE void x86_xsetbv(uint32_t index, uint64_t value) {
    __asm__ volatile("xsetbv" :: "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}
X86_INLINE void x86_wbinvd(void) { __asm__ volatile("wbinvd" ::: "memory"); }

/// Base address of this CPU's TSS (for the VMCS host TR base): the
/// descriptor TR selects in the current GDT, decoded.
uint64_t x86_tss_base(void);

// --- Entering the guest (Sources/X86/vmx_entry.S) --------------------------

/// Loads the guest's general registers from `registers` (16 x u64 in the
/// order rax, rcx, rdx, rbx, rsp (ignored), rbp, rsi, rdi, r8..r15) and
/// enters the guest. `*host_rsp` is the HOST_RSP this VMCS holds, 0 before
/// its first entry: 0 means VMLAUNCH, anything else VMRESUME; HOST_RSP is
/// written (and `*host_rsp` updated) only when the entry's stack differs
/// from it, i.e. on the first entry (the exit loop calls from one frame).
///
/// On each VM exit the guest registers are stored back into `registers`
/// and `x86_vmx_fast_exit(registers, fast_context)` is called (defined in
/// Swift). When it returns 0 the exit was handled: the registers are
/// reloaded and the guest resumed at once, without returning. Otherwise
/// this returns what it returned: `X86_VMX_EXIT` (an exit for the caller
/// to handle) or `X86_VMX_EXIT_HANDLED` (handled; the caller has work to
/// do before the next entry). If VMLAUNCH or VMRESUME fails it returns the
/// RFLAGS the instruction left (CF = VMfailInvalid, ZF = VMfailValid) with
/// bit 62 set (`X86_VMX_ENTRY_FAILED`) and bit 63 set if it was VMLAUNCH.
uint64_t x86_vmx_enter(void *registers, uint64_t *host_rsp, void *fast_context);

/// `x86_vmx_enter`'s answers besides an entry failure.
#define X86_VMX_EXIT 1
#define X86_VMX_EXIT_HANDLED 2
/// Set in `x86_vmx_enter`'s answer when VMLAUNCH/VMRESUME failed (bits 62
/// and 63 are reserved, always 0, in RFLAGS).
#define X86_VMX_ENTRY_FAILED 0x4000000000000000ull
#define X86_VMX_ENTRY_FAILED_LAUNCH 0x8000000000000000ull

/// VMREAD of a field every VMCS has (exit reason, guest RIP, instruction
/// length, ...): one instruction fewer than `x86_vmread_field`, which
/// presets 0 for fields a CPU may lack. For the fast exit path only.
X86_INLINE uint64_t x86_vmread_existing(uint64_t field) {
    uint64_t v;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
    return v;
}

/// Executes an IRETQ to its own return: lifts the NMI blocking a VM exit
/// caused by an NMI leaves in root operation.
void x86_unblock_nmis(void);

/// The host RIP for the VMCS: where the CPU lands on every VM exit.
void x86_vmx_exit_entry(void);

/// The direct baseline: enters a Linux kernel's 64-bit entry on the bare
/// CPU (RSI = boot_params, CR3 = identity tables, GDT with __BOOT_CS 0x10
/// and __BOOT_DS 0x18). Never returns.
__attribute__((noreturn)) void x86_enter_linux64(uint64_t entry, uint64_t boot_params, uint64_t cr3,
                                                 const x86_descriptor_table *gdtr, uint64_t rsp);

// --- SVM (AMD APM Vol. 2, "Secure Virtual Machine", chapter 15 in rev. 3.42) ---

/// CLGI: clears the global interrupt flag. The host runs with GIF = 0 from
/// the first `x86_svm_run` on (a #VMEXIT clears it too): INIT, NMI, SMI and
/// external interrupts are held pending until the next VMRUN sets GIF, so
/// they reach the guest (or exit), never the host.
X86_INLINE void x86_clgi(void) { __asm__ volatile("clgi" ::: "memory"); }

/// STGI: sets the global interrupt flag (before EFER.SVME is cleared).
X86_INLINE void x86_stgi(void) { __asm__ volatile("stgi" ::: "memory"); }

/// Loads the guest's general registers from `registers` (the block
/// `x86_vmx_enter` uses: rax, rcx, rdx, rbx, rsp (ignored), rbp, rsi, rdi,
/// r8..r15; RAX and RSP live in the VMCB), saves the host's VMSAVE state
/// (FS, GS, TR, LDTR with their hidden parts, KernelGSBase, STAR, LSTAR,
/// CSTAR, SFMASK, SYSENTER_*) into the page at `host_state_pa`, loads the
/// guest's from its VMCB (VMLOAD), and executes VMRUN on `vmcb_pa`. At
/// #VMEXIT it saves the guest's VMSAVE state into the VMCB, stores the
/// registers back, reloads the host's and returns. GIF is 0 on return.
/// AMD APM Vol. 2, "VMRUN Instruction", "#VMEXIT", "VMSAVE and VMLOAD
/// Instructions".
void x86_svm_run(void *registers, uint64_t vmcb_pa, uint64_t host_state_pa);

/// Raises #UD on purpose (the panic-path test, `build-image --panic-test`).
X86_INLINE void x86_ud2(void) { __asm__ volatile("ud2"); }
#include "X86AP.h"
#include "X86BIOS.h"
