// How the dispatcher drives the channel senders. Pure C++: no postgres.h.
#pragma once

#include <memory>
#include <vector>

#include "channel.hpp"

namespace mis {

enum class Channel { wechat, email, alert };

// Everything a sender may need for one batch, read afresh for every batch.
struct ChannelSettings {
    TransportSettings transport;
    WecomSettings wecom;
    SmtpSettings smtp;
};

// A channel's sender as the dispatcher uses it: handed the current settings
// with every batch. One lives as long as the dispatcher, so that tokens,
// connections and pacing carry over from one batch to the next.
class BatchSender {
public:
    virtual ~BatchSender() = default;

    // Makes one try of every delivery and returns a result for each. Runs
    // outside any transaction and returns promptly once transport.stop is set.
    virtual std::vector<DeliveryResult> send(const ChannelSettings &settings,
                                             const std::vector<MessageText> &messages,
                                             const std::vector<Outgoing> &deliveries) = 0;
};

std::unique_ptr<BatchSender> make_wecom_sender();
std::unique_ptr<BatchSender> make_smtp_sender();

// Alerts need no network: every try succeeds and the recording transaction
// writes the inbox row.
std::unique_ptr<BatchSender> make_alert_sender();

} // namespace mis
