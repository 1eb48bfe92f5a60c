// The text of a WeCom message: composing it from subject and body, and splitting it into
// numbered parts that each fit the API's limit. Pure C++.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mis {

// The most UTF-8 bytes WeCom delivers of one text message; it cuts longer ones silently.
constexpr std::size_t kWecomTextLimit = 2048;

// The subject, a blank line, then the body; the body alone when there is no subject.
std::string compose_wecom_text(std::string_view subject, std::string_view body);

// Splits `text` into parts of at most `limit` bytes each, the prefix "(k/n) " included,
// breaking only between characters (never inside a UTF-8 sequence, never before a
// combining mark, variation selector or emoji modifier, never after a zero-width joiner).
// A text that fits is returned whole, without a prefix.
std::vector<std::string> split_wecom_text(std::string_view text,
                                          std::size_t limit = kWecomTextLimit);

} // namespace mis
