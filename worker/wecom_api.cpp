// The WeCom API's requests and answers.
#include "wecom_api.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

namespace mis {

using nlohmann::json;

const char *const kWecomInvalidUser =
    "WeCom rejected this user id: check the person's WeChat user id";
const char *const kWecomUnlicensedUser =
    "this person's WeCom account has no licence for the school's app: ask the WeCom "
    "administrator to license it";
const char *const kWecomNotConfigured =
    "WeChat is not configured correctly: check the corp id and secret";
const char *const kWecomTokenRejected = "WeCom kept rejecting the access token";
const char *const kWecomTlsFailed = "could not verify the TLS certificate of the WeChat API "
                                    "server: check api_base and messaging.ca_file";
const char *const kWecomTlsHandshakeFailed =
    "TLS handshake with the WeChat API server failed: check that api_base's scheme matches "
    "the server (https:// for TLS, http:// for a plain test server)";

namespace {

std::string lower(std::string_view text) {
    std::string result(text);
    for (char &c : result)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return result;
}

// The user ids of a '|'-joined list (or, defensively, a JSON array), lower-cased.
std::vector<std::string> user_list(const json &reply, const char *key) {
    std::vector<std::string> users;
    auto found = reply.find(key);
    if (found == reply.end())
        return users;
    if (found->is_string()) {
        const std::string &joined = found->get_ref<const std::string &>();
        std::size_t start = 0;
        while (start <= joined.size()) {
            std::size_t bar = joined.find('|', start);
            if (bar == std::string::npos)
                bar = joined.size();
            if (bar > start)
                users.push_back(lower(std::string_view(joined).substr(start, bar - start)));
            start = bar + 1;
        }
    } else if (found->is_array()) {
        for (const json &item : *found)
            if (item.is_string())
                users.push_back(lower(item.get_ref<const std::string &>()));
    }
    return users;
}

// The errcode of a reply, if it is a JSON object that has an integer one.
bool read_errcode(const json &reply, long &errcode) {
    if (!reply.is_object())
        return false;
    auto found = reply.find("errcode");
    if (found == reply.end() || !found->is_number_integer())
        return false;
    errcode = found->get<long>();
    return true;
}

// The meaning of a transport failure or of an HTTP status other than 200.
bool classify_http(const HttpResponse &response, WecomOutcome &outcome) {
    using K = WecomOutcomeKind;
    switch (response.error) {
    case TransportError::none:
        break;
    case TransportError::timeout:
        outcome = {K::retry, "timed out waiting for the WeChat API"};
        return true;
    case TransportError::connect:
        outcome = {K::retry, "could not connect to the WeChat API"};
        return true;
    case TransportError::tls:
        outcome = {K::configuration, kWecomTlsFailed};
        return true;
    case TransportError::tls_handshake:
        outcome = {K::configuration, kWecomTlsHandshakeFailed};
        return true;
    case TransportError::aborted:
        outcome = {K::stopped, "not sent: the dispatcher is stopping"};
        return true;
    case TransportError::network:
        outcome = {K::retry, "the connection to the WeChat API was lost"};
        return true;
    }
    long status = response.status;
    if (status >= 200 && status < 300)
        return false;
    std::string http = "the WeChat API answered HTTP " + std::to_string(status);
    if (status >= 500 || status == 429)
        outcome = {K::retry, http};
    else
        outcome = {K::failed, http + ": check api_base"};
    return true;
}

constexpr const char *kUnreadableReply = "the WeChat API gave an answer that could not be read";

// The errcodes any WeCom call may give when it should simply be tried again later.
bool classify_busy(int errcode, WecomOutcome &outcome) {
    switch (errcode) {
    case -1:
        outcome = {WecomOutcomeKind::retry, "WeCom was busy"};
        return true;
    case 45009:
        outcome = {WecomOutcomeKind::retry, "WeCom's frequency limit was reached"};
        return true;
    case 45033:
        outcome = {WecomOutcomeKind::retry, "WeCom's concurrency limit was reached"};
        return true;
    default:
        return false;
    }
}

} // namespace

bool valid_wecom_user_id(std::string_view user_id) {
    if (user_id.empty() || user_id.size() > 64)
        return false;
    // "@all" would reach every member of the school's WeCom: ids start with a letter,
    // a digit or '_'.
    if (!std::isalnum(static_cast<unsigned char>(user_id[0])) && user_id[0] != '_')
        return false;
    for (char c : user_id) {
        bool allowed = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                       c == '@' || c == '.';
        if (!allowed)
            return false;
    }
    return true;
}

std::string build_wecom_send_json(const std::vector<std::string> &users, int agent_id,
                                  std::string_view content, bool duplicate_check) {
    std::string touser;
    for (const std::string &user : users) {
        if (!touser.empty())
            touser += '|';
        touser += user;
    }
    json request = {
        {"touser", touser},    {"msgtype", "text"},
        {"agentid", agent_id}, {"text", {{"content", std::string(content)}}},
        {"safe", 0},           {"enable_duplicate_check", duplicate_check ? 1 : 0},
    };
    if (duplicate_check)
        request["duplicate_check_interval"] = kWecomDuplicateCheckSeconds;
    // Invalid UTF-8 (which PostgreSQL never hands out) becomes U+FFFD rather than an error.
    return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

WecomSendReply parse_wecom_send_reply(std::string_view body) {
    WecomSendReply reply;
    json parsed = json::parse(body, nullptr, false);
    if (!read_errcode(parsed, reply.errcode))
        return reply;
    reply.readable = true;
    reply.invalid_users = user_list(parsed, "invaliduser");
    reply.unlicensed_users = user_list(parsed, "unlicenseduser");
    return reply;
}

WecomTokenReply parse_wecom_token_reply(std::string_view body) {
    WecomTokenReply reply;
    json parsed = json::parse(body, nullptr, false);
    if (!read_errcode(parsed, reply.errcode))
        return reply;
    reply.readable = true;
    auto token = parsed.find("access_token");
    if (token != parsed.end() && token->is_string())
        reply.access_token = token->get<std::string>();
    auto expires = parsed.find("expires_in");
    if (expires != parsed.end() && expires->is_number_integer())
        reply.expires_in_s = expires->get<int64_t>();
    return reply;
}

WecomOutcome classify_wecom_send(const HttpResponse &response, const WecomSendReply &reply) {
    using K = WecomOutcomeKind;
    WecomOutcome outcome;
    if (classify_http(response, outcome))
        return outcome;
    if (!reply.readable)
        return {K::retry, kUnreadableReply};
    if (classify_busy(reply.errcode, outcome))
        return outcome;

    std::string code = " (errcode " + std::to_string(reply.errcode) + ")";
    switch (reply.errcode) {
    case 0:
        return {K::ok, ""};
    case 40014:
    case 42001:
    case 40001:
        return {K::token_expired, kWecomTokenRejected};
    case 81013:
        return {K::all_invalid, kWecomInvalidUser};
    case 40056:
    case 301002:
        return {K::configuration, "WeChat is not configured correctly: check the agent id"};
    case 60020:
        return {K::configuration, "WeCom refused this server's IP address: add it to the "
                                  "app's trusted IP addresses"};
    case 48002:
        return {K::configuration, "WeCom does not let the app send messages: check the app's "
                                  "permissions in WeCom"};
    default:
        return {K::failed, "WeCom refused the message" + code};
    }
}

WecomOutcome classify_wecom_token(const HttpResponse &response, const WecomTokenReply &reply) {
    using K = WecomOutcomeKind;
    WecomOutcome outcome;
    if (classify_http(response, outcome)) {
        // An HTTP error status from gettoken means every call will fail alike.
        if (outcome.kind == K::failed)
            outcome.kind = K::configuration;
        return outcome;
    }
    if (!reply.readable)
        return {K::retry, kUnreadableReply};
    if (classify_busy(reply.errcode, outcome))
        return outcome;
    switch (reply.errcode) {
    case 0:
        if (reply.access_token.empty())
            return {K::retry, kUnreadableReply};
        return {K::ok, ""};
    case 40013:
    case 40001:
    case 40091:
        return {K::configuration, kWecomNotConfigured};
    default:
        return {K::configuration, std::string(kWecomNotConfigured) + " (errcode " +
                                      std::to_string(reply.errcode) + ")"};
    }
}

} // namespace mis
