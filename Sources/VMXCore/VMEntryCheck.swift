import Primitives

/// A guest segment register, for naming the one a check is about.
public enum GuestSegment: Hashable, Sendable {
    case es, cs, ss, ds, fs, gs, ldtr, tr

    /// "ES", "CS", ... "LDTR", "TR".
    public var name: StaticString {
        switch self {
        case .es: "ES"
        case .cs: "CS"
        case .ss: "SS"
        case .ds: "DS"
        case .fs: "FS"
        case .gs: "GS"
        case .ldtr: "LDTR"
        case .tr: "TR"
        }
    }
}

/// A section of Intel SDM Vol. 3C, "VM Entries" (chapter 27 in rev. 84).
public enum VMEntryCheckSection: Hashable, Sendable {
    case executionControls
    case exitControls
    case entryControls
    case hostControlRegisters
    case hostSegments
    case addressSpaceSize
    case guestControlRegisters
    case guestSegments
    case guestDescriptorTables
    case guestRIPAndRFLAGS
    case guestNonRegisterState

    /// The section number in rev. 84 ("27.3.1.1").
    public var number: StaticString {
        switch self {
        case .executionControls: "27.2.1.1"
        case .exitControls: "27.2.1.2"
        case .entryControls: "27.2.1.3"
        case .hostControlRegisters: "27.2.2"
        case .hostSegments: "27.2.3"
        case .addressSpaceSize: "27.2.4"
        case .guestControlRegisters: "27.3.1.1"
        case .guestSegments: "27.3.1.2"
        case .guestDescriptorTables: "27.3.1.3"
        case .guestRIPAndRFLAGS: "27.3.1.4"
        case .guestNonRegisterState: "27.3.1.5"
        }
    }

    /// The section title, which stays stable across revisions.
    public var title: StaticString {
        switch self {
        case .executionControls: "VM-Execution Control Fields"
        case .exitControls: "VM-Exit Control Fields"
        case .entryControls: "VM-Entry Control Fields"
        case .hostControlRegisters: "Checks on Host Control Registers, MSRs, and SSP"
        case .hostSegments: "Checks on Host Segment and Descriptor-Table Registers"
        case .addressSpaceSize: "Checks Related to Address-Space Size"
        case .guestControlRegisters: "Checks on Guest Control Registers, Debug Registers, and MSRs"
        case .guestSegments: "Checks on Guest Segment Registers"
        case .guestDescriptorTables: "Checks on Guest Descriptor-Table Registers"
        case .guestRIPAndRFLAGS: "Checks on Guest RIP, RFLAGS, and SSP"
        case .guestNonRegisterState: "Checks on Guest Non-Register State"
        }
    }
}

/// One check VM entry makes, as `VMEntryChecker` names it.
///
/// Intel SDM Vol. 3C, "Checks on VMX Controls and Host-State Area" (27.2 in
/// rev. 84) and "Checking and Loading Guest State" (27.3 in rev. 84).
public enum VMEntryCheck: Hashable, Sendable {
    // 27.2.1: VMX controls
    /// A control word outside the allowed 0- and 1-settings.
    case controlWord(VMXControlSet)
    /// Secondary controls set while "activate secondary controls" is 0 (they would be ignored).
    case secondaryControlsNotActivated
    case cr3TargetCount
    case ioBitmapAddress
    case msrBitmapAddress
    /// "virtual NMIs" without "NMI exiting", or "NMI-window exiting" without "virtual NMIs".
    case nmiControls
    case vpidZero
    case unrestrictedGuestWithoutEPT
    case eptpMemoryType
    case eptpPageWalkLength
    case eptpAccessedDirty
    case eptpReservedBits
    /// "save VMX-preemption timer value" without "activate VMX-preemption timer".
    case preemptionTimerSave
    /// "entry to SMM" or "deactivate dual-monitor treatment" outside SMM.
    case entryOutsideSMM

    // 27.2.2-27.2.4: host state
    case hostCR0FixedBits
    case hostCR4FixedBits
    case hostCR3Width
    case hostSysenterCanonical
    case hostPAT
    case hostEFERReservedBits
    case hostEFERAddressSpaceSize
    case hostSelectorRPLOrTI
    case hostCSSelectorNull
    case hostTRSelectorNull
    case hostSSSelectorNull
    case hostBaseCanonical
    /// IA32_EFER.LMA = 1 (a 64-bit host) without "host address-space size".
    case hostAddressSpaceSizeRequired
    case hostCR4PAE
    case hostRIP
    case hostCR4PCIDE
    /// "IA-32e mode guest" with a 32-bit host.
    case ia32eGuestOn32BitHost

    // 27.3.1.1: guest control registers, debug registers, MSRs
    case guestCR0FixedBits
    case guestCR0PagingWithoutProtection
    case guestCR4FixedBits
    case guestIA32eModeWithoutPaging
    case guestIA32eModeWithoutPAE
    case guestCR4PCIDE
    case guestCR3Width
    case guestDR7
    case guestSysenterCanonical
    case guestPAT
    case guestEFERReservedBits
    case guestEFERLMA
    case guestEFERLME

    // 27.3.1.2: guest segments
    case guestTRSelectorTI
    case guestLDTRSelectorTI
    case guestSSRPL
    case guestSegmentBase(GuestSegment)
    case guestVirtual8086Segment(GuestSegment)
    case guestCSType
    case guestSSType
    case guestDataSegmentType(GuestSegment)
    case guestSegmentS(GuestSegment)
    case guestCSDPL
    case guestSSDPL
    case guestDataSegmentDPL(GuestSegment)
    case guestSegmentPresent(GuestSegment)
    case guestSegmentReservedBits(GuestSegment)
    case guestCSLongModeDB
    case guestSegmentGranularity(GuestSegment)
    case guestTRType
    case guestTRUnusable
    case guestLDTRType

    // 27.3.1.3: guest descriptor tables
    case guestDescriptorTableBase
    case guestDescriptorTableLimit

    // 27.3.1.4: guest RIP and RFLAGS
    case guestRIP
    case guestRFLAGSReservedBits
    case guestRFLAGSVM

    // 27.3.1.5: guest non-register state
    case guestActivityState
    case guestInterruptibilityReservedBits
    case guestInterruptibilitySTIAndMovSS
    case guestInterruptibilitySTIWithIFClear
    case guestInterruptibilitySMI
    case guestPendingDebugExceptions
    case guestVMCSLinkPointer

    /// The control set a control-word check is about.
    var controlSet: VMXControlSet {
        if case .controlWord(let set) = self { return set }
        return .secondaryProcessorBased
    }

    /// The SDM section the check is in.
    public var section: VMEntryCheckSection {
        switch self {
        case .controlWord(let set):
            switch set {
            case .vmExit: .exitControls
            case .vmEntry: .entryControls
            default: .executionControls
            }
        case .secondaryControlsNotActivated, .cr3TargetCount, .ioBitmapAddress, .msrBitmapAddress, .nmiControls,
            .vpidZero, .unrestrictedGuestWithoutEPT, .eptpMemoryType, .eptpPageWalkLength, .eptpAccessedDirty,
            .eptpReservedBits:
            .executionControls
        case .preemptionTimerSave: .exitControls
        case .entryOutsideSMM: .entryControls
        case .hostCR0FixedBits, .hostCR4FixedBits, .hostCR3Width, .hostSysenterCanonical, .hostPAT,
            .hostEFERReservedBits, .hostEFERAddressSpaceSize:
            .hostControlRegisters
        case .hostSelectorRPLOrTI, .hostCSSelectorNull, .hostTRSelectorNull, .hostSSSelectorNull, .hostBaseCanonical:
            .hostSegments
        case .hostAddressSpaceSizeRequired, .hostCR4PAE, .hostRIP, .hostCR4PCIDE, .ia32eGuestOn32BitHost:
            .addressSpaceSize
        case .guestCR0FixedBits, .guestCR0PagingWithoutProtection, .guestCR4FixedBits, .guestIA32eModeWithoutPaging,
            .guestIA32eModeWithoutPAE, .guestCR4PCIDE, .guestCR3Width, .guestDR7, .guestSysenterCanonical, .guestPAT,
            .guestEFERReservedBits, .guestEFERLMA, .guestEFERLME:
            .guestControlRegisters
        case .guestTRSelectorTI, .guestLDTRSelectorTI, .guestSSRPL, .guestSegmentBase, .guestVirtual8086Segment,
            .guestCSType, .guestSSType, .guestDataSegmentType, .guestSegmentS, .guestCSDPL, .guestSSDPL,
            .guestDataSegmentDPL, .guestSegmentPresent, .guestSegmentReservedBits, .guestCSLongModeDB,
            .guestSegmentGranularity, .guestTRType, .guestTRUnusable, .guestLDTRType:
            .guestSegments
        case .guestDescriptorTableBase, .guestDescriptorTableLimit: .guestDescriptorTables
        case .guestRIP, .guestRFLAGSReservedBits, .guestRFLAGSVM: .guestRIPAndRFLAGS
        case .guestActivityState, .guestInterruptibilityReservedBits, .guestInterruptibilitySTIAndMovSS,
            .guestInterruptibilitySTIWithIFClear, .guestInterruptibilitySMI, .guestPendingDebugExceptions,
            .guestVMCSLinkPointer:
            .guestNonRegisterState
        }
    }
}

/// The first check a VMCS configuration fails, and with what values.
///
/// The text stays a template (a `VMEntryCheckText` row) until it is read:
/// the checker has some ninety failure sites, and each only stores the
/// check, the row, a name and up to two values.
///
///     VMEntryCheckFailure(.guestSegmentBase(.fs), .guestBaseNotCanonical, base, name: "FS")
///
/// (`@unchecked Sendable`: `name` points at a literal, immutable static
/// data. Kept as its pointer, not a `StaticString`, the failure is 32
/// bytes instead of 48, and each of the checker's returns copies less.)
public struct VMEntryCheckFailure: Equatable, @unchecked Sendable {
    public let check: VMEntryCheck
    let row: VMEntryCheckText
    /// `{name}`, NUL-terminated.
    let name: UnsafePointer<UInt8>
    let first: UInt64
    let second: UInt64

    init(_ check: VMEntryCheck, _ row: VMEntryCheckText, name: StaticString = "", first: UInt64 = 0, second: UInt64 = 0) {
        self.check = check
        self.row = row
        self.name = name.utf8Start
        self.first = first
        self.second = second
    }

    @inline(__always)
    init(_ check: VMEntryCheck, _ row: VMEntryCheckText, _ first: some BinaryInteger, name: StaticString = "") {
        self.init(check, row, name: name, first: UInt64(truncatingIfNeeded: first))
    }

    @inline(__always)
    init(_ check: VMEntryCheck, _ row: VMEntryCheckText, _ first: some BinaryInteger, _ second: some BinaryInteger, name: StaticString = "") {
        self.init(check, row, name: name, first: UInt64(truncatingIfNeeded: first), second: UInt64(truncatingIfNeeded: second))
    }

    /// What is wrong, and with what: "guest CR0: PG set without PE".
    public var text: Message {
        var text = Message()
        text.append(vmxTemplate: row.template, first, second, 0, 0, name: name, controls: check.controlSet)
        return text
    }

    /// One line: "guest CR0: PG set without PE (SDM 27.3.1.1 'Checks on
    /// Guest Control Registers, Debug Registers, and MSRs')".
    public var message: Message {
        let section = check.section
        var message = text
        message.append(" (SDM ")
        message.append(section.number)
        message.append(" '")
        message.append(section.title)
        message.append("')")
        return message
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.check == b.check && a.text == b.text
    }
}
