// The email channel: one plain-text mail per delivery over reused SMTP connections,
// with libcurl. The classification of SMTP outcomes is pure and tested on its own.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "channel.hpp"
#include "sender.hpp"
#include "smtp_mime.hpp"

namespace mis {

// Reasons shown to people (see the README's failure reasons table).
extern const char *const kSmtpAddressRefused;
extern const char *const kSmtpAuthRefused;
extern const char *const kSmtpTlsFailed;
extern const char *const kSmtpTlsHandshakeFailed;

// What became of one mail, before it is tied to its delivery.
struct SmtpOutcome {
    Verdict verdict = Verdict::complete;
    std::string reason;
    bool configuration = false;
};

// The meaning of a finished libcurl SMTP transfer: its CURLcode, the last SMTP reply
// code (CURLINFO_RESPONSE_CODE, 0 when none) and libcurl's error text.
SmtpOutcome classify_smtp(int curl_code, long smtp_code, std::string_view error_text);

// Usable on its own (configure, then send) or as the dispatcher's BatchSender, which
// hands it the current settings with every batch.
class SmtpSender : public ChannelSender, public BatchSender {
public:
    // The clock for the Date header.
    using WallClock = std::function<std::time_t()>;

    explicit SmtpSender(WallClock clock = [] { return std::time(nullptr); });
    ~SmtpSender() override;
    SmtpSender(const SmtpSender &) = delete;
    SmtpSender &operator=(const SmtpSender &) = delete;

    // Takes the current configuration; cheap when nothing changed, so the dispatcher may
    // call it before every batch. A change closes the open connections.
    void configure(const SmtpSettings &smtp, const TransportSettings &transport);

    // Sends one mail per delivery over up to max_connections connections kept open
    // between batches. After a configuration failure (login or TLS refused), the
    // batch's remaining mails fail with the same reason without being tried.
    std::vector<DeliveryResult> send(const std::vector<MessageText> &messages,
                                     const std::vector<Outgoing> &deliveries) override;

    // configure(settings.smtp, settings.transport), then send(messages, deliveries).
    std::vector<DeliveryResult> send(const ChannelSettings &settings,
                                     const std::vector<MessageText> &messages,
                                     const std::vector<Outgoing> &deliveries) override;

    // A mail being handed to libcurl (public only for libcurl's read callback).
    struct MailCursor {
        std::string mail;
        std::size_t sent = 0;
    };

private:
    struct Slot;

    void close_connections();
    void open_connections();
    void start(Slot &slot, std::string mail, const std::string &recipient);

    WallClock clock_;
    SmtpSettings smtp_;
    TransportSettings transport_;
    Mailbox from_;
    bool from_valid_ = false;
    void *multi_ = nullptr; // CURLM, kept opaque so this header needs no libcurl
    std::vector<std::unique_ptr<Slot>> slots_;
};

} // namespace mis
