import Testing
import VMXCore
@testable import VMExit

@Suite("CPUID policy and cache")
struct CPUIDPolicyTests {
    let cache = TestMachine.cache

    func answer(_ leaf: UInt32, _ subleaf: UInt32 = 0, cr4: UInt64 = 0, xcr0: UInt64 = 1) -> CPUIDResult {
        CPUIDPolicy.answer(leaf: leaf, subleaf: subleaf, table: cache, guestCR4: cr4, guestXCR0: xcr0)
    }

    @Test("leaf 1 on Bochs corei7_skylake_x: VMX, SMX, DTES64, DS-CPL, EST, TM2, PDCM, x2APIC and MCE, MCA, DS, ACPI, TM cleared, bit 31 set, the rest untouched")
    func leaf1() {
        let result = answer(1)
        #expect(result.eax == 0x0005_0654 && result.ebx == 0x0001_0800)
        // ECX 0x77FAF3BF less bits 2, 4, 5, 6, 7, 8, 15, 21, plus bit 31.
        #expect(result.ecx == 0xF7DA_720B)
        #expect(result.ecx & (1 << 5) == 0 && result.ecx & (1 << 15) == 0 && result.ecx & (1 << 31) != 0)
        // EDX 0xBFEBFBFF less bits 7, 14, 21, 22, 29.
        #expect(result.edx == 0x9F8B_BB7F)
        // OSXSAVE (bit 27) follows the guest's CR4.OSXSAVE (bit 18).
        #expect(answer(1, cr4: 1 << 18).ecx == 0xFFDA_720B)
    }

    @Test("what is not virtualized is hidden: PMU leaf 0xA, PT leaf 0x14, RDT 0xF/0x10, SGX 0x12 zero; leaf 6 only ARAT; leaf 7 PT, SGX, RDT, MPX, CORE_CAPABILITIES clear")
    func hiddenFeatures() {
        var cpu = SkylakeX.cpu
        func put(_ leaf: UInt32, _ r: CPUIDResult) { cpu.leaves[UInt64(leaf) << 32] = r }
        put(0x6, CPUIDResult(eax: 0x77, ebx: 2, ecx: 9, edx: 0))
        put(0x7, CPUIDResult(eax: 0, ebx: 0xD39F_FFFF, ecx: 0x8, edx: 0xFC00_0000))
        put(0xA, CPUIDResult(eax: 0x0730_8004, ebx: 0, ecx: 0, edx: 0x603))
        put(0x14, CPUIDResult(eax: 1, ebx: 0xF, ecx: 7, edx: 0))
        cpu.leaves[0xD << 32 | 1] = CPUIDResult(eax: 0xF, ebx: 0x3C0, ecx: 0x1900, edx: 0)
        let table = CPUIDCache(reading: cpu)
        func answer(_ leaf: UInt32) -> CPUIDResult {
            CPUIDPolicy.answer(leaf: leaf, subleaf: 0, table: table, guestCR4: 0, guestXCR0: 1)
        }
        let zero = CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
        for leaf: UInt32 in [0xA, 0xF, 0x10, 0x12, 0x14] { #expect(answer(leaf) == zero, "leaf \(leaf)") }
        #expect(answer(0x6) == CPUIDResult(eax: 0x4, ebx: 0, ecx: 0, edx: 0))
        let leaf7 = answer(0x7)
        let hidden: UInt32 = 0x0200_D004  // bits 2, 12, 14, 15, 25
        #expect(leaf7.ebx == 0xD39F_FFFF & ~hidden)
        #expect(leaf7.edx == 0xBC00_0000 && leaf7.ecx == 0x8)
        let xsave1 = CPUIDPolicy.answer(leaf: 0xD, subleaf: 1, table: table, guestCR4: 0, guestXCR0: 1)
        #expect(xsave1 == CPUIDResult(eax: 0xF, ebx: 0x3C0, ecx: 0, edx: 0))
    }

    @Test("AMD: leaf 0x80000001 ECX loses SVM, SKINIT and the counter extensions; the SVM leaf 0x8000000A and the SME/SEV leaf 0x8000001F are zero")
    func amdVirtualizationHidden() {
        var cpu = SkylakeX.cpu
        func put(_ leaf: UInt32, _ r: CPUIDResult) { cpu.leaves[UInt64(leaf) << 32] = r }
        // CPUID 0x80000001 and 0x8000000A of an AMD EPYC (Zen 2): ECX has
        // SVM (2), SKINIT (12), PerfCtrExtCore/NB (23, 24), PerfCtrExtLLC (28).
        put(0x8000_0000, CPUIDResult(eax: 0x8000_0022, ebx: 0x6874_7541, ecx: 0x444D_4163, edx: 0x6974_6E65))
        // SME and SEV (EAX bits 0, 1), C-bit 47 (EBX[5:0]).
        put(0x8000_001F, CPUIDResult(eax: 0x0001_000F, ebx: 0x0000_016F, ecx: 0x0000_01FD, edx: 1))
        put(0x8000_0001, CPUIDResult(eax: 0x0083_0F10, ebx: 0x4000_0000, ecx: 0x75C2_37FF, edx: 0x2FD3_FBFF))
        put(0x8000_000A, CPUIDResult(eax: 1, ebx: 0x8000, ecx: 0, edx: 0x0001_3BFF))
        let table = CPUIDCache(reading: cpu)
        let leaf = CPUIDPolicy.answer(leaf: 0x8000_0001, subleaf: 0, table: table, guestCR4: 0, guestXCR0: 1)
        #expect(leaf.ecx == 0x6442_27FB)
        #expect(leaf.eax == 0x0083_0F10 && leaf.edx == 0x2FD3_FBFF)
        #expect(CPUIDPolicy.answer(leaf: 0x8000_000A, subleaf: 0, table: table, guestCR4: 0, guestXCR0: 1)
            == CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0))
        #expect(table.lookup(leaf: 0x8000_001F, subleaf: 0).eax == 0x0001_000F, "the table has the real leaf")
        #expect(CPUIDPolicy.answer(leaf: 0x8000_001F, subleaf: 0, table: table, guestCR4: 0, guestXCR0: 1)
            == CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0))
        // The fast path answers the same.
        withUnsafePointer(to: table) { table in
            let quick = CPUIDPolicy.quickAnswer(leaf: 0x8000_0001, subleaf: 0, tableAt: table, guestCR4: 0, guestXCR0: 1)
            #expect(quick == nil || quick == leaf)
        }
    }

    @Test("0x40000000: max leaf 0x40000001 and \"pxHV\" x3; 0x40000001: ABI version 1")
    func hypervisorLeaves() {
        let signature = answer(0x4000_0000)
        #expect(signature.eax == 0x4000_0001)
        var bytes: [UInt8] = []
        for register in [signature.ebx, signature.ecx, signature.edx] {
            withUnsafeBytes(of: register.littleEndian) { bytes.append(contentsOf: $0) }
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "pxHVpxHVpxHV")
        #expect(answer(0x4000_0001) == CPUIDResult(eax: 1, ebx: 0, ecx: 0, edx: 0))
    }

    @Test("the handler writes 32-bit results (bits 63:32 cleared) and advances")
    func handler() {
        var registers = GuestRegisters()
        registers.rax = 0xFFFF_FFFF_FFFF_FFFF; registers.rbx = .max; registers.rcx = .max; registers.rdx = .max
        let action = CPUIDPolicy.handle(leaf: 0, subleaf: 0, table: cache, guestCR4: 0, guestXCR0: 1, registers: &registers)
        #expect(action == .advance)
        #expect(registers.rax == 0x16 && registers.rbx == 0x756E_6547 && registers.rdx == 0x4965_6E69
                && registers.rcx == 0x6C65_746E)
    }

    @Test("cache: basic and extended leaves, subleaves of 4, 7, 0xB, 0xD; no-subleaf leaves ignore ECX")
    func cacheContents() {
        #expect(cache.maximumBasicLeaf == 0x16 && cache.maximumExtendedLeaf == 0x8000_0008)
        #expect(!cache.isTruncated)
        // 23 basic, 3 more of leaf 4, 1 of 0xB, 1 + 7 of 0xD, 3 each of 0xF/0x10/0x12, 9 extended.
        #expect(cache.count == 23 + 3 + 1 + 8 + 9 + 9)
        #expect(cache.lookup(leaf: 4, subleaf: 3).eax == 0x1C03_C163)
        #expect(cache.lookup(leaf: 4, subleaf: 4) == CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0))
        #expect(cache.lookup(leaf: 0xD, subleaf: 7) == CPUIDResult(eax: 1024, ebx: 1664, ecx: 0, edx: 0))
        #expect(cache.lookup(leaf: 2, subleaf: 5) == cache.lookup(leaf: 2, subleaf: 0))
        // 0xB beyond the last level: level type 0, ECX[7:0] = subleaf.
        #expect(cache.lookup(leaf: 0xB, subleaf: 2) == CPUIDResult(eax: 0, ebx: 0, ecx: 2, edx: 0))
    }

    @Test("leaves beyond the maxima answer as the highest basic leaf (Intel rule)")
    func outOfRange() {
        let highest = cache.lookup(leaf: 0x16, subleaf: 0)
        #expect(highest.eax == 0x116)
        #expect(cache.lookup(leaf: 0x17, subleaf: 0) == highest)
        #expect(cache.lookup(leaf: 0x8000_0009, subleaf: 0) == highest)
        #expect(cache.lookup(leaf: 0x4000_0002, subleaf: 0) == highest)
        #expect(answer(0x4000_0002) == highest)
    }

    @Test("a CPU with more basic leaves than the cap reports the cap in leaf 0")
    func cap() {
        var cpu = SkylakeX.cpu
        cpu.leaves[0] = CPUIDResult(eax: 0x24, ebx: 0, ecx: 0, edx: 0)
        let capped = CPUIDCache(reading: cpu)
        #expect(capped.maximumBasicLeaf == CPUIDCache.basicLeafLimit)
        #expect(capped.lookup(leaf: 0, subleaf: 0).eax == 0x20)
    }

    @Test("leaf 0xD subleaf 0 EBX follows the guest's XCR0; leaf 7 OSPKE follows CR4.PKE")
    func dynamicFields() {
        #expect(answer(0xD, xcr0: 0x1).ebx == 576)
        #expect(answer(0xD, xcr0: 0x7).ebx == 576 + 256)
        #expect(answer(0xD, xcr0: 0xE7).ebx == 1664 + 1024)
        #expect(answer(0xD, xcr0: 0x2E7).ebx == 2688 + 8)
        #expect(answer(7).ecx == 0x8)
        #expect(answer(7, cr4: 1 << 22).ecx == 0x18)
    }
}
