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
        var text = Message()
        text.append("ACPI: ")
        switch self {
        case .rsdpNotFound(let ebdaBase):
            text.append("no RSDP in the EBDA at "); text.append(hex: ebdaBase)
            text.append(" or in 0xe0000-0xfffff")
        case .rsdpBadChecksum(let address):
            text.append("RSDP at "); text.append(hex: address); text.append(" has a bad checksum")
        case .rsdpBadLength(let address, let length):
            text.append("RSDP at "); text.append(hex: address)
            text.append(" has a bad length "); text.append(decimal: UInt64(length))
        case .rsdpBadExtendedChecksum(let address):
            text.append("RSDP at "); text.append(hex: address)
            text.append(" has a bad extended checksum")
        case .badSignature(let expected, let found, let address):
            text.append("expected "); text.append(expected); text.append(" at ")
            text.append(hex: address); text.append(", found "); text.append(found)
        case .badAddress(let signature, let address):
            text.append(signature); text.append(" pointer "); text.append(hex: address)
            text.append(" lies beyond physical memory")
        case .badLength(let signature, let address, let length):
            text.append(signature); text.append(" at "); text.append(hex: address)
            text.append(" has a bad length "); text.append(decimal: UInt64(length))
        case .badChecksum(let signature, let address):
            text.append(signature); text.append(" at "); text.append(hex: address)
            text.append(" has a bad checksum")
        case .noFADT(let root, let address):
            text.append("no FACP in the "); text.append(root); text.append(" at ")
            text.append(hex: address)
        case .noPM1aControlBlock(let fadtAddress):
            text.append("FACP at "); text.append(hex: fadtAddress)
            text.append(" has no PM1a control block")
        case .unusablePM1ControlBlock(let fadtAddress, let addressSpace, let address):
            text.append("FACP at "); text.append(hex: fadtAddress)
            text.append(": PM1 control block "); text.append(hex: address)
            text.append(" in address space "); text.append(decimal: UInt64(addressSpace))
            text.append(" is not a system I/O port")
        case .noDSDT(let fadtAddress):
            text.append("FACP at "); text.append(hex: fadtAddress); text.append(" has no DSDT address")
        case .noS5(let dsdtAddress):
            text.append("no _S5_ package in the DSDT at "); text.append(hex: dsdtAddress)
        case .malformedS5(let address):
            text.append("_S5_ at "); text.append(hex: address); text.append(" is not a package of integers")
        case .noMADT(let root, let address):
            text.append("no APIC (MADT) in the "); text.append(root); text.append(" at ")
            text.append(hex: address)
        case .malformedMADTEntry(let address, let type, let length):
            text.append("MADT structure at "); text.append(hex: address); text.append(" (type ")
            text.append(decimal: UInt64(type)); text.append(", length "); text.append(decimal: UInt64(length))
            text.append(") runs past the table or is too short")
        case .guestCopyTooLarge(let needed, let capacity):
            text.append("the guest's copy of the tables needs "); text.append(decimal: needed)
            text.append(" bytes, more than the "); text.append(decimal: capacity); text.append(" reserved")
        }
        return text
    }
}
