import PackagePlugin
@main struct RunQEMU: CommandPlugin {
  func performCommand(context: PluginContext, arguments: [String]) async throws {}
}
