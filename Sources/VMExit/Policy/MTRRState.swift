import VMXCore

/// One guest's memory type range registers: IA32_MTRRCAP (read-only),
/// IA32_MTRR_DEF_TYPE, the 11 fixed-range and the variable-range MTRRs.
///
/// Kept per guest, started from the host's values, validated as the CPU
/// validates a WRMSR (a reserved bit or an undefined memory type is #GP(0)),
/// and never written to the hardware: the real MTRRs set the host's memory
/// types too. `memoryType(ofAlignedRange:size:)` says what the guest's MTRRs
/// make of a range: the hypervisor writes that into each EPT leaf
/// (`EPTMemoryTypes.retype`) whenever `MSRPolicy.mtrrGeneration` moves.
///
/// Intel SDM Vol. 3A, "Memory Type Range Registers (MTRRs)" (13.11 in rev. 84)
public struct MTRRState: Sendable {
    /// Variable ranges kept (IA32_MTRRCAP.VCNT is clipped to this).
    public static let variableRangeCapacity = 16
    /// The fixed-range MTRRs in address order: FIX64K_00000, FIX16K_80000,
    /// FIX16K_A0000, FIX4K_C0000 ... FIX4K_F8000.
    public static let fixedRangeMSRs: InlineArray<11, UInt32> = [
        0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F,
    ]
    /// IA32_MTRR_PHYSBASE0; PHYSMASKn is PHYSBASEn + 1, PHYSBASEn is 0x200 + 2n.
    public static let firstVariableRangeMSR: UInt32 = 0x200

    /// IA32_MTRRCAP as the guest reads it: VCNT (clipped), FIX and WC; SMRR
    /// and PRMRR cleared (their MSRs raise #GP in the guest).
    public private(set) var capabilities: MTRRCapabilities
    /// IA32_MTRR_DEF_TYPE: type in bits 7:0, FE bit 10, E bit 11.
    public private(set) var defaultType: UInt64 = 0
    public private(set) var fixed: InlineArray<11, UInt64> = InlineArray(repeating: 0)
    /// PHYSBASEn at 2n, PHYSMASKn at 2n + 1.
    public private(set) var variable: InlineArray<32, UInt64> = InlineArray(repeating: 0)
    /// MAXPHYADDR (CPUID.80000008H:EAX[7:0]): PHYSBASE/PHYSMASK bits at and
    /// above it are reserved.
    public let physicalAddressWidth: UInt8

    /// All ranges disabled (E = 0: everything UC), as after reset.
    public init(capabilities: MTRRCapabilities, physicalAddressWidth: UInt8) {
        var caps = capabilities
        caps.rawValue &= MTRRCapabilities.guestVisibleBits
        if caps.variableRangeCount > Self.variableRangeCapacity {
            caps.rawValue = caps.rawValue & ~0xFF | UInt64(Self.variableRangeCapacity)
        }
        self.capabilities = caps
        self.physicalAddressWidth = physicalAddressWidth
    }

    /// The host's MTRRs as they are now (only those `capabilities` has).
    public init<M: MSRAccess>(reading msrs: M, physicalAddressWidth: UInt8, hasMTRRs: Bool) {
        self.init(capabilities: MTRRCapabilities(rawValue: hasMTRRs ? msrs.read(.mtrrCapabilities) : 0),
                  physicalAddressWidth: physicalAddressWidth)
        guard hasMTRRs else { return }
        defaultType = msrs.read(.mtrrDefaultType)
        if capabilities.hasFixedRanges {
            for index in 0..<11 { fixed[index] = msrs.read(MSR(Self.fixedRangeMSRs[index])) }
        }
        for index in 0..<(2 * capabilities.variableRangeCount) {
            variable[index] = msrs.read(MSR(Self.firstVariableRangeMSR + UInt32(index)))
        }
    }

    // MARK: - RDMSR / WRMSR

    /// True for the MSRs this state answers (whether or not the guest's
    /// MTRRCAP has them: see `read`).
    public static func isMTRR(_ msr: MSR) -> Bool {
        let number = msr.rawValue
        return number == MSR.mtrrCapabilities.rawValue || number == MSR.mtrrDefaultType.rawValue
            || fixedIndex(of: number) != nil
            || (number >= firstVariableRangeMSR && number < firstVariableRangeMSR + 2 * UInt32(variableRangeCapacity))
    }

    /// The MSR's value, or nil (#GP) for an MTRR this CPU lacks. Inlined
    /// into the exit path's callers: out of line it would copy `self`.
    @inline(__always)
    public func read(_ msr: MSR) -> UInt64? {
        let number = msr.rawValue
        if number == MSR.mtrrCapabilities.rawValue { return capabilities.rawValue }
        if number == MSR.mtrrDefaultType.rawValue { return defaultType }
        if let index = Self.fixedIndex(of: number) {
            return capabilities.hasFixedRanges ? fixed[index] : nil
        }
        if let index = variableIndex(of: number) { return variable[index] }
        return nil
    }

    /// Stores `value` and returns true, or returns false (#GP(0)) when the
    /// MSR is read-only or absent, or `value` sets a reserved bit or names
    /// an undefined memory type.
    public mutating func write(_ msr: MSR, value: UInt64) -> Bool {
        guard isValidWrite(msr, value: value) else { return false }
        let number = msr.rawValue
        if number == MSR.mtrrDefaultType.rawValue {
            defaultType = value
        } else if let index = Self.fixedIndex(of: number) {
            fixed[index] = value
        } else if let index = variableIndex(of: number) {
            variable[index] = value
        }
        return true
    }

    /// The checks of `write`.
    public func isValidWrite(_ msr: MSR, value: UInt64) -> Bool {
        let number = msr.rawValue
        if number == MSR.mtrrDefaultType.rawValue {
            // Type 7:0, FE 10, E 11; FE only with fixed ranges.
            var allowed: UInt64 = 0xCFF
            if !capabilities.hasFixedRanges { allowed &= ~(1 << 10) }
            return value & ~allowed == 0 && isValidType(UInt8(truncatingIfNeeded: value))
        }
        if Self.fixedIndex(of: number) != nil {
            guard capabilities.hasFixedRanges else { return false }
            for byte in 0..<8 where !isValidType(UInt8(truncatingIfNeeded: value >> UInt64(8 * byte))) {
                return false
            }
            return true
        }
        if let index = variableIndex(of: number) {
            let addressBits = physicalAddressMask & ~0xFFF
            if index % 2 == 0 {
                // PHYSBASE: type 7:0, base MAXPHYADDR-1:12; 11:8 reserved.
                return value & ~(addressBits | 0xFF) == 0 && isValidType(UInt8(truncatingIfNeeded: value))
            }
            // PHYSMASK: V bit 11, mask MAXPHYADDR-1:12; 10:0 reserved.
            return value & ~(addressBits | 1 << 11) == 0
        }
        return false  // IA32_MTRRCAP is read-only; anything else is no MTRR
    }

    /// UC, WT, WP, WB, and WC when MTRRCAP.WC says so; 2, 3 and 7-255 are
    /// undefined.
    public func isValidType(_ type: UInt8) -> Bool {
        switch MemoryType(rawValue: type) {
        case .uncacheable, .writeThrough, .writeProtected, .writeBack: true
        case .writeCombining: capabilities.hasWriteCombining
        default: false
        }
    }

    static func fixedIndex(of number: UInt32) -> Int? {
        for index in 0..<11 where fixedRangeMSRs[index] == number { return index }
        return nil
    }

    func variableIndex(of number: UInt32) -> Int? {
        guard number >= Self.firstVariableRangeMSR else { return nil }
        let index = Int(number - Self.firstVariableRangeMSR)
        return index < 2 * capabilities.variableRangeCount ? index : nil
    }

    var physicalAddressMask: UInt64 {
        physicalAddressWidth >= 64 ? .max : (1 << UInt64(physicalAddressWidth)) - 1
    }

    // MARK: - Memory types

    /// The memory type of one physical address.
    ///
    /// Intel SDM Vol. 3A, "MTRR Precedences" (13.11.4.1 in rev. 84)
    public func memoryType(at address: UInt64) -> MemoryType {
        memoryType(ofAlignedRange: address & ~0xFFF, size: 0x1000) ?? .uncacheable
    }

    /// The one memory type of every byte of `[start, start + size)`, or nil
    /// when the range holds more than one (then split it). `size` is a power
    /// of two of at least 4 KiB and `start` a multiple of it (an EPT leaf).
    ///
    /// MTRRs disabled (E = 0): UC. Below 1 MiB with fixed ranges enabled
    /// (FE): the fixed ranges. Else the variable ranges that match: none, the
    /// default type; one, its type; several, UC if one is UC, WT if they are
    /// WT and WB, their type if all agree, else UC (the SDM leaves the
    /// combination undefined; UC is the safe reading).
    ///
    /// Intel SDM Vol. 3A, "MTRR Precedences" (13.11.4.1 in rev. 84)
    public func memoryType(ofAlignedRange start: UInt64, size: UInt64) -> MemoryType? {
        precondition(size >= 0x1000 && size & (size - 1) == 0 && start & (size - 1) == 0,
                     "an aligned power-of-two range")
        guard defaultType & (1 << 11) != 0 else { return .uncacheable }
        let oneMiB: UInt64 = 0x10_0000
        let fixedEnabled = capabilities.hasFixedRanges && defaultType & (1 << 10) != 0
        if fixedEnabled && start < oneMiB {
            let fixedEnd = min(start &+ size, oneMiB)
            guard let low = fixedType(from: start, to: fixedEnd) else { return nil }
            if start &+ size <= oneMiB { return low }
            // The range covers 1 MiB and more: the part above follows the
            // variable ranges, which must agree on all of it.
            guard let high = variableType(ofAlignedRange: start, size: size),
                  high == low else { return nil }
            return low
        }
        return variableType(ofAlignedRange: start, size: size)
    }

    /// The fixed-range type of `[start, end)` (below 1 MiB), nil when mixed.
    func fixedType(from start: UInt64, to end: UInt64) -> MemoryType? {
        var result: UInt8?
        var address = start
        let fixed = fixed.span  // a borrow: an element read through self copies the whole InlineArray
        while address < end {
            let (register, byte, unit) = Self.fixedUnit(of: address)
            let type = UInt8(truncatingIfNeeded: fixed[register] >> UInt64(8 * byte))
            if let result, result != type { return nil }
            result = type
            address += unit
        }
        return result.map { MemoryType(rawValue: $0) }
    }

    /// Register index, byte, and unit size of the fixed range holding
    /// `address` (< 1 MiB): 8 x 64 KiB, 16 x 16 KiB, 64 x 4 KiB.
    static func fixedUnit(of address: UInt64) -> (register: Int, byte: Int, unit: UInt64) {
        if address < 0x8_0000 { return (0, Int(address >> 16), 0x1_0000) }
        if address < 0xC_0000 {
            let index = Int((address - 0x8_0000) >> 14)
            return (1 + index / 8, index % 8, 0x4000)
        }
        let index = Int((address - 0xC_0000) >> 12)
        return (3 + index / 8, index % 8, 0x1000)
    }

    /// The variable-range (or default) type of an aligned range; nil when
    /// some range matches only part of it. (For a range that starts below
    /// 1 MiB the whole range is tested: a variable range matching only its
    /// fixed part counts as partial, the conservative answer.)
    func variableType(ofAlignedRange start: UInt64, size: UInt64) -> MemoryType? {
        let addressMask = physicalAddressMask & ~0xFFF
        let inside = (size - 1) & addressMask
        var seen: UInt16 = 0  // bit n: a matching range of type n (>= 15: bit 15)
        // A borrow: reading `variable[i]` through self copied all 256 bytes
        // per read (two `rep movsb` per range), 3.4 million TSC ticks of the
        // boot under Bochs for the ~760 EPT leaves retyped before a launch.
        let variable = variable.span
        for range in 0..<capabilities.variableRangeCount {
            let base = variable[2 * range], mask = variable[2 * range + 1]
            guard mask & (1 << 11) != 0 else { continue }
            let maskBits = mask & addressMask
            guard start & maskBits & ~inside == base & maskBits & ~inside else { continue }
            // The high bits match; a mask bit that varies inside
            // [start, start + size) makes only part of the range match.
            if maskBits & inside != 0 { return nil }
            seen |= 1 << UInt16(min(UInt8(truncatingIfNeeded: base), 15))
        }
        if seen == 0 { return MemoryType(rawValue: UInt8(truncatingIfNeeded: defaultType)) }
        let uc: UInt16 = 1 << 0, wt: UInt16 = 1 << 4, wb: UInt16 = 1 << 6
        if seen & uc != 0 { return .uncacheable }
        if seen == wt | wb { return .writeThrough }
        if seen & (seen - 1) == 0 { return MemoryType(rawValue: UInt8(seen.trailingZeroBitCount)) }
        return .uncacheable
    }
}

/// IA32_MTRRCAP (0xFE).
///
/// Intel SDM Vol. 3A, "MTRR Feature Identification" (13.11.1 in rev. 84)
public struct MTRRCapabilities: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// VCNT (bits 7:0), FIX (bit 8), WC (bit 10): what a guest is shown.
    /// SMRR (bit 11) and PRMRR (bit 12) are not.
    public static let guestVisibleBits: UInt64 = 0x5FF

    /// VCNT: the number of variable ranges.
    public var variableRangeCount: Int { Int(rawValue & 0xFF) }
    /// FIX: the fixed-range MTRRs exist.
    public var hasFixedRanges: Bool { rawValue & (1 << 8) != 0 }
    /// WC: the write-combining type is supported.
    public var hasWriteCombining: Bool { rawValue & (1 << 10) != 0 }
}
