import Primitives
import Testing
@testable import VMXCore

@Suite("VMXCapabilities from Bochs corei7_skylake_x")
struct CapabilityTests {
    let msrs = BochsSkylakeX.msrs
    let caps: VMXCapabilities

    init() throws {
        caps = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu)
    }

    @Test func basic() {
        let basic = caps.basic
        #expect(basic.revisionID == 0x2B)
        #expect(basic.regionSize == 4096)
        #expect(!basic.limitsAddressesTo32Bits)
        #expect(!basic.supportsDualMonitorTreatment)
        #expect(basic.memoryType == .writeBack)
        #expect(basic.reportsINSOUTSInformation)
        #expect(basic.hasTrueControls)
        #expect(!basic.allowsAnyHardwareExceptionErrorCode)
        #expect(caps.hasTrueControls)
    }

    @Test("reads exactly the MSRs that exist, in order, each once")
    func readOrder() {
        let expected: [UInt32] = [
            0x3A, 0x480, 0x481, 0x48D, 0x482, 0x48E, 0x483, 0x48F, 0x484, 0x490,
            0x485, 0x486, 0x487, 0x488, 0x489, 0x48A, 0x48B, 0x48C, 0x491,
        ]
        #expect(caps.readings.numbers == expected)
        #expect(msrs.log.reads.map(\.rawValue) == expected)
        #expect(msrs.log.missing.isEmpty)
        for reading in caps.readings {
            #expect(reading.value == BochsSkylakeX.msrValues[reading.msr.rawValue])
        }
    }

    @Test("control capabilities come from the TRUE MSRs")
    func trueControls() {
        #expect(caps.pinBased == ControlCapability(msr: .vmxTruePinBasedControls, rawValue: 0x0000_007F_0000_0016))
        #expect(caps.primaryProcessorBased == ControlCapability(msr: .vmxTruePrimaryProcessorControls, rawValue: 0xF7F9_FFFE_0400_6172))
        #expect(caps.vmExit == ControlCapability(msr: .vmxTrueExitControls, rawValue: 0x007F_FFFF_0003_6DFB))
        #expect(caps.vmEntry == ControlCapability(msr: .vmxTrueEntryControls, rawValue: 0x0000_FFFF_0000_11FB))
        #expect(caps.secondaryProcessorBased == ControlCapability(msr: .vmxSecondaryProcessorControls, rawValue: 0x0217_7FFF_0000_0000))
    }

    @Test("the non-TRUE MSRs report exactly the SDM's default1 bits as must-be-1")
    func default1() {
        let sets: [(VMXControlSet, UInt32)] = [(.pinBased, 0x481), (.primaryProcessorBased, 0x482), (.vmExit, 0x483), (.vmEntry, 0x484)]
        for (set, number) in sets {
            let value = BochsSkylakeX.msrValues[number]!
            #expect(UInt32(truncatingIfNeeded: value) == set.default1Bits)
        }
        #expect(VMXControlSet.secondaryProcessorBased.default1Bits == 0)
    }

    @Test("the TRUE MSRs let these default1 controls be 0")
    func trueDefault1Relaxations() {
        // CR3-load/store exiting, save/load debug controls.
        let primaryFreed = VMXControlSet.primaryProcessorBased.default1Bits & ~caps.primaryProcessorBased.allowed0.rawValue
        #expect(primaryFreed == PrimaryProcessorControls([.cr3LoadExiting, .cr3StoreExiting]).rawValue)
        let exitFreed = VMXControlSet.vmExit.default1Bits & ~caps.vmExit.allowed0.rawValue
        #expect(exitFreed == VMExitControls.saveDebugControls.rawValue)
        let entryFreed = VMXControlSet.vmEntry.default1Bits & ~caps.vmEntry.allowed0.rawValue
        #expect(entryFreed == VMEntryControls.loadDebugControls.rawValue)
        #expect(caps.pinBased.allowed0.rawValue == VMXControlSet.pinBased.default1Bits)
    }

    @Test func convenience() {
        #expect(caps.supportsSecondaryControls)
        #expect(caps.supportsEPT)
        #expect(caps.supportsVPID)
        #expect(caps.supportsUnrestrictedGuest)
        #expect(caps.supportsUsableEPT)
        #expect(caps.supportsEPT2MiBPages)
        #expect(caps.supportsEPT1GiBPages)
        #expect(caps.supportsPreemptionTimer)
        #expect(caps.supportsVMFunctions)
        #expect(caps.vmFunctions == .eptpSwitching)
    }

    @Test("what Bochs allows and does not allow, control by control")
    func notableControls() {
        #expect(!caps.pinBased.allows(.processPostedInterrupts))
        #expect(!caps.primaryProcessorBased.allows(.monitorTrapFlag))
        #expect(!caps.primaryProcessorBased.allows(.activateTertiaryControls))
        #expect(caps.primaryProcessorBased.allows([.useIOBitmaps, .useMSRBitmaps, .hltExiting, .useTPRShadow]))
        let secondary = caps.secondaryProcessorBased
        #expect(secondary.allows([.enableRDTSCP, .enableINVPCID, .enableXSAVES, .enablePML, .eptViolationVE, .useTSCScaling, .vmcsShadowing]))
        #expect(!secondary.allows(.enableENCLSExiting))
        #expect(!secondary.allows(.concealVMXFromPT))
        #expect(!secondary.allows(.modeBasedExecuteControlForEPT))
        #expect(caps.vmExit.allows([.hostAddressSpaceSize, .loadEFER, .saveEFER, .loadPAT, .savePAT, .saveVMXPreemptionTimerValue]))
        #expect(!caps.vmExit.allows(.clearBNDCFGS))
        #expect(caps.vmEntry.allows([.ia32eModeGuest, .loadEFER, .loadPAT]))
        #expect(!caps.vmEntry.allows(.loadBNDCFGS))
    }

    @Test func miscellaneous() {
        let misc = caps.miscellaneous
        #expect(misc.preemptionTimerRate == 0)
        #expect(misc.storesEFERLMAOnExit)
        #expect(misc.activityStates == [.hlt, .shutdown, .waitForSIPI])
        #expect(!misc.supportsProcessorTraceInVMX)
        #expect(!misc.allowsSMBASEReadInSMM)
        #expect(misc.cr3TargetCount == 4)
        #expect(misc.maximumMSRListCount == 512)
        #expect(!misc.allowsSMIBlockingByVMXOFF)
        #expect(misc.allowsVMWRITEToExitInformation)
        #expect(misc.allowsZeroLengthInjection)
        #expect(misc.msegRevisionID == 0)
    }

    @Test func eptAndVPID() {
        let ept = caps.eptVPID
        #expect(ept.supportsExecuteOnly)
        #expect(ept.supportsPageWalkLength4)
        #expect(!ept.supportsPageWalkLength5)
        #expect(ept.supportsUncacheable)
        #expect(ept.supportsWriteBack)
        #expect(ept.supports2MiBPages)
        #expect(ept.supports1GiBPages)
        #expect(ept.supportsINVEPT)
        #expect(ept.supportsAccessedDirtyFlags)
        #expect(!ept.reportsAdvancedEPTViolationInformation)
        #expect(!ept.supportsSupervisorShadowStackControl)
        #expect(ept.supportsSingleContextINVEPT)
        #expect(ept.supportsAllContextINVEPT)
        #expect(ept.supportsINVVPID)
        #expect(ept.supportsIndividualAddressINVVPID)
        #expect(ept.supportsSingleContextINVVPID)
        #expect(ept.supportsAllContextINVVPID)
        #expect(ept.supportsSingleContextRetainingGlobalsINVVPID)
    }

    @Test func fixedBitsAndEnumeration() {
        #expect(caps.cr0Fixed == CRFixedBits(fixed0: 0x8000_0021, fixed1: 0xFFFF_FFFF))
        #expect(caps.cr4Fixed == CRFixedBits(fixed0: 0x2000, fixed1: 0x0037_27FF))
        #expect(caps.vmcsEnumeration.highestIndex == 0x1A)
        #expect(caps.featureControl == [.lock, .vmxOutsideSMX])
    }
}

@Suite("VMXCapabilities on synthetic processors")
struct SyntheticCapabilityTests {
    @Test("without TRUE controls (BASIC[55] = 0) the TRUE MSRs are not read")
    func noTrueControls() throws {
        let msrs = BochsSkylakeX.msrs
            .with([0x480: 0x00D8_1000_0000_002B & ~(1 << 55)])
            .without([0x48D, 0x48E, 0x48F, 0x490])
        let caps = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu)
        #expect(!caps.hasTrueControls)
        #expect(msrs.log.missing.isEmpty)
        #expect(caps.primaryProcessorBased == ControlCapability(msr: .vmxPrimaryProcessorControls, rawValue: 0xF7F9_FFFE_0401_E172))
        #expect(caps.vmExit.msr == .vmxExitControls)
        #expect(caps.vmEntry.msr == .vmxEntryControls)
        #expect(caps.pinBased.msr == .vmxPinBasedControls)
        // Without TRUE MSRs the default1 controls stay 1.
        let primary = try caps.primaryProcessorBased.adjust(required: [])
        #expect(primary.contains([.cr3LoadExiting, .cr3StoreExiting]))
    }

    @Test("without secondary controls PROCBASED_CTLS2, EPT_VPID_CAP and VMFUNC are not read")
    func noSecondaryControls() throws {
        let msrs = BochsSkylakeX.msrs
            .with([0x48E: 0xF7F9_FFFE_0400_6172 & ~(1 << 63), 0x482: 0xF7F9_FFFE_0401_E172 & ~(1 << 63)])
            .without([0x48B, 0x48C, 0x491])
        let caps = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu)
        #expect(msrs.log.missing.isEmpty)
        #expect(!caps.readings.numbers.contains(0x48B))
        #expect(!caps.supportsSecondaryControls)
        #expect(!caps.supportsEPT)
        #expect(!caps.supportsVPID)
        #expect(!caps.supportsUnrestrictedGuest)
        #expect(!caps.supportsEPT1GiBPages)
        #expect(!caps.supportsVMFunctions)
        #expect(caps.secondaryProcessorBased == .unsupported)
        #expect(caps.eptVPID.rawValue == 0)
        #expect(throws: VMXError.controlNotAllowed(.secondaryProcessorBased, bits: 0x2, msr: .vmxSecondaryProcessorControls)) {
            try caps.secondaryProcessorBased.adjust(required: .enableEPT)
        }
    }

    @Test("secondary controls without EPT or VPID: EPT_VPID_CAP is not read")
    func noEPTNoVPID() throws {
        let allowed1: UInt64 = 0x0217_7FFF & ~0x22 & ~(1 << 13)  // no EPT, VPID, VM functions
        let msrs = BochsSkylakeX.msrs.with([0x48B: allowed1 << 32]).without([0x48C, 0x491])
        let caps = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu)
        #expect(msrs.log.missing.isEmpty)
        #expect(caps.readings.numbers.last == 0x48B)
        #expect(!caps.supportsEPT)
        #expect(!caps.supportsUnrestrictedGuest)  // needs EPT too
        #expect(caps.secondaryProcessorBased.allows(.unrestrictedGuest))
    }

    @Test("VPID only: EPT_VPID_CAP is read, EPT stays unsupported")
    func vpidOnly() throws {
        let allowed1: UInt64 = 0x0217_7FFF & ~0x2
        let msrs = BochsSkylakeX.msrs.with([0x48B: allowed1 << 32])
        let caps = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu)
        #expect(caps.readings.numbers.contains(0x48C))
        #expect(caps.supportsVPID)
        #expect(!caps.supportsEPT)
        #expect(!caps.supportsEPT1GiBPages)  // the bit is set, but there is no EPT
        #expect(caps.eptVPID.supports1GiBPages)
    }

    @Test("a locked, VMX-disabled firmware still has readable capabilities")
    func lockedDisabledFirmware() throws {
        let msrs = BochsSkylakeX.msrs.with([0x3A: 0x1])
        let caps = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu)
        #expect(caps.featureControl == .lock)
        #expect(throws: VMXError.featureControlLocked(.lock)) { try caps.featureControl.vmxEnableAction() }
    }
}
