import Testing
@testable import VMExit

@Suite("Guest registers")
struct GuestRegistersTests {
    @Test("layout: 16 UInt64s in x86 register-number order, 128 bytes, what the stub saves")
    func layout() {
        #expect(MemoryLayout<GuestRegisters>.size == 128)
        #expect(MemoryLayout<GuestRegisters>.stride == 128)
        #expect(MemoryLayout<GuestRegisters>.alignment == 8)
        let offsets: [(PartialKeyPath<GuestRegisters>, Int)] = [
            (\.rax, 0x00), (\.rcx, 0x08), (\.rdx, 0x10), (\.rbx, 0x18),
            (\.rsp, 0x20), (\.rbp, 0x28), (\.rsi, 0x30), (\.rdi, 0x38),
            (\.r8, 0x40), (\.r9, 0x48), (\.r10, 0x50), (\.r11, 0x58),
            (\.r12, 0x60), (\.r13, 0x68), (\.r14, 0x70), (\.r15, 0x78)]
        for (path, offset) in offsets {
            #expect(MemoryLayout<GuestRegisters>.offset(of: path) == offset)
        }
    }

    @Test("the subscript reads and writes the slot at number * 8")
    func subscriptMatchesLayout() {
        var registers = GuestRegisters()
        for number in UInt8(0)..<16 {
            registers[GeneralPurposeRegister(rawValue: number)] = 0x1111_0000 + UInt64(number)
        }
        withUnsafeBytes(of: registers) { raw in
            for number in 0..<16 {
                #expect(raw.load(fromByteOffset: number * 8, as: UInt64.self) == 0x1111_0000 + UInt64(number))
            }
        }
        #expect(registers.rbx == 0x1111_0003 && registers.rsp == 0x1111_0004 && registers.r15 == 0x1111_000F)
        #expect(registers[.rdi] == 0x1111_0007)
    }

    @Test("setResult clears bits 63:32; edxEAX joins the low halves")
    func halves() {
        var registers = GuestRegisters()
        registers.rax = .max; registers.rbx = .max; registers.rcx = .max; registers.rdx = .max
        registers.setResult(eax: 1, ebx: 2, ecx: 3, edx: 4)
        #expect(registers.rax == 1 && registers.rbx == 2 && registers.rcx == 3 && registers.rdx == 4)
        registers.rax = 0xFFFF_FFFF_8765_4321
        registers.rdx = 0xFFFF_FFFF_0000_0001
        #expect(registers.edxEAX == 0x1_8765_4321)
    }
}
