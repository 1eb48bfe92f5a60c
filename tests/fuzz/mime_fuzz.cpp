// libFuzzer target: no subject, body, name or address makes a mail with an extra header,
// a bare line break in a header, an over-long line, or a body that decodes differently;
// the WeChat splitter keeps every part within the limit and loses nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "smtp_mime.hpp"
#include "wecom_text.hpp"

namespace {

void check(bool condition) {
    if (!condition)
        std::abort();
}

// Splits the input into fields at NUL bytes.
std::vector<std::string> fields(const uint8_t *data, size_t size, size_t count) {
    std::vector<std::string> result(count);
    size_t field = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == 0 && field + 1 < count)
            field++;
        else
            result[field] += static_cast<char>(data[i]);
    }
    return result;
}

int hex(char c) {
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

std::string decode_quoted_printable(const std::string &text) {
    std::string out;
    for (size_t i = 0; i < text.size(); i++) {
        if (text[i] == '=' && text.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;
        } else if (text[i] == '=') {
            check(i + 2 < text.size());
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::vector<std::string> f = fields(data, size, 4);
    mis::MailContent mail;
    mail.from = {f[2], "office@school.example"};
    mail.to = {f[2], mis::valid_mail_address(f[3]) ? f[3] : "parent@example.org"};
    mail.subject = f[0];
    mail.body = f[1];
    mail.delivery_id = 1;
    mail.date = 0;
    std::string text = mis::build_mail(mail);

    // Headers: only the eight expected names, each line CRLF-ended and short.
    size_t end = text.find("\r\n\r\n");
    check(end != std::string::npos);
    std::string headers = text.substr(0, end + 2);
    int names = 0;
    for (size_t start = 0; start < headers.size();) {
        size_t line_end = headers.find("\r\n", start);
        check(line_end != std::string::npos);
        std::string line = headers.substr(start, line_end - start);
        check(line.find('\r') == std::string::npos && line.find('\n') == std::string::npos);
        check(line.size() <= 998);
        check(!line.empty());
        if (line[0] != ' ')
            names++;
        start = line_end + 2;
    }
    check(names == (mail.subject.empty() ? 7 : 8));

    // Body: quoted-printable decodes back to the text with CRLF line ends.
    std::string body = text.substr(end + 4);
    if (headers.find("\r\nContent-Transfer-Encoding: quoted-printable\r\n") != std::string::npos) {
        std::string expected = mis::normalise_line_ends(mail.body);
        if (expected.size() < 2 || expected.compare(expected.size() - 2, 2, "\r\n") != 0)
            expected += "\r\n";
        check(decode_quoted_printable(body) == expected);
    }
    for (size_t start = 0; start < body.size();) {
        size_t line_end = body.find("\r\n", start);
        check(line_end != std::string::npos);
        check(line_end - start <= 76);
        check(body.compare(start, line_end - start, ".") != 0);
        start = line_end + 2;
    }

    // The WeChat splitter, with a small limit so short inputs still split.
    std::vector<std::string> parts = mis::split_wecom_text(f[1], 40);
    std::string rejoined;
    for (const std::string &part : parts) {
        check(part.size() <= 40 || parts.size() == 1);
        rejoined += parts.size() == 1 ? part : part.substr(part.find(") ") + 2);
    }
    check(rejoined == f[1]);
    return 0;
}
