import Testing
@testable import Devices

/// The MADT parser over synthetic tables (one thing wrong at a time) and
/// over the tables captured from QEMU and Bochs.
@Suite("MADT: the machine's processors")
struct MADTTests {
    static let fourCPUs = ACPIBuilder.madt(entries: [
        ACPIBuilder.localAPIC(uid: 0, apicID: 0),
        ACPIBuilder.localAPIC(uid: 1, apicID: 1),
        ACPIBuilder.localAPIC(uid: 2, apicID: 2, flags: 0),  // absent
        ACPIBuilder.localAPIC(uid: 3, apicID: 3, flags: 2),  // online capable, not enabled
        ACPIBuilder.ioAPIC(id: 4),
        ACPIBuilder.sourceOverride(irq: 0, gsi: 2),
        ACPIBuilder.localX2APIC(apicID: 0x100, uid: 0x100),
        ACPIBuilder.localAPICNMI,
    ])

    @Test("types 0 and 9 become processors with their flags; only enabled ones are usable")
    func processors() throws {
        let machine = SyntheticMachine.acpi2(madt: Self.fourCPUs)
        let rsdp = try RSDP.locate(in: machine.memory)
        let madt = try MADT.find(in: try rsdp.rootTable(in: machine.memory), memory: machine.memory)
        #expect(madt.localAPICAddress == 0xFEE0_0000 && madt.flags == 1)
        let processors = madt.processors(in: machine.memory)
        #expect(processors.map(\.apicID) == [0, 1, 2, 3, 0x100])
        #expect(processors.map(\.isUsable) == [true, true, false, false, true])
        #expect(processors[3].flags == .onlineCapable)
        #expect(processors[4] == MADTProcessor(apicID: 0x100, processorUID: 0x100, flags: .enabled, isX2APIC: true))
    }

    @Test("a CPU listed as both xAPIC and x2APIC appears once")
    func duplicateListing() throws {
        var machine = SyntheticMachine.acpi2(madt: ACPIBuilder.madt(entries: [
            ACPIBuilder.localAPIC(uid: 0, apicID: 0), ACPIBuilder.localX2APIC(apicID: 0, uid: 0),
        ]))
        let madt = try MADT(try .validate(at: SyntheticMachine.madtAddress, expecting: .madt, in: machine.memory), in: machine.memory)
        #expect(madt.processors(in: machine.memory).count == 1)
        machine.put(ACPIBuilder.madt(entries: []), at: SyntheticMachine.madtAddress)
        #expect(try MADT.find(in: RSDP.locate(in: machine.memory).rootTable(in: machine.memory), memory: machine.memory)
            .processors(in: machine.memory).isEmpty)
    }

    @Test("the Local APIC Address Override (type 5) replaces the 32-bit address")
    func addressOverride() throws {
        let override: [UInt8] = [5, 12, 0, 0] + ACPIBuilder.le(UInt64(0x1_FEE0_0000))
        let machine = SyntheticMachine.acpi2(madt: ACPIBuilder.madt(entries: [ACPIBuilder.localAPIC(uid: 0, apicID: 0), override]))
        let madt = try MADT(try .validate(at: SyntheticMachine.madtAddress, expecting: .madt, in: machine.memory), in: machine.memory)
        #expect(madt.localAPICAddress == 0x1_FEE0_0000)
    }

    @Test("a structure of length 0 or one running past the table is an error, not a loop")
    func malformed() throws {
        for bad: [UInt8] in [[0, 0, 0, 0], [0, 40, 0, 1, 1, 0, 0, 0]] {
            let machine = SyntheticMachine.acpi2(madt: ACPIBuilder.madt(entries: [ACPIBuilder.localAPIC(uid: 0, apicID: 0), bad]))
            let table = try SystemDescriptionTable.validate(at: SyntheticMachine.madtAddress, expecting: .madt, in: machine.memory)
            #expect(throws: ACPIError.malformedMADTEntry(address: SyntheticMachine.madtAddress + 52, type: 0, length: bad[1])) {
                try MADT(table, in: machine.memory)
            }
        }
    }

    @Test("no APIC table in the root: noMADT")
    func missing() throws {
        let machine = SyntheticMachine.acpi1()
        var memory = machine.memory
        memory.write(ACPIBuilder.rsdt(entries: [UInt32(SyntheticMachine.fadtAddress)]), at: SyntheticMachine.rsdtAddress)
        #expect(throws: ACPIError.noMADT(root: .rsdt, address: SyntheticMachine.rsdtAddress)) {
            try MADT.find(in: RSDP.locate(in: memory).rootTable(in: memory), memory: memory)
        }
    }

    @Test("captured tables: one enabled processor, APIC ID 0, LAPIC at 0xFEE00000",
          arguments: ["qemu-pc", "qemu-q35", "bochs"])
    func captured(machine: String) throws {
        let memory = SparseMemory(captured: machine == "qemu-pc" ? CapturedACPI.qemuPC
                                  : machine == "qemu-q35" ? CapturedACPI.qemuQ35 : CapturedACPI.bochs)
        let madt = try MADT.find(in: try RSDP.locate(in: memory).rootTable(in: memory), memory: memory)
        #expect(madt.localAPICAddress == 0xFEE0_0000)
        #expect(madt.processors(in: memory) == [MADTProcessor(apicID: 0, processorUID: 0, flags: .enabled, isX2APIC: false)])
    }
}

/// The guest's copy of the tables: valid checksums, the MADT filtered, the
/// other tables and MADT structures kept.
@Suite("Guest ACPI tables: the MADT lists only the guest's CPUs")
struct GuestACPITablesTests {
    static let base: UInt64 = 0x6E000

    static func check(_ memory: SparseMemory, _ copy: GuestACPITables, originalRSDP: RSDP, keptIDs: [UInt32]) throws {
        let rsdp = try RSDP.validate(at: copy.rsdpAddress, in: memory)
        #expect(rsdp.revision == originalRSDP.revision)
        let root = try rsdp.rootTable(in: memory)
        #expect(root.table.address >= base && root.table.address < base + copy.length)
        let originalRoot = try originalRSDP.rootTable(in: memory)
        #expect(root.entryCount == originalRoot.entryCount)
        let originalMADT = try MADT.find(in: originalRoot, memory: memory)
        for index in 0..<root.entryCount {
            let original = originalRoot.entry(index, in: memory)
            #expect(root.entry(index, in: memory) == (original == originalMADT.table.address ? copy.madtAddress : original))
        }
        let madt = try MADT.find(in: root, memory: memory)
        #expect(madt.table.address == copy.madtAddress)
        #expect(madt.processors(in: memory).map(\.apicID) == keptIDs)
        #expect(madt.localAPICAddress == originalMADT.localAPICAddress && madt.flags == originalMADT.flags)
        var others: [[UInt8]] = [], originalOthers: [[UInt8]] = []
        func bytes(_ address: UInt64, _ length: UInt8) -> [UInt8] {
            (0..<UInt64(length)).map { memory.load(UInt8.self, at: address + $0) }
        }
        madt.forEachEntry(in: memory) { address, type, length in
            if type != 0 && type != 9 { others.append(bytes(address, length)) }
        }
        originalMADT.forEachEntry(in: memory) { address, type, length in
            if type != 0 && type != 9 { originalOthers.append(bytes(address, length)) }
        }
        #expect(others == originalOthers)
        // The firmware's own tables are untouched.
        #expect(try RSDP.locate(in: memory) == originalRSDP)
        _ = try SystemDescriptionTable.validate(at: originalMADT.table.address, expecting: .madt, in: memory)
    }

    @Test("ACPI 2.0 (XSDT and RSDT): both copied, both point at the filtered MADT")
    func acpi2() throws {
        var machine = SyntheticMachine.acpi2(madt: MADTTests.fourCPUs)
        let rsdp = try RSDP.locate(in: machine.memory)
        let copy = try GuestACPITables.build(from: rsdp, at: Self.base, capacity: 4096, keeping: { $0 == 0 }, in: &machine.memory)
        #expect(copy.keptProcessors == 1 && copy.removedProcessors == 4)
        try Self.check(machine.memory, copy, originalRSDP: rsdp, keptIDs: [0])
        let copiedRSDP = try RSDP.validate(at: copy.rsdpAddress, in: machine.memory)
        let rsdt = try SystemDescriptionTable.validate(at: UInt64(copiedRSDP.rsdtAddress), expecting: .rsdt, in: machine.memory)
        #expect(RootTable(table: rsdt).find(.madt, in: machine.memory) == copy.madtAddress)
        #expect(RootTable(table: rsdt).find(.fadt, in: machine.memory) == SyntheticMachine.fadtAddress)
        #expect(copy.madtAddress + UInt64(try MADT.find(in: RootTable(table: rsdt), memory: machine.memory).table.length)
                == Self.base + copy.length)
        // The power-off path still works through the copy.
        #expect(try FADT.find(in: RootTable(table: rsdt), memory: machine.memory).pm1aControlPort == 0x604)
    }

    @Test("keeping another CPU (the x2APIC one)")
    func keepX2APIC() throws {
        var machine = SyntheticMachine.acpi2(madt: MADTTests.fourCPUs)
        let rsdp = try RSDP.locate(in: machine.memory)
        let copy = try GuestACPITables.build(from: rsdp, at: Self.base, capacity: 4096, keeping: { $0 == 0x100 }, in: &machine.memory)
        try Self.check(machine.memory, copy, originalRSDP: rsdp, keptIDs: [0x100])
    }

    @Test("too little room: guestCopyTooLarge, nothing written")
    func tooSmall() throws {
        var machine = SyntheticMachine.acpi2(madt: MADTTests.fourCPUs)
        let rsdp = try RSDP.locate(in: machine.memory)
        #expect(throws: ACPIError.self) {
            try GuestACPITables.build(from: rsdp, at: Self.base, capacity: 64, keeping: { _ in true }, in: &machine.memory)
        }
        #expect(machine.memory.load(UInt64.self, at: Self.base) == 0)
    }

    @Test("captured tables (ACPI 1.0, RSDT only): the BSP kept, checksums valid",
          arguments: ["qemu-pc", "qemu-q35", "bochs"])
    func captured(machine: String) throws {
        var memory = SparseMemory(captured: machine == "qemu-pc" ? CapturedACPI.qemuPC
                                  : machine == "qemu-q35" ? CapturedACPI.qemuQ35 : CapturedACPI.bochs)
        let rsdp = try RSDP.locate(in: memory)
        let copy = try GuestACPITables.build(from: rsdp, at: Self.base, capacity: 4096, keeping: { $0 == 0 }, in: &memory)
        #expect(copy.keptProcessors == 1 && copy.removedProcessors == 0)
        #expect(try RSDP.validate(at: copy.rsdpAddress, in: memory).xsdtAddress == 0)
        try Self.check(memory, copy, originalRSDP: rsdp, keptIDs: [0])
        #expect(try ACPIPowerOff.discover(in: memory).pm1aControlPort != 0)
    }

    @Test("a 2-CPU Bochs MADT (the captured one with APIC ID 1 added): only the BSP left")
    func bochsTwoCPUs() throws {
        var memory = SparseMemory(captured: CapturedACPI.bochs)
        let rsdp = try RSDP.locate(in: memory)
        let root = try rsdp.rootTable(in: memory)
        let original = try MADT.find(in: root, memory: memory)
        // Rebuild the captured MADT with a second processor, at the same place.
        var entries: [[UInt8]] = []
        original.forEachEntry(in: memory) { address, _, length in
            entries.append((0..<UInt64(length)).map { memory.load(UInt8.self, at: address + $0) })
        }
        entries.insert(ACPIBuilder.localAPIC(uid: 1, apicID: 1), at: 1)
        memory.write(ACPIBuilder.madt(entries: entries, revision: 1), at: original.table.address)
        #expect(try MADT.find(in: root, memory: memory).processors(in: memory).count == 2)
        let copy = try GuestACPITables.build(from: rsdp, at: Self.base, capacity: 4096, keeping: { $0 == 0 }, in: &memory)
        #expect(copy.removedProcessors == 1)
        try Self.check(memory, copy, originalRSDP: rsdp, keptIDs: [0])
    }
}
