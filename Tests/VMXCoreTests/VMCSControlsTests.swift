import Primitives
import Testing
@testable import VMXCore

/// Every word within the capability: (word & ~allowed1) == 0 and (allowed0 & ~word) == 0.
func expectWithin<Controls: VMXControls>(_ word: Controls, _ capability: ControlCapability<Controls>, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(word.rawValue & ~capability.allowed1.rawValue == 0, sourceLocation: sourceLocation)
    #expect(capability.allowed0.rawValue & ~word.rawValue == 0, sourceLocation: sourceLocation)
}

func expectAllWithin(_ controls: VMCSControls, _ caps: VMXCapabilities, sourceLocation: SourceLocation = #_sourceLocation) {
    expectWithin(controls.pinBased, caps.pinBased, sourceLocation: sourceLocation)
    expectWithin(controls.primaryProcessorBased, caps.primaryProcessorBased, sourceLocation: sourceLocation)
    expectWithin(controls.secondaryProcessorBased, caps.secondaryProcessorBased, sourceLocation: sourceLocation)
    expectWithin(controls.vmExit, caps.vmExit, sourceLocation: sourceLocation)
    expectWithin(controls.vmEntry, caps.vmEntry, sourceLocation: sourceLocation)
}

@Suite("VMCSControls.make against Bochs corei7_skylake_x")
struct VMCSControlsTests {
    let caps: VMXCapabilities
    init() throws { caps = try SampleVMCS.capabilities }

    func capabilities(changing changes: [UInt32: UInt64]) throws -> VMXCapabilities {
        try VMXCapabilities.read(BochsSkylakeX.msrs.with(changes), cpuid: BochsSkylakeX.cpu)
    }

    @Test("64-bit guest: the exact words")
    func longModeWords() throws {
        let controls = try VMCSControls.make(capabilities: caps, policy: SampleVMCS.policy(longMode: true))
        #expect(controls.pinBased.rawValue == 0x3E)  // default1 0x16 + NMI exiting + virtual NMIs
        #expect(controls.primaryProcessorBased.rawValue == 0x9600_61F2)  // TRUE default1 0x04006172 + HLT, I/O, MSR, secondary
        #expect(controls.secondaryProcessorBased == [.enableEPT, .enableVPID, .unrestrictedGuest, .enableRDTSCP, .enableINVPCID, .enableXSAVES])
        #expect(controls.vmExit.rawValue == 0x003F_6FFF)  // 0x36DFB + address-space size + save debug controls + save/load PAT/EFER
        #expect(controls.vmEntry.rawValue == 0x0000_D3FF)  // 0x11FB + load debug controls + IA-32e + load PAT/EFER
        #expect(controls.exceptionBitmap == 0)
        #expect(controls.cr0GuestHostMask == 0)
        #expect(controls.cr4GuestHostMask == CR4.vmxe.rawValue)
        #expect(controls.cr4ReadShadow & CR4.vmxe.rawValue == 0)
        #expect(controls.cr3TargetCount == 0)
        #expect(controls.msrBitmapAddress == 0x20_1000)
        #expect(controls.ioBitmapAAddress == 0x20_2000)
        #expect(controls.ioBitmapBAddress == 0x20_3000)
        #expect(controls.eptPointer == SampleVMCS.eptPointer)
        #expect(controls.vpid == 1)
        expectAllWithin(controls, caps)
    }

    @Test("required bits set, unwanted exits off")
    func requiredAndOff() throws {
        let controls = try SampleVMCS.controls(longMode: false)
        #expect(controls.primaryProcessorBased.isSuperset(of: [.activateSecondaryControls, .useMSRBitmaps, .useIOBitmaps, .hltExiting]))
        #expect(controls.pinBased.isSuperset(of: [.nmiExiting, .virtualNMIs]))
        #expect(!controls.pinBased.contains(.externalInterruptExiting))
        #expect(!controls.pinBased.contains(.activateVMXPreemptionTimer))
        #expect(controls.vmExit.contains(.saveDebugControls))
        #expect(controls.vmEntry.contains(.loadDebugControls))
        #expect(controls.vmExit.contains(.hostAddressSpaceSize))
        #expect(!controls.vmExit.contains(.acknowledgeInterruptOnExit))
        #expect(!controls.vmEntry.contains(.ia32eModeGuest))
        #expect(controls.primaryProcessorBased.isDisjoint(with: [.unconditionalIOExiting, .cr8LoadExiting, .cr8StoreExiting]))
        expectAllWithin(controls, caps)
    }

    @Test("TRUE allowed 0-settings honoured: CR3-load/store exiting off; forced on without TRUE MSRs")
    func trueControls() throws {
        let withTrue = try SampleVMCS.controls(longMode: true)
        #expect(withTrue.primaryProcessorBased.isDisjoint(with: [.cr3LoadExiting, .cr3StoreExiting]))
        // Debug controls are default1 without TRUE MSRs and wanted anyway.
        #expect(withTrue.vmEntry.contains(.loadDebugControls))
        #expect(withTrue.vmExit.contains(.saveDebugControls))

        let noTrue = try capabilities(changing: [0x480: BochsSkylakeX.msrValues[0x480]! & ~(1 << 55)])
        #expect(!noTrue.hasTrueControls)
        let controls = try VMCSControls.make(capabilities: noTrue, policy: SampleVMCS.policy(longMode: true))
        #expect(controls.primaryProcessorBased.isSuperset(of: [.cr3LoadExiting, .cr3StoreExiting]))
        #expect(controls.vmEntry.contains(.loadDebugControls))
        expectAllWithin(controls, noTrue)
    }

    @Test("optional secondary controls set exactly when allowed")
    func optionalSecondary() throws {
        // IA32_VMX_PROCBASED_CTLS2 without RDTSCP (3), INVPCID (12), XSAVES (20), VPID (5).
        let cleared: UInt64 = (1 << 3 | 1 << 12 | 1 << 20 | 1 << 5) << 32
        let restricted = try capabilities(changing: [0x48B: BochsSkylakeX.msrValues[0x48B]! & ~cleared])
        let controls = try VMCSControls.make(capabilities: restricted, policy: SampleVMCS.policy(longMode: true))
        #expect(controls.secondaryProcessorBased == [.enableEPT, .unrestrictedGuest])
        #expect(controls.vpid == 0)
        expectAllWithin(controls, restricted)

        // Each optional control alone.
        for bit: UInt32 in [3, 12, 20] {
            let one = try capabilities(changing: [0x48B: BochsSkylakeX.msrValues[0x48B]! & ~(UInt64(1) << (32 + UInt64(bit)))])
            let words = try VMCSControls.make(capabilities: one, policy: SampleVMCS.policy(longMode: true))
            #expect(words.secondaryProcessorBased.rawValue == 0x0010_10AA & ~(1 << bit))
        }
    }

    @Test("optional exit/entry PAT and EFER controls set exactly when allowed")
    func optionalExitEntry() throws {
        let exitCleared: UInt64 = 0xF << (32 + 18)  // save/load PAT, save/load EFER
        let entryCleared: UInt64 = 3 << (32 + 14)  // load PAT, load EFER
        let restricted = try capabilities(changing: [
            0x48F: BochsSkylakeX.msrValues[0x48F]! & ~exitCleared, 0x490: BochsSkylakeX.msrValues[0x490]! & ~entryCleared,
        ])
        let controls = try VMCSControls.make(capabilities: restricted, policy: SampleVMCS.policy(longMode: true))
        #expect(controls.vmExit.isDisjoint(with: [.savePAT, .loadPAT, .saveEFER, .loadEFER]))
        #expect(controls.vmEntry.isDisjoint(with: [.loadPAT, .loadEFER]))
        #expect(controls.vmEntry.contains(.ia32eModeGuest))
        expectAllWithin(controls, restricted)
    }

    @Test("policy switches: no HLT exiting, no bitmaps, no VPID, no EPT")
    func policySwitches() throws {
        var policy = SampleVMCS.policy(longMode: true)
        policy.hltExiting = false
        policy.useMSRBitmap = false
        policy.useIOBitmaps = false
        policy.vpid = 0
        policy.unrestrictedGuest = false
        policy.eptPointer = nil
        let controls = try VMCSControls.make(capabilities: caps, policy: policy)
        #expect(controls.primaryProcessorBased.isDisjoint(with: [.hltExiting, .useMSRBitmaps, .useIOBitmaps]))
        #expect(controls.secondaryProcessorBased == [.enableRDTSCP, .enableINVPCID, .enableXSAVES])
        #expect(controls.msrBitmapAddress == 0 && controls.ioBitmapAAddress == 0 && controls.eptPointer == 0 && controls.vpid == 0)
        expectAllWithin(controls, caps)
    }

    @Test("no unrestricted guest in the capability: a named error")
    func unrestrictedGuestMissing() throws {
        let noUG = try capabilities(changing: [0x48B: BochsSkylakeX.msrValues[0x48B]! & ~(1 << (32 + 7))])
        #expect(!noUG.supportsUnrestrictedGuest)
        let error = VMXError.controlNotAllowed(.secondaryProcessorBased, bits: 0x80, msr: .vmxSecondaryProcessorControls)
        #expect(throws: error) { try VMCSControls.make(capabilities: noUG, policy: SampleVMCS.policy(longMode: false)) }
        #expect(error.message == "secondary processor-based VM-execution controls: unrestricted guest (bit 7) required but not allowed by IA32_VMX_PROCBASED_CTLS2 (0x48b)")
        // Without unrestricted guest in the policy the same processor is fine.
        var policy = SampleVMCS.policy(longMode: true)
        policy.unrestrictedGuest = false
        expectAllWithin(try VMCSControls.make(capabilities: noUG, policy: policy), noUG)
    }

    @Test("unrestricted guest without an EPTP: a policy conflict")
    func unrestrictedGuestWithoutEPTP() {
        var policy = SampleVMCS.policy(longMode: false)
        policy.eptPointer = nil
        #expect(throws: VMXError.policyConflict(.unrestrictedGuestWithoutEPT)) {
            try VMCSControls.make(capabilities: caps, policy: policy)
        }
        #expect(VMXError.policyConflict(.unrestrictedGuestWithoutEPT).message
            == "VMCS policy: unrestricted guest requires EPT, and the policy has no EPT pointer")
    }

    @Test("no secondary controls at all: activate secondary controls is required")
    func noSecondaryControls() throws {
        let none = try capabilities(changing: [0x48E: BochsSkylakeX.msrValues[0x48E]! & ~(1 << 63)])
        #expect(throws: VMXError.controlNotAllowed(.primaryProcessorBased, bits: 1 << 31, msr: .vmxTruePrimaryProcessorControls)) {
            try VMCSControls.make(capabilities: none, policy: SampleVMCS.policy(longMode: true))
        }
    }

    @Test("written control words satisfy the capability MSRs, read back from the fake")
    func writtenWords() throws {
        var vmcs = FakeVMCS()
        let controls = try SampleVMCS.controls(longMode: true)
        try controls.write(to: &vmcs)
        expectWithin(PinBasedControls(rawValue: vmcs.read(VMCS.pinBasedControls)), caps.pinBased)
        expectWithin(PrimaryProcessorControls(rawValue: vmcs.read(VMCS.primaryProcessorBasedControls)), caps.primaryProcessorBased)
        expectWithin(SecondaryProcessorControls(rawValue: vmcs.read(VMCS.secondaryProcessorBasedControls)), caps.secondaryProcessorBased)
        expectWithin(VMExitControls(rawValue: vmcs.read(VMCS.vmExitControls)), caps.vmExit)
        expectWithin(VMEntryControls(rawValue: vmcs.read(VMCS.vmEntryControls)), caps.vmEntry)
    }

    @Test("a preemption-timer policy activates the timer and writes its value; none writes nothing")
    func preemptionTimer() throws {
        var policy = SampleVMCS.policy(longMode: true)
        policy.preemptionTimerValue = 1_000_000
        let controls = try VMCSControls.make(capabilities: caps, policy: policy)
        #expect(controls.pinBased.contains(.activateVMXPreemptionTimer))
        #expect(!controls.vmExit.contains(.saveVMXPreemptionTimerValue))  // reloaded on every entry
        var vmcs = FakeVMCS()
        try controls.write(to: &vmcs)
        #expect(vmcs.read(VMCS.vmxPreemptionTimerValue) == 1_000_000)

        var without = FakeVMCS()
        without.unsupported = [VMCS.vmxPreemptionTimerValue.encoding]
        try SampleVMCS.controls(longMode: true).write(to: &without)
    }

    @Test("a CPU without virtual NMIs is refused by name")
    func virtualNMIsRequired() throws {
        let noVirtualNMIs = try capabilities(changing: [0x48D: BochsSkylakeX.msrValues[0x48D]! & ~(UInt64(1) << 37)])
        #expect(throws: VMXError.controlNotAllowed(.pinBased, bits: 1 << 5, msr: .vmxTruePinBasedControls)) {
            try VMCSControls.make(capabilities: noVirtualNMIs, policy: SampleVMCS.policy(longMode: true))
        }
    }

    @Test("without secondary controls, no secondary, EPTP or VPID write")
    func writeWithoutSecondary() throws {
        var controls = try SampleVMCS.controls(longMode: true)
        controls.primaryProcessorBased.remove([.activateSecondaryControls, .useIOBitmaps])
        var vmcs = FakeVMCS()
        vmcs.unsupported = [VMCS.secondaryProcessorBasedControls.encoding, VMCS.eptPointer.encoding, VMCS.virtualProcessorIdentifier.encoding]
        try controls.write(to: &vmcs)
        #expect(vmcs.writeCounts[VMCS.ioBitmapAAddress.encoding] == nil)
        #expect(vmcs.writeCounts[VMCS.msrBitmapAddress.encoding] == 1)
    }
}
