import Primitives

/// The pre-launch checker's failure texts, one row each.
///
/// A failure stores its row (one byte), not its text: of the checker's
/// eighty-odd failure sites each then costs a byte of row number instead of
/// a `StaticString` (pointer, length and flags) built in its code. The
/// texts are templates (`Message(template:...)`, see Message+Template.swift):
/// `{name}` is the failure's name, the other placeholders its values.
///
/// `templates` holds the texts, one line each, in the order of the cases:
/// one literal, so the texts cost no table (an array of 86 `StaticString`s
/// was 2 KB of `.data`) and no code per row (a `switch` returning each
/// literal was a jump-table entry and some 12 bytes each). A test checks
/// the line and case counts agree and that the breakages reach every row.
enum VMEntryCheckText: UInt8, CaseIterable, Sendable {
    case controlsSetButMustBe0
    case controlsClearButMustBe1
    case secondaryControlsNotActivated
    case cr3TargetCount
    case virtualNMIsWithoutNMIExiting
    case nmiWindowExitingWithoutVirtualNMIs
    case vpidZero
    case unrestrictedGuestWithoutEPT
    case preemptionTimerSaveWithoutTimer
    case entryOutsideSMM
    case addressNotPageAligned
    case addressBeyondPhysicalWidth
    case eptpMemoryType
    case eptpPageWalkLength
    case eptpAccessedDirty
    case eptpReservedBits
    case hostSysenterNotCanonical
    case hostEFERAddressSpaceSize
    case hostSelectorRPLOrTI
    case hostCSSelectorNull
    case hostTRSelectorNull
    case hostSSSelectorNull
    case hostBaseNotCanonical
    case hostAddressSpaceSizeRequired
    case hostCR4PAEClear
    case hostRIPNotCanonical
    case ia32eGuestOn32BitHost
    case hostCR4PCIDESet
    case hostRIPAbove32Bits
    case fixedBitsClear
    case fixedBitsSet
    case bitsBeyondPhysicalWidth
    case invalidPAT
    case eferReservedBits
    case guestCR0PagingWithoutProtection
    case guestCR0PagingClearInIA32eMode
    case guestCR4PAEClearInIA32eMode
    case guestCR4PCIDEOutsideIA32eMode
    case guestDR7HighBits
    case guestSysenterNotCanonical
    case guestEFERLMA
    case guestEFERLME
    case guestTRSelectorTI
    case guestLDTRSelectorTI
    case guestSSRPL
    case guestBaseNotCanonical
    case guestBaseAbove32Bits
    case guestVirtual8086Segment
    case guestCSTypeUnrestricted
    case guestCSType
    case guestSSType
    case guestDataSegmentType
    case guestSegmentSClear
    case guestCSDPLWithType3
    case guestCSDPLNonConforming
    case guestCSDPLConforming
    case guestSSDPLDiffersFromRPL
    case guestSSDPLNotZero
    case guestDataSegmentDPLBelowRPL
    case guestSegmentPClear
    case guestCSLongModeDB
    case guestSegmentReservedBits
    case guestGranularitySet
    case guestGranularityClear
    case guestTRType64
    case guestTRType32
    case guestTRSSet
    case guestTRPClear
    case guestTRUnusable
    case guestLDTRType
    case guestLDTRSSet
    case guestLDTRPClear
    case guestDescriptorTableLimit
    case guestRIPAbove32Bits
    case guestRIPNotCanonical
    case guestRFLAGSReservedBits
    case guestRFLAGSVM
    case guestActivityStateUnsupported
    case guestActivityStateHLTWithSSDPL
    case guestActivityStateBlocking
    case guestInterruptibilityReservedBits
    case guestInterruptibilitySTIAndMovSS
    case guestInterruptibilitySTIWithIFClear
    case guestInterruptibilitySMI
    case guestPendingDebugExceptionsReservedBits
    case guestVMCSLinkPointer

    /// The row's template: its line of `templates`.
    var template: UnsafeRawBufferPointer {
        let all = Self.templates
        let text = UnsafeRawBufferPointer(start: all.utf8Start, count: all.utf8CodeUnitCount)
        var line = 0
        var start = 0
        for index in text.indices where text[index] == UInt8(ascii: "\n") {
            if line == Int(rawValue) { return UnsafeRawBufferPointer(rebasing: text[start..<index]) }
            line += 1
            start = index + 1
        }
        return UnsafeRawBufferPointer(rebasing: text[start...])
    }

    /// The rows' templates, one a line, in the order of the cases.
    static var templates: StaticString {
        """
        {name}: {controls} set but must be 0 ({msr})
        {name}: {controls} clear but must be 1 ({msr})
        secondary processor-based VM-execution controls: {controls} set but "activate secondary controls" is 0, so they are ignored
        CR3-target count: {dec} exceeds the {dec} of IA32_VMX_MISC[24:16]
        pin-based VM-execution controls: virtual NMIs set without NMI exiting
        primary processor-based VM-execution controls: NMI-window exiting set without virtual NMIs
        VPID: 0 with "enable VPID" set
        secondary processor-based VM-execution controls: unrestricted guest set without enable EPT
        VM-exit controls: save VMX-preemption timer value set without activate VMX-preemption timer
        VM-entry controls: entry to SMM / deactivate dual-monitor treatment set outside SMM
        {name}: {hex} is not 4 KiB-aligned
        {name}: {hex} lies beyond the {dec}-bit physical-address width
        EPT pointer: memory type {dec} (bits 2:0) is not supported (IA32_VMX_EPT_VPID_CAP bits 8, 14)
        EPT pointer: page-walk length {dec} (bits 5:3 = {dec}) is not supported
        EPT pointer: accessed/dirty flags enabled (bit 6) but not supported
        EPT pointer: {hex} sets reserved bits {hex}
        host IA32_SYSENTER_ESP/EIP: not canonical
        host IA32_EFER: LMA and LME must both equal "host address-space size" ({dec})
        host {name} selector: {hex} has RPL or TI set (bits 2:0 must be 0)
        host CS selector: is 0
        host TR selector: is 0
        host SS selector: is 0 with a 32-bit host
        host {name} base: {hex} is not canonical
        VM-exit controls: host address-space size is 0 but the host runs in IA-32e mode (EFER.LMA = 1)
        host CR4: PAE clear with host address-space size set
        host RIP: {hex} is not canonical
        VM-entry controls: IA-32e mode guest set with a 32-bit host (host address-space size 0)
        host CR4: PCIDE set with a 32-bit host
        host RIP: {hex} exceeds 32 bits with a 32-bit host
        {name}: {hex} clears bits {hex} that VMX fixes to 1
        {name}: {hex} sets bits {hex} that VMX fixes to 0
        {name}: {hex} sets bits beyond the {dec}-bit physical-address width
        {name}: {hex} has an invalid memory type
        {name}: reserved bits {hex} set
        guest CR0: PG set without PE
        guest CR0: PG clear with IA-32e mode guest set
        guest CR4: PAE clear with IA-32e mode guest set
        guest CR4: PCIDE set without IA-32e mode guest
        guest DR7: {hex} sets bits 63:32 with load debug controls
        guest IA32_SYSENTER_ESP/EIP: not canonical
        guest IA32_EFER: LMA ({dec}) differs from IA-32e mode guest ({dec})
        guest IA32_EFER: LME differs from LMA with CR0.PG set
        guest TR selector: {hex} has TI set
        guest LDTR selector: {hex} has TI set
        guest SS selector: RPL {dec} differs from CS RPL {dec}
        guest {name} base: {hex} is not canonical
        guest {name} base: {hex} sets bits 63:32
        guest {name}: virtual-8086 mode needs base = selector << 4, limit 0xFFFF, access rights 0xF3
        guest CS access rights: type {dec} (3, 9, 11, 13 or 15 required)
        guest CS access rights: type {dec} (9, 11, 13 or 15 required)
        guest SS access rights: type {dec} (3 or 7 required)
        guest {name} access rights: type {dec}: must be accessed, and readable if code
        guest {name} access rights: S clear (a code or data segment is required)
        guest CS access rights: DPL {dec} with type 3 (must be 0)
        guest CS access rights: DPL {dec} differs from SS DPL {dec} (non-conforming code)
        guest CS access rights: DPL {dec} exceeds SS DPL {dec} (conforming code)
        guest SS access rights: DPL {dec} differs from SS RPL {dec}
        guest SS access rights: DPL {dec} must be 0 (CS type 3 or CR0.PE = 0)
        guest {name} access rights: DPL {dec} below RPL {dec}
        guest {name} access rights: P clear on a usable segment
        guest CS access rights: L and D/B both set in IA-32e mode
        guest {name} access rights: reserved bits {hex} set (11:8, 31:17)
        guest {name} access rights: G set with limit {hex} (bits 11:0 not all 1)
        guest {name} access rights: G clear with limit {hex} (bits 31:20 not 0)
        guest TR access rights: type {dec} (busy TSS required: 11)
        guest TR access rights: type {dec} (busy TSS required: 3 or 11)
        guest TR access rights: S set (a system segment is required)
        guest TR access rights: P clear
        guest TR access rights: unusable (TR must be usable)
        guest LDTR access rights: type {dec} (2, LDT, required when usable)
        guest LDTR access rights: S set (a system segment is required)
        guest LDTR access rights: P clear on a usable LDTR
        guest {name} limit: {hex} exceeds 0xffff
        guest RIP: {hex} exceeds 32 bits outside 64-bit mode
        guest RIP: {hex} is not canonical
        guest RFLAGS: {hex}: bit 1 must be 1, bits 3, 5, 15 and 63:22 must be 0
        guest RFLAGS: VM set in IA-32e mode or with CR0.PE = 0
        guest activity state: {dec} is not supported (IA32_VMX_MISC[8:6])
        guest activity state: HLT with SS DPL {dec} (must be 0)
        guest activity state: not active while blocking by STI or MOV SS
        guest interruptibility state: reserved bits {hex} set (31:5)
        guest interruptibility state: blocking by STI and by MOV SS both set
        guest interruptibility state: blocking by STI with RFLAGS.IF = 0
        guest interruptibility state: blocking by SMI outside SMM
        guest pending debug exceptions: reserved bits {hex} set (11:4, 13, 15, 63:17)
        VMCS link pointer: {hex} (pxHV uses no shadow VMCS: must be 0xffffffffffffffff)
        """
    }
}
