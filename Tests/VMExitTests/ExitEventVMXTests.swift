import EPT
import Testing
import VMXCore
@testable import VMExit

@Suite("VMX exits to events")
struct ExitEventVMXTests {
    var registers: GuestRegisters {
        var r = GuestRegisters()
        r.rax = 0xFFFF_FFFF_0000_000D
        r.rcx = 0xAAAA_AAAA_0000_0001
        r.rdx = 0xBBBB_BBBB_0000_0002
        r.rbx = 0x1234
        r.rsp = 0x1F_0000
        return r
    }

    @Test("CPUID, MSR, XSETBV take their operands from 32-bit register halves")
    func operands() {
        #expect(ExitEvent.fromVMX(.cpuid, registers: registers) == .cpuid(leaf: 0xD, subleaf: 1))
        #expect(ExitEvent.fromVMX(.rdmsr, registers: registers) == .msrRead(MSR(1)))
        #expect(ExitEvent.fromVMX(.wrmsr, registers: registers) == .msrWrite(MSR(1), value: 0x2_0000_000D))
        #expect(ExitEvent.fromVMX(.xsetbv, registers: registers) == .xsetbv(index: 1, value: 0x2_0000_000D))
    }

    @Test("reason-only exits")
    func simple() {
        #expect(ExitEvent.fromVMX(.hlt, registers: registers) == .hlt)
        #expect(ExitEvent.fromVMX(.invd, registers: registers) == .invd)
        #expect(ExitEvent.fromVMX(.wbinvd, registers: registers) == .wbinvd)
        #expect(ExitEvent.fromVMX(.vmcall, registers: registers) == .hypercall)
        #expect(ExitEvent.fromVMX(.tripleFault, registers: registers) == .tripleFault)
    }

    @Test("I/O: OUT carries the low size bytes of RAX; IN and OUTS carry 0")
    func io() {
        var r = registers
        r.rax = 0x1234_5678_9ABC_DE41
        // OUT DX, AL to 0xE9: size encoding 0, port in bits 31:16.
        let outByte = VMExit.io(.init(rawValue: 0x00E9_0000))
        #expect(ExitEvent.fromVMX(outByte, registers: r) == .io(PortIO(port: 0xE9, size: 1, isIn: false, value: 0x41)))
        let outWord = VMExit.io(.init(rawValue: 0xB004_0001))
        #expect(ExitEvent.fromVMX(outWord, registers: r) == .io(PortIO(port: 0xB004, size: 2, isIn: false, value: 0xDE41)))
        let inDword = VMExit.io(.init(rawValue: 0x0CFC_0003 | 1 << 3))
        #expect(ExitEvent.fromVMX(inDword, registers: r) == .io(PortIO(port: 0xCFC, size: 4, isIn: true)))
        let repOutsb = VMExit.io(.init(rawValue: 0x00E9_0000 | 1 << 4 | 1 << 5))
        #expect(ExitEvent.fromVMX(repOutsb, registers: r)
                == .io(PortIO(port: 0xE9, size: 1, isIn: false, isString: true, isREP: true, value: 0)))
    }

    @Test("CR access: MOV to CR reads the named register (RSP from its slot), MOV from CR, CLTS, LMSW")
    func controlRegisters() {
        // MOV CR4, RBX: CR 4, type 0, register 3.
        #expect(ExitEvent.fromVMX(.controlRegisterAccess(.init(rawValue: 0x304)), registers: registers)
                == .crWrite(controlRegister: 4, value: 0x1234))
        // MOV CR0, RSP.
        #expect(ExitEvent.fromVMX(.controlRegisterAccess(.init(rawValue: 0x400)), registers: registers)
                == .crWrite(controlRegister: 0, value: 0x1F_0000))
        // MOV RAX, CR3.
        #expect(ExitEvent.fromVMX(.controlRegisterAccess(.init(rawValue: 0x13)), registers: registers)
                == .crRead(controlRegister: 3, destination: .rax))
        #expect(ExitEvent.fromVMX(.controlRegisterAccess(.init(rawValue: 0x20)), registers: registers) == .clts)
        #expect(ExitEvent.fromVMX(.controlRegisterAccess(.init(rawValue: 0x000F_0030)), registers: registers)
                == .lmsw(sourceData: 0xF))
    }

    @Test("EPT violation: access kind from qualification bits 2:0")
    func nestedPageFault() {
        func event(_ qualification: UInt64) -> ExitEvent {
            ExitEvent.fromVMX(.eptViolation(guestPhysicalAddress: 0x20_1000, qualification: qualification,
                                            guestLinearAddress: nil, guestRIP: 0x7C00), registers: registers)
        }
        #expect(event(0x1) == .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_1000, access: .read, guestRIP: 0x7C00)))
        #expect(event(0x2) == .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_1000, access: .write, guestRIP: 0x7C00)))
        #expect(event(0x4) == .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_1000, access: .fetch, guestRIP: 0x7C00)))
    }

    @Test("exception exits: vector and error code when bit 11 says so (decode reads 0x4406 only then)")
    func exceptions() {
        let withCode = FakeExitInformation(reason: 0)
        withCode.interruption = 0x8000_0B0E  // valid, hardware exception, error code, #PF
        withCode.errorCode = 2
        let decoded = VMExit.decode(withCode)
        #expect(ExitEvent.fromVMX(decoded, registers: registers) == .exception(vector: 14, errorCode: 2))
        #expect(withCode.reads == ["reason", "interruption", "error code"])
        let noCode = FakeExitInformation(reason: 0)
        noCode.interruption = 0x8000_0306  // #UD
        #expect(ExitEvent.fromVMX(VMExit.decode(noCode), registers: registers) == .exception(vector: 6, errorCode: nil))
        #expect(noCode.reads == ["reason", "interruption"])
    }

    @Test("entry failures, EPT misconfigurations and other reasons stay distinguishable")
    func others() {
        #expect(ExitEvent.fromVMX(.entryFailure(RawExitReason(rawValue: 0x8000_0021), qualification: 0), registers: registers)
                == .entryFailure(reason: 0x8000_0021, qualification: 0))
        #expect(ExitEvent.fromVMX(.eptMisconfiguration(guestPhysicalAddress: 0xFEC0_0000), registers: registers)
                == .unhandled(reason: 49, qualification: 0xFEC0_0000))
        #expect(ExitEvent.fromVMX(.unhandled(.rdtsc, qualification: 0), registers: registers)
                == .unhandled(reason: 16, qualification: 0))
    }

    @Test("VM-entry injection word for #GP(0): 0x80000B0D")
    func injection() {
        #expect(ExitInterruptionInformation.hardwareException(.generalProtection, hasErrorCode: true).rawValue == 0x8000_0B0D)
        #expect(ExitInterruptionInformation.hardwareException(.invalidOpcode, hasErrorCode: false).rawValue == 0x8000_0306)
    }
}
