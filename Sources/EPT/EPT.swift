// EPT module
public enum EPTPlaceholder {}
