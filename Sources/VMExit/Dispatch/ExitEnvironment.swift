import Primitives

/// What the handlers may touch besides the registers. Each is a protocol the
/// hypervisor conforms to once (over its VMCS, identity-mapped memory,
/// serial console) and tests conform to with a fake; `Dispatcher.handle` is
/// generic over them, so Embedded Swift specializes every call.

/// Guest-physical memory as a hypercall may read it.
public protocol GuestMemory {
    /// True when every byte of `[address, address + count)` is guest RAM and
    /// none is hypervisor memory (an overflowing range is not readable).
    func isReadable(at address: UInt64, count: UInt64) -> Bool
    /// Copies `buffer.count` bytes at guest-physical `address` into `buffer`.
    /// False, with `buffer` unspecified, when `isReadable` would be false.
    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool
}

/// Where the hypervisor's console bytes go (serial and screen): its own
/// text (`TextOutput.write`) and the guest's.
///
/// Two streams: the hypervisor's own text (`write`), which also reaches the
/// verdict channel no guest can write, and a guest's output stream
/// (`guestOutput`), which the console prefixes and escapes and keeps off
/// that channel. Guest bytes inside a hypervisor line (a check's name) go
/// through `write(escaping:)`.
public protocol HypervisorConsole: TextOutput {
    /// Bytes the guest sent to be printed (hypercall 1, port 0xE9).
    mutating func guestOutput(_ bytes: UnsafeRawBufferPointer)
}

extension HypervisorConsole {
    /// Guest-supplied bytes inside a hypervisor line, escaped
    /// (`GuestText.escape`): a newline cannot start a forged line.
    public mutating func write(escaping bytes: UnsafeRawBufferPointer) {
        GuestText.escape(bytes) { write($0) }
    }
}

/// Guest bytes made safe to print next to the hypervisor's lines.
public enum GuestText {
    /// Calls `body` with the runs of printable ASCII in `bytes` as they are
    /// and every other byte (control characters, newline included, bytes
    /// >= 0x7F, and the backslash itself) as the 4 bytes `\xNN`.
    public static func escape(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\\") else { continue }
            if index > start { body(UnsafeRawBufferPointer(rebasing: bytes[start..<index])) }
            let digits: StaticString = "0123456789abcdef"
            var escape: (UInt8, UInt8, UInt8, UInt8) = (
                UInt8(ascii: "\\"), UInt8(ascii: "x"),
                digits.utf8Start[Int(byte >> 4)], digits.utf8Start[Int(byte & 0xF)]
            )
            withUnsafeBytes(of: &escape) { body($0) }
            start = index + 1
        }
        if bytes.count > start { body(UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count])) }
    }
}

/// Counts the guest's checks (hypercall 2 and 5).
public protocol CheckRecorder {
    /// One check's outcome; `name` is valid during the call only.
    mutating func record(passed: Bool, name: UnsafeRawBufferPointer)
}

/// vCPU state a handler may need beyond the registers, read on demand (the
/// hypervisor: one or two VMREADs, only on the exits that ask: CPUID for
/// CR4, VMCALL for the CPL, HLT for RFLAGS).
public protocol GuestStateSource {
    /// The guest's current privilege level (VMX: guest SS.DPL, which the
    /// processor keeps equal to the CPL; 0 in real mode, 3 in virtual-8086
    /// mode).
    func guestCPL() -> UInt8
    /// The guest's RFLAGS.
    func guestRFLAGS() -> UInt64
    /// CR4 as the guest sees it: the read-shadow bits under the CR4
    /// guest/host mask, the guest CR4 elsewhere. CPUID reflects its OSXSAVE
    /// (leaf 1 ECX bit 27) and PKE (leaf 7 ECX bit 4 OSPKE).
    func guestVisibleCR4() -> UInt64
}
