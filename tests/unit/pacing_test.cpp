// Per-member pacing under WeCom's 30-a-minute and 1,000-an-hour limits. Sends count in
// 10-second slots for the minute window (60 s plus a 1 s margin) and 15-minute slots for
// the hour window (60 min plus 1 s); a slot leaves a window once its end is a window ago.
#include <gtest/gtest.h>

#include "wecom_pacing.hpp"

using mis::MemberPacer;
using mis::PacingLimits;

TEST(Pacing, ThirtyAMinuteGoAtOnce) {
    MemberPacer pacer;
    for (int i = 0; i < 30; i++) {
        ASSERT_EQ(pacer.wait_ms("alice", 1, 1000), 0) << i;
        pacer.record("alice", 1, 1000);
    }
    // The 31st waits until the slot [0 s, 10 s) is 61 s behind: at 71 s.
    EXPECT_EQ(pacer.wait_ms("alice", 1, 1000), 70000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 31000), 40000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 70999), 1);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 71000), 0);
}

TEST(Pacing, NeverMoreThanThirtyInAnySixtyOneSeconds) {
    // One attempt every 700 ms for ten minutes; count what got through in every window.
    MemberPacer pacer;
    std::vector<int64_t> sent;
    for (int64_t now = 0; now < 600000; now += 700) {
        if (pacer.wait_ms("alice", 1, now) == 0) {
            pacer.record("alice", 1, now);
            sent.push_back(now);
        }
    }
    for (std::size_t i = 0; i < sent.size(); i++) {
        std::size_t in_window = 0;
        for (std::size_t k = i; k < sent.size() && sent[k] - sent[i] < 61000; k++)
            in_window++;
        EXPECT_LE(in_window, 30u) << sent[i];
    }
    EXPECT_GE(sent.size(), 250u); // at least 25 a minute get through
}

TEST(Pacing, OldestSlotsLeaveFirst) {
    MemberPacer pacer;
    for (int i = 0; i < 30; i++)
        pacer.record("alice", 1, i * 1000);              // one a second: 10 per slot
    EXPECT_EQ(pacer.wait_ms("alice", 1, 30000), 41000);  // slot 0 leaves at 71 s
    EXPECT_EQ(pacer.wait_ms("alice", 10, 30000), 41000); // it holds 10
    EXPECT_EQ(pacer.wait_ms("alice", 11, 30000), 51000); // slot 1 leaves at 81 s
    EXPECT_EQ(pacer.wait_ms("alice", 10, 71000), 0);
}

TEST(Pacing, MembersMatchCaseInsensitively) {
    MemberPacer pacer;
    pacer.record("Alice", 30, 0);
    EXPECT_EQ(pacer.wait_ms("ALICE", 1, 0), 71000);
    EXPECT_EQ(pacer.wait_ms("bob", 1, 0), 0);
}

TEST(Pacing, SplitPartsCountAsMessages) {
    MemberPacer pacer;
    pacer.record("alice", 29, 0);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 0), 0);
    EXPECT_EQ(pacer.wait_ms("alice", 2, 0), 71000);
}

TEST(Pacing, HourLimit) {
    MemberPacer pacer(PacingLimits{3, 5, 0});
    pacer.record("alice", 3, 0);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 0), 70000);
    pacer.record("alice", 2, 70000);
    // Five in the hour: the next waits until the slot [0, 15 min) is an hour behind.
    EXPECT_EQ(pacer.wait_ms("alice", 1, 70000), 4500000 - 70000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 4500000), 0);
}

TEST(Pacing, MoreThanALimitAllowsIsNeverSendable) {
    MemberPacer pacer;
    EXPECT_EQ(pacer.wait_ms("alice", 31, 0), -1);
    MemberPacer strict(PacingLimits{30, 2, 0});
    EXPECT_EQ(strict.wait_ms("alice", 3, 0), -1);
}

TEST(Pacing, IdleMembersAreForgotten) {
    MemberPacer pacer;
    pacer.record("alice", 1, 0);
    pacer.record("bob", 1, 1000000);
    EXPECT_EQ(pacer.members(), 2u);
    pacer.record("carol", 1, 4600000);
    EXPECT_EQ(pacer.members(), 2u); // alice's slot left the hour window
    EXPECT_EQ(pacer.wait_ms("alice", 30, 4600000), 0);
}

TEST(Pacing, ManyMembersThenNone) {
    MemberPacer pacer;
    for (int i = 0; i < 100000; i++)
        pacer.record("pupil" + std::to_string(i), 1, 1000);
    EXPECT_EQ(pacer.members(), 100000u);
    EXPECT_EQ(pacer.wait_ms("pupil99999", 30, 1000), 70000);
    EXPECT_EQ(pacer.wait_ms("pupil100000", 30, 1000), 0);
    pacer.record("late", 1, 2 * 3600 * 1000);
    EXPECT_EQ(pacer.members(), 1u);
}

TEST(Pacing, ClockGoingBackwardsStillCounts) {
    MemberPacer pacer;
    pacer.record("alice", 20, 50000);
    pacer.record("alice", 10, 20000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 50000), 71000 + 50000 - 50000);
}

TEST(Pacing, ClearForgetsEveryone) {
    MemberPacer pacer;
    pacer.record("alice", 30, 0);
    pacer.clear();
    EXPECT_EQ(pacer.members(), 0u);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 0), 0);
}
