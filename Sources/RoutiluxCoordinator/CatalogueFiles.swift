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
}
