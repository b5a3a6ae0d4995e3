import Testing
import VMXCore
@testable import VMExit

/// A table of MSR values; unknown MSRs read 0. Records writes.
struct TableMSRs: MSRAccess {
    var values: [UInt32: UInt64] = [:]
    var writes: [(UInt32, UInt64)] = []
    func read(_ msr: MSR) -> UInt64 { values[msr.rawValue] ?? 0 }
    mutating func write(_ msr: MSR, _ value: UInt64) { writes.append((msr.rawValue, value)) }
}

/// Host MSR values in the shape of Bochs `corei7_skylake_x` under rombios:
/// APIC at 0xFEE00000 (BSP, enabled), 8 variable MTRRs with fixed ranges and
/// WC, MAXPHYADDR 40; RAM WB up to 512 MiB, the rest UC by default.
enum HostFixture {
    static let apicBase: UInt64 = 0xFEE0_0900
    static let mtrrcap: UInt64 = 0xD08  // SMRR (bit 11) + WC + FIX + VCNT 8
    static var msrs: TableMSRs {
        var t = TableMSRs()
        t.values[MSR.apicBase.rawValue] = apicBase
        t.values[MSR.biosSignID.rawValue] = 0x0000_0042_0000_0000
        t.values[MSR.miscEnable.rawValue] = 0x0085_0089
        t.values[MSR.pat.rawValue] = HostMSRs.resetPAT
        t.values[MSR.mtrrCapabilities.rawValue] = mtrrcap
        t.values[MSR.mtrrDefaultType.rawValue] = 0xC00  // E, FE, default UC
        t.values[0x250] = 0x0606_0606_0606_0606  // 0-512 KiB WB
        t.values[0x258] = 0x0606_0606_0606_0606  // 512-640 KiB WB
        t.values[0x259] = 0x0000_0000_0000_0000  // 640-768 KiB UC (VGA)
        for msr: UInt32 in 0x268...0x26F { t.values[msr] = 0x0505_0505_0505_0505 }  // BIOS WP
        t.values[0x200] = 0x0000_0000_0000_0006  // WB from 0
        t.values[0x201] = 0x0000_00FF_E000_0800  // 512 MiB, valid
        return t
    }
    static var cpu: TableCPU {
        var cpu = SkylakeX.cpu
        cpu.leaves[0x8000_0008 << 32] = CPUIDResult(eax: 0x3028, ebx: 0, ecx: 0, edx: 0)
        return cpu
    }
    static var host: HostMSRs {
        var msrs = msrs
        return HostMSRs(reading: &msrs, cpu: cpu)
    }
}

@Suite("MSR policy")
struct MSRPolicyTests {
    var policy = MSRPolicy(host: HostFixture.host)

    func read(_ number: UInt32) -> (ExitAction, UInt64) {
        var registers = GuestRegisters()
        registers.rax = .max; registers.rdx = .max
        let action = policy.handleRead(MSR(number), registers: &registers)
        return (action, registers.rdx << 32 | registers.rax)
    }

    @Test("host snapshot: IA32_BIOS_SIGN_ID read after writing 0 (and CPUID), MAXPHYADDR from 0x80000008")
    func snapshot() {
        var msrs = HostFixture.msrs
        let host = HostMSRs(reading: &msrs, cpu: HostFixture.cpu)
        #expect(msrs.writes.count == 1 && msrs.writes[0] == (0x8B, 0))
        #expect(host.biosSignID == 0x42_0000_0000 && host.physicalAddressWidth == 40)
        #expect(host.apicBase == HostFixture.apicBase && host.mtrrs.capabilities.variableRangeCount == 8)
    }

    @Test("IA32_FEATURE_CONTROL reads 1 (EDX:EAX = 0:1) and advances; writes #GP(0)")
    mutating func featureControl() {
        #expect(read(0x3A) == (.advance, 1))
        #expect(policy.handleWrite(.featureControl, value: 5) == .generalProtectionFault)
    }

    @Test("VMX capability MSRs 0x480-0x491 raise #GP(0) on read and write")
    mutating func vmxMSRs() {
        for number: UInt32 in 0x480...0x491 {
            var registers = GuestRegisters()
            #expect(policy.handleRead(MSR(number), registers: &registers) == .generalProtectionFault)
            #expect(policy.handleWrite(MSR(number), value: 0) == .generalProtectionFault)
            #expect(registers == GuestRegisters())
        }
    }

    @Test("MSRs outside the bitmap ranges raise #GP(0)")
    mutating func outOfRange() {
        for number: UInt32 in [0x2000, 0x4000_0000, 0xBFFF_FFFF, 0xC000_2000, 0xFFFF_FFFF] {
            #expect(read(number).0 == .generalProtectionFault)
            #expect(policy.handleWrite(MSR(number), value: 0) == .generalProtectionFault)
        }
    }

    @Test("an allow-listed access that exits anyway stops the guest")
    mutating func unexpected() {
        var registers = GuestRegisters()
        #expect(policy.handleRead(.efer, registers: &registers) == .stopGuest(.unexpectedMSRAccess(.efer, isWrite: false)))
        #expect(policy.handleWrite(.pat, value: 0) == .stopGuest(.unexpectedMSRAccess(.pat, isWrite: true)))
        #expect(policy.handleRead(.timeStampCounter, registers: &registers)
                == .stopGuest(.unexpectedMSRAccess(.timeStampCounter, isWrite: false)))
    }

    @Test("IA32_APIC_BASE: reads the host's; only a no-op write (BSP flag aside) is accepted")
    mutating func apicBase() {
        #expect(read(0x1B) == (.advance, HostFixture.apicBase))
        #expect(policy.handleWrite(.apicBase, value: HostFixture.apicBase) == .advance)
        #expect(policy.handleWrite(.apicBase, value: HostFixture.apicBase & ~0x100) == .advance)  // BSP ignored
        let refused: [UInt64] = [
            0xFED0_0900,                        // relocation
            HostFixture.apicBase | 1 << 10,     // x2APIC enable
            HostFixture.apicBase & ~(1 << 11),  // APIC disable
            HostFixture.apicBase | 1,           // reserved bit 0
            HostFixture.apicBase | 1 << 9,      // reserved bit 9
            HostFixture.apicBase | 1 << 40,     // above MAXPHYADDR (40)
        ]
        for value in refused { #expect(policy.handleWrite(.apicBase, value: value) == .generalProtectionFault) }
        #expect(read(0x1B).1 == HostFixture.apicBase)
    }

    @Test("microcode: 0x79 writes ignored, reads #GP; 0x8B reads the host revision, writes ignored")
    mutating func microcode() {
        #expect(policy.handleWrite(.biosUpdateTrigger, value: 0x1234_5000) == .advance)
        #expect(read(0x79).0 == .generalProtectionFault)
        #expect(policy.handleWrite(.biosSignID, value: 0) == .advance)
        #expect(read(0x8B) == (.advance, 0x42_0000_0000))
    }

    @Test("IA32_MISC_ENABLE reads the host's, writes ignored; TSC and TSC_ADJUST writes dropped")
    mutating func ignoredWrites() {
        #expect(read(0x1A0) == (.advance, 0x0085_0089))
        #expect(policy.handleWrite(.miscEnable, value: 1 << 34) == .advance)
        #expect(read(0x1A0) == (.advance, 0x0085_0089))
        #expect(policy.handleWrite(.timeStampCounter, value: 0) == .advance)
        #expect(policy.handleWrite(.tscAdjust, value: 0) == .advance)
    }

    @Test("MSR_PKG_CST_CONFIG_CONTROL (0xE2) and MSR_POWER_CTL (0x1FC) read 0, writes ignored")
    mutating func idleMSRs() {
        #expect(read(0xE2) == (.advance, 0) && read(0x1FC) == (.advance, 0))
        #expect(policy.handleWrite(.powerControl, value: 0x2) == .advance)
        #expect(policy.handleWrite(.packageCStateConfigControl, value: 0x8000) == .advance)
        #expect(read(0x1FC) == (.advance, 0))
    }

    @Test("IA32_XSS reads 0; only 0 may be written")
    mutating func xss() {
        #expect(read(0xDA0) == (.advance, 0))
        #expect(policy.handleWrite(.xss, value: 0) == .advance)
        #expect(policy.handleWrite(.xss, value: 1 << 8) == .generalProtectionFault)
    }

    @Test("perf, PT, DS, PEBS, power, thermal, MCE, x2APIC, SMRR MSRs raise #GP(0) both ways")
    mutating func denied() {
        let numbers: [UInt32] = [
            0xC1, 0x186, 0x309, 0x345, 0x38D, 0x38E, 0x38F, 0x390, 0x3F1, 0x600,  // perf, PEBS, DS
            0x560, 0x570, 0x571, 0x57F,                                               // Intel PT
            0xCE, 0xE4, 0xE7, 0xE8, 0x198, 0x199, 0x19A, 0x19B, 0x19C, 0x1A2, 0x1AD, 0x1B0,
            0x606, 0x610, 0x611, 0x638, 0x770, 0x774,                                 // power, thermal
            0x179, 0x17A, 0x17B, 0x400, 0x401, 0x280,                                 // machine check
            0x800, 0x802, 0x830, 0x838, 0x8FF,                                        // x2APIC
            0x1F2, 0x1F3, 0x17, 0xCF, 0x33, 0xC8F, 0xD90,                             // SMRR, misc
        ]
        for number in numbers {
            #expect(read(number).0 == .generalProtectionFault, "RDMSR \(number)")
            #expect(policy.handleWrite(MSR(number), value: 0) == .generalProtectionFault, "WRMSR \(number)")
        }
    }

    @Test("emulated IA32_PAT (VMCS without PAT switching): validated, per guest, reset by startGuest")
    func emulatedPAT() {
        var policy = MSRPolicy(host: HostFixture.host, patIsSwitched: false)
        #expect(policy.passThrough(.pat) == [])
        var registers = GuestRegisters()
        #expect(policy.handleRead(.pat, registers: &registers) == .advance)
        #expect(registers.rax == 0x0007_0406 && registers.rdx == 0x0007_0406)
        #expect(policy.handleWrite(.pat, value: 0x0007_0106_0007_0406) == .advance)
        #expect(policy.pat == 0x0007_0106_0007_0406)
        for bad: UInt64 in [0x02, 0x03 << 8, 0x08 << 16, 0x10 << 56] {
            #expect(policy.handleWrite(.pat, value: bad) == .generalProtectionFault)
        }
        policy.startGuest()
        #expect(policy.pat == HostMSRs.resetPAT)
    }
}

@Suite("MTRRs")
struct MTRRTests {
    var policy = MSRPolicy(host: HostFixture.host)

    @Test("reads start from the host's; IA32_MTRRCAP hides SMRR and is read-only")
    mutating func reads() {
        var registers = GuestRegisters()
        #expect(policy.handleRead(.mtrrCapabilities, registers: &registers) == .advance)
        #expect(registers.rax == 0x508)
        #expect(policy.handleWrite(.mtrrCapabilities, value: 0x508) == .generalProtectionFault)
        #expect(policy.readValue(.mtrrDefaultType) == 0xC00)
        #expect(policy.readValue(MSR(0x201)) == 0xFF_E000_0800)
        #expect(policy.readValue(MSR(0x26F)) == 0x0505_0505_0505_0505)
        // PHYSBASE8 and beyond: VCNT is 8.
        #expect(policy.readValue(MSR(0x210)) == nil && policy.readValue(MSR(0x21F)) == nil)
        #expect(policy.readValue(MSR(0x251)) == nil)  // between the fixed MTRRs
    }

    @Test("the MTRR generation moves on every accepted write and on a new guest, never on a refused write")
    mutating func generation() {
        let start = policy.mtrrGeneration
        #expect(policy.handleWrite(.mtrrDefaultType, value: 0xC06) == .advance)
        #expect(policy.mtrrGeneration == start &+ 1)
        #expect(policy.handleWrite(.mtrrDefaultType, value: 0xC02) == .generalProtectionFault)  // type 2 is reserved
        #expect(policy.handleWrite(.mtrrCapabilities, value: 0) == .generalProtectionFault)
        #expect(policy.mtrrGeneration == start &+ 1)
        policy.startGuest()
        #expect(policy.mtrrGeneration == start &+ 2)
        #expect(policy.readValue(.mtrrDefaultType) == 0xC00)
    }

    @Test("writes are validated like the CPU and kept per guest; startGuest restores the host's")
    mutating func writes() {
        // Linux's prepare_set: MTRRs off, default UC.
        #expect(policy.handleWrite(.mtrrDefaultType, value: 0) == .advance)
        #expect(policy.mtrrs.memoryType(at: 0x1000) == .uncacheable)
        #expect(policy.handleWrite(.mtrrDefaultType, value: 0xC00) == .advance)
        #expect(policy.handleWrite(MSR(0x202), value: 0xC000_0001) == .advance)  // WC at 3 GiB
        #expect(policy.handleWrite(MSR(0x203), value: 0xFF_F000_0800) == .advance)
        #expect(policy.mtrrs.memoryType(at: 0xC000_0000) == .writeCombining)
        let invalid: [(UInt32, UInt64)] = [
            (0x2FF, 0xC02), (0x2FF, 0xC07), (0x2FF, 0x1C00), (0x2FF, 0xC00 | 1 << 9),  // type 2/7, bit 12, bit 9
            (0x200, 0x03), (0x200, 0x100 | 6), (0x200, 1 << 40 | 6),                    // type 3, bit 8, >= MAXPHYADDR
            (0x201, 0x400), (0x201, 1 << 40),                                            // bit 10, >= MAXPHYADDR
            (0x250, 0x0606_0606_0206_0606), (0x26F, 0x0808_0808_0808_0808),              // a byte of type 2, 8
            (0x210, 6),                                                                  // no 9th range
        ]
        for (number, value) in invalid {
            #expect(policy.handleWrite(MSR(number), value: value) == .generalProtectionFault, "\(number) \(value)")
        }
        policy.startGuest()
        #expect(policy.readValue(MSR(0x202)) == 0 && policy.readValue(.mtrrDefaultType) == 0xC00)
    }

    @Test("WC is refused when IA32_MTRRCAP.WC is 0, FE when FIX is 0")
    func capabilities() {
        var state = MTRRState(capabilities: MTRRCapabilities(rawValue: 0x8), physicalAddressWidth: 36)
        let wc = state.write(.mtrrDefaultType, value: 0x801)
        let fe = state.write(.mtrrDefaultType, value: 0xC06)
        let wb = state.write(.mtrrDefaultType, value: 0x806)
        let fixed = state.write(MSR(0x250), value: 0)
        #expect(!wc && !fe && wb && !fixed)
        #expect(state.read(MSR(0x250)) == nil)
    }

    @Test("memory type of a range: disabled, fixed below 1 MiB, variable, default, mixed")
    func memoryTypes() {
        let mtrrs = policy.mtrrs
        #expect(mtrrs.memoryType(ofAlignedRange: 0, size: 0x1000) == .writeBack)
        #expect(mtrrs.memoryType(ofAlignedRange: 0x8_0000, size: 0x2_0000) == .writeBack)
        #expect(mtrrs.memoryType(ofAlignedRange: 0xA_0000, size: 0x1_0000) == .uncacheable)
        #expect(mtrrs.memoryType(ofAlignedRange: 0xF_0000, size: 0x1_0000) == .writeProtected)
        // 0-1 MiB holds WB, UC and WP; 0-2 MiB too.
        #expect(mtrrs.memoryType(ofAlignedRange: 0, size: 0x10_0000) == nil)
        #expect(mtrrs.memoryType(ofAlignedRange: 0, size: 0x20_0000) == nil)
        #expect(mtrrs.memoryType(ofAlignedRange: 0x20_0000, size: 0x20_0000) == .writeBack)
        #expect(mtrrs.memoryType(ofAlignedRange: 0x1FE0_0000, size: 0x20_0000) == .writeBack)
        // Beyond 512 MiB: the default, UC.
        #expect(mtrrs.memoryType(ofAlignedRange: 0x2000_0000, size: 0x20_0000) == .uncacheable)
        #expect(mtrrs.memoryType(ofAlignedRange: 0xFEE0_0000, size: 0x1000) == .uncacheable)
        // A 1 GiB range that the 512 MiB WB range covers only half of.
        #expect(mtrrs.memoryType(ofAlignedRange: 0, size: 0x4000_0000) == nil)
        #expect(mtrrs.memoryType(at: 0x1234_5678) == .writeBack)
    }

    @Test("overlapping variable ranges: UC wins, WT over WB, other pairs UC; E = 0 is UC; FE = 0 ignores the fixed ranges")
    func precedence() {
        func state(_ ranges: [(UInt64, UInt64)], defaultType: UInt64 = 0xC06) -> MTRRState {
            var s = MTRRState(capabilities: MTRRCapabilities(rawValue: 0x508), physicalAddressWidth: 36)
            var accepted = s.write(.mtrrDefaultType, value: defaultType)
            for (index, (base, mask)) in ranges.enumerated() {
                accepted = s.write(MSR(0x200 + 2 * UInt32(index)), value: base) && accepted
                accepted = s.write(MSR(0x201 + 2 * UInt32(index)), value: mask) && accepted
            }
            #expect(accepted)
            return s
        }
        let gib: UInt64 = 0xF_C000_0800  // 1 GiB, valid
        #expect(state([(0x06, gib), (0x00, gib)]).memoryType(at: 0x1000_0000) == .uncacheable)
        #expect(state([(0x06, gib), (0x04, gib)]).memoryType(at: 0x1000_0000) == .writeThrough)
        #expect(state([(0x05, gib), (0x06, gib)]).memoryType(at: 0x1000_0000) == .uncacheable)
        #expect(state([(0x05, gib), (0x05, gib)]).memoryType(at: 0x1000_0000) == .writeProtected)
        #expect(state([(0x06, gib)]).memoryType(at: 0x4000_0000) == .writeBack)  // default WB
        #expect(state([(0x00, gib)], defaultType: 0x806).memoryType(at: 0xA_0000) == .uncacheable)
        #expect(state([], defaultType: 0x006).memoryType(at: 0x1000) == .uncacheable)  // E = 0
        // A range with a hole in its mask (non-contiguous): matches every other 4 KiB page.
        // Bit 12 tested, bit 13 not (above 1 MiB: the fixed ranges rule below it).
        let holey = state([(0x4000_0000, 0xF_FFFF_D800)])
        #expect(holey.memoryType(ofAlignedRange: 0x4000_0000, size: 0x1000) == .uncacheable)
        #expect(holey.memoryType(ofAlignedRange: 0x4000_1000, size: 0x1000) == .writeBack)
        #expect(holey.memoryType(ofAlignedRange: 0x4000_2000, size: 0x1000) == .uncacheable)
        #expect(holey.memoryType(ofAlignedRange: 0x4000_0000, size: 0x2000) == nil)
    }
}

@Suite("MSR bitmap")
struct MSRBitmapTests {
    /// The allow-list, spelled out: (MSR, reads pass, writes pass).
    static let allowList: [(UInt32, Bool, Bool)] = [
        (0x10, true, false), (0x3B, true, false),        // TSC, TSC_ADJUST
        (0x48, true, true), (0x49, false, true), (0x10B, false, true), (0x10A, true, false),
        (0x174, true, true), (0x175, true, true), (0x176, true, true),
        (0x1D9, true, true), (0x277, true, true), (0x6E0, true, true),
        (0xC000_0080, true, true), (0xC000_0081, true, true), (0xC000_0082, true, true),
        (0xC000_0083, true, true), (0xC000_0084, true, true), (0xC000_0100, true, true),
        (0xC000_0101, true, true), (0xC000_0102, true, true), (0xC000_0103, true, true),
    ]

    func filled(patIsSwitched: Bool = true) -> [UInt8] {
        var bitmap = [UInt8](repeating: 0, count: 4096)
        bitmap.withUnsafeMutableBytes { fillMSRBitmap($0, patIsSwitched: patIsSwitched) }
        return bitmap
    }

    func exits(_ bitmap: [UInt8], _ number: UInt32, write: Bool) -> Bool {
        let (byte, bit) = MSRBitmapLayout.readPosition(of: MSR(number))!
        return bitmap[byte + (write ? MSRBitmapLayout.writeLow : 0)] & (1 << UInt8(bit)) != 0
    }

    @Test("every allow-listed MSR passes through as listed; every other MSR of both ranges exits both ways")
    func wholeBitmap() {
        let bitmap = filled()
        var allowed: [UInt32: (Bool, Bool)] = [:]
        for (number, reads, writes) in Self.allowList { allowed[number] = (reads, writes) }
        var passes = 0
        for range in [MSRBitmapLayout.lowRange, MSRBitmapLayout.highRange] {
            for number in range {
                let (reads, writes) = allowed[number] ?? (false, false)
                #expect(exits(bitmap, number, write: false) == !reads, "RDMSR \(number)")
                #expect(exits(bitmap, number, write: true) == !writes, "WRMSR \(number)")
                passes += (reads ? 1 : 0) + (writes ? 1 : 0)
            }
        }
        let clearBits = bitmap.reduce(0) { $0 + (8 - $1.nonzeroBitCount) }
        #expect(clearBits == passes)
        #expect(MSRBitmapLayout.readPosition(of: .efer)! == (0x410, 0))
        #expect(MSRBitmapLayout.readPosition(of: MSR(0x2000)) == nil)
    }

    @Test("IA32_PAT exits both ways when the VMCS does not switch it")
    func patNotSwitched() {
        let bitmap = filled(patIsSwitched: false)
        #expect(exits(bitmap, 0x277, write: false) && exits(bitmap, 0x277, write: true))
        #expect(!exits(bitmap, 0xC000_0080, write: true))
    }

    @Test("the policy agrees with the bitmap: passed-through accesses never reach a handler's emulation")
    func policyAgrees() {
        let policy = MSRPolicy(host: HostFixture.host)
        for (number, reads, writes) in Self.allowList {
            #expect(policy.passThrough(MSR(number)).contains(.reads) == reads)
            #expect(policy.passThrough(MSR(number)).contains(.writes) == writes)
        }
    }
}
