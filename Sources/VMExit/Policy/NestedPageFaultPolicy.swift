import EPT

/// EPT violations (NPT faults later): the guest's map has no holes it may
/// touch, so every fault ends the guest; the report says which kind.
///
/// - A write to the local APIC's page while it is trapped (a guest whose
///   INIT and STARTUP the hypervisor delivers: the nested tables map that
///   page read-only): `emulateLocalAPICWrite`.
/// - Inside `hiddenMemory` (the hypervisor's own memory, unmapped in EPT):
///   `hypervisorMemoryAccess`.
/// - Anywhere else: `unmappedAccess`.
public struct NestedPageFaultPolicy: Equatable, Sendable {
    public var hiddenMemory: PhysicalRange
    /// The xAPIC page (4 KiB aligned) whose writes exit to be emulated, or
    /// nil when the guest writes the local APIC directly.
    public var localAPICPage: UInt64?

    public init(hiddenMemory: PhysicalRange, localAPICPage: UInt64? = nil) {
        self.hiddenMemory = hiddenMemory
        self.localAPICPage = localAPICPage
    }

    public func handle(_ fault: NestedPageFault) -> ExitAction {
        if let page = localAPICPage, fault.access == .write, fault.guestPhysicalAddress & ~0xFFF == page {
            return .emulateLocalAPICWrite(fault)
        }
        return hiddenMemory.contains(fault.guestPhysicalAddress)
            ? .stopGuest(.hypervisorMemoryAccess(fault))
            : .stopGuest(.unmappedAccess(fault))
    }
}
