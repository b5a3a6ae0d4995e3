import Foundation

/// A failure of the tool, printed as one line `pxhv: error: <message>`.
public struct ToolError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where a system tool comes from, so a missing one names its package.
public struct SystemTool: Sendable {
    public var name: String
    public var debianPackage: String

    public static let nasm = SystemTool(name: "nasm", debianPackage: "nasm")
    public static let xorriso = SystemTool(name: "xorriso", debianPackage: "xorriso")
    public static let qemu = SystemTool(name: "qemu-system-x86_64", debianPackage: "qemu-system-x86")
    public static let bochs = SystemTool(name: "bochs", debianPackage: "bochs (with bochsbios, vgabios, bochs-sdl)")
    public static let lld = SystemTool(name: "ld.lld", debianPackage: "lld (or use the Swift toolchain's)")
    public static let objcopy = SystemTool(name: "llvm-objcopy", debianPackage: "llvm")
    public static let swift = SystemTool(name: "swift", debianPackage: "a Swift 6.3 toolchain (swift.org)")
    /// For the stack-frame check of the exit path (Tests/EndToEndTests).
    public static let objdump = SystemTool(name: "llvm-objdump", debianPackage: "llvm")
    public static let swiftDemangle = SystemTool(name: "swift-demangle", debianPackage: "a Swift 6.3 toolchain (swift.org)")

    /// The absolute path, searching the Swift toolchain's directory first
    /// (it ships ld.lld and llvm-objcopy), then PATH.
    public func locate() throws -> URL {
        if let found = Self.search(name) { return found }
        throw ToolError("\(name) not found: install the Debian package \(debianPackage)")
    }

    public var isAvailable: Bool { Self.search(name) != nil }

    static func search(_ name: String) -> URL? {
        var directories: [String] = []
        if let swift = which("swift") {
            directories.append(swift.resolvingSymlinksInPath().deletingLastPathComponent().path)
        }
        directories += (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for directory in directories {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    private static func which(_ name: String) -> URL? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}

/// Runs a program to completion; its output goes to ours unless captured.
public enum Shell {
    @discardableResult
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        workingDirectory: URL? = nil, captureOutput: Bool = false
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        let pipe = Pipe()
        if captureOutput {
            process.standardOutput = pipe
            process.standardError = pipe
        }
        try process.run()
        var data = Data()
        if captureOutput { data = pipe.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs and throws with the program's output when it fails.
    public static func check(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws {
        let result = try run(executable, arguments, environment: environment, captureOutput: true)
        guard result.status == 0 else {
            throw ToolError(
                "\(executable.lastPathComponent) failed (exit \(result.status)):\n\(result.output)")
        }
    }
}

/// Progress lines of the tools, `pxhv: <step>`, flushed at once so they
/// interleave correctly with the emulators' output.
public func progress(_ line: String) {
    FileHandle.standardOutput.write(Data(("pxhv: " + line + "\n").utf8))
}
