import Foundation
print("pxhv-tool")
