import Testing
@testable import VMExit

/// The stores a kernel writes local APIC registers with, as bytes from the
/// encodings in Intel SDM Vol. 2 (MOV, "ModR/M and SIB Bytes"), decoded to
/// their source and length; everything else refused with its reason.
@Suite struct MemoryStoreInstructionTests {
    func decode(_ bytes: [UInt8], _ size: CodeSize = .bits64) throws(MemoryStoreDecodeError) -> MemoryStoreInstruction {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(MemoryStoreDecodeError) in try MemoryStoreInstruction.decode(buffer, codeSize: size) }
        }
        return try result.get()
    }

    func store(_ bytes: [UInt8], _ size: CodeSize = .bits64) -> MemoryStoreInstruction? { try? decode(bytes, size) }

    func failure(_ bytes: [UInt8], _ size: CodeSize = .bits64) -> MemoryStoreDecodeError? {
        do { _ = try decode(bytes, size); return nil } catch { return error }
    }

    static func register(_ number: UInt8, _ length: Int) -> MemoryStoreInstruction {
        MemoryStoreInstruction(source: .register(GeneralPurposeRegister(rawValue: number)), length: length)
    }

    @Test("89 /r in 64-bit code: ModRM, SIB, disp8, disp32, RIP-relative, REX.R and REX.B")
    func registerStores64() {
        #expect(store([0x89, 0x0A]) == Self.register(1, 2))                                   // mov [rdx], ecx (Guest/smp)
        #expect(store([0x89, 0x02, 0x90, 0x90]) == Self.register(0, 2))                       // mov [rdx], eax; bytes after
        #expect(store([0x89, 0x77, 0x30]) == Self.register(6, 3))                             // mov [rdi+0x30], esi
        #expect(store([0x89, 0xB7, 0x00, 0x03, 0x00, 0x00]) == Self.register(6, 6))           // mov [rdi+0x300], esi
        #expect(store([0x41, 0x89, 0xB4, 0x24, 0x00, 0x03, 0x00, 0x00]) == Self.register(6, 8))  // mov [r12+0x300], esi
        #expect(store([0x44, 0x89, 0x40, 0xB0]) == Self.register(8, 4))                       // mov [rax-0x50], r8d
        #expect(store([0x45, 0x89, 0x3C, 0x24]) == Self.register(15, 4))                      // mov [r12], r15d
        #expect(store([0x89, 0x05, 0x10, 0x20, 0x30, 0x40]) == Self.register(0, 6))           // mov [rip+disp32], eax
        #expect(store([0x89, 0x04, 0x25, 0x00, 0x03, 0xE0, 0xFE]) == Self.register(0, 7))     // mov [0xFEE00300], eax (SIB, no base)
        #expect(store([0x89, 0x44, 0x25, 0x10]) == Self.register(0, 4))                       // mov [rbp+0x10], eax via SIB
        #expect(store([0x89, 0x64, 0x24, 0x08]) == Self.register(4, 4))                       // mov [rsp+8], esp
        // Legacy prefixes (segment overrides, 67) in front, one REX last.
        #expect(store([0x3E, 0x89, 0x0A]) == Self.register(1, 3))
        #expect(store([0x67, 0x89, 0x0A]) == Self.register(1, 3))                             // mov [edx], ecx
        #expect(store([0x65, 0x67, 0x44, 0x89, 0x0A]) == Self.register(9, 5))
    }

    @Test("C7 /0 imm32: the immediate, after any SIB and displacement")
    func immediateStores() {
        #expect(store([0xC7, 0x00, 0x00, 0x00, 0x00, 0x00])
                == MemoryStoreInstruction(source: .immediate(0), length: 6))                  // mov dword [rax], 0 (EOI)
        #expect(store([0xC7, 0x80, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])
                == MemoryStoreInstruction(source: .immediate(0), length: 10))                 // mov dword [rax+0xB0], 0
        #expect(store([0xC7, 0x04, 0x25, 0xB0, 0x00, 0xE0, 0xFE, 0x78, 0x56, 0x34, 0x12])
                == MemoryStoreInstruction(source: .immediate(0x1234_5678), length: 11))       // mov dword [0xFEE000B0], 0x12345678
        #expect(store([0x41, 0xC7, 0x44, 0x24, 0x10, 0xFF, 0x00, 0x00, 0x00])
                == MemoryStoreInstruction(source: .immediate(0xFF), length: 9))               // mov dword [r12+0x10], 0xFF
        #expect(store([0xC7, 0x05, 1, 2, 3, 4, 0xEF, 0xBE, 0xAD, 0xDE])
                == MemoryStoreInstruction(source: .immediate(0xDEAD_BEEF), length: 10))       // RIP-relative
    }

    @Test("32- and 16-bit code: operand size by 66, 16-bit addressing by the address size")
    func legacyModes() {
        #expect(store([0x89, 0x0A], .bits32) == Self.register(1, 2))
        #expect(store([0x89, 0x04, 0x25, 0x00, 0x03, 0xE0, 0xFE], .bits32) == Self.register(0, 7))
        #expect(store([0x67, 0x89, 0x0A], .bits32) == Self.register(1, 3))                    // mov [bp+si], ecx
        #expect(store([0x67, 0x89, 0x0E, 0x34, 0x12], .bits32) == Self.register(1, 5))        // mov [0x1234], ecx (disp16)
        #expect(store([0x66, 0x89, 0x0A], .bits16) == Self.register(1, 3))                    // mov [bp+si], ecx
        #expect(store([0x66, 0x89, 0x0E, 0x34, 0x12], .bits16) == Self.register(1, 5))
        #expect(store([0x66, 0x89, 0x4F, 0x10], .bits16) == Self.register(1, 4))              // mov [bx+0x10], ecx
        #expect(store([0x66, 0x89, 0x8F, 0x00, 0x03], .bits16) == Self.register(1, 5))        // mov [bx+0x300], ecx
        #expect(store([0x66, 0x67, 0x89, 0x04, 0x25, 0x00, 0x03, 0xE0, 0xFE], .bits16) == Self.register(0, 9))
        #expect(store([0x66, 0xC7, 0x06, 0xB0, 0x00, 0, 0, 0, 0], .bits16)
                == MemoryStoreInstruction(source: .immediate(0), length: 9))
        // 0x41 is INC ECX outside 64-bit mode.
        #expect(failure([0x41, 0x89, 0x0A], .bits32) == .notAMove(opcode: 0x41))
    }

    @Test("refused: other opcodes, other sizes, a register destination, too few bytes")
    func refused() {
        #expect(failure([0x8B, 0x02]) == .notAMove(opcode: 0x8B))                             // a load
        #expect(failure([0x87, 0x02]) == .notAMove(opcode: 0x87))                             // xchg
        #expect(failure([0xC7, 0x48, 0x10, 0, 0, 0, 0]) == .notAMove(opcode: 0xC7))           // C7 /1
        #expect(failure([0x48, 0x89, 0x02]) == .operandSize(bits: 64))
        #expect(failure([0x48, 0xC7, 0x00, 0, 0, 0, 0]) == .operandSize(bits: 64))
        #expect(failure([0x66, 0x89, 0x02]) == .operandSize(bits: 16))
        #expect(failure([0x66, 0x89, 0x02], .bits32) == .operandSize(bits: 16))
        #expect(failure([0x89, 0x0A], .bits16) == .operandSize(bits: 16))
        #expect(failure([0x89, 0xC1]) == .registerDestination)
        #expect(failure([0xC7, 0xC0, 0, 0, 0, 0]) == .registerDestination)
        #expect(failure([0x89]) == .truncated)
        #expect(failure([]) == .truncated)
        #expect(failure([0x89, 0x04]) == .truncated)                                          // SIB missing
        #expect(failure([0x89, 0x80, 0x00, 0x03]) == .truncated)                              // disp32 cut
        #expect(failure([0xC7, 0x04, 0x25, 0xB0, 0x00, 0xE0, 0xFE, 0x00, 0x00]) == .truncated) // imm32 cut
        #expect(failure([0x66, 0x66, 0x66]) == .truncated)
        // Fifteen bytes at most: 8 prefixes + C7 04 25 disp32 imm32 is 19.
        #expect(failure([0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0xC7, 0x04, 0x25, 0, 0, 0, 0, 0, 0, 0, 0]) == .tooLong)
        #expect("\(MemoryStoreDecodeError.notAMove(opcode: 0x8B).message)".contains("89 /r"))
    }
}
