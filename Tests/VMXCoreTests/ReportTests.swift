import Testing
@testable import VMXCore

extension VMXCapabilities {
    /// The report's lines as text.
    func reportLines() -> [String] {
        var lines: [String] = []
        report { lines.append($0.description) }
        return lines
    }
}

@Suite("Capability report")
struct ReportTests {
    @Test("Bochs corei7_skylake_x")
    func bochs() throws {
        let caps = try VMXCapabilities.read(BochsSkylakeX.msrs, cpuid: BochsSkylakeX.cpu)
        let lines = caps.reportLines()
        let summary = Array(lines.prefix(7))
        #expect(summary == [
            "vmx: revision 0x2b vmcs-size 4096 memory-type WB true-controls yes 32-bit-addresses no",
            "vmx: feature-control 0x5 locked yes vmx-outside-smx yes",
            "vmx: ept yes (4-level, WB, 2M yes, 1G yes, A/D yes, execute-only yes, invept single+all) vpid yes (invvpid address+single+all+single-globals) unrestricted-guest yes",
            "vmx: guest-instructions rdtscp yes invpcid yes xsaves yes",
            "vmx: preemption-timer yes (rate 2^0)",
            "vmx: activity-states hlt+shutdown+wait-for-sipi cr3-targets 4 msr-list-max 512 vmfunc 0x1",
            "vmx: cr0 fixed0=0x80000021 fixed1=0xffffffff cr4 fixed0=0x2000 fixed1=0x3727ff",
        ])
        let raw = Array(lines.dropFirst(7))
        #expect(raw.count == 19)
        #expect(raw.first == "vmx: msr 0x3a=0x0000000000000005")
        #expect(raw[1] == "vmx: msr 0x480=0x00d810000000002b")
        #expect(raw.last == "vmx: msr 0x491=0x0000000000000001")
    }

    @Test("the raw lines are a fixture: reading them back gives the same capabilities")
    func roundTrip() throws {
        let caps = try VMXCapabilities.read(BochsSkylakeX.msrs, cpuid: BochsSkylakeX.cpu)
        var table: [UInt32: UInt64] = [:]
        for line in caps.reportLines() where line.hasPrefix("vmx: msr 0x") {
            let body = line.dropFirst("vmx: msr 0x".count)
            let parts = body.split(separator: "=")
            let number = UInt32(parts[0], radix: 16)!
            let value = UInt64(parts[1].dropFirst(2), radix: 16)!
            table[number] = value
        }
        let again = try VMXCapabilities.read(FakeMSRs(table), cpuid: BochsSkylakeX.cpu)
        #expect(again == caps)
    }

    @Test("no secondary controls, no TRUE MSRs")
    func minimal() throws {
        let msrs = BochsSkylakeX.msrs.with([
            0x480: 0x0000_1000_0000_0004,  // rev 4, UC, no TRUE controls
            0x482: 0x7FF9_FFFE_0401_E172,
            0x481: 0x0000_003F_0000_0016,  // no preemption timer
            0x485: 0,
        ])
        let lines = try VMXCapabilities.read(msrs, cpuid: BochsSkylakeX.cpu).reportLines()
        #expect(lines[0] == "vmx: revision 0x4 vmcs-size 4096 memory-type UC true-controls no 32-bit-addresses no")
        #expect(lines[2] == "vmx: ept no vpid no unrestricted-guest no")
        #expect(lines[3] == "vmx: guest-instructions rdtscp no invpcid no xsaves no")
        #expect(lines[4] == "vmx: preemption-timer no")
        #expect(lines[5] == "vmx: activity-states none cr3-targets 0 msr-list-max 512 vmfunc no")
        #expect(lines.count == 7 + 12)
    }
}
