// The net effect of one statement's delivery rows on the dashboard counters of
// their dispatches. The counter trigger (delivery_counts.cpp) feeds it the rows of
// the statement's transition tables; this part needs no server. Pure C++.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

namespace mis {

// The delivery statuses, in the order of the messaging.delivery_status enum.
constexpr int delivery_status_count = 4;

// What the counters need of one version of a delivery row.
struct DeliveryRow {
    int64_t delivery_id;
    int64_t dispatch_id;
    int32_t run;
    int status; // 0 not_started, 1 processing, 2 complete, 3 failed
};

// One dispatch's net change: `messages` and the count of each status, and whether
// a delivery of it changed status or run (so its updated_at moves).
struct CounterChange {
    int64_t dispatch_id;
    int64_t messages;
    std::array<int64_t, delivery_status_count> by_status;
    bool touched;
};

class CounterChanges {
public:
    // A delivery row that a statement added or removed.
    void inserted(const DeliveryRow &row) { add(row, 1, false); }
    void deleted(const DeliveryRow &row) { add(row, -1, false); }

    // The next row of an UPDATE's old and of its new transition table; nullptr once
    // that table has no more rows. The two versions of a delivery are normally at
    // the same position; any that are not are paired by delivery_id instead, and
    // finish() settles those left without a partner.
    void updated(const DeliveryRow *before, const DeliveryRow *after);

    // Ends an UPDATE: an old version never paired counts as removed, a new one as
    // added, both as a change of status.
    void finish();

    // The dispatches whose counters or updated_at change, by ascending dispatch_id
    // (the order in which their rows are locked).
    std::vector<CounterChange> by_dispatch() const;

private:
    void add(const DeliveryRow &row, int sign, bool touched);
    void pair(const DeliveryRow &before, const DeliveryRow &after);

    std::map<int64_t, CounterChange> changes_;
    std::unordered_map<int64_t, DeliveryRow> unpaired_before_;
    std::unordered_map<int64_t, DeliveryRow> unpaired_after_;
};

} // namespace mis
