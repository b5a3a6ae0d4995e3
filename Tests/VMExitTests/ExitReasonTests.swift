import Testing
@testable import VMExit

@Suite("Exit reasons")
struct ExitReasonTests {
    /// Intel SDM Vol. 3D, Appendix C, Table C-1 (84 and 85 from later revisions).
    static let sdmTable: [UInt16: String] = [
        0: "Exception or non-maskable interrupt (NMI)", 1: "External interrupt", 2: "Triple fault",
        3: "INIT signal", 4: "Start-up IPI (SIPI)", 5: "I/O system-management interrupt (SMI)",
        6: "Other SMI", 7: "Interrupt window", 8: "NMI window", 9: "Task switch", 10: "CPUID",
        11: "GETSEC", 12: "HLT", 13: "INVD", 14: "INVLPG", 15: "RDPMC", 16: "RDTSC", 17: "RSM",
        18: "VMCALL", 19: "VMCLEAR", 20: "VMLAUNCH", 21: "VMPTRLD", 22: "VMPTRST", 23: "VMREAD",
        24: "VMRESUME", 25: "VMWRITE", 26: "VMXOFF", 27: "VMXON", 28: "Control-register accesses",
        29: "MOV DR", 30: "I/O instruction", 31: "RDMSR", 32: "WRMSR",
        33: "VM-entry failure due to invalid guest state", 34: "VM-entry failure due to MSR loading",
        36: "MWAIT", 37: "Monitor trap flag", 39: "MONITOR", 40: "PAUSE",
        41: "VM-entry failure due to machine-check event", 43: "TPR below threshold",
        44: "APIC access", 45: "Virtualized EOI", 46: "Access to GDTR or IDTR",
        47: "Access to LDTR or TR", 48: "EPT violation", 49: "EPT misconfiguration", 50: "INVEPT",
        51: "RDTSCP", 52: "VMX-preemption timer expired", 53: "INVVPID", 54: "WBINVD or WBNOINVD",
        55: "XSETBV", 56: "APIC write", 57: "RDRAND", 58: "INVPCID", 59: "VMFUNC", 60: "ENCLS",
        61: "RDSEED", 62: "Page-modification log full", 63: "XSAVES", 64: "XRSTORS", 65: "PCONFIG",
        66: "SPP-related event", 67: "UMWAIT", 68: "TPAUSE", 69: "LOADIWKEY", 70: "ENCLV",
        72: "ENQCMD PASID translation failure", 73: "ENQCMDS PASID translation failure",
        74: "Bus lock", 75: "Instruction timeout", 76: "SEAMCALL", 77: "TDCALL", 78: "RDMSRLIST",
        79: "WRMSRLIST", 80: "URDMSR", 81: "UWRMSR", 84: "RDMSR with immediate operand",
        85: "WRMSRNS with immediate operand",
    ]

    @Test("every number 0...255 has the SDM name, or \"unknown\" where the table has none (127: pxHV's AMD-V-only count)")
    func namesMatchTable() {
        for number in UInt16(0)...255 where number != 127 {
            let name = ExitReason(rawValue: number).name.description
            #expect(name == (Self.sdmTable[number] ?? "unknown"), "reason \(number)")
        }
        #expect(ExitReason.svmWithoutVMXCounterpart.rawValue == 127)
        #expect(ExitReason(rawValue: 127).name.description == "AMD-V exit without a VT-x counterpart (pxHV)")
        #expect(127 < ExitStatistics.trackedReasonCount)
        #expect(Self.sdmTable.count == 80)
        #expect(ExitReason(rawValue: 0xFFFF).name.description == "unknown")
    }

    @Test("static members carry the SDM numbers")
    func numbers() {
        #expect(ExitReason.exceptionOrNMI.rawValue == 0)
        #expect(ExitReason.externalInterrupt.rawValue == 1)
        #expect(ExitReason.tripleFault.rawValue == 2)
        #expect(ExitReason.initSignal.rawValue == 3)
        #expect(ExitReason.sipi.rawValue == 4)
        #expect(ExitReason.cpuid.rawValue == 10)
        #expect(ExitReason.hlt.rawValue == 12)
        #expect(ExitReason.vmcall.rawValue == 18)
        #expect(ExitReason.controlRegisterAccess.rawValue == 28)
        #expect(ExitReason.ioInstruction.rawValue == 30)
        #expect(ExitReason.rdmsr.rawValue == 31)
        #expect(ExitReason.wrmsr.rawValue == 32)
        #expect(ExitReason.entryFailureGuestState.rawValue == 33)
        #expect(ExitReason.entryFailureMSRLoading.rawValue == 34)
        #expect(ExitReason.entryFailureMachineCheck.rawValue == 41)
        #expect(ExitReason.eptViolation.rawValue == 48)
        #expect(ExitReason.eptMisconfiguration.rawValue == 49)
        #expect(ExitReason.xsetbv.rawValue == 55)
        #expect(ExitReason.tdcall.rawValue == 77)
        #expect(ExitReason.uwrmsr.rawValue == 81)
        #expect(ExitReason.wrmsrnsImmediate.rawValue == 85)
    }

    @Test("names of a few reasons")
    func someNames() {
        #expect(ExitReason.cpuid.name.description == "CPUID")
        #expect(ExitReason.controlRegisterAccess.name.description == "Control-register accesses")
        #expect(ExitReason.eptViolation.name.description == "EPT violation")
        #expect(ExitReason.entryFailureGuestState.name.description
                == "VM-entry failure due to invalid guest state")
        #expect(ExitReason(rawValue: 35).name.description == "unknown")
    }
}

@Suite("Raw exit-reason field")
struct RawExitReasonTests {
    @Test("bit 31 marks a VM-entry failure; bits 15:0 stay the basic reason")
    func entryFailure() {
        let raw = RawExitReason(rawValue: 0x8000_0021)
        #expect(raw.isVMEntryFailure)
        #expect(raw.basicReason == .entryFailureGuestState)
        #expect(raw.basicReason.isEntryFailureReason)
        #expect(!raw.isPendingMTF && !raw.isFromVMXRoot && !raw.isEnclaveMode)
    }

    @Test("an ordinary exit has no flag bits")
    func ordinary() {
        let raw = RawExitReason(rawValue: 10)
        #expect(raw.basicReason == .cpuid)
        #expect(!raw.isVMEntryFailure && !raw.basicReason.isEntryFailureReason)
    }

    @Test("bits 25, 26, 27, 28, 29 each decode alone")
    func flagBits() {
        #expect(RawExitReason(rawValue: 1 << 25 | 30).isShadowStackPrematurelyBusy)
        #expect(RawExitReason(rawValue: 1 << 26 | 30).isBusLockAsserted)
        #expect(RawExitReason(rawValue: 1 << 27 | 30).isEnclaveMode)
        #expect(RawExitReason(rawValue: 1 << 28 | 6).isPendingMTF)
        #expect(RawExitReason(rawValue: 1 << 29 | 6).isFromVMXRoot)
        let all = RawExitReason(rawValue: 0x3E00_001E)
        #expect(all.basicReason == .ioInstruction && !all.isVMEntryFailure)
        #expect(all.isShadowStackPrematurelyBusy && all.isBusLockAsserted && all.isEnclaveMode
                && all.isPendingMTF && all.isFromVMXRoot)
    }

    @Test("the basic reason never includes bits above 15")
    func basicIsLow16() {
        #expect(RawExitReason(rawValue: 0xFFFF_0030).basicReason == .eptViolation)
        #expect(RawExitReason(rawValue: 0x0001_0000).basicReason == .exceptionOrNMI)
    }
}
