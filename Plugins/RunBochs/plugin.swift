import PackagePlugin

/// `swift package run-bochs [options]`: see `swift package run-bochs --help`.
@main
struct RunBochs: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        try PXHVToolInvocation.run("run-bochs", context: context, arguments: arguments)
    }
}
