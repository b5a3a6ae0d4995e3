import Primitives
import VMXCore

extension SVMCapabilities {
    /// The lines the hypervisor prints at bring-up, one call of `line` each
    /// (each to follow "pxhv: "): a decoded summary, then the raw leaves as
    /// `svm: cpuid 8000000a=EAX EBX ECX EDX` (8 hex digits each, the form
    /// fixtures are made from) and VM_CR.
    ///
    ///     svm: revision 1, 16 ASIDs, features NP VGIF NestedVirtVmcbAddrChk; no NRIPS (next RIP computed)
    ///     svm: nested-paging yes, physical-address-bits 40, guest-physical-bits 40, decode-assists no, flush-by-asid no, vmcb-clean no
    ///     svm: cpuid 8000000a=00000001 00000010 00000000 10010001
    ///     svm: cpuid 80000008=00003928 00000000 00000000 00000000
    ///     svm: msr VM_CR (0xc0010114)=0x0
    public func report(_ line: (Message) -> Void) {
        var summary: Message = "svm: revision \(revision), \(asidCount) ASIDs, features"
        var named = false
        for bit in UInt32(0)..<32 where features.rawValue & (1 << bit) != 0 {
            summary.append(" ")
            if let name = SVMFeatures.name(ofBit: bit) {
                summary.append(name)
            } else {
                summary.append("bit \(bit)")
            }
            named = true
        }
        if !named { summary.append(" none") }
        summary.append(supportsNextRIPSave ? "; NRIPS (next RIP from the VMCB)" : "; no NRIPS (next RIP computed)")
        line(summary)

        line("svm: nested-paging \(yes(supportsNestedPaging)), physical-address-bits \(physicalAddressBits), guest-physical-bits \(guestPhysicalAddressBits), decode-assists \(yes(supportsDecodeAssists)), flush-by-asid \(yes(supportsFlushByASID)), vmcb-clean \(yes(supportsVMCBClean))")

        line(Self.rawLine(leaf: VirtualizationBackend.svmFeatureLeaf, leaf8000000A))
        if let leaf80000008 { line(Self.rawLine(leaf: 0x8000_0008, leaf80000008)) }
        var msr: Message = "svm: msr "
        msr.append(MSR.vmCR.label)
        msr.append("=\(hex: vmCR.rawValue)")
        line(msr)
    }

    /// `svm: cpuid 8000000a=00000001 00000010 00000000 10010001`.
    static func rawLine(leaf: UInt32, _ result: CPUIDResult) -> Message {
        var text: Message = "svm: cpuid "
        appendDigits(leaf, to: &text)
        text.append("=")
        appendDigits(result.eax, to: &text)
        text.append(" ")
        appendDigits(result.ebx, to: &text)
        text.append(" ")
        appendDigits(result.ecx, to: &text)
        text.append(" ")
        appendDigits(result.edx, to: &text)
        return text
    }

    /// Eight lower-case hex digits, no prefix.
    static func appendDigits(_ value: UInt32, to text: inout Message) {
        for shift in stride(from: 28, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt32(shift)) & 0xF
            text.append(byte: nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x57)
        }
    }
}

/// "yes" or "no".
func yes(_ flag: Bool) -> StaticString { flag ? "yes" : "no" }
