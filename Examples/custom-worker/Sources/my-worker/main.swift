import RoutiluxBuiltins
import RoutiluxCore
import RoutiluxWorker

// The stock routines plus ours. `my-worker join tcp://HOST:PORT` serves a
// coordinator; `my-worker types --json` tells `routilux run --worker` (and
// `routilux-coordinator start --catalogue`) which types and ports exist.
var registry = Builtins.registry
registry.register(wordCountType)
registry.register(greeterType)
registry.register(bestType)
registry.registerMerge("most_words", keepMostWords)
await WorkerCommand.main(registry: registry)
