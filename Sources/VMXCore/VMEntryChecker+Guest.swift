import Primitives

extension VMEntryChecker.Context {
    /// Intel SDM Vol. 3C, "Checking and Loading Guest State" (27.3 in rev. 84).
    func checkGuest() -> VMEntryCheckFailure? {
        checkGuestControlRegisters() ?? checkGuestSegments() ?? checkGuestDescriptorTables()
            ?? checkGuestRIPAndRFLAGS() ?? checkGuestNonRegisterState()
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Guest Control Registers, Debug Registers, and MSRs" (27.3.1.1 in rev. 84)

    func checkGuestControlRegisters() -> VMEntryCheckFailure? {
        let cr0Fixed = unrestrictedGuest ? capabilities.cr0Fixed.allowingUnrestrictedGuest() : capabilities.cr0Fixed
        if let failure = fixedBitsProblem(.guestCR0FixedBits, "guest CR0", cr0Fixed, guest.cr0.rawValue) {
            return failure
        }
        if guest.cr0.contains(.pg) && !guest.cr0.contains(.pe) {
            return VMEntryCheckFailure(.guestCR0PagingWithoutProtection, .guestCR0PagingWithoutProtection)
        }
        if let failure = fixedBitsProblem(.guestCR4FixedBits, "guest CR4", capabilities.cr4Fixed, guest.cr4.rawValue) {
            return failure
        }
        if ia32eModeGuest {
            if !guest.cr0.contains(.pg) {
                return VMEntryCheckFailure(.guestIA32eModeWithoutPaging, .guestCR0PagingClearInIA32eMode)
            }
            if !guest.cr4.contains(.pae) {
                return VMEntryCheckFailure(.guestIA32eModeWithoutPAE, .guestCR4PAEClearInIA32eMode)
            }
        } else if guest.cr4.contains(.pcide) {
            return VMEntryCheckFailure(.guestCR4PCIDE, .guestCR4PCIDEOutsideIA32eMode)
        }
        if let failure = physicalWidthProblem(.guestCR3Width, "guest CR3", guest.cr3) {
            return failure
        }
        if controls.vmEntry.contains(.loadDebugControls) && guest.dr7[bits: 32...63] != 0 {
            return VMEntryCheckFailure(.guestDR7, .guestDR7HighBits, guest.dr7)
        }
        if !isCanonical(guest.sysenterESP) || !isCanonical(guest.sysenterEIP) {
            return VMEntryCheckFailure(.guestSysenterCanonical, .guestSysenterNotCanonical)
        }
        if controls.vmEntry.contains(.loadPAT), let failure = patProblem(.guestPAT, "guest IA32_PAT", guest.pat) {
            return failure
        }
        if controls.vmEntry.contains(.loadEFER) {
            if let failure = eferReservedBitsProblem(.guestEFERReservedBits, "guest IA32_EFER", guest.efer) { return failure }
            if guest.efer.contains(.lma) != ia32eModeGuest {
                return VMEntryCheckFailure(
                    .guestEFERLMA, .guestEFERLMA,
                    guest.efer.contains(.lma) ? 1 : 0, ia32eModeGuest ? 1 : 0)
            }
            if guest.cr0.contains(.pg) && guest.efer.contains(.lme) != guest.efer.contains(.lma) {
                return VMEntryCheckFailure(.guestEFERLME, .guestEFERLME)
            }
        }
        return nil
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Guest Segment Registers" (27.3.1.2 in rev. 84)

    func segment(_ which: GuestSegment) -> SegmentRegister {
        switch which {
        case .es: guest.es
        case .cs: guest.cs
        case .ss: guest.ss
        case .ds: guest.ds
        case .fs: guest.fs
        case .gs: guest.gs
        case .ldtr: guest.ldtr
        case .tr: guest.tr
        }
    }

    /// CS, SS and the data segments, in the order the checks visit them.
    static let codeAndDataSegments: InlineArray<6, GuestSegment> = [.cs, .ss, .ds, .es, .fs, .gs]
    /// The data segments.
    static let dataSegments: InlineArray<4, GuestSegment> = [.ds, .es, .fs, .gs]

    func checkGuestSegments() -> VMEntryCheckFailure? {
        let virtual8086 = guest.rflags.contains(.virtual8086Mode)
        let cs = guest.cs
        let ss = guest.ss
        if let failure = firstFailure(VMEntryChecker.guestSelectorChecks) { return failure }
        if !virtual8086 && !unrestrictedGuest && ss.rpl != cs.rpl {
            return VMEntryCheckFailure(.guestSSRPL, .guestSSRPL, ss.rpl, cs.rpl)
        }

        if let failure = firstFailure(VMEntryChecker.guestBaseChecks) { return failure }

        if virtual8086 {
            for index in Self.codeAndDataSegments.indices {
                let which = Self.codeAndDataSegments[index]
                let segment = self.segment(which)
                if segment.base != UInt64(segment.selector) << 4 || segment.limit != 0xFFFF || segment.accessRights.rawValue != 0xF3 {
                    return VMEntryCheckFailure(
                        .guestVirtual8086Segment(which),
                        .guestVirtual8086Segment, name: which.name)
                }
            }
        } else if let failure = checkGuestSegmentAccessRights() {
            return failure
        }
        return checkGuestSystemSegments()
    }

    func checkGuestSegmentAccessRights() -> VMEntryCheckFailure? {
        let cs = guest.cs.accessRights
        let ss = guest.ss.accessRights
        switch cs.type {
        case 9, 11, 13, 15: break
        case 3 where unrestrictedGuest: break
        default:
            return unrestrictedGuest
                ? VMEntryCheckFailure(.guestCSType, .guestCSTypeUnrestricted, cs.type)
                : VMEntryCheckFailure(.guestCSType, .guestCSType, cs.type)
        }
        if !ss.isUnusable && ss.type != 3 && ss.type != 7 {
            return VMEntryCheckFailure(.guestSSType, .guestSSType, ss.type)
        }
        for index in Self.dataSegments.indices {
            let which = Self.dataSegments[index]
            let rights = segment(which).accessRights
            if rights.isUnusable { continue }
            if !rights.isAccessed || (rights.isCodeType && !rights.isReadableOrWritable) {
                return VMEntryCheckFailure(
                    .guestDataSegmentType(which), .guestDataSegmentType,
                    rights.type, name: which.name)
            }
        }
        for index in Self.codeAndDataSegments.indices {
            let which = Self.codeAndDataSegments[index]
            let rights = segment(which).accessRights
            if which != .cs && rights.isUnusable { continue }
            if !rights.isCodeOrData {
                return VMEntryCheckFailure(
                    .guestSegmentS(which), .guestSegmentSClear, name: which.name)
            }
        }

        // DPL.
        let nonConforming = cs.type == 9 || cs.type == 11
        let conforming = cs.type == 13 || cs.type == 15
        if cs.type == 3 && cs.dpl != 0 {
            return VMEntryCheckFailure(.guestCSDPL, .guestCSDPLWithType3, cs.dpl)
        }
        if nonConforming && cs.dpl != ss.dpl {
            return VMEntryCheckFailure(.guestCSDPL, .guestCSDPLNonConforming, cs.dpl, ss.dpl)
        }
        if conforming && cs.dpl > ss.dpl {
            return VMEntryCheckFailure(.guestCSDPL, .guestCSDPLConforming, cs.dpl, ss.dpl)
        }
        if !unrestrictedGuest && ss.dpl != guest.ss.rpl {
            return VMEntryCheckFailure(.guestSSDPL, .guestSSDPLDiffersFromRPL, ss.dpl, guest.ss.rpl)
        }
        if (cs.type == 3 || !guest.cr0.contains(.pe)) && ss.dpl != 0 {
            return VMEntryCheckFailure(.guestSSDPL, .guestSSDPLNotZero, ss.dpl)
        }
        if !unrestrictedGuest {
            for index in Self.dataSegments.indices {
                let which = Self.dataSegments[index]
                let segment = self.segment(which)
                let rights = segment.accessRights
                if !rights.isUnusable && rights.type <= 11 && rights.dpl < segment.rpl {
                    return VMEntryCheckFailure(
                        .guestDataSegmentDPL(which), .guestDataSegmentDPLBelowRPL, rights.dpl, segment.rpl,
                        name: which.name)
                }
            }
        }

        for index in Self.codeAndDataSegments.indices {
            let which = Self.codeAndDataSegments[index]
            let segment = self.segment(which)
            let rights = segment.accessRights
            if which != .cs && rights.isUnusable { continue }
            if !rights.isPresent {
                return VMEntryCheckFailure(.guestSegmentPresent(which), .guestSegmentPClear, name: which.name)
            }
            if let failure = reservedBitsProblem(which, rights) { return failure }
            if which == .cs && ia32eModeGuest && rights.is64BitCode && rights.isDefault32Bit {
                return VMEntryCheckFailure(.guestCSLongModeDB, .guestCSLongModeDB)
            }
            if let failure = granularityProblem(which, segment) { return failure }
        }
        return nil
    }

    func reservedBitsProblem(_ which: GuestSegment, _ rights: SegmentAccessRights) -> VMEntryCheckFailure? {
        if rights.reservedBits == 0 { return nil }
        return VMEntryCheckFailure(
            .guestSegmentReservedBits(which), .guestSegmentReservedBits, rights.reservedBits,
            name: which.name)
    }

    /// Limit bits 11:0 not all 1 needs G = 0; any of limit bits 31:20 set needs G = 1.
    func granularityProblem(_ which: GuestSegment, _ segment: SegmentRegister) -> VMEntryCheckFailure? {
        let granular = segment.accessRights.isGranular
        if segment.limit[bits: 0...11] != 0xFFF && granular {
            return VMEntryCheckFailure(
                .guestSegmentGranularity(which), .guestGranularitySet, segment.limit,
                name: which.name)
        }
        if segment.limit[bits: 20...31] != 0 && !granular {
            return VMEntryCheckFailure(
                .guestSegmentGranularity(which), .guestGranularityClear, segment.limit,
                name: which.name)
        }
        return nil
    }

    func checkGuestSystemSegments() -> VMEntryCheckFailure? {
        let tr = guest.tr.accessRights
        if ia32eModeGuest && tr.type != 11 {
            return VMEntryCheckFailure(.guestTRType, .guestTRType64, tr.type)
        }
        if !ia32eModeGuest && tr.type != 3 && tr.type != 11 {
            return VMEntryCheckFailure(.guestTRType, .guestTRType32, tr.type)
        }
        if tr.isCodeOrData {
            return VMEntryCheckFailure(.guestSegmentS(.tr), .guestTRSSet)
        }
        if !tr.isPresent {
            return VMEntryCheckFailure(.guestSegmentPresent(.tr), .guestTRPClear)
        }
        if tr.isUnusable {
            return VMEntryCheckFailure(.guestTRUnusable, .guestTRUnusable)
        }
        if let failure = reservedBitsProblem(.tr, tr) ?? granularityProblem(.tr, guest.tr) {
            return failure
        }

        let ldtr = guest.ldtr.accessRights
        if !ldtr.isUnusable {
            if ldtr.type != 2 {
                return VMEntryCheckFailure(.guestLDTRType, .guestLDTRType, ldtr.type)
            }
            if ldtr.isCodeOrData {
                return VMEntryCheckFailure(.guestSegmentS(.ldtr), .guestLDTRSSet)
            }
            if !ldtr.isPresent {
                return VMEntryCheckFailure(.guestSegmentPresent(.ldtr), .guestLDTRPClear)
            }
            if let failure = reservedBitsProblem(.ldtr, ldtr) ?? granularityProblem(.ldtr, guest.ldtr) {
                return failure
            }
        }
        return nil
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Guest Descriptor-Table Registers" (27.3.1.3 in rev. 84)

    func checkGuestDescriptorTables() -> VMEntryCheckFailure? {
        firstFailure(VMEntryChecker.guestDescriptorTableChecks)
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Guest RIP, RFLAGS, and SSP" (27.3.1.4 in rev. 84)

    func checkGuestRIPAndRFLAGS() -> VMEntryCheckFailure? {
        let mode64 = ia32eModeGuest && guest.cs.accessRights.is64BitCode
        if !mode64 && guest.rip[bits: 32...63] != 0 {
            return VMEntryCheckFailure(.guestRIP, .guestRIPAbove32Bits, guest.rip)
        }
        if mode64 && !isCanonical(guest.rip) {
            return VMEntryCheckFailure(.guestRIP, .guestRIPNotCanonical, guest.rip)
        }
        // Bits 3, 5, 15 and 63:22 are reserved 0; bit 1 is reserved 1.
        let reserved = guest.rflags.rawValue & 0xFFFF_FFFF_FFC0_8028
        if reserved != 0 || !guest.rflags.contains(.reserved1) {
            return VMEntryCheckFailure(
                .guestRFLAGSReservedBits, .guestRFLAGSReservedBits, guest.rflags.rawValue)
        }
        if guest.rflags.contains(.virtual8086Mode) && (ia32eModeGuest || !guest.cr0.contains(.pe)) {
            return VMEntryCheckFailure(.guestRFLAGSVM, .guestRFLAGSVM)
        }
        return nil
    }

    // MARK: Intel SDM Vol. 3C, "Checks on Guest Non-Register State" (27.3.1.5 in rev. 84)

    func checkGuestNonRegisterState() -> VMEntryCheckFailure? {
        let activity = guest.activityState
        let blocking = guest.interruptibility
        if activity.rawValue > 3
            || (activity != .active
                && !capabilities.miscellaneous.activityStates.contains(ActivityStates(rawValue: 1 << UInt8(activity.rawValue - 1))))
        {
            return VMEntryCheckFailure(.guestActivityState, .guestActivityStateUnsupported, activity.rawValue)
        }
        if activity == .hlt && guest.ss.accessRights.dpl != 0 {
            return VMEntryCheckFailure(.guestActivityState, .guestActivityStateHLTWithSSDPL, guest.ss.accessRights.dpl)
        }
        if activity != .active && !blocking.isDisjoint(with: [.blockingBySTI, .blockingByMovSS]) {
            return VMEntryCheckFailure(.guestActivityState, .guestActivityStateBlocking)
        }
        let blockingReserved = blocking.rawValue & ~0x1F
        if blockingReserved != 0 {
            return VMEntryCheckFailure(
                .guestInterruptibilityReservedBits, .guestInterruptibilityReservedBits, blockingReserved)
        }
        if blocking.contains([.blockingBySTI, .blockingByMovSS]) {
            return VMEntryCheckFailure(.guestInterruptibilitySTIAndMovSS, .guestInterruptibilitySTIAndMovSS)
        }
        if blocking.contains(.blockingBySTI) && !guest.rflags.contains(.interruptEnable) {
            return VMEntryCheckFailure(.guestInterruptibilitySTIWithIFClear, .guestInterruptibilitySTIWithIFClear)
        }
        if blocking.contains(.blockingBySMI) && !controls.vmEntry.contains(.entryToSMM) {
            return VMEntryCheckFailure(.guestInterruptibilitySMI, .guestInterruptibilitySMI)
        }
        // Bits 11:4, 13, 15 and 63:17 are reserved.
        let pendingReserved = guest.pendingDebugExceptions & 0xFFFF_FFFF_FFFE_AFF0
        if pendingReserved != 0 {
            return VMEntryCheckFailure(
                .guestPendingDebugExceptions, .guestPendingDebugExceptionsReservedBits, pendingReserved)
        }
        if guest.vmcsLinkPointer != ~0 {
            return VMEntryCheckFailure(
                .guestVMCSLinkPointer, .guestVMCSLinkPointer, guest.vmcsLinkPointer)
        }
        return nil
    }
}
