import Primitives

/// Everything that stops an SVM guest from running, as the hypervisor
/// reports it. Thrown with typed throws (`throws(SVMError)`): Embedded
/// Swift has no `any Error`.
public enum SVMError: Error, Hashable, Sendable {
    /// The pre-VMRUN checker found a state VMRUN would refuse.
    case entryCheckFailed(VMRUNCheckFailure)
    /// VMRUN came back with #VMEXIT VMEXIT_INVALID (or another exit code
    /// that means the guest never ran, e.g. VMEXIT_BUSY, -2).
    case vmrunFailed(exitCode: UInt64)
    /// No page could be allocated for the guest's VMCB.
    case noPageForVMCB
    /// No page could be allocated for the host save area (VM_HSAVE_PA).
    case noPageForHostSaveArea

    /// One line, meant to follow "pxhv: error: ".
    public var message: Message {
        switch self {
        case .entryCheckFailed(let failure):
            return failure.message
        case .vmrunFailed(let exitCode):
            if exitCode == VMRUNChecker.exitCodeInvalid {
                return Message(template: "svm: VMRUN failed: #VMEXIT(VMEXIT_INVALID, exit code {hex}): illegal guest state the pre-VMRUN check missed",
                            UInt64(truncatingIfNeeded: exitCode))
            }
            return Message(template: "svm: VMRUN failed: #VMEXIT with exit code {hex} before the guest ran",
                        UInt64(truncatingIfNeeded: exitCode))
        case .noPageForVMCB:
            return "svm: no free page for the VMCB (4 KiB, 4 KiB-aligned)"
        case .noPageForHostSaveArea:
            return "svm: no free page for the host save area (VM_HSAVE_PA, 4 KiB)"
        }
    }
}
