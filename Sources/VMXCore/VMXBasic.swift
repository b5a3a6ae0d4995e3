/// IA32_VMX_BASIC (MSR 0x480), decoded.
///
/// Intel SDM Vol. 3D, "Basic VMX Information" (A.1 in rev. 84).
public struct VMXBasic: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits 30:0: the VMCS revision identifier, written at the start of the
    /// VMXON region and of every VMCS.
    public var revisionID: UInt32 { UInt32(truncatingIfNeeded: rawValue) & 0x7FFF_FFFF }

    /// Bits 44:32: bytes to allocate for the VMXON region and each VMCS
    /// (at most 4096).
    public var regionSize: Int { Int((rawValue >> 32) & 0x1FFF) }

    /// Bit 48: the physical addresses of the VMXON region, the VMCS and the
    /// structures a VMCS points to are limited to 32 bits. Always 0 on
    /// processors with Intel 64.
    public var limitsAddressesTo32Bits: Bool { rawValue & (1 << 48) != 0 }

    /// Bit 49: the dual-monitor treatment of SMIs and SMM is supported.
    public var supportsDualMonitorTreatment: Bool { rawValue & (1 << 49) != 0 }

    /// Bits 53:50: the memory type the processor uses to access the VMCS and
    /// the structures it points to (6 = WB).
    public var memoryType: MemoryType { MemoryType(rawValue: UInt8((rawValue >> 50) & 0xF)) }

    /// Bit 54: VM exits due to INS/OUTS report instruction information.
    public var reportsINSOUTSInformation: Bool { rawValue & (1 << 54) != 0 }

    /// Bit 55: the IA32_VMX_TRUE_*_CTLS MSRs exist, and any default1 control
    /// they allow to be 0 may be cleared.
    public var hasTrueControls: Bool { rawValue & (1 << 55) != 0 }

    /// Bit 56: VM entry may deliver a hardware exception with or without an
    /// error code regardless of vector.
    public var allowsAnyHardwareExceptionErrorCode: Bool { rawValue & (1 << 56) != 0 }
}
