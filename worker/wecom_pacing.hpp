// Pacing of WeCom messages per member: WeCom silently drops messages past 30 a minute
// and 1,000 an hour to one member from one app, so the sender keeps each member under
// both limits. Pure C++.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mis {

struct PacingLimits {
    int per_minute = 30;
    int per_hour = 1000;
    // Added to each window, so that a difference between our clock and the arrival
    // times WeCom sees never lets one message too many through. At most 9 s.
    int64_t margin_ms = 1000;
};

// Counts of recent sends per member (user id, compared case-insensitively), in time
// slots: 10-second slots for the minute window and 15-minute slots for the hour window.
// A slot counts as inside a window as long as any moment of it is, so the pacing errs
// on the safe side by at most one slot. A member takes 32 bytes (in a table at most 80%
// full), and members with no send left in either window are forgotten, so memory follows the number
// of people messaged in the last hour, not the number of messages.
class MemberPacer {
public:
    explicit MemberPacer(PacingLimits limits = {});

    // How long to wait before `messages` more messages may go to `member` at `now_ms`
    // (a monotonic clock): 0 when they may go now. A count over either limit can never
    // be sent and answers -1.
    int64_t wait_ms(const std::string &member, int messages, int64_t now_ms) const;

    // Records that `messages` messages went to `member` at `now_ms`.
    void record(const std::string &member, int messages, int64_t now_ms);

    // Forgets everyone (for example when the WeCom app changes).
    void clear();

    // How many members are remembered (for tests and memory checks).
    std::size_t members() const { return size_; }

    static constexpr int64_t kMinuteSlotMs = 10 * 1000;
    static constexpr int64_t kHourSlotMs = 15 * 60 * 1000;
    static constexpr int kMinuteSlots = 8; // covers a window of up to 70 s
    static constexpr int kHourSlots = 6;   // covers a window of up to 75 min

    // One member: 32 bytes.
    struct Entry {
        uint64_t key = 0;  // hash of the lower-cased user id; 0 marks a free place
        uint32_t last = 0; // the newest minute slot with a send; its hour slot is last / 90
        uint8_t minute[kMinuteSlots] = {}; // sends per minute slot, a ring
        uint16_t hour[kHourSlots] = {};    // sends per hour slot, a ring
    };

private:
    const Entry *find(uint64_t key) const;
    Entry &find_or_add(uint64_t key);
    void rebuild(std::size_t capacity, int64_t now_ms);
    bool alive(const Entry &entry, int64_t now_ms) const;

    PacingLimits limits_;
    int64_t minute_window_ms_;
    int64_t hour_window_ms_;
    std::vector<Entry> table_; // open addressing, linear probing, power-of-two size
    std::size_t size_ = 0;
    int64_t last_prune_ms_ = 0;
};

} // namespace mis
