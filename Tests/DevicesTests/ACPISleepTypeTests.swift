import Testing
@testable import Devices

@Suite("AML _S5_ decoding")
struct ACPISleepTypeTests {
    /// Decodes S5 from a DSDT whose body is `aml`.
    func s5(_ aml: [UInt8]) -> Result<SleepType, ACPIError> {
        var memory = SparseMemory()
        let dsdt = ACPIBuilder.table("DSDT", body: aml)
        memory.write(dsdt, at: 0x1000)
        do throws(ACPIError) {
            let table = try SystemDescriptionTable.validate(at: 0x1000, expecting: .dsdt, in: memory)
            return .success(try SleepType.s5(inDSDT: table, memory: memory))
        } catch {
            return .failure(error)
        }
    }

    @Test("ZeroOp, OneOp, BytePrefix, WordPrefix elements")
    func elementEncodings() throws {
        #expect(try s5(ACPIBuilder.s5Package([0x00], [0x01])).get() == SleepType(a: 0, b: 1))
        #expect(try s5(ACPIBuilder.s5Package([0x0A, 0x07], [0x0A, 0x06])).get() == SleepType(a: 7, b: 6))
        #expect(try s5(ACPIBuilder.s5Package([0x0B, 0x05, 0x00], [0x0C, 0x04, 0, 0, 0])).get()
                == SleepType(a: 5, b: 4))
    }

    @Test("Name (\\_S5_, ...) with the root prefix")
    func rootPrefix() throws {
        #expect(try s5(ACPIBuilder.s5Package([0x0A, 0x07], [0x00], root: true)).get() == SleepType(a: 7, b: 0))
    }

    @Test("two-byte PkgLength")
    func longPkgLength() throws {
        // PkgLength 0x41 0x01: follow count 1, length = 0x1 | 0x01 << 4 = 17.
        let body: [UInt8] = [0x05, 0x0A, 0x03, 0x0A, 0x04] + [UInt8](repeating: 0x00, count: 10)
        let aml: [UInt8] = [0x08] + Array("_S5_".utf8) + [0x12, 0x41, 0x01] + body
        #expect(try s5(aml).get() == SleepType(a: 3, b: 4))
    }

    @Test("one-element package: SLP_TYPa low byte, SLP_TYPb next byte")
    func oneElement() throws {
        let aml: [UInt8] = [0x08] + Array("_S5_".utf8) + [0x12, 0x05, 0x01, 0x0B, 0x05, 0x07]
        #expect(try s5(aml).get() == SleepType(a: 5, b: 7))
    }

    @Test("'_S5_' outside a Name definition is skipped")
    func referenceSkipped() throws {
        // Store (_S5_, Local0) -> 0x70 "_S5_" 0x60, then the real definition.
        let reference: [UInt8] = [0x70] + Array("_S5_".utf8) + [0x60]
        #expect(try s5(reference + ACPIBuilder.s5Package([0x0A, 0x02], [0x0A, 0x03])).get()
                == SleepType(a: 2, b: 3))
        #expect(s5(reference) == .failure(.noS5(dsdtAddress: 0x1000)))
    }

    @Test("a PkgLength running past the table is malformed")
    func pastEnd() {
        let aml: [UInt8] = [0x08] + Array("_S5_".utf8) + [0x12, 0x3F, 0x04, 0x00]
        #expect(s5(aml) == .failure(.malformedS5(address: 0x1000 + 36 + 1)))
    }
}
