import Primitives

/// The type of an injected or interrupted event: bits 10:8 of EVENTINJ and
/// EXITINTINFO. 1 and 5-7 are reserved (VMRUN fails with VMEXIT_INVALID).
///
/// AMD APM Vol. 2, "Event Injection" (15.20 in rev. 3.42).
public struct SVMEventType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0: external or virtual interrupt (INTR).
    public static let interrupt = Self(rawValue: 0)
    /// 2: NMI.
    public static let nmi = Self(rawValue: 2)
    /// 3: exception (fault or trap).
    public static let exception = Self(rawValue: 3)
    /// 4: software interrupt (INTn).
    public static let softwareInterrupt = Self(rawValue: 4)

    /// 0, 2, 3 or 4.
    public var isDefined: Bool { rawValue == 0 || (rawValue >= 2 && rawValue <= 4) }

    public var name: StaticString {
        switch rawValue {
        case 0: "INTR"
        case 2: "NMI"
        case 3: "exception"
        case 4: "software interrupt"
        default: "reserved"
        }
    }
}

/// EVENTINJ (VMCB 0A8h) and EXITINTINFO (VMCB 088h), which share a format:
/// bits 7:0 vector, 10:8 type, 11 EV (error code valid), 30:12 reserved,
/// 31 V (valid), 63:32 error code.
///
/// AMD APM Vol. 2, "Event Injection" (15.20 in rev. 3.42) and "Event
/// Information" under "Intercept Exit Information" (15.7.2 in rev. 3.42).
public struct SVMEventInjection: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// A valid event; `errorCode` non-nil sets EV.
    public init(vector: UInt8, type: SVMEventType, errorCode: UInt32? = nil) {
        rawValue = 0
        self.vector = vector
        self.type = type
        if let errorCode {
            self.errorCode = errorCode
            hasErrorCode = true
        }
        isValid = true
    }

    /// An exception, with its error code if it pushes one.
    public static func exception(_ vector: UInt8, errorCode: UInt32? = nil) -> Self {
        Self(vector: vector, type: .exception, errorCode: errorCode)
    }

    /// An external interrupt.
    public static func interrupt(_ vector: UInt8) -> Self { Self(vector: vector, type: .interrupt) }

    /// An NMI (the vector field is ignored; 2 by convention).
    public static let nmi = Self(vector: 2, type: .nmi)

    /// No event (V = 0).
    public static let none = Self(rawValue: 0)

    /// Bits 7:0.
    public var vector: UInt8 {
        get { UInt8(self[bits: 0...7]) }
        set { self[bits: 0...7] = UInt64(newValue) }
    }
    /// Bits 10:8.
    public var type: SVMEventType {
        get { SVMEventType(rawValue: UInt8(self[bits: 8...10])) }
        set { self[bits: 8...10] = UInt64(newValue.rawValue & 7) }
    }
    /// Bit 11 (EV): the error code is pushed.
    public var hasErrorCode: Bool {
        get { self[bit: 11] }
        set { self[bit: 11] = newValue }
    }
    /// Bit 31 (V): the event is valid.
    public var isValid: Bool {
        get { self[bit: 31] }
        set { self[bit: 31] = newValue }
    }
    /// Bits 63:32.
    public var errorCode: UInt32 {
        get { UInt32(self[bits: 32...63]) }
        set { self[bits: 32...63] = UInt64(newValue) }
    }
    /// Bits 30:12, reserved.
    public var reservedBits: UInt64 { rawValue & 0x7FFF_F000 }
}
