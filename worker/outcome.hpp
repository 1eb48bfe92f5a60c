// Checking a batch's results before they are recorded. Pure C++: no postgres.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channel.hpp"

namespace mis {

// The word messaging._record_deliveries expects for a verdict.
const char *verdict_name(Verdict verdict);

// The text with every NUL byte and every byte that is not part of a
// well-formed UTF-8 sequence replaced by '?', so that it can be stored as text.
std::string valid_utf8(std::string_view text);

// Returns exactly one result per claimed delivery, in claim order: results for
// deliveries not claimed are dropped, a second result for one is ignored, and a
// delivery the sender gave no result for is retried. When the dispatcher is
// stopping, retries (tries cut short by the stop) are queued again at once
// without using a try. Reasons are made valid UTF-8.
std::vector<DeliveryResult> reconcile_results(const std::vector<int64_t> &claimed,
                                              std::vector<DeliveryResult> results, bool stopping);

// Counts one more delivery failed for reason, adding the reason if it is new.
void count_problem(std::vector<std::pair<std::string, int>> &problems, const std::string &reason);

// The distinct reasons of configuration failures, each with how many
// deliveries it failed, in order of first appearance.
std::vector<std::pair<std::string, int>>
configuration_problems(const std::vector<DeliveryResult> &results);

} // namespace mis
