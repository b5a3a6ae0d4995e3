// Assembly only (included by the entry stubs, never by C). The guest
// register block both entry stubs load and store (vmx_entry.S,
// svm_entry.S): 16 x u64 in the order rax, rcx, rdx, rbx, rsp, rbp, rsi,
// rdi, r8..r15, the layout of VMExit's GuestRegisters. Under VT-x RSP lives
// in the VMCS, under AMD-V RAX and RSP in the VMCB: those slots are filled
// by the Swift side.
    .set R_RAX, 0
    .set R_RCX, 8
    .set R_RDX, 16
    .set R_RBX, 24
    .set R_RBP, 40
    .set R_RSI, 48
    .set R_RDI, 56
    .set R_R8, 64
    .set R_R9, 72
    .set R_R10, 80
    .set R_R11, 88
    .set R_R12, 96
    .set R_R13, 104
    .set R_R14, 112
    .set R_R15, 120

// The guest's registers from the block at rdi: all but RSP (VT-x: in the
// VMCS; AMD-V: in the VMCB), RAX and RDI last (RDI holds the block's
// address until then).
.macro LOAD_GUEST_REGISTERS
    mov rcx, [rdi + R_RCX]
    mov rdx, [rdi + R_RDX]
    mov rbx, [rdi + R_RBX]
    mov rbp, [rdi + R_RBP]
    mov rsi, [rdi + R_RSI]
    mov r8,  [rdi + R_R8]
    mov r9,  [rdi + R_R9]
    mov r10, [rdi + R_R10]
    mov r11, [rdi + R_R11]
    mov r12, [rdi + R_R12]
    mov r13, [rdi + R_R13]
    mov r14, [rdi + R_R14]
    mov r15, [rdi + R_R15]
    mov rax, [rdi + R_RAX]
    mov rdi, [rdi + R_RDI]
.endm

// The guest's registers into the block at rdi: all but RAX (VT-x stores it
// itself; AMD-V's is in the VMCB), RSP and RDI (rdi holds the address: the
// stubs push the guest's RDI first and store it last).
.macro STORE_GUEST_REGISTERS
    mov [rdi + R_RCX], rcx
    mov [rdi + R_RDX], rdx
    mov [rdi + R_RBX], rbx
    mov [rdi + R_RBP], rbp
    mov [rdi + R_RSI], rsi
    mov [rdi + R_R8], r8
    mov [rdi + R_R9], r9
    mov [rdi + R_R10], r10
    mov [rdi + R_R11], r11
    mov [rdi + R_R12], r12
    mov [rdi + R_R13], r13
    mov [rdi + R_R14], r14
    mov [rdi + R_R15], r15
.endm
