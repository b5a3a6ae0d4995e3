import Foundation
import Loader

extension ImageBuilder {
    /// `--guest bios`: the disk image given with `--disk-image`, checked.
    func biosGuestBlobs() throws -> [PayloadBuilder.Blob] {
        let path = options.diskImage?.path ?? ""
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return [PayloadBuilder.Blob(kind: .diskImage, flags: bytes.count <= 2_949_120 ? 0 : 0x80, bytes: bytes)]
    }
}
