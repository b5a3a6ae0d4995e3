// Loader module
public enum LoaderPlaceholder {}
