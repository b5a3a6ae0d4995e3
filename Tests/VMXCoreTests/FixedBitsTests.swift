import Testing
@testable import VMXCore

@Suite("CR0/CR4 fixed bits (Bochs corei7_skylake_x)")
struct FixedBitsTests {
    let cr0 = CRFixedBits(fixed0: 0x8000_0021, fixed1: 0xFFFF_FFFF)
    let cr4 = CRFixedBits(fixed0: 0x2000, fixed1: 0x0037_27FF)

    @Test("the reset CR0 Bochs showed (CD NW ET) gains PE NE PG")
    func applyCR0() throws {
        let reset: UInt64 = 0x6000_0010
        #expect(cr0.apply(reset) == 0xE000_0031)
        #expect(cr0.violations(reset) == FixedBitsViolations(mustBeOne: 0x8000_0021, mustBeZero: 0))
        try cr0.check(cr0.apply(reset), register: .cr0)
    }

    @Test("CR4 gains VMXE and loses what FIXED1 forbids")
    func applyCR4() throws {
        #expect(cr4.apply(0) == CR4.vmxe.rawValue)
        let wanted: CR4 = [.pae, .pge, .osfxsr, .osxmmexcpt, .la57, .pke]
        let applied = CR4(rawValue: cr4.apply(wanted.rawValue))
        #expect(applied == [.pae, .pge, .osfxsr, .osxmmexcpt, .vmxe])
        #expect(cr4.violations(wanted.rawValue) == FixedBitsViolations(mustBeOne: 0x2000, mustBeZero: 0x40_1000))
        try cr4.check(applied.rawValue, register: .cr4)
    }

    @Test func violationMessage() {
        let error = VMXError.fixedBitsViolation(.cr4, value: 0x1020, FixedBitsViolations(mustBeOne: 0x2000, mustBeZero: 0x1000))
        #expect(throws: error) { try cr4.check(0x1020, register: .cr4) }
        #expect(error.message == "CR4 0x1020 breaks the VMX-fixed bits: must be 1: 0x2000, must be 0: 0x1000")
        let onlyOne = VMXError.fixedBitsViolation(.cr0, value: 0x11, FixedBitsViolations(mustBeOne: 0x8000_0020, mustBeZero: 0))
        #expect(throws: onlyOne) { try cr0.check(0x11, register: .cr0) }
        #expect(onlyOne.message == "CR0 0x11 breaks the VMX-fixed bits: must be 1: 0x80000020")
    }

    @Test("unrestricted guest: PE and PG may be 0, NE may not")
    func unrestrictedGuest() throws {
        let guest = cr0.allowingUnrestrictedGuest()
        #expect(guest == CRFixedBits(fixed0: 0x20, fixed1: 0xFFFF_FFFF))
        let realMode: CR0 = [.et, .ne]
        try guest.check(realMode.rawValue, register: .cr0)
        #expect(guest.violations(CR0.et.rawValue) == FixedBitsViolations(mustBeOne: CR0.ne.rawValue, mustBeZero: 0))
        #expect(throws: VMXError.self) { try cr0.check(realMode.rawValue, register: .cr0) }
    }
}
