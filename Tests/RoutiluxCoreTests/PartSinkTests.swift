import RoutiluxCore
import Synchronization
import Testing

/// Records the parts a context hands over.
final class RecordingSink: PartSink {
    let maxEntries: Int
    let maxBytes: Int
    let parts = Mutex<[EmissionPart]>([])
    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }
    func send(_ part: EmissionPart) { parts.withLock { $0.append(part) } }
    func waitForRoom() async throws {}
}

@Suite struct PartSinkTests {
    func context(_ sink: RecordingSink) -> HandlerContext {
        HandlerContext(jobId: "j", routineId: "r", slot: "input", config: [:], events: ["item"], sink: sink)
    }

    @Test func emissionsLeaveInPartsOfTheSinksSizeAndTheRestStaysForTheResult() throws {
        let sink = RecordingSink(maxEntries: 3, maxBytes: 1 << 20)
        let ctx = context(sink)
        for i in 0..<8 { try ctx.emit("item", ["i": .int(i)]) }
        ctx.sendOutput("done", .int(8))
        let parts = sink.parts.withLock { $0 }
        #expect(parts.map(\.count) == [3, 3, 3], "two parts of emissions, then one with the output")
        #expect(parts.flatMap { $0.emissions.map { try? $0.payload.value()["i"].intValue } } == (0..<8).map { $0 })
        let (rest, sent) = ctx.takeRemainder()
        #expect(sent == 3 && rest.isEmpty)
        #expect(ctx.emissions.isEmpty, "nothing held besides the parts")
    }

    @Test func aPartGoesBeforeAnEntryThatWouldTakeItOverTheByteSize() throws {
        let sink = RecordingSink(maxEntries: 1000, maxBytes: 100)
        let ctx = context(sink)
        try ctx.emit("item", ["s": "aaaaaaaaaa"])  // ~30 bytes with its name
        try ctx.emit("item", ["s": .string(String(repeating: "b", count: 90))])  // would take it over 100
        let parts = sink.parts.withLock { $0 }
        #expect(parts.count == 2, "the small one alone, then the big one alone: \(parts.map(\.count))")
        #expect(parts.first?.count == 1 && parts.first!.bytes < 100)
    }

    @Test func withoutASinkEverythingStaysForTheResult() throws {
        let ctx = HandlerContext(jobId: "j", routineId: "r", slot: "input", config: [:], events: ["item"])
        for i in 0..<5 { try ctx.emit("item", ["i": .int(i)]) }
        let (rest, sent) = ctx.takeRemainder()
        #expect(sent == 0 && rest.emissions.count == 5)
        #expect(ctx.emissions.count == 5)
    }
}
