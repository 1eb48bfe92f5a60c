// Per-member pacing of WeCom messages.
#include "wecom_pacing.hpp"

#include <algorithm>
#include <cctype>

namespace mis {

namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;

std::string lower(const std::string &text) {
    std::string result(text);
    for (char &c : result)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return result;
}

// The wait until at most `limit - messages` of `times` lie inside the window ending now.
int64_t window_wait(const std::vector<int64_t> &times, int limit, int messages, int64_t window,
                    int64_t now_ms) {
    auto first_inside = std::upper_bound(times.begin(), times.end(), now_ms - window,
                                         [](int64_t bound, int64_t t) { return bound < t; });
    int64_t inside = times.end() - first_inside;
    int64_t excess = inside + messages - limit;
    if (excess <= 0)
        return 0;
    // The excess-th oldest send inside the window must leave it first.
    int64_t leaves_at = *(first_inside + (excess - 1)) + window;
    return std::max<int64_t>(1, leaves_at - now_ms);
}

} // namespace

int64_t MemberPacer::wait_ms(const std::string &member, int messages, int64_t now_ms) const {
    if (messages > limits_.per_minute || messages > limits_.per_hour)
        return -1;
    auto found = sent_.find(lower(member));
    if (found == sent_.end())
        return 0;
    const std::vector<int64_t> &times = found->second;
    int64_t minute =
        window_wait(times, limits_.per_minute, messages, kMinuteMs + limits_.margin_ms, now_ms);
    int64_t hour =
        window_wait(times, limits_.per_hour, messages, kHourMs + limits_.margin_ms, now_ms);
    return std::max(minute, hour);
}

void MemberPacer::record(const std::string &member, int messages, int64_t now_ms) {
    prune(now_ms);
    std::vector<int64_t> &times = sent_[lower(member)];
    // Keep the times ordered even if the clock handed in went backwards.
    int64_t at = times.empty() ? now_ms : std::max(now_ms, times.back());
    times.insert(times.end(), static_cast<std::size_t>(messages), at);
    // Only the newest per_hour sends can matter for either window.
    if (times.size() > static_cast<std::size_t>(limits_.per_hour))
        times.erase(times.begin(), times.end() - limits_.per_hour);
}

void MemberPacer::prune(int64_t now_ms) {
    // A full sweep at most once a minute keeps the cost per send constant.
    if (now_ms - last_prune_ms_ < kMinuteMs)
        return;
    last_prune_ms_ = now_ms;
    int64_t horizon = now_ms - (kHourMs + limits_.margin_ms);
    for (auto it = sent_.begin(); it != sent_.end();) {
        std::vector<int64_t> &times = it->second;
        times.erase(times.begin(), std::upper_bound(times.begin(), times.end(), horizon));
        if (times.empty()) {
            it = sent_.erase(it);
        } else {
            if (times.capacity() > 2 * times.size())
                times.shrink_to_fit();
            ++it;
        }
    }
}

} // namespace mis
