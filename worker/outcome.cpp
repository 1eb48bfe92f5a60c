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
