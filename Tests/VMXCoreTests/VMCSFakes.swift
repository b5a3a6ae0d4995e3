@testable import VMXCore

/// An in-memory VMCS: a table of field values plus the ordered log of
/// writes. Writes keep only the bits the field's width holds (as VMWRITE
/// does); writing a field in `unsupported` fails like VMWRITE of a field the
/// processor lacks (VM-instruction error 12), a read-only field (type 1)
/// like error 13.
struct FakeVMCS: VMCSAccess {
    struct Write: Equatable {
        var encoding: UInt32
        var value: UInt64
    }

    var values: [UInt32: UInt64] = [:]
    var writes: [Write] = []
    var unsupported: Set<UInt32> = []

    func read(_ encoding: UInt32) -> UInt64 { values[encoding] ?? 0 }

    mutating func write(_ encoding: UInt32, _ value: UInt64) throws(VMXError) {
        if unsupported.contains(encoding) { throw .failValid(VMInstructionError(rawValue: 12)) }
        if VMCSFieldType(encoding: encoding) == .readOnlyData { throw .failValid(VMInstructionError(rawValue: 13)) }
        let width = VMCSFieldWidth(encoding: encoding).bitWidth
        let stored = width == 64 ? value : value & ((1 << UInt64(width)) - 1)
        values[encoding] = stored
        writes.append(Write(encoding: encoding, value: stored))
    }

    /// How many times each encoding was written.
    var writeCounts: [UInt32: Int] {
        var counts: [UInt32: Int] = [:]
        for write in writes { counts[write.encoding, default: 0] += 1 }
        return counts
    }
}

/// A sample configuration that passes every check with Bochs's capabilities.
enum SampleVMCS {
    static var capabilities: VMXCapabilities {
        get throws { try VMXCapabilities.read(BochsSkylakeX.msrs, cpuid: BochsSkylakeX.cpu) }
    }

    /// WB, 4-level walk, PML4 at 0x300000.
    static let eptPointer: UInt64 = 0x30_0000 | 6 | (3 << 3)

    static func policy(longMode: Bool) -> VMCSPolicy {
        VMCSPolicy(
            hltExiting: true, useMSRBitmap: true, msrBitmapAddress: 0x20_1000,
            useIOBitmaps: true, ioBitmapAAddress: 0x20_2000, ioBitmapBAddress: 0x20_3000,
            unrestrictedGuest: true, longModeGuest: longMode, eptPointer: eptPointer, vpid: 1)
    }

    static func controls(longMode: Bool) throws -> VMCSControls {
        try VMCSControls.make(capabilities: capabilities, policy: policy(longMode: longMode))
    }

    /// A 64-bit host as stage 2 leaves it: CS 0x08, data 0x10, TR 0x18.
    static var host: VMCSHostState {
        VMCSHostState(
            cr0: [.pe, .mp, .et, .ne, .wp, .pg], cr3: 0x20_4000, cr4: [.pae, .osfxsr, .osxmmexcpt, .vmxe],
            csSelector: 0x08, ssSelector: 0x10, dsSelector: 0x10, esSelector: 0x10,
            fsSelector: 0x10, gsSelector: 0x10, trSelector: 0x18,
            trBase: 0x20_5000, gdtrBase: 0x20_6000, idtrBase: 0x20_7000,
            efer: [.lme, .lma], rsp: 0x20_9000, rip: 0x21_0000)
    }

    /// The real-mode test guest (Guest/README.md), fixed bits applied.
    static var realModeGuest: VMCSGuestState {
        get throws {
            VMCSGuestState.realMode(cs: 0x1000, ip: 0, ss: 0x1000, sp: 0xFFF0)
                .applyingFixedBits(try capabilities, unrestrictedGuest: true)
        }
    }

    /// The 64-bit test guest (Guest/README.md), fixed bits applied.
    static var longModeGuest: VMCSGuestState {
        get throws {
            VMCSGuestState.longMode(rip: 0x10_0000, rsp: 0x1F_0000, cr3: 0x7_0000)
                .applyingFixedBits(try capabilities, unrestrictedGuest: true)
        }
    }
}
