// swift-tools-version: 6.1
//
// pxHV: a bare-metal Type-1 hypervisor for x86-64 in Embedded Swift.
//
// The library modules (Primitives, VMXCore, SVMCore, EPT, VMExit, Devices, Loader,
// BIOSServices) hold logic only and build twice: hosted for `swift test`, and
// embedded for the bare-metal program (see Tools/Toolsets/embedded-x86_64.json and
// `swift package build-image`). `Hypervisor` and `X86` are the bare-metal
// program and its instruction shim; they compile hosted too, but only the
// embedded build ever runs them.
import PackageDescription

let package = Package(
    name: "pxHV",
    products: [
        // The bare-metal program: built by `pxhv-tool build-image` with
        // `--triple x86_64-unknown-none-elf` into one static archive.
        .library(name: "PXHVKernel", type: .static, targets: ["Hypervisor"]),
        .executable(name: "pxhv-tool", targets: ["pxhv-tool"]),
        // The hosted libraries, for the fuzz package in Fuzz/ (libFuzzer).
        .library(name: "PXHVLibraries", targets: ["Primitives", "VMXCore", "SVMCore", "EPT", "VMExit", "Devices", "Loader", "BIOSServices"]),
        .plugin(name: "build-image", targets: ["BuildImage"]),
        .plugin(name: "run-qemu", targets: ["RunQEMU"]),
        .plugin(name: "run-bochs", targets: ["RunBochs"]),
    ],
    targets: [
        // Privileged instructions as static inline C, the 64-bit entry and
        // the freestanding runtime support (memset, posix_memalign, ...).
        .target(name: "X86"),

        // What every module shares: bit fields, physical-memory access,
        // fixed-capacity arrays, and `Message`, the String-free text of
        // every diagnostic.
        .target(name: "Primitives"),
        .target(name: "EPT", dependencies: ["Primitives"]),
        .target(name: "VMXCore", dependencies: ["Primitives", "EPT"]),
        // AMD-V beside VT-x: the VMCB, SVM capabilities and checks.
        .target(name: "SVMCore", dependencies: ["Primitives", "VMXCore"]),
        .target(name: "Loader", dependencies: ["Primitives", "EPT"]),
        .target(name: "VMExit", dependencies: ["Primitives", "VMXCore", "SVMCore", "EPT", "Devices"]),
        .target(name: "Devices", dependencies: ["Primitives"]),
        // The BIOS services (INT 13h disk) for real-mode guests: plain values in and out.
        .target(name: "BIOSServices", dependencies: ["Primitives", "EPT"]),

        .target(
            name: "Hypervisor",
            dependencies: ["X86", "Primitives", "VMXCore", "SVMCore", "EPT", "VMExit", "Devices", "Loader", "BIOSServices"]),

        // Hosted tool behind the command plugins: image building, emulator
        // launching. Plugins stay thin; this is where the logic is tested.
        .target(name: "PXHVToolKit", dependencies: ["Loader", "BIOSServices"]),
        .executableTarget(name: "pxhv-tool", dependencies: ["PXHVToolKit"], path: "Sources/PXHVTool"),

        // The NASM boot stages, assembled by the build-tool plugin so that
        // tests can read the real bytes (they become resources).
        .target(
            name: "BootStages",
            path: "Boot",
            exclude: ["hypervisor.ld", "README.md"],
            resources: [.copy("layout.inc")],
            plugins: ["NASMStages"]),

        .plugin(name: "NASMStages", capability: .buildTool(), path: "Plugins/NASMStages"),
        .plugin(
            name: "BuildImage",
            capability: .command(
                intent: .custom(verb: "build-image", description: "Build the pxHV boot image and ISO")),
            dependencies: ["pxhv-tool"], path: "Plugins/BuildImage"),
        .plugin(
            name: "RunQEMU",
            capability: .command(
                intent: .custom(verb: "run-qemu", description: "Build the image and boot it in QEMU")),
            dependencies: ["pxhv-tool"], path: "Plugins/RunQEMU"),
        .plugin(
            name: "RunBochs",
            capability: .command(
                intent: .custom(verb: "run-bochs", description: "Build the image and boot it in Bochs (VT-x)")),
            dependencies: ["pxhv-tool"], path: "Plugins/RunBochs"),

        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives"]),
        .testTarget(name: "VMXCoreTests", dependencies: ["VMXCore"]),
        .testTarget(name: "SVMCoreTests", dependencies: ["SVMCore"]),
        .testTarget(name: "EPTTests", dependencies: ["EPT"]),
        // Test support: a per-thread count of heap allocations (it replaces
        // malloc in the test process; see the file for why).
        .target(name: "AllocationCounting", path: "Tests/AllocationCounting"),
        .testTarget(name: "VMExitTests", dependencies: ["VMExit", "AllocationCounting"]),
        .testTarget(name: "DevicesTests", dependencies: ["Devices"]),
        .testTarget(name: "LoaderTests", dependencies: ["Loader"]),
        .testTarget(name: "BIOSServicesTests", dependencies: ["BIOSServices"]),
        .testTarget(name: "BootTests", dependencies: ["BootStages", "Loader"]),
        .testTarget(name: "PXHVToolKitTests", dependencies: ["PXHVToolKit"]),
        .testTarget(name: "EndToEndTests", dependencies: ["PXHVToolKit"]),
    ]
)
