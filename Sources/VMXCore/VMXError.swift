import Primitives

/// Everything that stops VT-x bring-up or a VMX instruction. Thrown with
/// typed throws (`throws(VMXError)`): Embedded Swift has no `any Error`.
public enum VMXError: Error, Equatable, Sendable {
    /// CPUID.1:ECX.VMX[bit 5] = 0.
    case notSupported
    /// IA32_FEATURE_CONTROL is locked with "enable VMX outside SMX" clear.
    case featureControlLocked(FeatureControl)
    /// Required controls the capability MSR says must be 0.
    case controlNotAllowed(VMXControlSet, bits: UInt32, msr: MSR)
    /// A CR0/CR4 value that breaks the VMX-fixed bits.
    case fixedBitsViolation(ControlRegister, value: UInt64, FixedBitsViolations)
    /// A VMXON/VMCS region address that is not 4 KiB-aligned.
    case regionMisaligned(VMXRegion.Kind, address: UInt64)
    /// A VMXON/VMCS region address beyond the allowed physical-address bits.
    case regionAddressTooHigh(VMXRegion.Kind, address: UInt64, addressBits: Int)
    /// A VMCS policy no processor can satisfy (`VMCSControls.make`).
    case policyConflict(VMCSPolicyConflict)
    /// The pre-launch checker found a state the CPU would refuse. (Indirect:
    /// the failure holds its text, and every `throws(VMXError)` would
    /// otherwise carry that much.)
    indirect case entryCheckFailed(VMEntryCheckFailure)
    /// VMfailInvalid (CF = 1).
    case failInvalid
    /// VMfailValid (ZF = 1) with the VM-instruction error number.
    case failValid(VMInstructionError)

    /// One line, meant to follow "pxhv: error: ".
    public var message: Message {
        switch self {
        case .notSupported:
            return "VT-x not available (CPUID.1:ECX.VMX=0)"
        case .featureControlLocked(let value):
            return Message(
                template: "IA32_FEATURE_CONTROL (MSR 0x3a) is {hex}: locked with VMX disabled (bit 2, enable VMX outside SMX, is 0); enable VT-x (Intel Virtualization Technology) in the firmware setup",
                value.rawValue)
        case .controlNotAllowed(let set, let bits, let msr):
            return Message(
                vmxTemplate: "{name}: {controls} required but not allowed by {msr}", UInt64(bits), UInt64(msr.rawValue), 0, 0, name: set.title,
                controls: set)
        case .fixedBitsViolation(let register, let value, let violations):
            var text = Message(template: "{name} {hex} breaks the VMX-fixed bits:", value, name: register.name)
            if violations.mustBeOne != 0 { text.append(template: " must be 1: {hex}", violations.mustBeOne) }
            if violations.mustBeOne != 0 && violations.mustBeZero != 0 { text.append(",") }
            if violations.mustBeZero != 0 { text.append(template: " must be 0: {hex}", violations.mustBeZero) }
            return text
        case .regionMisaligned(let kind, let address):
            return Message(template: "{name} at {hex} is not 4 KiB-aligned", address, name: kind.name)
        case .regionAddressTooHigh(let kind, let address, let bits):
            return Message(
                template: "{name} at {hex} lies beyond the {dec}-bit physical-address limit", address, UInt64(bits), name: kind.name)
        case .policyConflict(let conflict):
            return Message(template: "VMCS policy: {name}", name: conflict.message)
        case .entryCheckFailed(let failure):
            var text: Message = "pre-launch check failed: "
            text.append(failure.message)
            return text
        case .failInvalid:
            return "VMX instruction failed: VMfailInvalid (CF=1: no current VMCS or invalid pointer)"
        case .failValid(let error):
            var text: Message = "VMX instruction failed: VMfailValid, "
            text.append(error.message)
            return text
        }
    }
}
