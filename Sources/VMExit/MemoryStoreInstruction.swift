import Primitives

/// The default operand and address size of the code an instruction runs
/// in: 16 (real mode, or a code segment with D = 0), 32 (D = 1), 64 (64-bit
/// mode: CS.L = 1 with IA32_EFER.LMA = 1).
public enum CodeSize: Hashable, Sendable {
    case bits16
    case bits32
    case bits64
}

/// A 32-bit MOV to memory that a nested page fault stopped: what it stores
/// and how long it is. The VM-exit instruction length is not defined for
/// EPT violations (Intel SDM Vol. 3C, "VM-Exit Instruction Length"), nor
/// does AMD-V's nested page fault give one without decode assists, so the
/// hypervisor decodes the instruction itself when it emulates the store
/// (the local APIC's registers: `LocalAPICTrap`).
///
/// Only the two forms a kernel uses for MMIO registers are decoded:
/// - `89 /r`, MOV r/m32, r32: the register ModRM.reg (plus 8 with REX.R);
/// - `C7 /0 id`, MOV r/m32, imm32.
/// With any legacy prefixes (segment overrides are ignored: the
/// guest-physical address the fault reports is what was written), in
/// 64-bit mode one REX right before the opcode. Operand size must be 32
/// bits: 66 in 32- and 64-bit code, or REX.W, make it another store, which
/// is refused. The memory operand must be memory (ModRM.mod != 11); its
/// length follows the ModRM and SIB rules of the address size (Intel SDM
/// Vol. 2A, "ModR/M and SIB Bytes", tables 2-1 (16-bit) and 2-2, 2-3
/// (32/64-bit); a base of 101 with mod 00 in a SIB means disp32).
public struct MemoryStoreInstruction: Hashable, Sendable {
    public enum Source: Hashable, Sendable {
        /// The low 32 bits of this register.
        case register(GeneralPurposeRegister)
        case immediate(UInt32)
    }

    public var source: Source
    /// Bytes, prefixes included (at most 15).
    public var length: Int

    public init(source: Source, length: Int) {
        self.source = source
        self.length = length
    }

    /// Decodes the instruction at the start of `bytes` (those at the
    /// guest's RIP, up to 15).
    public static func decode(_ bytes: UnsafeRawBufferPointer, codeSize: CodeSize) throws(MemoryStoreDecodeError) -> Self {
        guard let prefixes = SVMInstruction.prefixes(bytes, is64BitMode: codeSize == .bits64) else {
            throw .truncated
        }
        var cursor = prefixes.count
        func next() throws(MemoryStoreDecodeError) -> UInt8 {
            guard cursor < bytes.count, cursor < SVMInstruction.maximumLength else { throw .truncated }
            defer { cursor += 1 }
            return bytes[cursor]
        }
        let opcode = try next()
        guard opcode == 0x89 || opcode == 0xC7 else { throw .notAMove(opcode: opcode) }
        let operandBits: Int
        if prefixes.rex & 0x8 != 0 {
            operandBits = 64
        } else if codeSize == .bits16 {
            operandBits = prefixes.hasOperandSizeOverride ? 32 : 16
        } else {
            operandBits = prefixes.hasOperandSizeOverride ? 16 : 32
        }
        guard operandBits == 32 else { throw .operandSize(bits: operandBits) }
        let addressBits: Int
        switch codeSize {
        case .bits16: addressBits = prefixes.hasAddressSizeOverride ? 32 : 16
        case .bits32: addressBits = prefixes.hasAddressSizeOverride ? 16 : 32
        case .bits64: addressBits = prefixes.hasAddressSizeOverride ? 32 : 64
        }

        let modRM = try next()
        let mod = modRM >> 6, reg = (modRM >> 3) & 0x7, rm = modRM & 0x7
        guard mod != 0b11 else { throw .registerDestination }
        if opcode == 0xC7 && reg != 0 { throw .notAMove(opcode: opcode) }
        var displacement = 0
        if addressBits == 16 {
            // Table 2-1: mod 00 with rm 110 is disp16 alone; mod 01 disp8, 10 disp16.
            switch mod {
            case 0b00: displacement = rm == 0b110 ? 2 : 0
            case 0b01: displacement = 1
            default: displacement = 2
            }
        } else {
            var base = rm
            if rm == 0b100 { base = try next() & 0x7 }  // SIB
            switch mod {
            case 0b00: displacement = base == 0b101 ? 4 : 0  // disp32 (RIP-relative without a SIB in 64-bit code)
            case 0b01: displacement = 1
            default: displacement = 4
            }
        }
        cursor += displacement
        let source: Source
        if opcode == 0x89 {
            source = .register(GeneralPurposeRegister(rawValue: reg | (prefixes.rex & 0x4 != 0 ? 8 : 0)))
        } else {
            guard cursor + 4 <= bytes.count else { throw .truncated }
            var immediate: UInt32 = 0
            for index in 0..<4 { immediate |= UInt32(bytes[cursor + index]) << UInt32(8 * index) }
            cursor += 4
            source = .immediate(immediate)
        }
        guard cursor <= bytes.count else { throw .truncated }
        guard cursor <= SVMInstruction.maximumLength else { throw .tooLong }
        return Self(source: source, length: cursor)
    }
}

/// Why the bytes at RIP are not a store `MemoryStoreInstruction` emulates.
public enum MemoryStoreDecodeError: Error, Hashable, Sendable {
    /// The bytes end (or the page after them is not readable) before the
    /// instruction does.
    case truncated
    /// More than 15 bytes: the processor would have raised #GP.
    case tooLong
    /// Another opcode (or C7 with ModRM.reg != 0).
    case notAMove(opcode: UInt8)
    /// A 16- or 64-bit store.
    case operandSize(bits: Int)
    /// ModRM.mod = 11: a register, not memory (cannot have faulted).
    case registerDestination

    /// One line, meant to follow "the guest's write ... is not emulated: ".
    public var message: Message {
        switch self {
        case .truncated: "the instruction's bytes are not all readable"
        case .tooLong: "the instruction is longer than 15 bytes"
        case .notAMove(let opcode): "opcode \(hex: opcode) is not MOV r/m32, r32 (89 /r) or MOV r/m32, imm32 (C7 /0)"
        case .operandSize(let bits): "a \(bits)-bit store (only 32-bit stores reach a local APIC register)"
        case .registerDestination: "the instruction's destination is a register"
        }
    }
}
