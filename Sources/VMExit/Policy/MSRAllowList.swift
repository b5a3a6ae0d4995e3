import VMXCore

/// Which accesses to an MSR the bitmap lets through without an exit.
public struct MSRPassThrough: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// RDMSR does not exit.
    public static let reads = Self(rawValue: 1 << 0)
    /// WRMSR does not exit.
    public static let writes = Self(rawValue: 1 << 1)
    public static let both: Self = [.reads, .writes]
}

extension MSRPolicy {
    /// The allow-list: the MSRs a guest needs at speed and that cannot reach
    /// outside the guest. Every MSR not named here exits (to `handleRead` /
    /// `handleWrite`). What VM entry and exit switch: Intel SDM Vol. 3C,
    /// "Loading Host Control Registers, Debug Registers, MSRs" (28.5.1 in
    /// rev. 84) and "Saving MSRs" (28.4 in rev. 84).
    public static func passThrough(_ msr: MSR, patIsSwitched: Bool) -> MSRPassThrough {
        switch msr.rawValue {
        // IA32_TIME_STAMP_COUNTER, IA32_TSC_ADJUST: reads give what RDTSC
        // (not intercepted) gives. A write would move the host's TSC too
        // (no TSC offsetting): writes exit and are dropped.
        case MSR.timeStampCounter.rawValue, MSR.tscAdjust.rawValue:
            return .reads
        // IA32_SPEC_CTRL: speculation controls of this logical processor.
        // The host runs with the value its firmware left (0: nothing
        // requested); a guest value that stays in root mode only adds
        // restrictions (IBRS, STIBP, SSBD), so guests can use it at speed.
        case MSR.specCtrl.rawValue:
            return .both
        // IA32_PRED_CMD (IBPB), IA32_FLUSH_CMD (L1D flush): write-only
        // commands that flush predictor / L1D state; harmless to the host.
        case MSR.predCmd.rawValue, MSR.flushCmd.rawValue:
            return .writes
        // IA32_ARCH_CAPABILITIES: read-only enumeration of the CPU's
        // vulnerability fixes, which the guest needs to pick mitigations.
        case MSR.archCapabilities.rawValue:
            return .reads
        // IA32_SYSENTER_CS/ESP/EIP: saved for the guest and loaded from the
        // host-state area on every VM exit.
        case MSR.sysenterCS.rawValue...MSR.sysenterEIP.rawValue:
            return .both
        // IA32_DEBUGCTL: VM exit clears it for the host (and saves the
        // guest's with "save debug controls"); BTS would write to DS_AREA,
        // which the guest cannot set (#GP) and CPUID hides.
        case MSR.debugControl.rawValue:
            return .both
        // IA32_PAT: only when VM entry/exit load and save it (then it is
        // the guest's alone); else emulated.
        case MSR.pat.rawValue:
            return patIsSwitched ? .both : []
        // IA32_TSC_DEADLINE: the guest's own local APIC timer (the xAPIC
        // page is the guest's); Linux arms it on every timer tick.
        case MSR.tscDeadline.rawValue:
            return .both
        // IA32_EFER: loaded and saved by VM entry/exit (the VMCS controls
        // request "load/save IA32_EFER").
        case MSR.efer.rawValue:
            return .both
        // IA32_STAR/LSTAR/CSTAR/FMASK: SYSCALL targets, not switched; the
        // host never executes SYSCALL, so the guest's values are the
        // guest's only.
        case MSR.star.rawValue...MSR.fmask.rawValue:
            return .both
        // IA32_FS_BASE, IA32_GS_BASE: guest and host FS/GS base are switched
        // by VM entry/exit.
        case MSR.fsBase.rawValue, MSR.gsBase.rawValue:
            return .both
        // IA32_KERNEL_GS_BASE: not switched; the host never executes SWAPGS.
        // IA32_TSC_AUX: not switched; the host never executes RDTSCP/RDPID.
        case MSR.kernelGSBase.rawValue, MSR.tscAux.rawValue:
            return .both
        default:
            return []
        }
    }
}

/// Byte offsets of the four 1 KiB quarters of the 4 KiB MSR bitmap.
///
/// Intel SDM Vol. 3C, "MSR-Bitmap Address" (25.6.9 in rev. 84)
public enum MSRBitmapLayout {
    public static let size = 4096
    /// Reads of MSRs 0x00000000-0x00001FFF.
    public static let readLow = 0x000
    /// Reads of MSRs 0xC0000000-0xC0001FFF.
    public static let readHigh = 0x400
    /// Writes of MSRs 0x00000000-0x00001FFF.
    public static let writeLow = 0x800
    /// Writes of MSRs 0xC0000000-0xC0001FFF.
    public static let writeHigh = 0xC00
    /// The two MSR ranges the bitmap covers (all others always exit).
    public static let lowRange: ClosedRange<UInt32> = 0x0000_0000...0x0000_1FFF
    public static let highRange: ClosedRange<UInt32> = 0xC000_0000...0xC000_1FFF

    /// Byte offset and bit of `msr` in the read quarter (add 0x800 for the
    /// write quarter); nil for MSRs outside the bitmap's ranges.
    public static func readPosition(of msr: MSR) -> (byte: Int, bit: Int)? {
        let number = msr.rawValue
        let base: Int
        let index: UInt32
        if lowRange.contains(number) {
            base = readLow; index = number
        } else if highRange.contains(number) {
            base = readHigh; index = number - highRange.lowerBound
        } else {
            return nil
        }
        return (base + Int(index / 8), Int(index % 8))
    }
}

/// Fills a 4 KiB MSR bitmap: every bit set (exit) except the reads and
/// writes `MSRPolicy.passThrough` allows.
public func fillMSRBitmap(_ bitmap: UnsafeMutableRawBufferPointer, patIsSwitched: Bool) {
    precondition(bitmap.count >= MSRBitmapLayout.size, "the MSR bitmap is 4 KiB")
    for index in 0..<MSRBitmapLayout.size { bitmap[index] = 0xFF }
    func allow(_ range: ClosedRange<UInt32>) {
        for number in range {
            let access = MSRPolicy.passThrough(MSR(number), patIsSwitched: patIsSwitched)
            if access.isEmpty { continue }
            guard let (byte, bit) = MSRBitmapLayout.readPosition(of: MSR(number)) else { continue }
            if access.contains(.reads) { bitmap[byte] &= ~(1 << UInt8(bit)) }
            if access.contains(.writes) { bitmap[byte + MSRBitmapLayout.writeLow] &= ~(1 << UInt8(bit)) }
        }
    }
    allow(MSRBitmapLayout.lowRange)
    allow(MSRBitmapLayout.highRange)
}
