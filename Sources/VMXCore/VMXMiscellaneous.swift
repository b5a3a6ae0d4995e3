import Primitives

/// IA32_VMX_MISC (MSR 0x485), decoded.
///
/// Intel SDM Vol. 3D, "Miscellaneous Data" (A.6 in rev. 84).
public struct VMXMiscellaneous: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits 4:0: the VMX-preemption timer counts down by 1 every time bit X
    /// of the TSC changes, X being this value. Bochs 2.7 reports 0.
    public var preemptionTimerRate: Int { Int(rawValue[bits: 0...4]) }

    /// Bit 5: VM exits store EFER.LMA into the "IA-32e mode guest" VM-entry control.
    public var storesEFERLMAOnExit: Bool { rawValue[bit: 5] }

    /// Bits 8:6: the activity states VM entry accepts besides active (0).
    public var activityStates: ActivityStates { ActivityStates(rawValue: UInt8(rawValue[bits: 6...8])) }

    /// Bit 14: Intel PT can be used in VMX operation.
    public var supportsProcessorTraceInVMX: Bool { rawValue[bit: 14] }

    /// Bit 15: RDMSR can read IA32_SMBASE in SMM.
    public var allowsSMBASEReadInSMM: Bool { rawValue[bit: 15] }

    /// Bits 24:16: how many CR3-target values the VMCS holds.
    public var cr3TargetCount: Int { Int(rawValue[bits: 16...24]) }

    /// Bits 27:25 (N): the recommended maximum number of MSRs in each of the
    /// VM-exit MSR-store, VM-exit MSR-load and VM-entry MSR-load lists, 512 * (N + 1).
    public var maximumMSRListCount: Int { 512 * (Int(rawValue[bits: 25...27]) + 1) }

    /// Bit 28: bit 2 of IA32_SMM_MONITOR_CTL can be set (SMI blocking by VMXOFF).
    public var allowsSMIBlockingByVMXOFF: Bool { rawValue[bit: 28] }

    /// Bit 29: VMWRITE can write any supported field, VM-exit information included.
    public var allowsVMWRITEToExitInformation: Bool { rawValue[bit: 29] }

    /// Bit 30: VM entry can inject a software interrupt, software exception
    /// or privileged software exception with instruction length 0.
    public var allowsZeroLengthInjection: Bool { rawValue[bit: 30] }

    /// Bits 63:32: the MSEG revision identifier.
    public var msegRevisionID: UInt32 { UInt32(truncatingIfNeeded: rawValue[bits: 32...63]) }
}

/// The non-active activity states VM entry supports (IA32_VMX_MISC[8:6]).
public struct ActivityStates: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Activity state 1: HLT.
    public static let hlt = Self(rawValue: 1 << 0)
    /// Activity state 2: shutdown.
    public static let shutdown = Self(rawValue: 1 << 1)
    /// Activity state 3: wait-for-SIPI.
    public static let waitForSIPI = Self(rawValue: 1 << 2)
}
