import Testing
@testable import VMExit

@Suite("CR access and XSETBV policies")
struct ControlRegisterAndXSETBVTests {
    let policy = ControlRegisterPolicy()

    @Test("MOV to CR4 setting VMXE is refused with #GP(0); without it the value is the new guest view")
    func cr4() {
        #expect(policy.handleWrite(controlRegister: 4, value: 0x2020) == .inject(.generalProtection, errorCode: 0))
        #expect(policy.handleWrite(controlRegister: 4, value: 0x6F0) == .writeControlRegister(.move(to: 4, 0x6F0)))
        #expect(policy.handleWrite(controlRegister: 4, value: 1 << 32) == .generalProtectionFault)
        let strict = ControlRegisterPolicy(allowedCR4: 0x3727FF)
        #expect(strict.handleWrite(controlRegister: 4, value: 1 << 23) == .generalProtectionFault)
        #expect(ControlRegisterUpdate.move(to: 4, 0x6F0).applied(to: 0x20) == 0x6F0)
    }

    @Test("MOV to CR0: PG without PE, NW without CD and bits 63:32 fault; else written")
    func cr0() {
        #expect(policy.handleWrite(controlRegister: 0, value: 0x8000_0000) == .generalProtectionFault)
        #expect(policy.handleWrite(controlRegister: 0, value: 0x2000_0001) == .generalProtectionFault)
        #expect(policy.handleWrite(controlRegister: 0, value: 1 << 40 | 1) == .generalProtectionFault)
        #expect(policy.handleWrite(controlRegister: 0, value: 0x8000_0031) == .writeControlRegister(.move(to: 0, 0x8000_0031)))
        #expect(policy.handleWrite(controlRegister: 3, value: 0x7_0000) == .writeControlRegister(.move(to: 3, 0x7_0000)))
    }

    @Test("CLTS clears TS; LMSW loads bits 3:0 but never clears PE")
    func cltsAndLMSW() {
        guard case .writeControlRegister(let clts) = policy.handleCLTS() else { Issue.record("CLTS"); return }
        #expect(clts.applied(to: 0x8000_003B) == 0x8000_0033)
        guard case .writeControlRegister(let lmsw) = policy.handleLMSW(sourceData: 0xFFF0) else { Issue.record("LMSW"); return }
        #expect(lmsw.applied(to: 0x8000_003F) == 0x8000_0031)  // PE stays, MP/EM/TS cleared
        guard case .writeControlRegister(let setPE) = policy.handleLMSW(sourceData: 0x9) else { Issue.record("LMSW"); return }
        #expect(setPE.applied(to: 0x10) == 0x19)
    }

    @Test("MOV from CR3 reads the guest's CR3; other MOV from CR and MOV to CR8 stop the guest")
    func unhandled() {
        #expect(policy.handleRead(controlRegister: 3, destination: .rbx) == .readControlRegister(controlRegister: 3, destination: .rbx))
        #expect(policy.handleRead(controlRegister: 0, destination: .rax) == .stopGuest(.unhandledControlRegisterAccess(controlRegister: 0, isWrite: false)))
        #expect(policy.handleWrite(controlRegister: 8, value: 0) == .stopGuest(.unhandledControlRegisterAccess(controlRegister: 8, isWrite: true)))
    }

    @Test("XSETBV: valid XCR0 values execute; bad index, x87 clear, AVX without SSE, unsupported bits fault")
    func xsetbv() {
        let supported = SkylakeX.xcr0Supported
        for value: UInt64 in [0x1, 0x3, 0x7, 0x1F, 0xE7, 0x2FF] {
            #expect(XSETBVPolicy.handle(index: 0, value: value, supported: supported) == .executeXSETBV(index: 0, value: value))
        }
        #expect(XSETBVPolicy.handle(index: 1, value: 0x3, supported: supported) == .generalProtectionFault)
        for value: UInt64 in [0x0, 0x2, 0x5, 0x401, 0x8_0001,
                              0x9,    // BNDREGS without BNDCSR
                              0x27,   // opmask alone
                              0xE3] { // AVX-512 without AVX
            #expect(XSETBVPolicy.handle(index: 0, value: value, supported: supported) == .generalProtectionFault)
        }
        #expect(XSETBVPolicy.handle(index: 0, value: 0x7, supported: 0x3) == .generalProtectionFault)
    }
}
