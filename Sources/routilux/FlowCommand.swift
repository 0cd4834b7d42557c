import ArgumentParser
import Foundation
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore

/// `routilux flow ...`: work with flow files.
struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Check flow files.",
        subcommands: [Validate.self])

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
                    writeStdout("\(f): ok (flow \(flow.flowId): \(flow.routines.count) routines, \(flow.connections.count) connections)")
                } catch {
                    FileHandle.standardError.write(Data("routilux: \(error)\n".utf8))
                    bad = true
                }
            }
            if bad { throw Exit.badInput }
        }
    }
}
