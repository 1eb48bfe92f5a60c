// The WeCom API's messages: the message/send request, the answers of message/send and
// gettoken, and what each outcome means for a delivery. Pure C++.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mis {

// The most recipients one message/send call may name.
constexpr std::size_t kWecomMaxRecipients = 1000;
// How long WeCom suppresses the same text to the same member when the duplicate check
// is on: long enough to cover a crash resend and every backed-off retry.
constexpr int kWecomDuplicateCheckSeconds = 1800;

// Reasons shown to people (see the README's failure reasons table).
extern const char *const kWecomInvalidUser;
extern const char *const kWecomUnlicensedUser;
extern const char *const kWecomNotConfigured;
extern const char *const kWecomTokenRejected;
extern const char *const kWecomTlsFailed;
extern const char *const kWecomTlsHandshakeFailed;

// Whether `user_id` can be a WeCom user id: 1 to 64 bytes of letters, digits, '_', '-',
// '@' and '.', starting with a letter, a digit or '_'. Anything else (a '|' or "@all"
// above all) could change whom a call reaches.
bool valid_wecom_user_id(std::string_view user_id);

// The JSON body of a message/send call sending `content` as a text message. With
// `duplicate_check`, WeCom ignores the same text to the same member within
// kWecomDuplicateCheckSeconds, which makes a resend after a crash harmless.
std::string build_wecom_send_json(const std::vector<std::string> &users, int agent_id,
                                  std::string_view content, bool duplicate_check);

// The answer to a message/send call.
struct WecomSendReply {
    bool readable = false; // a JSON object with an errcode
    long errcode = 0;
    std::vector<std::string> invalid_users;    // lower-cased, as WeCom lists them
    std::vector<std::string> unlicensed_users; // lower-cased
};
WecomSendReply parse_wecom_send_reply(std::string_view body);

// The answer to a gettoken call.
struct WecomTokenReply {
    bool readable = false;
    long errcode = 0;
    std::string access_token;
    int64_t expires_in_s = 0;
};
WecomTokenReply parse_wecom_token_reply(std::string_view body);

// What an answer (or its absence) means for the deliveries of a call.
enum class WecomOutcomeKind {
    ok,            // sent (message/send) or token granted (gettoken)
    retry,         // transient: try again later
    token_expired, // refresh the access token, then call again
    failed,        // permanent for these deliveries
    configuration, // permanent and the channel's configuration is at fault
    all_invalid,   // 81013: no user id of the call is valid
    stopped,       // the dispatcher is stopping: not tried
};

struct WecomOutcome {
    WecomOutcomeKind kind = WecomOutcomeKind::ok;
    std::string reason;
};

// Why a call got no usable HTTP answer. `tls` is a certificate that could not be
// verified (or a CA bundle that could not be read); `tls_handshake` is a TLS
// handshake that failed before any certificate was judged, typically a TLS client
// talking to a server that does not speak TLS on that port.
enum class TransportError { none, timeout, connect, tls, tls_handshake, aborted, network };

// What an HTTP exchange gave: a transport error, or a status and a body.
struct HttpResponse {
    TransportError error = TransportError::none;
    long status = 0;
    std::string body;
};

// The meaning of a message/send exchange: transport errors and HTTP statuses first,
// then the errcode (which decides whenever there is one: WeCom answers HTTP 200 for
// most failures).
WecomOutcome classify_wecom_send(const HttpResponse &response, const WecomSendReply &reply);

// The meaning of a gettoken exchange.
WecomOutcome classify_wecom_token(const HttpResponse &response, const WecomTokenReply &reply);

} // namespace mis
