import Foundation
import Loader

extension ImageBuilder {
    /// `--guest multiboot`: the kernel given with `--kernel`, its modules and command line.
    func multibootGuestBlobs() throws -> [PayloadBuilder.Blob] {
        throw ToolError("--guest multiboot: not built yet")
    }
}
