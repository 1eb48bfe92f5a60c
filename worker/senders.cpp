// The senders the dispatcher uses for each channel.
#include "sender.hpp"
#include "smtp_sender.hpp"
#include "wecom_sender.hpp"

namespace {

// Alerts need no network: the recording transaction inserts the inbox rows.
class AlertSender : public mis::BatchSender {
public:
    std::vector<mis::DeliveryResult> send(const mis::ChannelSettings &,
                                          const std::vector<mis::MessageText> &,
                                          const std::vector<mis::Outgoing> &deliveries) override {
        std::vector<mis::DeliveryResult> results;
        results.reserve(deliveries.size());
        for (const mis::Outgoing &delivery : deliveries) {
            mis::DeliveryResult result;
            result.delivery_id = delivery.delivery_id;
            result.verdict = mis::Verdict::complete;
            result.reached_network = true; // an alert is written on its first try
            results.push_back(std::move(result));
        }
        return results;
    }
};

// Hands a channel sender the batch's settings, then the batch.
template <typename Sender, typename Settings, Settings mis::ChannelSettings::*channel>
class Configured : public mis::BatchSender {
public:
    std::vector<mis::DeliveryResult> send(const mis::ChannelSettings &settings,
                                          const std::vector<mis::MessageText> &messages,
                                          const std::vector<mis::Outgoing> &deliveries) override {
        sender_.configure(settings.*channel, settings.transport);
        return sender_.send(messages, deliveries);
    }

private:
    Sender sender_;
};

} // namespace

std::unique_ptr<mis::BatchSender> mis::make_wecom_sender() {
    return std::make_unique<Configured<WecomSender, WecomSettings, &ChannelSettings::wecom>>();
}

std::unique_ptr<mis::BatchSender> mis::make_smtp_sender() {
    return std::make_unique<Configured<SmtpSender, SmtpSettings, &ChannelSettings::smtp>>();
}

std::unique_ptr<mis::BatchSender> mis::make_alert_sender() {
    return std::make_unique<AlertSender>();
}
