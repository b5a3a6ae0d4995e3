import Foundation

/// A newc ("070701") cpio archive, the format the kernel unpacks into its
/// rootfs as the initramfs: Linux, Documentation/driver-api/early-userspace/
/// buffer-format.rst. Written in Swift so the build needs no cpio tool, and
/// deterministic (fixed inode numbers, uid/gid 0, mtime 0): the same inputs
/// give the same bytes.
///
/// Each entry is a 110-byte ASCII header (the magic and 13 fields of 8 hex
/// digits), the path and its NUL, padded with NULs so the data starts on a
/// 4-byte boundary, then the data, padded to 4 bytes. The archive ends with
/// the entry `TRAILER!!!`.
public struct NewcArchive: Sendable {
    /// What an entry is; the mode's file-type bits (S_IFMT) follow from it.
    public enum Kind: Equatable, Sendable {
        case directory
        case file([UInt8])
        /// The data of a symlink entry is its target.
        case symlink(target: String)
        case characterDevice(major: UInt32, minor: UInt32)
    }

    public struct Entry: Equatable, Sendable {
        /// Relative to the root, without a leading `/` (`bin/busybox`).
        public var path: String
        public var kind: Kind
        /// Permission bits only (e.g. 0o755); the type bits come from `kind`.
        public var permissions: UInt32

        public init(path: String, kind: Kind, permissions: UInt32) {
            self.path = path
            self.kind = kind
            self.permissions = permissions
        }

        /// st_mode: S_IFDIR 0o040000, S_IFREG 0o100000, S_IFLNK 0o120000,
        /// S_IFCHR 0o020000, or'ed with the permissions.
        public var mode: UInt32 {
            let type: UInt32 = switch kind {
            case .directory: 0o040000
            case .file: 0o100000
            case .symlink: 0o120000
            case .characterDevice: 0o020000
            }
            return type | (permissions & 0o7777)
        }

        var data: [UInt8] {
            switch kind {
            case .file(let bytes): bytes
            case .symlink(let target): Array(target.utf8)
            case .directory, .characterDevice: []
            }
        }
    }

    public static let magic = "070701"
    public static let headerSize = 110
    public static let trailerName = "TRAILER!!!"

    public var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    public mutating func directory(_ path: String, permissions: UInt32 = 0o755) {
        entries.append(Entry(path: path, kind: .directory, permissions: permissions))
    }

    public mutating func file(_ path: String, _ bytes: [UInt8], permissions: UInt32) {
        entries.append(Entry(path: path, kind: .file(bytes), permissions: permissions))
    }

    public mutating func symlink(_ path: String, to target: String) {
        entries.append(Entry(path: path, kind: .symlink(target: target), permissions: 0o777))
    }

    public mutating func characterDevice(_ path: String, major: UInt32, minor: UInt32, permissions: UInt32 = 0o600) {
        entries.append(Entry(path: path, kind: .characterDevice(major: major, minor: minor), permissions: permissions))
    }

    /// The archive's bytes: every entry in order, then the trailer. Inode
    /// numbers count from 1; the trailer's fields are all zero.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, entry) in entries.enumerated() {
            let rdev: (UInt32, UInt32) = if case .characterDevice(let major, let minor) = entry.kind { (major, minor) } else { (0, 0) }
            Self.append(
                name: entry.path, data: entry.data,
                fields: [UInt32(index + 1), entry.mode, 0, 0, entry.kind == .directory ? 2 : 1, 0,
                         UInt32(entry.data.count), 0, 0, rdev.0, rdev.1],
                to: &bytes)
        }
        Self.append(name: Self.trailerName, data: [], fields: [UInt32](repeating: 0, count: 11), to: &bytes)
        return bytes
    }

    /// One entry. `fields` are ino, mode, uid, gid, nlink, mtime, filesize,
    /// devmajor, devminor, rdevmajor, rdevminor; namesize and check (0: no
    /// checksum in "070701") follow.
    static func append(name: String, data: [UInt8], fields: [UInt32], to bytes: inout [UInt8]) {
        let nameBytes = Array(name.utf8) + [0]
        var header = magic
        for field in fields + [UInt32(nameBytes.count), 0] {
            header += hex8(field)
        }
        bytes += Array(header.utf8)
        bytes += nameBytes
        pad(&bytes)
        bytes += data
        pad(&bytes)
    }

    /// Eight upper-case hex digits, as GNU cpio writes them.
    static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func pad(_ bytes: inout [UInt8]) {
        bytes += [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
    }
}

/// The Linux guest's initramfs: busybox, its applet links, /init
/// (Guest/linux/init), the mount points /init uses, and /dev/console (the
/// kernel opens it for init's stdin/stdout/stderr before /dev is mounted).
public struct InitramfsBuilder: Sendable {
    /// The applets Guest/linux/init calls, each a symlink to busybox in
    /// /bin; `poweroff` is also in /sbin, where scripts commonly look.
    public static let applets = [
        "sh", "mount", "cat", "echo", "grep", "uname", "md5sum", "sha256sum", "seq", "true", "dd",
        "sleep", "poweroff", "nproc", "taskset",
    ]
    public static let sbinApplets = ["poweroff"]

    public var initScript: [UInt8]
    public var busybox: [UInt8]

    public init(initScript: [UInt8], busybox: [UInt8]) {
        self.initScript = initScript
        self.busybox = busybox
    }

    public func archive() -> NewcArchive {
        var archive = NewcArchive()
        for directory in ["bin", "sbin", "proc", "sys", "dev"] { archive.directory(directory) }
        archive.characterDevice("dev/console", major: 5, minor: 1)
        archive.file("init", initScript, permissions: 0o755)
        archive.file("bin/busybox", busybox, permissions: 0o755)
        for applet in Self.applets { archive.symlink("bin/\(applet)", to: "busybox") }
        for applet in Self.sbinApplets { archive.symlink("sbin/\(applet)", to: "/bin/busybox") }
        return archive
    }

    /// The uncompressed newc archive (the kernel unpacks it as it is).
    public func build() -> [UInt8] { archive().serialized() }
}
