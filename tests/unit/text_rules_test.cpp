#include "text_rules.hpp"

#include <gtest/gtest.h>

using mis::RuleError;
using mis::SendArguments;
using mis::SendRequest;
using Words = std::vector<std::string>;

namespace {

// n copies of a UTF-8 character.
std::string repeat(const std::string &character, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; i++)
        out += character;
    return out;
}

// A valid request to vary in each test.
SendArguments valid_arguments() {
    SendArguments arguments;
    arguments.subject = "Trip";
    arguments.body = "Coaches leave at 8.";
    arguments.recipients = std::vector<std::optional<int64_t>>{3, 1, 3};
    arguments.channels = std::vector<std::optional<std::string>>{"email", "wechat", "email"};
    arguments.include_associations = false;
    return arguments;
}

// The kind of rule a request breaks, or "ok".
std::string verdict(const SendArguments &arguments) {
    try {
        mis::check_send(arguments);
        return "ok";
    } catch (const RuleError &error) {
        return std::string(error.kind == RuleError::Kind::too_long ? "too long: " : "invalid: ") +
               error.what();
    }
}

} // namespace

TEST(CodePoints, CountsCharactersNotBytes) {
    EXPECT_EQ(mis::code_points(""), 0u);
    EXPECT_EQ(mis::code_points("abc"), 3u);
    EXPECT_EQ(mis::code_points("王小明"), 3u);
    EXPECT_EQ(mis::code_points("é😀"), 2u);
}

TEST(Blank, WhiteSpaceOfAnyScriptIsBlank) {
    EXPECT_TRUE(mis::is_blank(""));
    EXPECT_TRUE(mis::is_blank(" \t\r\n"));
    EXPECT_TRUE(mis::is_blank("\u3000\u00a0"));
    EXPECT_FALSE(mis::is_blank(" x "));
    EXPECT_FALSE(mis::is_blank("\u3000好"));
}

TEST(Han, FindsChineseCharacters) {
    EXPECT_TRUE(mis::contains_han("王小明"));
    EXPECT_TRUE(mis::contains_han("li王"));
    EXPECT_FALSE(mis::contains_han("smith"));
    EXPECT_FALSE(mis::contains_han("にほん"));
}

TEST(SplitWords, SplitsAtWhiteSpaceAndHyphens) {
    EXPECT_EQ(mis::split_words("ann smith-jones"), (Words{"ann", "smith", "jones"}));
    EXPECT_EQ(mis::split_words("  jo\u3000ann--lee "), (Words{"jo", "ann", "lee"}));
    EXPECT_EQ(mis::split_words("st. o'neil 50%_x"), (Words{"st.", "o'neil", "50%_x"}));
    EXPECT_EQ(mis::split_words("ann ann"), (Words{"ann"}));
    EXPECT_EQ(mis::split_words(" \t"), Words{});
}

TEST(IndexWords, HanWordsAreIndexedByEverySuffix) {
    EXPECT_EQ(mis::index_words("王小明 wang"), (Words{"wang", "小明", "明", "王小明"}));
    EXPECT_EQ(mis::index_words("john smith john"), (Words{"john", "smith"}));
}

TEST(IndexWords, LongWordsAreCut) {
    EXPECT_EQ(mis::index_words(repeat("a", 70)), Words{repeat("a", 64)});
    EXPECT_EQ(mis::split_words(repeat("好", 70)), Words{repeat("好", 64)});
}

TEST(NaturalSortKey, NumbersSortAsNumbers) {
    EXPECT_LT(mis::natural_sort_key("Form 7A"), mis::natural_sort_key("Form 10A"));
    EXPECT_LT(mis::natural_sort_key("Year 9"), mis::natural_sort_key("Year 10"));
    EXPECT_EQ(mis::natural_sort_key("7"), mis::natural_sort_key("007"));
    EXPECT_EQ(mis::natural_sort_key("A"), "A");
    EXPECT_EQ(mis::natural_sort_key("x12"), "x00000000000000000012");
}

TEST(CheckSend, NormalisesRecipientsAndChannels) {
    SendRequest request = mis::check_send(valid_arguments());
    EXPECT_EQ(request.recipients, (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(request.channels,
              (std::vector<mis::Channel>{mis::Channel::wechat, mis::Channel::email}));
    EXPECT_FALSE(request.associations);
    EXPECT_EQ(request.subject, std::optional<std::string>("Trip"));
}

TEST(CheckSend, LengthsAreCountedInCharacters) {
    SendArguments arguments = valid_arguments();
    arguments.body = repeat("好", 600);
    arguments.subject = repeat("😀", 100);
    EXPECT_EQ(verdict(arguments), "ok");

    arguments.body = repeat("好", 601);
    EXPECT_EQ(verdict(arguments), "too long: body is too long");
    arguments.body = "x";
    arguments.subject = repeat("😀", 101);
    EXPECT_EQ(verdict(arguments), "too long: subject is too long");
}

TEST(CheckSend, BlankSubjectMeansNone) {
    SendArguments arguments = valid_arguments();
    arguments.subject = " ";
    EXPECT_FALSE(mis::check_send(arguments).subject.has_value());
}

TEST(CheckSend, RejectsMissingOrEmptyArguments) {
    SendArguments arguments = valid_arguments();
    arguments.body = "\u3000 ";
    EXPECT_EQ(verdict(arguments), "invalid: body must not be blank");
    arguments.body.reset();
    EXPECT_EQ(verdict(arguments), "invalid: body must not be null");

    arguments = valid_arguments();
    arguments.recipients->clear();
    EXPECT_EQ(verdict(arguments), "invalid: recipients must not be empty");
    arguments.recipients->push_back(std::nullopt);
    EXPECT_EQ(verdict(arguments), "invalid: recipients must not contain null");

    arguments = valid_arguments();
    arguments.channels.reset();
    EXPECT_EQ(verdict(arguments), "invalid: channels must not be null");

    arguments = valid_arguments();
    arguments.ranks = std::vector<std::optional<int16_t>>{1, std::nullopt};
    EXPECT_EQ(verdict(arguments), "invalid: ranks must not contain null");

    arguments = valid_arguments();
    arguments.request_key = "";
    EXPECT_EQ(verdict(arguments), "invalid: request_key must not be blank");
}

TEST(CheckSend, FiltersImplyAssociations) {
    SendArguments arguments = valid_arguments();
    arguments.ranks = std::vector<std::optional<int16_t>>{2, 1, 2};
    SendRequest request = mis::check_send(arguments);
    EXPECT_TRUE(request.associations);
    EXPECT_EQ(request.ranks, (std::vector<int16_t>{1, 2}));
}

TEST(RequestContent, SameRequestSameContent) {
    SendArguments reordered = valid_arguments();
    reordered.recipients = std::vector<std::optional<int64_t>>{1, 3};
    reordered.channels = std::vector<std::optional<std::string>>{"wechat", "email"};
    EXPECT_EQ(mis::request_content(mis::check_send(valid_arguments())),
              mis::request_content(mis::check_send(reordered)));
}

TEST(RequestContent, AnyDifferenceChangesContent) {
    std::string base = mis::request_content(mis::check_send(valid_arguments()));

    SendArguments changed = valid_arguments();
    changed.subject.reset();
    EXPECT_NE(mis::request_content(mis::check_send(changed)), base);

    changed = valid_arguments();
    changed.include_associations = true;
    EXPECT_NE(mis::request_content(mis::check_send(changed)), base);

    changed = valid_arguments();
    changed.relationships = std::vector<std::optional<std::string>>{};
    EXPECT_NE(mis::request_content(mis::check_send(changed)), base);

    // A body cannot pass for a body plus a following field.
    SendArguments a = valid_arguments(), b = valid_arguments();
    a.subject = "x\nbody 1:y";
    a.body = "z";
    b.subject = "x";
    b.body = "y\nbody 1:z";
    EXPECT_NE(mis::request_content(mis::check_send(a)), mis::request_content(mis::check_send(b)));
}

TEST(MergeIds, UnionWithoutRepeats) {
    EXPECT_EQ(mis::merge_ids({5, 1}, {1, 7, 5}), (std::vector<int64_t>{1, 5, 7}));
}

TEST(ListIds, LongListsAreShortened) {
    EXPECT_EQ(mis::list_ids({1, 2}), "1, 2");
    EXPECT_EQ(mis::list_ids({1, 2, 3, 4}, 2), "1, 2 and 2 more");
}

TEST(CodePoints, MalformedBytesCountOnce) {
    EXPECT_EQ(mis::code_points("\xff"), 1u);
    EXPECT_EQ(mis::code_points("a\xe5\xa5"), 3u);
}

TEST(Channels, LabelsRoundTrip) {
    for (mis::Channel channel : {mis::Channel::wechat, mis::Channel::email, mis::Channel::alert})
        EXPECT_EQ(mis::parse_channel(mis::channel_label(channel)), channel);
    EXPECT_FALSE(mis::parse_channel("sms").has_value());
}

TEST(CheckSend, AlertSortsLastAndFiltersKeepGivenOrderSorted) {
    SendArguments arguments = valid_arguments();
    arguments.channels = std::vector<std::optional<std::string>>{"alert", "email"};
    arguments.relationships = std::vector<std::optional<std::string>>{"mother", "father", "mother"};
    SendRequest request = mis::check_send(arguments);
    EXPECT_EQ(request.channels,
              (std::vector<mis::Channel>{mis::Channel::email, mis::Channel::alert}));
    EXPECT_EQ(request.relationships, (std::vector<std::string>{"father", "mother"}));
    EXPECT_TRUE(request.associations);
}
