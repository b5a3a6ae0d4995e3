import PackagePlugin

/// `swift package run-qemu [options]`: see `swift package run-qemu --help`.
@main
struct RunQEMU: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        try PXHVToolInvocation.run("run-qemu", context: context, arguments: arguments)
    }
}
