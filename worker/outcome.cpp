// Checking a batch's results before they are recorded.
#include "outcome.hpp"

#include <unordered_map>

const char *mis::verdict_name(Verdict verdict) {
    switch (verdict) {
    case Verdict::complete:
        return "complete";
    case Verdict::retry:
        return "retry";
    case Verdict::failed:
        return "failed";
    case Verdict::deferred:
        return "deferred";
    }
    return "failed";
}

namespace {

// The length of the well-formed UTF-8 sequence at text[i], or 0 if there is none.
size_t sequence_length(std::string_view text, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    size_t length;
    unsigned char low = 0x80, high = 0xBF; // the range of the second byte
    if (lead >= 0x01 && lead <= 0x7F)
        return 1;
    else if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F; // no UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F; // nothing past U+10FFFF
    } else
        return 0;

    if (i + length > text.size() || byte(i + 1) < low || byte(i + 1) > high)
        return 0;
    for (size_t k = i + 2; k < i + length; k++)
        if (byte(k) < 0x80 || byte(k) > 0xBF)
            return 0;
    return length;
}

} // namespace

std::string mis::valid_utf8(std::string_view text) {
    std::string valid;
    valid.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t length = sequence_length(text, i);
        if (length == 0) {
            valid.push_back('?');
            i++;
        } else {
            valid.append(text.substr(i, length));
            i += length;
        }
    }
    return valid;
}

std::vector<mis::DeliveryResult> mis::reconcile_results(const std::vector<int64_t> &claimed,
                                                        std::vector<DeliveryResult> results,
                                                        bool stopping) {
    // Index the first result given for each delivery.
    std::unordered_map<int64_t, size_t> first;
    first.reserve(results.size());
    for (size_t i = 0; i < results.size(); i++)
        first.emplace(results[i].delivery_id, i);

    std::vector<DeliveryResult> reconciled;
    reconciled.reserve(claimed.size());
    for (int64_t delivery_id : claimed) {
        auto found = first.find(delivery_id);
        if (found == first.end()) {
            DeliveryResult missing;
            missing.delivery_id = delivery_id;
            missing.verdict = Verdict::retry;
            missing.reason = "the sender gave no result for this delivery";
            reconciled.push_back(std::move(missing));
        } else {
            reconciled.push_back(std::move(results[found->second]));
            first.erase(found);
        }

        DeliveryResult &result = reconciled.back();
        result.reason = valid_utf8(result.reason);
        if (stopping && result.verdict == Verdict::retry) {
            result.verdict = Verdict::deferred;
            result.reached_network = false;
            result.defer_ms = 0;
        }
    }
    return reconciled;
}

void mis::count_problem(std::vector<std::pair<std::string, int>> &problems,
                        const std::string &reason) {
    for (auto &problem : problems) {
        if (problem.first == reason) {
            problem.second++;
            return;
        }
    }
    problems.emplace_back(reason, 1);
}

std::vector<std::pair<std::string, int>>
mis::configuration_problems(const std::vector<DeliveryResult> &results) {
    std::vector<std::pair<std::string, int>> problems;
    for (const DeliveryResult &result : results) {
        if (result.configuration && result.verdict == Verdict::failed)
            count_problem(problems, result.reason);
    }
    return problems;
}
