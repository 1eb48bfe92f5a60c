// MIME encoding of the email channel's mails.
#include "smtp_mime.hpp"

#include <cctype>
#include <cstring>
#include <vector>

namespace mis {

namespace {

constexpr std::size_t kLineLimit = 78;
// Raw bytes per encoded word: 56 base64 characters, so a word is 68 characters and
// "Subject: " plus one word stays within kLineLimit.
constexpr std::size_t kEncodedWordBytes = 42;

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                     (static_cast<unsigned char>(data[i + 1]) << 8) |
                     static_cast<unsigned char>(data[i + 2]);
        out += kBase64[(n >> 18) & 63];
        out += kBase64[(n >> 12) & 63];
        out += kBase64[(n >> 6) & 63];
        out += kBase64[n & 63];
    }
    if (i < data.size()) {
        uint32_t n = static_cast<unsigned char>(data[i]) << 16;
        if (i + 1 < data.size())
            n |= static_cast<unsigned char>(data[i + 1]) << 8;
        out += kBase64[(n >> 18) & 63];
        out += kBase64[(n >> 12) & 63];
        out += i + 1 < data.size() ? kBase64[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// The length of the UTF-8 sequence starting with `lead` (1 for anything invalid).
std::size_t utf8_length(unsigned char lead) {
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 1;
}

// Replaces every control character (CR and LF above all) with a space.
std::string without_controls(std::string_view text) {
    std::string clean(text);
    for (char &c : clean) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F)
            c = ' ';
    }
    return clean;
}

bool printable_ascii(std::string_view text) {
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7E)
            return false;
    }
    return true;
}

// Whether a phrase word may go unquoted (RFC 5322 atext and spaces between words).
bool atom_phrase(std::string_view text) {
    if (text.empty() || text.front() == ' ' || text.back() == ' ')
        return false;
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == ' ')
            continue;
        if (std::strchr("!#$%&'*+-/=?^_`{|}~", c) == nullptr)
            return false;
    }
    return text.find("=?") == std::string_view::npos;
}

// The text as encoded words of at most kEncodedWordBytes bytes each, never splitting a
// UTF-8 sequence.
std::vector<std::string> encoded_words(std::string_view text) {
    std::vector<std::string> words;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = start;
        while (end < text.size()) {
            std::size_t next = end + utf8_length(static_cast<unsigned char>(text[end]));
            if (next > text.size())
                next = text.size();
            if (next - start > kEncodedWordBytes && end > start)
                break;
            end = next;
        }
        words.push_back("=?UTF-8?B?" + base64(text.substr(start, end - start)) + "?=");
        start = end;
    }
    return words;
}

// "Name: " followed by the words, folded (CRLF SP) wherever a line would grow too long.
std::string fold(std::string_view name, const std::vector<std::string> &words) {
    std::string header = std::string(name) + ":";
    std::size_t line_length = header.size();
    for (const std::string &word : words) {
        if (line_length + 1 + word.size() > kLineLimit && line_length > name.size() + 1) {
            header += "\r\n";
            line_length = 0;
        }
        header += ' ';
        header += word;
        line_length += 1 + word.size();
    }
    return header;
}

// The display name as it goes before <address>: "" when there is none.
std::vector<std::string> phrase_words(std::string_view display_name) {
    std::string name = without_controls(display_name);
    // Leading and trailing spaces carry nothing.
    std::size_t first = name.find_first_not_of(' ');
    if (first == std::string::npos)
        return {};
    name = name.substr(first, name.find_last_not_of(' ') - first + 1);

    if (atom_phrase(name))
        return {name};
    if (printable_ascii(name)) {
        std::string quoted = "\"";
        for (char c : name) {
            if (c == '"' || c == '\\')
                quoted += '\\';
            quoted += c;
        }
        quoted += '"';
        return {quoted};
    }
    return encoded_words(name);
}

} // namespace

bool valid_mail_address(std::string_view address) {
    if (address.empty() || address.size() > 254)
        return false;
    for (char c : address) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || std::strchr("<>()[],;:\"\\", c) != nullptr)
            return false;
    }
    std::size_t at = address.find('@');
    return at != std::string_view::npos && at > 0 && at + 1 < address.size() &&
           address.find('@', at + 1) == std::string_view::npos;
}

bool parse_mail_from(std::string_view mail_from, Mailbox &mailbox) {
    std::size_t open = mail_from.rfind('<');
    if (open == std::string_view::npos) {
        std::string address(mail_from);
        std::size_t first = address.find_first_not_of(" \t");
        std::size_t last = address.find_last_not_of(" \t");
        address = first == std::string::npos ? "" : address.substr(first, last - first + 1);
        if (!valid_mail_address(address))
            return false;
        mailbox = {"", address};
        return true;
    }
    std::size_t close = mail_from.find('>', open);
    if (close == std::string_view::npos ||
        mail_from.find_first_not_of(" \t", close + 1) != std::string_view::npos)
        return false;
    std::string address(mail_from.substr(open + 1, close - open - 1));
    if (!valid_mail_address(address))
        return false;
    std::string name(mail_from.substr(0, open));
    std::size_t last = name.find_last_not_of(" \t");
    name = last == std::string::npos ? "" : name.substr(0, last + 1);
    // A quoted name loses its quotes; its escapes are undone.
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
        std::string unquoted;
        for (std::size_t i = 1; i + 1 < name.size(); i++) {
            if (name[i] == '\\' && i + 2 < name.size())
                i++;
            unquoted += name[i];
        }
        name = unquoted;
    }
    mailbox = {name, address};
    return true;
}

std::string rfc5322_date(std::time_t when) {
    std::tm utc{};
    gmtime_r(&when, &utc);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &utc);
    return text;
}

std::string delivery_message_id(int64_t delivery_id, int run, std::string_view from_address) {
    std::string_view domain = "mis-messaging.invalid";
    std::size_t at = from_address.rfind('@');
    if (at != std::string_view::npos && at + 1 < from_address.size() &&
        valid_mail_address(from_address))
        domain = from_address.substr(at + 1);
    return "<delivery-" + std::to_string(delivery_id) + ".run-" + std::to_string(run) + "@" +
           std::string(domain) + ">";
}

std::string encode_unstructured_header(std::string_view name, std::string_view text) {
    std::string clean = without_controls(text);
    if (printable_ascii(clean) && clean.find("=?") == std::string::npos &&
        name.size() + 2 + clean.size() <= kLineLimit && !clean.empty() && clean.front() != ' ' &&
        clean.back() != ' ')
        return std::string(name) + ": " + clean;
    return fold(name, encoded_words(clean));
}

std::string encode_address_header(std::string_view name, const Mailbox &mailbox) {
    std::vector<std::string> words = phrase_words(mailbox.display_name);
    std::string with_address = fold(name, words);
    // A quoted name too long for one line is encoded instead, which folds.
    std::size_t last_line = with_address.rfind('\n');
    last_line = last_line == std::string::npos ? 0 : last_line + 1;
    if (words.size() == 1 && with_address.size() - last_line > kLineLimit)
        words = encoded_words(without_controls(mailbox.display_name));
    words.push_back("<" + mailbox.address + ">");
    return fold(name, words);
}

std::string normalise_line_ends(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 16);
    for (std::size_t i = 0; i < text.size(); i++) {
        if (text[i] == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n')
                i++;
        } else if (text[i] == '\n') {
            out += "\r\n";
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string quoted_printable(std::string_view text) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    std::size_t line_length = 0;
    for (std::size_t i = 0; i < text.size(); i++) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            out += "\r\n";
            line_length = 0;
            i++;
            continue;
        }
        bool at_line_end = i + 1 == text.size() ||
                           (text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n');
        std::string token;
        bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
        // A leading dot is encoded too, so no relay ever sees a line that is just ".".
        if (literal && c == '.' && line_length == 0)
            literal = false;
        if (literal) {
            token = static_cast<char>(c);
        } else {
            token = {'=', hex[c >> 4], hex[c & 0x0F]};
        }
        // A soft line break keeps every line within 76 characters, "=" included.
        std::size_t room = at_line_end ? 76 : 75;
        if (line_length + token.size() > room) {
            out += "=\r\n";
            line_length = 0;
            if (token == ".") {
                token = "=2E";
            }
        }
        out += token;
        line_length += token.size();
    }
    return out;
}

std::string base64_lines(std::string_view data) {
    std::string encoded = base64(data);
    std::string out;
    for (std::size_t i = 0; i < encoded.size(); i += 76) {
        out += encoded.substr(i, 76);
        out += "\r\n";
    }
    return out;
}

std::string build_mail(const MailContent &mail) {
    std::string body = normalise_line_ends(mail.body);
    std::size_t high = 0;
    for (char c : body)
        if (static_cast<unsigned char>(c) >= 0x80)
            high++;
    bool use_base64 = high * 3 > body.size();

    std::string out;
    out += "Date: " + rfc5322_date(mail.date) + "\r\n";
    out += encode_address_header("From", mail.from) + "\r\n";
    out += encode_address_header("To", mail.to) + "\r\n";
    if (!without_controls(mail.subject).empty())
        out += encode_unstructured_header("Subject", mail.subject) + "\r\n";
    out += "Message-ID: " + delivery_message_id(mail.delivery_id, mail.run, mail.from.address) +
           "\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=UTF-8\r\n";
    out += std::string("Content-Transfer-Encoding: ") +
           (use_base64 ? "base64" : "quoted-printable") + "\r\n";
    out += "\r\n";
    if (use_base64) {
        out += base64_lines(body);
    } else {
        std::string encoded = quoted_printable(body);
        if (encoded.size() < 2 || encoded.compare(encoded.size() - 2, 2, "\r\n") != 0)
            encoded += "\r\n";
        out += encoded;
    }
    return out;
}

} // namespace mis
