import Primitives
import VMXCore

/// Checks a VMCB the way VMRUN will, before VMRUN, and names the first
/// check it fails: a failed VMRUN only says #VMEXIT with EXITCODE
/// VMEXIT_INVALID (-1), never which check.
///
/// It reads the VMCB through `VMCBAccess`, so it checks what will actually
/// run. The checks are the APM's list, in its order, plus the event
/// injection and nested-paging conditions the APM states elsewhere. Not
/// covered: S_CET, U_CET and SSP (the VMCB fields are not in the catalogue;
/// pxHV leaves CET off), SEV/SEV-ES conditions, AVIC table addresses.
///
/// AMD APM Vol. 2, "Canonicalization and Consistency Checks" (15.5.1 in
/// rev. 3.42), "Event Injection" (15.20 in rev. 3.42) and "Nested Paging"
/// (15.25 in rev. 3.42).
public enum VMRUNChecker {
    /// EXITCODE after a failed VMRUN: VMEXIT_INVALID (-1).
    public static let exitCodeInvalid: UInt64 = ~0

    /// CR4 bits reserved on AMD processors (rev. 3.42): 13-15 (VMXE, SMXE
    /// are Intel's), 19, 24-63.
    public static let cr4Reserved = CR4(rawValue: ~0 << 24 | 1 << 19 | 0b111 << 13)

    /// Sizes of the permission maps (the processor ignores the base's bits 11:0).
    public static let msrpmSize: UInt64 = 8 * 1024
    public static let iopmSize: UInt64 = 12 * 1024

    /// The first failed check, or nil when VMRUN should pass them all.
    ///
    /// `physicalAddressWidth` is CPUID 8000_0008h EAX[7:0]. `cr4Reserved`
    /// and `eferAllowed` may be narrowed to what the processor reports
    /// (e.g. CR4.LA57 without 5-level paging).
    public static func check<V: VMCBAccess>(
        _ vmcb: V, physicalAddressWidth: Int, supportsLongMode: Bool = true, supportsNestedPaging: Bool = true,
        cr4Reserved: CR4 = cr4Reserved, eferAllowed: EFER = .amdDefined
    ) -> VMRUNCheckFailure? {
        let efer = EFER(rawValue: vmcb.read(VMCB.efer))
        let cr0 = CR0(rawValue: vmcb.read(VMCB.cr0))
        let cr3 = vmcb.read(VMCB.cr3)
        let cr4 = CR4(rawValue: vmcb.read(VMCB.cr4))
        let dr6 = vmcb.read(VMCB.dr6)
        let dr7 = vmcb.read(VMCB.dr7)
        let csAttributes = SVMSegmentAttributes(rawValue: vmcb.read(VMCB.cs.attributes))
        let beyondWidth: UInt64 = physicalAddressWidth >= 64 ? 0 : ~0 << UInt64(physicalAddressWidth)

        // "Canonicalization and Consistency Checks", in the APM's order.
        if !efer.contains(.svme) { return VMRUNCheckFailure(.eferSVME, efer.rawValue) }
        if !cr0.contains(.cd) && cr0.contains(.nw) { return VMRUNCheckFailure(.cr0NotWriteThroughWithoutCacheDisable, cr0.rawValue) }
        if cr0.rawValue >> 32 != 0 { return VMRUNCheckFailure(.cr0UpperBits, cr0.rawValue) }
        let longMode = efer.contains(.lme) && cr0.contains(.pg)
        // CR3: in long mode bits 63:52 and those beyond the physical-address
        // width are MBZ (the other reserved bits, 11:5 and 2:0, are ignored).
        if longMode && cr3 & beyondWidth != 0 { return VMRUNCheckFailure(.cr3ReservedBits, cr3, beyondWidth) }
        if !cr4.intersection(cr4Reserved).isEmpty { return VMRUNCheckFailure(.cr4ReservedBits, cr4.rawValue, cr4Reserved.rawValue) }
        if dr6 >> 32 != 0 { return VMRUNCheckFailure(.dr6UpperBits, dr6) }
        if dr7 >> 32 != 0 { return VMRUNCheckFailure(.dr7UpperBits, dr7) }
        if !efer.subtracting(eferAllowed).isEmpty { return VMRUNCheckFailure(.eferReservedBits, efer.rawValue, ~eferAllowed.rawValue) }
        if !supportsLongMode && !efer.intersection([.lme, .lma]).isEmpty { return VMRUNCheckFailure(.longModeUnsupported, efer.rawValue) }
        if longMode && !cr4.contains(.pae) { return VMRUNCheckFailure(.longModeWithoutPAE, cr4.rawValue) }
        if longMode && !cr0.contains(.pe) { return VMRUNCheckFailure(.longModeWithoutProtection, cr0.rawValue) }
        if longMode && cr4.contains(.pae) && csAttributes.is64BitCode && csAttributes.isDefault32Bit {
            return VMRUNCheckFailure(.longModeCSLAndD, UInt64(csAttributes.rawValue))
        }
        if cr4.contains(.cet) && !cr0.contains(.wp) { return VMRUNCheckFailure(.cetWithoutWriteProtect, cr0.rawValue, cr4.rawValue) }

        let vector4 = SVMInterceptVector4(rawValue: vmcb.read(VMCB.interceptVector4))
        if !vector4.contains(.vmrun) { return VMRUNCheckFailure(.vmrunInterceptClear, UInt64(vector4.rawValue)) }
        let msrpm = vmcb.read(VMCB.msrpmBasePA)
        if !fits(msrpm, size: msrpmSize, width: physicalAddressWidth) {
            return VMRUNCheckFailure(.msrpmAddress, msrpm, UInt64(physicalAddressWidth))
        }
        let iopm = vmcb.read(VMCB.iopmBasePA)
        if !fits(iopm, size: iopmSize, width: physicalAddressWidth) {
            return VMRUNCheckFailure(.iopmAddress, iopm, UInt64(physicalAddressWidth))
        }
        let event = SVMEventInjection(rawValue: vmcb.read(VMCB.eventInjection))
        let in64BitMode = longMode && csAttributes.is64BitCode
        if event.isValid && !isLegal(event, in64BitMode: in64BitMode) { return VMRUNCheckFailure(.eventInjection, event.rawValue) }
        if vmcb.read(VMCB.guestASID) == 0 { return VMRUNCheckFailure(.asidZero, 0) }

        // Nested paging.
        let nested = SVMNestedPagingControl(rawValue: vmcb.read(VMCB.nestedPagingControl))
        if nested.contains(.npEnable) {
            if !supportsNestedPaging { return VMRUNCheckFailure(.nestedPagingUnsupported, nested.rawValue) }
            let nestedCR3 = vmcb.read(VMCB.nestedCR3)
            if nestedCR3 & beyondWidth != 0 { return VMRUNCheckFailure(.nestedCR3ReservedBits, nestedCR3, UInt64(physicalAddressWidth)) }
            let pat = vmcb.read(VMCB.gPAT)
            if !isValidPAT(pat) { return VMRUNCheckFailure(.guestPAT, pat) }
        }
        return nil
    }

    /// The map at `base` (bits 11:0 ignored) ends below 2^`width`.
    static func fits(_ base: UInt64, size: UInt64, width: Int) -> Bool {
        guard width < 64 else { return true }
        let start = base & ~0xFFF
        let (last, overflow) = start.addingReportingOverflow(size - 1)
        return !overflow && last >> UInt64(width) == 0
    }

    /// Type 0, 2, 3 or 4 with bits 30:12 clear; an exception's vector is
    /// 0-31 but not 2 (NMI), and not 5 (#BR) in 64-bit mode.
    static func isLegal(_ event: SVMEventInjection, in64BitMode: Bool) -> Bool {
        guard event.type.isDefined, event.reservedBits == 0 else { return false }
        if event.type == .exception {
            if event.vector == 2 || event.vector > 31 { return false }
            if event.vector == 5 && in64BitMode { return false }
        }
        return true
    }

    /// Each byte of the PAT is UC (0), WC (1), WT (4), WP (5), WB (6) or UC- (7).
    static func isValidPAT(_ pat: UInt64) -> Bool {
        for byte in 0..<8 {
            let type = pat[bits: byte * 8...byte * 8 + 7]
            if type == 2 || type == 3 || type > 7 { return false }
        }
        return true
    }
}
