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
