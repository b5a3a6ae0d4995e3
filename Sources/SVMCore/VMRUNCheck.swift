import Primitives

/// One condition that makes VMRUN fail with #VMEXIT(VMEXIT_INVALID), as
/// `VMRUNChecker` names it. In the APM's order.
///
/// AMD APM Vol. 2, "Canonicalization and Consistency Checks" (15.5.1 in
/// rev. 3.42), "Event Injection" (15.20 in rev. 3.42) and "Nested Paging"
/// (15.25 in rev. 3.42).
public enum VMRUNCheck: Hashable, Sendable {
    /// EFER.SVME is zero.
    case eferSVME
    /// CR0.CD is zero and CR0.NW is set.
    case cr0NotWriteThroughWithoutCacheDisable
    /// CR0[63:32] are not zero.
    case cr0UpperBits
    /// Any MBZ bit of CR3 is set.
    case cr3ReservedBits
    /// Any MBZ bit of CR4 is set.
    case cr4ReservedBits
    /// DR6[63:32] are not zero.
    case dr6UpperBits
    /// DR7[63:32] are not zero.
    case dr7UpperBits
    /// Any MBZ bit of EFER is set.
    case eferReservedBits
    /// EFER.LMA or EFER.LME is set and the processor has no long mode.
    case longModeUnsupported
    /// EFER.LME and CR0.PG are both set and CR4.PAE is zero.
    case longModeWithoutPAE
    /// EFER.LME and CR0.PG are both set and CR0.PE is zero.
    case longModeWithoutProtection
    /// EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set.
    case longModeCSLAndD
    /// CR4.CET is set and CR0.WP is zero.
    case cetWithoutWriteProtect
    /// The VMRUN intercept bit is clear.
    case vmrunInterceptClear
    /// The MSR permission map extends beyond the physical-address width.
    case msrpmAddress
    /// The I/O permission map extends beyond the physical-address width.
    case iopmAddress
    /// EVENTINJ with a reserved type, reserved bits, or a vector the type
    /// cannot have (an exception with vector 2 or above 31, #BR in 64-bit mode).
    case eventInjection
    /// The guest ASID is zero (the host's).
    case asidZero
    /// NP_ENABLE is set and the processor has no nested paging.
    case nestedPagingUnsupported
    /// N_CR3 sets bits beyond the physical-address width.
    case nestedCR3ReservedBits
    /// G_PAT holds a reserved memory type (with nested paging).
    case guestPAT

    /// The check as the APM words it (short).
    public var name: StaticString {
        switch self {
        case .eferSVME: "EFER.SVME=0"
        case .cr0NotWriteThroughWithoutCacheDisable: "CR0.CD=0 with CR0.NW=1"
        case .cr0UpperBits: "CR0[63:32] nonzero"
        case .cr3ReservedBits: "CR3 MBZ bits set"
        case .cr4ReservedBits: "CR4 MBZ bits set"
        case .dr6UpperBits: "DR6[63:32] nonzero"
        case .dr7UpperBits: "DR7[63:32] nonzero"
        case .eferReservedBits: "EFER MBZ bits set"
        case .longModeUnsupported: "EFER.LME/LMA without long mode"
        case .longModeWithoutPAE: "EFER.LME=1 and CR0.PG=1 with CR4.PAE=0"
        case .longModeWithoutProtection: "EFER.LME=1 and CR0.PG=1 with CR0.PE=0"
        case .longModeCSLAndD: "long mode with CS.L=1 and CS.D=1"
        case .cetWithoutWriteProtect: "CR4.CET=1 with CR0.WP=0"
        case .vmrunInterceptClear: "VMRUN intercept clear"
        case .msrpmAddress: "MSRPM beyond the physical-address width"
        case .iopmAddress: "IOPM beyond the physical-address width"
        case .eventInjection: "illegal event injection"
        case .asidZero: "guest ASID 0"
        case .nestedPagingUnsupported: "NP_ENABLE without nested paging"
        case .nestedCR3ReservedBits: "N_CR3 beyond the physical-address width"
        case .guestPAT: "G_PAT with a reserved memory type"
        }
    }
}

/// The first check a VMCB fails, and with what values. Small (the text is
/// rendered only when read).
public struct VMRUNCheckFailure: Hashable, Sendable {
    public let check: VMRUNCheck
    /// The value the check is about (see `text` for which).
    public let value: UInt64
    /// A second value (a width, a mask, the other register), or 0.
    public let other: UInt64

    public init(_ check: VMRUNCheck, _ value: UInt64, _ other: UInt64 = 0) {
        self.check = check
        self.value = value
        self.other = other
    }

    /// What is wrong, and with what: "EFER.LME=1 and CR0.PG=1 need
    /// CR4.PAE=1 (CR4 0x20)".
    @inline(never)
    public var text: Message {
        switch check {
        case .eferSVME: Message(template: "EFER.SVME=0 in the guest's EFER (EFER {hex})", value)
        case .cr0NotWriteThroughWithoutCacheDisable: Message(template: "CR0.NW=1 needs CR0.CD=1 (CR0 {hex})", value)
        case .cr0UpperBits: Message(template: "CR0[63:32] must be 0 (CR0 {hex})", value)
        case .cr3ReservedBits: Message(template: "CR3 sets MBZ bits {hex} (CR3 {hex})", value & other, value)
        case .cr4ReservedBits: Message(template: "CR4 sets MBZ bits {hex} (CR4 {hex})", value & other, value)
        case .dr6UpperBits: Message(template: "DR6[63:32] must be 0 (DR6 {hex})", value)
        case .dr7UpperBits: Message(template: "DR7[63:32] must be 0 (DR7 {hex})", value)
        case .eferReservedBits: Message(template: "EFER sets MBZ bits {hex} (EFER {hex})", value & other, value)
        case .longModeUnsupported:
            Message(template: "EFER.LME/LMA set but the processor has no long mode (EFER {hex})", value)
        case .longModeWithoutPAE: Message(template: "EFER.LME=1 and CR0.PG=1 need CR4.PAE=1 (CR4 {hex})", value)
        case .longModeWithoutProtection: Message(template: "EFER.LME=1 and CR0.PG=1 need CR0.PE=1 (CR0 {hex})", value)
        case .longModeCSLAndD:
            Message(template: "in long mode CS.L=1 and CS.D=1 together are illegal (CS attributes {hex})", value)
        case .cetWithoutWriteProtect: Message(template: "CR4.CET=1 needs CR0.WP=1 (CR0 {hex}, CR4 {hex})", value, other)
        case .vmrunInterceptClear:
            Message(template: "the VMRUN intercept (intercept vector 4 bit 0) must be set (vector 4 {hex})", value)
        case .msrpmAddress:
            Message(template: "MSRPM_BASE_PA {hex}: the 8 KiB map extends beyond the {dec}-bit physical-address width", value, other)
        case .iopmAddress:
            Message(template: "IOPM_BASE_PA {hex}: the 12 KiB map extends beyond the {dec}-bit physical-address width", value, other)
        case .eventInjection:
            Self.eventInjectionText(SVMEventInjection(rawValue: value), value)
        case .asidZero: "guest ASID 0 is the host's"
        case .nestedPagingUnsupported:
            Message(template: "NP_ENABLE=1 but the processor has no nested paging (NP word {hex})", value)
        case .nestedCR3ReservedBits:
            Message(template: "N_CR3 {hex} sets bits beyond the {dec}-bit physical-address width", value, other)
        case .guestPAT:
            Message(template: "G_PAT {hex} holds a reserved memory type (each byte must be 0, 1, 4, 5, 6 or 7)", value)
        }
    }

    private static func eventInjectionText(_ event: SVMEventInjection, _ value: UInt64) -> Message {
        if !event.type.isDefined {
            return Message(template: "EVENTINJ type {dec} is reserved (EVENTINJ {hex})", UInt64(event.type.rawValue), value)
        }
        if event.reservedBits != 0 {
            return Message(template: "EVENTINJ sets reserved bits 30:12 (EVENTINJ {hex})", value)
        }
        return Message(template: "EVENTINJ: an exception cannot have vector {dec} here (EVENTINJ {hex})", UInt64(event.vector), value)
    }

    /// One line: "svm: VMRUN check failed: EFER.LME=1 and CR0.PG=1 need
    /// CR4.PAE=1 (CR4 0x20)".
    @inline(never)
    public var message: Message {
        "svm: VMRUN check failed: \(text)"
    }
}
