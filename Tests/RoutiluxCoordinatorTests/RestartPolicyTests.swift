import Foundation
import RoutiluxWorker
import Testing

@Suite struct RestartPolicyTests {
    let policy = RestartPolicy()

    @Test func aDrainedProcessIsReplacedAtOnce() {
        var n = 3
        #expect(policy.decide(.code(0), lived: 30, fastCrashes: &n) == .restart(after: 0))
        #expect(n == 0)
        #expect(policy.decide(.code(0), lived: 0.5, fastCrashes: &n) == .restart(after: 1), "not in a tight loop")
    }

    @Test func fastCrashesBackOffThenTheSlotIsGivenUp() {
        var n = 0
        var delays: [Double] = []
        for _ in 0..<4 {
            guard case .restart(let d) = policy.decide(.code(1), lived: 0.2, fastCrashes: &n) else {
                Issue.record("given up too early")
                return
            }
            delays.append(d)
        }
        #expect(delays == [0.2, 0.4, 0.8, 1.6])
        guard case .giveUp(let why) = policy.decide(.signal(SIGSEGV), lived: 0.2, fastCrashes: &n) else {
            Issue.record("the fifth fast crash gives the slot up")
            return
        }
        #expect(why.contains("crashed 5 times in a row within 2 s of starting (last: signal 11 (SIGSEGV))"), "\(why)")
    }

    @Test func aHealthyRunStartsTheCountAfresh() {
        var n = 4
        #expect(policy.decide(.code(1), lived: 60, fastCrashes: &n) == .restart(after: 0.1))
        #expect(n == 0)
    }

    @Test func killNineIsAlwaysRestartedAndBadInputNever() {
        var n = 0
        for _ in 0..<50 { #expect(policy.decide(.signal(SIGKILL), lived: 0.1, fastCrashes: &n) == .restart(after: 0.1)) }
        guard case .giveUp(let why) = policy.decide(.code(2), lived: 5, fastCrashes: &n) else {
            Issue.record("exit 2 is not restarted")
            return
        }
        #expect(why.contains("bad input"))
    }

    @Test func theChildArgumentsDropTheSupervisorsOwn() {
        #expect(WorkerSupervisor.childArguments(["join", "tcp://h:1", "--processes", "3", "--id", "x", "--concurrency", "2", "--processes=4", "--id=y"])
            == ["join", "tcp://h:1", "--concurrency", "2"])
        #expect(WorkerSupervisor.slotArguments(["join", "c", "--bind", "tcp://0.0.0.0:6001", "--advertise=tcp://10.0.0.7:6001", "--bind", "tcp://0.0.0.0:*"], index: 2, workerId: "h-2")
            == ["join", "--id", "h-2", "c", "--bind", "tcp://0.0.0.0:6003", "--advertise=tcp://10.0.0.7:6003", "--bind", "tcp://0.0.0.0:*"])
        #expect(WorkerSupervisor.slotArguments(["join", "--bind", "ipc:///run/w.sock", "--", "c"], index: 1, workerId: "h-1")
            == ["join", "--id", "h-1", "--bind", "ipc:///run/w.sock-1", "--", "c"])
    }
}
