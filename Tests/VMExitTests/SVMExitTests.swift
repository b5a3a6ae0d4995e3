import Testing
import VMXCore
@testable import VMExit

/// SVM exits decoded from raw VMCB values as the APM defines them
/// (AMD APM Vol. 2, Appendix C "SVM Intercept Exit Codes"; the IOIO,
/// NPF and decode-assist EXITINFO1 layouts of 15.10.2, 15.25.6, 15.33).
@Suite("SVM exits to events")
struct SVMExitTests {
    var registers: GuestRegisters {
        var r = GuestRegisters()
        r.rax = 0xFFFF_FFFF_0000_000D
        r.rcx = 0xAAAA_AAAA_0000_0001
        r.rdx = 0xBBBB_BBBB_0000_0002
        r.rbx = 0x1234
        r.rsp = 0x1F_0000
        r.r13 = 0xD13
        return r
    }

    func decode(_ code: UInt64, _ info1: UInt64 = 0, _ info2: UInt64 = 0, intInfo: UInt64 = 0, rip: UInt64 = 0) -> SVMExit {
        SVMExit.decode(exitCode: code, exitInfo1: info1, exitInfo2: info2, exitIntInfo: intInfo, guestRIP: rip)
    }

    func event(_ code: UInt64, _ info1: UInt64 = 0, _ info2: UInt64 = 0) -> ExitEvent {
        ExitEvent.fromSVM(decode(code, info1, info2), registers: registers)
    }

    @Test("exit codes carry the APM numbers")
    func numbers() {
        let table: [(SVMExitCode, UInt64, String)] = [
            (.readCR(0), 0x00, "VMEXIT_CRn_READ"), (.readCR(15), 0x0F, "VMEXIT_CRn_READ"),
            (.writeCR(0), 0x10, "VMEXIT_CRn_WRITE"), (.writeCR(8), 0x18, "VMEXIT_CRn_WRITE"),
            (.readDR(7), 0x27, "VMEXIT_DRn_READ"), (.writeDR(7), 0x37, "VMEXIT_DRn_WRITE"),
            (.exception(0), 0x40, "VMEXIT_EXCPn"), (.exception(14), 0x4E, "VMEXIT_EXCPn"), (.exception(31), 0x5F, "VMEXIT_EXCPn"),
            (.intr, 0x60, "VMEXIT_INTR"), (.nmi, 0x61, "VMEXIT_NMI"), (.smi, 0x62, "VMEXIT_SMI"),
            (.initSignal, 0x63, "VMEXIT_INIT"), (.vintr, 0x64, "VMEXIT_VINTR"),
            (.cr0SelectiveWrite, 0x65, "VMEXIT_CR0_SEL_WRITE"), (.idtrRead, 0x66, "VMEXIT_IDTR_READ"),
            (.gdtrRead, 0x67, "VMEXIT_GDTR_READ"), (.ldtrRead, 0x68, "VMEXIT_LDTR_READ"), (.trRead, 0x69, "VMEXIT_TR_READ"),
            (.idtrWrite, 0x6A, "VMEXIT_IDTR_WRITE"), (.gdtrWrite, 0x6B, "VMEXIT_GDTR_WRITE"),
            (.ldtrWrite, 0x6C, "VMEXIT_LDTR_WRITE"), (.trWrite, 0x6D, "VMEXIT_TR_WRITE"),
            (.rdtsc, 0x6E, "VMEXIT_RDTSC"), (.rdpmc, 0x6F, "VMEXIT_RDPMC"), (.pushf, 0x70, "VMEXIT_PUSHF"),
            (.popf, 0x71, "VMEXIT_POPF"), (.cpuid, 0x72, "VMEXIT_CPUID"), (.rsm, 0x73, "VMEXIT_RSM"),
            (.iret, 0x74, "VMEXIT_IRET"), (.swint, 0x75, "VMEXIT_SWINT"), (.invd, 0x76, "VMEXIT_INVD"),
            (.pause, 0x77, "VMEXIT_PAUSE"), (.hlt, 0x78, "VMEXIT_HLT"), (.invlpg, 0x79, "VMEXIT_INVLPG"),
            (.invlpga, 0x7A, "VMEXIT_INVLPGA"), (.ioio, 0x7B, "VMEXIT_IOIO"), (.msr, 0x7C, "VMEXIT_MSR"),
            (.taskSwitch, 0x7D, "VMEXIT_TASK_SWITCH"), (.ferrFreeze, 0x7E, "VMEXIT_FERR_FREEZE"),
            (.shutdown, 0x7F, "VMEXIT_SHUTDOWN"), (.vmrun, 0x80, "VMEXIT_VMRUN"), (.vmmcall, 0x81, "VMEXIT_VMMCALL"),
            (.vmload, 0x82, "VMEXIT_VMLOAD"), (.vmsave, 0x83, "VMEXIT_VMSAVE"), (.stgi, 0x84, "VMEXIT_STGI"),
            (.clgi, 0x85, "VMEXIT_CLGI"), (.skinit, 0x86, "VMEXIT_SKINIT"), (.rdtscp, 0x87, "VMEXIT_RDTSCP"),
            (.icebp, 0x88, "VMEXIT_ICEBP"), (.wbinvd, 0x89, "VMEXIT_WBINVD"), (.monitor, 0x8A, "VMEXIT_MONITOR"),
            (.mwait, 0x8B, "VMEXIT_MWAIT"), (.mwaitConditional, 0x8C, "VMEXIT_MWAIT_CONDITIONAL"),
            (.xsetbv, 0x8D, "VMEXIT_XSETBV"), (.rdpru, 0x8E, "VMEXIT_RDPRU"), (.eferWriteTrap, 0x8F, "VMEXIT_EFER_WRITE_TRAP"),
            (.crWriteTrap(0), 0x90, "VMEXIT_CRn_WRITE_TRAP"), (.crWriteTrap(15), 0x9F, "VMEXIT_CRn_WRITE_TRAP"),
            (.invlpgb, 0xA0, "VMEXIT_INVLPGB"), (.invlpgbIllegal, 0xA1, "VMEXIT_INVLPGB_ILLEGAL"),
            (.invpcid, 0xA2, "VMEXIT_INVPCID"), (.mcommit, 0xA3, "VMEXIT_MCOMMIT"), (.tlbsync, 0xA4, "VMEXIT_TLBSYNC"),
            (.busLock, 0xA5, "VMEXIT_BUSLOCK"), (.idleHLT, 0xA6, "VMEXIT_IDLE_HLT"),
            (.npf, 0x400, "VMEXIT_NPF"), (.avicIncompleteIPI, 0x401, "VMEXIT_AVIC_INCOMPLETE_IPI"),
            (.avicNoAcceleration, 0x402, "VMEXIT_AVIC_NOACCEL"), (.vmgexit, 0x403, "VMEXIT_VMGEXIT"),
            (.invalid, UInt64(bitPattern: -1), "VMEXIT_INVALID"),
        ]
        for (code, number, name) in table {
            #expect(code.rawValue == number, "\(name)")
            #expect(code.name.description == name, "\(number)")
        }
        #expect(SVMExitCode(rawValue: 0xA7).name.description == "unknown")
        #expect(SVMExitCode(rawValue: 0x404).name.description == "unknown")
    }

    @Test("CPUID, MSR, XSETBV take their operands from 32-bit register halves; MSR direction from EXITINFO1")
    func operands() {
        #expect(event(0x72) == .cpuid(leaf: 0xD, subleaf: 1))
        #expect(decode(0x7C, 0) == .rdmsr)
        #expect(decode(0x7C, 1) == .wrmsr)
        #expect(event(0x7C, 0) == .msrRead(MSR(1)))
        #expect(event(0x7C, 1) == .msrWrite(MSR(1), value: 0x2_0000_000D))
        #expect(event(0x8D) == .xsetbv(index: 1, value: 0x2_0000_000D))
        // EXITINFO1 other than 0 or 1 is not an MSR access the APM defines.
        #expect(decode(0x7C, 2) == .unhandled(.msr, exitInfo1: 2, exitInfo2: 0))
    }

    @Test("code-only exits")
    func simple() {
        #expect(event(0x78) == .hlt)
        #expect(event(0xA6) == .hlt)
        #expect(event(0x76) == .invd)
        #expect(event(0x89) == .wbinvd)
        #expect(event(0x81) == .hypercall)
        #expect(event(0x7F) == .tripleFault)
        #expect(event(0x61) == .nmi)
        #expect(event(0x63) == .initSignal)
    }

    @Test("IOIO: EXITINFO1 fields, EXITINFO2 the next RIP; the same PortIO rules as VMX")
    func io() {
        var r = registers
        r.rax = 0x1234_5678_9ABC_DE41
        // OUT 0xE9, AL: port 0xE9 (bits 31:16), SZ8 (bit 4), A16 (bit 7); next RIP 0x7C02.
        let outByte = SVMExit.decode(exitCode: 0x7B, exitInfo1: 0x00E9_0000 | 1 << 4 | 1 << 7, exitInfo2: 0x7C02, exitIntInfo: 0)
        guard case .io(let access, let next) = outByte else {
            Issue.record("IOIO decoded as \(outByte)")
            return
        }
        #expect(next == 0x7C02)
        #expect(access.port == 0xE9 && access.size == 1 && access.isOut && !access.isString && !access.isREP)
        #expect(access.addressSize == 16)
        #expect(ExitEvent.fromSVM(outByte, registers: r) == .io(PortIO(port: 0xE9, size: 1, isIn: false, value: 0x41)))
        // OUT DX, AX to 0xB004: SZ16 (bit 5), A32 (bit 8).
        let outWord = SVMExit.decode(exitCode: 0x7B, exitInfo1: 0xB004_0000 | 1 << 5 | 1 << 8, exitInfo2: 0, exitIntInfo: 0)
        #expect(ExitEvent.fromSVM(outWord, registers: r) == .io(PortIO(port: 0xB004, size: 2, isIn: false, value: 0xDE41)))
        // IN EAX, DX from 0xCFC: TYPE (bit 0), SZ32 (bit 6), A64 (bit 9).
        let inDword = SVMExit.decode(exitCode: 0x7B, exitInfo1: 0x0CFC_0000 | 1 | 1 << 6 | 1 << 9, exitInfo2: 0, exitIntInfo: 0)
        #expect(ExitEvent.fromSVM(inDword, registers: r) == .io(PortIO(port: 0xCFC, size: 4, isIn: true)))
        // REP OUTSB from DS (SEG = 3, bits 12:10): STR (bit 2), REP (bit 3).
        let info = SVMIOInformation(rawValue: 0x00E9_0000 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 9 | 3 << 10)
        #expect(info.segment == 3)
        #expect(ExitEvent.fromSVM(.io(info, nextRIP: 0), registers: r)
                == .io(PortIO(port: 0xE9, size: 1, isIn: false, isString: true, isREP: true, value: 0)))
        // No size bit, or two: size 0 (as VMX reports an unused encoding).
        #expect(SVMIOInformation(rawValue: 0x0080_0000).size == nil)
        #expect(SVMIOInformation(rawValue: 0x0080_0000 | 3 << 4).size == nil)
        #expect(ExitEvent.svmPortIO(SVMIOInformation(rawValue: 0x0080_0000), registers: r).size == 0)
    }

    @Test("CR access with decode assists: EXITINFO1 bit 63 and the GPR in bits 3:0")
    func controlRegistersWithDecodeAssists() {
        let valid: UInt64 = 1 << 63
        // MOV CR4, RBX (write CR4, GPR 3).
        #expect(event(0x14, valid | 3) == .crWrite(controlRegister: 4, value: 0x1234))
        // MOV CR0, RSP: RSP from its slot.
        #expect(event(0x10, valid | 4) == .crWrite(controlRegister: 0, value: 0x1F_0000))
        // MOV CR8, R13.
        #expect(event(0x18, valid | 13) == .crWrite(controlRegister: 8, value: 0xD13))
        // MOV RAX, CR3.
        #expect(event(0x03, valid | 0) == .crRead(controlRegister: 3, destination: .rax))
        // CR0_SEL_WRITE is a CR0 write with the same EXITINFO1.
        #expect(event(0x65, valid | 1) == .crWrite(controlRegister: 0, value: 0xAAAA_AAAA_0000_0001))
    }

    @Test("CR access without decode assists (EXITINFO1 = 0, or LMSW/CLTS): unhandled, counted as a CR access")
    func controlRegistersUndecoded() {
        #expect(decode(0x14, 0) == .controlRegisterAccess(.init(controlRegister: 4, isWrite: true, generalPurposeRegister: nil)))
        #expect(event(0x14, 0) == .unhandled(reason: 28, qualification: 0x14))
        #expect(event(0x00, 0) == .unhandled(reason: 28, qualification: 0x00))
        #expect(event(0x14, 0).countingReason == .controlRegisterAccess)
        // A decoder that found the GPR (SVMInstruction) fills it in.
        let decoded = SVMExit.controlRegisterAccess(.init(controlRegister: 4, isWrite: true, generalPurposeRegister: .rbx))
        #expect(ExitEvent.fromSVM(decoded, registers: registers) == .crWrite(controlRegister: 4, value: 0x1234))
    }

    @Test("NPF: GPA from EXITINFO2, access kind from the error code (ID, RW), final/walk bits")
    func nestedPageFault() {
        func fault(_ info1: UInt64) -> ExitEvent {
            ExitEvent.fromSVM(decode(0x400, info1, 0x20_1000, rip: 0x7C00), registers: registers)
        }
        // Not present, read, user, final translation.
        #expect(fault(1 << 2 | 1 << 32) == .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_1000, access: .read, guestRIP: 0x7C00)))
        #expect(fault(1 | 1 << 1 | 1 << 2 | 1 << 32)
                == .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_1000, access: .write, guestRIP: 0x7C00)))
        #expect(fault(1 << 2 | 1 << 4 | 1 << 32)
                == .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_1000, access: .fetch, guestRIP: 0x7C00)))
        let code = SVMNestedPageFaultErrorCode(rawValue: 1 | 1 << 3 | 1 << 33)
        #expect(code.isPresent && code.isReservedBitViolation && code.isGuestPageTableWalk && !code.isFinalTranslation)
        #expect(!code.isWrite && !code.isUser && !code.isInstructionFetch)
        // EXITINTINFO (valid: bit 31) rides along for re-injection; invalid is dropped.
        let delivering = decode(0x400, 1 << 32, 0x20_1000, intInfo: 0x8000_0020, rip: 1)
        #expect(delivering == .nestedPageFault(guestPhysicalAddress: 0x20_1000, SVMNestedPageFaultErrorCode(rawValue: 1 << 32),
                                               guestRIP: 1, interruptedEvent: 0x8000_0020))
        let idle = decode(0x400, 1 << 32, 0x20_1000, intInfo: 0x20, rip: 1)
        #expect(idle == .nestedPageFault(guestPhysicalAddress: 0x20_1000, SVMNestedPageFaultErrorCode(rawValue: 1 << 32),
                                         guestRIP: 1, interruptedEvent: nil))
    }

    @Test("exceptions: vector from the code, EXITINFO1 is the error code for the vectors that push one")
    func exceptions() {
        // #PF: error code 2 (write), EXITINFO2 the faulting address.
        #expect(decode(0x4E, 2, 0xDEAD_0000) == .exception(vector: 14, errorCode: 2, exitInfo2: 0xDEAD_0000, interruptedEvent: nil))
        #expect(event(0x4E, 2, 0xDEAD_0000) == .exception(vector: 14, errorCode: 2))
        #expect(event(0x4D, 0x18) == .exception(vector: 13, errorCode: 0x18))
        #expect(event(0x48, 0) == .exception(vector: 8, errorCode: 0))
        // #UD, #DB, #BP push none: EXITINFO1 is ignored.
        #expect(event(0x46, 0x55) == .exception(vector: 6, errorCode: nil))
        #expect(event(0x41) == .exception(vector: 1, errorCode: nil))
        let withCode: Set<UInt8> = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]
        for vector in UInt8(0)..<32 {
            guard case .exception(let v, let errorCode, _, _) = decode(0x40 + UInt64(vector), 7) else {
                Issue.record("EXCP\(vector) not an exception")
                continue
            }
            #expect(v == vector)
            #expect((errorCode != nil) == withCode.contains(vector), "vector \(vector)")
        }
    }

    @Test("the SVM instructions are virtualization instructions (#UD), counted as their VT-x counterparts")
    func svmInstructions() {
        let expected: [(UInt64, ExitReason)] = [
            (0x80, .vmlaunch), (0x82, .vmptrld), (0x83, .vmptrst), (0x84, .svmWithoutVMXCounterpart),
            (0x85, .svmWithoutVMXCounterpart), (0x86, .getsec), (0x7A, .invvpid),
        ]
        for (code, reason) in expected {
            #expect(decode(code) == .svmInstruction(SVMExitCode(rawValue: code)))
            #expect(event(code) == .virtualizationInstruction(reason: reason))
        }
    }

    @Test("VMEXIT_INVALID is an entry failure, counted as invalid guest state (33)")
    func invalid() {
        let exit = decode(UInt64(bitPattern: -1), 0x55)
        #expect(exit == .invalid(exitInfo1: 0x55))
        let e = ExitEvent.fromSVM(exit, registers: registers)
        #expect(e == .entryFailure(reason: 0xFFFF_FFFF, qualification: 0x55))
        #expect(e.countingReason == .entryFailureGuestState)
        // QEMU 7.2 TCG writes the code as 32 bits: 0x00000000FFFFFFFF.
        #expect(decode(0xFFFF_FFFF, 0) == .invalid(exitInfo1: 0))
        #expect(decode(0x1_0000_0000 | 0x72, 0) != .invalid(exitInfo1: 0))
        // A VMX entry failure still counts by its basic reason.
        #expect(ExitEvent.entryFailure(reason: 0x8000_0022, qualification: 0).countingReason == .entryFailureMSRLoading)
    }

    @Test("other codes are unhandled: reason the VMX counterpart, qualification the SVM code")
    func unhandled() {
        #expect(decode(0x6E, 5, 6) == .unhandled(.rdtsc, exitInfo1: 5, exitInfo2: 6))
        #expect(event(0x6E) == .unhandled(reason: 16, qualification: 0x6E))
        #expect(event(0x70) == .unhandled(reason: 127, qualification: 0x70))
        #expect(event(0x27) == .unhandled(reason: 29, qualification: 0x27))
        #expect(event(0x1234) == .unhandled(reason: 127, qualification: 0x1234))
    }

    /// The VMX reason each SVM code counts as, written from the APM and SDM
    /// tables (not from the code under test).
    static let countingTable: [UInt64: UInt16] = {
        var table: [UInt64: UInt16] = [:]
        for n in UInt64(0)..<0x20 { table[n] = 28 }  // CR read/write
        for n in UInt64(0x20)..<0x40 { table[n] = 29 }  // DR
        for n in UInt64(0x40)..<0x60 { table[n] = 0 }  // exceptions
        for n in UInt64(0x90)..<0xA0 { table[n] = 28 }  // CR write traps
        let singles: [UInt64: UInt16] = [
            0x60: 1, 0x61: 0, 0x62: 6, 0x63: 3, 0x64: 7, 0x65: 28, 0x66: 46, 0x67: 46, 0x68: 47, 0x69: 47,
            0x6A: 46, 0x6B: 46, 0x6C: 47, 0x6D: 47, 0x6E: 16, 0x6F: 15, 0x70: 127, 0x71: 127, 0x72: 10,
            0x73: 17, 0x74: 8, 0x75: 127, 0x76: 13, 0x77: 40, 0x78: 12, 0x79: 14, 0x7A: 53, 0x7B: 30,
            0x7C: 31, 0x7D: 9, 0x7E: 127, 0x7F: 2, 0x80: 20, 0x81: 18, 0x82: 21, 0x83: 22, 0x84: 127,
            0x85: 127, 0x86: 11, 0x87: 51, 0x88: 0, 0x89: 54, 0x8A: 39, 0x8B: 36, 0x8C: 36, 0x8D: 55,
            0x8E: 127, 0x8F: 32, 0xA0: 127, 0xA1: 127, 0xA2: 58, 0xA3: 127, 0xA4: 127, 0xA5: 74, 0xA6: 12,
            0x400: 48, 0x401: 56, 0x402: 44, 0x403: 18, UInt64(bitPattern: -1): 33,
        ]
        table.merge(singles) { $1 }
        return table
    }()

    @Test("every SVM exit counts under the matching VMX reason, through the event the dispatcher counts")
    func counting() {
        for (code, reason) in Self.countingTable {
            // Bit 63 valid + GPR 1 for CR accesses, so they decode to events.
            let exit = decode(code, code < 0x20 || code == 0x65 ? 1 << 63 | 1 : 0)
            #expect(exit.countingReason.rawValue == reason, "code \(code)")
            #expect(ExitEvent.fromSVM(exit, registers: registers).countingReason.rawValue == reason, "code \(code)")
            #expect(Int(reason) < ExitStatistics.trackedReasonCount)
        }
        // WRMSR counts as WRMSR.
        #expect(decode(0x7C, 1).countingReason == .wrmsr)
        #expect(event(0x7C, 1).countingReason == .wrmsr)
        // Unknown codes count as the AMD-V-only reason.
        #expect(decode(0xFFF).countingReason == .svmWithoutVMXCounterpart)
    }

    @Test("the summary line groups SVM exits like VMX ones")
    func summary() {
        var statistics = ExitStatistics()
        for (code, info1) in [(UInt64(0x72), UInt64(0)), (0x7C, 0), (0x7C, 1), (0x7B, 0x00E9_0010), (0x400, 1 << 32),
                              (0x81, 0), (0x78, 0), (0x14, 1 << 63 | 3), (0x80, 0)] {
            statistics.record(ExitEvent.fromSVM(decode(code, info1), registers: registers).countingReason)
        }
        #expect(statistics.summaryLine.description == "exits total=9 cpuid=1 msr=2 io=1 cr=1 ept=1 vmcall=1 hlt=1 other=1")
    }
}
