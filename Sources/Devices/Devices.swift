// Devices module
public enum DevicesPlaceholder {}
