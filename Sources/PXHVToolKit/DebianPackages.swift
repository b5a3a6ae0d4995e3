import Foundation

/// What the Linux guest needs from Debian's package tools: the seam that
/// `LinuxGuestSource` goes through, real in `AptPackages`, faked in tests.
public protocol DebianPackages {
    /// The packages `package` depends on (`apt-cache depends`), in order.
    func dependencies(of package: String) throws -> [String]
    /// The version `apt-get download` would fetch (`apt-cache policy`).
    func candidateVersion(of package: String) throws -> String
    /// The path and version of a file of an installed package whose path
    /// ends in `suffix` (`dpkg-query`, `dpkg -L`), if it is installed.
    func installedFile(endingIn suffix: String, of package: String) -> (path: URL, version: String)?
    /// Downloads `package` and writes its one file whose path ends in
    /// `suffix` to `destination`. `hint` says what to do if that fails.
    func fetch(package: String, fileEndingIn suffix: String, to destination: URL, hint: String) throws
}

extension SystemTool {
    public static let aptGet = SystemTool(name: "apt-get", debianPackage: "apt")
    public static let aptCache = SystemTool(name: "apt-cache", debianPackage: "apt")
    public static let dpkgQuery = SystemTool(name: "dpkg-query", debianPackage: "dpkg")
    public static let dpkgDeb = SystemTool(name: "dpkg-deb", debianPackage: "dpkg")
    public static let tar = SystemTool(name: "tar", debianPackage: "tar")
}

/// The real thing: apt-cache, apt-get download, dpkg-query, dpkg-deb.
public struct AptPackages: DebianPackages {
    public init() {}

    public func dependencies(of package: String) throws -> [String] {
        let result = try Shell.run(try SystemTool.aptCache.locate(), ["depends", package], captureOutput: true)
        guard result.status == 0 else {
            throw ToolError("apt-cache depends \(package) failed (\(Self.lastLine(result.output))): run apt-get update")
        }
        return Self.parseDepends(result.output)
    }

    public func candidateVersion(of package: String) throws -> String {
        let result = try Shell.run(try SystemTool.aptCache.locate(), ["policy", package], captureOutput: true)
        guard result.status == 0, let version = Self.parseCandidate(result.output) else {
            throw ToolError("apt-cache policy \(package) shows no candidate version: run apt-get update")
        }
        return version
    }

    public func installedFile(endingIn suffix: String, of package: String) -> (path: URL, version: String)? {
        guard let query = try? SystemTool.dpkgQuery.locate(),
              let status = try? Shell.run(query, ["-W", "-f", "${db:Status-Status} ${Version}", package], captureOutput: true),
              status.status == 0, status.output.hasPrefix("installed "),
              let files = try? Shell.run(query, ["-L", package], captureOutput: true), files.status == 0
        else { return nil }
        let version = String(status.output.dropFirst("installed ".count)).trimmingCharacters(in: .whitespacesAndNewlines)
        for line in files.output.split(separator: "\n") where line.hasSuffix(suffix) {
            let path = URL(fileURLWithPath: String(line))
            if FileManager.default.isExecutableFile(atPath: path.path) { return (path, version) }
        }
        return nil
    }

    /// `apt-get download` into a scratch directory beside `destination`,
    /// then only the wanted file out of the .deb (`dpkg-deb --fsys-tarfile |
    /// tar --wildcards`): the kernel package unpacks to ~400 MB of modules
    /// we do not need. The .deb is deleted afterwards.
    public func fetch(package: String, fileEndingIn suffix: String, to destination: URL, hint: String) throws {
        let fm = FileManager.default
        let work = destination.deletingLastPathComponent().appendingPathComponent(".fetch-\(package)", isDirectory: true)
        try? fm.removeItem(at: work)
        try fm.createDirectory(at: work.appendingPathComponent("root"), withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        let download = try Shell.run(
            try SystemTool.aptGet.locate(), ["download", package], workingDirectory: work, captureOutput: true)
        guard download.status == 0,
              let deb = try fm.contentsOfDirectory(atPath: work.path).first(where: { $0.hasSuffix(".deb") })
        else {
            throw ToolError("apt-get download \(package) failed (\(Self.lastLine(download.output))): \(hint)")
        }
        let debPath = work.appendingPathComponent(deb).path
        let extract = try Shell.run(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", #""$1" --fsys-tarfile "$2" | "$3" -x -C "$4" --wildcards "*$5""#, "sh",
             try SystemTool.dpkgDeb.locate().path, debPath, try SystemTool.tar.locate().path,
             work.appendingPathComponent("root").path, suffix],
            captureOutput: true)
        let extracted = work.appendingPathComponent("root").appendingPathComponent(
            Self.findFile(endingIn: suffix, under: work.appendingPathComponent("root")) ?? "")
        guard extract.status == 0, fm.fileExists(atPath: extracted.path), !extracted.hasDirectoryPath else {
            throw ToolError("no file *\(suffix) extracted from \(deb) (dpkg-deb | tar: \(Self.lastLine(extract.output))): \(hint)")
        }
        try? fm.removeItem(at: destination)
        try fm.moveItem(at: extracted, to: destination)
    }

    /// `apt-cache depends` lines `  Depends: name` (and `  |Depends: name`
    /// for alternatives); `<virtual>` names are kept as printed.
    static func parseDepends(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let body = trimmed.hasPrefix("|") ? trimmed.dropFirst() : Substring(trimmed)
            guard body.hasPrefix("Depends:") else { return nil }
            return body.dropFirst("Depends:".count).trimmingCharacters(in: .whitespaces)
        }
    }

    /// `  Candidate: 6.1.192-2` of `apt-cache policy`; nil for `(none)`.
    static func parseCandidate(_ output: String) -> String? {
        for line in output.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("Candidate:") else { continue }
            let version = trimmed.dropFirst("Candidate:".count).trimmingCharacters(in: .whitespaces)
            return version.isEmpty || version == "(none)" ? nil : version
        }
        return nil
    }

    /// A path relative to `root` of the first regular file ending in `suffix`.
    static func findFile(endingIn suffix: String, under root: URL) -> String? {
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return nil }
        for case let path as String in walker where ("/" + path).hasSuffix(suffix) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory),
               !isDirectory.boolValue {
                return path
            }
        }
        return nil
    }

    /// The last non-empty line of a tool's output (apt's `E: ...`), or "no output".
    static func lastLine(_ output: String) -> String {
        output.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }).map(String.init) ?? "no output"
    }
}
