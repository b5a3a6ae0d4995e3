import Testing
@testable import VMXCore

/// One VMCS configuration for the checker.
struct CheckerConfig {
    var controls: VMCSControls
    var host: VMCSHostState
    var guest: VMCSGuestState
    var capabilities: VMXCapabilities

    static func passing(longMode: Bool) throws -> CheckerConfig {
        CheckerConfig(
            controls: try SampleVMCS.controls(longMode: longMode), host: SampleVMCS.host,
            guest: longMode ? try SampleVMCS.longModeGuest : try SampleVMCS.realModeGuest,
            capabilities: try SampleVMCS.capabilities)
    }

    func check() -> VMEntryCheckFailure? {
        VMEntryChecker.check(controls: controls, host: host, guest: guest, capabilities: capabilities)
    }
}

/// A configuration that passes, broken in one place.
struct Breakage: Sendable, CustomTestStringConvertible {
    let expected: VMEntryCheck
    let longMode: Bool
    let what: String
    let apply: @Sendable (inout CheckerConfig) -> Void

    init(_ expected: VMEntryCheck, long longMode: Bool = true, _ what: String, _ apply: @escaping @Sendable (inout CheckerConfig) -> Void) {
        self.expected = expected
        self.longMode = longMode
        self.what = what
        self.apply = apply
    }

    var testDescription: String { "\(what) (\(longMode ? "64-bit" : "real-mode") guest)" }
}

let nonCanonical: UInt64 = 0x0000_8000_0000_0000
let invalidPAT: UInt64 = 0x0007_0406_0007_0402

/// A 32-bit host: no "host address-space size", EFER.LMA = LME = 0.
func make32BitHost(_ c: inout CheckerConfig) {
    c.controls.vmExit.remove(.hostAddressSpaceSize)
    c.host.efer = []
}

let breakages: [Breakage] = [
    // 27.2.1 VMX controls
    Breakage(.controlWord(.pinBased), "pin-based: process posted interrupts not allowed") { $0.controls.pinBased.insert(.processPostedInterrupts) },
    Breakage(.controlWord(.primaryProcessorBased), "primary: default1 bit 1 cleared") { $0.controls.primaryProcessorBased.remove(PrimaryProcessorControls(rawValue: 2)) },
    Breakage(.controlWord(.secondaryProcessorBased), "secondary: ENCLS exiting not allowed") { $0.controls.secondaryProcessorBased.insert(.enableENCLSExiting) },
    Breakage(.controlWord(.vmExit), "exit: clear IA32_BNDCFGS not allowed") { $0.controls.vmExit.insert(.clearBNDCFGS) },
    Breakage(.controlWord(.vmEntry), "entry: load IA32_BNDCFGS not allowed") { $0.controls.vmEntry.insert(.loadBNDCFGS) },
    Breakage(.secondaryControlsNotActivated, "secondary controls without activation") { $0.controls.primaryProcessorBased.remove(.activateSecondaryControls) },
    Breakage(.cr3TargetCount, "CR3-target count 5 > 4") { $0.controls.cr3TargetCount = 5 },
    Breakage(.ioBitmapAddress, "I/O bitmap B misaligned") { $0.controls.ioBitmapBAddress = 0x20_3004 },
    Breakage(.msrBitmapAddress, "MSR bitmap beyond 52 bits") { $0.controls.msrBitmapAddress = 1 << 52 },
    Breakage(.nmiControls, "virtual NMIs without NMI exiting") { $0.controls.pinBased.remove(.nmiExiting) },
    Breakage(.nmiControls, "NMI-window exiting without virtual NMIs") {
        $0.controls.pinBased.remove(.virtualNMIs)
        $0.controls.primaryProcessorBased.insert(.nmiWindowExiting)
    },
    Breakage(.vpidZero, "VPID 0 with enable VPID") { $0.controls.vpid = 0 },
    Breakage(.eptpMemoryType, "EPTP memory type WC") { $0.controls.eptPointer = $0.controls.eptPointer & ~7 | 1 },
    Breakage(.eptpPageWalkLength, "EPTP 5-level walk unsupported") { $0.controls.eptPointer = $0.controls.eptPointer & ~0x38 | 4 << 3 },
    Breakage(.eptpAccessedDirty, "EPTP A/D without support") {
        $0.controls.eptPointer |= 1 << 6
        $0.capabilities.eptVPID = EPTVPIDCapabilities(rawValue: $0.capabilities.eptVPID.rawValue & ~(1 << 21))
    },
    Breakage(.eptpReservedBits, "EPTP bit 8 set") { $0.controls.eptPointer |= 1 << 8 },
    Breakage(.unrestrictedGuestWithoutEPT, "unrestricted guest without EPT") { $0.controls.secondaryProcessorBased.remove(.enableEPT) },
    Breakage(.preemptionTimerSave, "save preemption timer without the timer") { $0.controls.vmExit.insert(.saveVMXPreemptionTimerValue) },
    Breakage(.entryOutsideSMM, "entry to SMM") { $0.controls.vmEntry.insert(.entryToSMM) },

    // 27.2.2-27.2.4 host state
    Breakage(.hostCR0FixedBits, "host CR0.NE clear") { $0.host.cr0.remove(.ne) },
    Breakage(.hostCR4FixedBits, "host CR4.VMXE clear") { $0.host.cr4.remove(.vmxe) },
    Breakage(.hostCR4FixedBits, "host CR4 bit 31 (fixed to 0)") { $0.host.cr4.insert(CR4(rawValue: 1 << 31)) },
    Breakage(.hostCR3Width, "host CR3 beyond 52 bits") { $0.host.cr3 = 1 << 52 },
    Breakage(.hostSysenterCanonical, "host SYSENTER_EIP non-canonical") { $0.host.sysenterEIP = nonCanonical },
    Breakage(.hostPAT, "host PAT type 2") { $0.host.pat = invalidPAT },
    Breakage(.hostEFERReservedBits, "host EFER bit 1") { $0.host.efer.insert(EFER(rawValue: 2)) },
    Breakage(.hostEFERAddressSpaceSize, "host EFER.LME clear") { $0.host.efer.remove(.lme) },
    Breakage(.hostSelectorRPLOrTI, "host DS selector RPL 3") { $0.host.dsSelector = 0x13 },
    Breakage(.hostCSSelectorNull, "host CS selector 0") { $0.host.csSelector = 0 },
    Breakage(.hostTRSelectorNull, "host TR selector 0") { $0.host.trSelector = 0 },
    Breakage(.hostSSSelectorNull, long: false, "host SS selector 0 on a 32-bit host") {
        make32BitHost(&$0)
        $0.host.ssSelector = 0
    },
    Breakage(.hostBaseCanonical, "host GS base non-canonical") { $0.host.gsBase = nonCanonical },
    Breakage(.hostAddressSpaceSizeRequired, long: false, "64-bit host without host address-space size") {
        $0.controls.vmExit.remove([.hostAddressSpaceSize, .loadEFER])
    },
    Breakage(.hostCR4PAE, "host CR4.PAE clear") { $0.host.cr4.remove(.pae) },
    Breakage(.hostRIP, "host RIP non-canonical") { $0.host.rip = nonCanonical },
    Breakage(.hostCR4PCIDE, long: false, "32-bit host with CR4.PCIDE") {
        make32BitHost(&$0)
        $0.host.cr4.insert(.pcide)
    },
    Breakage(.ia32eGuestOn32BitHost, "IA-32e guest on a 32-bit host") { make32BitHost(&$0) },
    Breakage(.hostRIP, long: false, "32-bit host with RIP above 4 GiB") {
        make32BitHost(&$0)
        $0.host.rip = 1 << 32
    },

    // 27.3.1.1 guest control registers, debug registers, MSRs
    Breakage(.guestCR0FixedBits, "guest CR0.NE clear") { $0.guest.cr0.remove(.ne) },
    Breakage(.guestCR0PagingWithoutProtection, long: false, "guest CR0.PG without PE") { $0.guest.cr0.insert(.pg) },
    Breakage(.guestCR4FixedBits, "guest CR4.VMXE clear") { $0.guest.cr4.remove(.vmxe) },
    Breakage(.guestIA32eModeWithoutPaging, "IA-32e guest with CR0.PG clear") { $0.guest.cr0.remove(.pg) },
    Breakage(.guestIA32eModeWithoutPAE, "IA-32e guest with CR4.PAE clear") { $0.guest.cr4.remove(.pae) },
    Breakage(.guestCR4PCIDE, long: false, "guest CR4.PCIDE outside IA-32e mode") { $0.guest.cr4.insert(.pcide) },
    Breakage(.guestCR3Width, "guest CR3 beyond 52 bits") { $0.guest.cr3 = 1 << 52 },
    Breakage(.guestDR7, "guest DR7 bit 32 with load debug controls") {
        $0.controls.vmEntry.insert(.loadDebugControls)
        $0.guest.dr7 = 1 << 32 | 0x400
    },
    Breakage(.guestSysenterCanonical, "guest SYSENTER_ESP non-canonical") { $0.guest.sysenterESP = nonCanonical },
    Breakage(.guestPAT, "guest PAT type 2") { $0.guest.pat = invalidPAT },
    Breakage(.guestEFERReservedBits, "guest EFER bit 1") { $0.guest.efer.insert(EFER(rawValue: 2)) },
    Breakage(.guestEFERLMA, "guest EFER.LMA clear with IA-32e guest") { $0.guest.efer.remove(.lma) },
    Breakage(.guestEFERLME, "guest EFER.LME clear with paging") { $0.guest.efer.remove(.lme) },

    // 27.3.1.2 guest segments
    Breakage(.guestTRSelectorTI, "guest TR selector TI") { $0.guest.tr.selector = 0x1C },
    Breakage(.guestLDTRSelectorTI, "usable LDTR with TI") {
        $0.guest.ldtr = SegmentRegister(selector: 0x0C, base: 0, limit: 0xFFFF, accessRights: .ldt)
    },
    Breakage(.guestSSRPL, "SS RPL 3, CS RPL 0 without unrestricted guest") {
        $0.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        $0.guest.ss.selector = 0x13
    },
    Breakage(.guestSegmentBase(.fs), "FS base non-canonical") { $0.guest.fs.base = nonCanonical },
    Breakage(.guestSegmentBase(.ds), "DS base above 4 GiB") { $0.guest.ds.base = 1 << 32 },
    Breakage(.guestVirtual8086Segment(.cs), long: false, "RFLAGS.VM with real-mode access rights") { $0.guest.rflags.insert(.virtual8086Mode) },
    Breakage(.guestCSType, long: false, "CS type 1 (data)") { $0.guest.cs.accessRights.type = 1 },
    Breakage(.guestCSType, "CS type 1 (data) without unrestricted guest") {
        $0.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        $0.guest.cs.accessRights.type = 1
    },
    Breakage(.guestSSType, long: false, "SS type 11 (code)") { $0.guest.ss.accessRights.type = 11 },
    Breakage(.guestDataSegmentType(.es), long: false, "ES not accessed") { $0.guest.es.accessRights.type = 2 },
    Breakage(.guestSegmentS(.gs), long: false, "GS with S clear") { $0.guest.gs.accessRights.isCodeOrData = false },
    Breakage(.guestCSDPL, "CS DPL 3, SS DPL 0") { $0.guest.cs.accessRights.dpl = 3 },
    Breakage(.guestCSDPL, long: false, "CS type 3 with DPL 1") {
        $0.guest.cs.accessRights.type = 3
        $0.guest.cs.accessRights.dpl = 1
    },
    Breakage(.guestCSDPL, "conforming CS DPL 3 above SS DPL 0") {
        $0.guest.cs.accessRights.type = 15
        $0.guest.cs.accessRights.dpl = 3
    },
    Breakage(.guestSSDPL, "SS DPL 3, RPL 0 without unrestricted guest (CS conforming)") {
        $0.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        $0.guest.cs.accessRights.type = 15
        $0.guest.ss.accessRights.dpl = 3
    },
    Breakage(.guestSSDPL, long: false, "SS DPL 3 with CR0.PE = 0 (CS conforming)") {
        $0.guest.cs.accessRights.type = 15
        $0.guest.ss.accessRights.dpl = 3
    },
    Breakage(.guestDataSegmentDPL(.ds), "DS RPL 3 above DPL 0 without unrestricted guest") {
        $0.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        $0.guest.ds.selector = 0x13
    },
    Breakage(.guestSegmentPresent(.ss), "SS not present") { $0.guest.ss.accessRights.isPresent = false },
    Breakage(.guestSegmentReservedBits(.cs), "CS access-rights bit 8") { $0.guest.cs.accessRights.rawValue |= 0x100 },
    Breakage(.guestCSLongModeDB, "CS with L and D/B") { $0.guest.cs.accessRights.isDefault32Bit = true },
    Breakage(.guestSegmentGranularity(.ds), long: false, "DS limit 1 MiB with G clear") { $0.guest.ds.limit = 0x10_0000 },
    Breakage(.guestSegmentGranularity(.fs), "FS limit 0xFFFFF000 with G set") { $0.guest.fs.limit = 0xFFFF_F000 },
    Breakage(.guestTRType, "TR type 3 in IA-32e mode") { $0.guest.tr.accessRights.type = 3 },
    Breakage(.guestTRType, long: false, "TR type 9 (available TSS) outside IA-32e mode") { $0.guest.tr.accessRights.type = 9 },
    Breakage(.guestSegmentS(.tr), "TR with S set") { $0.guest.tr.accessRights.isCodeOrData = true },
    Breakage(.guestSegmentPresent(.tr), "TR not present") { $0.guest.tr.accessRights.isPresent = false },
    Breakage(.guestTRUnusable, "TR unusable") { $0.guest.tr.accessRights.isUnusable = true },
    Breakage(.guestLDTRType, "usable LDTR of type 3") {
        $0.guest.ldtr = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: SegmentAccessRights(rawValue: 0x83))
    },    Breakage(.guestSegmentS(.ldtr), "usable LDTR with S set") {
        $0.guest.ldtr = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: SegmentAccessRights(rawValue: 0x92))
    },
    Breakage(.guestSegmentPresent(.ldtr), "usable LDTR not present") {
        $0.guest.ldtr = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: SegmentAccessRights(rawValue: 0x02))
    },


    // 27.3.1.3 guest descriptor tables
    Breakage(.guestDescriptorTableBase, "IDTR base non-canonical") { $0.guest.idtr.base = nonCanonical },
    Breakage(.guestDescriptorTableLimit, "GDTR limit 0x10000") { $0.guest.gdtr.limit = 0x1_0000 },

    // 27.3.1.4 guest RIP and RFLAGS
    Breakage(.guestRIP, long: false, "RIP above 4 GiB outside 64-bit mode") { $0.guest.rip = 1 << 32 },
    Breakage(.guestRIP, "RIP non-canonical in 64-bit mode") { $0.guest.rip = nonCanonical },
    Breakage(.guestRFLAGSReservedBits, "RFLAGS bit 1 clear") { $0.guest.rflags.remove(.reserved1) },
    Breakage(.guestRFLAGSReservedBits, long: false, "RFLAGS bit 3 set") { $0.guest.rflags.insert(RFLAGS(rawValue: 8)) },
    Breakage(.guestRFLAGSVM, long: false, "RFLAGS.VM with CR0.PE = 0") {
        let v86 = SegmentAccessRights(rawValue: 0xF3)
        $0.guest.cs.accessRights = v86
        $0.guest.ss.accessRights = v86
        $0.guest.ds.accessRights = v86
        $0.guest.es.accessRights = v86
        $0.guest.fs.accessRights = v86
        $0.guest.gs.accessRights = v86
        $0.guest.rflags.insert(.virtual8086Mode)
    },

    // 27.3.1.5 guest non-register state
    Breakage(.guestActivityState, "activity state 4") { $0.guest.activityState = GuestActivityState(rawValue: 4) },
    Breakage(.guestActivityState, "HLT with blocking by MOV SS") {
        $0.guest.activityState = .hlt
        $0.guest.interruptibility = .blockingByMovSS
    },    Breakage(.guestActivityState, "HLT with SS DPL 3 (CS conforming)") {
        $0.guest.activityState = .hlt
        $0.guest.cs.accessRights.type = 15
        $0.guest.ss.accessRights.dpl = 3
    },

    Breakage(.guestInterruptibilityReservedBits, "interruptibility bit 5") { $0.guest.interruptibility = GuestInterruptibility(rawValue: 1 << 5) },
    Breakage(.guestInterruptibilitySTIAndMovSS, "blocking by STI and MOV SS") {
        $0.guest.rflags.insert(.interruptEnable)
        $0.guest.interruptibility = [.blockingBySTI, .blockingByMovSS]
    },
    Breakage(.guestInterruptibilitySTIWithIFClear, "blocking by STI with IF = 0") { $0.guest.interruptibility = .blockingBySTI },
    Breakage(.guestInterruptibilitySMI, "blocking by SMI") { $0.guest.interruptibility = .blockingBySMI },
    Breakage(.guestPendingDebugExceptions, "pending debug exceptions bit 4") { $0.guest.pendingDebugExceptions = 1 << 4 },
    Breakage(.guestVMCSLinkPointer, "VMCS link pointer 0") { $0.guest.vmcsLinkPointer = 0 },
]

@Suite("Pre-launch checker (SDM 27.2, 27.3) with Bochs's capabilities")
struct VMEntryCheckerTests {
    @Test("the real-mode and 64-bit test guests pass every check", arguments: [false, true])
    func startStatesPass(longMode: Bool) throws {
        let config = try CheckerConfig.passing(longMode: longMode)
        let failure = config.check()
        #expect(failure == nil, "\(failure?.message ?? "")")
    }

    @Test("the 64-bit guest also passes without unrestricted guest")
    func longModeRestricted() throws {
        var config = try CheckerConfig.passing(longMode: true)
        config.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        #expect(config.check() == nil)
    }

    @Test("the real-mode guest needs unrestricted guest: without it CR0.PE = 0 breaks the fixed bits")
    func realModeRestricted() throws {
        var config = try CheckerConfig.passing(longMode: false)
        config.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        #expect(config.check()?.check == .guestCR0FixedBits)
    }

    @Test("one broken thing, one named failure", arguments: breakages)
    func breakage(_ breakage: Breakage) throws {
        var config = try CheckerConfig.passing(longMode: breakage.longMode)
        #expect(config.check() == nil)
        breakage.apply(&config)
        let failure = config.check()
        #expect(failure?.check == breakage.expected, "\(failure?.message ?? "passed")")
        let section = breakage.expected.section
        #expect(failure?.message.hasSuffix("(SDM \(section.number) '\(section.title)')") == true)
    }

    @Test func messageFormat() throws {
        var config = try CheckerConfig.passing(longMode: false)
        config.guest.cr0.insert(.pg)
        #expect(config.check()?.message
            == "guest CR0: PG set without PE (SDM 27.3.1.1 'Checks on Guest Control Registers, Debug Registers, and MSRs')")
        config = try CheckerConfig.passing(longMode: true)
        config.controls.vmEntry.insert(.loadBNDCFGS)
        #expect(config.check()?.message
            == "VM-entry controls: load IA32_BNDCFGS (bit 16) set but must be 0 (IA32_VMX_TRUE_ENTRY_CTLS (0x490)) (SDM 27.2.1.3 'VM-Entry Control Fields')")
    }

    @Test("every failure text has its row, and the breakages reach every row")
    func textTable() throws {
        let lines = VMEntryCheckText.templates.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == VMEntryCheckText.allCases.count)
        #expect(!lines.contains { $0.isEmpty })
        var reached = Set<VMEntryCheckText>()
        for breakage in breakages {
            var config = try CheckerConfig.passing(longMode: breakage.longMode)
            breakage.apply(&config)
            if let failure = config.check() { reached.insert(failure.row) }
        }
        #expect(reached == Set(VMEntryCheckText.allCases), "not reached: \(Set(VMEntryCheckText.allCases).subtracting(reached))")
    }

    @Test("the physical-address width narrows the address checks")
    func physicalAddressWidth() throws {
        let config = try CheckerConfig.passing(longMode: true)
        var narrow = config
        narrow.controls.msrBitmapAddress = 1 << 40
        #expect(narrow.check() == nil)
        let failure = VMEntryChecker.check(
            controls: narrow.controls, host: narrow.host, guest: narrow.guest, capabilities: narrow.capabilities,
            physicalAddressWidth: 40)
        #expect(failure?.check == .msrBitmapAddress)
    }
}
