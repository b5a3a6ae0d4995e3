import Testing
import VMXCore
@testable import VMExit

@Suite("SVM MSR and I/O permission maps")
struct SVMPermissionMapsTests {
    /// Bit `n` of the map, read as the APM defines it: byte n / 8, bit n % 8.
    static func bit(_ map: [UInt8], _ n: Int) -> Bool { map[n / 8] & (1 << UInt8(n % 8)) != 0 }

    static func msrpm() -> [UInt8] {
        var map = [UInt8](repeating: 0, count: SVMPermissionMaps.msrpmSize)
        map.withUnsafeMutableBytes { SVMPermissionMaps.fillMSRPM($0) }
        return map
    }

    @Test func positionsFollowTheAPMTable() {
        // MSR 0: bits 0/1 of byte 0; MSR 0x1FFF: bits 6/7 of byte 7FFh.
        #expect(SVMPermissionMaps.readPosition(of: MSR(0))! == (0, 0))
        #expect(SVMPermissionMaps.readPosition(of: MSR(0x1FFF))! == (0x7FF, 6))
        #expect(SVMPermissionMaps.readPosition(of: MSR(0xC000_0080))! == (0x800 + 0x20, 0))
        #expect(SVMPermissionMaps.readPosition(of: MSR(0xC001_0114))! == (0x1000 + 0x45, 0))
        #expect(SVMPermissionMaps.readPosition(of: MSR(0x2000)) == nil)
        #expect(SVMPermissionMaps.readPosition(of: MSR(0xC000_2000)) == nil)
        #expect(SVMPermissionMaps.readPosition(of: MSR(0x4000_0000)) == nil)
    }

    @Test func passThroughMatchesThePolicyButEFERAndPATExit() {
        let map = Self.msrpm()
        func intercepts(_ number: UInt32) -> (read: Bool, write: Bool) {
            let n: Int
            switch number {
            case 0..<0x2000: n = Int(number) * 2
            case 0xC000_0000..<0xC000_2000: n = 0x800 * 8 + Int(number - 0xC000_0000) * 2
            default: n = 0x1000 * 8 + Int(number - 0xC001_0000) * 2
            }
            return (Self.bit(map, n), Self.bit(map, n + 1))
        }
        // FS base, LSTAR: the guest's (VMLOAD/VMSAVE switch them).
        #expect(intercepts(0xC000_0100) == (false, false))
        #expect(intercepts(0xC000_0082) == (false, false))
        // TSC: reads at speed, writes exit.
        #expect(intercepts(0x10) == (false, true))
        // EFER and PAT: the backend's, both ways.
        #expect(intercepts(0xC000_0080) == (true, true))
        #expect(intercepts(0x277) == (true, true))
        // IA32_FEATURE_CONTROL, the VMX capability MSRs, VM_CR, VM_HSAVE_PA: emulated or #GP.
        #expect(intercepts(0x3A) == (true, true))
        #expect(intercepts(0x480) == (true, true))
        #expect(intercepts(0xC001_0114) == (true, true))
        #expect(intercepts(0xC001_0117) == (true, true))
        // The reserved quarter is all ones.
        #expect(map[0x1800...].allSatisfy { $0 == 0xFF })
        // Nothing passes through that the policy does not allow.
        for number in UInt32(0)..<0x2000 {
            let access = MSRPolicy.passThrough(MSR(number), patIsSwitched: false)
            let (read, write) = intercepts(number)
            #expect(read == !access.contains(.reads), "MSR \(number) read")
            #expect(write == !access.contains(.writes), "MSR \(number) write")
        }
    }

    @Test func ioPermissionMapIsTheVMXBitmapsBackToBackAndAWrapPage() {
        let policy = IOPolicy(debugPort: IOPolicy.defaultDebugPort, pm1aControlPort: 0xB004, s5SleepType: 5)
        var iopm = [UInt8](repeating: 0, count: SVMPermissionMaps.iopmSize)
        iopm.withUnsafeMutableBytes { SVMPermissionMaps.fillIOPM($0, policy: policy) }
        var a = [UInt8](repeating: 0, count: 4096), b = a
        a.withUnsafeMutableBytes { a in b.withUnsafeMutableBytes { b in fillIOBitmaps(a: a, b: b, policy: policy) } }
        #expect(Array(iopm[0..<0x1000]) == a)
        #expect(Array(iopm[0x1000..<0x2000]) == b)
        #expect(iopm[0x2000...].allSatisfy { $0 == 0xFF })
        #expect(Self.bit(iopm, 0xB004) && Self.bit(iopm, 0xCF9) && Self.bit(iopm, 0xE9))
        #expect(!Self.bit(iopm, 0x3F8 + 5))
    }
}
