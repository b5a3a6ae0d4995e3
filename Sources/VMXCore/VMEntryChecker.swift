/// Checks a VMCS configuration the way VM entry will, before VMLAUNCH, and
/// names the first check it fails with its SDM section: a failed entry only
/// says "invalid control field" (VM-instruction error 7), "invalid host-state
/// field" (8), or exit reason 33 "invalid guest state", never which check.
///
/// The checks follow the SDM's order: VMX controls, host state, address-space
/// size, then guest state. Covered: everything pxHV's configurations touch
/// (listed per section in `VMEntryCheck`); not covered: event injection
/// (pxHV injects nothing at launch), the MSR-load/store lists (counts are 0),
/// APIC virtualization, posted interrupts, VMCS shadowing, PML, SPP, CET/PKRS/
/// PERF_GLOBAL_CTRL/BNDCFGS/RTIT/LBR/FRED state, SMM, guest PDPTEs (no PAE
/// paging outside IA-32e mode at launch), pending-debug-exception BS
/// consistency with RFLAGS.TF / IA32_DEBUGCTL.BTF.
///
/// Intel SDM Vol. 3C, "Checks on VMX Controls and Host-State Area" (27.2 in
/// rev. 84) and "Checking and Loading Guest State" (27.3 in rev. 84).
public enum VMEntryChecker {
    /// The first failed check, or nil when VM entry should pass them all.
    ///
    /// `physicalAddressWidth` is CPUID.80000008H:EAX[7:0] (MAXPHYADDR) and
    /// `linearAddressWidth` CPUID.80000008H:EAX[15:8]; the defaults (52, 48)
    /// are the architectural maximum and the 4-level-paging width.
    public static func check(
        controls: VMCSControls, host: VMCSHostState, guest: VMCSGuestState, capabilities: VMXCapabilities,
        physicalAddressWidth: Int = 52, linearAddressWidth: Int = 48
    ) -> VMEntryCheckFailure? {
        let context = Context(
            controls: controls, host: host, guest: guest, capabilities: capabilities,
            physicalAddressWidth: physicalAddressWidth, linearAddressWidth: linearAddressWidth)
        return context.checkControls() ?? context.checkHost() ?? context.checkGuest()
    }

    struct Context {
        let controls: VMCSControls
        let host: VMCSHostState
        let guest: VMCSGuestState
        let capabilities: VMXCapabilities
        let physicalAddressWidth: Int
        let linearAddressWidth: Int

        var secondary: SecondaryProcessorControls { controls.effectiveSecondaryProcessorBased }
        var unrestrictedGuest: Bool { secondary.contains(.unrestrictedGuest) }
        var ia32eModeGuest: Bool { controls.vmEntry.contains(.ia32eModeGuest) }
        var hostAddressSpaceSize: Bool { controls.vmExit.contains(.hostAddressSpaceSize) }

        func isCanonical(_ address: UInt64) -> Bool {
            let shift = UInt64(64 - linearAddressWidth)
            return Int64(bitPattern: address << shift) >> shift == Int64(bitPattern: address)
        }

        func fitsPhysicalWidth(_ address: UInt64) -> Bool {
            physicalAddressWidth >= 64 || address >> UInt64(physicalAddressWidth) == 0
        }

        /// Each byte of IA32_PAT is UC (0), WC (1), WT (4), WP (5), WB (6) or UC- (7).
        func isValidPAT(_ pat: UInt64) -> Bool {
            (0..<8).allSatisfy { index in
                let type = (pat >> UInt64(index * 8)) & 0xFF
                return type <= 1 || (4...7).contains(type)
            }
        }
    }
}

extension VMEntryChecker.Context {
    // MARK: Intel SDM Vol. 3C, "Checks on VMX Controls" (27.2.1 in rev. 84)

    func checkControlWord<Controls: VMXControls>(_ word: Controls, _ capability: ControlCapability<Controls>) -> VMEntryCheckFailure? {
        let set = Controls.controlSet
        let mustBeZero = word.rawValue & ~capability.allowed1.rawValue
        if mustBeZero != 0 {
            return VMEntryCheckFailure(
                .controlWord(set), "\(set.title)",
                "\(set.describe(bits: mustBeZero)) set but must be 0 (\(capability.msr.label))")
        }
        let mustBeOne = capability.allowed0.rawValue & ~word.rawValue
        if mustBeOne != 0 {
            return VMEntryCheckFailure(
                .controlWord(set), "\(set.title)",
                "\(set.describe(bits: mustBeOne)) clear but must be 1 (\(capability.msr.label))")
        }
        return nil
    }

    func checkControls() -> VMEntryCheckFailure? {
        let primary = controls.primaryProcessorBased
        if let failure = checkControlWord(controls.pinBased, capabilities.pinBased)
            ?? checkControlWord(primary, capabilities.primaryProcessorBased)
        {
            return failure
        }
        if primary.contains(.activateSecondaryControls) {
            if let failure = checkControlWord(controls.secondaryProcessorBased, capabilities.secondaryProcessorBased) {
                return failure
            }
        } else if !controls.secondaryProcessorBased.isEmpty {
            return VMEntryCheckFailure(
                .secondaryControlsNotActivated, "secondary processor-based VM-execution controls",
                "\(VMXControlSet.secondaryProcessorBased.describe(bits: controls.secondaryProcessorBased.rawValue)) "
                    + "set but \"activate secondary controls\" is 0, so they are ignored")
        }
        if let failure = checkControlWord(controls.vmExit, capabilities.vmExit)
            ?? checkControlWord(controls.vmEntry, capabilities.vmEntry)
        {
            return failure
        }

        if controls.cr3TargetCount > UInt32(capabilities.miscellaneous.cr3TargetCount) {
            return VMEntryCheckFailure(
                .cr3TargetCount, "CR3-target count",
                "\(controls.cr3TargetCount) exceeds the \(capabilities.miscellaneous.cr3TargetCount) of IA32_VMX_MISC[24:16]")
        }
        if primary.contains(.useIOBitmaps) {
            for (address, name) in [(controls.ioBitmapAAddress, "I/O bitmap A address"), (controls.ioBitmapBAddress, "I/O bitmap B address")] {
                if let detail = bitmapAddressProblem(address) {
                    return VMEntryCheckFailure(.ioBitmapAddress, name, detail)
                }
            }
        }
        if primary.contains(.useMSRBitmaps), let detail = bitmapAddressProblem(controls.msrBitmapAddress) {
            return VMEntryCheckFailure(.msrBitmapAddress, "MSR bitmap address", detail)
        }
        let pin = controls.pinBased
        if pin.contains(.virtualNMIs) && !pin.contains(.nmiExiting) {
            return VMEntryCheckFailure(.nmiControls, "pin-based VM-execution controls", "virtual NMIs set without NMI exiting")
        }
        if primary.contains(.nmiWindowExiting) && !pin.contains(.virtualNMIs) {
            return VMEntryCheckFailure(.nmiControls, "primary processor-based VM-execution controls", "NMI-window exiting set without virtual NMIs")
        }
        if secondary.contains(.enableVPID) && controls.vpid == 0 {
            return VMEntryCheckFailure(.vpidZero, "VPID", "0 with \"enable VPID\" set")
        }
        if secondary.contains(.enableEPT), let failure = checkEPTP(controls.eptPointer) {
            return failure
        }
        if unrestrictedGuest && !secondary.contains(.enableEPT) {
            return VMEntryCheckFailure(.unrestrictedGuestWithoutEPT, "secondary processor-based VM-execution controls", "unrestricted guest set without enable EPT")
        }

        if controls.vmExit.contains(.saveVMXPreemptionTimerValue) && !pin.contains(.activateVMXPreemptionTimer) {
            return VMEntryCheckFailure(.preemptionTimerSave, "VM-exit controls", "save VMX-preemption timer value set without activate VMX-preemption timer")
        }
        if !controls.vmEntry.isDisjoint(with: [.entryToSMM, .deactivateDualMonitorTreatment]) {
            return VMEntryCheckFailure(.entryOutsideSMM, "VM-entry controls", "entry to SMM / deactivate dual-monitor treatment set outside SMM")
        }
        return nil
    }

    func bitmapAddressProblem(_ address: UInt64) -> String? {
        if address & 0xFFF != 0 { return "\(hex(address)) is not 4 KiB-aligned" }
        if !fitsPhysicalWidth(address) { return "\(hex(address)) lies beyond the \(physicalAddressWidth)-bit physical-address width" }
        return nil
    }

    /// Intel SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)" (25.6.11 in rev. 84).
    func checkEPTP(_ eptp: UInt64) -> VMEntryCheckFailure? {
        let caps = capabilities.eptVPID
        let memoryType = eptp & 0x7
        if !(memoryType == 0 && caps.supportsUncacheable) && !(memoryType == 6 && caps.supportsWriteBack) {
            return VMEntryCheckFailure(.eptpMemoryType, "EPT pointer", "memory type \(memoryType) (bits 2:0) is not supported (IA32_VMX_EPT_VPID_CAP bits 8, 14)")
        }
        let walkLength = (eptp >> 3) & 0x7
        if !(walkLength == 3 && caps.supportsPageWalkLength4) && !(walkLength == 4 && caps.supportsPageWalkLength5) {
            return VMEntryCheckFailure(.eptpPageWalkLength, "EPT pointer", "page-walk length \(walkLength + 1) (bits 5:3 = \(walkLength)) is not supported")
        }
        if eptp & (1 << 6) != 0 && !caps.supportsAccessedDirtyFlags {
            return VMEntryCheckFailure(.eptpAccessedDirty, "EPT pointer", "accessed/dirty flags enabled (bit 6) but not supported")
        }
        var reserved: UInt64 = 0xF00
        if !caps.supportsSupervisorShadowStackControl { reserved |= 1 << 7 }
        if physicalAddressWidth < 64 { reserved |= ~0 << UInt64(physicalAddressWidth) }
        if eptp & reserved != 0 {
            return VMEntryCheckFailure(.eptpReservedBits, "EPT pointer", "\(hex(eptp)) sets reserved bits \(hex(eptp & reserved))")
        }
        return nil
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Host Control Registers, MSRs, and SSP" (27.2.2 in rev. 84),
    // "Checks on Host Segment and Descriptor-Table Registers" (27.2.3), "Checks Related to Address-Space Size" (27.2.4)

    func checkHost() -> VMEntryCheckFailure? {
        if let detail = fixedBitsProblem(capabilities.cr0Fixed, host.cr0.rawValue) {
            return VMEntryCheckFailure(.hostCR0FixedBits, "host CR0", detail)
        }
        if let detail = fixedBitsProblem(capabilities.cr4Fixed, host.cr4.rawValue) {
            return VMEntryCheckFailure(.hostCR4FixedBits, "host CR4", detail)
        }
        if !fitsPhysicalWidth(host.cr3) {
            return VMEntryCheckFailure(.hostCR3Width, "host CR3", "\(hex(host.cr3)) sets bits beyond the \(physicalAddressWidth)-bit physical-address width")
        }
        if !isCanonical(host.sysenterESP) || !isCanonical(host.sysenterEIP) {
            return VMEntryCheckFailure(.hostSysenterCanonical, "host IA32_SYSENTER_ESP/EIP", "not canonical")
        }
        if controls.vmExit.contains(.loadPAT) && !isValidPAT(host.pat) {
            return VMEntryCheckFailure(.hostPAT, "host IA32_PAT", "\(hex(host.pat)) has an invalid memory type")
        }
        if controls.vmExit.contains(.loadEFER) {
            let reserved = host.efer.subtracting(.defined)
            if !reserved.isEmpty {
                return VMEntryCheckFailure(.hostEFERReservedBits, "host IA32_EFER", "reserved bits \(hex(reserved.rawValue)) set")
            }
            if host.efer.contains(.lma) != hostAddressSpaceSize || host.efer.contains(.lme) != hostAddressSpaceSize {
                return VMEntryCheckFailure(.hostEFERAddressSpaceSize, "host IA32_EFER", "LMA and LME must both equal \"host address-space size\" (\(hostAddressSpaceSize ? 1 : 0))")
            }
        }

        let selectors: [(UInt16, String)] = [
            (host.esSelector, "ES"), (host.csSelector, "CS"), (host.ssSelector, "SS"), (host.dsSelector, "DS"),
            (host.fsSelector, "FS"), (host.gsSelector, "GS"), (host.trSelector, "TR"),
        ]
        for (selector, name) in selectors where selector & 7 != 0 {
            return VMEntryCheckFailure(.hostSelectorRPLOrTI, "host \(name) selector", "\(hex(selector)) has RPL or TI set (bits 2:0 must be 0)")
        }
        if host.csSelector == 0 { return VMEntryCheckFailure(.hostCSSelectorNull, "host CS selector", "is 0") }
        if host.trSelector == 0 { return VMEntryCheckFailure(.hostTRSelectorNull, "host TR selector", "is 0") }
        if !hostAddressSpaceSize && host.ssSelector == 0 {
            return VMEntryCheckFailure(.hostSSSelectorNull, "host SS selector", "is 0 with a 32-bit host")
        }
        let bases: [(UInt64, String)] = [
            (host.fsBase, "FS"), (host.gsBase, "GS"), (host.gdtrBase, "GDTR"), (host.idtrBase, "IDTR"), (host.trBase, "TR"),
        ]
        for (base, name) in bases where !isCanonical(base) {
            return VMEntryCheckFailure(.hostBaseCanonical, "host \(name) base", "\(hex(base)) is not canonical")
        }

        // The host's current IA32_EFER.LMA says whether the VMM runs in IA-32e mode.
        if host.efer.contains(.lma) && !hostAddressSpaceSize {
            return VMEntryCheckFailure(.hostAddressSpaceSizeRequired, "VM-exit controls", "host address-space size is 0 but the host runs in IA-32e mode (EFER.LMA = 1)")
        }
        if hostAddressSpaceSize {
            if !host.cr4.contains(.pae) {
                return VMEntryCheckFailure(.hostCR4PAE, "host CR4", "PAE clear with host address-space size set")
            }
            if !isCanonical(host.rip) {
                return VMEntryCheckFailure(.hostRIP, "host RIP", "\(hex(host.rip)) is not canonical")
            }
        } else {
            if ia32eModeGuest {
                return VMEntryCheckFailure(.ia32eGuestOn32BitHost, "VM-entry controls", "IA-32e mode guest set with a 32-bit host (host address-space size 0)")
            }
            if host.cr4.contains(.pcide) {
                return VMEntryCheckFailure(.hostCR4PCIDE, "host CR4", "PCIDE set with a 32-bit host")
            }
            if host.rip >> 32 != 0 {
                return VMEntryCheckFailure(.hostRIP, "host RIP", "\(hex(host.rip)) exceeds 32 bits with a 32-bit host")
            }
        }
        return nil
    }

    func fixedBitsProblem(_ fixed: CRFixedBits, _ value: UInt64) -> String? {
        let violations = fixed.violations(value)
        if violations.mustBeOne != 0 { return "\(hex(value)) clears bits \(hex(violations.mustBeOne)) that VMX fixes to 1" }
        if violations.mustBeZero != 0 { return "\(hex(value)) sets bits \(hex(violations.mustBeZero)) that VMX fixes to 0" }
        return nil
    }
}
