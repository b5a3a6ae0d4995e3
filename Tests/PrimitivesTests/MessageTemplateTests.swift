import Primitives
import Testing

@Suite("Message templates") struct MessageTemplateTests {
    @Test("each placeholder takes the next value; {name} takes none")
    func placeholders() {
        let message = Message(template: "{name} at {hex} ({hex16}), {dec} bytes, mapped {yes}", 0x2B, 0xBEEF, 4096, 1, name: "VMXON region")
        #expect(message.description == "VMXON region at 0x2b (0x000000000000beef), 4096 bytes, mapped yes")
        #expect(Message(template: "cached {yes}, {name}", 0, name: "WB").description == "cached no, WB")
    }

    @Test("text without placeholders, a brace without its pair, and appending")
    func plainText() {
        var message = Message(template: "no placeholders")
        message.append(template: "; {dec} and {unclosed", 7)
        #expect(message.description == "no placeholders; 7 and {unclosed")
        #expect(Message(template: "{dec}{dec}", 1, 2).description == "12")
    }

    @Test("other words are the caller's to render, each with its value; append(template:) skips them")
    func otherPlaceholders() {
        let template: StaticString = "bits {flags} of {dec}, {mode}"
        var message = Message()
        var words: [String] = []
        template.withUTF8Buffer { utf8 in
            var values = TemplateValues(0b101, 3, 7)
            var index = 0
            while let word = message.append(template: UnsafeRawBufferPointer(utf8), from: &index, values: &values, name: nil) {
                words.append(String(decoding: word, as: UTF8.self))
                message.append(hex: values.next())
            }
        }
        #expect(words == ["flags", "mode"])
        #expect(message.description == "bits 0x5 of 3, 0x7")
        #expect(Message(template: "bits {flags} of {dec}", 0b101, 3).description == "bits  of 3")
    }
}
