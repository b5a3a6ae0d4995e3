import Testing
@testable import VMXCore

@Suite("VMXON and VMCS regions")
struct RegionTests {
    let basic = VMXBasic(rawValue: BochsSkylakeX.msrValues[0x480]!)

    @Test func layout() throws {
        let caps = try VMXCapabilities.read(BochsSkylakeX.msrs, cpuid: BochsSkylakeX.cpu)
        #expect(caps.vmxonRegion == VMXRegion(.vmxon, basic: basic))
        #expect(caps.vmxonRegion.size == 4096)
        #expect(caps.vmxonRegion.header == 0x2B)
        #expect(caps.vmcsRegion.header == 0x2B)
        #expect(VMXRegion(.shadowVMCS, basic: basic).header == 0x8000_002B)
        #expect(VMXRegion.alignment == 4096)
    }

    @Test("revision id is bits 30:0; bit 31 never reaches the header")
    func revisionMask() {
        let odd = VMXBasic(rawValue: 0x0000_1000_8000_0004)
        #expect(odd.revisionID == 4)
        #expect(VMXRegion(.vmxon, basic: odd).header == 4)
    }

    @Test("initialize: header little-endian, rest of the region zero, nothing beyond touched",
          arguments: [VMXRegion.Kind.vmxon, .vmcs, .shadowVMCS])
    func initialize(kind: VMXRegion.Kind) {
        let region = VMXRegion(kind, basic: basic)
        var bytes = [UInt8](repeating: 0xAA, count: 2 * 4096)
        bytes.withUnsafeMutableBytes { region.initialize($0.baseAddress!) }
        let top: UInt8 = kind == .shadowVMCS ? 0x80 : 0x00
        #expect(Array(bytes[0..<4]) == [0x2B, 0x00, 0x00, top])
        #expect(bytes[4..<4096].allSatisfy { $0 == 0 })
        #expect(bytes[4096...].allSatisfy { $0 == 0xAA })
    }

    @Test func placement() throws {
        let region = VMXRegion(.vmxon, basic: basic)
        try region.validate(address: 0x10_0000)
        try region.validate(address: 0x1_0000_0000)  // BASIC[48] = 0 on Bochs
        #expect(throws: VMXError.regionMisaligned(.vmxon, address: 0x10_0800)) { try region.validate(address: 0x10_0800) }
        #expect(throws: VMXError.regionAddressTooHigh(.vmxon, address: 0x10_0000_0000, addressBits: 36)) {
            try region.validate(address: 0x10_0000_0000, physicalAddressWidth: 36)
        }
        #expect(VMXError.regionMisaligned(.vmcs, address: 0x1001).message == "VMCS region at 0x1001 is not 4 KiB-aligned")
    }

    @Test("BASIC[48] = 1: regions must lie below 4 GiB")
    func thirtyTwoBitLimit() throws {
        let limited = VMXBasic(rawValue: BochsSkylakeX.msrValues[0x480]! | 1 << 48)
        let region = VMXRegion(.vmcs, basic: limited)
        #expect(region.limitsAddressesTo32Bits)
        try region.validate(address: 0xFFFF_F000)
        let error = VMXError.regionAddressTooHigh(.vmcs, address: 0x1_0000_0000, addressBits: 32)
        #expect(throws: error) { try region.validate(address: 0x1_0000_0000) }
        #expect(error.message == "VMCS region at 0x100000000 lies beyond the 32-bit physical-address limit")
    }
}
