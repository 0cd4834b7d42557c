import ArgumentParser
import Foundation
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore

/// `routilux flow ...`: work with flow files.
struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Check and export flow files.",
        subcommands: [Validate.self, Export.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate flow files against the builtin routines (and custom catalogues).",
            discussion: "Prints one line per file. Exit codes: 0 all valid, 2 any invalid.")

        @Argument(help: "Flow files (YAML or JSON).")
        var files: [String]
        @Option(name: .customLong("catalogue"), help: "Routine types of a custom worker (from `WORKER types --json`); repeatable.")
        var catalogues: [String] = []

        func run() throws {
            var catalogue = Builtins.registry.catalogue
            do {
                for c in catalogues { catalogue.merge(try CatalogueFiles.load(c)) }
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
            var bad = false
            for f in files {
                do {
                    let flow = try FlowLoader.load(file: f, catalogue: catalogue)
                    // A catalogue file describes a type as built from an empty config only.
                    let unchecked = flow.routines.filter { !catalogue.isCompiled($0.type) && !$0.config.isEmpty }.map(\.id)
                    let note = unchecked.isEmpty ? "" : "; ports of \(unchecked.joined(separator: ", ")) not checked: a catalogue file describes a type for an empty config only, and a joined worker checks their configs at submit"
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
