import EPT
import Primitives
/// The VM-exit interruption-information field (VMCS encoding 0x4404), and
/// the same layout for VM-entry interruption information (0x4016).
///
/// Intel SDM Vol. 3C, "Information for VM Exits Due to Vectored Events"
/// (28.2.2 in rev. 84), table "Format of the VM-Exit Interruption-Information
/// Field"; "VM-Entry Controls for Event Injection" (25.8.3 in rev. 84)
public struct ExitInterruptionInformation: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bits 7:0: the vector.
    public var vector: UInt8 { UInt8(truncatingIfNeeded: rawValue[bits: 0...7]) }
    /// Bits 10:8.
    public var type: InterruptionType {
        InterruptionType(rawValue: UInt8(truncatingIfNeeded: rawValue[bits: 8...10]))
    }
    /// Bit 11: an error code was pushed (0x4406 holds it).
    public var isErrorCodeValid: Bool { rawValue[bit: 11] }
    /// Bit 12: NMI unblocking due to IRET.
    public var isNMIUnblockingDueToIRET: Bool { rawValue[bit: 12] }
    /// Bit 31: the field is valid.
    public var isValid: Bool { rawValue[bit: 31] }

    /// Bits 10:8 of the field.
    public struct InterruptionType: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let externalInterrupt = Self(rawValue: 0)
        public static let nmi = Self(rawValue: 2)
        public static let hardwareException = Self(rawValue: 3)
        public static let softwareInterrupt = Self(rawValue: 4)
        public static let privilegedSoftwareException = Self(rawValue: 5)
        public static let softwareException = Self(rawValue: 6)
        public static let otherEvent = Self(rawValue: 7)
    }

    /// A valid hardware-exception injection (for VM-entry field 0x4016):
    /// vector, type 3, bit 11 when an error code goes with it, bit 31.
    public static func hardwareException(_ vector: ExceptionVector, hasErrorCode: Bool) -> Self {
        var value = UInt32(vector.rawValue)
        value[bits: 8...10] = UInt32(InterruptionType.hardwareException.rawValue)
        value[bit: 11] = hasErrorCode
        value[bit: 31] = true
        return Self(rawValue: value)
    }

    /// A valid NMI injection: vector 2, type 2 (NMI), no error code, bit 31.
    public static var nmi: Self {
        var value = UInt32(ExceptionVector.nmi.rawValue)
        value[bits: 8...10] = UInt32(InterruptionType.nmi.rawValue)
        value[bit: 31] = true
        return Self(rawValue: value)
    }
}
