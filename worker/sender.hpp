// How the dispatcher talks to the channel senders. Pure C++: no postgres.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "channel.hpp"

namespace mis {

enum class Channel { wechat, email, alert };

// The network parameters (messaging.max_connections, request_timeout, ca_file).
struct NetworkSettings {
    int max_connections = 8;
    int64_t request_timeout_ms = 10000;
    std::string ca_file; // empty: the system's CA store
};

// A row of messaging.wecom_config.
struct WecomSettings {
    std::string corp_id;
    int agent_id = 0;
    std::string secret;
    std::string api_base;
};

// A row of messaging.smtp_config.
struct SmtpSettings {
    std::string url;
    std::string mail_from;
    std::string username; // empty: no authentication
    std::string password;
    bool starttls = true;
};

// Everything a sender may need for one batch, read afresh for every batch.
struct ChannelSettings {
    NetworkSettings network;
    WecomSettings wecom;
    SmtpSettings smtp;
};

// A channel's sender. One lives as long as the dispatcher, so it may keep
// tokens, connections and pacing state from one batch to the next.
class ChannelSender {
public:
    virtual ~ChannelSender() = default;

    // Makes one try of every delivery and returns a result for each. Runs
    // outside any transaction and must return promptly once stop_requested is set.
    virtual std::vector<DeliveryResult> send(const ChannelSettings &settings,
                                             const std::vector<MessageText> &messages,
                                             const std::vector<Outgoing> &deliveries) = 0;
};

std::unique_ptr<ChannelSender> make_wecom_sender();
std::unique_ptr<ChannelSender> make_smtp_sender();

// Alerts need no network: every try succeeds and the recording transaction
// writes the inbox row.
std::unique_ptr<ChannelSender> make_alert_sender();

} // namespace mis
