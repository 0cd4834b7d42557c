import DequeModule

/// A job's queued tasks, FIFO by position, in one lane per routine depth (its
/// distance from the entry routine). Taken oldest first, or, when the job's
/// queue is long and it may run tasks in parallel, deepest lane first: items
/// then reach the sink while the source still emits, and the queue stops growing.
///
/// With a journal, a lane may **spill**: tasks appended while the coordinator
/// holds its bound of queued tasks in memory stay only in the store (they are
/// journalled anyway) and are read back, in order, as the lane runs low.
struct TaskQueue: Sequence {
    private var lanes: [Deque<PendingTask>] = []
    /// Per lane: tasks only in the store, the largest position ever held in memory
    /// (spilled tasks all come after it), and whether a read-back is under way.
    private var spilledByLane: [Int] = []
    private var tails: [Double] = []
    private(set) var loading: Set<Int> = []
    /// Tasks in memory; tasks only in the store.
    private(set) var count = 0
    private(set) var spilled = 0

    var isEmpty: Bool { count == 0 }
    /// Every queued task, in memory or not.
    var total: Int { count + spilled }

    private mutating func lane(_ depth: Int) -> Int {
        let d = Swift.max(0, Swift.min(depth, 10_000))
        while lanes.count <= d {
            lanes.append([])
            spilledByLane.append(0)
            tails.append(-.infinity)
        }
        return d
    }

    /// Appends a task; with `spill` (or when its lane already spills) it is counted, not held. True: held.
    @discardableResult
    mutating func append(_ t: PendingTask, depth: Int, spill: Bool = false) -> Bool {
        let d = lane(depth)
        if spill || spilledByLane[d] > 0 {
            spilledByLane[d] += 1
            spilled += 1
            return false
        }
        lanes[d].append(t)
        tails[d] = Swift.max(tails[d], t.position)
        count += 1
        return true
    }

    /// Back at the front (a task taken back from a worker): its position is the smallest.
    mutating func prepend(_ t: PendingTask, depth: Int) {
        lanes[lane(depth)].prepend(t)
        count += 1
    }

    /// The next task and its lane: the oldest of all, or with `deepestFirst` the deepest lane's oldest.
    /// (A lane whose memory ran out while some of it is spilled waits for its read-back.)
    func next(deepestFirst: Bool) -> (lane: Int, task: PendingTask)? {
        // Oldest first means oldest of all: a lane whose next tasks are still in the store is waited for.
        if !deepestFirst, lanes.indices.contains(where: { lanes[$0].isEmpty && spilledByLane[$0] > 0 }) { return nil }
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
        spilledByLane = []
        tails = []
        loading = []
        count = 0
        spilled = 0
    }

    /// A lane to read back now: some of it spilled, little of it in memory (or, with `all`, any
    /// amount), no read-back under way. Returns the lane, where to read from, and how many (at most `room`).
    mutating func takeReadBack(lowWater: Int, batch: Int, room: Int, all: Bool = false) -> (lane: Int, after: Double, limit: Int)? {
        for d in lanes.indices where spilledByLane[d] > 0 && (all || lanes[d].count < lowWater) && !loading.contains(d) {
            loading.insert(d)
            return (d, tails[d], Swift.max(1, Swift.min(batch, spilledByLane[d], room)))
        }
        return nil
    }

    /// Rows read back for lane `d`, in position order, each with its task (nil: the row could not
    /// be read; it is passed over). Returns how many joined the memory. `limit`: how many were
    /// asked (fewer rows means the store has no more).
    mutating func readBack(lane d: Int, _ rows: [(position: Double, task: PendingTask?)], limit: Int) -> Int {
        guard d < lanes.count else { return 0 }
        loading.remove(d)
        var added = 0
        for r in rows where r.position > tails[d] && spilledByLane[d] > 0 {
            tails[d] = r.position
            spilledByLane[d] -= 1
            spilled -= 1
            guard let t = r.task else { continue }
            lanes[d].append(t)
            count += 1
            added += 1
        }
        if rows.count < limit && spilledByLane[d] > 0 {
            // The store holds fewer than counted (dropped with a failed run): nothing more to wait for.
            spilled -= spilledByLane[d]
            spilledByLane[d] = 0
        }
        return added
    }

    /// A read-back that failed: the lane may ask again.
    mutating func readFailed(lane d: Int) { loading.remove(d) }

    /// Every task in memory, oldest first.
    func makeIterator() -> IndexingIterator<[PendingTask]> {
        lanes.flatMap { $0 }.sorted { $0.position < $1.position }.makeIterator()
    }
}
