import Foundation

/// Guest test data that is never committed (`../shared/guests`, e.g. the
/// FreeDOS boot floppy): found beside the package, or, for a clone of a
/// local repository (`git clone /path/to/pxhv /tmp/x`), beside the
/// repository it was cloned from (its `origin`), so that a clone anywhere
/// runs the same tests. `PXHV_GUESTS` names the directory outright.
public enum SharedGuestData {
    /// `relative` (e.g. "freedos/freedos-1.3-boot.img") in the first guest
    /// data directory that has it, else where it is looked for first.
    public static func file(_ relative: String, package: URL) -> URL {
        let candidates = directories(package: package).map { $0.appendingPathComponent(relative).standardizedFileURL }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
    }

    static func directories(package: URL) -> [URL] {
        var directories: [URL] = []
        if let named = ProcessInfo.processInfo.environment["PXHV_GUESTS"], !named.isEmpty {
            directories.append(URL(fileURLWithPath: named))
        }
        directories.append(package.appendingPathComponent("../shared/guests"))
        if let origin = localOrigin(of: package) { directories.append(origin.appendingPathComponent("../shared/guests")) }
        return directories
    }

    /// The `origin` remote of the repository at `package` when it is a
    /// local directory (a path or a file: URL), else nil.
    static func localOrigin(of package: URL) -> URL? {
        let config = package.appendingPathComponent(".git/config")
        guard let text = try? String(contentsOf: config, encoding: .utf8) else { return nil }
        var inOrigin = false
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") { inOrigin = trimmed == #"[remote "origin"]"# ; continue }
            guard inOrigin, trimmed.hasPrefix("url") , let equals = trimmed.firstIndex(of: "=") else { continue }
            var url = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if url.hasPrefix("file://") { url.removeFirst("file://".count) }
            guard url.hasPrefix("/") else { return nil }
            return URL(fileURLWithPath: url)
        }
        return nil
    }
}
