import Foundation

/// The boot stages as the build-tool plugin assembled them (Plugins/
/// NASMStages), and the layout contract they share with the Swift side.
/// Hosted only: tests read these bytes.
public enum BootStages {
    /// The bytes of `<name>.bin` (stage1, stage2), assembled from Boot/<name>.asm.
    public static func binary(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "bin") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(name).bin"])
        }
        return [UInt8](try Data(contentsOf: url))
    }

    /// The text of Boot/layout.inc.
    public static func layoutSource() throws -> String {
        guard let url = Bundle.module.url(forResource: "layout", withExtension: "inc") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "layout.inc"])
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
