import RoutiluxCore

/// The 4-stage linear pipeline of the integration tests and the benchmark:
/// source → stage → stage → sink; each stage adds a field.
let pipeline4 = """
    flow_id: p4
    routines:
      source: {type: Splitter, config: {field: items}}
      stage1:
        type: Mapper
        config: {mappings: {len: {path: text, transform: length}}}
      stage2:
        type: Mapper
        config: {mappings: {upper: {path: text, transform: upper}}}
      sink: {type: Collector}
    connections:
      - {from: source.item, to: stage1.input, param_mapping: {item: data}}
      - {from: stage1.output, to: stage2.input, param_mapping: {mapped_data: data}}
      - {from: stage2.output, to: sink.input, param_mapping: {mapped_data: data}}
    execution: {strategy: concurrent, max_workers: 6}
    entry: {routine: source}
    """

/// `{"items": [{"i": 0, "text": "hello world", "tag": TAG}, ...]}`
func pipelineParams(_ n: Int, tag: String = "t") -> String {
    JSONValue.object(["items": .array((0..<n).map { ["i": .int($0), "text": "hello world", "tag": .string(tag)] })]).jsonString()
}

/// The `i` of every item the sink collected.
func collectedIndexes(_ state: JobState) -> [Int] {
    state.outputLog.compactMap { $0["data"]["i"].intValue }
}
