import RoutiluxCore

/// A custom merge strategy: the slot keeps the delivery with the most words so far.
let keepMostWords: MergeFunction = { state, new in
    (new["words"]?.intValue ?? 0) > (state["words"]?.intValue ?? -1) ? new : state
}

/// Emits, after each delivery, the best one of the job so far (merge `most_words`,
/// registered in main.swift; its state is kept per job by the coordinator).
let bestType = RoutineType("Best", summary: "the delivery with the most words so far") { config in
    var routine = RoutineDefinition(config: config)
    routine.event("best")
    routine.slot("input", merge: .custom("most_words")) { data, ctx in
        try ctx.emit("best", data)
    }
    return routine
}
