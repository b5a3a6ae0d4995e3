// VMXCore module
public enum VMXCorePlaceholder {}
