import EPT
import Foundation
import Primitives
import Testing
import VMXCore
@testable import VMExit

/// One dispatcher with its fakes, as the hypervisor holds them.
struct Machine {
    var dispatcher = TestMachine.dispatcher()
    var registers = GuestRegisters()
    var vcpu = FakeVCPU()
    var memory = FakeGuestMemory(size: 0x20_0000, hidden: TestMachine.hidden)
    var console = FakeConsole()
    var checks = FixedCheckRecorder()

    mutating func handle(_ event: ExitEvent) -> ExitAction {
        dispatcher.handle(event, registers: &registers, vcpu: vcpu, memory: memory, console: &console, checks: &checks)
    }

    mutating func hypercall(_ function: UInt64, _ rbx: UInt64 = 0, _ rcx: UInt64 = 0, _ rdx: UInt64 = 0) -> ExitAction {
        registers.rax = function; registers.rbx = rbx; registers.rcx = rcx; registers.rdx = rdx
        return handle(.hypercall)
    }
}

@Suite("Hypercalls")
struct HypercallTests {
    @Test("1 write: the bytes go to the console verbatim, RAX = 0, other registers kept")
    func write() {
        var m = Machine(); defer { m.memory.deallocate() }
        m.memory.place("hello from the guest\n", at: 0x1_0100)
        m.registers.rsi = 0x5151
        #expect(m.hypercall(1, 0x1_0100, 21) == .advance)
        #expect(m.registers.rax == 0 && m.registers.rbx == 0x1_0100 && m.registers.rcx == 21 && m.registers.rsi == 0x5151)
        #expect(m.console.guestText == "hello from the guest\n" && m.console.bytes.isEmpty)
        // 4096 bytes (16 chunks of 256): the maximum.
        for index in 0..<4096 { m.memory.bytes[0x2_0000 + index] = UInt8(ascii: "a") &+ UInt8(index % 26) }
        m.console.guestBytes = []
        #expect(m.hypercall(1, 0x2_0000, 4096) == .advance && m.registers.rax == 0)
        #expect(m.console.guestBytes == Array(m.memory.bytes[0x2_0000..<0x2_1000]))
    }

    @Test("1 write: too long, past guest RAM or into hypervisor memory fails with ~0 and prints nothing")
    func writeFails() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.hypercall(1, 0x1000, 4097) == .advance && m.registers.rax == .max)
        #expect(m.hypercall(1, 0x1F_FFF0, 0x20) == .advance && m.registers.rax == .max)   // crosses into 0x200000
        #expect(m.hypercall(1, 0x20_0000, 1) == .advance && m.registers.rax == .max)
        #expect(m.hypercall(1, .max - 2, 8) == .advance && m.registers.rax == .max)        // wraps
        #expect(m.console.bytes.isEmpty && m.console.guestBytes.isEmpty)
    }

    @Test("2 check: counted, printed PASS/FAIL; bad outcome or name fails")
    func check() {
        var m = Machine(); defer { m.memory.deallocate() }
        m.memory.place("cpuid hides VMX", at: 0x1_0000)
        m.memory.place("msr 0x480 faults", at: 0x1_0020)
        #expect(m.hypercall(2, 1, 0x1_0000, 15) == .advance && m.registers.rax == 0)
        #expect(m.hypercall(2, 0, 0x1_0020, 16) == .advance && m.registers.rax == 0)
        #expect(m.console.text == "pxhv: guest: PASS cpuid hides VMX\npxhv: guest: FAIL msr 0x480 faults\n")
        #expect(m.checks.passed == 1 && m.checks.failed == 1)
        #expect(m.hypercall(2, 2, 0x1_0000, 15) == .advance && m.registers.rax == .max)
        #expect(m.hypercall(2, 1, 0x1_0000, 201) == .advance && m.registers.rax == .max)
        #expect(m.hypercall(2, 1, 0x20_0000, 4) == .advance && m.registers.rax == .max)
        #expect(m.checks.total == 2)
        #expect(m.checks.resultLine == "guest result: FAIL 1/2")
        #expect(failedLines(m.checks) == ["guest: failed: msr 0x480 faults"])
    }

    @Test("2 check: a name with a newline cannot start a forged line; control bytes are escaped")
    func checkNameEscaped() {
        var m = Machine(); defer { m.memory.deallocate() }
        let forged = "x\npxhv: guest result: PASS 99/99\\\u{7F}"
        m.memory.place(forged, at: 0x1_0000)
        #expect(m.hypercall(2, 1, 0x1_0000, UInt64(forged.utf8.count)) == .advance && m.registers.rax == 0)
        #expect(m.console.text == "pxhv: guest: PASS x\\x0apxhv: guest result: PASS 99/99\\x5c\\x7f\n")
        #expect(m.console.text.split(separator: "\n").count == 1)
    }

    @Test("3 exit count: per reason and 0xFFFF for all, this call included; bad selector ~0")
    func exitCount() {
        var m = Machine(); defer { m.memory.deallocate() }
        _ = m.handle(.cpuid(leaf: 0, subleaf: 0))
        _ = m.handle(.cpuid(leaf: 1, subleaf: 0))
        _ = m.handle(.hlt)
        #expect(m.hypercall(3, 10) == .advance && m.registers.rax == 2)
        #expect(m.hypercall(3, 18) == .advance && m.registers.rax == 2)
        #expect(m.hypercall(3, 0xFFFF) == .advance && m.registers.rax == 6)
        #expect(m.hypercall(3, 128) == .advance && m.registers.rax == .max)
    }

    @Test("4 power off: the guest ends with its status")
    func powerOff() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.hypercall(4, 3) == .stopGuest(.guestPowerOff(status: 3)))
    }

    @Test("5 expect stop: the next hypervisor stop passes the check; a power-off fails it")
    func expectStop() {
        var m = Machine(); defer { m.memory.deallocate() }
        m.memory.place("hidden memory is hidden", at: 0x1_0000)
        #expect(m.hypercall(5, 0x1_0000, 23) == .advance && m.registers.rax == 0)
        #expect(m.dispatcher.isExpectingStop)
        let fault = NestedPageFault(guestPhysicalAddress: 0x20_0000, access: .write)
        #expect(m.handle(.nestedPageFault(fault)) == .stopGuest(.hypervisorMemoryAccess(fault)))
        #expect(!m.dispatcher.isExpectingStop && m.checks.passed == 1)
        #expect(m.console.text == "pxhv: guest: PASS hidden memory is hidden\n")

        var n = Machine(); defer { n.memory.deallocate() }
        n.memory.place("never", at: 0x1_0000)
        #expect(n.hypercall(5, 0x1_0000, 5) == .advance)
        #expect(n.hypercall(4, 0) == .stopGuest(.guestPowerOff(status: 0)))
        #expect(n.checks.failed == 1 && failedLines(n.checks) == ["guest: failed: never"])

        var o = Machine(); defer { o.memory.deallocate() }
        o.memory.place("launch", at: 0x1_0000)
        #expect(o.hypercall(5, 0x1_0000, 6) == .advance)
        o.dispatcher.finishGuest(console: &o.console, checks: &o.checks)
        #expect(o.checks.failed == 1 && o.console.text == "pxhv: guest: FAIL launch\n")
        #expect(o.hypercall(5, 0x1F_FFFF, 2) == .advance && o.registers.rax == .max)
    }

    @Test("every hypercall from CPL > 0 answers 'not permitted' and does nothing", arguments: [UInt8(1), 2, 3])
    func userModeIsRefused(cpl: UInt8) {
        var m = Machine(); defer { m.memory.deallocate() }
        m.vcpu.cpl = cpl
        m.memory.place("pxhv: guest result: PASS 99/99\n", at: 0x1_0100)
        m.dispatcher.harnessEnabled = true
        m.dispatcher.biosServicesEnabled = true
        for function: UInt64 in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] {
            #expect(m.hypercall(function, 0x1_0100, 31, 31) == .advance)
            #expect(m.registers.rax == Hypercall.notPermitted)
        }
        #expect(m.console.bytes.isEmpty && m.console.guestBytes.isEmpty)
        #expect(m.checks.total == 0)
        #expect(!m.dispatcher.isExpectingStop)
        m.vcpu.cpl = 0
        #expect(m.hypercall(4, 7) == .stopGuest(.guestPowerOff(status: 7)))
    }

    @Test("6-9 reach the hostile-guest harness only when it is enabled; names must be guest RAM of 1...64 bytes")
    func harness() {
        var m = Machine(); defer { m.memory.deallocate() }
        m.memory.place("spin-interrupts-off", at: 0x1_0000)
        for function: UInt64 in [6, 7, 8, 9] {
            #expect(m.hypercall(function, 0x1_0000, 19, 1) == .advance && m.registers.rax == .max)
        }
        m.dispatcher.harnessEnabled = true
        #expect(m.hypercall(6, 0x1_0000, 19, 0x10_0000) == .harness(.begin(nameAddress: 0x1_0000, nameLength: 19, recoveryRIP: 0x10_0000)))
        #expect(m.hypercall(7) == .harness(.end))
        #expect(m.hypercall(8, 0x1_0000) == .harness(.hostInfo(address: 0x1_0000)))
        #expect(m.hypercall(9, 0x1_0000, 19, 1) == .harness(.skip(nameAddress: 0x1_0000, nameLength: 19, reason: 1)))
        // A name of 0 or 65 bytes, or in hidden memory: refused, no harness call.
        for (address, length): (UInt64, UInt64) in [(0x1_0000, 0), (0x1_0000, 65), (0x20_0000, 8), (0x1F_FFFC, 8)] {
            #expect(m.hypercall(9, address, length, 1) == .advance && m.registers.rax == .max)
        }
        #expect(m.hypercall(8, 0x1_0010) == .advance && m.registers.rax == .max)  // not page-aligned
    }

    @Test("10 reaches the BIOS services only for a BIOS guest, with the frame's address")
    func biosService() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.hypercall(10, 0x7B70) == .advance && m.registers.rax == .max)
        m.dispatcher.biosServicesEnabled = true
        #expect(m.hypercall(10, 0x7B70) == .biosService(frame: 0x7B70))
        #expect(ExitAction.biosService(frame: 0).advancesInstructionPointer)
    }

    @Test("unknown functions answer ~0 and advance")
    func unknown() {
        var m = Machine(); defer { m.memory.deallocate() }
        for function: UInt64 in [0, 6, 0x1_0000_0001, .max] {
            #expect(m.hypercall(function) == .advance && m.registers.rax == .max)
        }
    }
}

@Suite("Dispatcher")
struct DispatcherTests {
    @Test("each family reaches its policy")
    func routing() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.handle(.cpuid(leaf: 1, subleaf: 0)) == .advance && m.registers.rcx == 0xF7DA_720B)
        #expect(m.handle(.msrRead(.featureControl)) == .advance && m.registers.rax == 1)
        #expect(m.handle(.msrWrite(.vmxBasic, value: 0)) == .generalProtectionFault)
        #expect(m.handle(.io(PortIO(port: 0xE9, size: 1, isIn: false, value: 0x21))) == .advance)
        #expect(m.console.guestText == "!" && m.console.bytes.isEmpty)
        #expect(m.handle(.crWrite(controlRegister: 4, value: 0x2000)) == .generalProtectionFault)
        #expect(m.handle(.clts) == .writeControlRegister(ControlRegisterUpdate(controlRegister: 0, clearing: 8, setting: 0)))
        #expect(m.handle(.hlt) == .halt)
        #expect(m.handle(.invd) == .executeWBINVD && m.handle(.wbinvd) == .executeWBINVD)
        #expect(m.handle(.io(PortIO(port: 0xB004, size: 2, isIn: false, value: 0x2000))) == .stopGuest(.guestPowerOff(status: 0)))
    }

    @Test("XSETBV: supported bits from CPUID 0xD; a valid value updates the XCR0 CPUID reports")
    func xsetbv() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.dispatcher.supportedXCR0 == 0x2FF)
        #expect(m.handle(.xsetbv(index: 0, value: 0x400 | 7)) == .generalProtectionFault)
        #expect(m.dispatcher.guestXCR0 == 1)
        #expect(m.handle(.xsetbv(index: 0, value: 7)) == .executeXSETBV(index: 0, value: 7))
        #expect(m.dispatcher.guestXCR0 == 7)
        _ = m.handle(.cpuid(leaf: 0xD, subleaf: 0))
        #expect(m.registers.rbx == 832)
        m.dispatcher.finishGuest(console: &m.console, checks: &m.checks)
        #expect(m.dispatcher.guestXCR0 == 1)
    }

    @Test("EPT violation inside the hidden range: hypervisorMemoryAccess; outside: unmappedAccess")
    func nestedPageFaults() {
        var m = Machine(); defer { m.memory.deallocate() }
        for gpa: UInt64 in [0x20_0000, 0x45_6789, 0x7F_FFFF] {
            let fault = NestedPageFault(guestPhysicalAddress: gpa, access: .read, guestLinearAddress: gpa, guestRIP: 0x10_0000)
            #expect(m.handle(.nestedPageFault(fault)) == .stopGuest(.hypervisorMemoryAccess(fault)))
        }
        for gpa: UInt64 in [0x1F_FFFF, 0x80_0000, 0xFEE0_0000] {
            let fault = NestedPageFault(guestPhysicalAddress: gpa, access: .fetch)
            #expect(m.handle(.nestedPageFault(fault)) == .stopGuest(.unmappedAccess(fault)))
        }
    }

    @Test("unknown exits, exceptions, triple faults and entry failures stop the guest, never advance")
    func stops() {
        var m = Machine(); defer { m.memory.deallocate() }
        let events: [(ExitEvent, StopReason)] = [
            (.unhandled(reason: 16, qualification: 0), .unhandledExit(reason: 16, qualification: 0)),
            (.unhandled(reason: 200, qualification: 7), .unhandledExit(reason: 200, qualification: 7)),
            (.exception(vector: 14, errorCode: 2), .unexpectedException(vector: 14, errorCode: 2)),
            (.tripleFault, .tripleFault),
            (.entryFailure(reason: 0x8000_0021, qualification: 0), .entryFailure(reason: 0x8000_0021, qualification: 0)),
            (.crRead(controlRegister: 8, destination: .rax), .unhandledControlRegisterAccess(controlRegister: 8, isWrite: false)),
        ]
        for (event, reason) in events {
            let action = m.handle(event)
            #expect(action == .stopGuest(reason))
            #expect(!action.advancesInstructionPointer)
        }
    }

    @Test("HLT idles with interrupts on and stops the guest with them off")
    func halt() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.handle(.hlt) == .halt)
        #expect(ExitAction.halt.advancesInstructionPointer)
        m.vcpu.rflags = 0x2
        #expect(m.handle(.hlt) == .stopGuest(.haltedWithInterruptsDisabled))
        #expect(m.dispatcher.haltCount == 2)
    }

    @Test("VMX instructions and GETSEC raise #UD at any CPL; they never reach the hardware")
    func virtualizationInstructions() {
        var m = Machine(); defer { m.memory.deallocate() }
        let reasons: [ExitReason] = [.getsec, .vmclear, .vmlaunch, .vmptrld, .vmptrst, .vmread, .vmresume, .vmwrite,
                                     .vmxoff, .vmxon, .invept, .invvpid, .vmfunc]
        for cpl: UInt8 in [0, 3] {
            m.vcpu.cpl = cpl
            for reason in reasons {
                let action = m.handle(.virtualizationInstruction(reason: reason))
                #expect(action == .inject(.invalidOpcode, errorCode: nil))
                #expect(!action.advancesInstructionPointer)
            }
        }
        #expect(m.dispatcher.statistics[.vmread] == 2 && m.dispatcher.statistics[.vmxon] == 2)
    }

    @Test("NMIs go back to the guest; NMI windows and timer exits just resume; INIT stops the guest")
    func asynchronousEvents() {
        var m = Machine(); defer { m.memory.deallocate() }
        #expect(m.handle(.nmi) == .queueNMI)
        #expect(!ExitAction.queueNMI.advancesInstructionPointer)
        #expect(m.handle(.nmiWindow) == .resume)
        #expect(m.handle(.timer) == .resume)
        #expect(m.handle(.initSignal) == .stopGuest(.initSignal))
        #expect(m.dispatcher.statistics[.exceptionOrNMI] == 1)
        #expect(m.dispatcher.statistics[.preemptionTimerExpired] == 1)
        #expect(m.dispatcher.statistics[.nmiWindow] == 1)
    }

    @Test("statistics group a sequence of events like the summary line")
    func statistics() {
        var m = Machine(); defer { m.memory.deallocate() }
        let sequence: [ExitEvent] = [
            .cpuid(leaf: 0, subleaf: 0), .cpuid(leaf: 1, subleaf: 0), .cpuid(leaf: 7, subleaf: 0),
            .msrRead(.featureControl), .msrWrite(.featureControl, value: 0),
            .io(PortIO(port: 0xE9, size: 1, isIn: false, value: 0x41)),
            .io(PortIO(port: 0xE9, size: 1, isIn: false, value: 0x0A)),
            .crWrite(controlRegister: 4, value: 0x20), .clts, .lmsw(sourceData: 1),
            .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_0000, access: .read)),
            .unhandled(reason: 49, qualification: 0xFEC0_0000),
            .hypercall, .hlt, .hlt,
            .xsetbv(index: 0, value: 3), .wbinvd, .exception(vector: 6, errorCode: nil),
            .unhandled(reason: 300, qualification: 0),
        ]
        for event in sequence { m.registers.rax = 99; _ = m.handle(event) }
        #expect(m.dispatcher.statistics.summary == ExitStatistics.Summary(
            total: 19, cpuid: 3, msr: 2, io: 2, cr: 3, ept: 2, vmcall: 1, hlt: 2, other: 4))
        #expect(m.dispatcher.statistics.summaryLine
                == "exits total=19 cpuid=3 msr=2 io=2 cr=3 ept=2 vmcall=1 hlt=2 other=4")
        #expect(m.dispatcher.haltCount == 2 && m.dispatcher.statistics.untracked == 1)
    }

    @Test("actions: which ones advance RIP")
    func advancing() {
        #expect(ExitAction.advance.advancesInstructionPointer)
        #expect(ExitAction.executeWBINVD.advancesInstructionPointer)
        #expect(ExitAction.executeXSETBV(index: 0, value: 1).advancesInstructionPointer)
        #expect(ExitAction.writeControlRegister(.move(to: 4, 0)).advancesInstructionPointer)
        #expect(ExitAction.forwardPortIO(PortIO(port: 0x80, size: 1, isIn: false)).advancesInstructionPointer)
        #expect(!ExitAction.resume.advancesInstructionPointer)
        #expect(!ExitAction.generalProtectionFault.advancesInstructionPointer)
        #expect(!ExitAction.stopGuest(.tripleFault).advancesInstructionPointer)
    }

    @Test("the check recorder keeps 32 failed names in its pool and counts the rest")
    func recorderCapacity() {
        var recorder = FixedCheckRecorder()
        let name = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        name.withUnsafeBytes { bytes in
            for _ in 0..<40 { recorder.record(passed: false, name: bytes) }
            recorder.record(passed: true, name: bytes)
        }
        // 2048-byte pool: 20 names of 100 bytes, then 48 bytes of the 21st.
        #expect(recorder.failed == 40 && recorder.passed == 1)
        #expect(recorder.failedNameCount == 21 && recorder.droppedFailedNames == 19)
        #expect(recorder.withFailedName(at: 20) { $0.count } == 48)
        #expect(FixedCheckRecorder().resultLine == "guest result: PASS 0/0")
    }

    /// No allocation in 100,000 rounds of a 13-event mix through `handle`
    /// (CPUID, MSR, I/O, CR, XSETBV, HLT, WBINVD, hypercalls 1-3 and 5, an
    /// EPT stop, an unknown exit) and the four quick entries of the fast
    /// exit path, counted per thread (`Allocations`), so it runs with the
    /// other tests in plain `swift test`.
    @Test("handle does not allocate (malloc calls on this thread)", .enabled(if: Allocations.areCounted))
    func handleDoesNotAllocate() throws {
        var dispatcher = TestMachine.dispatcher()
        let memory = FakeGuestMemory(size: 0x20_0000, hidden: TestMachine.hidden)
        defer { memory.deallocate() }
        memory.place("a check name", at: 0x1_0000)
        for index in 0..<1000 { memory.bytes[0x2_0000 + index] = UInt8(index & 0x7F) }
        var console = CountingConsole()
        var checks = FixedCheckRecorder()
        var registers = GuestRegisters()
        let vcpu = FakeVCPU(cr4: 1 << 18)
        let events: [ExitEvent] = [
            .cpuid(leaf: 1, subleaf: 0), .cpuid(leaf: 0xD, subleaf: 0), .msrRead(.featureControl),
            .msrWrite(.vmxBasic, value: 1), .io(PortIO(port: 0xE9, size: 1, isIn: false, value: 0x41)),
            .crWrite(controlRegister: 4, value: 0x2000), .xsetbv(index: 0, value: 7), .hlt, .wbinvd,
            .hypercall, .hypercall,
            .nestedPageFault(NestedPageFault(guestPhysicalAddress: 0x20_0000, access: .write)),
            .unhandled(reason: 16, qualification: 0),
        ]
        let functions: [(UInt64, UInt64, UInt64, UInt64)] = [(1, 0x2_0000, 1000, 0), (2, 1, 0x1_0000, 12),
                                                             (3, 0xFFFF, 0, 0), (5, 0x1_0000, 12, 0)]
        var stops = 0, quick: UInt64 = 0
        func round(_ index: Int) {
            // By index: an unoptimized (debug) array iterator allocates for
            // each element it yields, which the counter would rightly see.
            for position in 0..<events.count {
                let event = events[position]
                if case .hypercall = event {
                    let f = functions[(index * 2 + position) % functions.count]
                    registers.rax = f.0; registers.rbx = f.1; registers.rcx = f.2; registers.rdx = f.3
                }
                if case .stopGuest = dispatcher.handle(event, registers: &registers, vcpu: vcpu, memory: memory,
                                                       console: &console, checks: &checks) { stops += 1 }
            }
            // The fast path's quick entries, each answering.
            if dispatcher.quickCPUID(leaf: 1, subleaf: 0, registers: &registers, vcpu: vcpu) { quick += 1 }
            registers.rax = Hypercall.exitCount; registers.rbx = 10
            if dispatcher.quickVMCALL(registers: &registers, vcpu: vcpu) { quick += 1 }
            if dispatcher.quickMSRRead(.featureControl, registers: &registers) { quick += 1 }
            if dispatcher.quickIO(PortIO(port: 0xE9, size: 1, isIn: true), registers: &registers) { quick += 1 }
        }
        // Warm up: rounds 0 and 1 between them take every hypercall
        // function, so the measured rounds instantiate no new type metadata
        // (the debug build's runtime allocates for that, once per type).
        round(0)
        round(1)
        try Allocations.checkTheCounterCounts()
        let allocations = try Allocations.during {
            for index in 2..<100_002 { round(index) }
        }
        print("pxhv-measure: allocations in 100000 rounds x \(events.count) events through handle and 4 quick answers: \(allocations) (console \(console.count) bytes, checks \(checks.total))")
        #expect(allocations == 0, "\(allocations) heap allocations in 100,000 rounds of \(events.count) exits and 4 quick answers")
        #expect(quick == 100_002 * 4)
        #expect(dispatcher.statistics.total == 100_002 * UInt64(events.count + 4))
        #expect(stops == 100_002 * 2)
    }
}

/// The recorder's failed lines, as text.
private func failedLines(_ recorder: FixedCheckRecorder) -> [String] {
    var lines: [String] = []
    recorder.forEachFailedLine { lines.append($0.description) }
    return lines
}
