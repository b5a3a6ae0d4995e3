import Primitives
import VMXCore

/// The AMD-V counterparts of the MSR bitmap and the I/O bitmaps, filled
/// from the same policies, so that a guest can reach the same MSRs and
/// ports at speed under either vendor.
///
/// AMD APM Vol. 2, "MSR Intercepts" (15.11 in rev. 3.42): the MSR
/// permission map (MSRPM) is 8 KiB, two bits per MSR (the even bit
/// intercepts RDMSR, the odd bit WRMSR) for three ranges of 8 K MSRs:
/// 0000_0000h-0000_1FFFh at byte 0, C000_0000h-C000_1FFFh at 800h,
/// C001_0000h-C001_1FFFh at 1000h; 1800h-1FFFh are reserved. An MSR outside
/// the ranges always exits. "I/O Intercepts" (15.10.1 in rev. 3.42): the
/// I/O permission map (IOPM) is 12 KiB, one bit per port as in VT-x's
/// bitmaps A and B back to back; the third page holds the bits a
/// multi-byte access past port FFFFh checks.
public enum SVMPermissionMaps {
    public static let msrpmSize = 0x2000
    public static let iopmSize = 0x3000

    /// The MSR ranges of the map and the byte each starts at.
    static let msrRanges: [(first: UInt32, byte: Int)] = [
        (0x0000_0000, 0x0000), (0xC000_0000, 0x0800), (0xC001_0000, 0x1000),
    ]

    /// The MSRs the SVM backend itself handles, whatever the policy allows:
    /// EFER, whose SVME bit the guest must neither see nor clear (the VMCB's
    /// guest EFER needs it: AMD APM Vol. 2, "Canonicalization and
    /// Consistency Checks"), and IA32_PAT, which under nested paging is the
    /// VMCB's G_PAT, not the MSR (the MSR is the host's and walks the nested
    /// tables: "Nested Paging and PAT").
    public static let backendMSRs: [MSR] = [.efer, .pat]

    /// Byte and bit of `msr`'s read intercept (the write intercept is the
    /// next bit); nil for MSRs outside the map, which always exit.
    public static func readPosition(of msr: MSR) -> (byte: Int, bit: Int)? {
        for range in msrRanges where msr.rawValue >= range.first && msr.rawValue - range.first < 0x2000 {
            let index = Int(msr.rawValue - range.first)
            return (range.byte + index / 4, (index % 4) * 2)
        }
        return nil
    }

    /// Every bit set (exit) except the reads and writes `MSRPolicy`
    /// passes through on a CPU whose PAT is not switched by the hardware
    /// (see `backendMSRs`).
    public static func fillMSRPM(_ map: UnsafeMutableRawBufferPointer) {
        precondition(map.count >= msrpmSize, "the MSRPM is 8 KiB")
        for index in 0..<msrpmSize { map[index] = 0xFF }
        for range in msrRanges.prefix(2) {
            for number in range.first..<(range.first + 0x2000) {
                let msr = MSR(number)
                if backendMSRs.contains(msr) { continue }
                let access = MSRPolicy.passThrough(msr, patIsSwitched: false)
                if access.isEmpty { continue }
                guard let (byte, bit) = readPosition(of: msr) else { continue }
                if access.contains(.reads) { map[byte] &= ~(1 << UInt8(bit)) }
                if access.contains(.writes) { map[byte] &= ~(1 << UInt8(bit + 1)) }
            }
        }
    }

    /// The ports `policy` intercepts (as `fillIOBitmaps` sets them), and
    /// every bit of the third page (an access that wraps past FFFFh exits).
    public static func fillIOPM(_ map: UnsafeMutableRawBufferPointer, policy: IOPolicy) {
        precondition(map.count >= iopmSize, "the IOPM is 12 KiB")
        fillIOBitmaps(
            a: UnsafeMutableRawBufferPointer(rebasing: map[0..<0x1000]),
            b: UnsafeMutableRawBufferPointer(rebasing: map[0x1000..<0x2000]), policy: policy)
        for index in 0x2000..<iopmSize { map[index] = 0xFF }
    }
}
