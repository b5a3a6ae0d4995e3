/// The hypervisor's `.text` bytes by the module the code comes from,
/// computed from the ELF symbol table: each function symbol (STT_FUNC) in
/// `.text` counts its `st_size` for the module its name names. What no
/// function symbol covers (alignment padding between functions, assembly
/// labels without `.size`) is `unattributed`, so the parts add up to the
/// section's size, the `text=` of the sizes line.
///
/// `build-image` prints it beside the sizes line:
/// `pxhv: text by module Hypervisor=137937 VMXCore=103575 ... unattributed=1372 total=356215`.
public struct TextByModule: Equatable, Sendable {
    public struct Part: Equatable, Sendable {
        public var module: String
        public var bytes: UInt64
    }

    /// Largest first (ties by name).
    public var modules: [Part]
    public var unattributed: UInt64
    public var total: UInt64

    /// The module a function symbol's code belongs to.
    ///
    /// Embedded Swift mangles as `$e` + the context, whose first component is
    /// the module as `<length><name>` (`$e7VMXCore...`) or a standard-library
    /// substitution: `$es...` (module `Swift`) and `$eS...` (known stdlib
    /// types such as `Sa` Array, `SS` String, `Si` Int) both count as
    /// `Swift`; hosted Swift's `$s` reads the same way. Among C-named
    /// symbols, the Swift runtime's entry points (`swift_...`, `_swift_...`,
    /// the embedded stdlib's) count as `Swift`, the `@_cdecl` entry points
    /// of the hypervisor (`hv_...`, thunks of a few bytes) as `Hypervisor`,
    /// and everything else (the X86 shim: C and assembly) as `C`.
    public static func module(ofSymbol name: String) -> String {
        let utf8 = Array(name.utf8)
        if utf8.count > 2, utf8[0] == UInt8(ascii: "$"), utf8[1] == UInt8(ascii: "e") || utf8[1] == UInt8(ascii: "s") {
            let rest = utf8[2...]
            guard let first = rest.first else { return "C" }
            if first == UInt8(ascii: "s") || first == UInt8(ascii: "S") { return "Swift" }
            var length = 0
            var index = rest.startIndex
            while index < rest.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(rest[index]) {
                length = length * 10 + Int(rest[index] - UInt8(ascii: "0"))
                index += 1
            }
            if length > 0, index + length <= rest.endIndex {
                return String(decoding: rest[index..<index + length], as: UTF8.self)
            }
            return "Swift"
        }
        if name.hasPrefix("swift_") || name.hasPrefix("_swift_") { return "Swift" }
        if name.hasPrefix("hv_") { return "Hypervisor" }
        return "C"
    }

    /// Sums the function symbols inside the section called `section`.
    public init(elf: ELFImage, section: String = ".text") {
        guard let index = elf.sectionIndex(named: section) else {
            self.init(modules: [], unattributed: 0, total: 0)
            return
        }
        let text = elf.sections[index]
        var bytes: [String: UInt64] = [:]
        var covered: UInt64 = 0
        var starts = Set<UInt64>()  // an alias of a counted function adds nothing
        for symbol in elf.symbolTable
        where symbol.type == ELFImage.Symbol.function && Int(symbol.sectionIndex) == index && symbol.size > 0
            && symbol.value >= text.address && symbol.value + symbol.size <= text.address + text.size
            && starts.insert(symbol.value).inserted
        {
            bytes[Self.module(ofSymbol: symbol.name), default: 0] += symbol.size
            covered += symbol.size
        }
        let parts = bytes.map { Part(module: $0.key, bytes: $0.value) }
            .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.module < $1.module }
        self.init(modules: parts, unattributed: text.size > covered ? text.size - covered : 0, total: text.size)
    }

    public init(modules: [Part], unattributed: UInt64, total: UInt64) {
        self.modules = modules
        self.unattributed = unattributed
        self.total = total
    }

    /// The interface line: `text by module M=bytes ... unattributed=N total=N`.
    public var line: String {
        "text by module " + (modules.map { "\($0.module)=\($0.bytes)" } + ["unattributed=\(unattributed)", "total=\(total)"])
            .joined(separator: " ")
    }
}
