// Building the plain-text mail of one email delivery: headers that no text can break
// out of, RFC 2047 encoded words for non-ASCII, a quoted-printable or base64 body, CRLF
// line ends throughout. Pure C++.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace mis {

// A mailbox: an optional display name and an address.
struct Mailbox {
    std::string display_name; // UTF-8, may be empty
    std::string address;
};

// Whether `address` is a plain addr-spec a relay can take: printable ASCII, one '@'
// with text on both sides, at most 254 bytes, and none of CR, LF, '<', '>', '(', ')',
// ',', ';', '"', '\', spaces or other control characters.
bool valid_mail_address(std::string_view address);

// Reads messaging.configure_smtp's mail_from: a bare address or `Name <address>`.
// False when there is no valid address in it.
bool parse_mail_from(std::string_view mail_from, Mailbox &mailbox);

// The date in RFC 5322 form, in UTC: "Fri, 04 Dec 2026 18:07:03 +0000".
std::string rfc5322_date(std::time_t when);

// The Message-ID of a delivery's try: the same for every try of one run (so a resend
// after a crash is recognisable), new for each deliberate rerun. The domain is the
// sender address's.
std::string delivery_message_id(int64_t delivery_id, int run, std::string_view from_address);

// An unstructured header (such as Subject) with its value: the text as it is when it
// is short printable ASCII, otherwise RFC 2047 "B" encoded words folded onto lines of at
// most 78 characters. Control characters become spaces. No trailing CRLF.
std::string encode_unstructured_header(std::string_view name, std::string_view text);

// An address header (From, To): the display name as an atom phrase, a quoted string or
// encoded words, then <address>. The address must be valid. No trailing CRLF.
std::string encode_address_header(std::string_view name, const Mailbox &mailbox);

// Line ends made CRLF (lone CR and lone LF alike).
std::string normalise_line_ends(std::string_view text);

// Quoted-printable (RFC 2045) of CRLF-ended text: lines of at most 76 characters.
std::string quoted_printable(std::string_view text);

// Base64 in lines of 76 characters, each ended by CRLF.
std::string base64_lines(std::string_view data);

// Everything that goes into one mail.
struct MailContent {
    Mailbox from;
    Mailbox to;
    std::string subject; // empty: no Subject header
    std::string body;
    int64_t delivery_id = 0;
    int run = 0;
    std::time_t date = 0;
};

// The whole mail, headers and body, CRLF line ends. The body is quoted-printable when it
// is mostly ASCII and base64 otherwise. `mail.from` and `mail.to` must hold valid
// addresses.
std::string build_mail(const MailContent &mail);

} // namespace mis
