import Testing
import VMXCore
@testable import VMExit

@Suite("MSR policy")
struct MSRPolicyTests {
    @Test("IA32_FEATURE_CONTROL reads 1 (EDX:EAX = 0:1) and advances; writes #GP(0)")
    func featureControl() {
        var registers = GuestRegisters()
        registers.rax = .max; registers.rdx = .max
        #expect(MSRPolicy.handleRead(.featureControl, registers: &registers) == .advance)
        #expect(registers.rax == 1 && registers.rdx == 0)
        #expect(MSRPolicy.handleWrite(.featureControl, value: 5) == .inject(.generalProtection, errorCode: 0))
    }

    @Test("VMX capability MSRs 0x480-0x491 raise #GP(0) on read and write")
    func vmxMSRs() {
        for number: UInt32 in 0x480...0x491 {
            var registers = GuestRegisters()
            #expect(MSRPolicy.handleRead(MSR(number), registers: &registers) == .generalProtectionFault)
            #expect(MSRPolicy.handleWrite(MSR(number), value: 0) == .generalProtectionFault)
            #expect(registers == GuestRegisters())
        }
    }

    @Test("MSRs outside the bitmap ranges raise #GP(0)")
    func outOfRange() {
        for number: UInt32 in [0x2000, 0x4000_0000, 0xBFFF_FFFF, 0xC000_2000, 0xFFFF_FFFF] {
            var registers = GuestRegisters()
            #expect(MSRPolicy.handleRead(MSR(number), registers: &registers) == .generalProtectionFault)
            #expect(MSRPolicy.handleWrite(MSR(number), value: 0) == .generalProtectionFault)
        }
    }

    @Test("an in-range MSR the bitmap passes through stops the guest if it ever exits")
    func unexpected() {
        var registers = GuestRegisters()
        #expect(MSRPolicy.handleRead(.efer, registers: &registers) == .stopGuest(.unexpectedMSRAccess(.efer, isWrite: false)))
        #expect(MSRPolicy.handleWrite(.pat, value: 0) == .stopGuest(.unexpectedMSRAccess(.pat, isWrite: true)))
    }

    @Test("bitmap: exactly 0x3A and 0x480-0x491, read quarter and write quarter; EFER/PAT clear")
    func bitmap() {
        var bitmap = [UInt8](repeating: 0xFF, count: 4096)
        bitmap.withUnsafeMutableBytes { fillMSRBitmap($0) }
        func bit(_ offset: Int, _ index: Int) -> Bool { bitmap[offset + index / 8] & (1 << UInt8(index % 8)) != 0 }
        // 0x3A: byte 7, bit 2 in read-low and write-low.
        #expect(bitmap[0x007] == 0x04 && bitmap[0x807] == 0x04)
        // 0x480-0x491: bytes 0x90, 0x91 all set, byte 0x92 bits 0-1.
        #expect(bitmap[0x090] == 0xFF && bitmap[0x091] == 0xFF && bitmap[0x092] == 0x03)
        #expect(bitmap[0x890] == 0xFF && bitmap[0x891] == 0xFF && bitmap[0x892] == 0x03)
        #expect(!bit(0x000, 0x277) && !bit(0x800, 0x277))  // PAT
        #expect(!bit(0x400, 0x80) && !bit(0xC00, 0x80))    // EFER (0xC0000080)
        let setBits = bitmap.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect(setBits == 2 * (1 + 18))
        #expect(MSRBitmapLayout.readPosition(of: .efer)! == (0x410, 0))
        #expect(MSRBitmapLayout.readPosition(of: MSR(0x2000)) == nil)
    }
}
