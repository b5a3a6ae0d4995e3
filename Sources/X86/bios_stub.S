// The BIOS guest's real-mode INT 13h / INT 15h handler.
//
// Data in the image: the hypervisor copies it below the guest's top of
// base memory (which it lowers, BDA 40:13h), fills the chain vectors and
// the drive (X86BIOS.h), and points IVT entries 13h and 15h at it. INT 13h
// for the served drive and INT 15h AX=E820h/E801h, AH=88h build a register
// frame on the caller's stack (BIOSCallFrame in Sources/BIOSServices) and
// call the hypervisor with RAX = 10, RBX = the frame's linear address; the
// hypervisor serves the call from the frame and writes the results (and
// CF, in the FLAGS the INT pushed) back. Everything else jumps to the
// BIOS's own handler, registers untouched.
//
// A hypercall the hypervisor refuses (RAX != 0 after it: the frame is not
// guest RAM, or the caller runs at CPL 3) returns CF set and AH = 01h.
#include "X86BIOS.h"
#if !__STDC_HOSTED__

    .section .rodata.bios_stub, "a", @progbits
    .global x86_bios_stub_begin
    .global x86_bios_stub_end
    .global x86_bios_stub_int15
    .global x86_bios_stub_hypercall
    .code16
x86_bios_stub_begin:
    .org x86_bios_stub_begin + BIOS_STUB_CHAIN13
    .word 0, 0
    .org x86_bios_stub_begin + BIOS_STUB_CHAIN15
    .word 0, 0
    .org x86_bios_stub_begin + BIOS_STUB_DRIVE
    .byte 0
    .org x86_bios_stub_begin + BIOS_STUB_SIGNATURE
    .ascii "pxHV"

    .org x86_bios_stub_begin + BIOS_STUB_INT13
    cmpb %cs:BIOS_STUB_DRIVE, %dl
    je 1f
    ljmp *%cs:BIOS_STUB_CHAIN13
1:  pushw $0x13
    jmp call_hypervisor

x86_bios_stub_int15:
    cmpw $0xE820, %ax
    je 2f
    cmpw $0xE801, %ax
    je 2f
    cmpb $0x88, %ah
    je 2f
    ljmp *%cs:BIOS_STUB_CHAIN15
2:  pushw $0x15

call_hypervisor:
    pushw %ds
    pushw %es
    pushal
    movl $BIOS_STUB_HYPERCALL_FUNCTION, %eax
    xorl %ebx, %ebx
    movw %ss, %bx
    shll $4, %ebx
    movzwl %sp, %ecx
    addl %ecx, %ebx                 // RBX = SS * 16 + SP: the frame
x86_bios_stub_hypercall:
    .byte 0x0F, 0x01, 0xC1          // VMCALL (VMMCALL under AMD-V: 0F 01 D9)
    testl %eax, %eax
    jz 3f
    movw %sp, %bp                   // refused: CF and AH = 01h (EBP comes back with POPAD)
    orb $1, %ss:42(%bp)
    movb $1, %ss:29(%bp)
3:  popal
    popw %es
    popw %ds
    addw $2, %sp                    // the interrupt number
    iret
x86_bios_stub_end:

#endif
