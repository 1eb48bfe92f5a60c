// The email channel's libcurl sender.
#include "smtp_sender.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "curl_common.hpp"

namespace mis {

const char *const kSmtpAddressRefused = "the mail server refused the address";
const char *const kSmtpAuthRefused = "the mail server refused the login: check "
                                     "messaging.configure_smtp's username and password";
const char *const kSmtpTlsFailed = "could not verify the TLS certificate of the mail server: "
                                   "check the SMTP URL and messaging.ca_file";
const char *const kSmtpTlsHandshakeFailed =
    "TLS handshake with the mail server failed: check that the SMTP URL's scheme matches the "
    "server (smtps:// for TLS from the first byte, smtp:// for STARTTLS)";

namespace {

const char *const kStopping = "not sent: the dispatcher is stopping";

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

} // namespace

SmtpOutcome classify_smtp(int curl_code, long smtp_code, std::string_view error_text) {
    auto code = static_cast<CURLcode>(curl_code);
    std::string smtp = " (SMTP " + std::to_string(smtp_code) + ")";
    switch (code) {
    case CURLE_OK:
        return {Verdict::complete, "", false};
    case CURLE_ABORTED_BY_CALLBACK:
        return {Verdict::deferred, kStopping, false};
    case CURLE_LOGIN_DENIED:
        return {Verdict::failed, kSmtpAuthRefused, true};
    case CURLE_USE_SSL_FAILED:
        return {Verdict::failed,
                "the mail server does not offer STARTTLS: use an smtps:// URL, or starttls "
                "false for a relay on a trusted network",
                true};
    default:
        break;
    }
    switch (transport_error_of(code)) {
    case TransportError::tls:
        return {Verdict::failed, kSmtpTlsFailed, true};
    case TransportError::tls_handshake:
        return {Verdict::failed, kSmtpTlsHandshakeFailed, true};
    case TransportError::timeout:
        return {Verdict::retry, "timed out waiting for the mail server", false};
    case TransportError::connect:
        return {Verdict::retry, "could not connect to the mail server", false};
    default:
        break;
    }
    if (smtp_code == 530 || smtp_code == 534 || smtp_code == 535)
        return {Verdict::failed, kSmtpAuthRefused, true};
    if (starts_with(error_text, "RCPT failed")) {
        if (smtp_code >= 500 && smtp_code < 600)
            return {Verdict::failed, kSmtpAddressRefused, false};
        if (smtp_code >= 400 && smtp_code < 500)
            return {Verdict::retry, "the mail server deferred the address" + smtp, false};
    }
    if (smtp_code >= 400 && smtp_code < 500)
        return {Verdict::retry, "the mail server asked to try again later" + smtp, false};
    if (smtp_code >= 500 && smtp_code < 600) {
        if (starts_with(error_text, "MAIL failed"))
            return {Verdict::failed,
                    "the mail server refused the sender address: check "
                    "messaging.configure_smtp's mail_from" +
                        smtp,
                    true};
        if (code == CURLE_WEIRD_SERVER_REPLY)
            return {Verdict::failed, "the mail server refused the connection" + smtp, true};
        return {Verdict::failed, "the mail server refused the mail" + smtp, false};
    }
    return {Verdict::retry, "the connection to the mail server was lost", false};
}

// One connection's handle and the mail it is sending.
struct SmtpSender::Slot {
    CURL *easy = nullptr;
    curl_slist *recipients = nullptr;
    MailCursor cursor;
    std::size_t delivery = 0; // index into the batch
    bool busy = false;
    char error[CURL_ERROR_SIZE] = {};

    ~Slot() {
        curl_easy_cleanup(easy);
        curl_slist_free_all(recipients);
    }
};

namespace {

// Hands libcurl the next piece of the mail.
size_t read_mail(char *buffer, size_t size, size_t count, void *userdata) {
    auto *slot = static_cast<SmtpSender::MailCursor *>(userdata);
    std::size_t length = std::min(size * count, slot->mail.size() - slot->sent);
    std::memcpy(buffer, slot->mail.data() + slot->sent, length);
    slot->sent += length;
    return length;
}

} // namespace

SmtpSender::SmtpSender(WallClock clock) : clock_(std::move(clock)) {
    ensure_curl_initialised();
}

SmtpSender::~SmtpSender() {
    close_connections();
}

void SmtpSender::configure(const SmtpSettings &smtp, const TransportSettings &transport) {
    bool changed = smtp.url != smtp_.url || smtp.username != smtp_.username ||
                   smtp.password != smtp_.password || smtp.starttls != smtp_.starttls ||
                   smtp.mail_from != smtp_.mail_from || transport.ca_file != transport_.ca_file ||
                   transport.request_timeout_ms != transport_.request_timeout_ms ||
                   transport.max_connections != transport_.max_connections;
    smtp_ = smtp;
    transport_ = transport;
    from_valid_ = parse_mail_from(smtp_.mail_from, from_);
    if (changed)
        close_connections();
}

void SmtpSender::close_connections() {
    // The handles are out of the multi handle between batches; the multi handle owns
    // the open connections and closes them.
    slots_.clear();
    if (multi_ != nullptr) {
        curl_multi_cleanup(static_cast<CURLM *>(multi_));
        multi_ = nullptr;
    }
}

// Creates the handles: one per connection, set up once and reused for every mail.
void SmtpSender::open_connections() {
    if (multi_ != nullptr)
        return;
    long connections = std::max(1, transport_.max_connections);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, connections);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, connections);
    multi_ = multi;

    bool implicit_tls = smtp_.url.rfind("smtps://", 0) == 0;
    for (long i = 0; i < connections; i++) {
        auto slot = std::make_unique<Slot>();
        slot->easy = curl_easy_init();
        CURL *easy = slot->easy;
        apply_transport_options(easy, transport_);
        curl_easy_setopt(easy, CURLOPT_URL, smtp_.url.c_str());
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        curl_easy_setopt(easy, CURLOPT_USE_SSL,
                         implicit_tls || smtp_.starttls ? static_cast<long>(CURLUSESSL_ALL)
                                                        : static_cast<long>(CURLUSESSL_NONE));
        if (!smtp_.username.empty()) {
            curl_easy_setopt(easy, CURLOPT_USERNAME, smtp_.username.c_str());
            curl_easy_setopt(easy, CURLOPT_PASSWORD, smtp_.password.c_str());
        }
        curl_easy_setopt(easy, CURLOPT_MAIL_FROM, ("<" + from_.address + ">").c_str());
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_mail);
        curl_easy_setopt(easy, CURLOPT_READDATA, &slot->cursor);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, slot->error);
        slots_.push_back(std::move(slot));
    }
}

// Puts one mail on a free handle.
void SmtpSender::start(Slot &slot, std::string mail, const std::string &recipient) {
    curl_slist_free_all(slot.recipients);
    slot.recipients = curl_slist_append(nullptr, ("<" + recipient + ">").c_str());
    slot.cursor.mail = std::move(mail);
    slot.cursor.sent = 0;
    slot.error[0] = '\0';
    curl_easy_setopt(slot.easy, CURLOPT_MAIL_RCPT, slot.recipients);
    curl_easy_setopt(slot.easy, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(slot.cursor.mail.size()));
    slot.busy = true;
    curl_multi_add_handle(static_cast<CURLM *>(multi_), slot.easy);
}

std::vector<DeliveryResult> SmtpSender::send(const ChannelSettings &settings,
                                             const std::vector<MessageText> &messages,
                                             const std::vector<Outgoing> &deliveries) {
    configure(settings.smtp, settings.transport);
    return send(messages, deliveries);
}

std::vector<DeliveryResult> SmtpSender::send(const std::vector<MessageText> &messages,
                                             const std::vector<Outgoing> &deliveries) {
    std::vector<DeliveryResult> results(deliveries.size());
    std::unordered_map<int64_t, const MessageText *> texts;
    for (const MessageText &message : messages)
        texts.emplace(message.message_id, &message);
    auto decide = [&](std::size_t i, Verdict verdict, const std::string &reason, bool reached,
                      bool configuration) {
        results[i].verdict = verdict;
        results[i].reason = reason;
        results[i].reached_network = reached;
        results[i].configuration = configuration;
    };

    // Deliveries that cannot be sent are decided without a connection.
    std::deque<std::size_t> queue;
    for (std::size_t i = 0; i < deliveries.size(); i++) {
        results[i].delivery_id = deliveries[i].delivery_id;
        if (!from_valid_)
            decide(i, Verdict::failed,
                   "the sender address is not valid: check messaging.configure_smtp's "
                   "mail_from",
                   false, true);
        else if (!valid_mail_address(deliveries[i].address))
            decide(i, Verdict::failed,
                   "not a valid email address: check the person's email address", false, false);
        else if (texts.count(deliveries[i].message_id) == 0)
            decide(i, Verdict::failed, "the message's text was not found", false, false);
        else
            queue.push_back(i);
    }
    if (queue.empty())
        return results;

    open_connections();
    auto *multi = static_cast<CURLM *>(multi_);
    std::unordered_map<CURL *, Slot *> slot_of;
    for (auto &slot : slots_)
        slot_of[slot->easy] = slot.get();
    std::time_t now = clock_();
    SmtpOutcome configuration_failure;
    bool configuration_failed = false;
    int active = 0;

    while (true) {
        // Start mails on free connections, unless stopping or the configuration failed.
        bool stopping = stop_requested(transport_.stop);
        for (auto &slot : slots_) {
            if (slot->busy || queue.empty() || stopping || configuration_failed)
                continue;
            std::size_t i = queue.front();
            queue.pop_front();
            const Outgoing &delivery = deliveries[i];
            const MessageText &text = *texts[delivery.message_id];
            MailContent mail{from_,
                             {delivery.display_name, delivery.address},
                             text.subject,
                             text.body,
                             delivery.delivery_id,
                             delivery.run,
                             now};
            slot->delivery = i;
            start(*slot, build_mail(mail), delivery.address);
            active++;
        }
        if (active == 0)
            break;

        int running = 0;
        curl_multi_perform(multi, &running);
        int queued = 0;
        while (CURLMsg *message = curl_multi_info_read(multi, &queued)) {
            if (message->msg != CURLMSG_DONE)
                continue;
            Slot *slot = slot_of[message->easy_handle];
            long smtp_code = 0;
            curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &smtp_code);
            SmtpOutcome outcome = classify_smtp(message->data.result, smtp_code, slot->error);
            curl_multi_remove_handle(multi, slot->easy);
            slot->busy = false;
            active--;
            decide(slot->delivery, outcome.verdict, outcome.reason,
                   outcome.verdict != Verdict::deferred, outcome.configuration);
            if (outcome.configuration && !configuration_failed) {
                configuration_failed = true;
                configuration_failure = outcome;
            }
        }
        if (active > 0 && stop_requested(transport_.stop)) {
            // Abort what is in flight; those mails go back to the queue untried.
            for (auto &slot : slots_) {
                if (!slot->busy)
                    continue;
                curl_multi_remove_handle(multi, slot->easy);
                slot->busy = false;
                decide(slot->delivery, Verdict::deferred, kStopping, false, false);
            }
            active = 0;
            break;
        }
        if (active > 0)
            curl_multi_poll(multi, nullptr, 0, kStopCheckMs, nullptr);
    }

    // What was never started.
    for (std::size_t i : queue) {
        if (configuration_failed)
            decide(i, Verdict::failed, configuration_failure.reason, false, true);
        else
            decide(i, Verdict::deferred, kStopping, false, false);
    }
    return results;
}

} // namespace mis
