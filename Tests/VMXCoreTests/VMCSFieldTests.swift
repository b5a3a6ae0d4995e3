import Foundation
import Testing
@testable import VMXCore

@Suite("VMCS field catalogue (SDM Vol. 3D Appendix B)")
struct VMCSFieldTests {
    /// The declarations of `VMCS+Fields.swift`, read from the source:
    /// (Swift name, declared value type, encoding).
    static func declaredFields() throws -> [(name: String, type: String, encoding: UInt32)] {
        let testFile = URL(fileURLWithPath: #filePath)
        let source = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/VMXCore/VMCS+Fields.swift")
        let text = try String(contentsOf: source, encoding: .utf8)
        var fields: [(name: String, type: String, encoding: UInt32)] = []
        for line in text.split(separator: "\n") where line.contains("= VMCSField<") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // public static let NAME = VMCSField<TYPE>(0xXXXX, "...")
            let words = trimmed.split(separator: " ")
            let name = String(words[3])
            let afterAngle = trimmed.split(separator: "<", maxSplits: 1)[1]
            let type = String(afterAngle.split(separator: ">")[0])
            let hexText = afterAngle.split(separator: "(")[1].split(separator: ",")[0].dropFirst(2)
            fields.append((name, type, UInt32(hexText, radix: 16)!))
        }
        return fields
    }

    @Test("allFields lists every declaration of VMCS+Fields.swift, once, in order")
    func listMatchesSource() throws {
        let declared = try Self.declaredFields()
        #expect(declared.count == 199)
        #expect(VMCS.allFields.count == declared.count)
        #expect(VMCS.allFields.map(\.encoding) == declared.map(\.encoding))
    }

    @Test("every declared Value type matches encoding bits 14:13")
    func declaredWidths() throws {
        for field in try Self.declaredFields() {
            let expected: String
            switch (field.encoding >> 13) & 3 {
            case 0: expected = "UInt16"
            case 2: expected = "UInt32"
            default: expected = "UInt64"  // 1: 64-bit, 3: natural width
            }
            #expect(field.type == expected, "\(field.name) 0x\(String(field.encoding, radix: 16)) is \(field.type)")
        }
    }

    @Test("every field's value width, reserved bits and access type")
    func encodings() {
        for field in VMCS.allFields {
            let width = field.encoding >> 13 & 3
            let expectedBits = [16, 64, 32, 64][Int(width)]
            #expect(field.valueBitWidth == expectedBits, "\(field.name)")
            #expect(field.width.bitWidth == expectedBits)
            #expect(field.encoding & (1 << 12) == 0, "\(field.name): bit 12 set")
            #expect(field.encoding >> 15 == 0, "\(field.name): bits 31:15 set")
            #expect(field.encoding & 1 == 0, "\(field.name): not a full encoding")
        }
    }

    @Test func encodingsAreUnique() {
        let encodings = VMCS.allFields.map(\.encoding)
        #expect(Set(encodings).count == encodings.count)
        // Bochs's IA32_VMX_VMCS_ENUM says its highest index is 0x1a; the catalogue's is 0x29 (injected-event data, 0x2052).
        #expect(VMCS.allFields.map { Int($0.encoding >> 1 & 0x1FF) }.max() == 0x29)
    }

    @Test("decoded parts of a few well-known encodings")
    func decoding() {
        #expect(VMCS.guestRIP.encoding == 0x681E)
        #expect(VMCS.guestRIP.width == .natural)
        #expect(VMCS.guestRIP.type == .guestState)
        #expect(VMCS.guestRIP.index == 0xF)
        #expect(VMCS.exitReason.type == .readOnlyData)
        #expect(VMCS.exitReason.encoding == VMCS.vmInstructionError.encoding + 2)
        #expect(VMCS.vmInstructionError.encoding == 0x4400)
        #expect(VMCS.eptPointer.width == .bits64)
        #expect(VMCS.eptPointer.highEncoding == 0x201B)
        #expect(VMCS.hostRIP.type == .hostState)
        #expect(VMCS.virtualProcessorIdentifier.width == .bits16)
        #expect(VMCS.pinBasedControls.type == .control)
        #expect(VMCS.guestRIP == VMCSField<UInt64>(0x681E, "other name"))
    }

    @Test("typed read/write through VMCSAccess truncate to the field's width")
    func typedAccess() throws {
        var vmcs = FakeVMCS()
        try vmcs.write(VMCS.guestCSSelector, 0x1000)
        try vmcs.write(VMCS.guestRIP, 0xFFFF_8000_0000_1000)
        try vmcs.write(VMCS.cr3TargetCount, 4)
        #expect(vmcs.read(VMCS.guestCSSelector) == 0x1000)
        #expect(vmcs.read(VMCS.guestRIP) == 0xFFFF_8000_0000_1000)
        #expect(vmcs.read(VMCS.cr3TargetCount) == 4)
        try vmcs.write(VMCS.guestCSSelector.encoding, 0x1_2345)
        #expect(vmcs.read(VMCS.guestCSSelector) == 0x2345)
        #expect(throws: VMXError.failValid(VMInstructionError(rawValue: 13))) {
            try vmcs.write(VMCS.exitReason, 1)
        }
    }
}
