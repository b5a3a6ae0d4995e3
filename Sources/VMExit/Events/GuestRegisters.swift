/// The guest's general-purpose registers as the exit stub saves them: 16
/// `UInt64`s (128 bytes), in the x86 register-number order of
/// `GeneralPurposeRegister`:
///
/// | offset | 0x00 | 0x08 | 0x10 | 0x18 | 0x20 | 0x28 | 0x30 | 0x38 | 0x40..0x78 |
/// |---|---|---|---|---|---|---|---|---|---|
/// | register | RAX | RCX | RDX | RBX | RSP | RBP | RSI | RDI | R8..R15 |
///
/// The assembly stub in `Sources/X86` stores and reloads exactly this layout
/// (a test asserts every offset). RSP is not saved by the stub: the guest RSP
/// lives in the VMCS (guest-state field 0x681C). The slot is there so that
/// register number 4 indexes like the others: the backend copies the VMCS
/// guest RSP into `rsp` before it decodes a control-register access (the
/// only exit with a register operand that can be RSP; on other exits the
/// slot is stale), and a MOV from CR into RSP goes to the VMCS directly (the
/// stub ignores the slot when it reloads).
public struct GuestRegisters: Equatable, Sendable {
    public var rax: UInt64 = 0
    public var rcx: UInt64 = 0
    public var rdx: UInt64 = 0
    public var rbx: UInt64 = 0
    /// Not saved by the stub: the backend fills it from the VMCS (see the type's notes).
    public var rsp: UInt64 = 0
    public var rbp: UInt64 = 0
    public var rsi: UInt64 = 0
    public var rdi: UInt64 = 0
    public var r8: UInt64 = 0
    public var r9: UInt64 = 0
    public var r10: UInt64 = 0
    public var r11: UInt64 = 0
    public var r12: UInt64 = 0
    public var r13: UInt64 = 0
    public var r14: UInt64 = 0
    public var r15: UInt64 = 0

    /// Size in bytes of the saved block (16 registers).
    public static let byteCount = 128

    public init() {}

    /// The register by its number (bits 3:0 of `r.rawValue`; 4 = the RSP
    /// slot, see the type's notes).
    public subscript(_ r: GeneralPurposeRegister) -> UInt64 {
        get {
            switch r.rawValue & 0xF {
            case 0: rax
            case 1: rcx
            case 2: rdx
            case 3: rbx
            case 4: rsp
            case 5: rbp
            case 6: rsi
            case 7: rdi
            case 8: r8
            case 9: r9
            case 10: r10
            case 11: r11
            case 12: r12
            case 13: r13
            case 14: r14
            default: r15
            }
        }
        set {
            switch r.rawValue & 0xF {
            case 0: rax = newValue
            case 1: rcx = newValue
            case 2: rdx = newValue
            case 3: rbx = newValue
            case 4: rsp = newValue
            case 5: rbp = newValue
            case 6: rsi = newValue
            case 7: rdi = newValue
            case 8: r8 = newValue
            case 9: r9 = newValue
            case 10: r10 = newValue
            case 11: r11 = newValue
            case 12: r12 = newValue
            case 13: r13 = newValue
            case 14: r14 = newValue
            default: r15 = newValue
            }
        }
    }

    /// EAX/ECX/EDX/EBX results of CPUID-like instructions: each written as a
    /// 32-bit register write (the upper 32 bits cleared, as in 64-bit mode).
    @inline(__always)
    public mutating func setResult(eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        rax = UInt64(eax)
        rbx = UInt64(ebx)
        rcx = UInt64(ecx)
        rdx = UInt64(edx)
    }

    /// EDX:EAX as one 64-bit value (RDMSR/WRMSR/XSETBV operand order).
    @inline(__always)
    public var edxEAX: UInt64 {
        (rdx & 0xFFFF_FFFF) << 32 | (rax & 0xFFFF_FFFF)
    }
}
