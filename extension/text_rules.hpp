// Text and recipient rules of the SQL API that need no server: counting
// characters, splitting names into searchable words, natural sort keys, and the
// normalisation of a send request. Pure C++: nothing here includes postgres.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mis {

// The most characters a subject and a body may have.
constexpr std::size_t max_subject_chars = 100;
constexpr std::size_t max_body_chars = 600;

// Counts the Unicode code points of UTF-8 text (the "characters" of the API).
std::size_t code_points(std::string_view utf8);

// Whether text is empty or holds only white space (Unicode white space included).
bool is_blank(std::string_view utf8);

// Whether text holds at least one Han (Chinese) character.
bool contains_han(std::string_view utf8);

// Splits text into words at white space and hyphens, dropping empty words and
// repeats, in order of first appearance.
std::vector<std::string> split_words(std::string_view utf8);

// The words under which a name is found by search: its words, and for a word
// with Han characters every suffix of it too, so that a Han search word can
// match anywhere inside. Sorted, without repeats. Expects lower-cased text.
std::vector<std::string> index_words(std::string_view utf8);

// A key that sorts numbers inside text as numbers ("Form 7A" before "Form 10A"):
// each run of ASCII digits is replaced by its value padded to a fixed width.
std::string natural_sort_key(std::string_view utf8);

// The channels of the API, in their canonical order.
enum class Channel { wechat, email, alert };

// The channel's SQL label; parse_channel returns nullopt for an unknown label.
const char *channel_label(Channel channel);
std::optional<Channel> parse_channel(std::string_view label);

// A rule of the API broken by a send request; send maps it to a SQLSTATE.
class RuleError : public std::runtime_error {
public:
    enum class Kind { too_long, invalid };
    RuleError(Kind kind, const std::string &message, std::string detail = {})
        : std::runtime_error(message), kind(kind), detail(std::move(detail)) {}

    Kind kind;
    std::string detail;
};

// A send request as the caller gave it, NULLs as nullopt.
struct SendArguments {
    std::optional<std::string> subject;
    std::optional<std::string> body;
    std::optional<std::vector<std::optional<int64_t>>> recipients;
    std::optional<std::vector<std::optional<std::string>>> channels;
    std::optional<bool> include_associations;
    std::optional<std::vector<std::optional<std::string>>> relationships;
    std::optional<std::vector<std::optional<int16_t>>> ranks;
    std::optional<std::string> request_key;
};

// A valid send request: checked, duplicates removed, lists sorted.
struct SendRequest {
    std::optional<std::string> subject; // nullopt: no subject (NULL, empty or blank)
    std::string body;
    std::vector<int64_t> recipients;                       // sorted, unique
    std::vector<Channel> channels;                         // canonical order, unique
    bool associations = false;                             // widen pupils to their contacts
    std::optional<std::vector<std::string>> relationships; // as given, unique
    std::optional<std::vector<int16_t>> ranks;             // sorted, unique
    std::optional<std::string> request_key;
};

// Checks a send request against the API's rules and normalises it; throws
// RuleError naming the first rule broken.
SendRequest check_send(const SendArguments &arguments);

// The content of a request in one unambiguous text, for the request_key check.
// Relationship names must already be case-folded.
std::string request_content(const SendRequest &request);

// Sorted, unique union of two lists of person ids.
std::vector<int64_t> merge_ids(std::vector<int64_t> first, const std::vector<int64_t> &second);

// "1, 2, 3" for at most `limit` ids, then "and N more".
std::string list_ids(const std::vector<int64_t> &ids, std::size_t limit = 20);

} // namespace mis
