// The VM-entry/VM-exit path. x86_vmx_enter enters the guest; at each VM
// exit the exit stub saves the guest's registers and calls the fast exit
// handler (x86_vmx_fast_exit, Swift: Sources/Hypervisor/ExitFastPath.swift).
// When that handler has dealt with the exit it returns 0 and the stub
// reloads the registers and VMRESUMEs at once: the host's callee-saved
// registers stay pushed (once per x86_vmx_enter, not per exit) and the
// Swift exit loop is not involved. Any other answer is returned by
// x86_vmx_enter to the loop. No allocation, no SSE: guest XMM/YMM state is
// never touched by the host (DESIGN.md), so only the 16 GPRs move.
//
// Intel SDM Vol. 3C, "VM Entries" and "VM Exits": on an exit the CPU loads
// RSP and RIP from the host-state area (HOST_RSP, HOST_RIP) and leaves the
// guest's GPRs (except RSP) in the registers.
#if !__STDC_HOSTED__
    .intel_syntax noprefix
    .text

    .set HOST_RSP, 0x6C14
#include "guest_registers.h"
    // x86_vmx_enter's frame above HOST_RSP: [rsp] = register block,
    // [rsp + 8] = fast-handler context, [rsp + 16] = padding (HOST_RSP then
    // is 16-byte aligned, as the fast handler's call needs), then the six
    // callee-saved registers and the return address.
    .set F_BLOCK, 0
    .set F_CONTEXT, 8
    .set F_SIZE, 24


// uint64_t x86_vmx_enter(void *registers /* rdi */, uint64_t *host_rsp /* rsi */,
//                        void *fast_context /* rdx */)
//
// Once per call: 9 pushes, 3 instructions of HOST_RSP check, 15 loads,
// VMRESUME. Per exit the fast handler resumes (x86_vmx_exit_entry): 17 to
// save the registers, 2 to call the handler, 3 to test its answer and find
// the block again, 15 loads, VMRESUME = 38, plus the handler.
// HOST_RSP: the exit lands on the stack of this very call, so the VMCS
// needs the call's RSP. The exit loop calls from one frame, so after the
// first entry the value is already there: it is compared with the copy in
// *host_rsp (2 instructions) and written only when it differs.
    .global x86_vmx_enter
    .type x86_vmx_enter, @function
x86_vmx_enter:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rsi                        // padding (F_SIZE)
    push rdx                        // the fast handler's context (F_CONTEXT)
    push rdi                        // the register block (F_BLOCK)
    mov rax, [rsi]                  // HOST_RSP as last written, 0 = never launched
    cmp rax, rsp
    jne .Lwrite_host_rsp
.Lresume:
    LOAD_GUEST_REGISTERS
    vmresume
    jmp .Lfailed                    // only reached if VMRESUME failed
.Lwrite_host_rsp:
    mov ecx, HOST_RSP
    vmwrite rcx, rsp                // the exit lands on this very stack
    jbe .Lfailed                    // CF or ZF: VMfail
    mov [rsi], rsp
    test rax, rax
    jnz .Lresume                    // launched before, on another stack
    LOAD_GUEST_REGISTERS
    vmlaunch
    pushfq                          // only reached if VMLAUNCH failed:
    pop rax                         // RFLAGS, and bit 63 (reserved, 0 in
    bts rax, 63                     // RFLAGS) says it was VMLAUNCH
    jmp .Lentry_failed
    .size x86_vmx_enter, . - x86_vmx_enter

// HOST_RIP. RSP = the value x86_vmx_enter wrote: [rsp] = register block.
    .global x86_vmx_exit_entry
    .type x86_vmx_exit_entry, @function
x86_vmx_exit_entry:
    push rdi                        // guest RDI
    mov rdi, [rsp + 8 + F_BLOCK]
    mov [rdi + R_RAX], rax
    STORE_GUEST_REGISTERS
    pop qword ptr [rdi + R_RDI]
    mov rsi, [rsp + F_CONTEXT]
    call x86_vmx_fast_exit          // (registers, context): 0 = resume now
    test rax, rax
    jnz .Lreturn                    // X86_VMX_EXIT or X86_VMX_EXIT_HANDLED
    mov rdi, [rsp + F_BLOCK]
    LOAD_GUEST_REGISTERS
    vmresume
.Lfailed:                           // only reached if VMRESUME failed
    pushfq
    pop rax                         // RFLAGS: CF/ZF say which failure
.Lentry_failed:
    bts rax, 62                     // bit 62 (reserved, 0 in RFLAGS): failed
.Lreturn:
    add rsp, F_SIZE
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
    .size x86_vmx_exit_entry, . - x86_vmx_exit_entry
#endif

#if !__STDC_HOSTED__
// void x86_enter_linux64(uint64_t entry /* rdi */, uint64_t boot_params /* rsi */,
//                        uint64_t cr3 /* rdx */, const void *gdtr /* rcx */, uint64_t rsp /* r8 */)
// The direct (no hypervisor) baseline: the same 64-bit entry state the
// VMCS gives the guest, on the bare CPU. Never returns.
    .intel_syntax noprefix
    .text
    .global x86_enter_linux64
    .type x86_enter_linux64, @function
x86_enter_linux64:
    cli
    mov r9, rdi                     // the entry point
    lgdt [rcx]
    mov cr3, rdx
    mov rsp, r8
    mov eax, 0x18                   // __BOOT_DS
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov fs, eax
    mov gs, eax
    push 0x10                       // __BOOT_CS
    lea rax, [rip + 1f]
    push rax
    .byte 0x48, 0xcb                 // retfq (REX.W far return)
1:  xor ebp, ebp
    xor ebx, ebx
    xor edi, edi
    jmp r9                          // RSI = boot_params
    .size x86_enter_linux64, . - x86_enter_linux64
// void x86_unblock_nmis(void): an IRETQ to the next instruction. A VM exit
// caused by an NMI leaves NMIs blocked in root operation (Intel SDM Vol. 3C,
// "Updating Non-Register State": "VM exits caused directly by NMIs cause
// blocking by NMI"), and only IRET lifts that; without it every later NMI
// would wait (Bochs keeps it blocked across VM entries too).
    .global x86_unblock_nmis
    .type x86_unblock_nmis, @function
x86_unblock_nmis:
    mov rax, rsp
    mov ecx, ss
    push rcx                        // SS
    push rax                        // RSP as at the call (the return address on top)
    pushfq                          // RFLAGS
    mov ecx, cs
    push rcx                        // CS
    lea rcx, [rip + 1f]
    push rcx                        // RIP
    iretq
1:  ret
    .size x86_unblock_nmis, . - x86_unblock_nmis

#endif
