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
    let trapped: [UnixSignal] = interrupts ? [.sigterm, .sigint] : [.sigterm]
    if !interrupts { signal(SIGINT, SIG_IGN) }
    // One handler sees every signal from here on: the first starts the group's graceful
    // shutdown, a second means "now" (ServiceGroup acts on the first only).
    let signals = await UnixSignalsSequence(trapping: trapped)
    let service = SignalledService(body: body, graceful: graceful, immediate: immediate)
    var config = ServiceGroupConfiguration(
        services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)],
        logger: logger)
    config.maximumGracefulShutdownDuration = gracefulLimit
    let group = ServiceGroup(configuration: config)
    let watcher = Task {
        var seen = 0
        for await _ in signals {
            seen += 1
            if seen == 1 { await group.triggerGracefulShutdown() } else { immediate() }
        }
    }
    defer { watcher.cancel() }
    try await group.run()
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
