import Primitives

/// IA32_VMX_BASIC (MSR 0x480), decoded.
///
/// Intel SDM Vol. 3D, "Basic VMX Information" (A.1 in rev. 84).
public struct VMXBasic: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits 30:0: the VMCS revision identifier, written at the start of the
    /// VMXON region and of every VMCS.
    public var revisionID: UInt32 { UInt32(truncatingIfNeeded: rawValue[bits: 0...30]) }

    /// Bits 44:32: bytes to allocate for the VMXON region and each VMCS
    /// (at most 4096).
    public var regionSize: Int { Int(rawValue[bits: 32...44]) }

    /// Bit 48: the physical addresses of the VMXON region, the VMCS and the
    /// structures a VMCS points to are limited to 32 bits. Always 0 on
    /// processors with Intel 64.
    public var limitsAddressesTo32Bits: Bool { rawValue[bit: 48] }

    /// Bit 49: the dual-monitor treatment of SMIs and SMM is supported.
    public var supportsDualMonitorTreatment: Bool { rawValue[bit: 49] }

    /// Bits 53:50: the memory type the processor uses to access the VMCS and
    /// the structures it points to (6 = WB).
    public var memoryType: MemoryType { MemoryType(rawValue: UInt8(rawValue[bits: 50...53])) }

    /// Bit 54: VM exits due to INS/OUTS report instruction information.
    public var reportsINSOUTSInformation: Bool { rawValue[bit: 54] }

    /// Bit 55: the IA32_VMX_TRUE_*_CTLS MSRs exist, and any default1 control
    /// they allow to be 0 may be cleared.
    public var hasTrueControls: Bool { rawValue[bit: 55] }

    /// Bit 56: VM entry may deliver a hardware exception with or without an
    /// error code regardless of vector.
    public var allowsAnyHardwareExceptionErrorCode: Bool { rawValue[bit: 56] }
}
