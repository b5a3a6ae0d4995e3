import Foundation
import PXHVToolKit

exit(ToolCommand.main(Array(CommandLine.arguments.dropFirst())))
