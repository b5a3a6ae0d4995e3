import Primitives

/// A VMX control word: an `OptionSet` over the 32 bits of one VMCS control field.
public protocol VMXControls: OptionSet, Hashable, Sendable where RawValue == UInt32 {
    /// Which control field this is (for capability MSRs and messages).
    static var controlSet: VMXControlSet { get }
}

/// The five 32-bit VMX control fields whose allowed settings a capability
/// MSR reports.
///
/// Intel SDM Vol. 3D, "Reserved Controls and Default Settings" (A.2 in rev. 84).
public enum VMXControlSet: Hashable, Sendable {
    case pinBased
    case primaryProcessorBased
    case secondaryProcessorBased
    case vmExit
    case vmEntry

    /// The SDM's name for the field, for messages.
    public var title: StaticString {
        switch self {
        case .pinBased: "pin-based VM-execution controls"
        case .primaryProcessorBased: "primary processor-based VM-execution controls"
        case .secondaryProcessorBased: "secondary processor-based VM-execution controls"
        case .vmExit: "VM-exit controls"
        case .vmEntry: "VM-entry controls"
        }
    }

    /// The capability MSR that always exists for this set (when the set does).
    public var capabilityMSR: MSR {
        switch self {
        case .pinBased: .vmxPinBasedControls
        case .primaryProcessorBased: .vmxPrimaryProcessorControls
        case .secondaryProcessorBased: .vmxSecondaryProcessorControls
        case .vmExit: .vmxExitControls
        case .vmEntry: .vmxEntryControls
        }
    }

    /// The IA32_VMX_TRUE_* MSR, used instead when IA32_VMX_BASIC[55] = 1.
    /// The secondary controls have none (they have no default1 bits).
    public var trueCapabilityMSR: MSR? {
        switch self {
        case .pinBased: .vmxTruePinBasedControls
        case .primaryProcessorBased: .vmxTruePrimaryProcessorControls
        case .secondaryProcessorBased: nil
        case .vmExit: .vmxTrueExitControls
        case .vmEntry: .vmxTrueEntryControls
        }
    }

    /// The default1 class: reserved bits that the non-TRUE MSR reports as
    /// must-be-1. A processor with TRUE MSRs may let some of them be 0.
    public var default1Bits: UInt32 {
        switch self {
        case .pinBased: 0x0000_0016  // bits 1, 2, 4
        case .primaryProcessorBased: 0x0401_E172  // bits 1, 4-6, 8, 13-16, 26
        case .secondaryProcessorBased: 0
        case .vmExit: 0x0003_6DFF  // bits 0-8, 10, 11, 13, 14, 16, 17
        case .vmEntry: 0x0000_11FF  // bits 0-8, 12
        }
    }

    /// The SDM's name for control `bit` of this set, or nil for a reserved bit.
    public func name(ofBit bit: Int) -> StaticString? {
        switch self {
        case .pinBased: PinBasedControls.name(ofBit: bit)
        case .primaryProcessorBased: PrimaryProcessorControls.name(ofBit: bit)
        case .secondaryProcessorBased: SecondaryProcessorControls.name(ofBit: bit)
        case .vmExit: VMExitControls.name(ofBit: bit)
        case .vmEntry: VMEntryControls.name(ofBit: bit)
        }
    }

    /// "enable EPT (bit 1), unrestricted guest (bit 7)"; reserved bits as "bit 21".
    public func describe(bits: UInt32) -> Message {
        var text = Message()
        var rest = bits
        while rest != 0 {
            let bit = rest.trailingZeroBitCount
            rest &= rest &- 1
            if text.count != 0 { text.append(", ") }
            let name = name(ofBit: bit)
            if let name {
                text.append(name)
                text.append(" (")
            }
            text.append("bit ")
            text.append(decimal: UInt64(bit))
            if name != nil { text.append(")") }
        }
        return text
    }
}

/// The allowed settings of one control field, as a capability MSR reports them.
///
/// Bits 31:0 are the allowed 0-settings: a 1 there means the control must
/// be 1. Bits 63:32 are the allowed 1-settings: a 0 there means the control
/// must be 0.
///
/// Intel SDM Vol. 3D, "VM-Execution Controls" (A.3 in rev. 84),
/// "VM-Exit Controls" (A.4 in rev. 84), "VM-Entry Controls" (A.5 in rev. 84).
public struct ControlCapability<Controls: VMXControls>: Hashable, Sendable {
    /// The MSR the value came from (a TRUE MSR when there is one).
    public var msr: MSR
    /// The 64-bit MSR value.
    public var rawValue: UInt64

    public init(msr: MSR, rawValue: UInt64) {
        self.msr = msr
        self.rawValue = rawValue
    }

    /// A capability that allows no control to be 1: what a set the
    /// processor lacks (the secondary controls without bit 31 of the
    /// primary allowed 1-settings) amounts to.
    public static var unsupported: Self {
        Self(msr: Controls.controlSet.capabilityMSR, rawValue: 0)
    }

    /// Bits 31:0, the allowed 0-settings: the controls that must be 1.
    public var allowed0: Controls { Controls(rawValue: UInt32(truncatingIfNeeded: rawValue[bits: 0...31])) }

    /// Bits 63:32, the allowed 1-settings: the controls that may be 1.
    public var allowed1: Controls { Controls(rawValue: UInt32(truncatingIfNeeded: rawValue[bits: 32...63])) }

    /// Whether every control in `controls` may be 1.
    public func allows(_ controls: Controls) -> Bool { allowed1.isSuperset(of: controls) }

    /// Whether every control in `controls` must be 1.
    public func requires(_ controls: Controls) -> Bool { allowed0.isSuperset(of: controls) }

    /// The control word to write: `required`, the members of `optional` the
    /// processor allows, and the controls it requires; restricted to what it
    /// allows. Throws `VMXError.controlNotAllowed` naming every required
    /// control that must be 0.
    ///
    /// With TRUE MSRs this is also the SDM's default1 rule: a default1
    /// control is left 0 only when the TRUE MSR's allowed 0-settings permit it.
    public func adjust(required: Controls, optional: Controls = []) throws(VMXError) -> Controls {
        let disallowed = required.subtracting(allowed1)
        guard disallowed.isEmpty else {
            throw .controlNotAllowed(Controls.controlSet, bits: disallowed.rawValue, msr: msr)
        }
        return required.union(optional.intersection(allowed1)).union(allowed0).intersection(allowed1)
    }
}
