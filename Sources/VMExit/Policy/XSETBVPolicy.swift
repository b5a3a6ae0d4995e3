/// XSETBV: the value is checked here, executed by the backend.
///
/// #GP(0) when: ECX != 0 (only XCR0 exists); bit 0 (x87) clear; bit 2
/// (AVX) without bit 1 (SSE); a bit the processor does not support
/// (CPUID.(EAX=0xD,ECX=0):EDX:EAX); bits 4:3 (MPX) not equal; bits 7:5
/// (AVX-512) neither all clear nor all set, or set without bits 2:1;
/// bits 18:17 (AMX) not equal. Else `executeXSETBV` (then advance).
/// CR4.OSXSAVE = 0 (#UD) and CPL > 0 (#GP) fault before any exit.
///
/// Intel SDM Vol. 2C, "XSETBV—Set Extended Control Register"; Vol. 1,
/// "Extended Control Register (XCR0)" (13.3 in rev. 84)
public enum XSETBVPolicy {
    /// The XCR0 value after reset: x87 only.
    public static let resetXCR0: UInt64 = 1

    /// True when XSETBV(`index`, `value`) would not fault on a processor
    /// supporting the XCR0 bits in `supported`.
    public static func isValid(index: UInt32, value: UInt64, supported: UInt64) -> Bool {
        guard index == 0 else { return false }
        guard value & 1 != 0 else { return false }
        guard value & ~supported == 0 else { return false }
        if value & 0b100 != 0 && value & 0b10 == 0 { return false }
        let mpx = (value >> 3) & 0b11
        if mpx == 0b01 || mpx == 0b10 { return false }
        let avx512 = (value >> 5) & 0b111
        if avx512 != 0 && (avx512 != 0b111 || value & 0b110 != 0b110) { return false }
        let amx = (value >> 17) & 0b11
        if amx == 0b01 || amx == 0b10 { return false }
        return true
    }

    public static func handle(index: UInt32, value: UInt64, supported: UInt64) -> ExitAction {
        isValid(index: index, value: value, supported: supported)
            ? .executeXSETBV(index: index, value: value)
            : .generalProtectionFault
    }
}
