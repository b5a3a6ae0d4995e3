import PackagePlugin
@main struct RunBochs: CommandPlugin {
  func performCommand(context: PluginContext, arguments: [String]) async throws {}
}
