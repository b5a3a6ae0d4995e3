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

/// Where the hypervisor's console bytes go (serial and screen).
public protocol HypervisorConsole {
    mutating func write(_ bytes: UnsafeRawBufferPointer)
}

extension HypervisorConsole {
    @inline(__always)
    public mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { write(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    public mutating func write(byte: UInt8) {
        withUnsafeBytes(of: byte) { write($0) }
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
