import Foundation
public enum BootStages {}
