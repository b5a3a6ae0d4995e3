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
}
