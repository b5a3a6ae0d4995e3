import Primitives

// The checks that are alike (a selector's low bits, a base's canonical
// form, a limit's high bits) as rows of tables, each walked by one loop:
// a row costs a few bytes of data instead of a copy of the check's code.

extension VMEntryChecker {
    /// A field of the host or guest state that a table row checks.
    enum Field: UInt8, Sendable {
        case hostESSelector, hostCSSelector, hostSSSelector, hostDSSelector, hostFSSelector, hostGSSelector, hostTRSelector
        case hostFSBase, hostGSBase, hostGDTRBase, hostIDTRBase, hostTRBase
        case guestTRSelector, guestLDTRSelector
        case guestTRBase, guestFSBase, guestGSBase, guestLDTRBase, guestCSBase, guestSSBase, guestDSBase, guestESBase
        case guestGDTRBase, guestGDTRLimit, guestIDTRBase, guestIDTRLimit

        /// The register the field belongs to, for `{name}`: "ES", ... "GDTR".
        var name: StaticString {
            switch self {
            case .hostESSelector, .guestESBase: "ES"
            case .hostCSSelector, .guestCSBase: "CS"
            case .hostSSSelector, .guestSSBase: "SS"
            case .hostDSSelector, .guestDSBase: "DS"
            case .hostFSSelector, .hostFSBase, .guestFSBase: "FS"
            case .hostGSSelector, .hostGSBase, .guestGSBase: "GS"
            case .hostTRSelector, .hostTRBase, .guestTRSelector, .guestTRBase: "TR"
            case .guestLDTRSelector, .guestLDTRBase: "LDTR"
            case .hostGDTRBase, .guestGDTRBase, .guestGDTRLimit: "GDTR"
            case .hostIDTRBase, .guestIDTRBase, .guestIDTRLimit: "IDTR"
            }
        }
    }

    /// What a row requires of its field.
    enum Rule: UInt8, Sendable {
        /// Canonical for the linear-address width.
        case canonical
        /// Bits 63:32 clear.
        case below4GiB
        /// Bits 31:16 clear (a descriptor-table limit).
        case below64KiB
        /// Bits 2:0 clear (a host selector: RPL 0, TI 0).
        case noRPLOrTI
        /// Bit 2 clear (a selector's TI).
        case noTI
        /// Not 0.
        case nonzero
    }

    /// One uniform check: the field, the rule, and the failure it reports
    /// (with the field's value as the first value and its register as
    /// `{name}`). `ifUsable` skips the row when the field's guest segment
    /// is unusable.
    struct FieldCheck: Sendable {
        let field: Field
        let rule: Rule
        let ifUsable: Bool
        let check: VMEntryCheck
        let text: VMEntryCheckText

        init(_ field: Field, _ rule: Rule, ifUsable: Bool = false, _ check: VMEntryCheck, _ text: VMEntryCheckText) {
            self.field = field
            self.rule = rule
            self.ifUsable = ifUsable
            self.check = check
            self.text = text
        }
    }

    /// Intel SDM Vol. 3C, "Checks on Host Segment and Descriptor-Table
    /// Registers" (27.2.3 in rev. 84): the selectors, before the SS check.
    static let hostSelectorChecks: [FieldCheck] = [
        FieldCheck(.hostESSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostCSSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostSSSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostDSSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostFSSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostGSSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostTRSelector, .noRPLOrTI, .hostSelectorRPLOrTI, .hostSelectorRPLOrTI),
        FieldCheck(.hostCSSelector, .nonzero, .hostCSSelectorNull, .hostCSSelectorNull),
        FieldCheck(.hostTRSelector, .nonzero, .hostTRSelectorNull, .hostTRSelectorNull),
    ]

    /// 27.2.3, after the SS check: the bases.
    static let hostBaseChecks: [FieldCheck] = [
        FieldCheck(.hostFSBase, .canonical, .hostBaseCanonical, .hostBaseNotCanonical),
        FieldCheck(.hostGSBase, .canonical, .hostBaseCanonical, .hostBaseNotCanonical),
        FieldCheck(.hostGDTRBase, .canonical, .hostBaseCanonical, .hostBaseNotCanonical),
        FieldCheck(.hostIDTRBase, .canonical, .hostBaseCanonical, .hostBaseNotCanonical),
        FieldCheck(.hostTRBase, .canonical, .hostBaseCanonical, .hostBaseNotCanonical),
    ]

    /// Intel SDM Vol. 3C, "Checks on Guest Segment Registers" (27.3.1.2 in
    /// rev. 84): the selectors' TI, before the SS RPL check.
    static let guestSelectorChecks: [FieldCheck] = [
        FieldCheck(.guestTRSelector, .noTI, .guestTRSelectorTI, .guestTRSelectorTI),
        FieldCheck(.guestLDTRSelector, .noTI, ifUsable: true, .guestLDTRSelectorTI, .guestLDTRSelectorTI),
    ]

    /// 27.3.1.2: the bases.
    static let guestBaseChecks: [FieldCheck] = [
        FieldCheck(.guestTRBase, .canonical, .guestSegmentBase(.tr), .guestBaseNotCanonical),
        FieldCheck(.guestFSBase, .canonical, .guestSegmentBase(.fs), .guestBaseNotCanonical),
        FieldCheck(.guestGSBase, .canonical, .guestSegmentBase(.gs), .guestBaseNotCanonical),
        FieldCheck(.guestLDTRBase, .canonical, ifUsable: true, .guestSegmentBase(.ldtr), .guestBaseNotCanonical),
        FieldCheck(.guestCSBase, .below4GiB, .guestSegmentBase(.cs), .guestBaseAbove32Bits),
        FieldCheck(.guestSSBase, .below4GiB, ifUsable: true, .guestSegmentBase(.ss), .guestBaseAbove32Bits),
        FieldCheck(.guestDSBase, .below4GiB, ifUsable: true, .guestSegmentBase(.ds), .guestBaseAbove32Bits),
        FieldCheck(.guestESBase, .below4GiB, ifUsable: true, .guestSegmentBase(.es), .guestBaseAbove32Bits),
    ]

    /// Intel SDM Vol. 3C, "Checks on Guest Descriptor-Table Registers"
    /// (27.3.1.3 in rev. 84).
    static let guestDescriptorTableChecks: [FieldCheck] = [
        FieldCheck(.guestGDTRBase, .canonical, .guestDescriptorTableBase, .guestBaseNotCanonical),
        FieldCheck(.guestGDTRLimit, .below64KiB, .guestDescriptorTableLimit, .guestDescriptorTableLimit),
        FieldCheck(.guestIDTRBase, .canonical, .guestDescriptorTableBase, .guestBaseNotCanonical),
        FieldCheck(.guestIDTRLimit, .below64KiB, .guestDescriptorTableLimit, .guestDescriptorTableLimit),
    ]
}

extension VMEntryChecker.Context {
    /// The first row of `rows` whose field breaks its rule, as a failure.
    @inline(never)
    func firstFailure(_ rows: [VMEntryChecker.FieldCheck]) -> VMEntryCheckFailure? {
        for row in rows {
            if row.ifUsable && isUnusable(row.field) { continue }
            let value = value(of: row.field)
            let passes: Bool
            switch row.rule {
            case .canonical: passes = isCanonical(value)
            case .below4GiB: passes = value[bits: 32...63] == 0
            case .below64KiB: passes = value[bits: 16...31] == 0
            case .noRPLOrTI: passes = value[bits: 0...2] == 0
            case .noTI: passes = !value[bit: 2]
            case .nonzero: passes = value != 0
            }
            if !passes { return VMEntryCheckFailure(row.check, row.text, value, name: row.field.name) }
        }
        return nil
    }

    func value(of field: VMEntryChecker.Field) -> UInt64 {
        switch field {
        case .hostESSelector: UInt64(host.esSelector)
        case .hostCSSelector: UInt64(host.csSelector)
        case .hostSSSelector: UInt64(host.ssSelector)
        case .hostDSSelector: UInt64(host.dsSelector)
        case .hostFSSelector: UInt64(host.fsSelector)
        case .hostGSSelector: UInt64(host.gsSelector)
        case .hostTRSelector: UInt64(host.trSelector)
        case .hostFSBase: host.fsBase
        case .hostGSBase: host.gsBase
        case .hostGDTRBase: host.gdtrBase
        case .hostIDTRBase: host.idtrBase
        case .hostTRBase: host.trBase
        case .guestTRSelector: UInt64(guest.tr.selector)
        case .guestLDTRSelector: UInt64(guest.ldtr.selector)
        case .guestTRBase: guest.tr.base
        case .guestFSBase: guest.fs.base
        case .guestGSBase: guest.gs.base
        case .guestLDTRBase: guest.ldtr.base
        case .guestCSBase: guest.cs.base
        case .guestSSBase: guest.ss.base
        case .guestDSBase: guest.ds.base
        case .guestESBase: guest.es.base
        case .guestGDTRBase: guest.gdtr.base
        case .guestGDTRLimit: UInt64(guest.gdtr.limit)
        case .guestIDTRBase: guest.idtr.base
        case .guestIDTRLimit: UInt64(guest.idtr.limit)
        }
    }

    /// Whether the guest segment `field` belongs to is unusable (rows with
    /// `ifUsable` name guest segment fields only).
    func isUnusable(_ field: VMEntryChecker.Field) -> Bool {
        switch field {
        case .guestLDTRSelector, .guestLDTRBase: guest.ldtr.accessRights.isUnusable
        case .guestSSBase: guest.ss.accessRights.isUnusable
        case .guestDSBase: guest.ds.accessRights.isUnusable
        case .guestESBase: guest.es.accessRights.isUnusable
        default: false
        }
    }
}
