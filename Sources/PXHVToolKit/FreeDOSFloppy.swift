import Foundation
import Loader

extension ImageBuilder {
    /// `--guest freedos`: a boot floppy made from the image given with `--freedos`.
    func freeDOSGuestBlobs() throws -> [PayloadBuilder.Blob] {
        throw ToolError("--guest freedos: not built yet")
    }
}
