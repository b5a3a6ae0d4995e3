// The application-processor trampoline and the APs' exception stubs.
//
// The trampoline is data in the image: the BSP copies it to a page below
// 1 MiB (hidden from guests), fills its parameters (X86AP.h) and sends
// INIT-SIPI-SIPI. The AP starts at offset 0 in real mode with CS = page >> 4
// and walks real mode -> protected mode -> long mode with the BSP's CR3,
// then far-jumps to x86_ap_entry64 in .text with ESP = its stack and
// EDI = its x86_ap_state. Only the far jump right after CR0.PG runs from
// the low page with paging on (it must be identity-mapped there, as every
// page below 4 GiB is in the host's tables).
//
// Intel SDM Vol. 3A, "Switching to Protected Mode" (10.9.1 in rev. 84) and
// "Initializing IA-32e Mode" (10.8.5 in rev. 84): PE and a far jump; PAE,
// CR3, IA32_EFER.LME, then CR0.PG; a far jump to a 64-bit code segment.
#include "X86AP.h"
#if !__STDC_HOSTED__

    .section .rodata.ap_trampoline, "a", @progbits
    .balign 16
    .global x86_ap_trampoline_begin
    .global x86_ap_trampoline_end
    .code16
x86_ap_trampoline_begin:
    jmp trampoline_code16

    .org x86_ap_trampoline_begin + AP_TRAMPOLINE_CR3
    .long 0                         // CR3
    .quad 0                         // IA32_EFER
    .long 0                         // stack top
    .long 0                         // x86_ap_state
    .long 0                         // CR0
    .long 0                         // CR4
    .long 0                         // started
    .org x86_ap_trampoline_begin + AP_TRAMPOLINE_FAR64
    .long 0                         // x86_ap_entry64 (the BSP writes it)
    .word 0x08                      // 64-bit code
    .org x86_ap_trampoline_begin + AP_TRAMPOLINE_FAR32
    .long 0                         // page + 32-bit part (the AP writes it)
    .word 0x18                      // 32-bit code
    .org x86_ap_trampoline_begin + AP_TRAMPOLINE_GDTR
    .word 4 * 8 - 1
    .long 0                         // page + AP_TRAMPOLINE_GDT (the AP writes it)
    .org x86_ap_trampoline_begin + AP_TRAMPOLINE_GDT
    .quad 0
    .quad 0x00AF9A000000FFFF        // 0x08: 64-bit code, DPL 0
    .quad 0x00CF92000000FFFF        // 0x10: flat data, 4 GiB
    .quad 0x00CF9A000000FFFF        // 0x18: flat 32-bit code, 4 GiB

    .org x86_ap_trampoline_begin + AP_TRAMPOLINE_CODE
trampoline_code16:
    cli
    cld
    xorl %ebx, %ebx
    movw %cs, %bx
    movw %bx, %ds
    shll $4, %ebx                   // EBX = the page's physical address
    movl $1, AP_TRAMPOLINE_STARTED
    leal (trampoline_code32 - x86_ap_trampoline_begin)(%ebx), %eax
    movl %eax, AP_TRAMPOLINE_FAR32
    leal AP_TRAMPOLINE_GDT(%ebx), %eax
    movl %eax, AP_TRAMPOLINE_GDTR + 2
    lgdtl AP_TRAMPOLINE_GDTR
    movl %cr0, %eax
    orl $1, %eax                    // PE
    movl %eax, %cr0
    ljmpl *AP_TRAMPOLINE_FAR32

    .code32
trampoline_code32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl AP_TRAMPOLINE_CR4(%ebx), %eax
    movl %eax, %cr4                 // PAE
    movl AP_TRAMPOLINE_CR3(%ebx), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx          // IA32_EFER: LME (and NXE if the BSP has it)
    movl AP_TRAMPOLINE_EFER(%ebx), %eax
    movl AP_TRAMPOLINE_EFER + 4(%ebx), %edx
    wrmsr
    movl AP_TRAMPOLINE_STACK(%ebx), %esp
    movl AP_TRAMPOLINE_STATE(%ebx), %edi
    movl AP_TRAMPOLINE_CR0(%ebx), %eax
    movl %eax, %cr0                 // PG: IA-32e mode, compatibility mode so far
    ljmpl *AP_TRAMPOLINE_FAR64(%ebx)
x86_ap_trampoline_end:

// The AMD-V park guest (SVMParkGuest.swift): real-mode code a CPU runs as a
// guest of its own, without nested paging, from the trampoline page (at
// SVM_PARK_OFFSET; CS = page >> 4, so that an interrupt's far return comes
// back to it), with its own stack page (SS base; word 0 counts NMIs). The
// host never sets GIF (an INIT it let in would reset the CPU outside SVM):
// NMIs are taken here instead, through this guest's IVT (vector 2 at
// SVM_PARK_NMI; 0 and 1 at SVM_PARK_FAULT, which ends in a triple fault,
// an intercepted SHUTDOWN), and reported with VMMCALL.
//
// Entered at SVM_PARK_HALT, it sleeps until an NMI; at SVM_PARK_REPORT, it
// reports at once (after the NMI that made the exit, still pending: AMD
// APM Vol. 2, "NMI intercept", and Bochs's event.cc keep it pending). The
// handler counts the NMI and, when it interrupted the HLT, returns past it
// (as ap_nmi does for x86_ap_halt_unless_nmi), so no NMI is slept through;
// its IRET ends NMI blocking before the host sees the report.
    .section .rodata.svm_park, "a", @progbits
    .balign 16
    .global x86_svm_park_begin
    .global x86_svm_park_end
    .code16
x86_svm_park_begin:
.Lpark_halt:
    hlt                             // SVM_PARK_HALT
    vmmcall                         // SVM_PARK_REPORT
    jmp .Lpark_halt

    .org x86_svm_park_begin + SVM_PARK_NMI
    incw %ss:0                      // the NMI count the host reads and clears
    pushw %bp
    movw %sp, %bp
    cmpw $(SVM_PARK_OFFSET + SVM_PARK_HALT), 2(%bp)   // the interrupted IP
    jne 1f
    incw 2(%bp)                     // past the 1-byte HLT
1:  popw %bp
    iret

    .org x86_svm_park_begin + SVM_PARK_FAULT
    ud2                             // #UD: beyond the IVT's limit, a triple fault
x86_svm_park_end:

    .code64
    .section .text.ap, "ax", @progbits
    .global x86_ap_entry64
    .type x86_ap_entry64, @function
x86_ap_entry64:
    movl %esp, %esp                 // zero-extend: upper halves are undefined after the switch
    movl %edi, %edi
    xorl %ebp, %ebp
    call hv_ap_main                 // never returns
1:  cli
    hlt
    jmp 1b
    .size x86_ap_entry64, . - x86_ap_entry64

// The APs' IDT: vector 2 (NMI) counts and returns; the rest push the
// x86_exception_frame (X86.h) and call hv_ap_exception, which reports and
// halts this AP. Intel SDM Vol. 3A, "Exception and Interrupt Reference":
// vectors 8, 10-14, 17, 21, 29, 30 push an error code.
//
// The NMI handler executes VMPTRST first: outside VMX operation it raises
// #UD (a panic report naming the CPU), in VMX non-root operation it would
// cause a VM exit; so a count that advances proves the NMI was taken in
// VMX root operation, by this handler. It also counts the NMI as owed to
// the AP's guest (root_nmis, as stub_2 does on the BSP): while the AP runs
// a vCPU, its exit loop delivers it (or finds a stop request first).
//
// An NMI that interrupts `x86_ap_halt_unless_nmi` after its check and
// before its HLT returns past the HLT: the AP then sees the NMI's request
// at once instead of sleeping until the next NMI.
    .section .text.ap_exceptions, "ax", @progbits
ap_nmi:
    vmptrst %gs:AP_STATE_VMCS_POINTER
    incq %gs:AP_STATE_NMI_COUNT
    lock incq %gs:AP_STATE_ROOT_NMIS
    pushq %rax
    leaq ap_halt_site(%rip), %rax
    cmpq %rax, 8(%rsp)              // the interrupted RIP (above the saved RAX)
    jne 1f
    incq 8(%rsp)                    // past the 1-byte HLT
1:  popq %rax
    iretq

// x86_ap_halt_unless_nmi (X86AP.h): HLT with interrupts off, unless an NMI
// came since the root NMIs were last taken.
    .global x86_ap_halt_unless_nmi
x86_ap_halt_unless_nmi:
    cli
    cmpq $0, %gs:AP_STATE_ROOT_NMIS
    jne 1f
ap_halt_site:
    hlt
1:  ret

.macro AP_STUB vector, has_error
    .align 16
ap_stub_\vector:
    .if \has_error == 0
    pushq $0
    .endif
    pushq $\vector
    jmp ap_exception_common
.endm

    AP_STUB 0, 0
    AP_STUB 1, 0
    AP_STUB 3, 0
    AP_STUB 4, 0
    AP_STUB 5, 0
    AP_STUB 6, 0
    AP_STUB 7, 0
    AP_STUB 8, 1
    AP_STUB 9, 0
    AP_STUB 10, 1
    AP_STUB 11, 1
    AP_STUB 12, 1
    AP_STUB 13, 1
    AP_STUB 14, 1
    AP_STUB 15, 0
    AP_STUB 16, 0
    AP_STUB 17, 1
    AP_STUB 18, 0
    AP_STUB 19, 0
    AP_STUB 20, 0
    AP_STUB 21, 1
    AP_STUB 22, 0
    AP_STUB 23, 0
    AP_STUB 24, 0
    AP_STUB 25, 0
    AP_STUB 26, 0
    AP_STUB 27, 0
    AP_STUB 28, 0
    AP_STUB 29, 1
    AP_STUB 30, 1
    AP_STUB 31, 0

ap_exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi                 // x86_exception_frame *
    andq $-16, %rsp
    call hv_ap_exception            // reports and halts; never returns
1:  cli
    hlt
    jmp 1b

    .section .rodata.ap_exceptions, "a", @progbits
    .align 8
    .global x86_ap_exception_stubs
x86_ap_exception_stubs:
    .quad ap_stub_0, ap_stub_1, ap_nmi
    .irp v, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad ap_stub_\v
    .endr
#endif
