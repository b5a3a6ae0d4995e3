import Foundation

/// Just enough ELF64 (System V gABI, "ELF Header", "Sections" and "Symbol
/// Table") to report the hypervisor's section sizes and its code size by
/// module, and to find its entry point and image end.
public struct ELFImage {
    public struct Section {
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        public var address: UInt64
        public var size: UInt64
    }

    /// One `.symtab` entry.
    public struct Symbol: Equatable {
        public static let function: UInt8 = 2  // STT_FUNC
        public var name: String
        public var value: UInt64
        public var size: UInt64
        /// STT_* (the low 4 bits of st_info).
        public var type: UInt8
        /// The index of the section it is defined in (st_shndx).
        public var sectionIndex: UInt16
    }

    public var entry: UInt64
    public var sections: [Section]
    /// Named symbols by name (the last one wins for duplicate local names).
    public var symbols: [String: UInt64]
    /// Every named symbol in table order.
    public var symbolTable: [Symbol]

    public init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        try self.init(data: [UInt8](data), name: url.lastPathComponent)
    }

    public init(data bytes: [UInt8], name: String = "ELF file") throws {
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * $1) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) } }
        guard bytes.count >= 64, bytes[0..<4] == [0x7F, 0x45, 0x4C, 0x46], bytes[4] == 2, bytes[5] == 1 else {
            throw ToolError("\(name): not a little-endian ELF64 file")
        }
        entry = u64(24)
        let shoff = Int(u64(40)), shentsize = Int(u16(58)), shnum = Int(u16(60)), shstrndx = Int(u16(62))
        guard shoff + shnum * shentsize <= bytes.count else { throw ToolError("\(name): section table out of range") }
        struct Raw { var name: UInt32, type: UInt32, flags: UInt64, addr: UInt64, offset: UInt64, size: UInt64, link: UInt32, entsize: UInt64 }
        let raw = (0..<shnum).map { i -> Raw in
            let o = shoff + i * shentsize
            return Raw(name: u32(o), type: u32(o + 4), flags: u64(o + 8), addr: u64(o + 16), offset: u64(o + 24),
                       size: u64(o + 32), link: u32(o + 40), entsize: u64(o + 56))
        }
        func string(_ table: Raw, _ offset: UInt32) -> String {
            var end = Int(table.offset) + Int(offset)
            let start = end
            while end < bytes.count && bytes[end] != 0 { end += 1 }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        let names = raw[shstrndx]
        sections = raw.map { Section(name: string(names, $0.name), type: $0.type, flags: $0.flags, address: $0.addr, size: $0.size) }
        symbols = [:]
        symbolTable = []
        for table in raw where table.type == 2 /* SHT_SYMTAB */ && table.entsize == 24 {
            guard Int(table.link) < raw.count, Int(table.offset) + Int(table.size) <= bytes.count else {
                throw ToolError("\(name): symbol table out of range")
            }
            let strings = raw[Int(table.link)]
            for i in 0..<Int(table.size / 24) {
                let o = Int(table.offset) + i * 24
                let name = string(strings, u32(o))
                if name.isEmpty { continue }
                symbols[name] = u64(o + 8)
                symbolTable.append(Symbol(name: name, value: u64(o + 8), size: u64(o + 16), type: bytes[o + 4] & 0xF,
                                          sectionIndex: u16(o + 6)))
            }
        }
    }

    /// The index of the first section called `name`.
    public func sectionIndex(named name: String) -> Int? {
        sections.firstIndex { $0.name == name }
    }

    /// Sum of the sizes of the allocated sections whose name starts with
    /// `prefix` (".text", ".rodata", ".data", ".bss").
    public func size(of prefix: String) -> UInt64 {
        sections.filter { $0.flags & 0x2 != 0 && ($0.name == prefix || $0.name.hasPrefix(prefix + ".")) }
            .reduce(0) { $0 + $1.size }
    }
}
