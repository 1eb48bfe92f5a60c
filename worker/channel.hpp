// What the dispatcher hands a channel sender, and what it gets back. Pure C++:
// nothing here may include postgres.h.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace mis {

// The text of one message, as the sender wrote it (UTF-8).
struct MessageText {
    int64_t message_id = 0;
    std::string subject; // empty: no subject
    std::string body;
};

// One delivery to make on this try.
struct Outgoing {
    int64_t delivery_id = 0;
    int64_t message_id = 0;
    int64_t person_id = 0;
    std::string address;      // the WeCom user id or email address
    std::string display_name; // for the mail's To header
    int attempt = 1;          // this try's number, counting from 1
    int run = 0;              // 0 for the first send, n for the n-th deliberate rerun
};

// What became of one delivery.
enum class Verdict {
    complete, // delivered
    retry,    // transient failure: try again after a delay, unless out of tries
    failed,   // permanent or configuration failure: do not try again
    deferred, // not tried (pacing, or stopping): queue again after defer_ms without using a try
};

struct DeliveryResult {
    int64_t delivery_id = 0;
    Verdict verdict = Verdict::failed;
    std::string reason;           // for people: why it failed or is retried
    bool reached_network = false; // whether this try counts as an attempt
    int64_t defer_ms = 0;         // for Verdict::deferred
    // A failure of the channel's configuration (credentials, TLS trust, server refusing
    // the school): the same reason applies to every delivery of the channel, so the
    // dispatcher writes one LOG line per batch with this reason rather than one per delivery.
    bool configuration = false;
};

// How the network is used; from the messaging.* parameters.
struct TransportSettings {
    long request_timeout_ms = 10000; // per request (connect, send and answer)
    std::string ca_file;             // CA bundle for TLS verification; empty: the system's
    int max_connections = 4;         // parallel connections (SMTP)
    // When set and nonzero, network calls in progress are aborted within about 100 ms
    // and deliveries not yet finished come back deferred with defer_ms 0. The worker
    // points this at its shutdown flag (set by its SIGTERM handler).
    const volatile std::sig_atomic_t *stop = nullptr;
};

// Whether the dispatcher asked the senders to stop.
inline bool stop_requested(const volatile std::sig_atomic_t *stop) {
    return stop != nullptr && *stop != 0;
}

// The WeCom application messages are sent from (messaging.configure_wecom).
struct WecomSettings {
    std::string corp_id;
    int agent_id = 0;
    std::string secret;
    std::string api_base = "https://qyapi.weixin.qq.com"; // no trailing slash needed
};

// The mail relay (messaging.configure_smtp).
struct SmtpSettings {
    std::string url;       // smtps://host[:port] (implicit TLS) or smtp://host[:port]
    std::string mail_from; // "address" or "Name <address>"
    std::string username;  // empty: no login
    std::string password;
    bool starttls = true; // for smtp:// URLs: require STARTTLS; false: plain connection
};

// A channel's sender. Objects live as long as the worker, so that connections, the
// WeCom access token and the pacing state carry over from one batch to the next.
// Only one thread may use a sender at a time; no call ever throws.
class ChannelSender {
public:
    virtual ~ChannelSender() = default;

    // Makes the given deliveries. `messages` holds the text of every message_id that
    // `deliveries` names. Returns one result per delivery, in the order of `deliveries`.
    virtual std::vector<DeliveryResult> send(const std::vector<MessageText> &messages,
                                             const std::vector<Outgoing> &deliveries) = 0;
};

} // namespace mis
