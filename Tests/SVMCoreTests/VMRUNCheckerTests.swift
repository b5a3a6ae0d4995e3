import Testing
import VMXCore
@testable import SVMCore

/// A VMCB that passes every check: `state` plus the controls VMRUN needs
/// (VMRUN intercepted, ASID 1, maps in low memory).
private func validVMCB(_ state: SVMGuestState, nestedPaging: Bool = false) -> TestVMCB {
    let vmcb = TestVMCB()
    state.write(to: &vmcb.page)
    vmcb.page.write(VMCB.interceptVector3, SVMInterceptVector3([.cpuid, .ioioProtection, .msrProtection, .shutdown]).rawValue)
    vmcb.page.write(VMCB.interceptVector4, SVMInterceptVector4([.vmrun, .vmmcall]).rawValue)
    vmcb.page.write(VMCB.guestASID, 1)
    vmcb.page.write(VMCB.iopmBasePA, 0x10_0000)
    vmcb.page.write(VMCB.msrpmBasePA, 0x10_4000)
    if nestedPaging {
        vmcb.page.write(VMCB.nestedPagingControl, SVMNestedPagingControl.npEnable.rawValue)
        vmcb.page.write(VMCB.nestedCR3, 0x20_0000)
    }
    return vmcb
}

private let long = SVMGuestState.longMode(rip: 0x10_0000, rsp: 0x8_0000, cr3: 0x9000)
private let real = SVMGuestState.realMode(cs: 0, ip: 0x7C00, ss: 0, sp: 0x7000)

private func check(_ vmcb: TestVMCB, width: Int = 48, longMode: Bool = true, nestedPaging: Bool = true) -> VMRUNCheckFailure? {
    VMRUNChecker.check(vmcb.page, physicalAddressWidth: width, supportsLongMode: longMode, supportsNestedPaging: nestedPaging)
}

@Suite("VMRUN consistency checks (AMD APM Vol. 2 \"Canonicalization and Consistency Checks\")")
struct VMRUNCheckerTests {
    @Test("valid real-mode and long-mode VMCBs pass, with and without nested paging")
    func validPass() {
        #expect(check(validVMCB(real)) == nil)
        #expect(check(validVMCB(long)) == nil)
        #expect(check(validVMCB(long, nestedPaging: true)) == nil)
        #expect(check(validVMCB(real, nestedPaging: true)) == nil)
    }

    /// Breaks one thing in a valid long-mode VMCB and returns the failure.
    private func broken(_ base: SVMGuestState = long, width: Int = 48, longMode: Bool = true, nestedPaging: Bool = true,
                        np: Bool = false, _ change: (inout VMCBPage) -> Void) -> VMRUNCheckFailure? {
        let vmcb = validVMCB(base, nestedPaging: np)
        change(&vmcb.page)
        return check(vmcb, width: width, longMode: longMode, nestedPaging: nestedPaging)
    }

    @Test func eferSVME() {
        let failure = broken { $0.write(VMCB.efer, 0x500) }
        #expect(failure?.check == .eferSVME)
        #expect(failure?.message.description == "svm: VMRUN check failed: EFER.SVME=0 in the guest's EFER (EFER 0x500)")
    }

    @Test func cr0NWWithoutCD() {
        #expect(broken(real) { $0.write(VMCB.cr0, 0x2000_0010) }?.check == .cr0NotWriteThroughWithoutCacheDisable)
        // CD and NW together are legal.
        #expect(broken(real) { $0.write(VMCB.cr0, 0x6000_0010) } == nil)
    }

    @Test func cr0Upper() {
        let failure = broken { $0.write(VMCB.cr0, 0x1_8001_0033) }
        #expect(failure?.check == .cr0UpperBits)
        #expect(failure?.message.description == "svm: VMRUN check failed: CR0[63:32] must be 0 (CR0 0x180010033)")
    }

    @Test("CR3 bits beyond the physical-address width in long mode")
    func cr3() {
        #expect(broken(width: 40) { $0.write(VMCB.cr3, 1 << 40 | 0x9000) }?.check == .cr3ReservedBits)
        #expect(broken(width: 48) { $0.write(VMCB.cr3, 1 << 40 | 0x9000) } == nil)
        #expect(broken(width: 52) { $0.write(VMCB.cr3, 1 << 52 | 0x9000) }?.check == .cr3ReservedBits)
    }

    @Test func cr4() {
        let failure = broken { $0.write(VMCB.cr4, 0x620 | 1 << 13) }  // VMXE: Intel's
        #expect(failure?.check == .cr4ReservedBits)
        #expect(failure?.message.description == "svm: VMRUN check failed: CR4 sets MBZ bits 0x2000 (CR4 0x2620)")
        #expect(broken { $0.write(VMCB.cr4, 0x620 | 1 << 40) }?.check == .cr4ReservedBits)
    }

    @Test func debugRegisters() {
        #expect(broken { $0.write(VMCB.dr6, 0x1_FFFF_0FF0) }?.check == .dr6UpperBits)
        #expect(broken { $0.write(VMCB.dr7, 0x1_0000_0400) }?.check == .dr7UpperBits)
    }

    @Test func eferReserved() {
        let failure = broken { $0.write(VMCB.efer, 0x1500 | 1 << 9) }
        #expect(failure?.check == .eferReservedBits)
        #expect(failure?.message.description == "svm: VMRUN check failed: EFER sets MBZ bits 0x200 (EFER 0x1700)")
        #expect(broken { $0.write(VMCB.efer, 0x1500 | 1 << 40) }?.check == .eferReservedBits)
    }

    @Test func longModeUnsupported() {
        #expect(broken(longMode: false) { _ in }?.check == .longModeUnsupported)
        #expect(check(validVMCB(real), longMode: false) == nil)
    }

    @Test func longModeWithoutPAE() {
        let failure = broken { $0.write(VMCB.cr4, 0x600) }
        #expect(failure?.check == .longModeWithoutPAE)
        #expect(failure?.message.description == "svm: VMRUN check failed: EFER.LME=1 and CR0.PG=1 need CR4.PAE=1 (CR4 0x600)")
    }

    @Test func longModeWithoutPE() {
        #expect(broken { $0.write(VMCB.cr0, 0x8001_0032) }?.check == .longModeWithoutProtection)
    }

    @Test func longModeCSLAndD() {
        let failure = broken { $0.write(VMCB.cs.attributes, 0x69B) }
        #expect(failure?.check == .longModeCSLAndD)
        #expect(failure?.message.description.contains("CS attributes 0x69b") == true)
        // Compatibility mode (L = 0, D = 1) is fine.
        #expect(broken { $0.write(VMCB.cs.attributes, 0xC9B) } == nil)
    }

    @Test func cetWithoutWP() {
        #expect(broken { $0.write(VMCB.cr0, 0x8000_0033) } == nil)
        #expect(broken { $0.write(VMCB.cr0, 0x8000_0033); $0.write(VMCB.cr4, 0x620 | 1 << 23) }?.check == .cetWithoutWriteProtect)
    }

    @Test func vmrunIntercept() {
        let failure = broken { $0.write(VMCB.interceptVector4, SVMInterceptVector4.vmmcall.rawValue) }
        #expect(failure?.check == .vmrunInterceptClear)
        #expect(failure?.message.description == "svm: VMRUN check failed: the VMRUN intercept (intercept vector 4 bit 0) must be set (vector 4 0x2)")
    }

    @Test("MSRPM (8 KiB) and IOPM (12 KiB) must end below 2^width; bits 11:0 are ignored")
    func permissionMaps() {
        // 40-bit width: the last byte must be below 0x100_0000_0000.
        #expect(broken(width: 40) { $0.write(VMCB.msrpmBasePA, 0xFF_FFFF_E000) } == nil)
        #expect(broken(width: 40) { $0.write(VMCB.msrpmBasePA, 0xFF_FFFF_F000) }?.check == .msrpmAddress)
        #expect(broken(width: 40) { $0.write(VMCB.msrpmBasePA, 0xFF_FFFF_EFFF) } == nil)
        #expect(broken(width: 40) { $0.write(VMCB.iopmBasePA, 0xFF_FFFF_D000) } == nil)
        let failure = broken(width: 40) { $0.write(VMCB.iopmBasePA, 0xFF_FFFF_E000) }
        #expect(failure?.check == .iopmAddress)
        #expect(failure?.message.description == "svm: VMRUN check failed: IOPM_BASE_PA 0xffffffe000: the 12 KiB map extends beyond the 40-bit physical-address width")
        #expect(broken { $0.write(VMCB.iopmBasePA, ~0) }?.check == .iopmAddress)
    }

    @Test("event injection: reserved types, reserved bits, exception vectors 2, >31 and #BR in 64-bit mode")
    func eventInjection() {
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.exception(14, errorCode: 0).rawValue) } == nil)
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.nmi.rawValue) } == nil)
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.interrupt(0x30).rawValue) } == nil)
        // Not valid: ignored whatever it holds.
        #expect(broken { $0.write(VMCB.eventInjection, 0x0000_0700) } == nil)
        let reservedType = broken { $0.write(VMCB.eventInjection, SVMEventInjection(vector: 0x20, type: SVMEventType(rawValue: 1)).rawValue) }
        #expect(reservedType?.check == .eventInjection)
        #expect(reservedType?.message.description == "svm: VMRUN check failed: EVENTINJ type 1 is reserved (EVENTINJ 0x80000120)")
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection(vector: 0x20, type: SVMEventType(rawValue: 6)).rawValue) }?.check == .eventInjection)
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.exception(2).rawValue) }?.check == .eventInjection)
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.exception(32).rawValue) }?.check == .eventInjection)
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.exception(5).rawValue) }?.check == .eventInjection)
        #expect(broken(real) { $0.write(VMCB.eventInjection, SVMEventInjection.exception(5).rawValue) } == nil)
        #expect(broken { $0.write(VMCB.eventInjection, SVMEventInjection.interrupt(0x20).rawValue | 1 << 12) }?.check == .eventInjection)
    }

    @Test func asidZero() {
        let failure = broken { $0.write(VMCB.guestASID, 0) }
        #expect(failure?.check == .asidZero)
        #expect(failure?.message.description == "svm: VMRUN check failed: guest ASID 0 is the host's")
    }

    @Test("nested paging: supported, N_CR3 within the width, G_PAT types")
    func nestedPaging() {
        #expect(broken(nestedPaging: false, np: true) { _ in }?.check == .nestedPagingUnsupported)
        #expect(broken(nestedPaging: false) { _ in } == nil)
        #expect(broken(width: 40, np: true) { $0.write(VMCB.nestedCR3, 1 << 40) }?.check == .nestedCR3ReservedBits)
        let pat = broken(np: true) { $0.write(VMCB.gPAT, 0x0007_0406_0007_0402) }
        #expect(pat?.check == .guestPAT)
        #expect(pat?.message.description.hasPrefix("svm: VMRUN check failed: G_PAT 0x7040600070402 holds a reserved memory type") == true)
        // G_PAT is not checked without nested paging.
        #expect(broken { $0.write(VMCB.gPAT, 0x0007_0406_0007_0402) } == nil)
    }

    @Test("the first failing check in the APM's order is reported")
    func order() {
        let failure = broken {
            $0.write(VMCB.guestASID, 0)
            $0.write(VMCB.efer, 0x500)
        }
        #expect(failure?.check == .eferSVME)
    }
}

@Suite("SVMError messages")
struct SVMErrorTests {
    @Test func messages() {
        let failure = VMRUNCheckFailure(.asidZero, 0)
        #expect(SVMError.entryCheckFailed(failure).message.description == "svm: VMRUN check failed: guest ASID 0 is the host's")
        #expect(SVMError.vmrunFailed(exitCode: ~0).message.description.contains("VMEXIT_INVALID, exit code 0xffffffffffffffff"))
        #expect(SVMError.vmrunFailed(exitCode: 0xFFFF_FFFF_FFFF_FFFE).message.description.contains("0xfffffffffffffffe"))
        #expect(SVMError.noPageForVMCB.message.description.contains("VMCB"))
        #expect(SVMError.noPageForHostSaveArea.message.description.contains("host save area"))
    }
}

/// The Multiboot start state converted for SVM passes VMRUN's checks.
@Test("the 32-bit protected-mode (Multiboot) start passes VMRUN's checks")
func protectedModeStartPassesVMRUNChecks() {
    let state = SVMGuestState(VMCSGuestState.protectedMode32(eip: 0x10_000C, esp: 0))
    #expect(state.cs.attributes.rawValue == 0xC9B && state.ds.attributes.rawValue == 0xC93)
    #expect(state.efer.rawValue == 0x1000 && state.cr0.rawValue == 0x11)  // SVME; PE ET
    #expect(check(validVMCB(state)) == nil)
    #expect(check(validVMCB(state, nestedPaging: true)) == nil)
}
