import Foundation
import PackagePlugin

/// Assembles every `.asm` file of the target with nasm (`-f bin`), so that
/// `swift build` and `swift test` have the real boot stages: the outputs
/// become resources of the BootStages target, which the tests read.
///
/// nasm is looked up on PATH: `context.tool(named:)` only finds tools that
/// SwiftPM builds or vends, not system ones, in build-tool plugins.
@main
struct NASMStages: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        guard let nasm = Self.findOnPath("nasm") else {
            Diagnostics.error("nasm not found: install the Debian package nasm")
            return []
        }
        let files = module.sourceFiles.map(\.url)
        let includes = files.filter { $0.pathExtension == "inc" }
        return files.filter { $0.pathExtension == "asm" }.map { source in
            let output = context.pluginWorkDirectoryURL
                .appendingPathComponent(source.deletingPathExtension().lastPathComponent + ".bin")
            let includeDirectory = source.deletingLastPathComponent().path + "/"
            return .buildCommand(
                displayName: "Assembling \(source.lastPathComponent)",
                executable: nasm,
                arguments: ["-f", "bin", "-I", includeDirectory, "-o", output.path, source.path],
                inputFiles: [source] + includes,
                outputFiles: [output])
        }
    }

    static func findOnPath(_ name: String) -> URL? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
