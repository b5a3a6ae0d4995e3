import Primitives

/// A segment register as the VMCS guest-state area holds it.
public struct SegmentRegister: Hashable, Sendable {
    public var selector: UInt16
    public var base: UInt64
    public var limit: UInt32
    public var accessRights: SegmentAccessRights

    public init(selector: UInt16, base: UInt64, limit: UInt32, accessRights: SegmentAccessRights) {
        self.selector = selector
        self.base = base
        self.limit = limit
        self.accessRights = accessRights
    }

    /// Selector 0, base 0, limit 0, access rights "unusable".
    public static let unusable = Self(selector: 0, base: 0, limit: 0, accessRights: .unusable)

    /// A real-mode segment: base = selector << 4, limit 0xFFFF.
    public static func realMode(_ selector: UInt16, _ accessRights: SegmentAccessRights) -> Self {
        Self(selector: selector, base: UInt64(selector) << 4, limit: 0xFFFF, accessRights: accessRights)
    }

    /// Bits 1:0 of the selector: requested privilege level.
    public var rpl: UInt8 { UInt8(selector[bits: 0...1]) }
    /// Bit 2 of the selector: table indicator (1 = LDT).
    public var tableIndicator: Bool { selector[bit: 2] }
}

/// GDTR or IDTR.
public struct DescriptorTableRegister: Hashable, Sendable {
    public var base: UInt64
    /// The VMCS field is 32 bits; bits 31:16 must be 0.
    public var limit: UInt32

    public init(base: UInt64, limit: UInt32) {
        self.base = base
        self.limit = limit
    }
}

/// The guest interruptibility state (VMCS field 0x4824).
///
/// Intel SDM Vol. 3C, "Guest Non-Register State" (25.4.2 in rev. 84).
public struct GuestInterruptibility: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bit 0: blocking by STI.
    public static let blockingBySTI = Self(rawValue: 1 << 0)
    /// Bit 1: blocking by MOV SS.
    public static let blockingByMovSS = Self(rawValue: 1 << 1)
    /// Bit 2: blocking by SMI.
    public static let blockingBySMI = Self(rawValue: 1 << 2)
    /// Bit 3: blocking by NMI.
    public static let blockingByNMI = Self(rawValue: 1 << 3)
    /// Bit 4: enclave interruption.
    public static let enclaveInterruption = Self(rawValue: 1 << 4)
}

/// The guest activity state (VMCS field 0x4826).
///
/// Intel SDM Vol. 3C, "Guest Non-Register State" (25.4.2 in rev. 84).
public struct GuestActivityState: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let active = Self(rawValue: 0)
    public static let hlt = Self(rawValue: 1)
    public static let shutdown = Self(rawValue: 2)
    public static let waitForSIPI = Self(rawValue: 3)
}

/// The guest-state area: what the processor loads on VM entry.
///
/// `realMode(...)` and `longMode(...)` give the two start states of the
/// test guests (Guest/README.md). CR0 and CR4 there are the values the guest
/// asks for; before writing, the caller applies the VMX-fixed bits with
/// `applyFixedBits(_:unrestrictedGuest:)` (CR0.NE and CR4.VMXE become 1 on
/// Bochs). What the guest reads back is governed by the guest/host masks
/// and read shadows in `VMCSControls`: CR4.VMXE is owned by the host and
/// reads 0; CR0 is not masked, so the guest sees NE = 1, which every
/// protected-mode OS sets anyway.
///
/// Intel SDM Vol. 3C, "Guest-State Area" (25.4 in rev. 84).
public struct VMCSGuestState: Hashable, Sendable {
    public var cr0: CR0
    public var cr3: UInt64
    public var cr4: CR4
    public var dr7: UInt64
    public var rsp: UInt64
    public var rip: UInt64
    public var rflags: RFLAGS

    public var es: SegmentRegister
    public var cs: SegmentRegister
    public var ss: SegmentRegister
    public var ds: SegmentRegister
    public var fs: SegmentRegister
    public var gs: SegmentRegister
    public var ldtr: SegmentRegister
    public var tr: SegmentRegister
    public var gdtr: DescriptorTableRegister
    public var idtr: DescriptorTableRegister

    /// IA32_DEBUGCTL (loaded only with the "load debug controls" entry control).
    public var debugControl: UInt64
    public var sysenterCS: UInt32
    public var sysenterESP: UInt64
    public var sysenterEIP: UInt64
    /// IA32_PAT (loaded with "load IA32_PAT").
    public var pat: UInt64
    /// IA32_EFER (loaded with "load IA32_EFER").
    public var efer: EFER

    public var activityState: GuestActivityState
    public var interruptibility: GuestInterruptibility
    public var pendingDebugExceptions: UInt64
    /// All ones: no shadow VMCS (the pre-launch checker insists on it).
    public var vmcsLinkPointer: UInt64

    /// The power-on value of IA32_PAT: WB, WT, UC-, UC, repeated.
    public static let defaultPAT: UInt64 = 0x0007_0406_0007_0406
    /// DR7 after reset: bit 10 is reserved and reads 1.
    public static let defaultDR7: UInt64 = 0x400

    public init(
        cr0: CR0, cr3: UInt64, cr4: CR4, dr7: UInt64 = defaultDR7, rsp: UInt64, rip: UInt64,
        rflags: RFLAGS = .reserved1,
        es: SegmentRegister, cs: SegmentRegister, ss: SegmentRegister, ds: SegmentRegister,
        fs: SegmentRegister, gs: SegmentRegister, ldtr: SegmentRegister, tr: SegmentRegister,
        gdtr: DescriptorTableRegister, idtr: DescriptorTableRegister,
        debugControl: UInt64 = 0, sysenterCS: UInt32 = 0, sysenterESP: UInt64 = 0, sysenterEIP: UInt64 = 0,
        pat: UInt64 = defaultPAT, efer: EFER = [],
        activityState: GuestActivityState = .active, interruptibility: GuestInterruptibility = [],
        pendingDebugExceptions: UInt64 = 0, vmcsLinkPointer: UInt64 = ~0
    ) {
        self.cr0 = cr0
        self.cr3 = cr3
        self.cr4 = cr4
        self.dr7 = dr7
        self.rsp = rsp
        self.rip = rip
        self.rflags = rflags
        self.es = es
        self.cs = cs
        self.ss = ss
        self.ds = ds
        self.fs = fs
        self.gs = gs
        self.ldtr = ldtr
        self.tr = tr
        self.gdtr = gdtr
        self.idtr = idtr
        self.debugControl = debugControl
        self.sysenterCS = sysenterCS
        self.sysenterESP = sysenterESP
        self.sysenterEIP = sysenterEIP
        self.pat = pat
        self.efer = efer
        self.activityState = activityState
        self.interruptibility = interruptibility
        self.pendingDebugExceptions = pendingDebugExceptions
        self.vmcsLinkPointer = vmcsLinkPointer
    }

    /// Sets the CR0/CR4 bits the processor fixes in VMX operation (and clears
    /// the forbidden ones). With `unrestrictedGuest`, CR0.PE and CR0.PG keep
    /// the guest's values.
    public mutating func applyFixedBits(_ capabilities: VMXCapabilities, unrestrictedGuest: Bool) {
        let cr0Fixed = unrestrictedGuest ? capabilities.cr0Fixed.allowingUnrestrictedGuest() : capabilities.cr0Fixed
        cr0 = CR0(rawValue: cr0Fixed.apply(cr0.rawValue))
        cr4 = CR4(rawValue: capabilities.cr4Fixed.apply(cr4.rawValue))
    }

    /// The same state with the fixed bits applied.
    public func applyingFixedBits(_ capabilities: VMXCapabilities, unrestrictedGuest: Bool) -> Self {
        var copy = self
        copy.applyFixedBits(capabilities, unrestrictedGuest: unrestrictedGuest)
        return copy
    }

    /// Writes every guest-state field above. IA32_PAT and IA32_EFER are
    /// written only when `entryControls` loads them (the fields exist only on
    /// processors with those controls); everything else always.
    public func write<V: VMCSAccess>(to vmcs: inout V, entryControls: VMEntryControls = [.loadPAT, .loadEFER]) throws(VMXError) {
        try vmcs.write([
            VMCSWrite(VMCS.guestCR0, cr0.rawValue), VMCSWrite(VMCS.guestCR3, cr3), VMCSWrite(VMCS.guestCR4, cr4.rawValue),
            VMCSWrite(VMCS.guestDR7, dr7), VMCSWrite(VMCS.guestRSP, rsp), VMCSWrite(VMCS.guestRIP, rip),
            VMCSWrite(VMCS.guestRFLAGS, rflags.rawValue),

            VMCSWrite(VMCS.guestESSelector, es.selector), VMCSWrite(VMCS.guestESBase, es.base),
            VMCSWrite(VMCS.guestESLimit, es.limit), VMCSWrite(VMCS.guestESAccessRights, es.accessRights.rawValue),
            VMCSWrite(VMCS.guestCSSelector, cs.selector), VMCSWrite(VMCS.guestCSBase, cs.base),
            VMCSWrite(VMCS.guestCSLimit, cs.limit), VMCSWrite(VMCS.guestCSAccessRights, cs.accessRights.rawValue),
            VMCSWrite(VMCS.guestSSSelector, ss.selector), VMCSWrite(VMCS.guestSSBase, ss.base),
            VMCSWrite(VMCS.guestSSLimit, ss.limit), VMCSWrite(VMCS.guestSSAccessRights, ss.accessRights.rawValue),
            VMCSWrite(VMCS.guestDSSelector, ds.selector), VMCSWrite(VMCS.guestDSBase, ds.base),
            VMCSWrite(VMCS.guestDSLimit, ds.limit), VMCSWrite(VMCS.guestDSAccessRights, ds.accessRights.rawValue),
            VMCSWrite(VMCS.guestFSSelector, fs.selector), VMCSWrite(VMCS.guestFSBase, fs.base),
            VMCSWrite(VMCS.guestFSLimit, fs.limit), VMCSWrite(VMCS.guestFSAccessRights, fs.accessRights.rawValue),
            VMCSWrite(VMCS.guestGSSelector, gs.selector), VMCSWrite(VMCS.guestGSBase, gs.base),
            VMCSWrite(VMCS.guestGSLimit, gs.limit), VMCSWrite(VMCS.guestGSAccessRights, gs.accessRights.rawValue),
            VMCSWrite(VMCS.guestLDTRSelector, ldtr.selector), VMCSWrite(VMCS.guestLDTRBase, ldtr.base),
            VMCSWrite(VMCS.guestLDTRLimit, ldtr.limit), VMCSWrite(VMCS.guestLDTRAccessRights, ldtr.accessRights.rawValue),
            VMCSWrite(VMCS.guestTRSelector, tr.selector), VMCSWrite(VMCS.guestTRBase, tr.base),
            VMCSWrite(VMCS.guestTRLimit, tr.limit), VMCSWrite(VMCS.guestTRAccessRights, tr.accessRights.rawValue),
            VMCSWrite(VMCS.guestGDTRBase, gdtr.base), VMCSWrite(VMCS.guestGDTRLimit, gdtr.limit),
            VMCSWrite(VMCS.guestIDTRBase, idtr.base), VMCSWrite(VMCS.guestIDTRLimit, idtr.limit),

            VMCSWrite(VMCS.guestDebugControl, debugControl), VMCSWrite(VMCS.guestSysenterCS, sysenterCS),
            VMCSWrite(VMCS.guestSysenterESP, sysenterESP), VMCSWrite(VMCS.guestSysenterEIP, sysenterEIP),
            VMCSWrite(VMCS.guestPAT, pat, if: entryControls.contains(.loadPAT)),
            VMCSWrite(VMCS.guestEFER, efer.rawValue, if: entryControls.contains(.loadEFER)),

            VMCSWrite(VMCS.guestActivityState, activityState.rawValue),
            VMCSWrite(VMCS.guestInterruptibilityState, interruptibility.rawValue),
            VMCSWrite(VMCS.guestPendingDebugExceptions, pendingDebugExceptions), VMCSWrite(VMCS.vmcsLinkPointer, vmcsLinkPointer),
        ] as InlineArray<53, VMCSWrite>)
    }
}
