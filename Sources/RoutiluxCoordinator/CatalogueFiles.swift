import Foundation
import RoutiluxCore

/// Loading routine catalogues written by `routilux-worker types --json`.
public enum CatalogueFiles {
    /// Reads a catalogue file; errors name the file.
    public static func load(_ path: String) throws -> RoutineCatalogue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RoutineError("\(path): cannot read catalogue file")
        }
        do { return try RoutineCatalogue.fromJSON(try JSONValue.parse(Array(data))) } catch {
            throw RoutineError("\(path): \(error)")
        }
    }

    /// Asks a worker executable for its catalogue (`WORKER types --json`).
    public static func query(worker path: String) throws -> RoutineCatalogue {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["types", "--json"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw RoutineError("cannot start worker \(path): \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw RoutineError("worker \(path) 'types --json' exited with \(p.terminationStatus)")
        }
        do { return try RoutineCatalogue.fromJSON(try JSONValue.parse(Array(data))) } catch {
            throw RoutineError("worker \(path) 'types --json': \(error)")
        }
    }
}
