// libFuzzer target: the WeCom answer parsers and their classification take any bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wecom_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string body(reinterpret_cast<const char *>(data), size);
    mis::HttpResponse response{mis::TransportError::none, 200, body};

    mis::WecomSendReply reply = mis::parse_wecom_send_reply(body);
    mis::WecomOutcome outcome = mis::classify_wecom_send(response, reply);
    if (!reply.readable && outcome.kind != mis::WecomOutcomeKind::retry)
        std::abort();
    // Listed members come back lower-cased and never contain the separator.
    for (const auto *list : {&reply.invalid_users, &reply.unlicensed_users})
        for (const std::string &user : *list)
            for (char c : user)
                if (c == '|' || (c >= 'A' && c <= 'Z'))
                    std::abort();

    mis::WecomTokenReply token = mis::parse_wecom_token_reply(body);
    mis::WecomOutcome token_outcome = mis::classify_wecom_token(response, token);
    if (token_outcome.kind == mis::WecomOutcomeKind::ok && token.access_token.empty())
        std::abort();
    return 0;
}
