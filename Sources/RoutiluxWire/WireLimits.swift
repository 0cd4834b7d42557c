/// The ranges every number and string read from the wire must lie in. The
/// decoder refuses a header outside them (a malformed message), so nothing
/// downstream does arithmetic on a hostile value.
public enum WireLimits {
    /// Credit and capacity a worker may claim (the coordinator caps credit far lower: `--max-credit`).
    public static let maxCredit = 1_000_000
    /// A task's attempt number.
    public static let maxAttempt = 1_000_000
    /// Heartbeat intervals and timeouts, milliseconds (a year).
    public static let maxDurationMs = 31_536_000_000
    /// A handler's reported wall time, microseconds (a year).
    public static let maxHandlerUs = 31_536_000_000_000
    /// Task ids: exact in every JSON reader.
    public static let maxTaskId = 1 << 53
    /// Ids, tokens, sessions, type names, host names (bytes).
    public static let maxNameLength = 256
    /// Endpoints (bytes).
    public static let maxEndpointLength = 1024
    /// Routine types one worker hosts; tasks one heartbeat lists.
    public static let maxListLength = 100_000
    /// PARTs one attempt may send (a million of them, of up to `maxPartEntries` each).
    public static let maxParts = 1_000_000
    /// Emissions plus outputs in one PART.
    public static let maxPartEntries = 100_000
    /// PARTs of one attempt that may await their STAGED at once.
    public static let maxPartWindow = 1024
    /// A process id.
    public static let maxPid = Int(Int32.max)
}
