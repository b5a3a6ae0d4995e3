import Foundation

/// The hostile-guest suite (Guest/hostile, `--guest hostile`): what its
/// source defines and how the hypervisor's verdict lines read.
public enum HostileSuite {
    /// The attack names `hostile.asm` defines, in order: every line that
    /// starts (after blanks) with `ATTACK "name"` or with a macro whose name
    /// ends in `_ATTACK` followed by `"name"`. Comments start with `;`, so
    /// they never match.
    public static func attackNames(inSource source: String) -> [String] {
        source.split(whereSeparator: \.isNewline).compactMap { line in
            let text = line.drop(while: { $0 == " " || $0 == "\t" })
            guard let macroEnd = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
            let macro = text[..<macroEnd]
            guard macro == "ATTACK" || (macro.hasSuffix("_ATTACK") && macro.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }))
            else { return nil }
            let rest = text[macroEnd...].drop(while: { $0 == " " || $0 == "\t" })
            guard rest.first == "\"", let close = rest.dropFirst().firstIndex(of: "\"") else { return nil }
            return String(rest[rest.index(after: rest.startIndex)..<close])
        }
    }

    /// The names defined by the package's Guest/hostile/hostile.asm.
    public static func attackNames(package: URL) throws -> [String] {
        let url = package.appendingPathComponent(ImageBuilder.hostileGuestSource)
        return attackNames(inSource: try String(contentsOf: url, encoding: .utf8))
    }

    /// `pxhv: hostile: <name> contained (...)`
    public static func containedPrefix(_ name: String) -> String { "pxhv: hostile: \(name) contained" }
    /// `pxhv: hostile: <name> skipped: <reason>` (hypercall 9: an attack
    /// that does not apply on this CPU, the reason checked by pxHV).
    public static func skippedPrefix(_ name: String) -> String { "pxhv: hostile: \(name) skipped: " }
    /// `pxhv: hostile: <name> ESCAPED (...)`
    public static func escapedPrefix(_ name: String) -> String { "pxhv: hostile: \(name) ESCAPED" }
    /// Any verdict line: `pxhv: hostile: <name> contained|ESCAPED[ (...)]`.
    public static let verdictPattern = #"^pxhv: hostile: [!-~]+ (contained|ESCAPED)( |$)"#
    /// `pxhv: hostile: summary: <n> attacks, <c> contained, <e> escaped`
    /// (`, <s> skipped` appended when attacks were skipped.)
    public static let summaryPattern = #"^pxhv: hostile: summary: ([0-9]+) attacks, ([0-9]+) contained, ([0-9]+) escaped(, ([0-9]+) skipped)?$"#

    /// The report lines the guest forges on every console it can reach
    /// (Guest/hostile/hostile.asm, `forged_text`): none may reach the
    /// verdict channel.
    public static let forgedLines = [
        "pxhv: guest result: PASS 99/99",
        "pxhv: hostile: summary: 99 attacks, 99 contained, 0 escaped",
    ]
}
