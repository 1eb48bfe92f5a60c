// Pacing of WeCom messages per member: WeCom silently drops messages past 30 a minute
// and 1,000 an hour to one member from one app, so the sender keeps each member under
// both limits. Pure C++.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mis {

struct PacingLimits {
    int per_minute = 30;
    int per_hour = 1000;
    // Added to each window, so that a difference between our clock and the arrival
    // times WeCom sees never lets one message too many through.
    int64_t margin_ms = 1000;
};

// A sliding window of send times per member (user id, compared case-insensitively).
class MemberPacer {
public:
    explicit MemberPacer(PacingLimits limits = {}) : limits_(limits) {}

    // How long to wait before `messages` more messages may go to `member` at `now_ms`
    // (a monotonic clock): 0 when they may go now. A count over the per-minute limit
    // can never be sent and answers -1.
    int64_t wait_ms(const std::string &member, int messages, int64_t now_ms) const;

    // Records that `messages` messages went to `member` at `now_ms`.
    void record(const std::string &member, int messages, int64_t now_ms);

    // Forgets everyone (for example when the WeCom app changes).
    void clear() { sent_.clear(); }

    // How many members have sends inside the hour window (for tests and memory checks).
    std::size_t members() const { return sent_.size(); }

private:
    // Drops sends that left both windows, and members with none left.
    void prune(int64_t now_ms);

    PacingLimits limits_;
    // Per member (lower-cased), the times of its sends, oldest first.
    std::unordered_map<std::string, std::vector<int64_t>> sent_;
    int64_t last_prune_ms_ = 0;
};

} // namespace mis
