/// A general-purpose register by its number in exit qualifications and
/// VM-exit instruction information: 0 = RAX, 1 = RCX, 2 = RDX, 3 = RBX,
/// 4 = RSP, 5 = RBP, 6 = RSI, 7 = RDI, 8-15 = R8-R15 (the x86 encoding
/// order, not alphabetical).
///
/// Intel SDM Vol. 3C, "Exit Qualification for Control-Register Accesses"
/// (Table 28-3 in rev. 84), bits 11:8
public struct GeneralPurposeRegister: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let rax = Self(rawValue: 0)
    public static let rcx = Self(rawValue: 1)
    public static let rdx = Self(rawValue: 2)
    public static let rbx = Self(rawValue: 3)
    public static let rsp = Self(rawValue: 4)
    public static let rbp = Self(rawValue: 5)
    public static let rsi = Self(rawValue: 6)
    public static let rdi = Self(rawValue: 7)
    public static let r8 = Self(rawValue: 8)
    public static let r9 = Self(rawValue: 9)
    public static let r10 = Self(rawValue: 10)
    public static let r11 = Self(rawValue: 11)
    public static let r12 = Self(rawValue: 12)
    public static let r13 = Self(rawValue: 13)
    public static let r14 = Self(rawValue: 14)
    public static let r15 = Self(rawValue: 15)

    public var name: StaticString {
        switch rawValue {
        case 0: "rax"
        case 1: "rcx"
        case 2: "rdx"
        case 3: "rbx"
        case 4: "rsp"
        case 5: "rbp"
        case 6: "rsi"
        case 7: "rdi"
        case 8: "r8"
        case 9: "r9"
        case 10: "r10"
        case 11: "r11"
        case 12: "r12"
        case 13: "r13"
        case 14: "r14"
        case 15: "r15"
        default: "unknown"
        }
    }
}
