// Netting a statement's delivery rows into per-dispatch counter changes.
#include "counter_changes.hpp"

#include <stdexcept>

namespace mis {

void CounterChanges::add(const DeliveryRow &row, int sign, bool touched) {
    if (row.status < 0 || row.status >= delivery_status_count)
        throw std::invalid_argument("unknown delivery status");
    auto [at, added] = changes_.try_emplace(row.dispatch_id);
    CounterChange &change = at->second;
    if (added)
        change = CounterChange{row.dispatch_id, 0, {}, false};
    change.messages += sign;
    change.by_status[row.status] += sign;
    change.touched = change.touched || touched;
}

void CounterChanges::pair(const DeliveryRow &before, const DeliveryRow &after) {
    if (before.dispatch_id == after.dispatch_id && before.status == after.status &&
        before.run == after.run)
        return; // nothing the counters see changed
    add(before, -1, true);
    add(after, 1, true);
}

void CounterChanges::updated(const DeliveryRow *before, const DeliveryRow *after) {
    if (before != nullptr && after != nullptr && before->delivery_id == after->delivery_id) {
        pair(*before, *after);
        return;
    }
    if (before != nullptr) {
        auto partner = unpaired_after_.find(before->delivery_id);
        if (partner != unpaired_after_.end()) {
            pair(*before, partner->second);
            unpaired_after_.erase(partner);
        } else {
            unpaired_before_.emplace(before->delivery_id, *before);
        }
    }
    if (after != nullptr) {
        auto partner = unpaired_before_.find(after->delivery_id);
        if (partner != unpaired_before_.end()) {
            pair(partner->second, *after);
            unpaired_before_.erase(partner);
        } else {
            unpaired_after_.emplace(after->delivery_id, *after);
        }
    }
}

void CounterChanges::finish() {
    for (const auto &[id, row] : unpaired_before_)
        add(row, -1, true);
    for (const auto &[id, row] : unpaired_after_)
        add(row, 1, true);
    unpaired_before_.clear();
    unpaired_after_.clear();
}

std::vector<CounterChange> CounterChanges::by_dispatch() const {
    std::vector<CounterChange> result;
    result.reserve(changes_.size());
    for (const auto &[id, change] : changes_) {
        bool moved = change.messages != 0 || change.touched;
        for (int64_t count : change.by_status)
            moved = moved || count != 0;
        if (moved)
            result.push_back(change);
    }
    return result;
}

} // namespace mis
