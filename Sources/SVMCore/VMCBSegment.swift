import Primitives
import VMXCore

/// The attribute word of a segment in the VMCB: the descriptor's attribute
/// bits packed into 12 bits, bits 7:0 from bits 15:8 of the descriptor's
/// high dword and bits 11:8 from its bits 23:20.
///
/// Bits 3:0 type, 4 S, 6:5 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G, 15:12 reserved.
/// VMX's access rights hold the same bits unpacked (11:8 at 15:12) plus
/// "unusable" at bit 16; SVM has no unusable bit (a null segment is one
/// with P = 0).
///
/// AMD APM Vol. 2, "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42)
/// and "Segment State in the VMCB" (15.5.1 in rev. 3.42).
public struct SVMSegmentAttributes: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// From VMX access rights: bits 7:0 kept, 15:12 moved to 11:8; an
    /// unusable segment becomes 0 (not present).
    public init(_ accessRights: SegmentAccessRights) {
        if accessRights.isUnusable {
            rawValue = 0
        } else {
            let rights = accessRights.rawValue
            rawValue = UInt16(truncatingIfNeeded: (rights & 0xFF) | (rights >> 4 & 0xF00))
        }
    }

    /// The same bits as VMX access rights (P = 0 reads as unusable).
    public var accessRights: SegmentAccessRights {
        guard isPresent else { return .unusable }
        let raw = UInt32(rawValue)
        return SegmentAccessRights(rawValue: (raw & 0xFF) | (raw & 0xF00) << 4)
    }

    /// Bits 3:0: the segment type.
    public var type: UInt8 { UInt8(self[bits: 0...3]) }
    /// Bit 4 (S): a code or data segment (1) rather than a system one (0).
    public var isCodeOrData: Bool { self[bit: 4] }
    /// Bits 6:5: descriptor privilege level.
    public var dpl: UInt8 { UInt8(self[bits: 5...6]) }
    /// Bit 7 (P): present.
    public var isPresent: Bool { self[bit: 7] }
    /// Bit 8 (AVL).
    public var isAvailable: Bool { self[bit: 8] }
    /// Bit 9 (L): 64-bit code segment.
    public var is64BitCode: Bool { self[bit: 9] }
    /// Bit 10 (D/B): default operand size 32 bits.
    public var isDefault32Bit: Bool { self[bit: 10] }
    /// Bit 11 (G): the limit counts 4 KiB units.
    public var isGranular: Bool { self[bit: 11] }
}

/// A segment register as the VMCB holds it (also GDTR and IDTR, whose
/// selector and attributes are unused).
///
/// AMD APM Vol. 2, "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42).
public struct VMCBSegment: Hashable, Sendable {
    public var selector: UInt16
    public var attributes: SVMSegmentAttributes
    public var limit: UInt32
    public var base: UInt64

    public init(selector: UInt16 = 0, attributes: SVMSegmentAttributes = SVMSegmentAttributes(rawValue: 0), limit: UInt32, base: UInt64) {
        self.selector = selector
        self.attributes = attributes
        self.limit = limit
        self.base = base
    }

    /// The VMX form of the same segment: the attributes converted (see
    /// `SVMSegmentAttributes.init(_:)`), selector, base and limit kept.
    public init(_ segment: SegmentRegister) {
        self.init(selector: segment.selector, attributes: SVMSegmentAttributes(segment.accessRights), limit: segment.limit, base: segment.base)
    }

    /// GDTR or IDTR: base and limit.
    public init(_ table: DescriptorTableRegister) {
        self.init(limit: table.limit, base: table.base)
    }
}
