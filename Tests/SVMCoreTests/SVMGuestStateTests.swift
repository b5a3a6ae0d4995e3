import Testing
import VMXCore
@testable import SVMCore

@Suite("SVM segment attributes (12-bit packed form)")
struct SegmentAttributeTests {
    @Test("VMX access rights 0xA09B (64-bit code) pack to 0xA9B; 0xC093 to 0xC93; 0x8B stays; unusable becomes 0")
    func packing() {
        #expect(SVMSegmentAttributes(SegmentAccessRights(rawValue: 0xA09B)).rawValue == 0xA9B)
        #expect(SVMSegmentAttributes(SegmentAccessRights(rawValue: 0xC093)).rawValue == 0xC93)
        #expect(SVMSegmentAttributes(SegmentAccessRights(rawValue: 0x8B)).rawValue == 0x8B)
        #expect(SVMSegmentAttributes(SegmentAccessRights(rawValue: 0x1_0000)).rawValue == 0)
        #expect(SVMSegmentAttributes(rawValue: 0xA9B).accessRights.rawValue == 0xA09B)
        #expect(SVMSegmentAttributes(rawValue: 0).accessRights.isUnusable)
    }

    @Test("named bits: type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, D/B 10, G 11")
    func bits() {
        let code64 = SVMSegmentAttributes(rawValue: 0xA9B)
        #expect(code64.type == 0xB && code64.isCodeOrData && code64.dpl == 0 && code64.isPresent)
        #expect(code64.is64BitCode && !code64.isDefault32Bit && code64.isGranular && !code64.isAvailable)
        let user = SVMSegmentAttributes(rawValue: 0xCF3)
        #expect(user.dpl == 3 && user.isDefault32Bit && !user.is64BitCode)
    }
}

@Suite("SVMGuestState start states")
struct SVMGuestStateTests {
    @Test("real mode: CS 0x1000:0x0100, SS 0x2000:0xFFF0")
    func realMode() {
        let state = SVMGuestState.realMode(cs: 0x1000, ip: 0x0100, ss: 0x2000, sp: 0xFFF0)
        #expect(state.cr0.rawValue == 0x10)
        #expect(state.cr4.rawValue == 0)
        #expect(state.efer.rawValue == 0x1000)  // SVME alone
        #expect(state.rip == 0x100 && state.rsp == 0xFFF0)
        #expect(state.rflags.rawValue == 0x2)
        #expect(state.cs == VMCBSegment(selector: 0x1000, attributes: SVMSegmentAttributes(rawValue: 0x9B), limit: 0xFFFF, base: 0x10000))
        #expect(state.ss == VMCBSegment(selector: 0x2000, attributes: SVMSegmentAttributes(rawValue: 0x93), limit: 0xFFFF, base: 0x20000))
        #expect(state.ds == VMCBSegment(selector: 0, attributes: SVMSegmentAttributes(rawValue: 0x93), limit: 0xFFFF, base: 0))
        #expect(state.tr.attributes.rawValue == 0x8B)
        #expect(state.ldtr.attributes.rawValue == 0)
        #expect(state.idtr.base == 0 && state.idtr.limit == 0x3FF)
        #expect(state.cpl == 0)
        #expect(state.dr6 == 0xFFFF_0FF0 && state.dr7 == 0x400)
        #expect(state.pat == 0x0007_0406_0007_0406)
    }

    @Test("long mode: flat 64-bit CS 0x08 (0xA9B), data 0x10 (0xC93), TR 0x18, EFER LME LMA SVME")
    func longMode() {
        let state = SVMGuestState.longMode(rip: 0x10_0000, rsp: 0x8_0000, cr3: 0x9000)
        #expect(state.cr0.rawValue == 0x8001_0033)
        #expect(state.cr3 == 0x9000)
        #expect(state.cr4.rawValue == 0x620)
        #expect(state.efer.rawValue == 0x1500)
        #expect(state.cs == VMCBSegment(selector: 0x08, attributes: SVMSegmentAttributes(rawValue: 0xA9B), limit: 0xFFFF_FFFF, base: 0))
        for data in [state.ss, state.ds, state.es, state.fs, state.gs] {
            #expect(data == VMCBSegment(selector: 0x10, attributes: SVMSegmentAttributes(rawValue: 0xC93), limit: 0xFFFF_FFFF, base: 0))
        }
        #expect(state.tr == VMCBSegment(selector: 0x18, attributes: SVMSegmentAttributes(rawValue: 0x8B), limit: 0x67, base: 0))
        #expect(state.cpl == 0)
        #expect(state.rip == 0x10_0000 && state.rsp == 0x8_0000)
    }

    @Test("write(to:) puts each value at its APM offset, and reading it back gives the same state")
    func writeAndRead() {
        let vmcb = TestVMCB()
        var state = SVMGuestState.longMode(rip: 0x10_0000, rsp: 0x8_0000, cr3: 0x9000)
        state.rax = 0xAA
        state.cr2 = 0xC2
        state.lstar = 0x1234
        state.sysenterCS = 0x10
        state.write(to: &vmcb.page)
        // APM Table B-2 offsets (+400h).
        #expect(vmcb.u16(0x410) == 0x08 && vmcb.u16(0x412) == 0xA9B && vmcb.u32(0x414) == 0xFFFF_FFFF)
        #expect(vmcb.u16(0x420) == 0x10 && vmcb.u16(0x422) == 0xC93)
        #expect(vmcb.u16(0x490) == 0x18 && vmcb.u32(0x494) == 0x67)
        #expect(vmcb.byte(0x4CB) == 0)
        #expect(vmcb.u64(0x4D0) == 0x1500)
        #expect(vmcb.u64(0x548) == 0x620)
        #expect(vmcb.u64(0x550) == 0x9000)
        #expect(vmcb.u64(0x558) == 0x8001_0033)
        #expect(vmcb.u64(0x560) == 0x400)
        #expect(vmcb.u64(0x568) == 0xFFFF_0FF0)
        #expect(vmcb.u64(0x570) == 0x2)
        #expect(vmcb.u64(0x578) == 0x10_0000)
        #expect(vmcb.u64(0x5D8) == 0x8_0000)
        #expect(vmcb.u64(0x5F8) == 0xAA)
        #expect(vmcb.u64(0x608) == 0x1234)
        #expect(vmcb.u64(0x628) == 0x10)
        #expect(vmcb.u64(0x640) == 0xC2)
        #expect(vmcb.u64(0x668) == 0x0007_0406_0007_0406)
        // Nothing in the control area.
        #expect((0..<0x400).allSatisfy { vmcb.byte($0) == 0 })
        #expect(SVMGuestState(reading: vmcb.page) == state)
    }
}
