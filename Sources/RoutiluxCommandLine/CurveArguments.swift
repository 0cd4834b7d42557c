import ArgumentParser
import Foundation
import RoutiluxTransport

/// `--curve-secret`, `--coordinator-key` and `--insecure`, for the processes
/// that talk to a coordinator (workers and clients).
public struct CurveArguments: ParsableArguments {
    @Option(help: "This process's secret key file, NAME.key_secret from `routilux keys generate` (default: $ROUTILUX_CURVE_SECRET). With --coordinator-key: CURVE on every link.")
    public var curveSecret: String?
    @Option(help: "The coordinator's public key file, NAME.key (default: $ROUTILUX_COORDINATOR_KEY).")
    public var coordinatorKey: String?
    @Flag(help: "Accept plaintext tcp to or on a non-loopback address (anyone on that network can then read and forge messages).")
    public var insecure = false

    public init() {}

    /// The keys to use toward `coordinator`, or nil for plaintext. Throws a
    /// one-line usage error (exit 2) for a missing or bad key file, only one of
    /// the two keys, or plaintext on an exposed address (`endpoints`) without `--insecure`.
    public func peerKeys(coordinator: String, endpoints: [String] = []) throws -> CurvePeerKeys? {
        let secretPath = curveSecret ?? environmentValue("ROUTILUX_CURVE_SECRET")
        let serverPath = coordinatorKey ?? environmentValue("ROUTILUX_COORDINATOR_KEY")
        switch (secretPath, serverPath) {
        case (let s?, let c?):
            do {
                return CurvePeerKeys(keys: try CurveCertificates.loadSecret(s), coordinatorKey: try CurveCertificates.loadPublic(c))
            } catch {
                throw BadConfiguration(error.description)
            }
        case (_?, nil):
            throw BadConfiguration("--curve-secret needs --coordinator-key FILE (or $ROUTILUX_COORDINATOR_KEY): the coordinator's public key")
        case (nil, _?):
            throw BadConfiguration("--coordinator-key needs --curve-secret FILE (or $ROUTILUX_CURVE_SECRET): this process's secret key")
        case (nil, nil):
            if let exposed = ([coordinator] + endpoints).first(where: isExposed), !insecure {
                throw BadConfiguration(Self.plaintextRefusal(exposed))
            }
            return nil
        }
    }

    /// The one-line refusal of plaintext on an exposed address.
    public static func plaintextRefusal(_ endpoint: String) -> String {
        "\(endpoint) is not a loopback address and no keys are given: give --curve-secret and --coordinator-key (see `routilux keys generate`), or --insecure to accept plaintext that anyone on the network can read and forge"
    }
}
