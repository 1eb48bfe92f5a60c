// The WeChat channel's sender: batching, splitting, pacing and the access token.
#include "wecom_sender.hpp"

#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "wecom_text.hpp"

namespace mis {

namespace {

// A token is renewed this long before WeCom says it expires (at most half its life).
constexpr int64_t kTokenMarginMs = 5 * 60 * 1000;
// The lifetime assumed when gettoken names none (WeCom's usual one).
constexpr int64_t kDefaultTokenLifetimeMs = 7200 * 1000;

const char *const kStopping = "not sent: the dispatcher is stopping";

std::string lower(const std::string &text) {
    std::string result(text);
    for (char &c : result)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return result;
}

// Percent-encodes a URL query value.
std::string url_escape(const std::string &value) {
    static const char hex[] = "0123456789ABCDEF";
    std::string escaped;
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            escaped += static_cast<char>(c);
        } else {
            escaped += '%';
            escaped += hex[c >> 4];
            escaped += hex[c & 0x0F];
        }
    }
    return escaped;
}

std::string trim_trailing_slashes(std::string base) {
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    return base;
}

} // namespace

int64_t steady_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// What one send() call is working on.
struct WecomSender::Batch {
    const std::vector<Outgoing> &deliveries;
    std::vector<DeliveryResult> results;
    std::vector<bool> decided;
    bool token_refreshed = false; // the one refresh a batch may make after a token error
    bool token_failed = false;    // gettoken failed: the same outcome for the whole batch
    WecomOutcome token_failure;

    explicit Batch(const std::vector<Outgoing> &all)
        : deliveries(all), results(all.size()), decided(all.size(), false) {
        for (std::size_t i = 0; i < all.size(); i++)
            results[i].delivery_id = all[i].delivery_id;
    }

    void decide(std::size_t index, Verdict verdict, const std::string &reason, bool reached,
                bool configuration = false, int64_t defer_ms = 0) {
        DeliveryResult &result = results[index];
        result.verdict = verdict;
        result.reason = reason;
        result.reached_network = reached;
        result.configuration = configuration;
        result.defer_ms = defer_ms;
        decided[index] = true;
    }

    // Applies a call's outcome to a delivery.
    void decide(std::size_t index, const WecomOutcome &outcome) {
        switch (outcome.kind) {
        case WecomOutcomeKind::ok:
            decide(index, Verdict::complete, "", true);
            break;
        case WecomOutcomeKind::retry:
        case WecomOutcomeKind::token_expired:
            decide(index, Verdict::retry, outcome.reason, true);
            break;
        case WecomOutcomeKind::failed:
        case WecomOutcomeKind::all_invalid:
            decide(index, Verdict::failed, outcome.reason, true);
            break;
        case WecomOutcomeKind::configuration:
            decide(index, Verdict::failed, outcome.reason, true, true);
            break;
        case WecomOutcomeKind::stopped:
            decide(index, Verdict::deferred, kStopping, false);
            break;
        }
    }
};

// One member of a call: a user id and the deliveries that reach it (usually one).
struct WecomSender::Member {
    std::string user_id;
    std::vector<std::size_t> indices;
};

WecomSender::WecomSender() : WecomSender(make_curl_http_transport(), steady_now_ms) {}

WecomSender::WecomSender(std::unique_ptr<HttpTransport> transport, MonotonicClock clock,
                         PacingLimits limits)
    : transport_(std::move(transport)), clock_(std::move(clock)), pacer_(limits) {
    transport_->configure(transport_settings_);
}

void WecomSender::configure(const WecomSettings &wecom, const TransportSettings &transport) {
    WecomSettings next = wecom;
    next.api_base = trim_trailing_slashes(next.api_base);
    if (next.corp_id != wecom_.corp_id || next.secret != wecom_.secret ||
        next.api_base != wecom_.api_base)
        access_token_.clear();
    if (next.corp_id != wecom_.corp_id || next.agent_id != wecom_.agent_id)
        pacer_.clear();
    wecom_ = std::move(next);
    transport_settings_ = transport;
    transport_->configure(transport_settings_);
}

std::vector<DeliveryResult> WecomSender::send(const ChannelSettings &settings,
                                              const std::vector<MessageText> &messages,
                                              const std::vector<Outgoing> &deliveries) {
    configure(settings.wecom, settings.transport);
    return send(messages, deliveries);
}

std::vector<DeliveryResult> WecomSender::send(const std::vector<MessageText> &messages,
                                              const std::vector<Outgoing> &deliveries) {
    Batch batch(deliveries);
    std::unordered_map<int64_t, const MessageText *> texts;
    for (const MessageText &message : messages)
        texts.emplace(message.message_id, &message);

    // One group per message and kind of send (first send or rerun), in batch order.
    std::map<std::pair<int64_t, bool>, std::vector<std::size_t>> groups;
    std::vector<std::pair<int64_t, bool>> order;
    for (std::size_t i = 0; i < deliveries.size(); i++) {
        auto key = std::make_pair(deliveries[i].message_id, deliveries[i].run > 0);
        auto [group, created] = groups.try_emplace(key);
        if (created)
            order.push_back(key);
        group->second.push_back(i);
    }

    for (const auto &key : order) {
        auto text = texts.find(key.first);
        if (text == texts.end()) {
            for (std::size_t i : groups[key])
                batch.decide(i, Verdict::failed, "the message's text was not found", false);
            continue;
        }
        send_group(batch, *text->second, key.second, groups[key]);
    }
    return std::move(batch.results);
}

// Sends one message to its deliveries: checks user ids, paces members, then calls
// message/send for up to kWecomMaxRecipients members at a time.
void WecomSender::send_group(Batch &batch, const MessageText &message, bool rerun,
                             const std::vector<std::size_t> &indices) {
    std::vector<std::string> parts =
        split_wecom_text(compose_wecom_text(message.subject, message.body));
    int part_count = static_cast<int>(parts.size());

    std::deque<Member> members;
    std::unordered_map<std::string, Member *> by_user;
    int64_t now = clock_();
    for (std::size_t i : indices) {
        const std::string &user_id = batch.deliveries[i].address;
        if (stop_requested(transport_settings_.stop)) {
            batch.decide(i, Verdict::deferred, kStopping, false);
            continue;
        }
        if (!valid_wecom_user_id(user_id)) {
            batch.decide(i, Verdict::failed,
                         "not a valid WeCom user id: check the person's WeChat user id", false);
            continue;
        }
        // Two deliveries to one member (people sharing a user id) ride one message.
        auto known = by_user.find(lower(user_id));
        if (known != by_user.end()) {
            known->second->indices.push_back(i);
            continue;
        }
        int64_t wait = pacer_.wait_ms(user_id, part_count, now);
        if (wait < 0) {
            batch.decide(i, Verdict::failed, "the text is too long for WeChat", false);
            continue;
        }
        if (wait > 0) {
            batch.decide(i, Verdict::deferred,
                         "paced: WeCom accepts 30 messages a minute to one person", false, false,
                         wait);
            continue;
        }
        pacer_.record(user_id, part_count, now);
        members.push_back({user_id, {i}});
        by_user.emplace(lower(user_id), &members.back());
    }

    std::vector<Member *> chunk;
    for (Member &member : members) {
        chunk.push_back(&member);
        if (chunk.size() == kWecomMaxRecipients) {
            send_chunk(batch, parts, rerun, std::move(chunk));
            chunk.clear();
        }
    }
    if (!chunk.empty())
        send_chunk(batch, parts, rerun, std::move(chunk));
}

// Sends every part of a text to the members of one call, in order. Members WeCom
// rejects get no further parts; a failed call decides all its remaining members.
void WecomSender::send_chunk(Batch &batch, const std::vector<std::string> &parts, bool rerun,
                             std::vector<Member *> members) {
    for (const std::string &part : parts) {
        if (members.empty())
            return;
        WecomSendReply reply;
        WecomOutcome outcome = call_send(batch, members, part, rerun, reply);
        if (outcome.kind != WecomOutcomeKind::ok && outcome.kind != WecomOutcomeKind::all_invalid) {
            for (Member *member : members)
                for (std::size_t i : member->indices)
                    batch.decide(i, outcome);
            return;
        }

        std::unordered_set<std::string> invalid(reply.invalid_users.begin(),
                                                reply.invalid_users.end());
        std::unordered_set<std::string> unlicensed(reply.unlicensed_users.begin(),
                                                   reply.unlicensed_users.end());
        std::vector<Member *> accepted;
        for (Member *member : members) {
            std::string key = lower(member->user_id);
            const char *reason = nullptr;
            if (unlicensed.count(key) != 0)
                reason = kWecomUnlicensedUser;
            else if (invalid.count(key) != 0 || outcome.kind == WecomOutcomeKind::all_invalid)
                reason = kWecomInvalidUser;
            if (reason == nullptr) {
                accepted.push_back(member);
                continue;
            }
            for (std::size_t i : member->indices)
                batch.decide(i, Verdict::failed, reason, true);
        }
        members = std::move(accepted);
    }
    for (Member *member : members)
        for (std::size_t i : member->indices)
            batch.decide(i, Verdict::complete, "", true);
}

// One message/send call, with the one token refresh a batch may make on a token error.
WecomOutcome WecomSender::call_send(Batch &batch, const std::vector<Member *> &members,
                                    const std::string &content, bool rerun, WecomSendReply &reply) {
    std::vector<std::string> users;
    users.reserve(members.size());
    for (const Member *member : members)
        users.push_back(member->user_id);
    std::string body = build_wecom_send_json(users, wecom_.agent_id, content, !rerun);

    for (int call = 0;; call++) {
        if (stop_requested(transport_settings_.stop))
            return {WecomOutcomeKind::stopped, kStopping};
        WecomOutcome token = ensure_token(batch);
        if (token.kind != WecomOutcomeKind::ok)
            return token;

        std::string used_token = access_token_;
        HttpResponse response = transport_->post_json(
            wecom_.api_base + "/cgi-bin/message/send?access_token=" + url_escape(used_token), body);
        reply = parse_wecom_send_reply(response.body);
        WecomOutcome outcome = classify_wecom_send(response, reply);
        if (outcome.kind != WecomOutcomeKind::token_expired)
            return outcome;
        if (call > 0 || batch.token_refreshed)
            return {WecomOutcomeKind::retry, kWecomTokenRejected};

        // The token expired or was revoked: fetch a new one, once, and call again.
        batch.token_refreshed = true;
        if (access_token_ == used_token)
            access_token_.clear();
    }
}

// The cached access token, fetched when there is none or it is about to expire. A
// failure is kept for the rest of the batch, so a wrong secret costs one call per batch.
WecomOutcome WecomSender::ensure_token(Batch &batch) {
    if (batch.token_failed)
        return batch.token_failure;
    int64_t now = clock_();
    if (!access_token_.empty() && now < token_expires_at_ms_)
        return {WecomOutcomeKind::ok, ""};

    access_token_.clear();
    token_fetches_++;
    HttpResponse response =
        transport_->get(wecom_.api_base + "/cgi-bin/gettoken?corpid=" + url_escape(wecom_.corp_id) +
                        "&corpsecret=" + url_escape(wecom_.secret));
    WecomTokenReply reply = parse_wecom_token_reply(response.body);
    WecomOutcome outcome = classify_wecom_token(response, reply);
    if (outcome.kind == WecomOutcomeKind::ok) {
        int64_t lifetime =
            reply.expires_in_s > 0 ? reply.expires_in_s * 1000 : kDefaultTokenLifetimeMs;
        access_token_ = reply.access_token;
        token_expires_at_ms_ = now + lifetime - std::min(kTokenMarginMs, lifetime / 2);
    } else if (outcome.kind != WecomOutcomeKind::stopped) {
        batch.token_failed = true;
        batch.token_failure = outcome;
    }
    return outcome;
}

} // namespace mis
