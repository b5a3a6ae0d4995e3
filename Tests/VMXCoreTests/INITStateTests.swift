import Testing
@testable import VMXCore

/// The state an application processor's vCPU starts in and returns to on
/// INIT (`VMCSGuestState.afterINIT`), and its start by a SIPI: Intel SDM
/// Vol. 3A, "IA-32 and Intel 64 Processor States Following Power-up,
/// Reset, or INIT", and "MP Initialization Protocol Algorithm for MP Systems".
@Suite("INIT state and SIPI start (application processors)")
struct INITStateTests {
    static var capabilities: VMXCapabilities { get throws { try SampleVMCS.capabilities } }

    @Test("the INIT state: the SDM's table, waiting for SIPI")
    func initState() {
        let state = VMCSGuestState.afterINIT()
        #expect(state.cr0.rawValue == 0x6000_0010)
        #expect(state.cr3 == 0 && state.cr4.isEmpty && state.efer.isEmpty)
        #expect(state.rip == 0xFFF0 && state.rflags.rawValue == 0x2 && state.rsp == 0)
        #expect(state.cs == SegmentRegister(selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, accessRights: SegmentAccessRights(rawValue: 0x9B)))
        for data in [state.ds, state.es, state.fs, state.gs, state.ss] {
            #expect(data == SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: SegmentAccessRights(rawValue: 0x93)))
        }
        #expect(state.gdtr == DescriptorTableRegister(base: 0, limit: 0xFFFF))
        #expect(state.idtr == DescriptorTableRegister(base: 0, limit: 0xFFFF))
        #expect(state.ldtr == SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: SegmentAccessRights(rawValue: 0x82)))
        #expect(state.dr7 == 0x400 && state.pat == VMCSGuestState.defaultPAT)
        #expect(state.activityState == .waitForSIPI && state.interruptibility.isEmpty)
    }

    @Test("INIT keeps CR0.CD and NW and the PAT, clears the rest of CR0")
    func initKeeps() {
        let state = VMCSGuestState.afterINIT(keepingCacheControlOf: [.pe, .pg, .wp, .ne, .mp], pat: 0x0606_0606_0606_0606)
        #expect(state.cr0 == .et)
        #expect(state.pat == 0x0606_0606_0606_0606)
        #expect(VMCSGuestState.afterINIT(keepingCacheControlOf: [.cd, .pg]).cr0 == [.cd, .et])
    }

    @Test("the pre-launch checker accepts the INIT state (Bochs's capabilities: wait-for-SIPI supported)")
    func passesTheChecker() throws {
        let capabilities = try Self.capabilities
        #expect(capabilities.miscellaneous.activityStates.contains(.waitForSIPI))
        let config = CheckerConfig(
            controls: try SampleVMCS.controls(longMode: false), host: SampleVMCS.host,
            guest: VMCSGuestState.afterINIT().applyingFixedBits(capabilities, unrestrictedGuest: true),
            capabilities: capabilities)
        let failure = config.check()
        #expect(failure == nil, "\(failure?.message.description ?? "")")
    }

    @Test("without the wait-for-SIPI activity state the checker refuses it")
    func needsWaitForSIPI() throws {
        var capabilities = try Self.capabilities
        capabilities.miscellaneous = VMXMiscellaneous(rawValue: capabilities.miscellaneous.rawValue & ~(1 << 8))
        let config = CheckerConfig(
            controls: try SampleVMCS.controls(longMode: false), host: SampleVMCS.host,
            guest: VMCSGuestState.afterINIT().applyingFixedBits(capabilities, unrestrictedGuest: true),
            capabilities: capabilities)
        #expect(config.check()?.check == .guestActivityState)
    }

    @Test("a SIPI's vector: CS = vector << 8, base = vector << 12, IP = 0; the qualification's bits 7:0")
    func startupIPI() {
        let sipi = StartupIPI(exitQualification: 0xFFFF_FF9F)
        #expect(sipi.vector == 0x9F)
        #expect(sipi.codeSelector == 0x9F00 && sipi.codeBase == 0x9_F000 && sipi.instructionPointer == 0)
        #expect(StartupIPI(vector: 0).codeBase == 0 && StartupIPI(vector: 0xFF).codeBase == 0xF_F000)
    }

    @Test("a SIPI starts the INIT state at its vector, active, the rest unchanged; the checker accepts it")
    func startedState() throws {
        let capabilities = try Self.capabilities
        let waiting = VMCSGuestState.afterINIT().applyingFixedBits(capabilities, unrestrictedGuest: true)
        let started = waiting.startingAt(StartupIPI(vector: 0x08))
        #expect(started.cs.selector == 0x0800 && started.cs.base == 0x8000 && started.cs.limit == 0xFFFF)
        #expect(started.cs.accessRights == waiting.cs.accessRights)
        #expect(started.rip == 0 && started.activityState == .active)
        var rest = started
        rest.cs = waiting.cs
        rest.rip = waiting.rip
        rest.activityState = waiting.activityState
        #expect(rest == waiting)
        let config = CheckerConfig(
            controls: try SampleVMCS.controls(longMode: false), host: SampleVMCS.host, guest: started,
            capabilities: capabilities)
        let failure = config.check()
        #expect(failure == nil, "\(failure?.message.description ?? "")")
    }
}
