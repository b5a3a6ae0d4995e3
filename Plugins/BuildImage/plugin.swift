import PackagePlugin

/// `swift package build-image [options]`: see `swift package build-image --help`.
@main
struct BuildImage: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        try PXHVToolInvocation.run("build-image", context: context, arguments: arguments)
    }
}
