import Primitives

/// The instructions whose intercepts the SVM backend may need to step over,
/// with their opcode bytes (after any prefixes).
///
/// AMD APM Vol. 3, "Opcode Map" (Appendix A in rev. 3.35) and each
/// instruction's page; AMD APM Vol. 2, "SVM Instruction Set" (15.5 in
/// rev. 3.42) for VMRUN ... INVLPGA.
public enum SVMInstruction: Hashable, Sendable {
    /// 0F A2.
    case cpuid
    /// 0F 32.
    case rdmsr
    /// 0F 30.
    case wrmsr
    /// 0F 31.
    case rdtsc
    /// 0F 33.
    case rdpmc
    /// 0F 01 F9.
    case rdtscp
    /// F4.
    case hlt
    /// F3 90 (the F3 is one of the prefixes; REX.B must be 0, else it is XCHG r8, rAX).
    case pause
    /// 0F 08.
    case invd
    /// 0F 09 (also WBNOINVD, F3 0F 09).
    case wbinvd
    /// 0F 01 D1.
    case xsetbv
    /// 0F 01 C8.
    case monitor
    /// 0F 01 C9.
    case mwait
    /// F1 (INT1).
    case icebp
    /// 0F 01 D8.
    case vmrun
    /// 0F 01 D9.
    case vmmcall
    /// 0F 01 DA.
    case vmload
    /// 0F 01 DB.
    case vmsave
    /// 0F 01 DC.
    case stgi
    /// 0F 01 DD.
    case clgi
    /// 0F 01 DE.
    case skinit
    /// 0F 01 DF.
    case invlpga

    /// The instruction an exit code reports as intercepted; nil for exits
    /// that are not a fixed-form instruction (IOIO, CR accesses, NPF,
    /// exceptions, interrupts, ...).
    public init?(exitCode: SVMExitCode) {
        switch exitCode {
        case .cpuid: self = .cpuid
        case .msr: return nil  // RDMSR or WRMSR: `SVMExit` knows which.
        case .rdtsc: self = .rdtsc
        case .rdpmc: self = .rdpmc
        case .rdtscp: self = .rdtscp
        case .hlt, .idleHLT: self = .hlt
        case .pause: self = .pause
        case .invd: self = .invd
        case .wbinvd: self = .wbinvd
        case .xsetbv: self = .xsetbv
        case .monitor: self = .monitor
        case .mwait, .mwaitConditional: self = .mwait
        case .icebp: self = .icebp
        case .vmrun: self = .vmrun
        case .vmmcall: self = .vmmcall
        case .vmload: self = .vmload
        case .vmsave: self = .vmsave
        case .stgi: self = .stgi
        case .clgi: self = .clgi
        case .skinit: self = .skinit
        case .invlpga: self = .invlpga
        default: return nil
        }
    }

    /// The opcode bytes after the prefixes (1 to 3 of them, packed from the
    /// low byte: 0F 01 D9 is 0xD9010F) and their count.
    var opcode: (bytes: UInt32, count: Int) {
        switch self {
        case .cpuid: (0xA20F, 2)
        case .rdmsr: (0x320F, 2)
        case .wrmsr: (0x300F, 2)
        case .rdtsc: (0x310F, 2)
        case .rdpmc: (0x330F, 2)
        case .rdtscp: (0xF9010F, 3)
        case .hlt: (0xF4, 1)
        case .pause: (0x90, 1)
        case .invd: (0x080F, 2)
        case .wbinvd: (0x090F, 2)
        case .xsetbv: (0xD1010F, 3)
        case .monitor: (0xC8010F, 3)
        case .mwait: (0xC9010F, 3)
        case .icebp: (0xF1, 1)
        case .vmrun: (0xD8010F, 3)
        case .vmmcall: (0xD9010F, 3)
        case .vmload: (0xDA010F, 3)
        case .vmsave: (0xDB010F, 3)
        case .stgi: (0xDC010F, 3)
        case .clgi: (0xDD010F, 3)
        case .skinit: (0xDE010F, 3)
        case .invlpga: (0xDF010F, 3)
        }
    }

    /// The architectural limit: longer instructions raise #GP.
    public static let maximumLength = 15

    /// The prefixes in front of an opcode: legacy prefixes (66 67 F0 F2 F3
    /// 2E 36 3E 26 64 65, any number, any order), then in 64-bit mode at
    /// most one REX (40-4F) right before the opcode.
    struct Prefixes {
        /// Bytes of prefixes.
        var count = 0
        var hasREPE = false
        var hasLOCK = false
        /// 66: the other operand size (16 bits in 32- and 64-bit code, 32 in 16-bit code).
        var hasOperandSizeOverride = false
        /// 67: the other address size (32 bits in 64-bit code, 16 in 32-bit code, 32 in 16-bit code).
        var hasAddressSizeOverride = false
        /// The REX byte, 0 when there is none.
        var rex: UInt8 = 0
    }

    /// Scans the prefixes of `bytes`; nil when they alone reach 15 bytes or
    /// the end of `bytes`.
    static func prefixes(_ bytes: UnsafeRawBufferPointer, is64BitMode: Bool) -> Prefixes? {
        var prefixes = Prefixes()
        while prefixes.count < bytes.count && prefixes.count < maximumLength {
            switch bytes[prefixes.count] {
            case 0xF2, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65: break
            case 0x66: prefixes.hasOperandSizeOverride = true
            case 0x67: prefixes.hasAddressSizeOverride = true
            case 0xF3: prefixes.hasREPE = true
            case 0xF0: prefixes.hasLOCK = true
            case 0x40...0x4F where is64BitMode:
                // REX: it must be the last prefix (a REX before a legacy
                // prefix is ignored by the CPU; we do not guess).
                prefixes.rex = bytes[prefixes.count]
                prefixes.count += 1
                return prefixes.count < bytes.count && prefixes.count < maximumLength ? prefixes : nil
            default:
                return prefixes
            }
            prefixes.count += 1
        }
        return nil
    }

    /// The length of the instruction at the start of `bytes` (the bytes at
    /// the guest's RIP, up to 15) if it is `self` (with any legacy prefixes
    /// and, in 64-bit mode, one REX right before the opcode); nil when the
    /// bytes are another instruction, run out, or exceed 15 bytes.
    /// `is64BitMode`: CS.L = 1 and EFER.LMA = 1 (elsewhere 40-4F are
    /// INC/DEC, not REX).
    public func length(in bytes: UnsafeRawBufferPointer, is64BitMode: Bool) -> Int? {
        guard let prefixes = Self.prefixes(bytes, is64BitMode: is64BitMode) else { return nil }
        let (opcode, count) = self.opcode
        let length = prefixes.count + count
        guard length <= Self.maximumLength, length <= bytes.count else { return nil }
        for index in 0..<count where bytes[prefixes.count + index] != UInt8(truncatingIfNeeded: opcode >> (8 * index)) {
            return nil
        }
        if self == .pause && (!prefixes.hasREPE || prefixes.rex & 0x1 != 0) { return nil }
        return length
    }

    /// Decodes MOV to or from a control register (0F 22 /r, 0F 20 /r): the
    /// CR (ModRM.reg, plus 8 with REX.R, or CR8 for LOCK MOV CR0, AMD's
    /// alternative encoding), the GPR (ModRM.rm, plus 8 with REX.B; the
    /// ModRM.mod bits are ignored, the operand is always a register), and
    /// the length. For a CR intercept without decode assists (EXITINFO1 = 0).
    public static func decodeMoveControlRegister(
        _ bytes: UnsafeRawBufferPointer, is64BitMode: Bool
    ) -> (access: SVMControlRegisterAccess, length: Int)? {
        guard let prefixes = prefixes(bytes, is64BitMode: is64BitMode) else { return nil }
        let length = prefixes.count + 3
        guard length <= maximumLength, length <= bytes.count, bytes[prefixes.count] == 0x0F else { return nil }
        let isWrite: Bool
        switch bytes[prefixes.count + 1] {
        case 0x22: isWrite = true
        case 0x20: isWrite = false
        default: return nil
        }
        let modRM = bytes[prefixes.count + 2]
        var cr = (modRM >> 3) & 0x7 | (prefixes.rex & 0x4 != 0 ? 8 : 0)
        if prefixes.hasLOCK && cr == 0 { cr = 8 }
        let gpr = modRM & 0x7 | (prefixes.rex & 0x1 != 0 ? 8 : 0)
        return (SVMControlRegisterAccess(controlRegister: cr, isWrite: isWrite,
                                         generalPurposeRegister: GeneralPurposeRegister(rawValue: gpr)), length)
    }
}

/// Why `SVMNextRIP.compute` has no answer.
public enum SVMNextRIPError: Error, Hashable, Sendable {
    /// The exit is not an instruction the policy steps over (exception,
    /// NPF, interrupt, shutdown, ...).
    case notAnInstructionExit(SVMExitCode)
    /// The bytes at the guest's RIP are not the intercepted instruction
    /// (or exceed 15 bytes): the guest changed them, or the decoder does
    /// not know this form (e.g. LMSW, CLTS, SMSW).
    case unexpectedBytes(SVMExitCode)

    /// One line, meant to follow "pxhv: error: ".
    public var message: Message {
        switch self {
        case .notAnInstructionExit(let code):
            var text: Message = "no next RIP for "
            text.append(code.name)
            text.append(" (\(hex: code.rawValue)): not an instruction exit")
            return text
        case .unexpectedBytes(let code):
            var text: Message = "no next RIP for "
            text.append(code.name)
            text.append(" (\(hex: code.rawValue)): the bytes at RIP are not that instruction")
            return text
        }
    }
}

/// The next RIP after an intercepted instruction, the rule in one place:
///
/// 1. IOIO: EXITINFO2 (the APM defines it for every processor).
/// 2. NRIPS (CPUID 8000000Ah:EDX[3]): the VMCB's nRIP (control area C8h),
///    which the CPU writes on every instruction intercept.
/// 3. Otherwise (QEMU TCG has no NRIPS): the guest's RIP plus the length of
///    the instruction at RIP (`SVMInstruction.length`, or the MOV CR
///    decoder for CR accesses), from up to 15 bytes the hypervisor fetched
///    there; the bytes must be the intercepted instruction. Outside 64-bit
///    mode the result wraps at 32 bits.
///
/// AMD APM Vol. 2, "Next sequential instruction pointer (nRIP)" (15.7.1 in
/// rev. 3.42) and "I/O Intercepts" (15.10.2).
public enum SVMNextRIP {
    /// - `nRIP`: the VMCB's nRIP when the CPU has NRIPS, else nil.
    /// - `instructionBytes`: the bytes at the guest's RIP (only read
    ///   without NRIPS; may be empty otherwise).
    public static func compute(
        for exit: SVMExit, guestRIP: UInt64, nRIP: UInt64?, instructionBytes: UnsafeRawBufferPointer, is64BitMode: Bool
    ) throws(SVMNextRIPError) -> UInt64 {
        let length: Int?
        switch exit {
        case .io(_, let next):
            return next
        case .exception, .nestedPageFault, .shutdown, .nmi, .initSignal, .invalid:
            throw .notAnInstructionExit(exit.code)
        case .rdmsr, .wrmsr, .controlRegisterAccess, .cpuid, .hlt, .invd, .wbinvd, .vmmcall, .xsetbv,
            .svmInstruction, .unhandled:
            if case .unhandled(let code, _, _) = exit, SVMInstruction(exitCode: code) == nil {
                throw .notAnInstructionExit(code)
            }
            if let nRIP { return nRIP }
            switch exit {
            case .rdmsr: length = SVMInstruction.rdmsr.length(in: instructionBytes, is64BitMode: is64BitMode)
            case .wrmsr: length = SVMInstruction.wrmsr.length(in: instructionBytes, is64BitMode: is64BitMode)
            case .controlRegisterAccess(let access):
                let decoded = SVMInstruction.decodeMoveControlRegister(instructionBytes, is64BitMode: is64BitMode)
                let matches = decoded.map {
                    $0.access.controlRegister == access.controlRegister && $0.access.isWrite == access.isWrite
                        && (access.generalPurposeRegister == nil
                            || access.generalPurposeRegister == $0.access.generalPurposeRegister)
                } ?? false
                length = matches ? decoded?.length : nil
            default:
                guard let instruction = SVMInstruction(exitCode: exit.code) else {
                    throw .notAnInstructionExit(exit.code)
                }
                length = instruction.length(in: instructionBytes, is64BitMode: is64BitMode)
            }
        }
        guard let length else { throw .unexpectedBytes(exit.code) }
        let next = guestRIP &+ UInt64(length)
        return is64BitMode ? next : next & 0xFFFF_FFFF
    }
}
