import EPT
import Primitives
import Testing
@testable import VMExit

/// Guest page tables written by hand, entry by entry, as the manuals
/// define them, and translated the way the SVM backend fetches an
/// instruction that exited.
@Suite("Guest paging: translation for instruction fetch")
struct GuestPagingTests {
    let memory = FakeGuestMemory(size: 0x40_0000, hidden: PhysicalRange(start: 0x30_0000, end: 0x31_0000))

    func store64(_ value: UInt64, at address: Int) {
        memory.bytes.storeBytes(of: value.littleEndian, toByteOffset: address, as: UInt64.self)
    }
    func store32(_ value: UInt32, at address: Int) {
        memory.bytes.storeBytes(of: value.littleEndian, toByteOffset: address, as: UInt32.self)
    }

    @Test func pagingOffIsIdentity() {
        let paging = GuestPaging(cr0: 0x10, cr3: 0, cr4: 0, efer: 0)
        #expect(paging.translate(0x1_2345, memory: memory) == 0x1_2345)
    }

    @Test func fourLevelWith4KiBAnd2MiBPages() {
        // Kernel-style address 0xFFFF_FFFF_8100_0123: PML4 511, PDPT 510, PD 8, PT 0.
        let linear: UInt64 = 0xFFFF_FFFF_8100_0123
        store64(0x2000 | 3, at: 0x1000 + 511 * 8)
        store64(0x3000 | 3, at: 0x2000 + 510 * 8)
        store64(0x4000 | 3, at: 0x3000 + 8 * 8)
        store64(0x15_6000 | 3, at: 0x4000 + 0 * 8)
        let paging = GuestPaging(cr0: 0x8000_0011, cr3: 0x1000, cr4: 0x20, efer: 0x500)
        #expect(paging.translate(linear, memory: memory) == 0x15_6123)
        // A 2 MiB page at PD 9: bits 20:0 come from the address.
        store64(0x20_0000 | 0x83, at: 0x3000 + 9 * 8)
        #expect(paging.translate(0xFFFF_FFFF_8121_2345, memory: memory) == 0x21_2345)
        // Not present below: nil.
        #expect(paging.translate(0xFFFF_FFFF_8140_0000, memory: memory) == nil)
        // A table in the hidden range is never read.
        store64(0x30_0000 | 3, at: 0x3000 + 10 * 8)
        #expect(paging.translate(0xFFFF_FFFF_8140_0000 + 0x20_0000, memory: memory) == nil)
    }

    @Test func thirtyTwoBitAndPAE() {
        // 32-bit paging, a 4 KiB page: PDE 1 -> PT at 0x5000, PTE 2 -> 0x7_7000.
        store32(0x5000 | 3, at: 0x1000 + 1 * 4)
        store32(0x7_7000 | 3, at: 0x5000 + 2 * 4)
        let flat = GuestPaging(cr0: 0x8000_0001, cr3: 0x1000, cr4: 0, efer: 0)
        #expect(flat.translate(0x0040_2ABC, memory: memory) == 0x7_7ABC)
        // With CR4.PSE a 4 MiB PDE maps directly.
        store32(0x0000_0000 | 0x83, at: 0x1000 + 0 * 4)
        let pse = GuestPaging(cr0: 0x8000_0001, cr3: 0x1000, cr4: 0x10, efer: 0)
        #expect(pse.translate(0x0012_3456, memory: memory) == 0x12_3456)
        // PAE: PDPTE 0 -> PD 0x6000, PDE 0 -> PT 0x8000, PTE 3 -> 0x9000.
        store64(0x6000 | 1, at: 0xA000)
        store64(0x8000 | 3, at: 0x6000)
        store64(0x9000 | 3, at: 0x8000 + 3 * 8)
        let pae = GuestPaging(cr0: 0x8000_0001, cr3: 0xA000, cr4: 0x20, efer: 0)
        #expect(pae.translate(0x3456, memory: memory) == 0x9456)
    }

    @Test func fetchCrossesIntoAnUnmappedPage() {
        store64(0x2000 | 3, at: 0x1000)
        store64(0x3000 | 3, at: 0x2000)
        store64(0x4000 | 3, at: 0x3000)
        store64(0x10_0000 | 3, at: 0x4000)  // linear page 0 only
        memory.bytes[0x10_0FFE] = 0x0F
        memory.bytes[0x10_0FFF] = 0xA2
        let paging = GuestPaging(cr0: 0x8000_0011, cr3: 0x1000, cr4: 0x20, efer: 0x500)
        var bytes = [UInt8](repeating: 0, count: 15)
        let count = bytes.withUnsafeMutableBytes { paging.fetch(0xFFE, into: $0, memory: memory) }
        #expect(count == 2)
        #expect(bytes[0] == 0x0F && bytes[1] == 0xA2)
    }
}

extension GuestPagingTests {
    @Test func fiveLevelPagingWithLA57() {
        // PML5 0 -> PML4 at 0x2000 -> PDPT 0x3000 -> PD 0x4000 (2 MiB page at 0x20_0000).
        store64(0x2000 | 3, at: 0x1000)
        store64(0x3000 | 3, at: 0x2000)
        store64(0x4000 | 3, at: 0x3000)
        store64(0x20_0000 | 0x83, at: 0x4000 + 1 * 8)
        let paging = GuestPaging(cr0: 0x8000_0011, cr3: 0x1000, cr4: 0x1020, efer: 0x500)
        #expect(paging.translate(0x21_2345, memory: memory) == 0x21_2345)
        // The same tables read as 4-level would take PML4 = 0x1000 and miss.
        let fourLevel = GuestPaging(cr0: 0x8000_0011, cr3: 0x1000, cr4: 0x20, efer: 0x500)
        #expect(fourLevel.translate(0x21_2345, memory: memory) != 0x21_2345)
    }
}
