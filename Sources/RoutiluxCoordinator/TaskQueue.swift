import DequeModule

/// A job's queued tasks, FIFO by position, in one lane per routine depth (its
/// distance from the entry routine). Taken oldest first, or, when the job's
/// queue is long and it may run tasks in parallel, deepest lane first: items
/// then reach the sink while the source still emits, and the queue stops growing.
struct TaskQueue: Sequence {
    private var lanes: [Deque<PendingTask>] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    private mutating func lane(_ depth: Int) -> Int {
        let d = Swift.max(0, Swift.min(depth, 10_000))
        while lanes.count <= d { lanes.append([]) }
        return d
    }

    mutating func append(_ t: PendingTask, depth: Int) {
        lanes[lane(depth)].append(t)
        count += 1
    }

    /// Back at the front (a task taken back from a worker): its position is the smallest.
    mutating func prepend(_ t: PendingTask, depth: Int) {
        lanes[lane(depth)].prepend(t)
        count += 1
    }

    /// The next task and its lane: the oldest of all, or with `deepestFirst` the deepest lane's oldest.
    func next(deepestFirst: Bool) -> (lane: Int, task: PendingTask)? {
        if deepestFirst {
            for d in lanes.indices.reversed() { if let t = lanes[d].first { return (d, t) } }
            return nil
        }
        var best: (lane: Int, task: PendingTask)?
        for d in lanes.indices {
            guard let t = lanes[d].first else { continue }
            if best == nil || t.position < best!.task.position { best = (d, t) }
        }
        return best
    }

    mutating func removeFirst(lane d: Int) {
        lanes[d].removeFirst()
        count -= 1
    }

    mutating func removeAll() {
        lanes = []
        count = 0
    }

    /// Every task, oldest first.
    func makeIterator() -> IndexingIterator<[PendingTask]> {
        lanes.flatMap { $0 }.sorted { $0.position < $1.position }.makeIterator()
    }
}
