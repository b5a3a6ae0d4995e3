import Testing
@testable import VMExit

/// Instruction lengths from the encodings in AMD APM Vol. 3 (and the
/// prefix rules of its "Instruction Prefixes" section), written out as bytes.
@Suite("SVM next RIP without NRIPS")
struct SVMNextRIPTests {
    func length(_ instruction: SVMInstruction, _ bytes: [UInt8], long: Bool = true) -> Int? {
        bytes.withUnsafeBytes { instruction.length(in: $0, is64BitMode: long) }
    }

    static let encodings: [(SVMInstruction, [UInt8])] = [
        (.cpuid, [0x0F, 0xA2]), (.rdmsr, [0x0F, 0x32]), (.wrmsr, [0x0F, 0x30]), (.rdtsc, [0x0F, 0x31]),
        (.rdpmc, [0x0F, 0x33]), (.rdtscp, [0x0F, 0x01, 0xF9]), (.hlt, [0xF4]), (.invd, [0x0F, 0x08]),
        (.wbinvd, [0x0F, 0x09]), (.xsetbv, [0x0F, 0x01, 0xD1]), (.monitor, [0x0F, 0x01, 0xC8]),
        (.mwait, [0x0F, 0x01, 0xC9]), (.icebp, [0xF1]), (.vmrun, [0x0F, 0x01, 0xD8]), (.vmmcall, [0x0F, 0x01, 0xD9]),
        (.vmload, [0x0F, 0x01, 0xDA]), (.vmsave, [0x0F, 0x01, 0xDB]), (.stgi, [0x0F, 0x01, 0xDC]),
        (.clgi, [0x0F, 0x01, 0xDD]), (.skinit, [0x0F, 0x01, 0xDE]), (.invlpga, [0x0F, 0x01, 0xDF]),
    ]

    @Test("each instruction alone, with trailing bytes, in 64-bit and legacy modes")
    func bare() {
        for (instruction, bytes) in Self.encodings {
            #expect(length(instruction, bytes) == bytes.count, "\(instruction)")
            #expect(length(instruction, bytes + [0x90, 0xCC, 0x0F]) == bytes.count, "\(instruction)")
            #expect(length(instruction, bytes, long: false) == bytes.count, "\(instruction)")
        }
        #expect(length(.pause, [0xF3, 0x90]) == 2)
    }

    @Test("legacy prefixes, and one REX right before the opcode in 64-bit mode")
    func prefixed() {
        for (instruction, bytes) in Self.encodings {
            #expect(length(instruction, [0x66] + bytes) == bytes.count + 1, "\(instruction)")
            #expect(length(instruction, [0x2E, 0x3E, 0x26, 0x64, 0x65, 0x36] + bytes) == bytes.count + 6, "\(instruction)")
            #expect(length(instruction, [0x67, 0xF2, 0x48] + bytes) == bytes.count + 3, "\(instruction)")
            #expect(length(instruction, [0x41] + bytes) == bytes.count + 1, "\(instruction)")
            // Outside 64-bit mode 0x48 is DEC EAX, another instruction.
            #expect(length(instruction, [0x48] + bytes, long: false) == nil, "\(instruction)")
            // A REX followed by a legacy prefix is not accepted.
            #expect(length(instruction, [0x48, 0x66] + bytes) == nil, "\(instruction)")
            // Two REX bytes neither.
            #expect(length(instruction, [0x48, 0x48] + bytes) == nil, "\(instruction)")
        }
        #expect(length(.pause, [0x66, 0xF3, 0x90]) == 3)
        #expect(length(.pause, [0xF3, 0x48, 0x90]) == 3)
        // WBNOINVD is F3 0F 09: intercepted as WBINVD.
        #expect(length(.wbinvd, [0xF3, 0x0F, 0x09]) == 3)
    }

    @Test("bad bytes: another instruction, truncated, PAUSE without F3 or with REX.B, over 15 bytes")
    func bad() {
        #expect(length(.cpuid, [0x0F, 0x32]) == nil)
        #expect(length(.vmmcall, [0x0F, 0x01, 0xC1]) == nil)  // VMCALL (Intel), not VMMCALL
        #expect(length(.vmmcall, [0x0F, 0x01]) == nil)
        #expect(length(.hlt, []) == nil)
        #expect(length(.cpuid, [0x66, 0x66]) == nil)
        #expect(length(.pause, [0x90]) == nil)  // NOP
        #expect(length(.pause, [0xF3, 0x41, 0x90]) == nil)  // XCHG R8, RAX
        // 13 prefixes + CPUID = 15 bytes: fine; 14 + 2 = 16: too long.
        #expect(length(.cpuid, Array(repeating: 0x66, count: 13) + [0x0F, 0xA2]) == 15)
        #expect(length(.cpuid, Array(repeating: 0x66, count: 14) + [0x0F, 0xA2]) == nil)
        #expect(length(.hlt, Array(repeating: 0x66, count: 15) + [0xF4]) == nil)
        #expect(length(.hlt, Array(repeating: 0x66, count: 14) + [0xF4]) == 15)
    }

    func moveCR(_ bytes: [UInt8], long: Bool = true) -> (SVMControlRegisterAccess, Int)? {
        bytes.withUnsafeBytes { SVMInstruction.decodeMoveControlRegister($0, is64BitMode: long) }.map { ($0.access, $0.length) }
    }

    @Test("MOV CR decoding: CR from ModRM.reg (+REX.R, LOCK = CR8), GPR from ModRM.rm (+REX.B)")
    func moveControlRegister() {
        // 0F 22 E3: MOV CR4, RBX (mod 11, reg 4, rm 3).
        let write = moveCR([0x0F, 0x22, 0xE3])
        #expect(write?.0 == SVMControlRegisterAccess(controlRegister: 4, isWrite: true, generalPurposeRegister: .rbx))
        #expect(write?.1 == 3)
        // 0F 20 D8: MOV RAX, CR3.
        #expect(moveCR([0x0F, 0x20, 0xD8])?.0 == .init(controlRegister: 3, isWrite: false, generalPurposeRegister: .rax))
        // 44 0F 22 C5: MOV CR8, RBP (REX.R).
        #expect(moveCR([0x44, 0x0F, 0x22, 0xC5])?.0 == .init(controlRegister: 8, isWrite: true, generalPurposeRegister: .rbp))
        // 41 0F 22 C5: MOV CR0, R13 (REX.B).
        let r13 = moveCR([0x41, 0x0F, 0x22, 0xC5])
        #expect(r13?.0 == .init(controlRegister: 0, isWrite: true, generalPurposeRegister: .r13))
        #expect(r13?.1 == 4)
        // F0 0F 22 C0: LOCK MOV CR0, EAX = MOV CR8 (32-bit mode).
        #expect(moveCR([0xF0, 0x0F, 0x22, 0xC0], long: false)?.0 == .init(controlRegister: 8, isWrite: true, generalPurposeRegister: .rax))
        #expect(moveCR([0x0F, 0x01, 0xF0]) == nil)  // LMSW AX: not a MOV
        #expect(moveCR([0x0F, 0x22]) == nil)
    }

    func next(_ exit: SVMExit, rip: UInt64 = 0x1000, nRIP: UInt64? = nil, _ bytes: [UInt8], long: Bool = true) throws(SVMNextRIPError) -> UInt64 {
        var result: Result<UInt64, SVMNextRIPError> = .failure(.unexpectedBytes(.invalid))
        bytes.withUnsafeBytes { buffer in
            do throws(SVMNextRIPError) {
                result = .success(try SVMNextRIP.compute(for: exit, guestRIP: rip, nRIP: nRIP, instructionBytes: buffer, is64BitMode: long))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    @Test("the rule: IOIO takes EXITINFO2, NRIPS takes nRIP, else RIP + decoded length")
    func rule() throws {
        // IOIO: EXITINFO2 whatever the bytes and nRIP say.
        #expect(try next(.io(SVMIOInformation(rawValue: 0x00E9_0010), nextRIP: 0x7C05), nRIP: 0x9999, []) == 0x7C05)
        // NRIPS: nRIP, the bytes are not read.
        #expect(try next(.cpuid, nRIP: 0x1002, [0xCC]) == 0x1002)
        // Without NRIPS: decoded.
        #expect(try next(.cpuid, [0x0F, 0xA2]) == 0x1002)
        #expect(try next(.rdmsr, [0x48, 0x0F, 0x32]) == 0x1003)
        #expect(try next(.wrmsr, [0x0F, 0x30]) == 0x1002)
        #expect(try next(.vmmcall, [0x0F, 0x01, 0xD9]) == 0x1003)
        #expect(try next(.hlt, [0xF4]) == 0x1001)
        #expect(try next(.xsetbv, [0x0F, 0x01, 0xD1]) == 0x1003)
        #expect(try next(.svmInstruction(.vmrun), [0x0F, 0x01, 0xD8]) == 0x1003)
        #expect(try next(.unhandled(.pause, exitInfo1: 0, exitInfo2: 0), [0xF3, 0x90]) == 0x1002)
        #expect(try next(.unhandled(.rdtsc, exitInfo1: 0, exitInfo2: 0), [0x0F, 0x31]) == 0x1002)
        // CR access: the MOV must match the intercept.
        let cr4Write = SVMExit.controlRegisterAccess(.init(controlRegister: 4, isWrite: true, generalPurposeRegister: nil))
        #expect(try next(cr4Write, [0x0F, 0x22, 0xE3]) == 0x1003)
        #expect(throws: SVMNextRIPError.unexpectedBytes(.writeCR(4))) { try next(cr4Write, [0x0F, 0x22, 0xDB]) }  // CR3
        // Outside 64-bit mode the result wraps at 32 bits.
        #expect(try next(.cpuid, rip: 0xFFFF_FFFF, [0x0F, 0xA2], long: false) == 1)
        #expect(try next(.cpuid, rip: 0xFFFF_FFFF, [0x0F, 0xA2]) == 0x1_0000_0001)
    }

    @Test("no next RIP: wrong bytes, or not an instruction exit; the messages say which")
    func failures() {
        let wrong = #expect(throws: SVMNextRIPError.self) { try next(.cpuid, [0x0F, 0x31]) }
        #expect(wrong == .unexpectedBytes(.cpuid))
        #expect(wrong?.message.description == "no next RIP for VMEXIT_CPUID (0x72): the bytes at RIP are not that instruction")
        let npf = SVMExit.nestedPageFault(guestPhysicalAddress: 0, SVMNestedPageFaultErrorCode(rawValue: 0), guestRIP: 0, interruptedEvent: nil)
        #expect(throws: SVMNextRIPError.notAnInstructionExit(.npf)) { try next(npf, nRIP: 5, []) }
        let intr = #expect(throws: SVMNextRIPError.self) { try next(.unhandled(.intr, exitInfo1: 0, exitInfo2: 0), nRIP: 5, []) }
        #expect(intr?.message.description == "no next RIP for VMEXIT_INTR (0x60): not an instruction exit")
        #expect(throws: SVMNextRIPError.notAnInstructionExit(.shutdown)) { try next(.shutdown, []) }
    }

    @Test("every instruction exit code names the instruction its bytes must be")
    func exitCodes() {
        let pairs: [(SVMExitCode, SVMInstruction)] = [
            (.cpuid, .cpuid), (.rdtsc, .rdtsc), (.rdpmc, .rdpmc), (.rdtscp, .rdtscp), (.hlt, .hlt), (.idleHLT, .hlt),
            (.pause, .pause), (.invd, .invd), (.wbinvd, .wbinvd), (.xsetbv, .xsetbv), (.monitor, .monitor),
            (.mwait, .mwait), (.mwaitConditional, .mwait), (.icebp, .icebp), (.vmrun, .vmrun), (.vmmcall, .vmmcall),
            (.vmload, .vmload), (.vmsave, .vmsave), (.stgi, .stgi), (.clgi, .clgi), (.skinit, .skinit), (.invlpga, .invlpga),
        ]
        for (code, instruction) in pairs { #expect(SVMInstruction(exitCode: code) == instruction, "\(code.name)") }
        #expect(SVMInstruction(exitCode: .ioio) == nil)
        #expect(SVMInstruction(exitCode: .msr) == nil)
        #expect(SVMInstruction(exitCode: .npf) == nil)
    }
}
