// The hypervisor's first instructions: stage 2 jumps here in 64-bit mode,
// interrupts off, with RDI = the BootInfo address (System V first argument).
// Linked first in .text (Boot/hypervisor.ld), so the entry point is the
// image's load address.
#include "X86AP.h"
#if !__STDC_HOSTED__
    .intel_syntax noprefix
    .section .text.entry, "ax", @progbits
    .global _start
    .type _start, @function
_start:
    cli
    cld
    lea rsp, [rip + __stack_top]
    mov r12, rdi                    // keep BootInfo across the .bss clear
    lea rdi, [rip + __bss_start]
    lea rcx, [rip + __bss_end]
    sub rcx, rdi
    shr rcx, 3                      // .bss is page-aligned: whole quadwords
    xor eax, eax
    rep stosq
    mov rdi, r12
    xor ebp, ebp                    // terminate frame-pointer chains
    call hv_main
1:  cli
    hlt
    jmp 1b
    .size _start, . - _start

// Exception stubs: push a zero where the CPU pushes no error code, then the
// vector, so every frame has the x86_exception_frame layout (X86.h).
// Intel SDM Vol. 3A, "Exception and Interrupt Reference" lists which
// vectors push an error code: 8, 10-14, 17, 21, 29, 30.
    .section .text.exceptions, "ax", @progbits
.macro STUB vector, has_error
    .align 16
stub_\vector:
    .if \has_error == 0
    push 0
    .endif
    push \vector
    jmp exception_common
.endm

    STUB 0, 0
    STUB 1, 0

// NMI: never a panic. An NMI that arrives in VMX root operation (during an
// exit) belongs to the guest: count it, return; the exit loop delivers it
// to the guest at the next VM entry (NMI exiting catches those that arrive
// while the guest runs). Runs on its own IST stack; IRETQ ends NMI blocking.
// The count is the BSP's per-CPU block's (GS base: x86_bsp_state).
    .align 16
stub_2:
    lock inc qword ptr gs:[AP_STATE_ROOT_NMIS]
    iretq
    STUB 3, 0
    STUB 4, 0
    STUB 5, 0
    STUB 6, 0
    STUB 7, 0
    STUB 8, 1
    STUB 9, 0
    STUB 10, 1
    STUB 11, 1
    STUB 12, 1
    STUB 13, 1
    STUB 14, 1
    STUB 15, 0
    STUB 16, 0
    STUB 17, 1
    STUB 18, 0
    STUB 19, 0
    STUB 20, 0
    STUB 21, 1
    STUB 22, 0
    STUB 23, 0
    STUB 24, 0
    STUB 25, 0
    STUB 26, 0
    STUB 27, 0
    STUB 28, 0
    STUB 29, 1
    STUB 30, 1
    STUB 31, 0

exception_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp                    // x86_exception_frame *
    and rsp, -16
    call hv_exception               // reports and halts; never returns
1:  cli
    hlt
    jmp 1b

    .section .rodata.exceptions, "a", @progbits
    .align 8
    .global x86_exception_stubs
x86_exception_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad stub_\v
    .endr
#endif
