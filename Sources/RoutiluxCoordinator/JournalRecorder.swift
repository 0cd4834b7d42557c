import RoutiluxCore
import RoutiluxStore

/// What the core changed during one turn, kept until the shell takes it as a
/// `JournalBatch`: the jobs touched, each task's net change, flows registered.
/// A task created and finished within the turn never reaches the store.
final class JournalRecorder {
    enum TaskChange {
        /// Created this turn (the store has no row yet).
        case created(PendingTask, jobId: String, place: TaskPlace, position: Double, extra: TaskExtra)
        /// Moved: the store has its row.
        case moved(PendingTask, place: TaskPlace, position: Double, extra: TaskExtra)
        case deleted
        /// Created and gone within the turn: nothing to write, unless it comes back (then it is created).
        case dropped(jobId: String)
    }

    /// Place-specific fields of a task's state blob.
    struct TaskExtra {
        var timerKey: String?
        /// Its queue lane (routine depth), for reading a spilled queue back.
        var lane = 0
    }

    var jobs: [String: JobRecord] = [:]
    var tasks: [UInt64: TaskChange] = [:]
    var flows: [(String, [UInt8])] = []
    var cleared: [String] = []
    /// Parts staged this turn (by attempt), and attempts whose parts go.
    var staged: [TaskAttempt: [StagedPart]] = [:]
    var stagedBytes = 0
    var unstaged: [TaskAttempt] = []

    var isEmpty: Bool { jobs.isEmpty && tasks.isEmpty && flows.isEmpty && cleared.isEmpty && staged.isEmpty && unstaged.isEmpty }

    func stage(_ part: StagedPart) {
        staged[TaskAttempt(taskId: part.taskId, attempt: part.attempt), default: []].append(part)
        stagedBytes += part.body.count
    }

    /// The attempt's parts go: those of this turn never reach the store.
    func unstage(_ a: TaskAttempt) {
        if let parts = staged.removeValue(forKey: a) { stagedBytes -= parts.reduce(0) { $0 + $1.body.count } }
        unstaged.append(a)
    }

    func touch(_ job: JobRecord) { jobs[job.id] = job }

    /// A task is now at `place` (queued, in flight, waiting to retry, a timer).
    func put(_ t: PendingTask, of job: JobRecord, at place: TaskPlace, position: Double, new: Bool, extra: TaskExtra = TaskExtra(), lane: Int? = nil) {
        var extra = extra
        if let lane { extra.lane = lane }
        touch(job)
        switch tasks[t.taskId] {
        case .created?, .dropped?:
            tasks[t.taskId] = .created(t, jobId: job.id, place: place, position: position, extra: extra)
        case .moved?, .deleted?:
            tasks[t.taskId] = .moved(t, place: place, position: position, extra: extra)
        case nil:
            tasks[t.taskId] = new
                ? .created(t, jobId: job.id, place: place, position: position, extra: extra)
                : .moved(t, place: place, position: position, extra: extra)
        }
    }

    /// A task is done (answered, cancelled timer, dropped).
    func gone(_ taskId: UInt64) {
        switch tasks[taskId] {
        case .created(_, let jobId, _, _, _)?: tasks[taskId] = .dropped(jobId: jobId)
        case .dropped?: break
        default: tasks[taskId] = .deleted
        }
    }

    /// Every task of the job is dropped (it failed or was cancelled).
    func clear(_ job: JobRecord) {
        touch(job)
        cleared.append(job.id)
        for a in staged.keys where staged[a]?.first?.jobId == job.id {
            stagedBytes -= staged.removeValue(forKey: a)?.reduce(0) { $0 + $1.body.count } ?? 0
        }
        for (id, change) in tasks {
            switch change {
            case .created(_, let jobId, _, _, _) where jobId == job.id: tasks.removeValue(forKey: id)
            case .dropped(let jobId) where jobId == job.id: tasks.removeValue(forKey: id)
            default: break
            }
        }
    }
}
