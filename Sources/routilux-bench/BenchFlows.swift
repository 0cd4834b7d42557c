/// The flows the benchmark runs (the peers in bench/peers run the same shapes).
enum BenchFlows {
    /// source → stage1 → stage2 → sink: 3 deliveries per item (plus the entry).
    static let linear = """
        flow_id: linear
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
        execution: {strategy: concurrent, max_workers: 64}
        """

    /// source → 4 branches → sink: 8 deliveries per item (plus the entry).
    static let fanout = """
        flow_id: fanout
        routines:
          source: {type: Splitter, config: {field: items}}
          b1: {type: Mapper, config: {mappings: {len: {path: text, transform: length}}}}
          b2: {type: Mapper, config: {mappings: {upper: {path: text, transform: upper}}}}
          b3: {type: Mapper, config: {mappings: {lower: {path: text, transform: lower}}}}
          b4: {type: Mapper, config: {mappings: {i: {path: i}}}}
          sink: {type: Collector}
        connections:
          - {from: source.item, to: b1.input, param_mapping: {item: data}}
          - {from: source.item, to: b2.input, param_mapping: {item: data}}
          - {from: source.item, to: b3.input, param_mapping: {item: data}}
          - {from: source.item, to: b4.input, param_mapping: {item: data}}
          - {from: b1.output, to: sink.input, param_mapping: {mapped_data: data}}
          - {from: b2.output, to: sink.input, param_mapping: {mapped_data: data}}
          - {from: b3.output, to: sink.input, param_mapping: {mapped_data: data}}
          - {from: b4.output, to: sink.input, param_mapping: {mapped_data: data}}
        execution: {strategy: concurrent, max_workers: 64}
        """

    /// One stamped emission into a measuring handler: a single-item job's hop.
    static let hop = """
        flow_id: hop
        routines:
          stamp: {type: HopStamp}
          measure: {type: HopMeasure}
        connections:
          - {from: stamp.output, to: measure.input}
        entry: {routine: stamp}
        execution: {strategy: concurrent, max_workers: 64}
        """

    /// Every item stamped, then measured: hops under load.
    static let hopLoad = """
        flow_id: hop_load
        routines:
          source: {type: Splitter, config: {field: items}}
          stamp: {type: HopStamp}
          measure: {type: HopMeasure}
        connections:
          - {from: source.item, to: stamp.input}
          - {from: stamp.output, to: measure.input}
        execution: {strategy: concurrent, max_workers: 64}
        """

    /// A CPU-bound stage between a source and a sink.
    static func spin(cpuMicros: Int) -> String {
        """
        flow_id: spin
        routines:
          source: {type: Splitter, config: {field: items}}
          work: {type: Spin, config: {cpu_us: \(cpuMicros)}}
          sink: {type: Collector}
        connections:
          - {from: source.item, to: work.input}
          - {from: work.output, to: sink.input}
        execution: {strategy: concurrent, max_workers: 64}
        """
    }

    /// The backlog scenario: a source emitting --items into a stage far slower than it.
    static let backlog = """
        flow_id: bench
        routines:
          source: {type: Splitter, config: {field: items}}
          slow: {type: Delay, config: {seconds: 30}}
          sink: {type: Collector}
        connections:
          - {from: source.item, to: slow.input}
          - {from: slow.output, to: sink.input}
        execution: {strategy: concurrent, max_workers: 2}
        """
}
