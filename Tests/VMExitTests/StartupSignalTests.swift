import Testing
import VMXCore
@testable import VMExit

/// INIT and SIPI exits: decoded, and answered by the dispatcher as bare
/// metal would for an application processor (INIT: back to wait-for-SIPI;
/// SIPI: start at the vector), while the boot CPU's INIT still ends the guest.
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

    @Test("an application processor: INIT waits for SIPI, SIPI starts it; counted; RIP never advanced")
    func applicationProcessor() {
        var m = Machine(); defer { m.memory.deallocate() }
        m.dispatcher.isApplicationProcessor = true
        let sequence: [(ExitEvent, ExitAction)] = [
            (.initSignal, .waitForStartupIPI),
            (.startupIPI(StartupIPI(vector: 0x08)), .start(StartupIPI(vector: 0x08))),
            (.initSignal, .waitForStartupIPI),
            (.startupIPI(StartupIPI(vector: 0x9F)), .start(StartupIPI(vector: 0x9F))),
        ]
        for (event, expected) in sequence {
            let action = m.handle(event)
            #expect(action == expected)
            #expect(!action.advancesInstructionPointer)
        }
        #expect(m.dispatcher.statistics[.initSignal] == 2)
        #expect(m.dispatcher.statistics[.sipi] == 2)
        #expect(m.checks.total == 0)
    }

    @Test("a stop requested by another CPU names it")
    func stopRequested() {
        let reason = StopReason.stopRequested(byCPU: 2)
        #expect(!reason.isGuestPowerOff)
        #expect("\(reason.name)" == "stopped with the guest on another CPU")
    }
}
