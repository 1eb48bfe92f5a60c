// Composing and splitting WeCom texts.
#include "wecom_text.hpp"

#include <algorithm>
#include <cstdint>

namespace mis {

namespace {

// One character of the text: where it starts, how many bytes, its code point.
struct Char {
    std::size_t offset;
    std::size_t length;
    uint32_t code_point;
};

// Decodes the UTF-8 sequence at `offset`; an invalid byte counts as one character.
Char decode_at(std::string_view text, std::size_t offset) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char lead = byte(offset);
    std::size_t length = 1;
    uint32_t cp = lead;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        cp = lead & 0x07;
    }
    if (length == 1 || offset + length > text.size())
        return {offset, 1, lead};
    for (std::size_t i = 1; i < length; i++) {
        unsigned char next = byte(offset + i);
        if ((next & 0xC0) != 0x80)
            return {offset, 1, lead};
        cp = (cp << 6) | (next & 0x3F);
    }
    return {offset, length, cp};
}

// Whether a code point belongs to the character before it (so no break goes before it).
bool extends_previous(uint32_t cp) {
    return (cp >= 0x0300 && cp <= 0x036F) ||   // combining diacritical marks
           (cp >= 0x1AB0 && cp <= 0x1AFF) ||   // combining diacritical marks extended
           (cp >= 0x1DC0 && cp <= 0x1DFF) ||   // combining diacritical marks supplement
           (cp >= 0x20D0 && cp <= 0x20FF) ||   // combining marks for symbols
           (cp >= 0xFE20 && cp <= 0xFE2F) ||   // combining half marks
           (cp >= 0xFE00 && cp <= 0xFE0F) ||   // variation selectors
           (cp >= 0x1F3FB && cp <= 0x1F3FF) || // emoji skin tone modifiers
           (cp >= 0xE0020 && cp <= 0xE007F) || // tag characters (flag sequences)
           (cp >= 0xE0100 && cp <= 0xE01EF) || // variation selectors supplement
           cp == 0x200D || cp == 0x20E3;       // zero-width joiner, keycap
}

// The offsets where a part may end: between characters that do not belong together.
std::vector<std::size_t> break_points(std::string_view text) {
    std::vector<std::size_t> points;
    uint32_t previous = 0;
    for (std::size_t offset = 0; offset < text.size();) {
        Char c = decode_at(text, offset);
        if (offset > 0 && !extends_previous(c.code_point) && previous != 0x200D)
            points.push_back(offset);
        previous = c.code_point;
        offset += c.length;
    }
    points.push_back(text.size());
    return points;
}

// Every offset between characters, ignoring clusters: the fallback for a cluster longer
// than a whole part.
std::vector<std::size_t> char_points(std::string_view text) {
    std::vector<std::size_t> points;
    for (std::size_t offset = 0; offset < text.size();) {
        offset += decode_at(text, offset).length;
        points.push_back(offset);
    }
    return points;
}

std::string prefix(std::size_t k, std::size_t n) {
    return "(" + std::to_string(k) + "/" + std::to_string(n) + ") ";
}

// Splits into parts assuming there are `n` of them; returns the pieces' end offsets.
std::vector<std::size_t> split_assuming(std::string_view text, std::size_t limit, std::size_t n,
                                        const std::vector<std::size_t> &points,
                                        const std::vector<std::size_t> &fallback) {
    std::vector<std::size_t> ends;
    std::size_t start = 0;
    std::size_t next_point = 0;
    std::size_t next_fallback = 0;
    while (start < text.size()) {
        std::size_t taken = prefix(ends.size() + 1, std::max(n, ends.size() + 1)).size();
        std::size_t room = limit > taken ? limit - taken : 0;
        std::size_t end = start;
        while (next_point < points.size() && points[next_point] - start <= room)
            end = points[next_point++];
        if (end == start) {
            // A single cluster longer than a part: cut it between code points.
            while (next_fallback < fallback.size() && fallback[next_fallback] <= start)
                next_fallback++;
            while (next_fallback < fallback.size() && fallback[next_fallback] - start <= room)
                end = fallback[next_fallback++];
            if (end == start) // a limit too small for any character: one per part
                end = fallback[next_fallback];
            while (next_point < points.size() && points[next_point] <= end)
                next_point++;
        }
        ends.push_back(end);
        start = end;
    }
    return ends;
}

} // namespace

std::string compose_wecom_text(std::string_view subject, std::string_view body) {
    if (subject.empty())
        return std::string(body);
    std::string text(subject);
    text += "\n\n";
    text += body;
    return text;
}

std::vector<std::string> split_wecom_text(std::string_view text, std::size_t limit) {
    if (text.size() <= limit)
        return {std::string(text)};

    // The prefix grows with the number of parts, which depends on the prefix: start
    // from two parts and recount until the count is stable.
    std::vector<std::size_t> points = break_points(text);
    std::vector<std::size_t> fallback = char_points(text);
    std::size_t n = 2;
    std::vector<std::size_t> ends = split_assuming(text, limit, n, points, fallback);
    while (ends.size() != n) {
        n = ends.size();
        ends = split_assuming(text, limit, n, points, fallback);
    }

    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t k = 0; k < ends.size(); k++) {
        parts.push_back(prefix(k + 1, n) + std::string(text.substr(start, ends[k] - start)));
        start = ends[k];
    }
    return parts;
}

} // namespace mis
