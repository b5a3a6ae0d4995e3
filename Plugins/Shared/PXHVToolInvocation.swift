// Shared by the three command plugins (symlinked into each plugin's
// directory): the plugins only gather arguments and run `pxhv-tool`, which
// holds the logic and its tests (Sources/PXHVToolKit).
import Foundation
import PackagePlugin

enum PXHVToolInvocation {
    /// Runs `pxhv-tool <command> --package-path <package> <arguments>` with
    /// our terminal, and ends the plugin with its exit status.
    static func run(_ command: String, context: PluginContext, arguments: [String]) throws -> Never {
        let tool = try context.tool(named: "pxhv-tool")
        let process = Process()
        process.executableURL = tool.url
        process.arguments = [command, "--package-path", context.package.directoryURL.path] + arguments
        try process.run()
        process.waitUntilExit()
        exit(process.terminationStatus)
    }
}
