// VMExit module
public enum VMExitPlaceholder {}
