import Primitives
import Testing

@Suite struct MessageTests {
    @Test func literalsAndIntegers() {
        let count = 915
        let negative: Int32 = -42
        let message: Message = "ept: \(count) leaves, \(negative) and \(UInt8(0)), \(Int64.min)"
        #expect(message.description == "ept: 915 leaves, -42 and 0, -9223372036854775808")
        #expect(message == "ept: 915 leaves, -42 and 0, -9223372036854775808")
        #expect(message != "ept: 915 leaves")
    }

    @Test func hexadecimal() {
        let message: Message = "\(hex: 0x2B) \(hex: UInt64.max) \(hex: 0) \(hex: UInt16(0xBEEF), digits: 8) \(hex: 0x123, digits: 2)"
        #expect(message.description == "0x2b 0xffffffffffffffff 0x0 0x0000beef 0x123")
        // Negative values print as their two's-complement bits.
        let minusOne = -1
        #expect(Message("\(hex: minusOne)").description == "0xffffffffffffffff")
    }

    @Test func nestedMessagesFlagsAndBytes() {
        let inner: Message = "CR4 \(hex: 0x2000)"
        let name: [UInt8] = Array("FACP".utf8)
        let message = name.withUnsafeBytes { bytes -> Message in "[\(inner)] \(true)/\(false) \(ascii: bytes)" }
        #expect(message.description == "[CR4 0x2000] true/false FACP")
        #expect(message.hasPrefix("[CR4") && message.hasSuffix("FACP") && message.contains("true/false"))
    }

    @Test func overlongTextIsCutWithAnEllipsis() {
        var message = Message()
        for _ in 0..<40 { message.append("0123456789") }
        #expect(message.isTruncated)
        #expect(Int(message.count) == Message.capacity)
        #expect(message.description.hasSuffix("1234..."))
        message.append("more")
        #expect(Int(message.count) == Message.capacity)
        #expect(message.description.hasSuffix("1234..."))

        var exact = Message()
        for _ in 0..<Message.capacity { exact.append(byte: UInt8(ascii: "a")) }
        #expect(!exact.isTruncated)
        exact.append(byte: UInt8(ascii: "b"))
        #expect(exact.isTruncated && exact.description.hasSuffix("aaa..."))
    }

    @Test func textOutputReceivesTheBytes() {
        var output = StringOutput()
        output.write("pxhv: ")
        output.write(Message("exits total=\(12)"))
        #expect(output.text == "pxhv: exits total=12")
    }
}
