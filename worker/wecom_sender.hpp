// The WeChat channel: sends deliveries through the WeCom API's message/send call.
// Pure C++ (the HTTP transport is injected; the default one is libcurl).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "channel.hpp"
#include "sender.hpp"
#include "wecom_api.hpp"
#include "wecom_pacing.hpp"
#include "wecom_transport.hpp"

namespace mis {

// A monotonic clock in milliseconds.
using MonotonicClock = std::function<int64_t()>;
int64_t steady_now_ms();

// Usable on its own (configure, then send) or as the dispatcher's BatchSender, which
// hands it the current settings with every batch.
class WecomSender : public ChannelSender, public BatchSender {
public:
    // The libcurl transport and the steady clock.
    WecomSender();
    WecomSender(std::unique_ptr<HttpTransport> transport, MonotonicClock clock,
                PacingLimits limits = {});

    // Takes the current configuration; cheap when nothing changed, so the dispatcher
    // may call it before every batch. A new corp id, secret or api_base drops the
    // cached access token; a new corp id or agent id forgets the pacing history.
    void configure(const WecomSettings &wecom, const TransportSettings &transport);

    // Sends the deliveries, one call per message and up to kWecomMaxRecipients members.
    // First sends (run 0) have WeCom's duplicate check on; reruns (run > 0) have it off so
    // that they reach people again. Members over the pacing limit come back deferred.
    std::vector<DeliveryResult> send(const std::vector<MessageText> &messages,
                                     const std::vector<Outgoing> &deliveries) override;

    // configure(settings.wecom, settings.transport), then send(messages, deliveries).
    std::vector<DeliveryResult> send(const ChannelSettings &settings,
                                     const std::vector<MessageText> &messages,
                                     const std::vector<Outgoing> &deliveries) override;

    // How many gettoken calls this sender made (for tests and the worker's status).
    int64_t token_fetches() const { return token_fetches_; }

private:
    struct Batch;
    struct Member;

    void send_group(Batch &batch, const MessageText &message, bool rerun,
                    const std::vector<std::size_t> &indices);
    void send_chunk(Batch &batch, const std::vector<std::string> &parts, bool rerun,
                    std::vector<Member *> members);
    WecomOutcome call_send(Batch &batch, const std::vector<Member *> &members,
                           const std::string &content, bool rerun, WecomSendReply &reply);
    WecomOutcome ensure_token(Batch &batch);

    std::unique_ptr<HttpTransport> transport_;
    MonotonicClock clock_;
    MemberPacer pacer_;
    WecomSettings wecom_;
    TransportSettings transport_settings_;
    std::string access_token_;
    int64_t token_expires_at_ms_ = 0;
    int64_t token_fetches_ = 0;
};

} // namespace mis
