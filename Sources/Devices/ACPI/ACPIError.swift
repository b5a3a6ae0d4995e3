import Primitives
/// Why ACPI power-off discovery failed; `description` is one line naming
/// what failed and where, e.g. "ACPI: RSDT at 0x1FFF0000 has a bad checksum".
public enum ACPIError: Error, Hashable, Sendable {
    /// No "RSD PTR " signature in the first KiB of the EBDA (`ebdaBase`,
    /// 0 when the BDA holds no EBDA segment) nor in 0xe0000-0xfffff.
    case rsdpNotFound(ebdaBase: UInt64)
    /// The first 20 bytes of the RSDP at `address` do not sum to 0.
    case rsdpBadChecksum(address: UInt64)
    /// Revision >= 2 and the RSDP's Length field is below 36.
    case rsdpBadLength(address: UInt64, length: UInt32)
    /// Revision >= 2 and the whole RSDP (Length bytes) does not sum to 0.
    case rsdpBadExtendedChecksum(address: UInt64)
    /// The table at `address` does not carry the `expected` signature.
    case badSignature(expected: ACPISignature, found: ACPISignature, address: UInt64)
    /// A pointer to the table lies beyond any physical address
    /// (`SystemDescriptionTable.physicalAddressLimit`).
    case badAddress(signature: ACPISignature, address: UInt64)
    /// The table's Length is below its header (or fixed part), or absurd.
    case badLength(signature: ACPISignature, address: UInt64, length: UInt32)
    /// The table's bytes do not sum to 0.
    case badChecksum(signature: ACPISignature, address: UInt64)
    /// The root table lists no "FACP".
    case noFADT(root: ACPISignature, address: UInt64)
    /// The FADT has neither PM1a_CNT_BLK nor X_PM1a_CNT_BLK.
    case noPM1aControlBlock(fadtAddress: UInt64)
    /// A PM1 control block that is not a 16-bit system I/O port.
    case unusablePM1ControlBlock(fadtAddress: UInt64, addressSpace: UInt8, address: UInt64)
    /// The FADT has neither DSDT nor X_DSDT.
    case noDSDT(fadtAddress: UInt64)
    /// No `Name (_S5_, Package ...)` in the DSDT's AML.
    case noS5(dsdtAddress: UInt64)
    /// `_S5_` at `address` is not a package starting with integers.
    case malformedS5(address: UInt64)
    /// The root table lists no "APIC".
    case noMADT(root: ACPISignature, address: UInt64)
    /// An MADT structure shorter than 2 bytes or running past the table.
    case malformedMADTEntry(address: UInt64, type: UInt8, length: UInt8)
    /// The guest's copy of the tables does not fit in the space given.
    case guestCopyTooLarge(needed: UInt64, capacity: UInt64)

    public var message: Message {
        switch self {
        case .rsdpNotFound(let ebdaBase):
            Message(template: "ACPI: no RSDP in the EBDA at {hex} or in 0xe0000-0xfffff", ebdaBase)
        case .rsdpBadChecksum(let address):
            Message(template: "ACPI: RSDP at {hex} has a bad checksum", address)
        case .rsdpBadLength(let address, let length):
            Message(template: "ACPI: RSDP at {hex} has a bad length {dec}", address, UInt64(length))
        case .rsdpBadExtendedChecksum(let address):
            Message(template: "ACPI: RSDP at {hex} has a bad extended checksum", address)
        case .badSignature(let expected, let found, let address):
            Message(acpiTemplate: "ACPI: expected {signature} at {hex}, found {signature}", expected, address, UInt64(found.rawValue))
        case .badAddress(let signature, let address):
            Message(acpiTemplate: "ACPI: {signature} pointer {hex} lies beyond physical memory", signature, address, 0)
        case .badLength(let signature, let address, let length):
            Message(acpiTemplate: "ACPI: {signature} at {hex} has a bad length {dec}", signature, address, UInt64(length))
        case .badChecksum(let signature, let address):
            Message(acpiTemplate: "ACPI: {signature} at {hex} has a bad checksum", signature, address, 0)
        case .noFADT(let root, let address):
            Message(acpiTemplate: "ACPI: no FACP in the {signature} at {hex}", root, address, 0)
        case .noPM1aControlBlock(let fadtAddress):
            Message(template: "ACPI: FACP at {hex} has no PM1a control block", fadtAddress)
        case .unusablePM1ControlBlock(let fadtAddress, let addressSpace, let address):
            Message(
                template: "ACPI: FACP at {hex}: PM1 control block {hex} in address space {dec} is not a system I/O port",
                fadtAddress, address, UInt64(addressSpace))
        case .noDSDT(let fadtAddress):
            Message(template: "ACPI: FACP at {hex} has no DSDT address", fadtAddress)
        case .noS5(let dsdtAddress):
            Message(template: "ACPI: no _S5_ package in the DSDT at {hex}", dsdtAddress)
        case .malformedS5(let address):
            Message(template: "ACPI: _S5_ at {hex} is not a package of integers", address)
        case .noMADT(let root, let address):
            Message(acpiTemplate: "ACPI: no APIC (MADT) in the {signature} at {hex}", root, address, 0)
        case .malformedMADTEntry(let address, let type, let length):
            Message(
                template: "ACPI: MADT structure at {hex} (type {dec}, length {dec}) runs past the table or is too short",
                address, UInt64(type), UInt64(length))
        case .guestCopyTooLarge(let needed, let capacity):
            Message(template: "ACPI: the guest's copy of the tables needs {dec} bytes, more than the {dec} reserved", needed, capacity)
        }
    }
}

extension Message {
    /// `template` with `{signature}` placeholders beside the shared ones
    /// (Primitives' `Message(template:)`): the first value is `signature`,
    /// a later `{signature}` takes its value as a signature's raw value.
    @inline(never)
    init(acpiTemplate template: StaticString, _ signature: ACPISignature, _ second: UInt64, _ third: UInt64) {
        self.init()
        let bytes = UnsafeRawBufferPointer(start: template.utf8Start, count: template.utf8CodeUnitCount)
        var values = TemplateValues(UInt64(signature.rawValue), second, third)
        var index = 0
        while append(template: bytes, from: &index, values: &values, name: nil) != nil {
            append(ACPISignature(rawValue: UInt32(truncatingIfNeeded: values.next())))
        }
    }
}
