import Primitives

/// The access-rights field of a guest segment register in the VMCS: the
/// descriptor's attribute bits as LAR returns them (shifted right by 8), plus
/// bit 16, "segment unusable".
///
/// Bits 3:0 type, 4 S (0 = system, 1 = code or data), 6:5 DPL, 7 P,
/// 11:8 reserved, 12 AVL, 13 L (64-bit code), 14 D/B, 15 G, 16 unusable,
/// 31:17 reserved.
///
/// Intel SDM Vol. 3C, "Guest Register State" (25.4.1 in rev. 84), table
/// "Format of Access Rights".
public struct SegmentAccessRights: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bits 3:0: the segment type (for code/data: bit 3 code, bit 2
    /// conforming/expand-down, bit 1 readable/writable, bit 0 accessed).
    public var type: UInt8 {
        get { UInt8(self[bits: 0...3]) }
        set { self[bits: 0...3] = UInt32(newValue) }
    }
    /// Type bit 0: accessed (code and data segments).
    public var isAccessed: Bool { self[bit: 0] }
    /// Type bit 1: readable (code) or writable (data).
    public var isReadableOrWritable: Bool { self[bit: 1] }
    /// Type bit 3: a code segment (code and data segments; see `isCodeOrData`).
    public var isCodeType: Bool { self[bit: 3] }
    /// Bit 4 (S): a code or data segment (1) rather than a system one (0).
    public var isCodeOrData: Bool {
        get { self[bit: 4] }
        set { self[bit: 4] = newValue }
    }
    /// Bits 6:5: descriptor privilege level.
    public var dpl: UInt8 {
        get { UInt8(self[bits: 5...6]) }
        set { self[bits: 5...6] = UInt32(newValue) }
    }
    /// Bit 7 (P): present.
    public var isPresent: Bool {
        get { self[bit: 7] }
        set { self[bit: 7] = newValue }
    }
    /// Bit 12 (AVL): available for system software.
    public var isAvailable: Bool {
        get { self[bit: 12] }
        set { self[bit: 12] = newValue }
    }
    /// Bit 13 (L): 64-bit code segment.
    public var is64BitCode: Bool {
        get { self[bit: 13] }
        set { self[bit: 13] = newValue }
    }
    /// Bit 14 (D/B): default operation size 32 bits (code) / big (stack).
    public var isDefault32Bit: Bool {
        get { self[bit: 14] }
        set { self[bit: 14] = newValue }
    }
    /// Bit 15 (G): the limit counts 4 KiB units.
    public var isGranular: Bool {
        get { self[bit: 15] }
        set { self[bit: 15] = newValue }
    }
    /// Bit 16: segment unusable (a null selector was loaded).
    public var isUnusable: Bool {
        get { self[bit: 16] }
        set { self[bit: 16] = newValue }
    }
    /// Bits 11:8 and 31:17, which must be 0.
    public var reservedBits: UInt32 { rawValue & 0xFFFE_0F00 }

    /// 0x93: present, DPL 0, read/write data, accessed (real mode and flat 16-bit data).
    public static let realModeData = Self(rawValue: 0x93)
    /// 0x9B: present, DPL 0, execute/read code, accessed (real-mode code).
    public static let realModeCode = Self(rawValue: 0x9B)
    /// 0xA09B: 64-bit code (L = 1, D = 0, G = 1), DPL 0, execute/read, accessed.
    public static let code64 = Self(rawValue: 0xA09B)
    /// 0xC09B: flat 32-bit code (D = 1, G = 1), DPL 0, execute/read, accessed.
    public static let code32 = Self(rawValue: 0xC09B)
    /// 0xC093: flat 32-bit data (D/B = 1, G = 1), DPL 0, read/write, accessed.
    public static let flatData = Self(rawValue: 0xC093)
    /// 0x8B: present busy TSS (type 11: 32-bit busy TSS, or 64-bit in IA-32e mode), S = 0.
    public static let busyTSS = Self(rawValue: 0x8B)
    /// 0x82: present LDT (type 2), S = 0.
    public static let ldt = Self(rawValue: 0x82)
    /// 0x10000: unusable.
    public static let unusable = Self(rawValue: 1 << 16)
}
