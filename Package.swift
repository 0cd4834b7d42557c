// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

#if os(Linux)
let czmqTarget: Target = .systemLibrary(name: "CZMQ")
#else
let czmqTarget: Target = .systemLibrary(name: "CZMQ", pkgConfig: "libczmq", providers: [.brew(["czmq"]), .apt(["libczmq-dev"])])
#endif

let package = Package(
    name: "Routilux",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RoutiluxCore", targets: ["RoutiluxCore"]),
        .library(name: "RoutiluxWorker", targets: ["RoutiluxWorker"]),
        .library(name: "RoutiluxBuiltins", targets: ["RoutiluxBuiltins"]),
        .executable(name: "routilux-coordinator", targets: ["routilux-coordinator"]),
        .executable(name: "routilux-worker", targets: ["routilux-worker"]),
        .executable(name: "routilux", targets: ["routilux"]),
        .executable(name: "routilux-bench", targets: ["routilux-bench"]),
        .executable(name: "routilux-fuzz", targets: ["routilux-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Child processes (Exec's commands, routilux run's local workers): process
        // groups, signal reset, fd hygiene, teardown and async I/O done once, well.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        // The benchmark's latency percentiles.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // The coordinator's journal: SQLite (Debian's libsqlite3-dev) in WAL mode.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Graceful shutdown of the long-running processes (ServiceGroup, signals).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The coordinator's HTTP API (`--http`). Its swift-configuration trait is off: nothing here reads config that way.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        // The C library, through Debian's libczmq-dev. On Linux its headers are in
        // /usr/include and the module map links czmq and zmq, so pkg-config is not
        // asked: libzmq's .pc pulls in `-isystem /usr/include/mit-krb5`, a flag
        // SwiftPM refuses with a warning on every command. `make deps` (and CI)
        // install libczmq-dev when it is missing.
        czmqTarget,
        // Core model: JSON values, routines, flows, JobState, registry. No ZeroMQ.
        .target(
            name: "RoutiluxCore",
            dependencies: [
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // Wire protocol: every message as a Codable type, framing, versioning.
        .target(name: "RoutiluxWire", dependencies: ["RoutiluxCore"], swiftSettings: strict),
        // The Swift face of CZMQ: one I/O thread owns every socket.
        .target(
            name: "RoutiluxTransport",
            dependencies: [
                "CZMQ",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The coordinator's durable store: flows, jobs, their logs and tasks, in SQLite through GRDB.
        .target(
            name: "RoutiluxStore",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // The sans-IO scheduling core and its thin ZeroMQ shell.
        .target(
            name: "RoutiluxCoordinator",
            dependencies: [
                "RoutiluxCore", "RoutiluxWire", "RoutiluxTransport", "RoutiluxStore",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // What every executable's command line shares: exit codes, --version, endpoint checks.
        .target(
            name: "RoutiluxCommandLine",
            dependencies: [
                "RoutiluxCore", "RoutiluxWire", "RoutiluxTransport", "RoutiluxStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Hosts routine instances and runs slot handlers.
        .target(
            name: "RoutiluxWorker",
            dependencies: [
                "RoutiluxCore", "RoutiluxWire", "RoutiluxTransport", "RoutiluxCommandLine",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The routines the stock worker ships.
        .target(
            name: "RoutiluxBuiltins",
            dependencies: [
                "RoutiluxCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // The coordinator's HTTP API: JSON under /api/v1, bearer tokens, the error envelope.
        .target(
            name: "RoutiluxHTTP",
            dependencies: [
                "RoutiluxCoordinator", "RoutiluxCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "routilux-coordinator",
            dependencies: [
                "RoutiluxCoordinator", "RoutiluxBuiltins", "RoutiluxTransport", "RoutiluxCommandLine", "RoutiluxHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "routilux-worker",
            dependencies: [
                "RoutiluxWorker", "RoutiluxBuiltins",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "routilux",
            dependencies: [
                "RoutiluxCoordinator", "RoutiluxBuiltins", "RoutiluxTransport", "RoutiluxCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "routilux-bench",
            dependencies: [
                "RoutiluxCoordinator", "RoutiluxBuiltins", "RoutiluxTransport", "RoutiluxWorker", "RoutiluxStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        // Examples/custom-worker's worker, built here too (same sources) so that the
        // tests run it without building the library a second time; the example's
        // own Package.swift stays the way users build it.
        .executableTarget(
            name: "example-custom-worker",
            dependencies: ["RoutiluxCore", "RoutiluxWorker", "RoutiluxBuiltins"],
            path: "Examples/custom-worker/Sources/my-worker",
            swiftSettings: strict
        ),
        // Helpers the test targets share (waiting on conditions, watching processes).
        .target(name: "RoutiluxTestSupport", path: "Tests/RoutiluxTestSupport", swiftSettings: strict),
        // The fuzz target: the wire decoder and the coordinator core, fed hostile bytes (`make fuzz`).
        .executableTarget(
            name: "routilux-fuzz",
            dependencies: ["RoutiluxCoordinator", "RoutiluxBuiltins", "RoutiluxCore", "RoutiluxWire", "CLibFuzzer"],
            swiftSettings: strict
        ),
        // libFuzzer's driver, declared for the fuzz target (defined by the runtime `-sanitize=fuzzer` links).
        .target(name: "CLibFuzzer"),
        .testTarget(
            name: "RoutiluxCoreTests", dependencies: ["RoutiluxCore", "RoutiluxBuiltins", "RoutiluxTestSupport"],
            exclude: ["Fixtures"],  // read by path, with the script that made them
            swiftSettings: strict),
        .testTarget(name: "RoutiluxWireTests", dependencies: ["RoutiluxWire", "RoutiluxCore"], swiftSettings: strict),
        .testTarget(
            name: "RoutiluxCoordinatorTests",
            dependencies: ["RoutiluxCoordinator", "RoutiluxBuiltins", "RoutiluxWorker", "RoutiluxStore", "RoutiluxHTTP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RoutiluxIntegrationTests",
            dependencies: ["RoutiluxCore", "RoutiluxWire", "RoutiluxTransport", "RoutiluxTestSupport"],
            swiftSettings: strict
        ),
    ]
)
