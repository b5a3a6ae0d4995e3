import Testing
import VMXCore
@testable import VMExit

/// INIT and SIPI exits: decoded, and answered by the dispatcher as bare
/// metal would for an application processor (INIT: out of the guest, to
/// wait for STARTUP), while the boot CPU's INIT still ends the guest; and
/// the trapped local APIC page, whose writes the backend emulates.
@Suite("INIT and SIPI (the startup state machine)")
struct StartupSignalTests {
    @Test("reason 4 decodes to the SIPI with the qualification's vector; reason 3 to INIT")
    func decode() {
        #expect(VMExit.decode(FakeExitInformation(reason: 4, qualification: 0x9E)) == .startupIPI(StartupIPI(vector: 0x9E)))
        #expect(VMExit.decode(FakeExitInformation(reason: 3)) == .initSignal)
        #expect(VMExit.startupIPI(StartupIPI(vector: 1)).reason == .sipi)
        #expect(ExitEvent.fromVMX(.startupIPI(StartupIPI(vector: 8)), registers: GuestRegisters()) == .startupIPI(StartupIPI(vector: 8)))
        // A failed entry with basic reason 4 is still a failed entry.
        guard case .entryFailure = VMExit.decode(FakeExitInformation(reason: 0x8000_0004)) else {
            Issue.record("bit 31 must win"); return
        }
    }

    @Test("the boot CPU: INIT ends the guest, a SIPI is an unhandled exit")
    func bootCPU() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.handle(.initSignal) == .stopGuest(.initSignal))
        #expect(m.handle(.startupIPI(StartupIPI(vector: 8))) == .stopGuest(.unhandledExit(reason: 4, qualification: 8)))
    }

    @Test("an application processor: INIT leaves the guest to wait for STARTUP; a SIPI exit is unhandled (no vCPU waits for SIPI in non-root)")
    func applicationProcessor() {
        var m = Machine(); defer { m.memory.deallocate() }
        m.dispatcher.isApplicationProcessor = true
        #expect(m.handle(.initSignal) == .waitForStartupIPI)
        #expect(!ExitAction.waitForStartupIPI.advancesInstructionPointer)
        #expect(m.handle(.startupIPI(StartupIPI(vector: 0x9F))) == .stopGuest(.unhandledExit(reason: 4, qualification: 0x9F)))
        #expect(m.dispatcher.statistics[.initSignal] == 1)
        #expect(m.dispatcher.statistics[.sipi] == 1)
        // HLT with interrupts off halts an AP (until an NMI or INIT), ends the boot CPU's guest.
        m.vcpu.rflags = 0x2
        #expect(m.handle(.hlt) == .halt)
        m.dispatcher.isApplicationProcessor = false
        #expect(m.handle(.hlt) == .stopGuest(.haltedWithInterruptsDisabled))
        #expect(m.checks.total == 0)
    }

    @Test("writes to the trapped local APIC page are emulated; reads there, and other faults, stop the guest")
    func localAPICPage() {
        var m = Machine(); defer { m.memory.deallocate() }
        let write = NestedPageFault(guestPhysicalAddress: 0xFEE0_0300, access: .write, guestRIP: 0x10_0040)
        #expect(m.handle(.nestedPageFault(write)) == .stopGuest(.unmappedAccess(write)))  // not trapped
        m.dispatcher.nestedPageFaults.localAPICPage = 0xFEE0_0000
        #expect(m.handle(.nestedPageFault(write)) == .emulateLocalAPICWrite(write))
        #expect(!ExitAction.emulateLocalAPICWrite(write).advancesInstructionPointer)
        let last = NestedPageFault(guestPhysicalAddress: 0xFEE0_0FFC, access: .write)
        #expect(m.handle(.nestedPageFault(last)) == .emulateLocalAPICWrite(last))
        let read = NestedPageFault(guestPhysicalAddress: 0xFEE0_0300, access: .read)
        #expect(m.handle(.nestedPageFault(read)) == .stopGuest(.unmappedAccess(read)))
        let fetch = NestedPageFault(guestPhysicalAddress: 0xFEE0_0000, access: .fetch)
        #expect(m.handle(.nestedPageFault(fetch)) == .stopGuest(.unmappedAccess(fetch)))
        let next = NestedPageFault(guestPhysicalAddress: 0xFEE0_1000, access: .write)
        #expect(m.handle(.nestedPageFault(next)) == .stopGuest(.unmappedAccess(next)))
        let hidden = NestedPageFault(guestPhysicalAddress: TestMachine.hidden.start, access: .write)
        #expect(m.handle(.nestedPageFault(hidden)) == .stopGuest(.hypervisorMemoryAccess(hidden)))
        #expect(m.dispatcher.statistics[.eptViolation] == 7)
    }

    @Test("a stop requested by another CPU names it")
    func stopRequested() {
        let reason = StopReason.stopRequested(byCPU: 2)
        #expect(!reason.isGuestPowerOff)
        #expect("\(reason.name)" == "stopped with the guest on another CPU")
    }
}
