// Checking a batch's results before they are recorded, and the alert sender.
#include <gtest/gtest.h>

#include "outcome.hpp"
#include "sender.hpp"

namespace {

mis::DeliveryResult result(int64_t id, mis::Verdict verdict, std::string reason = {},
                           bool reached = true) {
    mis::DeliveryResult r;
    r.delivery_id = id;
    r.verdict = verdict;
    r.reason = std::move(reason);
    r.reached_network = reached;
    return r;
}

TEST(VerdictName, NamesEveryVerdictAsTheRecordingFunctionExpects) {
    EXPECT_STREQ(mis::verdict_name(mis::Verdict::complete), "complete");
    EXPECT_STREQ(mis::verdict_name(mis::Verdict::retry), "retry");
    EXPECT_STREQ(mis::verdict_name(mis::Verdict::failed), "failed");
    EXPECT_STREQ(mis::verdict_name(mis::Verdict::deferred), "deferred");
}

TEST(ReconcileResults, KeepsClaimOrderAndOneResultPerDelivery) {
    std::vector<mis::DeliveryResult> given = {
        result(3, mis::Verdict::failed, "invalid user"),
        result(1, mis::Verdict::complete),
        result(1, mis::Verdict::failed, "second result"),
        result(99, mis::Verdict::complete),
    };
    auto results = mis::reconcile_results({1, 2, 3}, given, false);
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].delivery_id, 1);
    EXPECT_EQ(results[0].verdict, mis::Verdict::complete);
    EXPECT_EQ(results[1].delivery_id, 2);
    EXPECT_EQ(results[1].verdict, mis::Verdict::retry);
    EXPECT_EQ(results[1].reason, "the sender gave no result for this delivery");
    EXPECT_EQ(results[2].delivery_id, 3);
    EXPECT_EQ(results[2].verdict, mis::Verdict::failed);
    EXPECT_EQ(results[2].reason, "invalid user");
}

TEST(ReconcileResults, WhenStoppingRetriesAreQueuedAgainWithoutATry) {
    std::vector<mis::DeliveryResult> given = {
        result(1, mis::Verdict::retry, "transfer aborted", true),
        result(2, mis::Verdict::complete),
        result(3, mis::Verdict::failed, "invalid user"),
    };
    auto results = mis::reconcile_results({1, 2, 3, 4}, given, true);
    ASSERT_EQ(results.size(), 4u);
    EXPECT_EQ(results[0].verdict, mis::Verdict::deferred);
    EXPECT_FALSE(results[0].reached_network);
    EXPECT_EQ(results[0].defer_ms, 0);
    EXPECT_EQ(results[1].verdict, mis::Verdict::complete);
    EXPECT_EQ(results[2].verdict, mis::Verdict::failed);
    EXPECT_EQ(results[3].verdict, mis::Verdict::deferred); // never sent
}

TEST(ReconcileResults, AnEmptyClaimHasNoResults) {
    auto results = mis::reconcile_results({}, {result(1, mis::Verdict::complete)}, false);
    EXPECT_TRUE(results.empty());
}

TEST(ValidUtf8, KeepsWellFormedText) {
    EXPECT_EQ(mis::valid_utf8("mailbox full"), "mailbox full");
    EXPECT_EQ(mis::valid_utf8("王小明 \xF0\x9F\x98\x80 é"), "王小明 \xF0\x9F\x98\x80 é");
    EXPECT_EQ(mis::valid_utf8(""), "");
}

TEST(ValidUtf8, ReplacesEveryBadByte) {
    using namespace std::string_literals;
    EXPECT_EQ(mis::valid_utf8("a\xFF\x62"), "a?b"); // \x62 is b
    EXPECT_EQ(mis::valid_utf8("nul\0here"s), "nul?here");
    EXPECT_EQ(mis::valid_utf8("cut \xE7\x8E"), "cut ??");   // truncated sequence
    EXPECT_EQ(mis::valid_utf8("\xC0\xAF"), "??");           // overlong encoding
    EXPECT_EQ(mis::valid_utf8("\xED\xA0\x80"), "???");      // UTF-16 surrogate
    EXPECT_EQ(mis::valid_utf8("\xF4\x90\x80\x80"), "????"); // past U+10FFFF
    EXPECT_EQ(mis::valid_utf8("\x80 lone"), "? lone");      // continuation byte alone
}

TEST(ReconcileResults, MakesReasonsValidText) {
    auto results =
        mis::reconcile_results({5}, {result(5, mis::Verdict::failed, "550 \xFF")}, false);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].reason, "550 ?");
}

TEST(ConfigurationProblems, CountsEachReasonOnceInOrder) {
    std::vector<mis::DeliveryResult> given = {
        result(1, mis::Verdict::failed, "the WeCom secret was refused: fix it"),
        result(2, mis::Verdict::failed, "invalid user"),
        result(3, mis::Verdict::failed, "the WeCom secret was refused: fix it"),
        result(4, mis::Verdict::failed, "SMTP authentication refused: fix it"),
        result(5, mis::Verdict::retry, "timed out"),
    };
    given[0].configuration = given[2].configuration = given[3].configuration = true;
    given[4].configuration = true; // not a failure: not reported
    auto problems = mis::configuration_problems(given);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].first, "the WeCom secret was refused: fix it");
    EXPECT_EQ(problems[0].second, 2);
    EXPECT_EQ(problems[1].first, "SMTP authentication refused: fix it");
    EXPECT_EQ(problems[1].second, 1);
}

TEST(AlertSender, CompletesEveryDeliveryOnItsFirstTry) {
    auto sender = mis::make_alert_sender();
    std::vector<mis::Outgoing> deliveries(2);
    deliveries[0].delivery_id = 7;
    deliveries[1].delivery_id = 8;
    auto results = sender->send({}, {}, deliveries);
    ASSERT_EQ(results.size(), 2u);
    for (size_t i = 0; i < 2; i++) {
        EXPECT_EQ(results[i].delivery_id, deliveries[i].delivery_id);
        EXPECT_EQ(results[i].verdict, mis::Verdict::complete);
        EXPECT_TRUE(results[i].reached_network);
        EXPECT_EQ(results[i].reason, "");
    }
}

} // namespace
