/// A set of the last `capacity` values inserted (older ones are forgotten).
struct RecentSet<T: Hashable> {
    let capacity: Int
    private var members: Set<T> = []
    private var order: [T] = []
    private var head = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func contains(_ v: T) -> Bool { members.contains(v) }

    mutating func append(_ v: T) {
        guard members.insert(v).inserted else { return }
        if order.count < capacity {
            order.append(v)
        } else {
            members.remove(order[head])
            order[head] = v
            head = (head + 1) % capacity
        }
    }
}
