import ArgumentParser
import Foundation
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore

/// `routilux flow ...`: work with flow files.
struct FlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Check and export flow files.",
        subcommands: [Validate.self, Export.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate flow files against the builtin routines, custom catalogues and custom worker executables.",
            discussion: "Prints one line per file. Exit codes: 0 all valid, 2 any invalid.")

        @Argument(help: "Flow files (YAML or JSON).")
        var files: [String]
        @Option(name: .customLong("catalogue"), help: "Routine types of a custom worker (from `WORKER types --json`); repeatable. Exact for routines with an empty config only.")
        var catalogues: [String] = []
        @Option(name: .customLong("worker"), help: "A custom worker executable, asked for its types and to describe each of them for the configs the flows use (exact, like a joined worker); repeatable.")
        var workers: [String] = []

        func run() async throws {
            var catalogue = Builtins.registry.catalogue
            var hosts: [String: WorkerQuery] = [:]
            do {
                for c in catalogues { catalogue.merge(try CatalogueFiles.load(c)) }
                for w in workers {
                    let query = WorkerQuery(executable: w)
                    let theirs = try await query.catalogue()
                    for t in theirs.typeNames where !catalogue.isCompiled(t) && hosts[t] == nil { hosts[t] = query }
                    catalogue.merge(theirs)
                }
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
            var bad = false
            for f in files {
                do {
                    let flow = try FlowLoader.load(file: f, catalogue: catalogue)
                    // Exact ports for every routine a compiled type or a worker can speak for;
                    // a catalogue file speaks for an empty config only.
                    var ports: [String: RoutinePorts] = [:]
                    var unchecked: [String] = []
                    for r in flow.routines {
                        if catalogue.isCompiled(r.type) || (hosts[r.type] == nil && r.config.isEmpty) {
                            if let p = try? catalogue.ports(of: r.type, config: r.config) { ports[r.id] = p }
                        } else if let host = hosts[r.type] {
                            switch try await host.describe(r.type, config: r.config) {
                            case .ports(let p): ports[r.id] = p
                            case .configError(let key, let message):
                                throw FlowValidationError.config(file: f, routine: r.id, key: key, message)
                            }
                        } else {
                            unchecked.append(r.id)
                        }
                    }
                    try FlowLoader.checkPorts(flow, portsById: ports, file: f)
                    let note = unchecked.isEmpty ? "" : "; ports of \(unchecked.joined(separator: ", ")) not checked: a catalogue file describes a type for an empty config only (give --worker, or a joined worker checks them at submit)"
                    writeStdout("\(f): ok (flow \(flow.flowId): \(flow.routines.count) routines, \(flow.connections.count) connections\(note))")
                } catch {
                    FileHandle.standardError.write(Data("routilux: \(error)\n".utf8))
                    bad = true
                }
            }
            if bad { throw Exit.badInput }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a flow and write it back in the DSL (YAML or JSON), every setting explicit.",
            discussion: "Connections are written by routine id (\"a.event\" -> \"b.slot\"), so the export loads back to the same flow.")

        @Argument(help: "The flow file (YAML or JSON).")
        var file: String
        @Option(help: "yaml or json.")
        var format: String = "yaml"
        @Option(help: "Write here instead of stdout.")
        var output: String?
        @Option(name: .customLong("catalogue"), help: "Routine types of a custom worker (from `WORKER types --json`); repeatable.")
        var catalogues: [String] = []

        func run() throws {
            guard format == "yaml" || format == "json" else { throw fail("--format must be yaml or json", code: Exit.badInput) }
            var catalogue = Builtins.registry.catalogue
            let flow: FlowDefinition
            do {
                for c in catalogues { catalogue.merge(try CatalogueFiles.load(c)) }
                flow = try FlowLoader.load(file: file, catalogue: catalogue)
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
            let text = format == "json" ? flow.dslJSON.jsonString(pretty: true) + "\n" : try flow.dslJSON.yamlString()
            if let output {
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: output)) } catch {
                    throw fail("--output \(output): \(error)", code: Exit.notCompleted)
                }
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }
}
