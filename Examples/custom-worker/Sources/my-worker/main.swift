import RoutiluxBuiltins
import RoutiluxCore
import RoutiluxWorker

// The stock routines plus ours. `my-worker join tcp://HOST:PORT` serves a
// coordinator, which learns these types when the worker joins (no restart, no
// catalogue file); `my-worker types --json` prints what it hosts.
var registry = Builtins.registry
registry.register(wordCountType)
registry.register(greeterType)
registry.register(bestType)
registry.register(classifyType)
registry.registerMerge("most_words", keepMostWords)
await WorkerCommand.main(registry: registry)
