/// Where a decoder reads the VM-exit information fields.
///
/// The hypervisor conforms over its VMCS accessor (one VMREAD per call, so
/// the decoder calls only what the exit needs); tests conform with a struct.
///
/// Intel SDM Vol. 3C, "VM-Exit Information Fields" (25.9 in rev. 84)
public protocol ExitInformationSource {
    /// Exit reason, VMCS encoding 0x4402.
    func exitReason() -> UInt32
    /// Exit qualification, VMCS encoding 0x6400.
    func exitQualification() -> UInt64
    /// Guest-physical address, VMCS encoding 0x2400 (EPT exits).
    func guestPhysicalAddress() -> UInt64
    /// VM-exit interruption information, VMCS encoding 0x4404 (exception or
    /// NMI exits).
    func interruptionInformation() -> UInt32
    /// VM-exit interruption error code, VMCS encoding 0x4406 (read only when
    /// the interruption information says the error code is valid).
    func interruptionErrorCode() -> UInt32
    /// Guest-linear address, VMCS encoding 0x640A (EPT violations that say
    /// it is valid).
    func guestLinearAddress() -> UInt64
    /// Guest RIP, VMCS guest-state encoding 0x681E (read for EPT violations,
    /// for the report).
    func guestRIP() -> UInt64
}
