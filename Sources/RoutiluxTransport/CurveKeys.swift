import CZMQ
import Foundation

/// A CURVE key pair as Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Hashable {
    public var publicKey: String
    public var secretKey: String
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// A key file that cannot be used: says which file and why, in one line.
public struct CurveKeyError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// CZMQ certificate files: `NAME.key` (public) and `NAME.key_secret` (secret, mode 0600).
public enum CurveCertificates {
    /// Writes a new key pair as `base` (public) and `base_secret`; refuses to overwrite either.
    /// Returns the pair.
    @discardableResult
    public static func generate(at base: String) throws(CurveKeyError) -> CurveKeyPair {
        _ = ZMQRuntime.initialized
        let fm = FileManager.default
        for path in [base, base + "_secret"] where fm.fileExists(atPath: path) {
            throw CurveKeyError(description: "\(path): already exists (remove it first to make a new key)")
        }
        let dir = (base as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw CurveKeyError(description: "\(dir): cannot create the directory: \(error.localizedDescription)")
            }
        }
        var cert: OpaquePointer? = zcert_new()
        guard cert != nil else { throw CurveKeyError(description: "cannot make a CURVE key (is libzmq built with CURVE?)") }
        defer { zcert_destroy(&cert) }
        // The secret file must never exist with looser permissions, even for a moment.
        let old = umask(0o077)
        let rc = zcert_save(cert, base)
        umask(old)
        guard rc == 0 else { throw CurveKeyError(description: "\(base): cannot write the key files") }
        chmod(base + "_secret", 0o600)
        chmod(base, 0o644)
        return CurveKeyPair(publicKey: String(cString: zcert_public_txt(cert)), secretKey: String(cString: zcert_secret_txt(cert)))
    }

    /// Reads a secret key file; refuses one that group or others can read.
    public static func loadSecret(_ path: String) throws(CurveKeyError) -> CurveKeyPair {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CurveKeyError(description: "\(path): cannot read the secret key file: \(String(cString: strerror(errno)))") }
        if st.st_mode & 0o077 != 0 {
            throw CurveKeyError(description: "\(path): the secret key file is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); fix it with: chmod 600 \(path)")
        }
        let pair = try load(path)
        guard pair.secretKey != String(repeating: "0", count: 40), !pair.secretKey.isEmpty else {
            throw CurveKeyError(description: "\(path): holds no secret key (is it the public .key file? use the .key_secret one)")
        }
        return pair
    }

    /// Reads a public key from a certificate file (public or secret).
    public static func loadPublic(_ path: String) throws(CurveKeyError) -> String {
        try load(path).publicKey
    }

    private static func load(_ path: String) throws(CurveKeyError) -> CurveKeyPair {
        _ = ZMQRuntime.initialized
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw CurveKeyError(description: "\(path): cannot read the key file (missing or not readable)")
        }
        var cert: OpaquePointer? = zcert_load(path)
        guard cert != nil else {
            throw CurveKeyError(description: "\(path): not a CURVE certificate (expected CZMQ's format, as `routilux keys generate` writes)")
        }
        defer { zcert_destroy(&cert) }
        let pub = String(cString: zcert_public_txt(cert))
        guard pub.utf8.count == 40, pub != String(repeating: "0", count: 40) else {
            throw CurveKeyError(description: "\(path): holds no valid public-key (40 Z85 characters)")
        }
        return CurveKeyPair(publicKey: pub, secretKey: String(cString: zcert_secret_txt(cert)))
    }

    /// A short, stable name for a key: the first 8 bytes of the SHA-1 of the raw key, in hex pairs.
    public static func fingerprint(_ z85: String) -> String {
        _ = ZMQRuntime.initialized
        var raw = [UInt8](repeating: 0, count: 32)
        guard z85.utf8.count == 40, zmq_z85_decode(&raw, z85) != nil else { return "invalid-key" }
        var d: OpaquePointer? = zdigest_new()
        guard d != nil else { return "?" }
        defer { zdigest_destroy(&d) }
        zdigest_update(d, &raw, 32)
        guard let hex = zdigest_string(d) else { return "?" }
        let s = String(cString: hex).lowercased()
        var out = ""
        for (i, c) in s.prefix(16).enumerated() {
            if i > 0 && i % 4 == 0 { out.append(":") }
            out.append(c)
        }
        return out
    }

    /// Whether `s` is a Z85 CURVE key (40 characters that decode to 32 bytes).
    public static func isKey(_ s: String) -> Bool {
        var raw = [UInt8](repeating: 0, count: 32)
        return s.utf8.count == 40 && zmq_z85_decode(&raw, s) != nil
    }
}

/// The public keys allowed in, by role: `DIR/workers/*.key` and `DIR/clients/*.key`.
public struct AuthorizedKeys: Sendable, Hashable {
    /// Key (Z85) → the certificate file it came from.
    public var workers: [String: String] = [:]
    public var clients: [String: String] = [:]

    public init(workers: [String: String] = [:], clients: [String: String] = [:]) {
        self.workers = workers
        self.clients = clients
    }

    /// Loads DIR. A missing DIR, one with neither subdirectory, or a file that
    /// is not a certificate is an error naming it; a secret key file there is refused too.
    public static func load(_ dir: String) throws(CurveKeyError) -> AuthorizedKeys {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CurveKeyError(description: "--authorized-keys \(dir): not a directory")
        }
        var out = AuthorizedKeys()
        var found = false
        for role in ["workers", "clients"] {
            let sub = (dir as NSString).appendingPathComponent(role)
            guard fm.fileExists(atPath: sub, isDirectory: &isDir), isDir.boolValue else { continue }
            found = true
            let names = ((try? fm.contentsOfDirectory(atPath: sub)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            for name in names {
                let path = (sub as NSString).appendingPathComponent(name)
                if name.hasSuffix("_secret") {
                    throw CurveKeyError(description: "\(path): a secret key file does not belong in --authorized-keys (copy only the public .key file)")
                }
                let key = try CurveCertificates.loadPublic(path)
                if role == "workers" { out.workers[key] = path } else { out.clients[key] = path }
            }
        }
        if let both = out.workers.keys.first(where: { out.clients[$0] != nil }) {
            throw CurveKeyError(description: "\(out.workers[both]!) and \(out.clients[both]!): the same key is a worker key and a client key; give each role its own key")
        }
        guard found else {
            throw CurveKeyError(description: "--authorized-keys \(dir): has neither a workers/ nor a clients/ subdirectory (put worker keys in \(dir)/workers/, client keys in \(dir)/clients/)")
        }
        return out
    }
}

/// A worker's or client's CURVE set-up: its own key pair and the coordinator's
/// public key. Its links to the coordinator prove its key, and its inbox takes
/// messages only from the holder of the coordinator's secret key.
public struct CurvePeerKeys: Sendable, Hashable {
    public var keys: CurveKeyPair
    public var coordinatorKey: String
    public init(keys: CurveKeyPair, coordinatorKey: String) {
        self.keys = keys
        self.coordinatorKey = coordinatorKey
    }
    /// For the link to the coordinator and for this process's inbox alike.
    public var setting: CurveSetting { .client(keys, serverKey: coordinatorKey) }
}

/// Whether plaintext on `endpoint` would be readable beyond this machine: tcp on
/// anything but a loopback address (a wildcard bind included). ipc:// and
/// inproc:// stay on the machine.
public func isExposed(_ endpoint: String) -> Bool {
    guard endpoint.hasPrefix("tcp://") else { return false }
    return !isLoopback(endpoint)
}
