import Foundation
import Loader

extension ImageBuilder {
    /// `--guest bios`: the disk image given with `--disk-image`, checked.
    func biosGuestBlobs() throws -> [PayloadBuilder.Blob] {
        throw ToolError("--guest bios: not built yet")
    }
}
