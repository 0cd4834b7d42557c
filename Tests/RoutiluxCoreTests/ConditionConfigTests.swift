import RoutiluxBuiltins
import RoutiluxCore
import Testing

/// Conditions read user config (routilux's `data.value > config.threshold`),
/// while typos of a routine's own keys are still refused.
@Suite struct ConditionConfigTests {
    func events(_ type: RoutineType, _ config: JSONObject, _ data: JSONObject) async throws -> [String] {
        let r = try type.make(config: config)
        let ctx = HandlerContext(jobId: "j", routineId: "r", slot: "input", config: config, events: Set(r.events))
        try await r.slotNamed("input")!.handler!(data, ctx)
        return ctx.emissions.map(\.event)
    }

    func configError(_ type: RoutineType, _ config: JSONObject) -> RoutineConfigError? {
        do {
            _ = try type.make(config: config)
            return nil
        } catch {
            return error as? RoutineConfigError
        }
    }

    @Test func conditionalRouterReadsAUserKeyItsConditionsReference() async throws {
        let config: JSONObject = ["routes": [["high", "data.value > config.threshold"]], "threshold": 10]
        #expect(try await events(conditionalRouterType, config, ["data": ["value": 11]]) == ["high"])
        #expect(try await events(conditionalRouterType, config, ["data": ["value": 3]]) == ["output"])
        #expect(try conditionalRouterType.make(config: config).events == ["output", "high"])
    }

    @Test func filterAndDataValidatorRulesReadUserConfig() async throws {
        let filter: JSONObject = ["condition": "data.size <= config.limit", "limit": 5]
        #expect(try await events(filterType, filter, ["data": ["size": 5]]) == ["passed"])
        #expect(try await events(filterType, filter, ["data": ["size": 6]]) == ["rejected"])
        let validator: JSONObject = ["rules": ["age": "data >= config.min_age"], "min_age": 18]
        #expect(try await events(dataValidatorType, validator, ["data": ["age": 20]]) == ["valid"])
        #expect(try await events(dataValidatorType, validator, ["data": ["age": 12]]) == ["invalid"])
    }

    @Test func aKeyNoConditionReadsIsStillATypo() {
        let e = configError(conditionalRouterType, ["routes": [["high", "data.value > config.threshold"]], "threshold": 1, "route_prority": "all_matches"])
        #expect(e?.key == "route_prority")
        #expect(e?.message.contains("a user key is allowed only when a condition reads it as config.route_prority") == true)
        #expect(configError(filterType, ["condition": "data.x", "invert_": true])?.key == "invert_")
    }

    @Test func aConditionReadingAnUnsetUserKeyIsRefused() {
        let e = configError(filterType, ["condition": "data.size <= config.limt", "limit": 5])
        // `limit` is read by no condition (the condition has a typo): the unknown key is reported first.
        #expect(e?.key == "limit")
        let unset = configError(conditionalRouterType, ["routes": [["high", "data.value > config.threshold"]]])
        #expect(unset?.key == "routes[0].condition")
        #expect(unset?.message == "the condition reads config.threshold, which this routine's config does not set")
        // Own keys may be read unset (they have defaults).
        #expect(configError(conditionalRouterType, ["routes": [["d", "config.default_route == null"]]]) == nil)
    }

    @Test func expressionsReportTheConfigKeysTheyRead() throws {
        #expect(try Expression("data.a > config.x and config['y'] in config.z.w").configKeys == ["x", "y", "z"])
        #expect(try Expression("data[config.k] == 1").configKeys == ["k"])
        #expect(try Expression("len(config) > 0").configKeys == nil)
        #expect(try Expression("data.a").configKeys == [])
    }
}
