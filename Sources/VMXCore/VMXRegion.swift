import Primitives

/// The layout of a VMXON region or a VMCS region, and its placement rules.
///
/// Both are `size` bytes (IA32_VMX_BASIC[44:32]) at a 4 KiB-aligned physical
/// address that fits the physical-address width, and within 32 bits when
/// IA32_VMX_BASIC[48] = 1. The first 4 bytes hold the VMCS revision
/// identifier (bits 30:0); bit 31 is 0, except in a shadow VMCS where it is 1.
/// The rest starts zeroed (for a VMCS, bytes 4-7 are the VMX-abort indicator).
///
/// Intel SDM Vol. 3C, "VMXON Region" (25.11.5 in rev. 84) and
/// "Format of the VMCS Region" (25.2 in rev. 84).
public struct VMXRegion: Hashable, Sendable {
    /// What the region is for.
    public enum Kind: Hashable, Sendable {
        case vmxon
        case vmcs
        case shadowVMCS

        /// "VMXON region", "VMCS region", "shadow VMCS region".
        public var name: StaticString {
            switch self {
            case .vmxon: "VMXON region"
            case .vmcs: "VMCS region"
            case .shadowVMCS: "shadow VMCS region"
            }
        }
    }

    /// Every region starts on a 4 KiB boundary.
    public static let alignment: UInt64 = 4096

    public var kind: Kind
    /// Bits 30:0 of IA32_VMX_BASIC.
    public var revisionID: UInt32
    /// Bytes to reserve (IA32_VMX_BASIC[44:32]).
    public var size: Int
    /// IA32_VMX_BASIC[48]: the region must lie below 4 GiB.
    public var limitsAddressesTo32Bits: Bool

    public init(_ kind: Kind, basic: VMXBasic) {
        self.kind = kind
        self.revisionID = basic.revisionID
        self.size = basic.regionSize
        self.limitsAddressesTo32Bits = basic.limitsAddressesTo32Bits
    }

    /// The first 32 bits of the region: the revision identifier, with bit 31
    /// set only for a shadow VMCS.
    public var header: UInt32 {
        var header: UInt32 = 0
        header[bits: 0...30] = revisionID
        header[bit: 31] = kind == .shadowVMCS
        return header
    }

    /// Checks that the region may be placed at physical `address`:
    /// 4 KiB-aligned, and below 2^`physicalAddressWidth` (CPUID.80000008H:EAX[7:0],
    /// at most 52), or below 4 GiB when IA32_VMX_BASIC[48] = 1.
    public func validate(address: UInt64, physicalAddressWidth: Int = 52) throws(VMXError) {
        guard address % Self.alignment == 0 else { throw .regionMisaligned(kind, address: address) }
        let width = limitsAddressesTo32Bits ? min(physicalAddressWidth, 32) : physicalAddressWidth
        guard width >= 64 || address >> UInt64(width) == 0 else {
            throw .regionAddressTooHigh(kind, address: address, addressBits: width)
        }
    }

    /// Writes the region: `size` bytes at `memory`, zero except the header
    /// (little-endian) in the first 4 bytes.
    public func initialize(_ memory: UnsafeMutableRawPointer) {
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        memory.storeBytes(of: header.littleEndian, as: UInt32.self)
    }
}
