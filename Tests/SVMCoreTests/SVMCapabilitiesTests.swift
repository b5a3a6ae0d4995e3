import Primitives
import Testing
import VMXCore
@testable import SVMCore

@Suite("SVM capabilities and report")
struct SVMCapabilitiesTests {
    @Test("the captures parse whole: six leaves and three MSRs each")
    func capturesParse() {
        for capture in [AMDModels.qemuMax, AMDModels.bochsRyzen] {
            #expect(Set(capture.leaves.keys) == [0, 1, 0x8000_0000, 0x8000_0001, 0x8000_000A, 0x8000_0008])
            #expect(Set(capture.msrs.keys) == [0xC000_0080, 0xC001_0114, 0xC001_0117])
        }
    }

    @Test("QEMU 7.2 TCG -cpu max: revision 1, 16 ASIDs, NP VGIF and the VMCB address check; no NRIPS")
    func qemuMax() {
        let capture = AMDModels.qemuMax
        let svm = SVMCapabilities.read(cpuid: capture.cpu, msrs: capture.msrAccess)
        #expect(svm.revision == 1)
        #expect(svm.asidCount == 16)
        #expect(svm.supportsNestedPaging)
        #expect(!svm.supportsNextRIPSave)
        #expect(!svm.supportsDecodeAssists)
        #expect(!svm.supportsFlushByASID)
        #expect(!svm.supportsVMCBClean)
        #expect(svm.features == [.nestedPaging, .vgif, .vmcbAddressCheck])
        #expect(svm.physicalAddressBits == 40)
        #expect(svm.linearAddressBits == 57)
        #expect(svm.guestPhysicalAddressBits == 40)
        #expect(svm.vmCR == [])
    }

    @Test("Bochs 2.7 ryzen: 32768 ASIDs, NP LbrVirt SVML NRIPS FlushByAsid PauseFilter")
    func bochsRyzen() {
        let capture = AMDModels.bochsRyzen
        let svm = SVMCapabilities.read(cpuid: capture.cpu, msrs: capture.msrAccess)
        #expect(svm.revision == 1)
        #expect(svm.asidCount == 32768)
        #expect(svm.features == [.nestedPaging, .lbrVirtualization, .svmLock, .nextRIPSave, .flushByASID, .pauseFilter])
        #expect(svm.supportsNextRIPSave)
        #expect(svm.supportsFlushByASID)
        #expect(!svm.supportsDecodeAssists)
        #expect(svm.physicalAddressBits == 40)
        #expect(svm.linearAddressBits == 48)
    }

    @Test("feature bits as the APM numbers them", arguments: [
        (SVMFeatures.nestedPaging, 0, "NP"), (.lbrVirtualization, 1, "LbrVirt"), (.svmLock, 2, "SVML"),
        (.nextRIPSave, 3, "NRIPS"), (.tscRateMSR, 4, "TscRateMsr"), (.vmcbClean, 5, "VmcbClean"),
        (.flushByASID, 6, "FlushByAsid"), (.decodeAssists, 7, "DecodeAssists"), (.pauseFilter, 10, "PauseFilter"),
        (.pauseFilterThreshold, 12, "PauseFilterThreshold"), (.avic, 13, "AVIC"), (.vmsaveVirtualization, 15, "VMSAVEvirt"),
        (.vgif, 16, "VGIF"), (.gmet, 17, "GMET"), (.x2avic, 18, "x2AVIC"), (.sssCheck, 19, "SSSCheck"),
        (.specCtrl, 20, "SpecCtrl"), (.vnmi, 25, "VNMI"), (.vmcbAddressCheck, 28, "NestedVirtVmcbAddrChk"),
    ])
    func featureBits(feature: SVMFeatures, bit: UInt32, name: String) {
        #expect(feature.rawValue == 1 << bit)
        #expect(SVMFeatures.name(ofBit: bit).map { "\($0)" } == name)
    }

    @Test("CPUID 80000008h:EAX[23:16], when nonzero, is the nested-paging guest width")
    func guestPhysicalWidth() {
        let cpu = AMDModels.qemuMax.cpu.with(0x8000_0008, eax: 0x0030_3928)
        let svm = SVMCapabilities.read(cpuid: cpu, msrs: AMDModels.qemuMax.msrAccess)
        #expect(svm.physicalAddressBits == 40)
        #expect(svm.guestPhysicalAddressBits == 48)
    }

    func lines(_ svm: SVMCapabilities) -> [String] {
        var lines: [String] = []
        svm.report { lines.append($0.description) }
        return lines
    }

    @Test("report: QEMU max")
    func reportQEMU() {
        let svm = SVMCapabilities.read(cpuid: AMDModels.qemuMax.cpu, msrs: AMDModels.qemuMax.msrAccess)
        let text = lines(svm)
        #expect(text.first == "svm: revision 1, 16 ASIDs, features NP VGIF NestedVirtVmcbAddrChk; no NRIPS (next RIP computed)")
        #expect(text.contains("svm: nested-paging yes, physical-address-bits 40, guest-physical-bits 40, decode-assists no, flush-by-asid no, vmcb-clean no"))
        #expect(text.contains("svm: msr VM_CR (0xc0010114)=0x0"))
        // The raw lines are the capture's lines, with the prefix.
        let captured = AMDModels.qemuMaxSerialLog.split(separator: "\n").map(String.init)
        #expect(captured.contains(String(text[2].dropFirst("svm: ".count))))
        #expect(captured.contains(String(text[3].dropFirst("svm: ".count))))
    }

    @Test("report: Bochs ryzen has NRIPS; an unnamed bit is shown by number")
    func reportBochs() {
        var svm = SVMCapabilities.read(cpuid: AMDModels.bochsRyzen.cpu, msrs: AMDModels.bochsRyzen.msrAccess)
        #expect(lines(svm).first
            == "svm: revision 1, 32768 ASIDs, features NP LbrVirt SVML NRIPS FlushByAsid PauseFilter; NRIPS (next RIP from the VMCB)")
        svm.features = [.nestedPaging, SVMFeatures(rawValue: 1 << 31)]
        #expect(lines(svm).first?.hasPrefix("svm: revision 1, 32768 ASIDs, features NP bit 31;") == true)
        svm.features = []
        #expect(lines(svm).first?.contains("features none; no NRIPS") == true)
    }
}
