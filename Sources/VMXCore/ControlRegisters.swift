/// CR0 bits.
///
/// Intel SDM Vol. 3A, "Control Registers" (2.5 in rev. 84).
public struct CR0: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: protection enable.
    public static let pe = Self(rawValue: 1 << 0)
    /// Bit 1: monitor coprocessor.
    public static let mp = Self(rawValue: 1 << 1)
    /// Bit 2: emulation (no x87).
    public static let em = Self(rawValue: 1 << 2)
    /// Bit 3: task switched.
    public static let ts = Self(rawValue: 1 << 3)
    /// Bit 4: extension type (hardwired 1).
    public static let et = Self(rawValue: 1 << 4)
    /// Bit 5: numeric error (native x87 error reporting).
    public static let ne = Self(rawValue: 1 << 5)
    /// Bit 16: write protect.
    public static let wp = Self(rawValue: 1 << 16)
    /// Bit 18: alignment mask.
    public static let am = Self(rawValue: 1 << 18)
    /// Bit 29: not write-through.
    public static let nw = Self(rawValue: 1 << 29)
    /// Bit 30: cache disable.
    public static let cd = Self(rawValue: 1 << 30)
    /// Bit 31: paging.
    public static let pg = Self(rawValue: 1 << 31)
}

/// CR4 bits.
///
/// Intel SDM Vol. 3A, "Control Registers" (2.5 in rev. 84).
public struct CR4: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: virtual-8086 mode extensions.
    public static let vme = Self(rawValue: 1 << 0)
    /// Bit 1: protected-mode virtual interrupts.
    public static let pvi = Self(rawValue: 1 << 1)
    /// Bit 2: time stamp disable.
    public static let tsd = Self(rawValue: 1 << 2)
    /// Bit 3: debugging extensions.
    public static let de = Self(rawValue: 1 << 3)
    /// Bit 4: page size extensions.
    public static let pse = Self(rawValue: 1 << 4)
    /// Bit 5: physical address extension.
    public static let pae = Self(rawValue: 1 << 5)
    /// Bit 6: machine-check enable.
    public static let mce = Self(rawValue: 1 << 6)
    /// Bit 7: page global enable.
    public static let pge = Self(rawValue: 1 << 7)
    /// Bit 8: performance-monitoring counter enable.
    public static let pce = Self(rawValue: 1 << 8)
    /// Bit 9: OS support for FXSAVE and FXRSTOR.
    public static let osfxsr = Self(rawValue: 1 << 9)
    /// Bit 10: OS support for unmasked SIMD floating-point exceptions.
    public static let osxmmexcpt = Self(rawValue: 1 << 10)
    /// Bit 11: user-mode instruction prevention.
    public static let umip = Self(rawValue: 1 << 11)
    /// Bit 12: 57-bit linear addresses (5-level paging).
    public static let la57 = Self(rawValue: 1 << 12)
    /// Bit 13: VMX enable.
    public static let vmxe = Self(rawValue: 1 << 13)
    /// Bit 14: SMX enable.
    public static let smxe = Self(rawValue: 1 << 14)
    /// Bit 16: FSGSBASE enable.
    public static let fsgsbase = Self(rawValue: 1 << 16)
    /// Bit 17: PCID enable.
    public static let pcide = Self(rawValue: 1 << 17)
    /// Bit 18: XSAVE and processor extended states enable.
    public static let osxsave = Self(rawValue: 1 << 18)
    /// Bit 19: Key Locker enable.
    public static let kl = Self(rawValue: 1 << 19)
    /// Bit 20: SMEP enable.
    public static let smep = Self(rawValue: 1 << 20)
    /// Bit 21: SMAP enable.
    public static let smap = Self(rawValue: 1 << 21)
    /// Bit 22: protection keys for user-mode pages.
    public static let pke = Self(rawValue: 1 << 22)
    /// Bit 23: control-flow enforcement technology.
    public static let cet = Self(rawValue: 1 << 23)
    /// Bit 24: protection keys for supervisor-mode pages.
    public static let pks = Self(rawValue: 1 << 24)
    /// Bit 25: user interrupts enable.
    public static let uintr = Self(rawValue: 1 << 25)
}

/// The control registers with VMX-fixed bits.
public enum ControlRegister: Hashable, Sendable {
    case cr0
    case cr4

    /// "CR0" or "CR4".
    public var name: StaticString {
        switch self {
        case .cr0: "CR0"
        case .cr4: "CR4"
        }
    }
}
