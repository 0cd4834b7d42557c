import ArgumentParser
import Foundation
import RoutiluxTransport

/// `routilux keys ...`: CURVE key files for coordinators, workers and clients.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and inspect CURVE keys (CZMQ certificate files).",
        discussion: """
            Each process has its own key pair. The coordinator's public key goes to every worker and client \
            (--coordinator-key); each worker's public key goes in the coordinator's --authorized-keys DIR/workers/, \
            each client's in DIR/clients/.
            """,
        subcommands: [Generate.self, Show.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: DIR/NAME.key (public) and DIR/NAME.key_secret (secret, mode 0600).",
            discussion: "Exit codes: 0 written, 2 a file already exists or cannot be written.")
        @Argument(help: "Where to write, as DIR/NAME (e.g. keys/coordinator).")
        var path: String

        func run() throws {
            let base = path.hasSuffix(".key") ? path : path + ".key"
            do {
                let pair = try CurveCertificates.generate(at: base)
                writeStdout("public key \(pair.publicKey) (fingerprint \(CurveCertificates.fingerprint(pair.publicKey)))\nwrote \(base) (public) and \(base)_secret (secret, mode 0600)")
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a key file's public key and its fingerprint (the short name logs use).",
            discussion: "Exit codes: 0 shown, 2 not a certificate file.")
        @Argument(help: "A .key or .key_secret file.")
        var file: String
        @Flag(help: "Print {\"public_key\", \"fingerprint\", \"secret\"} as JSON.")
        var json = false

        func run() throws {
            let key: String
            do { key = try CurveCertificates.loadPublic(file) } catch { throw fail("\(error)", code: Exit.badInput) }
            let hasSecret = (try? CurveCertificates.loadSecret(file)) != nil
            if json {
                writeStdout("{\"public_key\": \"\(key)\", \"fingerprint\": \"\(CurveCertificates.fingerprint(key))\", \"secret\": \(hasSecret)}")
            } else {
                writeStdout("\(key)  fingerprint \(CurveCertificates.fingerprint(key))\(hasSecret ? "  (secret key file)" : "")")
            }
        }
    }
}
