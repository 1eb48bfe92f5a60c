// Text and recipient rules of the SQL API that need no server.
#include "text_rules.hpp"

#include <algorithm>
#include <cstdio>

namespace mis {

namespace {

// Longest word, in code points, kept for name search; longer words are cut, so
// that no index entry outgrows a btree page.
constexpr std::size_t max_word_chars = 64;

// Width numbers are padded to in a natural sort key.
constexpr std::size_t number_width = 20;

// One code point decoded from UTF-8, with its length in bytes.
struct CodePoint {
    char32_t value;
    std::size_t length;
};

// Decodes the code point at text[at]; a malformed byte counts as one character.
CodePoint decode(std::string_view text, std::size_t at) {
    auto byte = static_cast<unsigned char>(text[at]);
    std::size_t length = byte < 0x80    ? 1
                         : byte >= 0xF0 ? 4
                         : byte >= 0xE0 ? 3
                         : byte >= 0xC0 ? 2
                                        : 1;
    if (at + length > text.size())
        return {byte, 1};

    char32_t value = length == 1 ? byte : byte & (0x7F >> length);
    for (std::size_t i = 1; i < length; i++) {
        auto next = static_cast<unsigned char>(text[at + i]);
        if ((next & 0xC0) != 0x80)
            return {byte, 1};
        value = (value << 6) | (next & 0x3F);
    }
    return {value, length};
}

// Unicode white space, plus the invisible zero-width space and byte order mark.
bool is_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200B) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

// The hyphen-minus and its Unicode relatives (dashes, minus, small and full-width).
bool is_hyphen(char32_t c) {
    return c == 0x2D || (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0xFE58 || c == 0xFE63 ||
           c == 0xFF0D;
}

// Han ideographs: radicals, the CJK blocks and their extensions.
bool is_han(char32_t c) {
    return (c >= 0x2E80 && c <= 0x2FDF) || c == 0x3005 || c == 0x3007 ||
           (c >= 0x3021 && c <= 0x3029) || (c >= 0x3038 && c <= 0x303B) ||
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3FFFF);
}

// The first max_chars code points of text.
std::string_view first_chars(std::string_view text, std::size_t max_chars) {
    std::size_t at = 0;
    for (std::size_t n = 0; at < text.size() && n < max_chars; n++)
        at += decode(text, at).length;
    return text.substr(0, at);
}

// Appends a field as <length>:<bytes>, so that no content can imitate a separator.
void append_field(std::string &out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
}

// Throws RuleError::invalid with message `what`.
[[noreturn]] void invalid(const std::string &what) {
    throw RuleError(RuleError::Kind::invalid, what);
}

// Checks that a list argument is given, not empty, and holds no NULL.
template <typename T>
const std::vector<std::optional<T>> &
required_list(const std::optional<std::vector<std::optional<T>>> &list, const char *name) {
    if (!list)
        invalid(std::string(name) + " must not be null");
    if (list->empty())
        invalid(std::string(name) + " must not be empty");
    for (const auto &item : *list)
        if (!item)
            invalid(std::string(name) + " must not contain null");
    return *list;
}

// Sorts a list and drops repeats.
template <typename T>
void sort_unique(std::vector<T> &list) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
}

// Checks a text's length in characters; throws RuleError::too_long naming it.
void check_length(std::string_view text, std::size_t limit, const char *name) {
    std::size_t chars = code_points(text);
    if (chars > limit)
        throw RuleError(RuleError::Kind::too_long, std::string(name) + " is too long",
                        "The " + std::string(name) + " has " + std::to_string(chars) +
                            " characters; at most " + std::to_string(limit) + " are allowed.");
}

} // namespace

std::size_t code_points(std::string_view utf8) {
    std::size_t count = 0;
    for (std::size_t at = 0; at < utf8.size(); count++)
        at += decode(utf8, at).length;
    return count;
}

bool is_blank(std::string_view utf8) {
    for (std::size_t at = 0; at < utf8.size();) {
        CodePoint c = decode(utf8, at);
        if (!is_space(c.value))
            return false;
        at += c.length;
    }
    return true;
}

bool contains_han(std::string_view utf8) {
    for (std::size_t at = 0; at < utf8.size();) {
        CodePoint c = decode(utf8, at);
        if (is_han(c.value))
            return true;
        at += c.length;
    }
    return false;
}

std::vector<std::string> split_words(std::string_view utf8) {
    std::vector<std::string> words;
    std::size_t start = 0;
    auto finish_word = [&](std::size_t end) {
        if (end > start) {
            std::string word(first_chars(utf8.substr(start, end - start), max_word_chars));
            if (std::find(words.begin(), words.end(), word) == words.end())
                words.push_back(std::move(word));
        }
    };

    for (std::size_t at = 0; at < utf8.size();) {
        CodePoint c = decode(utf8, at);
        if (is_space(c.value) || is_hyphen(c.value)) {
            finish_word(at);
            start = at + c.length;
        }
        at += c.length;
    }
    finish_word(utf8.size());
    return words;
}

std::vector<std::string> index_words(std::string_view utf8) {
    std::vector<std::string> entries;
    for (const std::string &word : split_words(utf8)) {
        entries.push_back(word);
        if (!contains_han(word))
            continue;
        std::size_t at = decode(word, 0).length;
        for (; at < word.size(); at += decode(word, at).length)
            entries.push_back(word.substr(at));
    }
    sort_unique(entries);
    return entries;
}

std::string natural_sort_key(std::string_view utf8) {
    std::string key;
    key.reserve(utf8.size() + number_width);
    for (std::size_t at = 0; at < utf8.size();) {
        if (utf8[at] < '0' || utf8[at] > '9') {
            key += utf8[at++];
            continue;
        }
        std::size_t end = at;
        while (end < utf8.size() && utf8[end] >= '0' && utf8[end] <= '9')
            end++;
        std::string_view digits = utf8.substr(at, end - at);
        while (digits.size() > 1 && digits[0] == '0')
            digits.remove_prefix(1);
        if (digits.size() < number_width)
            key.append(number_width - digits.size(), '0');
        key += digits;
        at = end;
    }
    return key;
}

const char *channel_label(Channel channel) {
    switch (channel) {
    case Channel::wechat:
        return "wechat";
    case Channel::email:
        return "email";
    case Channel::alert:
        return "alert";
    }
    return "unknown";
}

std::optional<Channel> parse_channel(std::string_view label) {
    for (Channel channel : {Channel::wechat, Channel::email, Channel::alert})
        if (label == channel_label(channel))
            return channel;
    return std::nullopt;
}

SendRequest check_send(const SendArguments &arguments) {
    SendRequest request;

    // The text: an optional subject and a body that says something.
    if (arguments.subject) {
        check_length(*arguments.subject, max_subject_chars, "subject");
        if (!is_blank(*arguments.subject))
            request.subject = *arguments.subject;
    }
    if (!arguments.body)
        invalid("body must not be null");
    check_length(*arguments.body, max_body_chars, "body");
    if (is_blank(*arguments.body))
        invalid("body must not be blank");
    request.body = *arguments.body;

    // Who and how: each person and each channel once.
    for (const auto &id : required_list(arguments.recipients, "recipients"))
        request.recipients.push_back(*id);
    sort_unique(request.recipients);

    for (const auto &label : required_list(arguments.channels, "channels")) {
        std::optional<Channel> channel = parse_channel(*label);
        if (!channel)
            invalid("unknown channel \"" + *label + "\"");
        request.channels.push_back(*channel);
    }
    sort_unique(request.channels);

    // Associations: asked for outright, or implied by a relationship or rank filter.
    if (!arguments.include_associations)
        invalid("include_associations must not be null");
    if (arguments.relationships) {
        request.relationships.emplace();
        for (const auto &name : *arguments.relationships) {
            if (!name)
                invalid("relationships must not contain null");
            request.relationships->push_back(*name);
        }
        sort_unique(*request.relationships);
    }
    if (arguments.ranks) {
        request.ranks.emplace();
        for (const auto &rank : *arguments.ranks) {
            if (!rank)
                invalid("ranks must not contain null");
            request.ranks->push_back(*rank);
        }
        sort_unique(*request.ranks);
    }
    request.associations = *arguments.include_associations || request.relationships.has_value() ||
                           request.ranks.has_value();

    // The retry key, if any.
    if (arguments.request_key) {
        if (is_blank(*arguments.request_key))
            invalid("request_key must not be blank");
        check_length(*arguments.request_key, 200, "request_key");
        request.request_key = *arguments.request_key;
    }
    return request;
}

std::string request_content(const SendRequest &request) {
    std::string out = "send v1";

    out += "\nsubject ";
    if (request.subject)
        append_field(out, *request.subject);
    out += "\nbody ";
    append_field(out, request.body);

    out += "\nrecipients";
    for (int64_t id : request.recipients)
        out += ' ' + std::to_string(id);
    out += "\nchannels";
    for (Channel channel : request.channels)
        out += std::string(" ") + channel_label(channel);

    out += request.associations ? "\nassociations yes" : "\nassociations no";
    out += "\nrelationships";
    if (request.relationships) {
        out += " given";
        for (const std::string &name : *request.relationships) {
            out += ' ';
            append_field(out, name);
        }
    }
    out += "\nranks";
    if (request.ranks) {
        out += " given";
        for (int16_t rank : *request.ranks)
            out += ' ' + std::to_string(rank);
    }
    return out;
}

std::vector<int64_t> merge_ids(std::vector<int64_t> first, const std::vector<int64_t> &second) {
    first.insert(first.end(), second.begin(), second.end());
    sort_unique(first);
    return first;
}

std::string list_ids(const std::vector<int64_t> &ids, std::size_t limit) {
    std::string out;
    for (std::size_t i = 0; i < ids.size() && i < limit; i++) {
        if (i > 0)
            out += ", ";
        out += std::to_string(ids[i]);
    }
    if (ids.size() > limit)
        out += " and " + std::to_string(ids.size() - limit) + " more";
    return out;
}

} // namespace mis
