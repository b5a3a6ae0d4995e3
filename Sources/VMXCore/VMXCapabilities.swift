import Primitives

/// One MSR value as read, kept for the report and for fixtures.
public struct MSRReading: Hashable, Sendable, BoundedArrayElement {
    public var msr: MSR
    public var value: UInt64

    public init(msr: MSR, value: UInt64) {
        self.msr = msr
        self.value = value
    }

    public static var placeholder: Self { Self(msr: MSR(0), value: 0) }
}

/// Everything the processor reports about VMX, read in one pass.
///
/// Only MSRs that exist are read: the TRUE control MSRs when
/// IA32_VMX_BASIC[55] = 1, IA32_VMX_PROCBASED_CTLS2 when the primary
/// controls allow "activate secondary controls", IA32_VMX_EPT_VPID_CAP when
/// the secondary controls allow "enable EPT" or "enable VPID",
/// IA32_VMX_VMFUNC when they allow "enable VM functions".
///
/// Intel SDM Vol. 3D, "VMX Capability Reporting Facility" (Appendix A in rev. 84).
public struct VMXCapabilities: Equatable, Sendable {
    /// IA32_FEATURE_CONTROL as found (before any write).
    public var featureControl: FeatureControl
    /// IA32_VMX_BASIC.
    public var basic: VMXBasic
    /// From IA32_VMX_TRUE_PINBASED_CTLS, or IA32_VMX_PINBASED_CTLS without TRUE MSRs.
    public var pinBased: ControlCapability<PinBasedControls>
    /// From IA32_VMX_TRUE_PROCBASED_CTLS, or IA32_VMX_PROCBASED_CTLS.
    public var primaryProcessorBased: ControlCapability<PrimaryProcessorControls>
    /// From IA32_VMX_PROCBASED_CTLS2; `.unsupported` (nothing allowed) when
    /// the primary controls cannot activate it.
    public var secondaryProcessorBased: ControlCapability<SecondaryProcessorControls>
    /// From IA32_VMX_TRUE_EXIT_CTLS, or IA32_VMX_EXIT_CTLS.
    public var vmExit: ControlCapability<VMExitControls>
    /// From IA32_VMX_TRUE_ENTRY_CTLS, or IA32_VMX_ENTRY_CTLS.
    public var vmEntry: ControlCapability<VMEntryControls>
    /// IA32_VMX_MISC.
    public var miscellaneous: VMXMiscellaneous
    /// IA32_VMX_CR0_FIXED0/FIXED1.
    public var cr0Fixed: CRFixedBits
    /// IA32_VMX_CR4_FIXED0/FIXED1.
    public var cr4Fixed: CRFixedBits
    /// IA32_VMX_VMCS_ENUM.
    public var vmcsEnumeration: VMCSEnumeration
    /// IA32_VMX_EPT_VPID_CAP; 0 when neither EPT nor VPID is supported.
    public var eptVPID: EPTVPIDCapabilities
    /// IA32_VMX_VMFUNC; empty when VM functions are not supported.
    public var vmFunctions: VMFunctions
    /// Every MSR read, in order (for the report's raw lines and fixtures):
    /// at most IA32_FEATURE_CONTROL and the 18 MSRs 0x480-0x491.
    public var readings: BoundedArray<19, MSRReading>

    /// Checks CPUID.1:ECX.VMX, then reads IA32_FEATURE_CONTROL and the VMX
    /// capability MSRs that exist. Throws `VMXError.notSupported` before
    /// touching any MSR when there is no VMX (the MSRs would #GP).
    public static func read<M: MSRAccess, C: CPUIDAccess>(_ msrs: M, cpuid: C) throws(VMXError) -> VMXCapabilities {
        try checkVMXSupport(cpuid)
        var readings = BoundedArray<19, MSRReading>()
        @inline(never)
        func read(_ msr: MSR) -> UInt64 {
            let value = msrs.read(msr)
            do throws(CapacityExceeded) { try readings.append(MSRReading(msr: msr, value: value)) } catch {
                preconditionFailure("more VMX capability MSRs read than exist")
            }
            return value
        }
        func controls<Controls: VMXControls>(_: Controls.Type, true useTrue: Bool) -> ControlCapability<Controls> {
            let set = Controls.controlSet
            let nonTrue = read(set.capabilityMSR)
            if useTrue, let trueMSR = set.trueCapabilityMSR {
                return ControlCapability(msr: trueMSR, rawValue: read(trueMSR))
            }
            return ControlCapability(msr: set.capabilityMSR, rawValue: nonTrue)
        }

        let featureControl = FeatureControl(rawValue: read(.featureControl))
        let basic = VMXBasic(rawValue: read(.vmxBasic))
        let useTrue = basic.hasTrueControls
        let pinBased = controls(PinBasedControls.self, true: useTrue)
        let primary = controls(PrimaryProcessorControls.self, true: useTrue)
        let vmExit = controls(VMExitControls.self, true: useTrue)
        let vmEntry = controls(VMEntryControls.self, true: useTrue)
        let miscellaneous = VMXMiscellaneous(rawValue: read(.vmxMiscellaneous))
        let cr0Fixed = CRFixedBits(fixed0: read(.vmxCR0Fixed0), fixed1: read(.vmxCR0Fixed1))
        let cr4Fixed = CRFixedBits(fixed0: read(.vmxCR4Fixed0), fixed1: read(.vmxCR4Fixed1))
        let vmcsEnumeration = VMCSEnumeration(rawValue: read(.vmxVMCSEnumeration))

        var secondary = ControlCapability<SecondaryProcessorControls>.unsupported
        if primary.allows(.activateSecondaryControls) {
            secondary = controls(SecondaryProcessorControls.self, true: false)
        }
        var eptVPID = EPTVPIDCapabilities(rawValue: 0)
        if secondary.allowed1.contains(.enableEPT) || secondary.allowed1.contains(.enableVPID) {
            eptVPID = EPTVPIDCapabilities(rawValue: read(.vmxEPTVPIDCapability))
        }
        var vmFunctions: VMFunctions = []
        if secondary.allows(.enableVMFunctions) {
            vmFunctions = VMFunctions(rawValue: read(.vmxVMFunctions))
        }

        return VMXCapabilities(
            featureControl: featureControl, basic: basic, pinBased: pinBased,
            primaryProcessorBased: primary, secondaryProcessorBased: secondary,
            vmExit: vmExit, vmEntry: vmEntry, miscellaneous: miscellaneous,
            cr0Fixed: cr0Fixed, cr4Fixed: cr4Fixed, vmcsEnumeration: vmcsEnumeration,
            eptVPID: eptVPID, vmFunctions: vmFunctions, readings: readings)
    }
}

extension VMXCapabilities {
    /// IA32_VMX_BASIC[55]: the control capabilities come from the TRUE MSRs.
    public var hasTrueControls: Bool { basic.hasTrueControls }
    /// The primary controls may activate the secondary controls.
    public var supportsSecondaryControls: Bool { primaryProcessorBased.allows(.activateSecondaryControls) }
    /// "enable EPT" may be 1.
    public var supportsEPT: Bool { secondaryProcessorBased.allows(.enableEPT) }
    /// "enable VPID" may be 1.
    public var supportsVPID: Bool { secondaryProcessorBased.allows(.enableVPID) }
    /// "unrestricted guest" may be 1 (it also needs "enable EPT").
    public var supportsUnrestrictedGuest: Bool {
        secondaryProcessorBased.allows([.unrestrictedGuest, .enableEPT])
    }
    /// EPT with a 4-level walk and write-back paging structures: what the EPT builder needs.
    public var supportsUsableEPT: Bool {
        supportsEPT && eptVPID.supportsPageWalkLength4 && eptVPID.supportsWriteBack
    }
    /// EPT can map 1 GiB pages.
    public var supportsEPT1GiBPages: Bool { supportsEPT && eptVPID.supports1GiBPages }
    /// EPT can map 2 MiB pages.
    public var supportsEPT2MiBPages: Bool { supportsEPT && eptVPID.supports2MiBPages }
    /// "activate VMX-preemption timer" (pin-based bit 6) may be 1.
    public var supportsPreemptionTimer: Bool { pinBased.allows(.activateVMXPreemptionTimer) }
    /// "enable VM functions" may be 1 and at least one VM function exists.
    public var supportsVMFunctions: Bool {
        secondaryProcessorBased.allows(.enableVMFunctions) && !vmFunctions.isEmpty
    }

    /// The VMXON region's layout.
    public var vmxonRegion: VMXRegion { VMXRegion(.vmxon, basic: basic) }
    /// An ordinary VMCS region's layout.
    public var vmcsRegion: VMXRegion { VMXRegion(.vmcs, basic: basic) }
}
