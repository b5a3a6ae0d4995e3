import EPT
import Primitives

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
            for byte in 0..<8 {
                let type = pat[bits: byte * 8...byte * 8 + 7]
                if type == 2 || type == 3 || type > 7 { return false }
            }
            return true
        }
    }
}

extension VMEntryChecker.Context {
    // MARK: Intel SDM Vol. 3C, "Checks on VMX Controls" (27.2.1 in rev. 84)

    @inline(__always)
    func checkControlWord<Controls: VMXControls>(_ word: Controls, _ capability: ControlCapability<Controls>) -> VMEntryCheckFailure? {
        controlWordProblem(Controls.controlSet, word.rawValue, capability.rawValue, capability.msr)
    }

    /// The controls of `word` set against the allowed 1-settings (bits
    /// 63:32 of `allowed`), else those clear against the allowed 0-settings
    /// (bits 31:0).
    func controlWordProblem(_ set: VMXControlSet, _ word: UInt32, _ allowed: UInt64, _ msr: MSR) -> VMEntryCheckFailure? {
        let mustBeZero = word & ~UInt32(truncatingIfNeeded: allowed[bits: 32...63])
        if mustBeZero != 0 {
            return VMEntryCheckFailure(.controlWord(set), .controlsSetButMustBe0, mustBeZero, msr.rawValue, name: set.title)
        }
        let mustBeOne = UInt32(truncatingIfNeeded: allowed[bits: 0...31]) & ~word
        if mustBeOne != 0 {
            return VMEntryCheckFailure(.controlWord(set), .controlsClearButMustBe1, mustBeOne, msr.rawValue, name: set.title)
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
                .secondaryControlsNotActivated,
                .secondaryControlsNotActivated,
                controls.secondaryProcessorBased.rawValue)
        }
        if let failure = checkControlWord(controls.vmExit, capabilities.vmExit)
            ?? checkControlWord(controls.vmEntry, capabilities.vmEntry)
        {
            return failure
        }

        if controls.cr3TargetCount > UInt32(capabilities.miscellaneous.cr3TargetCount) {
            return VMEntryCheckFailure(
                .cr3TargetCount, .cr3TargetCount,
                controls.cr3TargetCount, capabilities.miscellaneous.cr3TargetCount)
        }
        if primary.contains(.useIOBitmaps),
            let failure = bitmapAddressProblem(.ioBitmapAddress, "I/O bitmap A address", controls.ioBitmapAAddress)
                ?? bitmapAddressProblem(.ioBitmapAddress, "I/O bitmap B address", controls.ioBitmapBAddress)
        {
            return failure
        }
        if primary.contains(.useMSRBitmaps),
            let failure = bitmapAddressProblem(.msrBitmapAddress, "MSR bitmap address", controls.msrBitmapAddress)
        {
            return failure
        }
        let pin = controls.pinBased
        if pin.contains(.virtualNMIs) && !pin.contains(.nmiExiting) {
            return VMEntryCheckFailure(.nmiControls, .virtualNMIsWithoutNMIExiting)
        }
        if primary.contains(.nmiWindowExiting) && !pin.contains(.virtualNMIs) {
            return VMEntryCheckFailure(.nmiControls, .nmiWindowExitingWithoutVirtualNMIs)
        }
        if secondary.contains(.enableVPID) && controls.vpid == 0 {
            return VMEntryCheckFailure(.vpidZero, .vpidZero)
        }
        if secondary.contains(.enableEPT), let failure = checkEPTP(EPTPointer(rawValue: controls.eptPointer)) {
            return failure
        }
        if unrestrictedGuest && !secondary.contains(.enableEPT) {
            return VMEntryCheckFailure(.unrestrictedGuestWithoutEPT, .unrestrictedGuestWithoutEPT)
        }

        if controls.vmExit.contains(.saveVMXPreemptionTimerValue) && !pin.contains(.activateVMXPreemptionTimer) {
            return VMEntryCheckFailure(.preemptionTimerSave, .preemptionTimerSaveWithoutTimer)
        }
        if !controls.vmEntry.isDisjoint(with: [.entryToSMM, .deactivateDualMonitorTreatment]) {
            return VMEntryCheckFailure(.entryOutsideSMM, .entryOutsideSMM)
        }
        return nil
    }

    func bitmapAddressProblem(_ check: VMEntryCheck, _ subject: StaticString, _ address: UInt64) -> VMEntryCheckFailure? {
        if address & 0xFFF != 0 {
            return VMEntryCheckFailure(check, .addressNotPageAligned, address, name: subject)
        }
        if !fitsPhysicalWidth(address) {
            return VMEntryCheckFailure(check, .addressBeyondPhysicalWidth, address, physicalAddressWidth, name: subject)
        }
        return nil
    }

    /// Intel SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)" (25.6.11 in rev. 84).
    func checkEPTP(_ eptp: EPTPointer) -> VMEntryCheckFailure? {
        let caps = capabilities.eptVPID
        let memoryType = eptp.memoryType
        if !(memoryType == .uncacheable && caps.supportsUncacheable) && !(memoryType == .writeBack && caps.supportsWriteBack) {
            return VMEntryCheckFailure(
                .eptpMemoryType, .eptpMemoryType,
                memoryType.rawValue)
        }
        let walkLength = eptp.pageWalkLength
        if !(walkLength == 4 && caps.supportsPageWalkLength4) && !(walkLength == 5 && caps.supportsPageWalkLength5) {
            return VMEntryCheckFailure(
                .eptpPageWalkLength, .eptpPageWalkLength, walkLength, walkLength - 1)
        }
        if eptp.isAccessedDirtyEnabled && !caps.supportsAccessedDirtyFlags {
            return VMEntryCheckFailure(.eptpAccessedDirty, .eptpAccessedDirty)
        }
        // Bits 11:8, bit 7 without supervisor shadow-stack control, and the
        // address bits beyond MAXPHYADDR.
        var reserved: UInt64 = 0
        reserved[bits: 8...11] = 0xF
        reserved[bit: 7] = !caps.supportsSupervisorShadowStackControl
        if physicalAddressWidth < 64 { reserved |= ~0 << UInt64(physicalAddressWidth) }
        if eptp.rawValue & reserved != 0 {
            return VMEntryCheckFailure(.eptpReservedBits, .eptpReservedBits, eptp.rawValue, eptp.rawValue & reserved)
        }
        return nil
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Host Control Registers, MSRs, and SSP" (27.2.2 in rev. 84),
    // "Checks on Host Segment and Descriptor-Table Registers" (27.2.3), "Checks Related to Address-Space Size" (27.2.4)

    func checkHost() -> VMEntryCheckFailure? {
        if let failure = fixedBitsProblem(.hostCR0FixedBits, "host CR0", capabilities.cr0Fixed, host.cr0.rawValue)
            ?? fixedBitsProblem(.hostCR4FixedBits, "host CR4", capabilities.cr4Fixed, host.cr4.rawValue)
            ?? physicalWidthProblem(.hostCR3Width, "host CR3", host.cr3)
        {
            return failure
        }
        if !isCanonical(host.sysenterESP) || !isCanonical(host.sysenterEIP) {
            return VMEntryCheckFailure(.hostSysenterCanonical, .hostSysenterNotCanonical)
        }
        if controls.vmExit.contains(.loadPAT), let failure = patProblem(.hostPAT, "host IA32_PAT", host.pat) {
            return failure
        }
        if controls.vmExit.contains(.loadEFER) {
            if let failure = eferReservedBitsProblem(.hostEFERReservedBits, "host IA32_EFER", host.efer) { return failure }
            if host.efer.contains(.lma) != hostAddressSpaceSize || host.efer.contains(.lme) != hostAddressSpaceSize {
                return VMEntryCheckFailure(
                    .hostEFERAddressSpaceSize, .hostEFERAddressSpaceSize,
                    hostAddressSpaceSize ? 1 : 0)
            }
        }

        if let failure = firstFailure(VMEntryChecker.hostSelectorChecks) { return failure }
        if !hostAddressSpaceSize && host.ssSelector == 0 {
            return VMEntryCheckFailure(.hostSSSelectorNull, .hostSSSelectorNull)
        }
        if let failure = firstFailure(VMEntryChecker.hostBaseChecks) { return failure }

        // The host's current IA32_EFER.LMA says whether the VMM runs in IA-32e mode.
        if host.efer.contains(.lma) && !hostAddressSpaceSize {
            return VMEntryCheckFailure(.hostAddressSpaceSizeRequired, .hostAddressSpaceSizeRequired)
        }
        if hostAddressSpaceSize {
            if !host.cr4.contains(.pae) {
                return VMEntryCheckFailure(.hostCR4PAE, .hostCR4PAEClear)
            }
            if !isCanonical(host.rip) {
                return VMEntryCheckFailure(.hostRIP, .hostRIPNotCanonical, host.rip)
            }
        } else {
            if ia32eModeGuest {
                return VMEntryCheckFailure(.ia32eGuestOn32BitHost, .ia32eGuestOn32BitHost)
            }
            if host.cr4.contains(.pcide) {
                return VMEntryCheckFailure(.hostCR4PCIDE, .hostCR4PCIDESet)
            }
            if host.rip[bits: 32...63] != 0 {
                return VMEntryCheckFailure(.hostRIP, .hostRIPAbove32Bits, host.rip)
            }
        }
        return nil
    }

    // MARK: Problems the host and guest checks share

    func fixedBitsProblem(_ check: VMEntryCheck, _ subject: StaticString, _ fixed: CRFixedBits, _ value: UInt64) -> VMEntryCheckFailure? {
        let violations = fixed.violations(value)
        if violations.mustBeOne != 0 {
            return VMEntryCheckFailure(check, .fixedBitsClear, value, violations.mustBeOne, name: subject)
        }
        if violations.mustBeZero != 0 {
            return VMEntryCheckFailure(check, .fixedBitsSet, value, violations.mustBeZero, name: subject)
        }
        return nil
    }

    func physicalWidthProblem(_ check: VMEntryCheck, _ subject: StaticString, _ address: UInt64) -> VMEntryCheckFailure? {
        if fitsPhysicalWidth(address) { return nil }
        return VMEntryCheckFailure(
            check, .bitsBeyondPhysicalWidth, address, physicalAddressWidth, name: subject)
    }

    func patProblem(_ check: VMEntryCheck, _ subject: StaticString, _ pat: UInt64) -> VMEntryCheckFailure? {
        if isValidPAT(pat) { return nil }
        return VMEntryCheckFailure(check, .invalidPAT, pat, name: subject)
    }

    func eferReservedBitsProblem(_ check: VMEntryCheck, _ subject: StaticString, _ efer: EFER) -> VMEntryCheckFailure? {
        let reserved = efer.subtracting(.defined)
        if reserved.isEmpty { return nil }
        return VMEntryCheckFailure(check, .eferReservedBits, reserved.rawValue, name: subject)
    }
}
