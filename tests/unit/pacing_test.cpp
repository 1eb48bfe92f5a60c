// Per-member pacing under WeCom's 30-a-minute and 1,000-an-hour limits.
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
    // The 31st waits until the first leaves the minute window (60 s plus 1 s margin).
    EXPECT_EQ(pacer.wait_ms("alice", 1, 1000), 61000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 31000), 31000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 62000), 0);
}

TEST(Pacing, WindowSlidesSendBySend) {
    MemberPacer pacer;
    for (int i = 0; i < 30; i++)
        pacer.record("alice", 1, i * 1000);             // one a second
    EXPECT_EQ(pacer.wait_ms("alice", 1, 30000), 31000); // the send at 0 leaves at 61 s
    EXPECT_EQ(pacer.wait_ms("alice", 2, 30000), 32000); // two need the send at 1 s gone too
    EXPECT_EQ(pacer.wait_ms("alice", 1, 61000), 0);
}

TEST(Pacing, MembersMatchCaseInsensitively) {
    MemberPacer pacer;
    pacer.record("Alice", 30, 0);
    EXPECT_EQ(pacer.wait_ms("ALICE", 1, 0), 61000);
    EXPECT_EQ(pacer.wait_ms("bob", 1, 0), 0);
}

TEST(Pacing, SplitPartsCountAsMessages) {
    MemberPacer pacer;
    pacer.record("alice", 29, 0);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 0), 0);
    EXPECT_EQ(pacer.wait_ms("alice", 2, 0), 61000);
}

TEST(Pacing, HourLimit) {
    MemberPacer pacer(PacingLimits{3, 5, 0});
    pacer.record("alice", 3, 0);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 0), 60000);
    pacer.record("alice", 2, 60000);
    // Five in the hour: the next waits for the first send to leave the hour window.
    EXPECT_EQ(pacer.wait_ms("alice", 1, 60000), 3600000 - 60000);
    EXPECT_EQ(pacer.wait_ms("alice", 1, 3600000), 0);
}

TEST(Pacing, MoreThanAMinuteAllowsIsNeverSendable) {
    MemberPacer pacer;
    EXPECT_EQ(pacer.wait_ms("alice", 31, 0), -1);
}

TEST(Pacing, IdleMembersAreForgotten) {
    MemberPacer pacer;
    pacer.record("alice", 1, 0);
    pacer.record("bob", 1, 200000);
    EXPECT_EQ(pacer.members(), 2u);
    pacer.record("carol", 1, 3700000);
    EXPECT_EQ(pacer.members(), 2u); // alice's send left the hour window
    EXPECT_EQ(pacer.wait_ms("alice", 30, 3700000), 0);
}

TEST(Pacing, ClearForgetsEveryone) {
    MemberPacer pacer;
    pacer.record("alice", 30, 0);
    pacer.clear();
    EXPECT_EQ(pacer.wait_ms("alice", 1, 0), 0);
}
