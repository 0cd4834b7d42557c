import ArgumentParser
import Foundation
import Logging
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWorker

// The benchmark starts its worker processes from its own binary (`routilux-bench
// join ...` is the stock worker plus the benchmark's hop routines), so
// `swift run -c release routilux-bench` needs nothing else built.
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "join" {
    await WorkerCommand.main(registry: BenchRoutines.registry)
} else {
    await runBench()
}

/// The async entry (at top level, `Bench.main()` would pick the synchronous overload).
func runBench() async { await Bench.main() }
