import PackagePlugin
@main struct BuildImage: CommandPlugin {
  func performCommand(context: PluginContext, arguments: [String]) async throws {}
}
