// The AMD-V entry/exit path: one call of x86_svm_run is one VMRUN and its
// #VMEXIT (Sources/X86/include/X86.h). The Swift exit loop
// (Sources/Hypervisor/SVMVCPU.swift) calls it once per entry. No
// allocation, no SSE: only the general registers move.
//
// AMD APM Vol. 2, "VMRUN Instruction": VMRUN saves the host's RIP, RSP,
// RAX, RFLAGS, CR0/CR3/CR4, EFER, GDTR, IDTR and ES/CS/SS/DS in the host
// save area (VM_HSAVE_PA) and #VMEXIT restores them; the guest's RAX, RSP
// and RIP are in the VMCB, its other general registers are left in the
// registers. FS, GS, TR, LDTR (hidden parts included), KernelGSBase and the
// SYSCALL/SYSENTER MSRs are neither saved nor loaded: VMSAVE/VMLOAD move
// them ("VMSAVE and VMLOAD Instructions"). The host's TR (and so its IST
// stacks for NMI, #DF, #MC) is back before anything can fault.
#if !__STDC_HOSTED__
    .intel_syntax noprefix
    .text

#include "guest_registers.h"
    // The frame below the six callee-saved registers.
    .set F_BLOCK, 0
    .set F_VMCB, 8
    .set F_HOST, 16

// void x86_svm_run(void *registers /* rdi */, uint64_t vmcb_pa /* rsi */,
//                  uint64_t host_state_pa /* rdx */)
    .global x86_svm_run
    .type x86_svm_run, @function
x86_svm_run:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rdx
    push rsi
    push rdi
    // GIF = 0 while the host's and the guest's VMSAVE state trade places.
    clgi
    mov rax, rdx
    vmsave
    mov rax, rsi
    vmload
    LOAD_GUEST_REGISTERS
    mov rax, [rsp + F_VMCB]         // VMRUN's operand; the guest's RAX is in the VMCB
    vmrun
    // #VMEXIT: RSP, RAX (= the VMCB address) and the rest of the host
    // state are back; GIF = 0; the guest's registers but RAX and RSP are live.
    vmsave
    push rdi
    mov rdi, [rsp + 8 + F_BLOCK]
    STORE_GUEST_REGISTERS
    pop rax
    mov [rdi + R_RDI], rax
    mov rax, [rsp + F_HOST]
    vmload
    add rsp, 24
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
    .size x86_svm_run, . - x86_svm_run
#endif
