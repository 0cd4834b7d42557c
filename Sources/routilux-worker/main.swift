import RoutiluxBuiltins
import RoutiluxWorker

// The stock worker: every builtin routine.
await WorkerCommand.main(registry: Builtins.registry)
