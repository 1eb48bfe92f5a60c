// The senders the dispatcher uses for each channel.
#include "sender.hpp"

namespace {

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

// Fails every delivery of a channel this build cannot send over yet.
class UnavailableSender : public mis::BatchSender {
public:
    explicit UnavailableSender(std::string reason) : reason_(std::move(reason)) {}

    std::vector<mis::DeliveryResult> send(const mis::ChannelSettings &,
                                          const std::vector<mis::MessageText> &,
                                          const std::vector<mis::Outgoing> &deliveries) override {
        std::vector<mis::DeliveryResult> results;
        for (const mis::Outgoing &delivery : deliveries) {
            mis::DeliveryResult result;
            result.delivery_id = delivery.delivery_id;
            result.verdict = mis::Verdict::failed;
            result.reason = reason_;
            result.configuration = true;
            results.push_back(std::move(result));
        }
        return results;
    }

private:
    std::string reason_;
};

} // namespace

// TODO: plug in the WeCom and SMTP senders once they exist.
std::unique_ptr<mis::BatchSender> mis::make_wecom_sender() {
    return std::make_unique<UnavailableSender>("this build cannot send over WeChat");
}

std::unique_ptr<mis::BatchSender> mis::make_smtp_sender() {
    return std::make_unique<UnavailableSender>("this build cannot send email");
}

std::unique_ptr<mis::BatchSender> mis::make_alert_sender() {
    return std::make_unique<AlertSender>();
}
