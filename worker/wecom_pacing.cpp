// Per-member pacing of WeCom messages.
#include "wecom_pacing.hpp"

#include <algorithm>
#include <cctype>

namespace mis {

namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr uint32_t kMinuteSlotsPerHourSlot = MemberPacer::kHourSlotMs / MemberPacer::kMinuteSlotMs;
static_assert(MemberPacer::kHourSlotMs % MemberPacer::kMinuteSlotMs == 0,
              "minute slots must tile hour slots");
static_assert(sizeof(MemberPacer::Entry) == 32, "a member takes 32 bytes");

// A 64-bit FNV-1a hash of the lower-cased user id, never 0. Two ids with one hash
// would be paced together: safe, and with 64 bits never seen in practice.
uint64_t member_key(const std::string &member) {
    uint64_t hash = 1469598103934665603ULL;
    for (char c : member) {
        hash ^= static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)));
        hash *= 1099511628211ULL;
    }
    return hash == 0 ? 1 : hash;
}

int64_t floor_div(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// The ring place of slot `s` (which may be negative early on a clock that starts at 0).
template <int N>
std::size_t ring(int64_t s) {
    return static_cast<std::size_t>(((s % N) + N) % N);
}

// The wait until `messages` more fit under `limit` in a window of `window_ms` ending at
// `now_ms`, given the per-slot counts of a ring of N slots whose newest is `last`.
template <typename Count, int N>
int64_t slots_wait(const Count (&counts)[N], uint32_t last, int64_t slot_ms, int64_t window_ms,
                   int limit, int messages, int64_t now_ms) {
    int64_t newest = std::min<int64_t>(last, floor_div(now_ms, slot_ms));
    int64_t oldest = std::max<int64_t>(static_cast<int64_t>(last) - N + 1,
                                       floor_div(now_ms - window_ms, slot_ms));
    int64_t inside = 0;
    for (int64_t s = oldest; s <= newest; s++)
        inside += counts[ring<N>(s)];
    int64_t excess = inside + messages - limit;
    if (excess <= 0)
        return 0;
    // The oldest slots leave the window first: slot s leaves once its end is a window ago.
    for (int64_t s = oldest; s <= newest; s++) {
        excess -= counts[ring<N>(s)];
        if (excess <= 0)
            return std::max<int64_t>(1, (s + 1) * slot_ms + window_ms - now_ms);
    }
    return -1;
}

// Adds `messages` to the slot of `now_ms`, clearing slots that fell out of the ring.
template <typename Count, int N>
void slots_add(Count (&counts)[N], uint32_t &last, int64_t slot_ms, int messages, int64_t now_ms) {
    int64_t slot = floor_div(now_ms, slot_ms);
    // A clock that went backwards counts in the newest slot.
    slot = std::max<int64_t>(slot, last);
    for (int64_t s = static_cast<int64_t>(last) + 1; s <= slot && s <= last + N; s++)
        counts[ring<N>(s)] = 0;
    last = static_cast<uint32_t>(slot);
    counts[ring<N>(slot)] = static_cast<Count>(counts[ring<N>(slot)] + messages);
}

} // namespace

MemberPacer::MemberPacer(PacingLimits limits)
    : limits_(limits),
      minute_window_ms_(kMinuteMs + std::clamp<int64_t>(limits.margin_ms, 0, 9000)),
      hour_window_ms_(kHourMs + std::clamp<int64_t>(limits.margin_ms, 0, 9000)) {}

int64_t MemberPacer::wait_ms(const std::string &member, int messages, int64_t now_ms) const {
    if (messages > limits_.per_minute || messages > limits_.per_hour)
        return -1;
    const Entry *entry = find(member_key(member));
    if (entry == nullptr)
        return 0;
    int64_t minute = slots_wait(entry->minute, entry->last, kMinuteSlotMs, minute_window_ms_,
                                limits_.per_minute, messages, now_ms);
    int64_t hour = slots_wait(entry->hour, entry->last / kMinuteSlotsPerHourSlot, kHourSlotMs,
                              hour_window_ms_, limits_.per_hour, messages, now_ms);
    return std::max(minute, hour);
}

void MemberPacer::record(const std::string &member, int messages, int64_t now_ms) {
    // Forgetting idle members once a minute keeps the cost per send constant.
    if (now_ms - last_prune_ms_ >= kMinuteMs || now_ms < last_prune_ms_) {
        last_prune_ms_ = now_ms;
        rebuild(0, now_ms);
    }
    if ((size_ + 1) * 5 > table_.size() * 4)
        rebuild(table_.size() * 2, now_ms);
    Entry &entry = find_or_add(member_key(member));
    uint32_t last_hour = entry.last / kMinuteSlotsPerHourSlot;
    slots_add(entry.hour, last_hour, kHourSlotMs, messages, now_ms);
    slots_add(entry.minute, entry.last, kMinuteSlotMs, messages, now_ms);
}

void MemberPacer::clear() {
    std::vector<Entry>().swap(table_);
    size_ = 0;
}

const MemberPacer::Entry *MemberPacer::find(uint64_t key) const {
    if (table_.empty())
        return nullptr;
    std::size_t mask = table_.size() - 1;
    for (std::size_t i = key & mask;; i = (i + 1) & mask) {
        if (table_[i].key == key)
            return &table_[i];
        if (table_[i].key == 0)
            return nullptr;
    }
}

MemberPacer::Entry &MemberPacer::find_or_add(uint64_t key) {
    std::size_t mask = table_.size() - 1;
    for (std::size_t i = key & mask;; i = (i + 1) & mask) {
        if (table_[i].key == key)
            return table_[i];
        if (table_[i].key == 0) {
            table_[i] = Entry{};
            table_[i].key = key;
            size_++;
            return table_[i];
        }
    }
}

// Whether a member still has a send inside the hour window (which covers the minute's).
bool MemberPacer::alive(const Entry &entry, int64_t now_ms) const {
    int64_t hour_slot = entry.last / kMinuteSlotsPerHourSlot;
    return (hour_slot + 1) * kHourSlotMs + hour_window_ms_ > now_ms;
}

// Moves the members still in a window into a table of at least `capacity` places that
// is at most half full, dropping the others.
void MemberPacer::rebuild(std::size_t capacity, int64_t now_ms) {
    std::vector<Entry> old;
    old.swap(table_);
    std::size_t live = 0;
    for (const Entry &entry : old)
        if (entry.key != 0 && alive(entry, now_ms))
            live++;
    std::size_t fit = 64;
    while (fit < (live + 1) * 2)
        fit *= 2;
    table_.assign(std::max(fit, capacity), Entry{});
    size_ = 0;
    for (const Entry &entry : old) {
        if (entry.key == 0 || !alive(entry, now_ms))
            continue;
        find_or_add(entry.key) = entry;
    }
}

} // namespace mis
