/// What pxHV wants from the VM-execution, VM-exit and VM-entry controls;
/// `VMCSControls.make(capabilities:policy:)` turns it into control words
/// the processor accepts.
public struct VMCSPolicy: Hashable, Sendable {
    /// HLT exits (the exit path counts them and resumes or idles).
    public var hltExiting: Bool
    /// "use MSR bitmaps" with the 4 KiB bitmap at `msrBitmapAddress`;
    /// without it every RDMSR/WRMSR exits.
    public var useMSRBitmap: Bool
    public var msrBitmapAddress: UInt64
    /// "use I/O bitmaps" with bitmaps A (ports 0-0x7FFF) and B (0x8000-0xFFFF);
    /// without them, port I/O runs unconditionally (unconditional I/O exiting is 0).
    public var useIOBitmaps: Bool
    public var ioBitmapAAddress: UInt64
    public var ioBitmapBAddress: UInt64
    /// "unrestricted guest": real mode and unpaged protected mode (needs EPT).
    public var unrestrictedGuest: Bool
    /// "IA-32e mode guest" entry control: the guest starts in 64-bit mode.
    public var longModeGuest: Bool
    /// The EPTP (from the EPT module's builder); nil: no EPT.
    public var eptPointer: UInt64?
    /// The guest's VPID; 0: no VPID (TLBs are flushed on every transition).
    public var vpid: UInt16
    /// Activate the VMX-preemption timer with this value, reloaded on every
    /// VM entry (the remaining count is not saved): the guest exits after
    /// that many timer ticks without any other exit. nil: no timer.
    public var preemptionTimerValue: UInt32?

    public init(
        hltExiting: Bool = true,
        useMSRBitmap: Bool = true, msrBitmapAddress: UInt64 = 0,
        useIOBitmaps: Bool = true, ioBitmapAAddress: UInt64 = 0, ioBitmapBAddress: UInt64 = 0,
        unrestrictedGuest: Bool, longModeGuest: Bool, eptPointer: UInt64?, vpid: UInt16 = 1,
        preemptionTimerValue: UInt32? = nil
    ) {
        self.hltExiting = hltExiting
        self.useMSRBitmap = useMSRBitmap
        self.msrBitmapAddress = msrBitmapAddress
        self.useIOBitmaps = useIOBitmaps
        self.ioBitmapAAddress = ioBitmapAAddress
        self.ioBitmapBAddress = ioBitmapBAddress
        self.unrestrictedGuest = unrestrictedGuest
        self.longModeGuest = longModeGuest
        self.eptPointer = eptPointer
        self.vpid = vpid
        self.preemptionTimerValue = preemptionTimerValue
    }
}

/// A policy that no processor can satisfy.
public enum VMCSPolicyConflict: Hashable, Sendable {
    /// "unrestricted guest" requires "enable EPT", and the policy has no EPTP.
    case unrestrictedGuestWithoutEPT

    /// One line for `VMXError.message`.
    public var message: StaticString {
        switch self {
        case .unrestrictedGuestWithoutEPT: "unrestricted guest requires EPT, and the policy has no EPT pointer"
        }
    }
}

/// The VMCS control fields pxHV writes: the five control words, the
/// exception bitmap, the CR0/CR4 guest/host masks and read shadows, the
/// CR3-target count, the bitmap addresses, the EPTP and the VPID.
///
/// Intel SDM Vol. 3C, "VM-Execution Control Fields" (25.6 in rev. 84),
/// "VM-Exit Control Fields" (25.7 in rev. 84), "VM-Entry Control Fields"
/// (25.8 in rev. 84).
public struct VMCSControls: Hashable, Sendable {
    public var pinBased: PinBasedControls
    public var primaryProcessorBased: PrimaryProcessorControls
    /// Used only when `primaryProcessorBased` has "activate secondary controls".
    public var secondaryProcessorBased: SecondaryProcessorControls
    public var vmExit: VMExitControls
    public var vmEntry: VMEntryControls
    /// Bit n set: exception vector n exits. pxHV sets none.
    public var exceptionBitmap: UInt32
    /// CR0 bits owned by the host: guest reads come from `cr0ReadShadow`,
    /// guest writes that change them exit.
    public var cr0GuestHostMask: UInt64
    public var cr0ReadShadow: UInt64
    /// CR4 bits owned by the host (VMXE).
    public var cr4GuestHostMask: UInt64
    public var cr4ReadShadow: UInt64
    /// 0: every MOV to CR3 would exit if "CR3-load exiting" were 1; it is 0.
    public var cr3TargetCount: UInt32
    public var msrBitmapAddress: UInt64
    public var ioBitmapAAddress: UInt64
    public var ioBitmapBAddress: UInt64
    /// Written only with "enable EPT".
    public var eptPointer: UInt64
    /// Written only with "enable VPID"; never 0 then.
    public var vpid: UInt16
    /// Written only with "activate VMX-preemption timer".
    public var preemptionTimerValue: UInt32

    public init(
        pinBased: PinBasedControls, primaryProcessorBased: PrimaryProcessorControls,
        secondaryProcessorBased: SecondaryProcessorControls, vmExit: VMExitControls, vmEntry: VMEntryControls,
        exceptionBitmap: UInt32 = 0, cr0GuestHostMask: UInt64 = 0, cr0ReadShadow: UInt64 = 0,
        cr4GuestHostMask: UInt64 = CR4.vmxe.rawValue, cr4ReadShadow: UInt64 = 0, cr3TargetCount: UInt32 = 0,
        msrBitmapAddress: UInt64 = 0, ioBitmapAAddress: UInt64 = 0, ioBitmapBAddress: UInt64 = 0,
        eptPointer: UInt64 = 0, vpid: UInt16 = 0, preemptionTimerValue: UInt32 = 0
    ) {
        self.pinBased = pinBased
        self.primaryProcessorBased = primaryProcessorBased
        self.secondaryProcessorBased = secondaryProcessorBased
        self.vmExit = vmExit
        self.vmEntry = vmEntry
        self.exceptionBitmap = exceptionBitmap
        self.cr0GuestHostMask = cr0GuestHostMask
        self.cr0ReadShadow = cr0ReadShadow
        self.cr4GuestHostMask = cr4GuestHostMask
        self.cr4ReadShadow = cr4ReadShadow
        self.cr3TargetCount = cr3TargetCount
        self.msrBitmapAddress = msrBitmapAddress
        self.ioBitmapAAddress = ioBitmapAAddress
        self.ioBitmapBAddress = ioBitmapBAddress
        self.eptPointer = eptPointer
        self.vpid = vpid
        self.preemptionTimerValue = preemptionTimerValue
    }

    /// The secondary controls in effect: empty unless activated.
    public var effectiveSecondaryProcessorBased: SecondaryProcessorControls {
        primaryProcessorBased.contains(.activateSecondaryControls) ? secondaryProcessorBased : []
    }

    /// Control words for `policy` that `capabilities` accepts.
    ///
    /// - Pin-based: "NMI exiting" and "virtual NMIs" required: an NMI that
    ///   arrives while the guest runs exits (the hypervisor re-delivers it),
    ///   and one that arrives in root operation reaches the host's NMI
    ///   handler, which records it for the guest instead of panicking.
    ///   "Activate VMX-preemption timer" when the policy has a timer value.
    ///   External-interrupt exiting stays 0 (interrupts go to the guest).
    /// - Primary: "activate secondary controls"; "use MSR bitmaps" and "use
    ///   I/O bitmaps" as the policy says; "HLT exiting" as the policy says.
    ///   CR3-load/store exiting are default1: they stay 1 only when the
    ///   (TRUE) allowed 0-settings say they must.
    /// - Secondary: "enable EPT" with an EPTP, "unrestricted guest" as the
    ///   policy says (both required); "enable VPID" when `vpid` != 0 and
    ///   allowed; "enable RDTSCP", "enable INVPCID", "enable XSAVES/XRSTORS"
    ///   when allowed (without them those instructions raise #UD in the guest).
    /// - VM exit: "host address-space size" (64-bit host) and "save debug
    ///   controls" (DR7 and IA32_DEBUGCTL survive every exit) required; save and
    ///   load IA32_EFER and IA32_PAT when allowed; "acknowledge interrupt on
    ///   exit" 0 (there are no external-interrupt exits).
    /// - VM entry: "load debug controls" required; "IA-32e mode guest" as
    ///   the policy says; load IA32_EFER and
    ///   IA32_PAT when allowed.
    /// - Exception bitmap 0. CR4 guest/host mask = VMXE with a read shadow
    ///   of 0: the guest cannot see or clear VMX enable. CR0 mask 0: the
    ///   bits VMX fixes in CR0 (PE, NE, PG; PE and PG freed by unrestricted
    ///   guest) leave only NE forced, which every OS sets, so the guest
    ///   owns CR0 outright and CR0 writes never exit.
    ///
    /// Throws `VMXError.controlNotAllowed` naming a required control the
    /// processor lacks, or `.policyConflict`.
    public static func make(capabilities: VMXCapabilities, policy: VMCSPolicy) throws(VMXError) -> VMCSControls {
        if policy.unrestrictedGuest && policy.eptPointer == nil {
            throw .policyConflict(.unrestrictedGuestWithoutEPT)
        }
        var pinRequired: PinBasedControls = [.nmiExiting, .virtualNMIs]
        if policy.preemptionTimerValue != nil { pinRequired.insert(.activateVMXPreemptionTimer) }
        let pinBased = try capabilities.pinBased.adjust(required: pinRequired)

        var primaryRequired: PrimaryProcessorControls = [.activateSecondaryControls]
        if policy.useMSRBitmap { primaryRequired.insert(.useMSRBitmaps) }
        if policy.useIOBitmaps { primaryRequired.insert(.useIOBitmaps) }
        if policy.hltExiting { primaryRequired.insert(.hltExiting) }
        let primary = try capabilities.primaryProcessorBased.adjust(required: primaryRequired)

        var secondaryRequired: SecondaryProcessorControls = []
        if policy.eptPointer != nil { secondaryRequired.insert(.enableEPT) }
        if policy.unrestrictedGuest { secondaryRequired.insert(.unrestrictedGuest) }
        var secondaryOptional: SecondaryProcessorControls = [.enableRDTSCP, .enableINVPCID, .enableXSAVES]
        if policy.vpid != 0 { secondaryOptional.insert(.enableVPID) }
        let secondary = try capabilities.secondaryProcessorBased.adjust(
            required: secondaryRequired, optional: secondaryOptional)

        let exit = try capabilities.vmExit.adjust(
            required: [.hostAddressSpaceSize, .saveDebugControls], optional: [.saveEFER, .loadEFER, .savePAT, .loadPAT])

        let entry = try capabilities.vmEntry.adjust(
            required: policy.longModeGuest ? [.ia32eModeGuest, .loadDebugControls] : .loadDebugControls, optional: [.loadEFER, .loadPAT])

        return VMCSControls(
            pinBased: pinBased, primaryProcessorBased: primary, secondaryProcessorBased: secondary,
            vmExit: exit, vmEntry: entry,
            msrBitmapAddress: policy.useMSRBitmap ? policy.msrBitmapAddress : 0,
            ioBitmapAAddress: policy.useIOBitmaps ? policy.ioBitmapAAddress : 0,
            ioBitmapBAddress: policy.useIOBitmaps ? policy.ioBitmapBAddress : 0,
            eptPointer: secondary.contains(.enableEPT) ? policy.eptPointer ?? 0 : 0,
            vpid: secondary.contains(.enableVPID) ? policy.vpid : 0,
            preemptionTimerValue: policy.preemptionTimerValue ?? 0)
    }

    /// Writes the control fields. The secondary controls only when
    /// activated, the EPTP only with "enable EPT", the VPID only with
    /// "enable VPID", each bitmap address only when its bitmaps are used
    /// (a field the processor lacks would fail VMWRITE). Also zeroes what
    /// pxHV does not use but a fresh VMCS does not guarantee: page-fault
    /// error-code mask/match, the three MSR-list counts, VM-entry
    /// interruption information (no event to inject).
    public func write<V: VMCSAccess>(to vmcs: inout V) throws(VMXError) {
        let secondary = effectiveSecondaryProcessorBased
        try vmcs.write([
            VMCSWrite(VMCS.pinBasedControls, pinBased.rawValue),
            VMCSWrite(VMCS.primaryProcessorBasedControls, primaryProcessorBased.rawValue),
            VMCSWrite(
                VMCS.secondaryProcessorBasedControls, secondary.rawValue,
                if: primaryProcessorBased.contains(.activateSecondaryControls)),
            VMCSWrite(VMCS.vmExitControls, vmExit.rawValue), VMCSWrite(VMCS.vmEntryControls, vmEntry.rawValue),

            VMCSWrite(VMCS.exceptionBitmap, exceptionBitmap), VMCSWrite(VMCS.pageFaultErrorCodeMask, 0),
            VMCSWrite(VMCS.pageFaultErrorCodeMatch, 0), VMCSWrite(VMCS.cr0GuestHostMask, cr0GuestHostMask),
            VMCSWrite(VMCS.cr0ReadShadow, cr0ReadShadow), VMCSWrite(VMCS.cr4GuestHostMask, cr4GuestHostMask),
            VMCSWrite(VMCS.cr4ReadShadow, cr4ReadShadow), VMCSWrite(VMCS.cr3TargetCount, cr3TargetCount),

            VMCSWrite(VMCS.vmExitMSRStoreCount, 0), VMCSWrite(VMCS.vmExitMSRLoadCount, 0),
            VMCSWrite(VMCS.vmEntryMSRLoadCount, 0), VMCSWrite(VMCS.vmEntryInterruptionInformation, 0),

            VMCSWrite(VMCS.msrBitmapAddress, msrBitmapAddress, if: primaryProcessorBased.contains(.useMSRBitmaps)),
            VMCSWrite(VMCS.ioBitmapAAddress, ioBitmapAAddress, if: primaryProcessorBased.contains(.useIOBitmaps)),
            VMCSWrite(VMCS.ioBitmapBAddress, ioBitmapBAddress, if: primaryProcessorBased.contains(.useIOBitmaps)),
            VMCSWrite(VMCS.eptPointer, eptPointer, if: secondary.contains(.enableEPT)),
            VMCSWrite(VMCS.virtualProcessorIdentifier, vpid, if: secondary.contains(.enableVPID)),
            VMCSWrite(
                VMCS.vmxPreemptionTimerValue, preemptionTimerValue, if: pinBased.contains(.activateVMXPreemptionTimer)),
        ] as InlineArray<23, VMCSWrite>)
    }
}
