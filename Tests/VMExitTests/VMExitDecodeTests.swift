import Testing
@testable import VMExit

/// Exit information with counted reads (each would be a VMREAD).
final class FakeExitInformation: ExitInformationSource {
    var reason: UInt32
    var qualification: UInt64
    var guestPhysical: UInt64
    var interruption: UInt32 = 0
    var errorCode: UInt32 = 0
    var linear: UInt64 = 0
    var rip: UInt64 = 0
    private(set) var reads: [String] = []

    init(reason: UInt32, qualification: UInt64 = 0, guestPhysical: UInt64 = 0) {
        self.reason = reason
        self.qualification = qualification
        self.guestPhysical = guestPhysical
    }

    func exitReason() -> UInt32 { reads.append("reason"); return reason }
    func exitQualification() -> UInt64 { reads.append("qualification"); return qualification }
    func guestPhysicalAddress() -> UInt64 { reads.append("gpa"); return guestPhysical }
    func interruptionInformation() -> UInt32 { reads.append("interruption"); return interruption }
    func interruptionErrorCode() -> UInt32 { reads.append("error code"); return errorCode }
    func guestLinearAddress() -> UInt64 { reads.append("linear"); return linear }
    func guestRIP() -> UInt64 { reads.append("rip"); return rip }
}

@Suite("VMExit decoding")
struct VMExitDecodeTests {
    @Test("CPUID, HLT, VMCALL, RDMSR, WRMSR, XSETBV read only the exit reason")
    func reasonOnly() {
        let cases: [(UInt32, VMExit)] = [(10, .cpuid), (12, .hlt), (18, .vmcall), (31, .rdmsr),
                                         (32, .wrmsr), (55, .xsetbv), (2, .tripleFault),
                                         (13, .invd), (54, .wbinvd)]
        for (reason, expected) in cases {
            let source = FakeExitInformation(reason: reason, qualification: 0xDEAD)
            #expect(VMExit.decode(source) == expected)
            #expect(source.reads == ["reason"])
        }
    }

    @Test("I/O and CR exits carry their decoded qualification")
    func withQualification() {
        let io = FakeExitInformation(reason: 30, qualification: 0x0604_0001)
        guard case .io(let access) = VMExit.decode(io) else { Issue.record("not .io"); return }
        #expect(access.port == 0x604 && access.size == 2 && access.isOut)
        #expect(io.reads == ["reason", "qualification"])

        let cr = FakeExitInformation(reason: 28, qualification: 0x104)
        #expect(VMExit.decode(cr) == .controlRegisterAccess(.init(rawValue: 0x104)))
    }

    @Test("EPT exits read the guest-physical address")
    func ept() {
        let violation = FakeExitInformation(reason: 48, qualification: 0x181, guestPhysical: 0xFEE0_0000)
        violation.linear = 0xFFFF_8000_FEE0_0000
        violation.rip = 0x10_0040
        #expect(VMExit.decode(violation) == .eptViolation(guestPhysicalAddress: 0xFEE0_0000, qualification: 0x181,
                                                          guestLinearAddress: 0xFFFF_8000_FEE0_0000, guestRIP: 0x10_0040))
        // Bit 7 clear: the linear address is not read.
        let noLinear = FakeExitInformation(reason: 48, qualification: 0x2, guestPhysical: 0x20_0000)
        #expect(VMExit.decode(noLinear) == .eptViolation(guestPhysicalAddress: 0x20_0000, qualification: 0x2,
                                                         guestLinearAddress: nil, guestRIP: 0))
        #expect(noLinear.reads == ["reason", "qualification", "gpa", "rip"])
        let misconfiguration = FakeExitInformation(reason: 49, guestPhysical: 0x1000)
        #expect(VMExit.decode(misconfiguration) == .eptMisconfiguration(guestPhysicalAddress: 0x1000))
        #expect(misconfiguration.reads == ["reason", "gpa"])
    }

    @Test("bit 31 makes any basic reason an entry failure")
    func entryFailure() {
        let raw: UInt32 = 0x8000_0021
        let decoded = VMExit.decode(FakeExitInformation(reason: raw))
        #expect(decoded == .entryFailure(RawExitReason(rawValue: raw), qualification: 0))
        #expect(decoded.reason == .entryFailureGuestState)
        // Even a (malformed) failure whose low bits say CPUID is not a CPUID exit.
        #expect(VMExit.decode(FakeExitInformation(reason: 0x8000_000A))
                == .entryFailure(RawExitReason(rawValue: 0x8000_000A), qualification: 0))
    }

    @Test("other reasons, known or not, are unhandled with their qualification")
    func unhandled() {
        #expect(VMExit.decode(FakeExitInformation(reason: 16, qualification: 7)) == .unhandled(.rdtsc, qualification: 7))
        #expect(VMExit.decode(FakeExitInformation(reason: 200)).reason == ExitReason(rawValue: 200))
    }
}
