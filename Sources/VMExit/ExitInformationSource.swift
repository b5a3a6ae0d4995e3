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

/// VMCS encodings the exit path uses besides the ones the protocol names.
///
/// Intel SDM Vol. 3D, "Field Encoding in VMCS" (Appendix B in rev. 84)
public enum ExitPathField {
    /// VM-exit instruction length (32-bit read-only): what `advance` adds to RIP.
    public static let exitInstructionLength: UInt32 = 0x440C
    /// VM-entry interruption-information field (32-bit control): `inject`.
    public static let entryInterruptionInformation: UInt32 = 0x4016
    /// VM-entry exception error code (32-bit control): `inject` with an error code.
    public static let entryExceptionErrorCode: UInt32 = 0x4018
    /// VM-exit interruption information (32-bit read-only).
    public static let exitInterruptionInformation: UInt32 = 0x4404
    /// VM-exit interruption error code (32-bit read-only).
    public static let exitInterruptionErrorCode: UInt32 = 0x4406
    /// Guest-linear address (natural-width read-only).
    public static let guestLinearAddress: UInt32 = 0x640A
    /// Guest RSP (natural-width guest state): the `GuestRegisters.rsp` slot.
    public static let guestRSP: UInt32 = 0x681C
    /// Guest RIP (natural-width guest state).
    public static let guestRIP: UInt32 = 0x681E
}
