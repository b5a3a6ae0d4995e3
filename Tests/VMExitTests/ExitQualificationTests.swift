import Testing
@testable import VMExit

/// Values built by hand from the SDM tables' bit positions.
@Suite("Exit qualifications")
struct ExitQualificationTests {
    typealias CR = ExitQualification.ControlRegisterAccess
    typealias IO = ExitQualification.IOInstruction

    @Test("MOV to CR4 from RCX: CR 4 (3:0), type 0 (5:4), GPR 1 (11:8)")
    func movToCR4() {
        let q = CR(rawValue: 4 | 0 << 4 | 1 << 8)
        #expect(q.controlRegister == 4)
        #expect(q.accessType == .movToCR)
        #expect(q.generalPurposeRegister == .rcx)
        #expect(q.lmswOperandType == .register && q.lmswSourceData == 0)
    }

    @Test("MOV from CR3 to RBX: type 1, GPR 3")
    func movFromCR3() {
        let q = CR(rawValue: 0x313)
        #expect(q.controlRegister == 3 && q.accessType == .movFromCR && q.generalPurposeRegister == .rbx)
    }

    @Test("MOV to CR8 from R15: GPR 15")
    func movToCR8() {
        let q = CR(rawValue: 0xF08)
        #expect(q.controlRegister == 8 && q.generalPurposeRegister == .r15)
        #expect(q.generalPurposeRegister.name.description == "r15")
    }

    @Test("CLTS: type 2, everything else 0")
    func clts() {
        let q = CR(rawValue: 2 << 4)
        #expect(q.accessType == .clts && q.controlRegister == 0 && q.generalPurposeRegister == .rax)
    }

    @Test("LMSW from memory with source 0x0001: type 3, operand type 1 (bit 6), data 31:16")
    func lmswMemory() {
        let q = CR(rawValue: 3 << 4 | 1 << 6 | 0x0001 << 16)
        #expect(q.accessType == .lmsw)
        #expect(q.lmswOperandType == .memory)
        #expect(q.lmswSourceData == 0x0001)
    }

    @Test("LMSW from a register ignores bits 63:32")
    func lmswRegister() {
        let q = CR(rawValue: 0xFFFF_FFFF_0000_0000 | 3 << 4 | 0xFFFF << 16)
        #expect(q.accessType == .lmsw && q.lmswOperandType == .register && q.lmswSourceData == 0xFFFF)
        #expect(q.controlRegister == 0)
    }

    @Test("OUT DX, AL to 0x3F8: size 1, out, DX operand")
    func outByte() {
        let q = IO(rawValue: 0x03F8_0000)
        #expect(q.size == 1 && q.sizeEncoding == 0)
        #expect(q.isOut && !q.isIn)
        #expect(!q.isString && !q.isREP && !q.isImmediateOperand)
        #expect(q.port == 0x3F8)
    }

    @Test("IN EAX, 0x60: size encoding 3 = 4 bytes, in (bit 3), immediate (bit 6)")
    func inDwordImmediate() {
        let q = IO(rawValue: 0x60 << 16 | 1 << 6 | 1 << 3 | 3)
        #expect(q.size == 4 && q.isIn && q.isImmediateOperand && q.port == 0x60)
    }

    @Test("REP OUTSW to 0x1F0: size 2, string (bit 4), REP (bit 5)")
    func repOutsw() {
        let q = IO(rawValue: 0x01F0_0031)
        #expect(q.size == 2 && q.isOut && q.isString && q.isREP && !q.isImmediateOperand && q.port == 0x1F0)
    }

    @Test("OUT DX, AX to PM1a_CNT 0x604 (the guest's power-off)")
    func outWordPM1a() {
        let q = IO(rawValue: 0x0604_0001)
        #expect(q.size == 2 && q.isOut && q.port == 0x604)
    }

    @Test("size encodings 2 and 4...7 are not used")
    func unusedSizes() {
        for encoding: UInt64 in [2, 4, 5, 6, 7] {
            #expect(IO(rawValue: encoding).size == nil, "encoding \(encoding)")
        }
    }

    @Test("register numbering 0 = RAX ... 15 = R15")
    func registerNumbering() {
        let names = (UInt8(0)...15).map { GeneralPurposeRegister(rawValue: $0).name.description }
        #expect(names == ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                          "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"])
        #expect(GeneralPurposeRegister.rsp.rawValue == 4 && GeneralPurposeRegister.rdi.rawValue == 7)
    }
}
