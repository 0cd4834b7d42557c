import ArgumentParser

/// `--max-message-bytes`, for every process on the wire.
public struct MessageLimitArguments: ParsableArguments {
    @Option(help: "The largest message accepted or sent, bytes: a bigger request is refused before it is sent, a bigger result fails its task with PayloadTooLarge.")
    public var maxMessageBytes: Int = 64 << 20

    public init() {}

    public func validate() throws {
        if !(1024...Int(Int32.max)).contains(maxMessageBytes) { throw ValidationError("--max-message-bytes must be 1024 to 2147483647") }
    }
}
