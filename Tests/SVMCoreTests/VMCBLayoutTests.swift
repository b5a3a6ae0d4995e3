import Foundation
import Testing
@testable import SVMCore

/// The VMCB layout as the manual gives it, typed from AMD APM Vol. 2,
/// Appendix B (rev. 3.42): Table B-1 "VMCB Layout, Control Area" (offsets
/// from the start of the VMCB) and Table B-2 "VMCB Layout, State Save Area"
/// (offsets from the start of the save area, 400h). Keyed by the Swift name
/// of the catalogue entry; `bytes` is the width the APM's bit range gives.
private let apmControlArea: [(name: String, offset: Int, bytes: Int)] = [
    ("interceptCRReads", 0x000, 2),  // 000h bits 15:0
    ("interceptCRWrites", 0x002, 2),  // 000h bits 31:16
    ("interceptDRReads", 0x004, 2),  // 004h bits 15:0
    ("interceptDRWrites", 0x006, 2),  // 004h bits 31:16
    ("interceptExceptions", 0x008, 4),  // 008h bits 31:0
    ("interceptVector3", 0x00C, 4),  // 00Ch bits 31:0 (INTR..SHUTDOWN)
    ("interceptVector4", 0x010, 4),  // 010h bits 31:0 (VMRUN..CR15 write trap)
    ("interceptVector5", 0x014, 4),  // 014h bits 31:0 (INVLPGB..)
    ("pauseFilterThreshold", 0x03C, 2),  // 03Ch bits 15:0
    ("pauseFilterCount", 0x03E, 2),  // 03Eh bits 15:0
    ("iopmBasePA", 0x040, 8),
    ("msrpmBasePA", 0x048, 8),
    ("tscOffset", 0x050, 8),
    ("guestASID", 0x058, 4),  // 058h bits 31:0
    ("tlbControl", 0x05C, 1),  // 058h bits 39:32
    ("virtualInterrupt", 0x060, 8),  // 060h V_TPR 7:0 ... V_INTR_VECTOR 39:32
    ("interruptShadow", 0x068, 8),  // 068h bit 0 INTERRUPT_SHADOW, bit 1 GUEST_INTERRUPT_MASK
    ("exitCode", 0x070, 8),
    ("exitInfo1", 0x078, 8),
    ("exitInfo2", 0x080, 8),
    ("exitInterruptInfo", 0x088, 8),
    ("nestedPagingControl", 0x090, 8),  // bit 0 NP_ENABLE
    ("avicAPICBar", 0x098, 8),
    ("ghcbPA", 0x0A0, 8),
    ("eventInjection", 0x0A8, 8),
    ("nestedCR3", 0x0B0, 8),
    ("virtualizationExtensions", 0x0B8, 8),  // bit 0 LBR_VIRTUALIZATION_ENABLE
    ("cleanBits", 0x0C0, 4),  // 0C0h bits 31:0
    ("nextRIP", 0x0C8, 8),
    ("bytesFetched", 0x0D0, 1),  // 0D0h bits 7:0
    ("avicBackingPage", 0x0E0, 8),
    ("avicLogicalTable", 0x0F0, 8),
    ("avicPhysicalTable", 0x0F8, 8),
    ("vmsaPointer", 0x108, 8),
]

private let apmStateSaveArea: [(name: String, offset: Int, bytes: Int)] = [
    ("cpl", 0x0CB, 1),
    ("efer", 0x0D0, 8),
    ("cr4", 0x148, 8),
    ("cr3", 0x150, 8),
    ("cr0", 0x158, 8),
    ("dr7", 0x160, 8),
    ("dr6", 0x168, 8),
    ("rflags", 0x170, 8),
    ("rip", 0x178, 8),
    ("rsp", 0x1D8, 8),
    ("rax", 0x1F8, 8),
    ("star", 0x200, 8),
    ("lstar", 0x208, 8),
    ("cstar", 0x210, 8),
    ("sfmask", 0x218, 8),
    ("kernelGSBase", 0x220, 8),
    ("sysenterCS", 0x228, 8),
    ("sysenterESP", 0x230, 8),
    ("sysenterEIP", 0x238, 8),
    ("cr2", 0x240, 8),
    ("gPAT", 0x268, 8),
    ("debugControl", 0x270, 8),
    ("branchFrom", 0x278, 8),
    ("branchTo", 0x280, 8),
    ("lastExceptionFrom", 0x288, 8),
    ("lastExceptionTo", 0x290, 8),
]

/// Table B-2's segments: ES at 000h, then CS, SS, DS, FS, GS, GDTR, LDTR,
/// IDTR, TR every 16 bytes; each selector (word), attrib (word), limit
/// (dword), base (qword).
private let apmSegments: [(name: String, offset: Int)] = [
    ("es", 0x000), ("cs", 0x010), ("ss", 0x020), ("ds", 0x030), ("fs", 0x040),
    ("gs", 0x050), ("gdtr", 0x060), ("ldtr", 0x070), ("idtr", 0x080), ("tr", 0x090),
]

/// The catalogue's fields, as the code has them (not parsed): name, offset, width.
private let codeFields: [(name: String, offset: Int, bytes: Int)] = {
    func row<V>(_ name: String, _ field: VMCBField<V>) -> (String, Int, Int) { (name, field.offset, field.byteCount) }
    return [
        row("interceptCRReads", VMCB.interceptCRReads), row("interceptCRWrites", VMCB.interceptCRWrites),
        row("interceptDRReads", VMCB.interceptDRReads), row("interceptDRWrites", VMCB.interceptDRWrites),
        row("interceptExceptions", VMCB.interceptExceptions), row("interceptVector3", VMCB.interceptVector3),
        row("interceptVector4", VMCB.interceptVector4), row("interceptVector5", VMCB.interceptVector5),
        row("pauseFilterThreshold", VMCB.pauseFilterThreshold), row("pauseFilterCount", VMCB.pauseFilterCount),
        row("iopmBasePA", VMCB.iopmBasePA), row("msrpmBasePA", VMCB.msrpmBasePA), row("tscOffset", VMCB.tscOffset),
        row("guestASID", VMCB.guestASID), row("tlbControl", VMCB.tlbControl),
        row("virtualInterrupt", VMCB.virtualInterrupt), row("interruptShadow", VMCB.interruptShadow),
        row("exitCode", VMCB.exitCode), row("exitInfo1", VMCB.exitInfo1), row("exitInfo2", VMCB.exitInfo2),
        row("exitInterruptInfo", VMCB.exitInterruptInfo), row("nestedPagingControl", VMCB.nestedPagingControl),
        row("avicAPICBar", VMCB.avicAPICBar), row("ghcbPA", VMCB.ghcbPA), row("eventInjection", VMCB.eventInjection),
        row("nestedCR3", VMCB.nestedCR3), row("virtualizationExtensions", VMCB.virtualizationExtensions),
        row("cleanBits", VMCB.cleanBits), row("nextRIP", VMCB.nextRIP), row("bytesFetched", VMCB.bytesFetched),
        row("avicBackingPage", VMCB.avicBackingPage), row("avicLogicalTable", VMCB.avicLogicalTable),
        row("avicPhysicalTable", VMCB.avicPhysicalTable), row("vmsaPointer", VMCB.vmsaPointer),
        row("cpl", VMCB.cpl), row("efer", VMCB.efer), row("cr4", VMCB.cr4), row("cr3", VMCB.cr3), row("cr0", VMCB.cr0),
        row("dr7", VMCB.dr7), row("dr6", VMCB.dr6), row("rflags", VMCB.rflags), row("rip", VMCB.rip), row("rsp", VMCB.rsp),
        row("rax", VMCB.rax), row("star", VMCB.star), row("lstar", VMCB.lstar), row("cstar", VMCB.cstar),
        row("sfmask", VMCB.sfmask), row("kernelGSBase", VMCB.kernelGSBase), row("sysenterCS", VMCB.sysenterCS),
        row("sysenterESP", VMCB.sysenterESP), row("sysenterEIP", VMCB.sysenterEIP), row("cr2", VMCB.cr2),
        row("gPAT", VMCB.gPAT), row("debugControl", VMCB.debugControl), row("branchFrom", VMCB.branchFrom),
        row("branchTo", VMCB.branchTo), row("lastExceptionFrom", VMCB.lastExceptionFrom),
        row("lastExceptionTo", VMCB.lastExceptionTo),
    ]
}()

private let codeSegments: [(name: String, field: VMCBSegmentField)] = [
    ("es", VMCB.es), ("cs", VMCB.cs), ("ss", VMCB.ss), ("ds", VMCB.ds), ("fs", VMCB.fs),
    ("gs", VMCB.gs), ("gdtr", VMCB.gdtr), ("ldtr", VMCB.ldtr), ("idtr", VMCB.idtr), ("tr", VMCB.tr),
]

@Suite("VMCB layout (AMD APM Vol. 2 Appendix B)")
struct VMCBLayoutTests {
    /// The declarations of `VMCB+Fields.swift`, read from the source:
    /// (Swift name, declared value type or "segment", offset).
    static func declarations() throws -> [(name: String, type: String, offset: Int)] {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/SVMCore/VMCB+Fields.swift")
        let text = try String(contentsOf: source, encoding: .utf8)
        var result: [(name: String, type: String, offset: Int)] = []
        for line in text.split(separator: "\n") where line.contains("= VMCBField<") || line.contains("= VMCBSegmentField(") {
            // public static let NAME = VMCBField<TYPE>(0xXXX, "...")
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let name = String(trimmed.split(separator: " ")[3])
            let type = trimmed.contains("VMCBSegmentField") ? "segment" : String(trimmed.split(separator: "<")[1].split(separator: ">")[0])
            let hex = trimmed.split(separator: "(")[1].split(separator: ",")[0].dropFirst(2)
            result.append((name, type, Int(hex, radix: 16)!))
        }
        return result
    }

    static let typeBytes = ["UInt8": 1, "UInt16": 2, "UInt32": 4, "UInt64": 8]

    /// Every APM row, with absolute offsets.
    static var apmRows: [(name: String, offset: Int, bytes: Int)] {
        apmControlArea + apmStateSaveArea.map { ($0.name, $0.offset + 0x400, $0.bytes) }
    }

    @Test("every declared field matches the APM table, and every APM row is declared")
    func declarationsMatchAPM() throws {
        let declared = try Self.declarations()
        let apm = Dictionary(uniqueKeysWithValues: Self.apmRows.map { ($0.name, ($0.offset, $0.bytes)) })
        let apmSegmentOffsets = Dictionary(uniqueKeysWithValues: apmSegments.map { ($0.name, $0.offset + 0x400) })
        #expect(declared.count == apm.count + apmSegmentOffsets.count)
        for field in declared {
            if field.type == "segment" {
                #expect(apmSegmentOffsets[field.name] == field.offset, "\(field.name)")
            } else {
                let row = try #require(apm[field.name], "\(field.name) is not in the APM table of the test")
                #expect(row.0 == field.offset, "\(field.name): offset 0x\(String(field.offset, radix: 16)), APM 0x\(String(row.0, radix: 16))")
                #expect(Self.typeBytes[field.type] == row.1, "\(field.name): \(field.type), APM \(row.1) bytes")
            }
        }
    }

    @Test("the catalogue's runtime values are the declarations (offset and width)")
    func codeMatchesDeclarations() throws {
        let declared = try Self.declarations().filter { $0.type != "segment" }
        #expect(codeFields.count == declared.count)
        for (code, source) in zip(codeFields, declared) {
            #expect(code.name == source.name)
            #expect(code.offset == source.offset, "\(code.name)")
            #expect(code.bytes == Self.typeBytes[source.type], "\(code.name)")
        }
        for (name, field) in codeSegments {
            let apm = try #require(apmSegments.first { $0.name == name })
            #expect(field.offset == apm.offset + 0x400, "\(name)")
            #expect(field.selector.offset == field.offset && field.selector.byteCount == 2)
            #expect(field.attributes.offset == field.offset + 2 && field.attributes.byteCount == 2)
            #expect(field.limit.offset == field.offset + 4 && field.limit.byteCount == 4)
            #expect(field.base.offset == field.offset + 8 && field.base.byteCount == 8)
        }
    }

    @Test("guest instruction bytes: 0D1h-0DFh after the byte count at 0D0h")
    func instructionBytes() {
        #expect(VMCB.guestInstructionByte(0).offset == 0x0D1)
        #expect(VMCB.guestInstructionByte(14).offset == 0x0DF)
        #expect(VMCB.guestInstructionByte(14).byteCount == 1)
        #expect(VMCB.guestInstructionBytesCount == 15)
    }

    @Test("the VMCB is one 4 KiB page; the save area starts at 400h; fields stay in their area, aligned, without overlap")
    func pageAndOverlap() {
        #expect(VMCB.size == 4096)
        #expect(VMCBPage.size == 4096)
        #expect(VMCB.stateSaveAreaOffset == 0x400)
        var spans: [(name: String, range: Range<Int>)] = codeFields.map { ($0.name, $0.offset..<$0.offset + $0.bytes) }
        spans += codeSegments.map { ($0.name, $0.field.offset..<$0.field.offset + VMCBSegmentField.byteCount) }
        spans += (0..<15).map { ("guestInstructionByte(\($0))", VMCB.guestInstructionByte($0).offset..<VMCB.guestInstructionByte($0).offset + 1) }
        for span in spans {
            #expect(span.range.lowerBound >= 0 && span.range.upperBound <= 4096, "\(span.name)")
            #expect(span.range.lowerBound % span.range.count == 0 || span.range.count == 16, "\(span.name) misaligned")
        }
        for field in codeFields {
            // Control-area fields end by 400h; state-save fields start at it.
            let isControl = apmControlArea.contains { $0.name == field.name }
            #expect(isControl == (field.offset + field.bytes <= 0x400), "\(field.name)")
        }
        let sorted = spans.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            #expect(a.range.upperBound <= b.range.lowerBound, "\(a.name) overlaps \(b.name)")
        }
    }
}

@Suite("VMCBPage: little-endian fields in a raw page")
struct VMCBPageTests {
    @Test("typed reads and writes land at the field's bytes, little-endian, and nowhere else")
    func readWrite() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { memory.deallocate() }
        var page = VMCBPage(memory)
        memory.initializeMemory(as: UInt8.self, repeating: 0xEE, count: 4096)
        page.zero()
        #expect((0..<4096).allSatisfy { memory.load(fromByteOffset: $0, as: UInt8.self) == 0 })

        page.write(VMCB.rip, 0x1122_3344_5566_7788)
        #expect(memory.load(fromByteOffset: 0x578, as: UInt8.self) == 0x88)
        #expect(memory.load(fromByteOffset: 0x57F, as: UInt8.self) == 0x11)
        #expect(memory.load(fromByteOffset: 0x577, as: UInt8.self) == 0)
        #expect(memory.load(fromByteOffset: 0x580, as: UInt8.self) == 0)
        #expect(page.read(VMCB.rip) == 0x1122_3344_5566_7788)

        page.write(VMCB.guestASID, 0xAABB_CCDD)
        page.write(VMCB.tlbControl, 0x07)
        #expect(memory.load(fromByteOffset: 0x58, as: UInt64.self) == 0x07_AABB_CCDD)
        #expect(page.read(VMCB.guestASID) == 0xAABB_CCDD)

        page.write(VMCB.interceptCRWrites, 0x0101)
        #expect(memory.load(fromByteOffset: 0, as: UInt32.self) == 0x0101_0000)

        let segment = VMCBSegment(selector: 0x10, attributes: SVMSegmentAttributes(rawValue: 0xC93), limit: 0xFFFF_FFFF, base: 0x1234_5000)
        page.write(VMCB.ss, segment)
        #expect(memory.load(fromByteOffset: 0x420, as: UInt16.self) == 0x10)
        #expect(memory.load(fromByteOffset: 0x422, as: UInt16.self) == 0xC93)
        #expect(memory.load(fromByteOffset: 0x424, as: UInt32.self) == 0xFFFF_FFFF)
        #expect(memory.load(fromByteOffset: 0x428, as: UInt64.self) == 0x1234_5000)
        #expect(page.read(VMCB.ss) == segment)
    }
}
