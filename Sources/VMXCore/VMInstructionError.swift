import Primitives

/// A VM-instruction error number, from the current VMCS after VMfailValid.
///
/// Open: numbers the table does not list decode as "reserved". The number is
/// in the VMCS field `VMCS.vmInstructionError`.
///
/// Intel SDM Vol. 3C, "VM Instruction Error Numbers" (31.4 in rev. 84).
public struct VMInstructionError: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// 1: VMCALL executed in VMX root operation.
    public static let vmcallInVMXRootOperation = Self(rawValue: 1)
    /// 2: VMCLEAR with invalid physical address.
    public static let vmclearInvalidAddress = Self(rawValue: 2)
    /// 3: VMCLEAR with VMXON pointer.
    public static let vmclearWithVMXONPointer = Self(rawValue: 3)
    /// 4: VMLAUNCH with non-clear VMCS.
    public static let vmlaunchNonClearVMCS = Self(rawValue: 4)
    /// 5: VMRESUME with non-launched VMCS.
    public static let vmresumeNonLaunchedVMCS = Self(rawValue: 5)
    /// 6: VMRESUME after VMXOFF.
    public static let vmresumeAfterVMXOFF = Self(rawValue: 6)
    /// 7: VM entry with invalid control field(s).
    public static let entryWithInvalidControlFields = Self(rawValue: 7)
    /// 8: VM entry with invalid host-state field(s).
    public static let entryWithInvalidHostStateFields = Self(rawValue: 8)
    /// 9: VMPTRLD with invalid physical address.
    public static let vmptrldInvalidAddress = Self(rawValue: 9)
    /// 10: VMPTRLD with VMXON pointer.
    public static let vmptrldWithVMXONPointer = Self(rawValue: 10)
    /// 11: VMPTRLD with incorrect VMCS revision identifier.
    public static let vmptrldIncorrectRevisionID = Self(rawValue: 11)
    /// 12: VMREAD/VMWRITE from/to unsupported VMCS component.
    public static let unsupportedVMCSComponent = Self(rawValue: 12)
    /// 13: VMWRITE to read-only VMCS component.
    public static let vmwriteReadOnlyComponent = Self(rawValue: 13)
    /// 15: VMXON executed in VMX root operation.
    public static let vmxonInVMXRootOperation = Self(rawValue: 15)
    /// 16: VM entry with invalid executive-VMCS pointer.
    public static let entryWithInvalidExecutiveVMCSPointer = Self(rawValue: 16)
    /// 17: VM entry with non-launched executive VMCS.
    public static let entryWithNonLaunchedExecutiveVMCS = Self(rawValue: 17)
    /// 18: VM entry with executive-VMCS pointer not VMXON pointer.
    public static let entryWithExecutiveVMCSPointerNotVMXONPointer = Self(rawValue: 18)
    /// 19: VMCALL with non-clear VMCS.
    public static let vmcallNonClearVMCS = Self(rawValue: 19)
    /// 20: VMCALL with invalid VM-exit control fields.
    public static let vmcallInvalidExitControlFields = Self(rawValue: 20)
    /// 22: VMCALL with incorrect MSEG revision identifier.
    public static let vmcallIncorrectMSEGRevisionID = Self(rawValue: 22)
    /// 23: VMXOFF under dual-monitor treatment of SMIs and SMM.
    public static let vmxoffUnderDualMonitorTreatment = Self(rawValue: 23)
    /// 24: VMCALL with invalid SMM-monitor features.
    public static let vmcallInvalidSMMMonitorFeatures = Self(rawValue: 24)
    /// 25: VM entry with invalid VM-execution control fields in executive VMCS.
    public static let entryWithInvalidExecutiveVMCSControls = Self(rawValue: 25)
    /// 26: VM entry with events blocked by MOV SS.
    public static let entryWithEventsBlockedByMOVSS = Self(rawValue: 26)
    /// 28: Invalid operand to INVEPT/INVVPID.
    public static let invalidINVEPTINVVPIDOperand = Self(rawValue: 28)

    /// The SDM's descriptions, by number.
    static let descriptions: InlineArray<25, (UInt32, StaticString)> = [
        (1, "VMCALL executed in VMX root operation"),
        (2, "VMCLEAR with invalid physical address"),
        (3, "VMCLEAR with VMXON pointer"),
        (4, "VMLAUNCH with non-clear VMCS"),
        (5, "VMRESUME with non-launched VMCS"),
        (6, "VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)"),
        (7, "VM entry with invalid control field(s)"),
        (8, "VM entry with invalid host-state field(s)"),
        (9, "VMPTRLD with invalid physical address"),
        (10, "VMPTRLD with VMXON pointer"),
        (11, "VMPTRLD with incorrect VMCS revision identifier"),
        (12, "VMREAD/VMWRITE from/to unsupported VMCS component"),
        (13, "VMWRITE to read-only VMCS component"),
        (15, "VMXON executed in VMX root operation"),
        (16, "VM entry with invalid executive-VMCS pointer"),
        (17, "VM entry with non-launched executive VMCS"),
        (18, "VM entry with executive-VMCS pointer not VMXON pointer (when attempting to deactivate the dual-monitor treatment of SMIs and SMM)"),
        (19, "VMCALL with non-clear VMCS (when attempting to activate the dual-monitor treatment of SMIs and SMM)"),
        (20, "VMCALL with invalid VM-exit control fields"),
        (22, "VMCALL with incorrect MSEG revision identifier (when attempting to activate the dual-monitor treatment of SMIs and SMM)"),
        (23, "VMXOFF under dual-monitor treatment of SMIs and SMM"),
        (24, "VMCALL with invalid SMM-monitor features (when attempting to activate the dual-monitor treatment of SMIs and SMM)"),
        (25, "VM entry with invalid VM-execution control fields in executive VMCS (when attempting to return from SMM)"),
        (26, "VM entry with events blocked by MOV SS"),
        (28, "Invalid operand to INVEPT/INVVPID"),
    ]

    /// The SDM's description, or nil for a reserved number (0, 14, 21, 27, > 28).
    public var sdmDescription: StaticString? { lookUpName(rawValue, in: Self.descriptions.span) }

    /// "VM-instruction error 7: VM entry with invalid control field(s)".
    public var message: Message {
        Message(template: "VM-instruction error {dec}: {name}", UInt64(rawValue), name: sdmDescription ?? "reserved")
    }
}
