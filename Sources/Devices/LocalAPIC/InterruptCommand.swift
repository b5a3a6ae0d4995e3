import Primitives

/// The xAPIC registers pxHV names, by their offset in the 4 KiB MMIO page
/// at IA32_APIC_BASE. Each is 32 bits wide at a 16-byte-aligned offset.
///
/// Intel SDM Vol. 3A, "Local APIC Register Address Map" (Table 11-1 in
/// rev. 84).
public enum XAPICRegister {
    /// Local APIC ID (bits 31:24 in xAPIC mode).
    public static let id: UInt64 = 0x20
    /// End of interrupt: written once per serviced interrupt.
    public static let endOfInterrupt: UInt64 = 0xB0
    /// Interrupt Command Register, bits 31:0: writing it sends the IPI.
    public static let interruptCommandLow: UInt64 = 0x300
    /// Interrupt Command Register, bits 63:32: the destination field.
    public static let interruptCommandHigh: UInt64 = 0x310
    /// Register offsets are multiples of 16.
    public static let alignment: UInt64 = 16
}

/// One write of the Interrupt Command Register, decoded: the low dword the
/// guest wrote (which sends) with the high dword in place at the time.
///
/// Intel SDM Vol. 3A, "Interrupt Command Register (ICR)" (11.6.1 in rev.
/// 84), figure "Interrupt Command Register (ICR)": vector 7:0, delivery mode
/// 10:8, destination mode 11, delivery status 12, level 14, trigger mode
/// 15, destination shorthand 19:18, destination 63:56 (xAPIC mode).
public struct InterruptCommand: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The ICR from its two 32-bit halves (offsets 0x300 and 0x310).
    public init(low: UInt32, high: UInt32) {
        rawValue = UInt64(high) << 32 | UInt64(low)
    }

    public enum Field {
        public static let vector = 0...7
        public static let deliveryMode = 8...10
        public static let logicalDestination = 11
        public static let level = 14
        public static let levelTriggered = 15
        public static let shorthand = 18...19
        public static let destination = 56...63
    }

    /// Delivery mode (bits 10:8).
    public enum DeliveryMode: UInt8, Hashable, Sendable {
        case fixed = 0b000
        case lowestPriority = 0b001
        case smi = 0b010
        case reserved3 = 0b011
        case nmi = 0b100
        case initialize = 0b101
        case startup = 0b110
        case reserved7 = 0b111
    }

    /// Destination shorthand (bits 19:18).
    public enum Shorthand: UInt8, Hashable, Sendable {
        /// The destination field names the target(s).
        case none = 0b00
        case onlySelf = 0b01
        case allIncludingSelf = 0b10
        case allExcludingSelf = 0b11
    }

    public var vector: UInt8 { UInt8(self[bits: Field.vector]) }
    public var deliveryMode: DeliveryMode { DeliveryMode(rawValue: UInt8(self[bits: Field.deliveryMode]))! }
    /// Destination mode: logical (bit 11 set) or physical.
    public var isLogicalDestination: Bool { self[bit: Field.logicalDestination] }
    /// Level: assert (1) or de-assert (0).
    public var isAssert: Bool { self[bit: Field.level] }
    public var isLevelTriggered: Bool { self[bit: Field.levelTriggered] }
    public var shorthand: Shorthand { Shorthand(rawValue: UInt8(self[bits: Field.shorthand]))! }
    /// The destination field (xAPIC: 8 bits; in physical mode an APIC ID,
    /// 0xFF = every CPU).
    public var destination: UInt32 { UInt32(self[bits: Field.destination]) }

    /// Physical destination 0xFF: the broadcast ID of the xAPIC.
    public static let broadcastDestination: UInt32 = 0xFF

    /// INIT level de-assert (delivery mode INIT, level 0, level-triggered):
    /// an arbitration-ID synchronisation that Pentium 4 and later
    /// processors do not support; it starts or resets nothing (Intel SDM
    /// Vol. 3A, "Interrupt Command Register (ICR)", "INIT Level De-assert").
    public var isINITLevelDeassert: Bool {
        deliveryMode == .initialize && !isAssert && isLevelTriggered
    }

    /// Where a guest's ICR write goes when the hypervisor delivers INIT and
    /// STARTUP itself (`ICRRoute`).
    public var route: ICRRoute {
        let signal: StartupSignal
        switch deliveryMode {
        case .initialize:
            if isINITLevelDeassert { return .drop }
            signal = .initialize
        case .startup:
            signal = .startup(vector: vector)
        case .fixed, .lowestPriority, .smi, .reserved3, .nmi, .reserved7:
            return .send
        }
        switch shorthand {
        case .onlySelf: return .signal(signal, to: .onlySelf)
        case .allIncludingSelf: return .signal(signal, to: .allIncludingSelf)
        case .allExcludingSelf: return .signal(signal, to: .allExcludingSelf)
        case .none:
            if isLogicalDestination { return .logicalDestination }
            if destination == Self.broadcastDestination { return .signal(signal, to: .allIncludingSelf) }
            return .signal(signal, to: .processor(apicID: destination))
        }
    }
}

/// INIT or STARTUP, as the hypervisor delivers it to a vCPU.
public enum StartupSignal: Hashable, Sendable {
    /// INIT: the target resets and waits for a STARTUP.
    case initialize
    /// STARTUP (SIPI): a target waiting for one starts in real mode at
    /// `vector` << 12; any other ignores it.
    case startup(vector: UInt8)
}

/// Who an INIT or STARTUP is for.
public enum StartupTargets: Hashable, Sendable {
    case processor(apicID: UInt32)
    case onlySelf
    case allIncludingSelf
    case allExcludingSelf
}

/// What the hypervisor does with a guest's write of the ICR's low dword
/// when it delivers INIT and STARTUP itself (so that no real one reaches a
/// CPU: the SMP guests, `LocalAPICTrap`).
public enum ICRRoute: Hashable, Sendable {
    /// Every other delivery mode (fixed, lowest priority, NMI, SMI):
    /// written to the real ICR unchanged, as the guest would have.
    case send
    /// INIT or STARTUP for the targets: delivered by the hypervisor.
    case signal(StartupSignal, to: StartupTargets)
    /// INIT level de-assert: does nothing on current processors; dropped.
    case drop
    /// INIT or STARTUP in logical destination mode: the logical IDs are
    /// the guest's (LDR/DFR); not emulated.
    case logicalDestination
}
