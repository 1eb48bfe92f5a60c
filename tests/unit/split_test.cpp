// Composing WeCom texts and splitting them into numbered parts of at most 2,048 bytes.
#include <gtest/gtest.h>

#include "wecom_text.hpp"

using mis::compose_wecom_text;
using mis::split_wecom_text;

namespace {

std::string repeat(const std::string &piece, std::size_t times) {
    std::string text;
    for (std::size_t i = 0; i < times; i++)
        text += piece;
    return text;
}

// The text the parts carry, prefixes removed.
std::string rejoin(const std::vector<std::string> &parts) {
    std::string text;
    for (const std::string &part : parts)
        text += part.substr(part.find(") ") + 2);
    return text;
}

// Whether a string is well-formed UTF-8 (so no part was cut inside a character).
bool valid_utf8(const std::string &text) {
    for (std::size_t i = 0; i < text.size();) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        std::size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        if (i + length > text.size())
            return false;
        for (std::size_t k = 1; k < length; k++)
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80)
                return false;
        i += length;
    }
    return true;
}

} // namespace

TEST(ComposeText, SubjectBlankLineThenBody) {
    EXPECT_EQ(compose_wecom_text("Trip", "Bring a coat."), "Trip\n\nBring a coat.");
}

TEST(ComposeText, NoSubjectIsBodyAlone) {
    EXPECT_EQ(compose_wecom_text("", "Bring a coat."), "Bring a coat.");
}

TEST(SplitText, ShortTextIsOnePartWithoutPrefix) {
    EXPECT_EQ(split_wecom_text("hello"), std::vector<std::string>{"hello"});
}

TEST(SplitText, ExactlyTheLimitIsOnePart) {
    std::string text = repeat("a", 2048);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0], text);
}

TEST(SplitText, OneByteOverMakesTwoNumberedParts) {
    std::string text = repeat("a", 2049);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "(1/2) " + repeat("a", 2042));
    EXPECT_EQ(parts[1], "(2/2) " + repeat("a", 7));
    EXPECT_EQ(parts[0].size(), 2048u);
}

TEST(SplitText, ChineseBreaksBetweenCharacters) {
    std::string text = repeat("学", 700); // 2,100 bytes
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "(1/2) " + repeat("学", 680)); // 6 + 2,040 bytes
    EXPECT_EQ(parts[1], "(2/2) " + repeat("学", 20));
}

TEST(SplitText, FullSubjectAndChineseBodyIsSentWhole) {
    std::string text = compose_wecom_text(repeat("通", 100), repeat("知", 600));
    ASSERT_EQ(text.size(), 2102u);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(rejoin(parts), text);
    for (const auto &part : parts) {
        EXPECT_LE(part.size(), 2048u);
        EXPECT_TRUE(valid_utf8(part));
    }
}

TEST(SplitText, EmojiAreNeverCut) {
    // Two bytes of ASCII shift the four-byte emoji off any even boundary.
    std::string text = "ab" + repeat("😀", 600);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "(1/2) ab" + repeat("😀", 510)); // 6 + 2 + 2,040 bytes
    EXPECT_EQ(parts[0].size(), 2048u);
    EXPECT_EQ(parts[1], "(2/2) " + repeat("😀", 90));
}

TEST(SplitText, CombiningMarkStaysWithItsLetter) {
    // "é" as e + U+0301: three bytes. With one leading "x", a code-point split would put
    // the 681st "e" in part one and its accent in part two.
    std::string cluster = "e\xCC\x81";
    std::string text = "x" + repeat(cluster, 700);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "(1/2) x" + repeat(cluster, 680));
    EXPECT_EQ(parts[0].size(), 2047u);
    EXPECT_EQ(parts[1], "(2/2) " + repeat(cluster, 20));
}

TEST(SplitText, ZeroWidthJoinerSequenceStaysWhole) {
    // A family emoji: man ZWJ woman ZWJ girl, 18 bytes.
    std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
    std::string text = repeat(family, 120); // 2,160 bytes
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "(1/2) " + repeat(family, 113)); // 2,034 bytes of text
    EXPECT_EQ(parts[1], "(2/2) " + repeat(family, 7));
}

TEST(SplitText, SkinToneModifierStaysWithItsEmoji) {
    std::string thumbs = "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"; // 👍🏽, 8 bytes
    std::string text = "abc" + repeat(thumbs, 300);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "(1/2) abc" + repeat(thumbs, 254)); // 6 + 3 + 2,032
    EXPECT_EQ(parts[1], "(2/2) " + repeat(thumbs, 46));
}

TEST(SplitText, ManyPartsAllFitAndNumberConsistently) {
    std::string text;
    for (int i = 0; text.size() < 25000; i++)
        text += "line " + std::to_string(i) + " 学校 😀\n";
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 13u);
    for (std::size_t k = 0; k < parts.size(); k++) {
        std::string prefix = "(" + std::to_string(k + 1) + "/13) ";
        EXPECT_EQ(parts[k].substr(0, prefix.size()), prefix);
        EXPECT_LE(parts[k].size(), 2048u);
        EXPECT_TRUE(valid_utf8(parts[k]));
    }
    EXPECT_EQ(rejoin(parts), text);
}

TEST(SplitText, ClusterLongerThanAPartIsCutBetweenCodePoints) {
    std::string text = "a" + repeat("\xCC\x81", 1500); // one letter with 1,500 accents
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].size(), 2047u);
    EXPECT_TRUE(valid_utf8(parts[0]));
    EXPECT_TRUE(valid_utf8(parts[1]));
    EXPECT_EQ(rejoin(parts), text);
}

TEST(SplitText, InvalidBytesCountAsCharacters) {
    std::string text = repeat("\xFF", 3000);
    auto parts = split_wecom_text(text);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].size(), 2048u);
    EXPECT_EQ(rejoin(parts), text);
}

TEST(SplitText, SmallLimitStillTerminates) {
    auto parts = split_wecom_text(repeat("学", 10), 12);
    EXPECT_EQ(rejoin(parts), repeat("学", 10));
}
