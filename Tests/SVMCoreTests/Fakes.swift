@testable import SVMCore

/// A zeroed 4 KiB VMCB in test memory, freed with the object.
final class TestVMCB {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    var page: VMCBPage

    init() {
        page = VMCBPage(memory)
        page.zero()
    }

    deinit { memory.deallocate() }

    func byte(_ offset: Int) -> UInt8 { memory.load(fromByteOffset: offset, as: UInt8.self) }
    func u16(_ offset: Int) -> UInt16 { memory.load(fromByteOffset: offset, as: UInt16.self) }
    func u32(_ offset: Int) -> UInt32 { memory.load(fromByteOffset: offset, as: UInt32.self) }
    func u64(_ offset: Int) -> UInt64 { memory.load(fromByteOffset: offset, as: UInt64.self) }
}
