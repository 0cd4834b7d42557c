#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a long-running process's work as the one service of a `ServiceGroup`:
/// the first SIGTERM or SIGINT starts its graceful shutdown (`graceful`: the
/// worker drains, the coordinator tells its clients and commits), a second one
/// (or the group's cancellation) calls `immediate`. `body` returns when the
/// work is over; its error ends the process as usual.
/// `interrupts`: SIGINT counts too (a supervised worker leaves it to its supervisor).
public func runUntilSignalled(
    logger: Logger, gracefulLimit: Duration? = nil, interrupts: Bool = true, _ body: @escaping @Sendable () async throws -> Void,
    graceful: @escaping @Sendable () -> Void, immediate: @escaping @Sendable () -> Void
) async throws {
    let signals: [UnixSignal] = interrupts ? [.sigterm, .sigint] : [.sigterm]
    if !interrupts { signal(SIGINT, SIG_IGN) }
    let service = SignalledService(body: body, graceful: graceful, immediate: immediate)
    var config = ServiceGroupConfiguration(
        services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)],
        gracefulShutdownSignals: signals, logger: logger)
    config.maximumGracefulShutdownDuration = gracefulLimit
    // ServiceGroup acts on the first signal only: a second one means "now".
    let watcher = Task {
        var seen = 0
        for await _ in await UnixSignalsSequence(trapping: signals) {
            seen += 1
            if seen >= 2 { immediate() }
        }
    }
    defer { watcher.cancel() }
    try await ServiceGroup(configuration: config).run()
}

struct SignalledService: Service, CustomStringConvertible {
    let body: @Sendable () async throws -> Void
    let graceful: @Sendable () -> Void
    let immediate: @Sendable () -> Void
    var description: String { "routilux" }

    func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await body()
            } onGracefulShutdown: {
                graceful()
            }
        } onCancel: {
            immediate()
        }
    }
}
