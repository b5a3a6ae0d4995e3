import Testing
@testable import PXHVToolKit

/// `.text` by module (`pxhv: text by module ...`), from symbols as they
/// appear in the linked hypervisor.
@Suite("Text by module")
struct TextByModuleTests {
    @Test("module of real symbol names of the hypervisor ELF")
    func moduleOfRealSymbols() {
        let expected: [(String, String)] = [
            ("$e10Hypervisor7VMXRootV5leaveyy7VMXCore8VMXErrorOYKF", "Hypervisor"),
            ("$e10Hypervisor10LinuxGuestV8PreparedVSgWOg", "Hypervisor"),
            ("$e7VMXCore15VMXCapabilitiesV11reportLinesSaySSGyF", "VMXCore"),
            ("$e7VMXCore8VMXErrorO7messageSSvg", "VMXCore"),
            ("$e6Loader15PayloadManifestV5entryyAA0B5EntryVSgAA0B4KindVF", "Loader"),
            ("$e3EPT10EPTBuilderV3mapyyAA17EPTIdentityLayoutV_xztKF", "EPT"),
            ("$e6VMExit10DispatcherV6handleyAA10ExitActionOAA0D5EventO_F", "VMExit"),
            ("$e7Devices13ACPIPowerOffV8powerOffyyxzAA6PortIORzlF", "Devices"),
            // Standard library: the `s` module substitution and `S` known types.
            ("$es11_StringGutsV4growyySiF", "Swift"),
            ("$es26DefaultStringInterpolationV13appendLiteralyySSFTm", "Swift"),
            ("$eSS8_copyingySSSsFZ", "Swift"),
            ("$eSS1poiyS2S_SStFZ", "Swift"),
            // Hosted mangling reads the same way.
            ("$s7VMXCore8VMXErrorO7messageSSvg", "VMXCore"),
            // C-named: the embedded runtime, the @_cdecl entry thunks, the X86 shim.
            ("swift_release", "Swift"),
            ("_swift_embedded_invoke_heap_object_destroy", "Swift"),
            ("hv_main", "Hypervisor"),
            ("x86_install_descriptor_tables", "C"),
            ("posix_memalign", "C"),
            ("_start", "C"),
            // A malformed length falls back to the standard library, never a crash.
            ("$e99X", "Swift"),
            ("$e", "C"),
        ]
        for (symbol, module) in expected {
            #expect(TextByModule.module(ofSymbol: symbol) == module, "\(symbol)")
        }
    }

    @Test("a linked image: function sizes per module, padding unattributed, sorted, total = .text")
    func sumsAnImage() throws {
        let text: UInt64 = 0x201000
        let elf = try ELFImage(data: ELFFixture.build(
            sections: [
                .init(name: ".text", type: 1, flags: 6, address: text, size: 0x1000),
                .init(name: ".rodata", type: 1, flags: 2, address: 0x202000, size: 0x100),
            ],
            symbols: [
                .init(name: "_start", value: text, size: 0x20, type: 2, section: 1),
                .init(name: "$e10Hypervisor6hvMainyys6UInt64VF", value: text + 0x20, size: 0x400, type: 2, section: 1),
                .init(name: "hv_main", value: text + 0x420, size: 9, type: 2, section: 1),
                .init(name: "$e7VMXCore8VMXErrorO7messageSSvg", value: text + 0x430, size: 0x300, type: 2, section: 1),
                .init(name: "$es11_StringGutsV4growyySiF", value: text + 0x730, size: 0x200, type: 2, section: 1),
                .init(name: "$e3EPT10EPTBuilderV5tableSivg", value: text + 0x930, size: 0x300, type: 2, section: 1),
                // An alias of the EPT function: counted once.
                .init(name: "$e3EPT10EPTBuilderV5tableSivgTm", value: text + 0x930, size: 0x300, type: 2, section: 1),
                // Not functions, or not in .text: not counted.
                .init(name: "__image_start", value: text, size: 0, type: 0, section: 1),
                .init(name: "$e7VMXCore4VMCSO5tableSayAA5FieldVGvpZ", value: 0x202000, size: 0x80, type: 1, section: 2),
                .init(name: "$e6Loader5CRC32V5tableSays6UInt32VGvpZ", value: 0x202080, size: 0x40, type: 2, section: 2),
            ]))
        let parts = TextByModule(elf: elf)
        #expect(parts.modules == [
            .init(module: "Hypervisor", bytes: 0x409),
            .init(module: "EPT", bytes: 0x300),
            .init(module: "VMXCore", bytes: 0x300),
            .init(module: "Swift", bytes: 0x200),
            .init(module: "C", bytes: 0x20),
        ])
        #expect(parts.total == 0x1000)
        #expect(parts.unattributed == 0x1000 - 0x409 - 0x300 - 0x300 - 0x200 - 0x20)
        #expect(parts.line
                == "text by module Hypervisor=1033 EPT=768 VMXCore=768 Swift=512 C=32 unattributed=983 total=4096")
    }

    @Test("no .text section: an empty report")
    func noText() throws {
        let elf = try ELFImage(data: ELFFixture.build(sections: [], symbols: []))
        #expect(TextByModule(elf: elf) == TextByModule(modules: [], unattributed: 0, total: 0))
    }
}

/// Builds a little-endian ELF64 file: the header, the given sections (no
/// contents: only the headers matter here), `.symtab`, `.strtab` and
/// `.shstrtab`. Section index 0 is the null section, so `sections[i]` is
/// index i + 1.
enum ELFFixture {
    struct Section {
        var name: String
        var type: UInt32
        var flags: UInt64
        var address: UInt64
        var size: UInt64
    }

    struct Symbol {
        var name: String
        var value: UInt64
        var size: UInt64
        var type: UInt8
        var section: UInt16
    }

    static func build(sections: [Section], symbols: [Symbol]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { bytes[offset + i] = byte } }
        }
        bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        bytes[4] = 2  // ELFCLASS64
        bytes[5] = 1  // little-endian
        put(UInt64(0x201000), 24)

        var sectionNames: [UInt8] = [0]
        func sectionName(_ name: String) -> UInt32 {
            defer { sectionNames += Array(name.utf8) + [0] }
            return UInt32(sectionNames.count)
        }
        var symbolNames: [UInt8] = [0]
        var symbolTable = [UInt8](repeating: 0, count: 24)  // entry 0: the null symbol
        for symbol in symbols {
            var entry = [UInt8](repeating: 0, count: 24)
            func field<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
                withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { entry[offset + i] = byte } }
            }
            field(UInt32(symbolNames.count), 0)
            entry[4] = 0x10 | symbol.type  // STB_GLOBAL
            field(symbol.section, 6)
            field(symbol.value, 8)
            field(symbol.size, 16)
            symbolNames += Array(symbol.name.utf8) + [0]
            symbolTable += entry
        }

        // Section headers: null, the given ones, .symtab, .strtab, .shstrtab.
        var headers: [(name: UInt32, type: UInt32, flags: UInt64, address: UInt64, offset: UInt64, size: UInt64, link: UInt32, entsize: UInt64)] = []
        headers.append((0, 0, 0, 0, 0, 0, 0, 0))
        for section in sections {
            headers.append((sectionName(section.name), section.type, section.flags, section.address, 0, section.size, 0, 0))
        }
        let symtabIndex = headers.count
        let symtabOffset = bytes.count
        bytes += symbolTable
        let strtabOffset = bytes.count
        bytes += symbolNames
        headers.append((sectionName(".symtab"), 2, 0, 0, UInt64(symtabOffset), UInt64(symbolTable.count), UInt32(symtabIndex + 1), 24))
        headers.append((sectionName(".strtab"), 3, 0, 0, UInt64(strtabOffset), UInt64(symbolNames.count), 0, 0))
        let shstrtabName = sectionName(".shstrtab")
        let shstrtabOffset = bytes.count
        bytes += sectionNames
        headers.append((shstrtabName, 3, 0, 0, UInt64(shstrtabOffset), UInt64(sectionNames.count), 0, 0))

        let tableOffset = bytes.count
        bytes += [UInt8](repeating: 0, count: headers.count * 64)
        for (index, header) in headers.enumerated() {
            let o = tableOffset + index * 64
            put(header.name, o)
            put(header.type, o + 4)
            put(header.flags, o + 8)
            put(header.address, o + 16)
            put(header.offset, o + 24)
            put(header.size, o + 32)
            put(header.link, o + 40)
            put(header.entsize, o + 56)
        }
        put(UInt64(tableOffset), 40)
        put(UInt16(64), 58)
        put(UInt16(headers.count), 60)
        put(UInt16(headers.count - 1), 62)
        return bytes
    }
}
