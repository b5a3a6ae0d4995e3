import EPT

/// EPT violations (NPT faults later): the guest's map has no holes it may
/// touch, so every fault ends the guest; the report says which kind.
///
/// - Inside `hiddenMemory` (the hypervisor's own memory, unmapped in EPT):
///   `hypervisorMemoryAccess`.
/// - Anywhere else: `unmappedAccess`.
public struct NestedPageFaultPolicy: Equatable, Sendable {
    public var hiddenMemory: PhysicalRange

    public init(hiddenMemory: PhysicalRange) {
        self.hiddenMemory = hiddenMemory
    }

    public func handle(_ fault: NestedPageFault) -> ExitAction {
        hiddenMemory.contains(fault.guestPhysicalAddress)
            ? .stopGuest(.hypervisorMemoryAccess(fault))
            : .stopGuest(.unmappedAccess(fault))
    }
}
