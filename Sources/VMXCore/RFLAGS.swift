/// RFLAGS bits.
///
/// Intel SDM Vol. 1, "EFLAGS Register" (3.4.3 in rev. 84).
public struct RFLAGS: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: carry flag. VMX instructions set it for VMfailInvalid.
    public static let carry = Self(rawValue: 1 << 0)
    /// Bit 1: reserved, always 1.
    public static let reserved1 = Self(rawValue: 1 << 1)
    /// Bit 2: parity flag.
    public static let parity = Self(rawValue: 1 << 2)
    /// Bit 4: auxiliary carry flag.
    public static let auxiliaryCarry = Self(rawValue: 1 << 4)
    /// Bit 6: zero flag. VMX instructions set it for VMfailValid.
    public static let zero = Self(rawValue: 1 << 6)
    /// Bit 7: sign flag.
    public static let sign = Self(rawValue: 1 << 7)
    /// Bit 8: trap flag.
    public static let trap = Self(rawValue: 1 << 8)
    /// Bit 9: interrupt enable flag.
    public static let interruptEnable = Self(rawValue: 1 << 9)
    /// Bit 10: direction flag.
    public static let direction = Self(rawValue: 1 << 10)
    /// Bit 11: overflow flag.
    public static let overflow = Self(rawValue: 1 << 11)
    /// Bit 14: nested task.
    public static let nestedTask = Self(rawValue: 1 << 14)
    /// Bit 16: resume flag.
    public static let resume = Self(rawValue: 1 << 16)
    /// Bit 17: virtual-8086 mode.
    public static let virtual8086Mode = Self(rawValue: 1 << 17)
    /// Bit 18: alignment check / access control.
    public static let alignmentCheck = Self(rawValue: 1 << 18)
    /// Bit 19: virtual interrupt flag.
    public static let virtualInterrupt = Self(rawValue: 1 << 19)
    /// Bit 20: virtual interrupt pending.
    public static let virtualInterruptPending = Self(rawValue: 1 << 20)
    /// Bit 21: ID flag (CPUID available).
    public static let id = Self(rawValue: 1 << 21)
}
