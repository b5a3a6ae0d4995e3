import Devices
import EPT
import FuzzSupport
import Primitives
import VMExit

/// Guest RAM for the fuzzer: `bytes` at address 0, minus a hidden window
/// (the hypervisor's), as `GuestMemory` promises.
struct FuzzGuestRAM: GuestMemory {
    let bytes: UnsafeRawBufferPointer
    let hidden: PhysicalRange

    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        let (end, overflow) = address.addingReportingOverflow(count)
        guard count > 0, !overflow, end <= UInt64(bytes.count) else { return false }
        return !PhysicalRange(start: address, end: end).overlaps(hidden)
    }

    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard isReadable(at: address, count: UInt64(buffer.count)) else { return false }
        for index in 0..<buffer.count { buffer[index] = bytes[Int(address) + index] }
        return true
    }
}

/// What the SVM backend does with the values a guest controls at a
/// #VMEXIT (Sources/Hypervisor/SVMVCPU.swift): `SVMExit.decode` of the exit
/// fields, `ExitEvent.fromSVM` with the guest's registers, and, without
/// NRIPS, the next RIP from the bytes at RIP fetched through the guest's
/// own page tables (`GuestPaging`, `SVMNextRIP`, the MOV CR decoder).
///
/// Input: exit code selector (u16: low byte a code from the APM's table,
/// or the raw value), EXITINFO1, EXITINFO2, EXITINTINFO, RIP, nRIP (u64
/// each), flags (u8: NRIPS, 64-bit mode), the guest's 16 registers, CR0,
/// CR3, CR4, EFER; the rest is guest RAM from address 0 (its page tables
/// and code), with a hidden window at 0x2000-0x3000.
func fuzzSVMExit(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let selector = input.take(UInt16.self)
    let codes: [UInt64] = [0x72, 0x78, 0x76, 0x89, 0x81, 0x7C, 0x7B, 0x8D, 0x400, 0x7F, 0x61, 0x63, 0x80, 0x0, 0x14, 0x18, 0x4E, 0x6E, ~0, 0xFFFF_FFFF]
    let exitCode = selector & 0x8000 != 0 ? input.take(UInt64.self) : codes[Int(selector) % codes.count]
    let exitInfo1 = input.take(UInt64.self)
    let exitInfo2 = input.take(UInt64.self)
    let exitIntInfo = input.take(UInt64.self)
    let rip = input.take(UInt64.self)
    let nRIP = input.take(UInt64.self)
    let flags = input.take(UInt8.self)
    var registers = GuestRegisters()
    for index in UInt8(0)..<16 { registers[GeneralPurposeRegister(rawValue: index)] = input.take(UInt64.self) }
    let paging = GuestPaging(cr0: input.take(UInt64.self), cr3: input.take(UInt64.self),
                             cr4: input.take(UInt64.self), efer: input.take(UInt64.self))
    let ram = FuzzGuestRAM(bytes: input.takeRest(), hidden: PhysicalRange(start: 0x2000, end: 0x3000))

    let exit = SVMExit.decode(exitCode: exitCode, exitInfo1: exitInfo1, exitInfo2: exitInfo2,
                              exitIntInfo: exitIntInfo, guestRIP: rip)
    let event = ExitEvent.fromSVM(exit, registers: registers)
    _ = event.countingReason
    if UInt32(truncatingIfNeeded: exitCode) == UInt32.max {
        fuzzCheck({ if case .invalid = exit { true } else { false } }(), "VMEXIT_INVALID \(exitCode) decoded as \(exit)")
    }

    // The fetch: never more than asked, never a hidden byte.
    let is64BitMode = flags & 2 != 0
    var window = [UInt8](repeating: 0, count: 15)
    let count = window.withUnsafeMutableBytes { paging.fetch(rip, into: $0, memory: ram) }
    fuzzCheck(count >= 0 && count <= 15, "fetched \(count) bytes")
    if let physical = paging.translate(rip, memory: ram) {
        fuzzCheck(count == 0 || ram.isReadable(at: physical, count: 1), "translated to unreadable \(physical) yet fetched")
    }

    let hasNRIPS = flags & 1 != 0
    let outcome = window.withUnsafeBytes { bytes in
        Result { () throws(SVMNextRIPError) -> UInt64 in
            try SVMNextRIP.compute(for: exit, guestRIP: rip, nRIP: hasNRIPS ? nRIP : nil,
                                   instructionBytes: UnsafeRawBufferPointer(rebasing: bytes[0..<count]), is64BitMode: is64BitMode)
        }
    }
    let next: UInt64?
    switch outcome {
    case .success(let value): next = value
    case .failure(let error):
        _ = error.message
        next = nil
    }
    if let next, !hasNRIPS {
        if case .io(_, let ioNext) = exit {
            fuzzCheck(next == ioNext, "IOIO next RIP \(next) is not EXITINFO2 \(ioNext)")
        } else {
            // A decoded instruction: 1 to 15 bytes, all of them fetched.
            let length = (next &- rip) & (is64BitMode ? UInt64.max : 0xFFFF_FFFF)
            fuzzCheck(length >= 1 && length <= UInt64(count), "next RIP \(next) from RIP \(rip): length \(length), \(count) bytes fetched")
        }
    }
    window.withUnsafeBytes { bytes in
        let prefix = UnsafeRawBufferPointer(rebasing: bytes[0..<count])
        if let decoded = SVMInstruction.decodeMoveControlRegister(prefix, is64BitMode: is64BitMode) {
            fuzzCheck(decoded.length >= 3 && decoded.length <= count, "MOV CR length \(decoded.length) of \(count)")
        }
        if let instruction = SVMInstruction(exitCode: SVMExitCode(rawValue: exitCode)),
            let length = instruction.length(in: prefix, is64BitMode: is64BitMode) {
            fuzzCheck(length >= 1 && length <= min(count, SVMInstruction.maximumLength), "\(instruction) length \(length) of \(count)")
        }
        // The store to the local APIC page an SMP guest's write exits on
        // (VCPU+LocalAPIC.swift): the MOV decoder on the guest's bytes, in
        // every code size, and the ICR value it would write.
        for codeSize in [CodeSize.bits16, .bits32, .bits64] {
            if let store = try? MemoryStoreInstruction.decode(prefix, codeSize: codeSize) {
                fuzzCheck(store.length >= 2 && store.length <= min(count, SVMInstruction.maximumLength), "store length \(store.length) of \(count)")
            }
        }
        if count >= 8 {
            let command = InterruptCommand(low: prefix.loadUnaligned(as: UInt32.self), high: prefix.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            if case .signal(.startup(let vector), _) = command.route { fuzzCheck(vector == command.vector, "SIPI vector") }
        }
    }
    return 0
}
