import Testing
@testable import SVMCore

@Suite("Intercept vectors, TLB control, clean bits (AMD APM Vol. 2 Table B-1)")
struct InterceptTests {
    /// Intercept vector 3 as Table B-1 lists it, 00Ch bit 0 upwards.
    @Test func vector3BitsFollowTheAPM() {
        let apm: [SVMInterceptVector3] = [
            .intr, .nmi, .smi, .initSignal, .vintr, .cr0SelectiveWrite, .idtrRead, .gdtrRead,
            .ldtrRead, .trRead, .idtrWrite, .gdtrWrite, .ldtrWrite, .trWrite, .rdtsc, .rdpmc,
            .pushf, .popf, .cpuid, .rsm, .iret, .intn, .invd, .pause,
            .hlt, .invlpg, .invlpga, .ioioProtection, .msrProtection, .taskSwitch, .ferrFreeze, .shutdown,
        ]
        for (bit, intercept) in apm.enumerated() {
            #expect(intercept.rawValue == UInt32(1) << UInt32(bit), "bit \(bit)")
        }
        #expect(apm.reduce(SVMInterceptVector3()) { $0.union($1) }.rawValue == 0xFFFF_FFFF)
    }

    /// Intercept vector 4 as Table B-1 lists it, 010h bit 0 upwards.
    @Test func vector4BitsFollowTheAPM() {
        let apm: [SVMInterceptVector4] = [
            .vmrun, .vmmcall, .vmload, .vmsave, .stgi, .clgi, .skinit, .rdtscp,
            .icebp, .wbinvd, .monitor, .mwait, .mwaitConditional, .xsetbv, .rdpru, .eferWriteTrap,
        ]
        for (bit, intercept) in apm.enumerated() {
            #expect(intercept.rawValue == UInt32(1) << UInt32(bit), "bit \(bit)")
        }
        #expect(SVMInterceptVector4.crWriteTrap(0).rawValue == 0x0001_0000)
        #expect(SVMInterceptVector4.crWriteTrap(8).rawValue == 0x0100_0000)
        #expect(SVMInterceptVector4.crWriteTrap(15).rawValue == 0x8000_0000)
    }

    @Test func registerIntercepts() {
        #expect(SVMRegisterIntercepts.cr0.rawValue == 0x0001)
        #expect(SVMRegisterIntercepts.cr3.rawValue == 0x0008)
        #expect(SVMRegisterIntercepts.cr8.rawValue == 0x0100)
        #expect(SVMRegisterIntercepts.register(15).rawValue == 0x8000)
    }

    @Test("TLB_CONTROL encodings 00h, 01h, 03h, 07h")
    func tlbControl() {
        #expect(TLBControl.doNothing.rawValue == 0)
        #expect(TLBControl.flushAll.rawValue == 1)
        #expect(TLBControl.flushGuest.rawValue == 3)
        #expect(TLBControl.flushGuestNonGlobal.rawValue == 7)
    }

    @Test("clean bits 0-11: I, IOPM, ASID, TPR, NP, CRx, DRx, DT, SEG, CR2, LBR, AVIC")
    func cleanBits() {
        let apm: [VMCBCleanBits] = [
            .intercepts, .iopm, .asid, .tpr, .nestedPaging, .controlRegisters, .debugRegisters,
            .descriptorTables, .segments, .cr2, .lbr, .avic,
        ]
        for (bit, clean) in apm.enumerated() {
            #expect(clean.rawValue == UInt32(1) << UInt32(bit), "bit \(bit)")
        }
    }

    @Test func nestedPagingAndExtensions() {
        #expect(SVMNestedPagingControl.npEnable.rawValue == 1)
        #expect(SVMNestedPagingControl.sevEnable.rawValue == 2)
        #expect(SVMNestedPagingControl.sevESEnable.rawValue == 4)
        #expect(SVMVirtualizationExtensions.lbrVirtualization.rawValue == 1)
        #expect(SVMVirtualizationExtensions.virtualizedVMSAVEVMLOAD.rawValue == 2)
        #expect(SVMInterruptShadow.interruptShadow.rawValue == 1)
        #expect(SVMInterruptShadow.guestInterruptMask.rawValue == 2)
    }

    @Test("V_TPR 7:0, V_IRQ 8, VGIF 9, V_INTR_PRIO 19:16, V_IGN_TPR 20, V_INTR_MASKING 24, AVIC 31, V_INTR_VECTOR 39:32")
    func virtualInterrupt() {
        var word = SVMVirtualInterrupt(rawValue: 0)
        word.virtualTPR = 0x0F
        #expect(word.rawValue == 0x0F)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.virtualIRQ = true
        #expect(word.rawValue == 1 << 8)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.virtualGIF = true
        #expect(word.rawValue == 1 << 9)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.virtualInterruptPriority = 0xF
        #expect(word.rawValue == 0xF_0000)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.ignoreTPR = true
        #expect(word.rawValue == 1 << 20)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.virtualInterruptMasking = true
        #expect(word.rawValue == 1 << 24)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.avicEnable = true
        #expect(word.rawValue == 1 << 31)
        word = SVMVirtualInterrupt(rawValue: 0)
        word.virtualInterruptVector = 0x20
        #expect(word.rawValue == 0x20_0000_0000)
    }
}

@Suite("EVENTINJ / EXITINTINFO (AMD APM Vol. 2 \"Event Injection\")")
struct EventInjectionTests {
    @Test("#PF with error code 2: vector 14, type 3, EV, V, error code in 63:32")
    func pageFault() {
        let event = SVMEventInjection.exception(14, errorCode: 2)
        #expect(event.rawValue == 0x0000_0002_8000_0B0E)
        #expect(event.vector == 14)
        #expect(event.type == .exception)
        #expect(event.hasErrorCode)
        #expect(event.isValid)
        #expect(event.errorCode == 2)
    }

    @Test func typesAndOthers() {
        #expect(SVMEventInjection.interrupt(0x20).rawValue == 0x8000_0020)
        #expect(SVMEventInjection.nmi.rawValue == 0x8000_0202)
        #expect(SVMEventInjection(vector: 0x80, type: .softwareInterrupt).rawValue == 0x8000_0480)
        #expect(SVMEventInjection.exception(6).rawValue == 0x8000_0306)
        #expect(SVMEventInjection.none.isValid == false)
        #expect(SVMEventType(rawValue: 1).isDefined == false)
        #expect(SVMEventType(rawValue: 5).isDefined == false)
        #expect(SVMEventType.softwareInterrupt.isDefined)
    }

    @Test("decoding an EXITINTINFO value")
    func decode() {
        // #GP(0x18) interrupted by an intercept: vector 13, type 3, EV, V.
        let info = SVMEventInjection(rawValue: 0x0000_0018_8000_0B0D)
        #expect(info.vector == 13 && info.type == .exception && info.hasErrorCode && info.isValid && info.errorCode == 0x18)
        #expect(info.reservedBits == 0)
        #expect(SVMEventInjection(rawValue: 0x8000_1000).reservedBits == 0x1000)
    }
}
