import Primitives
import VMXCore

/// CPUID 8000000Ah:EDX, the SVM features, named as in the APM's table.
///
/// AMD APM Vol. 3, "Function 8000_000Ah—SVM Features" (Appendix E.4.9 in
/// rev. 3.35); AMD APM Vol. 2, "SVM Feature Identification" (15.4 in rev. 3.42).
public struct SVMFeatures: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// NP (bit 0): nested paging.
    public static let nestedPaging = Self(rawValue: 1 << 0)
    /// LbrVirt (bit 1): LBR virtualization.
    public static let lbrVirtualization = Self(rawValue: 1 << 1)
    /// SVML (bit 2): SVM lock.
    public static let svmLock = Self(rawValue: 1 << 2)
    /// NRIPS (bit 3): the VMCB's nRIP holds the next RIP after an
    /// instruction intercept. Without it the hypervisor computes it
    /// (`SVMNextRIP`).
    public static let nextRIPSave = Self(rawValue: 1 << 3)
    /// TscRateMsr (bit 4): MSR C000_0104h, TSC ratio.
    public static let tscRateMSR = Self(rawValue: 1 << 4)
    /// VmcbClean (bit 5): VMCB clean bits.
    public static let vmcbClean = Self(rawValue: 1 << 5)
    /// FlushByAsid (bit 6): TLB_CONTROL flushes by ASID.
    public static let flushByASID = Self(rawValue: 1 << 6)
    /// DecodeAssists (bit 7): EXITINFO1 names the GPR of MOV CR/DR, the
    /// instruction bytes are saved for #PF and NPF intercepts.
    public static let decodeAssists = Self(rawValue: 1 << 7)
    /// PauseFilter (bit 10): PAUSE intercept filter count.
    public static let pauseFilter = Self(rawValue: 1 << 10)
    /// PauseFilterThreshold (bit 12): PAUSE filter cycle-count threshold.
    public static let pauseFilterThreshold = Self(rawValue: 1 << 12)
    /// AVIC (bit 13): advanced virtual interrupt controller.
    public static let avic = Self(rawValue: 1 << 13)
    /// VMSAVEvirt (bit 15): VMSAVE and VMLOAD virtualization.
    public static let vmsaveVirtualization = Self(rawValue: 1 << 15)
    /// VGIF (bit 16): virtualized global interrupt flag.
    public static let vgif = Self(rawValue: 1 << 16)
    /// GMET (bit 17): guest mode execute trap.
    public static let gmet = Self(rawValue: 1 << 17)
    /// x2AVIC (bit 18): AVIC in x2APIC mode.
    public static let x2avic = Self(rawValue: 1 << 18)
    /// SSSCheck (bit 19): supervisor shadow-stack restrictions.
    public static let sssCheck = Self(rawValue: 1 << 19)
    /// SpecCtrl (bit 20): SPEC_CTRL virtualization.
    public static let specCtrl = Self(rawValue: 1 << 20)
    /// VNMI (bit 25): virtual NMI.
    public static let vnmi = Self(rawValue: 1 << 25)
    /// NestedVirtVmcbAddrChk (bit 28): VMRUN/VMLOAD/VMSAVE intercepts are
    /// taken before the address check (QEMU: "svme-addr-chk").
    public static let vmcbAddressCheck = Self(rawValue: 1 << 28)

    /// The APM's names, by bit (`report` lists set bits without a name as "bit N").
    static let names: InlineArray<19, (UInt32, StaticString)> = [
        (0, "NP"), (1, "LbrVirt"), (2, "SVML"), (3, "NRIPS"), (4, "TscRateMsr"), (5, "VmcbClean"),
        (6, "FlushByAsid"), (7, "DecodeAssists"), (10, "PauseFilter"), (12, "PauseFilterThreshold"),
        (13, "AVIC"), (15, "VMSAVEvirt"), (16, "VGIF"), (17, "GMET"), (18, "x2AVIC"), (19, "SSSCheck"),
        (20, "SpecCtrl"), (25, "VNMI"), (28, "NestedVirtVmcbAddrChk"),
    ]

    /// The APM name of `bit`, or nil.
    public static func name(ofBit bit: UInt32) -> StaticString? {
        let table = names.span
        for index in table.indices where table[index].0 == bit {
            return table[index].1
        }
        return nil
    }
}

/// Everything the processor reports about SVM, read in one pass from
/// CPUID 8000000Ah (revision, ASIDs, features), CPUID 80000008h (address
/// widths) and VM_CR.
///
/// AMD APM Vol. 2, "SVM Feature Identification" (15.4 in rev. 3.42);
/// AMD APM Vol. 3, "Function 8000_0008h—Processor Capacity Parameters and
/// Extended Feature Identification" (Appendix E.4.7 in rev. 3.35).
public struct SVMCapabilities: Equatable, Sendable {
    /// CPUID 8000000Ah:EAX[7:0], SVM revision number.
    public var revision: UInt8
    /// CPUID 8000000Ah:EBX, number of address space identifiers (ASID 0
    /// is the host's: guests get 1..<asidCount).
    public var asidCount: UInt32
    /// CPUID 8000000Ah:EDX.
    public var features: SVMFeatures
    /// CPUID 80000008h:EAX[7:0], physical-address width (36 when the leaf
    /// is missing).
    public var physicalAddressBits: UInt8
    /// CPUID 80000008h:EAX[15:8], linear-address width (48 when missing).
    public var linearAddressBits: UInt8
    /// CPUID 80000008h:EAX[23:16], guest physical-address width for
    /// nested paging; 0 means "as `physicalAddressBits`".
    public var guestPhysicalAddressBitsField: UInt8
    /// VM_CR as found.
    public var vmCR: VMCR
    /// The leaves as read, for the report's raw lines and fixtures.
    public var leaf8000000A: CPUIDResult
    /// CPUID 80000008h, or nil when CPUID 80000000h does not report it.
    public var leaf80000008: CPUIDResult?

    /// Reads the leaves and VM_CR. Call after `VirtualizationBackend.choose`
    /// returned `.svm` (before, VM_CR may not exist).
    public static func read<C: CPUIDAccess, M: MSRAccess>(cpuid: C, msrs: M) -> SVMCapabilities {
        let maximum = cpuid.cpuid(leaf: VirtualizationBackend.extendedLeafRange).eax
        let svm = cpuid.cpuid(leaf: VirtualizationBackend.svmFeatureLeaf)
        let widths: CPUIDResult? = maximum >= 0x8000_0008 ? cpuid.cpuid(leaf: 0x8000_0008) : nil
        let eax = widths?.eax ?? 0
        return SVMCapabilities(
            revision: UInt8(truncatingIfNeeded: svm.eax),
            asidCount: svm.ebx,
            features: SVMFeatures(rawValue: svm.edx),
            physicalAddressBits: widths == nil ? 36 : UInt8(truncatingIfNeeded: eax),
            linearAddressBits: widths == nil ? 48 : UInt8(truncatingIfNeeded: eax >> 8),
            guestPhysicalAddressBitsField: UInt8(truncatingIfNeeded: eax >> 16),
            vmCR: VMCR(rawValue: msrs.read(.vmCR)),
            leaf8000000A: svm, leaf80000008: widths)
    }
}

extension SVMCapabilities {
    /// NP: nested page tables (pxHV requires them).
    public var supportsNestedPaging: Bool { features.contains(.nestedPaging) }
    /// NRIPS: the VMCB's nRIP is valid after instruction intercepts.
    /// Without it, `SVMNextRIP` computes the next RIP.
    public var supportsNextRIPSave: Bool { features.contains(.nextRIPSave) }
    /// DecodeAssists: MOV CR/DR intercepts name their GPR in EXITINFO1.
    public var supportsDecodeAssists: Bool { features.contains(.decodeAssists) }
    /// FlushByAsid: TLB_CONTROL values 3 and 7 exist.
    public var supportsFlushByASID: Bool { features.contains(.flushByASID) }
    /// VmcbClean: the VMCB clean bits are honoured.
    public var supportsVMCBClean: Bool { features.contains(.vmcbClean) }
    /// The width nested page tables translate: CPUID 80000008h:EAX[23:16],
    /// or the physical-address width when that field is 0.
    public var guestPhysicalAddressBits: UInt8 {
        guestPhysicalAddressBitsField != 0 ? guestPhysicalAddressBitsField : physicalAddressBits
    }
}
