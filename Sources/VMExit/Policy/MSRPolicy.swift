import VMXCore

/// RDMSR/WRMSR as Guest/README.md ("MSRs") defines them. Only what the MSR
/// bitmap intercepts, and the MSRs outside the bitmap's ranges (those always
/// exit), reach here:
///
/// - IA32_FEATURE_CONTROL (0x3A): reads 1 (locked, VMX off); writes #GP(0).
/// - The VMX capability MSRs 0x480-0x491: #GP(0) both ways (the guest's CPU
///   has no VMX).
/// - Outside 0x0-0x1FFF and 0xC0000000-0xC0001FFF: #GP(0).
/// - Anything else exited although the bitmap passes it through: stop the
///   guest (`unexpectedMSRAccess`), never guess.
public enum MSRPolicy {
    /// What RDMSR of IA32_FEATURE_CONTROL returns: bit 0 (lock) only.
    public static let featureControlValue: UInt64 = 0x1
    /// The VMX capability MSRs hidden from the guest.
    public static let vmxCapabilityMSRs: ClosedRange<UInt32> = 0x480...0x491

    /// True for the MSRs this policy intercepts in the bitmap.
    public static func isOwned(_ msr: MSR) -> Bool {
        msr == .featureControl || vmxCapabilityMSRs.contains(msr.rawValue)
    }

    /// True for the MSRs the bitmap covers (the others always exit).
    public static func isInBitmapRange(_ msr: MSR) -> Bool {
        msr.rawValue <= 0x1FFF || (msr.rawValue >= 0xC000_0000 && msr.rawValue <= 0xC000_1FFF)
    }

    /// RDMSR: EAX:EDX set (bits 63:32 cleared) and advance, or #GP(0).
    public static func handleRead(_ msr: MSR, registers: inout GuestRegisters) -> ExitAction {
        if msr == .featureControl {
            registers.rax = featureControlValue & 0xFFFF_FFFF
            registers.rdx = featureControlValue >> 32
            return .advance
        }
        if vmxCapabilityMSRs.contains(msr.rawValue) || !isInBitmapRange(msr) {
            return .generalProtectionFault
        }
        return .stopGuest(.unexpectedMSRAccess(msr, isWrite: false))
    }

    /// WRMSR: #GP(0) for every MSR the policy owns or the CPU lacks.
    public static func handleWrite(_ msr: MSR, value: UInt64) -> ExitAction {
        if isOwned(msr) || !isInBitmapRange(msr) {
            return .generalProtectionFault
        }
        return .stopGuest(.unexpectedMSRAccess(msr, isWrite: true))
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

    /// Byte offset and bit of `msr` in the read quarter (add 0x800 for the
    /// write quarter); nil for MSRs outside the bitmap's ranges.
    public static func readPosition(of msr: MSR) -> (byte: Int, bit: Int)? {
        let number = msr.rawValue
        let base: Int
        let index: UInt32
        if number <= 0x1FFF {
            base = readLow; index = number
        } else if number >= 0xC000_0000 && number <= 0xC000_1FFF {
            base = readHigh; index = number - 0xC000_0000
        } else {
            return nil
        }
        return (base + Int(index / 8), Int(index % 8))
    }
}

/// Fills a 4 KiB MSR bitmap: zero (no exits) except reads and writes of the
/// MSRs `MSRPolicy` owns (0x3A and 0x480-0x491).
public func fillMSRBitmap(_ bitmap: UnsafeMutableRawBufferPointer) {
    precondition(bitmap.count >= MSRBitmapLayout.size, "the MSR bitmap is 4 KiB")
    for index in 0..<MSRBitmapLayout.size { bitmap[index] = 0 }
    func intercept(_ number: UInt32) {
        guard let (byte, bit) = MSRBitmapLayout.readPosition(of: MSR(number)) else { return }
        bitmap[byte] |= 1 << UInt8(bit)
        bitmap[byte + MSRBitmapLayout.writeLow] |= 1 << UInt8(bit)
    }
    intercept(MSR.featureControl.rawValue)
    for number in MSRPolicy.vmxCapabilityMSRs { intercept(number) }
}
