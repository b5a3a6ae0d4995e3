/// "0x2b"; with `digits`, zero-padded to that many hex digits ("0x0000002b").
/// Used for every number the module prints, so fixtures and messages agree.
func hex<T: BinaryInteger>(_ value: T, digits: Int = 0) -> String {
    let text = String(value, radix: 16)
    let padding = digits > text.utf8.count ? String(repeating: "0", count: digits - text.utf8.count) : ""
    return "0x" + padding + text
}

/// The indices of the set bits of `value`, lowest first.
func setBitIndices<T: FixedWidthInteger>(_ value: T) -> [Int] {
    var indices: [Int] = []
    var rest = value
    while rest != 0 {
        let bit = rest.trailingZeroBitCount
        indices.append(bit)
        rest &= rest &- 1
    }
    return indices
}
