// The email channel's MIME encoding: headers, encoded words, bodies, Message-IDs, and
// that no text can add a header.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "smtp_mime.hpp"

using namespace mis;

namespace {

int hex_value(char c) {
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

std::string decode_base64(const std::string &text) {
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        auto pos = alphabet.find(c);
        if (pos == std::string::npos)
            continue; // '=', CR, LF
        bits = (bits << 6) | static_cast<uint32_t>(pos);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xFF);
        }
    }
    return out;
}

std::string decode_quoted_printable(const std::string &text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); i++) {
        if (text[i] == '=' && text.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;
        } else if (text[i] == '=') {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// The value of an unstructured header, unfolded and with its encoded words decoded.
std::string decode_header_value(const std::string &header) {
    std::string value = header.substr(header.find(':') + 2);
    std::string out;
    std::istringstream words(value);
    std::string word;
    bool previous_encoded = false;
    std::string plain;
    for (std::size_t i = 0; i < value.size();) {
        if (value.compare(i, 10, "=?UTF-8?B?") == 0) {
            std::size_t end = value.find("?=", i + 10);
            out += decode_base64(value.substr(i + 10, end - i - 10));
            i = end + 2;
            previous_encoded = true;
            // Whitespace between adjacent encoded words is not part of the text.
            std::size_t next = value.find_first_not_of(" \r\n", i);
            if (next != std::string::npos && value.compare(next, 10, "=?UTF-8?B?") == 0)
                i = next;
        } else {
            out += value[i++];
            previous_encoded = false;
        }
    }
    (void) previous_encoded;
    return out;
}

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find("\r\n", start);
        if (end == std::string::npos)
            end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 2;
    }
    return lines;
}

MailContent sample_mail() {
    MailContent mail;
    mail.from = {"Greenfield School Office", "office@greenfield.example"};
    mail.to = {"Wang Xiaoming", "parent@example.org"};
    mail.subject = "Trip on Friday";
    mail.body = "Dear parent,\nbring a coat.\n";
    mail.delivery_id = 42;
    mail.run = 0;
    mail.date = 1796400000; // Fri, 04 Dec 2026 16:00:00 UTC
    return mail;
}

} // namespace

TEST(MailAddress, Valid) {
    EXPECT_TRUE(valid_mail_address("parent@example.org"));
    EXPECT_TRUE(valid_mail_address("first.last+tag@sub.example.org"));
}

TEST(MailAddress, RejectedAddresses) {
    for (const char *address :
         {"", "no-at-sign", "@example.org", "parent@", "a@b@c", "parent@example.org\r\nBcc: x@y",
          "parent@example.org\n", "<parent@example.org>", "two words@example.org",
          "a,b@example.org", "a;b@example.org", "\"q\"@example.org", "a\tb@example.org",
          "学生@example.org", "a@b>\r\nRCPT TO:<c@d"}) {
        EXPECT_FALSE(valid_mail_address(address)) << address;
    }
    EXPECT_FALSE(valid_mail_address(std::string(250, 'a') + "@b.cn"));
}

TEST(MailFrom, BareAddress) {
    Mailbox from;
    ASSERT_TRUE(parse_mail_from(" office@school.example ", from));
    EXPECT_EQ(from.display_name, "");
    EXPECT_EQ(from.address, "office@school.example");
}

TEST(MailFrom, NameAndAddress) {
    Mailbox from;
    ASSERT_TRUE(parse_mail_from("Greenfield School <office@school.example>", from));
    EXPECT_EQ(from.display_name, "Greenfield School");
    EXPECT_EQ(from.address, "office@school.example");
    ASSERT_TRUE(parse_mail_from("\"Office, Greenfield\" <office@school.example>", from));
    EXPECT_EQ(from.display_name, "Office, Greenfield");
    ASSERT_TRUE(parse_mail_from("绿园学校 <office@school.example>", from));
    EXPECT_EQ(from.display_name, "绿园学校");
}

TEST(MailFrom, Invalid) {
    Mailbox from;
    EXPECT_FALSE(parse_mail_from("", from));
    EXPECT_FALSE(parse_mail_from("School <office@school.example", from));
    EXPECT_FALSE(parse_mail_from("School <office@school.example> extra", from));
    EXPECT_FALSE(parse_mail_from("School <>", from));
    EXPECT_FALSE(parse_mail_from("office@school.example\r\nBcc: x@y", from));
}

TEST(MailDate, Rfc5322) {
    EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    EXPECT_EQ(rfc5322_date(1796400000), "Fri, 04 Dec 2026 16:00:00 +0000");
}

TEST(MessageId, StablePerRunNewPerRerun) {
    EXPECT_EQ(delivery_message_id(42, 0, "office@school.example"),
              "<delivery-42.run-0@school.example>");
    EXPECT_EQ(delivery_message_id(42, 0, "office@school.example"),
              delivery_message_id(42, 0, "office@school.example"));
    EXPECT_EQ(delivery_message_id(42, 3, "office@school.example"),
              "<delivery-42.run-3@school.example>");
    EXPECT_EQ(delivery_message_id(7, 0, "not an address"),
              "<delivery-7.run-0@mis-messaging.invalid>");
}

TEST(Subject, ShortAsciiStaysReadable) {
    EXPECT_EQ(encode_unstructured_header("Subject", "Trip on Friday"), "Subject: Trip on Friday");
}

TEST(Subject, ChineseIsEncoded) {
    EXPECT_EQ(encode_unstructured_header("Subject", "家长会通知"),
              "Subject: =?UTF-8?B?5a626ZW/5Lya6YCa55+l?=");
}

TEST(Subject, LongTextIsFoldedIntoShortLines) {
    std::string subject = "明天学校组织春游，请家长为孩子准备午餐"
                          "和雨衣，谢谢配合！";
    std::string header = encode_unstructured_header("Subject", subject);
    EXPECT_EQ(header,
              "Subject: =?UTF-8?B?5piO5aSp5a2m5qCh57uE57uH5pil5ri477yM6K+35a626ZW/5Li65a2p?=\r\n"
              " =?UTF-8?B?5a2Q5YeG5aSH5Y2I6aSQ5ZKM6Zuo6KGj77yM6LCi6LCi6YWN5ZCI77yB?=");
    for (const std::string &line : lines_of(header))
        EXPECT_LE(line.size(), 78u);
    EXPECT_EQ(decode_header_value(header), subject);
}

TEST(Subject, LongAsciiIsFoldedToo) {
    std::string subject(100, 'x');
    std::string header = encode_unstructured_header("Subject", subject);
    for (const std::string &line : lines_of(header))
        EXPECT_LE(line.size(), 78u);
    EXPECT_EQ(decode_header_value(header), subject);
}

TEST(Subject, LineBreaksCannotStartAHeader) {
    std::string header = encode_unstructured_header("Subject", "Hi\r\nBcc: victim@example.org");
    EXPECT_EQ(header, "Subject: Hi  Bcc: victim@example.org");
    header = encode_unstructured_header("Subject", "学校\nBcc: victim@example.org");
    EXPECT_EQ(header.find('\n'), std::string::npos);
    EXPECT_EQ(decode_header_value(header), "学校 Bcc: victim@example.org");
}

TEST(Subject, TextLookingLikeAnEncodedWordIsEncoded) {
    std::string header = encode_unstructured_header("Subject", "=?UTF-8?B?QQ==?=");
    EXPECT_EQ(header, "Subject: =?UTF-8?B?PT9VVEYtOD9CP1FRPT0/PQ==?=");
}

TEST(Subject, EmojiAreNeverSplitAcrossWords) {
    std::string subject;
    for (int i = 0; i < 25; i++)
        subject += "😀";
    std::string header = encode_unstructured_header("Subject", subject);
    EXPECT_EQ(decode_header_value(header), subject);
    // 42 bytes per word hold 10 emoji; each word decodes to whole characters.
    EXPECT_NE(header.find("=?UTF-8?B?" +
                          std::string("8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+YgA==") +
                          "?="),
              std::string::npos);
}

TEST(AddressHeader, PlainName) {
    EXPECT_EQ(encode_address_header("To", {"Wang Xiaoming", "parent@example.org"}),
              "To: Wang Xiaoming <parent@example.org>");
    EXPECT_EQ(encode_address_header("To", {"", "parent@example.org"}), "To: <parent@example.org>");
}

TEST(AddressHeader, SpecialsAreQuoted) {
    EXPECT_EQ(encode_address_header("To", {"Smith, \"Jo\" (mum)", "jo@example.org"}),
              "To: \"Smith, \\\"Jo\\\" (mum)\" <jo@example.org>");
}

TEST(AddressHeader, ChineseNameIsEncoded) {
    EXPECT_EQ(encode_address_header("To", {"王小明", "parent@example.org"}),
              "To: =?UTF-8?B?546L5bCP5piO?= <parent@example.org>");
}

TEST(AddressHeader, NameCannotInjectAHeader) {
    std::string header =
        encode_address_header("To", {"Eve\r\nBcc: victim@example.org", "eve@example.org"});
    EXPECT_EQ(header, "To: \"Eve  Bcc: victim@example.org\" <eve@example.org>");
    header = encode_address_header("From", {"Eve <a@b>\nX: y", "eve@example.org"});
    EXPECT_EQ(header.find('\n'), std::string::npos);
}

TEST(AddressHeader, LongNameFolds) {
    std::string name;
    for (int i = 0; i < 30; i++)
        name += "王";
    std::string header = encode_address_header("To", {name, "parent@example.org"});
    for (const std::string &line : lines_of(header))
        EXPECT_LE(line.size(), 78u);
    EXPECT_EQ(header.substr(header.size() - 21), " <parent@example.org>");
    std::string quoted(90, 'a');
    quoted += ",";
    header = encode_address_header("To", {quoted, "parent@example.org"});
    for (const std::string &line : lines_of(header))
        EXPECT_LE(line.size(), 78u);
}

TEST(Body, LineEndsBecomeCrlf) {
    EXPECT_EQ(normalise_line_ends("a\nb\r\nc\rd\n"), "a\r\nb\r\nc\r\nd\r\n");
}

TEST(Body, QuotedPrintable) {
    EXPECT_EQ(quoted_printable("café = 1"), "caf=C3=A9 =3D 1");
    EXPECT_EQ(quoted_printable("trailing \r\nspace\t\r\n"), "trailing=20\r\nspace=09\r\n");
    EXPECT_EQ(quoted_printable(".\r\n.."), "=2E\r\n=2E.");
}

TEST(Body, QuotedPrintableSoftBreaks) {
    std::string line(200, 'a');
    std::string encoded = quoted_printable(line);
    for (const std::string &part : lines_of(encoded))
        EXPECT_LE(part.size(), 76u);
    EXPECT_EQ(encoded.substr(0, 77), std::string(75, 'a') + "=\r");
    EXPECT_EQ(decode_quoted_printable(encoded), line);
    std::string accents;
    for (int i = 0; i < 60; i++)
        accents += "é";
    encoded = quoted_printable(accents);
    for (const std::string &part : lines_of(encoded))
        EXPECT_LE(part.size(), 76u);
    EXPECT_EQ(decode_quoted_printable(encoded), accents);
}

TEST(Body, Base64Lines) {
    std::string text;
    for (int i = 0; i < 30; i++)
        text += "学校";
    std::string encoded = base64_lines(text);
    auto lines = lines_of(encoded);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0].size(), 76u);
    EXPECT_EQ(lines[0],
              "5a2m5qCh5a2m5qCh5a2m5qCh5a2m5qCh5a2m5qCh5a2m5qCh5a2m5qCh5a2m5qCh5a2m5qCh5a2m");
    EXPECT_EQ(lines[3].size(), 240u - 3 * 76);
    EXPECT_EQ(decode_base64(encoded), text);
}

TEST(Mail, WholeMail) {
    EXPECT_EQ(build_mail(sample_mail()),
              "Date: Fri, 04 Dec 2026 16:00:00 +0000\r\n"
              "From: Greenfield School Office <office@greenfield.example>\r\n"
              "To: Wang Xiaoming <parent@example.org>\r\n"
              "Subject: Trip on Friday\r\n"
              "Message-ID: <delivery-42.run-0@greenfield.example>\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=UTF-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n"
              "\r\n"
              "Dear parent,\r\n"
              "bring a coat.\r\n");
}

TEST(Mail, ChineseBodyIsBase64) {
    MailContent mail = sample_mail();
    mail.subject = "";
    mail.body = "明天春游。\n请准备午餐。";
    std::string text = build_mail(mail);
    EXPECT_EQ(text.find("Subject:"), std::string::npos);
    std::string body = text.substr(text.find("\r\n\r\n") + 4);
    EXPECT_NE(text.find("Content-Transfer-Encoding: base64\r\n"), std::string::npos);
    EXPECT_EQ(decode_base64(body), "明天春游。\r\n请准备午餐。");
}

TEST(Mail, RerunGetsANewMessageId) {
    MailContent mail = sample_mail();
    std::string first = build_mail(mail);
    std::string again = build_mail(mail);
    mail.run = 1;
    std::string rerun = build_mail(mail);
    EXPECT_NE(first.find("Message-ID: <delivery-42.run-0@greenfield.example>"), std::string::npos);
    EXPECT_EQ(first, again);
    EXPECT_NE(rerun.find("Message-ID: <delivery-42.run-1@greenfield.example>"), std::string::npos);
}

TEST(Mail, NoTextAddsAHeader) {
    MailContent mail = sample_mail();
    mail.subject = "Notice\r\nBcc: victim@example.org\r\n\r\nfake body";
    mail.to.display_name = "Parent\nX-Injected: 1";
    mail.from.display_name = "Office\r\nReply-To: evil@example.org";
    mail.body = "Hi\r\nBcc: victim@example.org\r\n.\r\nRCPT TO:<x@y>\r\n";
    std::string text = build_mail(mail);
    std::string headers = text.substr(0, text.find("\r\n\r\n") + 2);
    std::vector<std::string> names;
    for (const std::string &line : lines_of(headers))
        if (!line.empty() && line[0] != ' ')
            names.push_back(line.substr(0, line.find(':')));
    EXPECT_EQ(names, (std::vector<std::string>{"Date", "From", "To", "Subject", "Message-ID",
                                               "MIME-Version", "Content-Type",
                                               "Content-Transfer-Encoding"}));
    std::string body = text.substr(text.find("\r\n\r\n") + 4);
    // The body's lone "." line is encoded, so it can never end the SMTP DATA.
    for (const std::string &line : lines_of(body))
        EXPECT_NE(line, ".");
    EXPECT_EQ(decode_quoted_printable(body), mail.body);
}

TEST(Mail, RandomTextsRoundTripAndKeepLinesShort) {
    std::mt19937 random(20261204);
    // \u5b66 is 学, \U0001F600 an emoji, \u00e9 a precomposed é and e\xCC\x81 a decomposed one.
    const std::vector<std::string> pieces = {"a",      " ",          "\n",     "=",         ".",
                                             "\u5b66", "\U0001F600", "\u00e9", "e\xCC\x81", "\t",
                                             "\r",     "?",          "=?",     "\"",        "Bcc:"};
    for (int round = 0; round < 300; round++) {
        MailContent mail = sample_mail();
        std::string subject, body, name;
        for (int i = 0; i < static_cast<int>(random() % 60); i++)
            subject += pieces[random() % pieces.size()];
        for (int i = 0; i < static_cast<int>(random() % 800); i++)
            body += pieces[random() % pieces.size()];
        for (int i = 0; i < static_cast<int>(random() % 40); i++)
            name += pieces[random() % pieces.size()];
        mail.subject = subject;
        mail.body = body;
        mail.to.display_name = name;
        std::string text = build_mail(mail);
        std::size_t split = text.find("\r\n\r\n");
        std::string headers = text.substr(0, split + 2);
        std::string encoded_body = text.substr(split + 4);
        for (const std::string &line : lines_of(headers)) {
            EXPECT_LE(line.size(), 998u);
            EXPECT_EQ(line.find('\r'), std::string::npos);
            EXPECT_EQ(line.find('\n'), std::string::npos);
        }
        for (const std::string &line : lines_of(encoded_body))
            EXPECT_LE(line.size(), 76u);
        bool base64 = headers.find("Content-Transfer-Encoding: base64") != std::string::npos;
        std::string decoded =
            base64 ? decode_base64(encoded_body) : decode_quoted_printable(encoded_body);
        std::string expected = normalise_line_ends(body);
        bool ends_with_crlf =
            expected.size() >= 2 && expected.substr(expected.size() - 2) == "\r\n";
        if (!base64 && !ends_with_crlf)
            expected += "\r\n";
        EXPECT_EQ(decoded, expected);
    }
}
