// The WeCom API's requests, answers and their classification, and the WeChat sender's
// batching, token handling and per-recipient outcomes against a scripted transport.
#include <gtest/gtest.h>

#include <functional>

#include "wecom_api.hpp"
#include "wecom_sender.hpp"

using namespace mis;

// ---------------------------------------------------------------------------------------
// Requests and answers

TEST(WecomRequest, FirstSendHasDuplicateCheck) {
    EXPECT_EQ(build_wecom_send_json({"alice", "Bob.Li"}, 1000002, "Trip\n\n明天", true),
              R"({"agentid":1000002,"duplicate_check_interval":1800,)"
              R"("enable_duplicate_check":1,"msgtype":"text","safe":0,)"
              R"("text":{"content":"Trip\n\n明天"},"touser":"alice|Bob.Li"})");
}

TEST(WecomRequest, RerunHasDuplicateCheckOff) {
    EXPECT_EQ(build_wecom_send_json({"alice"}, 7, "hi", false),
              R"({"agentid":7,"enable_duplicate_check":0,"msgtype":"text","safe":0,)"
              R"("text":{"content":"hi"},"touser":"alice"})");
}

TEST(WecomRequest, QuotesAndControlCharactersAreEscaped) {
    EXPECT_EQ(build_wecom_send_json({"a"}, 1, "say \"hi\"\t\\", false),
              R"({"agentid":1,"enable_duplicate_check":0,"msgtype":"text","safe":0,)"
              R"("text":{"content":"say \"hi\"\t\\"},"touser":"a"})");
}

TEST(WecomRequest, UserIdRules) {
    EXPECT_TRUE(valid_wecom_user_id("ZhangSan"));
    EXPECT_TRUE(valid_wecom_user_id("li.si-2@school_x"));
    EXPECT_TRUE(valid_wecom_user_id(std::string(64, 'a')));
    EXPECT_FALSE(valid_wecom_user_id(std::string(65, 'a')));
    EXPECT_FALSE(valid_wecom_user_id(""));
    EXPECT_FALSE(valid_wecom_user_id("alice|bob")); // would reach two members
    EXPECT_FALSE(valid_wecom_user_id("alice bob"));
    EXPECT_FALSE(valid_wecom_user_id("张三"));
    EXPECT_FALSE(valid_wecom_user_id("@all"));
}

TEST(WecomReply, InvalidUsersComeBackLowerCased) {
    auto reply = parse_wecom_send_reply(
        R"({"errcode":0,"errmsg":"ok","invaliduser":"alice|bob.li","unlicenseduser":"Carol",)"
        R"("invalidparty":"","msgid":"xx"})");
    ASSERT_TRUE(reply.readable);
    EXPECT_EQ(reply.errcode, 0);
    EXPECT_EQ(reply.invalid_users, (std::vector<std::string>{"alice", "bob.li"}));
    EXPECT_EQ(reply.unlicensed_users, std::vector<std::string>{"carol"});
}

TEST(WecomReply, EmptyListsAndMissingLists) {
    auto reply = parse_wecom_send_reply(R"({"errcode":0,"errmsg":"ok","invaliduser":""})");
    ASSERT_TRUE(reply.readable);
    EXPECT_TRUE(reply.invalid_users.empty());
    EXPECT_TRUE(reply.unlicensed_users.empty());
}

TEST(WecomReply, UnreadableAnswers) {
    EXPECT_FALSE(parse_wecom_send_reply("").readable);
    EXPECT_FALSE(parse_wecom_send_reply("<html>502</html>").readable);
    EXPECT_FALSE(parse_wecom_send_reply(R"({"errmsg":"ok"})").readable);
    EXPECT_FALSE(parse_wecom_send_reply(R"({"errcode":"0"})").readable);
    EXPECT_FALSE(parse_wecom_send_reply("[1,2]").readable);
    EXPECT_FALSE(parse_wecom_send_reply(R"({"errcode":0)").readable);
}

TEST(WecomReply, TokenAnswer) {
    auto reply = parse_wecom_token_reply(
        R"({"errcode":0,"errmsg":"ok","access_token":"T1","expires_in":7200})");
    ASSERT_TRUE(reply.readable);
    EXPECT_EQ(reply.access_token, "T1");
    EXPECT_EQ(reply.expires_in_s, 7200);
}

// ---------------------------------------------------------------------------------------
// Classification

namespace {

HttpResponse ok_body(const std::string &body) {
    return {TransportError::none, 200, body};
}

WecomOutcome classify_send_body(const std::string &body) {
    HttpResponse response = ok_body(body);
    return classify_wecom_send(response, parse_wecom_send_reply(body));
}

WecomOutcome classify_errcode(long errcode) {
    return classify_send_body(R"({"errcode":)" + std::to_string(errcode) + "}");
}

} // namespace

TEST(WecomClassify, Errcodes) {
    using K = WecomOutcomeKind;
    struct Case {
        long errcode;
        K kind;
        std::string reason;
    };
    std::vector<Case> cases = {
        {0, K::ok, ""},
        {-1, K::retry, "WeCom was busy"},
        {45009, K::retry, "WeCom's frequency limit was reached"},
        {45033, K::retry, "WeCom's concurrency limit was reached"},
        {40014, K::token_expired, "WeCom kept rejecting the access token"},
        {42001, K::token_expired, "WeCom kept rejecting the access token"},
        {40001, K::token_expired, "WeCom kept rejecting the access token"},
        {81013, K::all_invalid, "WeCom rejected this user id: check the person's WeChat user id"},
        {40056, K::configuration, "WeChat is not configured correctly: check the agent id"},
        {60020, K::configuration,
         "WeCom refused this server's IP address: add it to the app's trusted IP addresses"},
        {44004, K::failed, "WeCom refused the message (errcode 44004)"},
    };
    for (const Case &c : cases) {
        WecomOutcome outcome = classify_errcode(c.errcode);
        EXPECT_EQ(outcome.kind, c.kind) << c.errcode;
        EXPECT_EQ(outcome.reason, c.reason) << c.errcode;
    }
}

TEST(WecomClassify, ErrcodeDecidesNotHttp200) {
    EXPECT_EQ(classify_send_body(R"({"errcode":-1,"errmsg":"system busy"})").kind,
              WecomOutcomeKind::retry);
    EXPECT_EQ(classify_send_body("not json").kind, WecomOutcomeKind::retry);
    EXPECT_EQ(classify_send_body("not json").reason,
              "the WeChat API gave an answer that could not be read");
}

TEST(WecomClassify, HttpAndTransport) {
    using K = WecomOutcomeKind;
    WecomSendReply none;
    struct Case {
        HttpResponse response;
        K kind;
        std::string reason;
    };
    std::vector<Case> cases = {
        {{TransportError::none, 500, ""}, K::retry, "the WeChat API answered HTTP 500"},
        {{TransportError::none, 503, ""}, K::retry, "the WeChat API answered HTTP 503"},
        {{TransportError::none, 429, ""}, K::retry, "the WeChat API answered HTTP 429"},
        {{TransportError::none, 404, ""},
         K::failed,
         "the WeChat API answered HTTP 404: check api_base"},
        {{TransportError::none, 403, ""},
         K::failed,
         "the WeChat API answered HTTP 403: check api_base"},
        {{TransportError::timeout, 0, ""}, K::retry, "timed out waiting for the WeChat API"},
        {{TransportError::connect, 0, ""}, K::retry, "could not connect to the WeChat API"},
        {{TransportError::network, 0, ""}, K::retry, "the connection to the WeChat API was lost"},
        {{TransportError::tls, 0, ""},
         K::configuration,
         "could not verify the TLS certificate of the WeChat API server: check api_base and "
         "messaging.ca_file"},
        {{TransportError::tls_handshake, 0, ""},
         K::configuration,
         "TLS handshake with the WeChat API server failed: check that api_base's scheme "
         "matches the server (https:// for TLS, http:// for a plain test server)"},
        {{TransportError::aborted, 0, ""}, K::stopped, "not sent: the dispatcher is stopping"},
    };
    for (const Case &c : cases) {
        WecomOutcome outcome = classify_wecom_send(c.response, none);
        EXPECT_EQ(outcome.kind, c.kind) << c.reason;
        EXPECT_EQ(outcome.reason, c.reason);
    }
}

TEST(WecomClassify, TokenErrcodes) {
    using K = WecomOutcomeKind;
    auto classify = [](const std::string &body) {
        return classify_wecom_token(ok_body(body), parse_wecom_token_reply(body));
    };
    EXPECT_EQ(classify(R"({"errcode":0,"access_token":"T","expires_in":7200})").kind, K::ok);
    for (long errcode : {40013L, 40001L, 40091L}) {
        WecomOutcome outcome = classify(R"({"errcode":)" + std::to_string(errcode) + "}");
        EXPECT_EQ(outcome.kind, K::configuration);
        EXPECT_EQ(outcome.reason,
                  "WeChat is not configured correctly: check the corp id and secret");
    }
    EXPECT_EQ(classify(R"({"errcode":-1})").kind, K::retry);
    EXPECT_EQ(classify(R"({"errcode":0})").kind, K::retry); // no token in it
    EXPECT_EQ(classify(R"({"errcode":41002})").reason,
              "WeChat is not configured correctly: check the corp id and secret "
              "(errcode 41002)");
    WecomTokenReply none;
    EXPECT_EQ(classify_wecom_token({TransportError::none, 404, ""}, none).kind, K::configuration);
    EXPECT_EQ(classify_wecom_token({TransportError::timeout, 0, ""}, none).kind, K::retry);
}

// ---------------------------------------------------------------------------------------
// The sender, against a scripted transport

namespace {

struct Request {
    std::string method;
    std::string url;
    std::string body;
};

// A transport that records every request and answers with a script.
class FakeTransport : public HttpTransport {
public:
    FakeTransport(std::vector<Request> &log, std::function<HttpResponse(const Request &)> &answer)
        : log_(log), answer_(answer) {}

    void configure(const TransportSettings &) override {}
    HttpResponse get(const std::string &url) override { return exchange({"GET", url, ""}); }
    HttpResponse post_json(const std::string &url, const std::string &body) override {
        return exchange({"POST", url, body});
    }

private:
    HttpResponse exchange(const Request &request) {
        log_.push_back(request);
        return answer_(request);
    }
    std::vector<Request> &log_;
    std::function<HttpResponse(const Request &)> &answer_;
};

bool is_token_call(const Request &request) {
    return request.url.find("/cgi-bin/gettoken?") != std::string::npos;
}

std::string token_answer(const std::string &token) {
    return R"({"errcode":0,"errmsg":"ok","access_token":")" + token + R"(","expires_in":7200})";
}

class WecomSenderTest : public ::testing::Test {
protected:
    WecomSenderTest() {
        answer = [this](const Request &request) {
            if (is_token_call(request))
                return ok_body(token_answer("T" + std::to_string(++tokens_issued)));
            return ok_body(R"({"errcode":0,"errmsg":"ok"})");
        };
        sender = std::make_unique<WecomSender>(std::make_unique<FakeTransport>(log, answer),
                                               [this] { return now; });
        WecomSettings wecom{"corp1", 1000002, "s3cret/+", "http://127.0.0.1:9/"};
        sender->configure(wecom, transport);
    }

    std::vector<Request> sends() const {
        std::vector<Request> result;
        for (const Request &request : log)
            if (!is_token_call(request))
                result.push_back(request);
        return result;
    }

    int token_calls() const {
        int count = 0;
        for (const Request &request : log)
            count += is_token_call(request) ? 1 : 0;
        return count;
    }

    static Outgoing delivery(int64_t id, const std::string &user, int64_t message = 1,
                             int run = 0) {
        Outgoing out;
        out.delivery_id = id;
        out.message_id = message;
        out.address = user;
        out.run = run;
        return out;
    }

    std::vector<Request> log;
    std::function<HttpResponse(const Request &)> answer;
    int tokens_issued = 0;
    int64_t now = 1000000;
    TransportSettings transport;
    std::unique_ptr<WecomSender> sender;
    std::vector<MessageText> messages = {{1, "Trip", "Bring a coat."}};
};

std::string touser_of(const Request &request) {
    auto start = request.body.find(R"("touser":")") + 10;
    return request.body.substr(start, request.body.find('"', start) - start);
}

} // namespace

TEST_F(WecomSenderTest, OneCallForAMessage) {
    auto results = sender->send(messages, {delivery(11, "alice"), delivery(12, "Bob")});
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].method, "GET");
    EXPECT_EQ(log[0].url,
              "http://127.0.0.1:9/cgi-bin/gettoken?corpid=corp1&corpsecret=s3cret%2F%2B");
    EXPECT_EQ(log[1].method, "POST");
    EXPECT_EQ(log[1].url, "http://127.0.0.1:9/cgi-bin/message/send?access_token=T1");
    EXPECT_EQ(log[1].body, R"({"agentid":1000002,"duplicate_check_interval":1800,)"
                           R"("enable_duplicate_check":1,"msgtype":"text","safe":0,)"
                           R"("text":{"content":"Trip\n\nBring a coat."},"touser":"alice|Bob"})");
    ASSERT_EQ(results.size(), 2u);
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::complete);
        EXPECT_TRUE(result.reached_network);
        EXPECT_FALSE(result.configuration);
    }
    EXPECT_EQ(results[0].delivery_id, 11);
    EXPECT_EQ(results[1].delivery_id, 12);
}

TEST_F(WecomSenderTest, TokenIsReusedAcrossBatchesUntilShortlyBeforeExpiry) {
    sender->send(messages, {delivery(1, "a")});
    sender->send(messages, {delivery(2, "b")});
    EXPECT_EQ(token_calls(), 1);
    now += (7200 - 301) * 1000LL; // still more than the 5-minute margin left
    sender->send(messages, {delivery(3, "c")});
    EXPECT_EQ(token_calls(), 1);
    now += 2000; // inside the margin
    sender->send(messages, {delivery(4, "d")});
    EXPECT_EQ(token_calls(), 2);
    EXPECT_EQ(sender->token_fetches(), 2);
    EXPECT_EQ(sends().back().url.substr(sends().back().url.find("access_token=")),
              "access_token=T2");
}

TEST_F(WecomSenderTest, ExpiredTokenIsRefreshedOnceAndTheCallRepeated) {
    answer = [this](const Request &request) {
        if (is_token_call(request))
            return ok_body(token_answer("T" + std::to_string(++tokens_issued)));
        if (request.url.find("access_token=T1") != std::string::npos)
            return ok_body(R"({"errcode":42001,"errmsg":"access_token expired"})");
        return ok_body(R"({"errcode":0,"errmsg":"ok"})");
    };
    auto results = sender->send(messages, {delivery(1, "alice")});
    EXPECT_EQ(results[0].verdict, Verdict::complete);
    EXPECT_EQ(token_calls(), 2);
    EXPECT_EQ(sends().size(), 2u);
}

TEST_F(WecomSenderTest, RevokedTokenCausesNoRefreshStorm) {
    answer = [this](const Request &request) {
        if (is_token_call(request))
            return ok_body(token_answer("T" + std::to_string(++tokens_issued)));
        return ok_body(R"({"errcode":40014,"errmsg":"invalid access_token"})");
    };
    messages.push_back({2, "", "Second"});
    messages.push_back({3, "", "Third"});
    auto results =
        sender->send(messages, {delivery(1, "a", 1), delivery(2, "b", 2), delivery(3, "c", 3)});
    EXPECT_EQ(token_calls(), 2); // the first fetch and one refresh for the whole batch
    EXPECT_EQ(sends().size(), 4u);
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::retry);
        EXPECT_EQ(result.reason, "WeCom kept rejecting the access token");
        EXPECT_TRUE(result.reached_network);
    }
}

TEST_F(WecomSenderTest, WrongSecretFailsTheBatchWithOneTokenCall) {
    answer = [](const Request &request) {
        if (is_token_call(request))
            return ok_body(R"({"errcode":40001,"errmsg":"invalid credential"})");
        return ok_body(R"({"errcode":0})");
    };
    messages.push_back({2, "", "Second"});
    auto results = sender->send(messages, {delivery(1, "a", 1), delivery(2, "b", 2)});
    EXPECT_EQ(log.size(), 1u);
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::failed);
        EXPECT_EQ(result.reason,
                  "WeChat is not configured correctly: check the corp id and secret");
        EXPECT_TRUE(result.configuration);
    }
    // The next batch asks again (the secret may have been fixed meanwhile).
    sender->send(messages, {delivery(3, "c", 1)});
    EXPECT_EQ(log.size(), 2u);
}

TEST_F(WecomSenderTest, NewSecretDropsTheToken) {
    sender->send(messages, {delivery(1, "a")});
    sender->configure({"corp1", 1000002, "other", "http://127.0.0.1:9"}, transport);
    sender->send(messages, {delivery(2, "b")});
    EXPECT_EQ(token_calls(), 2);
    sender->configure({"corp1", 1000002, "other", "http://127.0.0.1:9"}, transport);
    sender->send(messages, {delivery(3, "c")});
    EXPECT_EQ(token_calls(), 2);
}

TEST_F(WecomSenderTest, RejectedUsersFailAloneMatchedCaseInsensitively) {
    answer = [this](const Request &request) {
        if (is_token_call(request))
            return ok_body(token_answer("T"));
        return ok_body(
            R"({"errcode":0,"errmsg":"ok","invaliduser":"alice","unlicenseduser":"carol"})");
    };
    auto results =
        sender->send(messages, {delivery(1, "Alice"), delivery(2, "bob"), delivery(3, "CAROL")});
    EXPECT_EQ(touser_of(sends()[0]), "Alice|bob|CAROL");
    EXPECT_EQ(results[0].verdict, Verdict::failed);
    EXPECT_EQ(results[0].reason, "WeCom rejected this user id: check the person's WeChat user id");
    EXPECT_EQ(results[1].verdict, Verdict::complete);
    EXPECT_EQ(results[2].verdict, Verdict::failed);
    EXPECT_EQ(results[2].reason, "this person's WeCom account has no licence for the school's "
                                 "app: ask the WeCom administrator to license it");
    EXPECT_FALSE(results[0].configuration);
}

TEST_F(WecomSenderTest, AllUsersInvalidFailsThemAll) {
    answer = [](const Request &request) {
        if (is_token_call(request))
            return ok_body(token_answer("T"));
        return ok_body(R"({"errcode":81013,"errmsg":"user & party & tag all invalid",)"
                       R"("invaliduser":"x|y"})");
    };
    auto results = sender->send(messages, {delivery(1, "x"), delivery(2, "Y")});
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::failed);
        EXPECT_EQ(result.reason, "WeCom rejected this user id: check the person's WeChat user id");
        EXPECT_TRUE(result.reached_network);
    }
}

TEST_F(WecomSenderTest, BusyAndHttpErrorsAreRetried) {
    for (auto reply :
         {ok_body(R"({"errcode":-1,"errmsg":"system busy"})"), ok_body(R"({"errcode":45009})"),
          ok_body(R"({"errcode":45033})"), HttpResponse{TransportError::none, 502, "bad gateway"},
          HttpResponse{TransportError::timeout, 0, ""}}) {
        answer = [reply](const Request &request) {
            return is_token_call(request) ? ok_body(token_answer("T")) : reply;
        };
        auto results = sender->send(messages, {delivery(1, "a")});
        EXPECT_EQ(results[0].verdict, Verdict::retry) << reply.body;
        EXPECT_TRUE(results[0].reached_network);
        now += 61000; // out of the pacing window
    }
}

TEST_F(WecomSenderTest, AThousandMembersPerCall) {
    std::vector<Outgoing> deliveries;
    for (int i = 0; i < 2500; i++)
        deliveries.push_back(delivery(i + 1, "u" + std::to_string(i)));
    auto results = sender->send(messages, deliveries);
    auto calls = sends();
    ASSERT_EQ(calls.size(), 3u);
    auto members = [](const Request &request) {
        std::string touser = touser_of(request);
        return 1 + std::count(touser.begin(), touser.end(), '|');
    };
    EXPECT_EQ(members(calls[0]), 1000);
    EXPECT_EQ(members(calls[1]), 1000);
    EXPECT_EQ(members(calls[2]), 500);
    EXPECT_EQ(touser_of(calls[2]).substr(0, 6), "u2000|");
    for (const auto &result : results)
        EXPECT_EQ(result.verdict, Verdict::complete);
}

TEST_F(WecomSenderTest, LongTextGoesInNumberedPartsInOrder) {
    std::string body;
    for (int i = 0; i < 700; i++)
        body += "学";
    messages = {{1, "", body}};
    answer = [this](const Request &request) {
        if (is_token_call(request))
            return ok_body(token_answer("T"));
        // The first part is refused for "b": the second part is not sent to it.
        if (sends().size() == 1)
            return ok_body(R"({"errcode":0,"invaliduser":"b"})");
        return ok_body(R"({"errcode":0})");
    };
    auto results = sender->send(messages, {delivery(1, "a"), delivery(2, "b")});
    auto calls = sends();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_NE(calls[0].body.find(R"("content":"(1/2) 学学)"), std::string::npos);
    EXPECT_NE(calls[1].body.find(R"("content":"(2/2) 学学)"), std::string::npos);
    EXPECT_EQ(touser_of(calls[0]), "a|b");
    EXPECT_EQ(touser_of(calls[1]), "a");
    EXPECT_EQ(results[0].verdict, Verdict::complete);
    EXPECT_EQ(results[1].verdict, Verdict::failed);
}

TEST_F(WecomSenderTest, RerunsTurnTheDuplicateCheckOff) {
    sender->send(messages, {delivery(1, "a", 1, 0), delivery(2, "b", 1, 2)});
    auto calls = sends();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(touser_of(calls[0]), "a");
    EXPECT_NE(calls[0].body.find(R"("enable_duplicate_check":1)"), std::string::npos);
    EXPECT_EQ(touser_of(calls[1]), "b");
    EXPECT_NE(calls[1].body.find(R"("enable_duplicate_check":0)"), std::string::npos);
}

TEST_F(WecomSenderTest, OneCallPerMessage) {
    messages.push_back({2, "", "Other"});
    sender->send(messages, {delivery(1, "a", 1), delivery(2, "b", 2), delivery(3, "c", 1)});
    auto calls = sends();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(touser_of(calls[0]), "a|c");
    EXPECT_EQ(touser_of(calls[1]), "b");
}

TEST_F(WecomSenderTest, InvalidUserIdsFailWithoutACall) {
    auto results = sender->send(messages, {delivery(1, "a|b"), delivery(2, "")});
    EXPECT_TRUE(log.empty());
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::failed);
        EXPECT_EQ(result.reason, "not a valid WeCom user id: check the person's WeChat user id");
        EXPECT_FALSE(result.reached_network);
    }
}

TEST_F(WecomSenderTest, SharedUserIdIsNamedOnce) {
    auto results = sender->send(messages, {delivery(1, "Anna"), delivery(2, "anna")});
    EXPECT_EQ(touser_of(sends()[0]), "Anna");
    EXPECT_EQ(results[0].verdict, Verdict::complete);
    EXPECT_EQ(results[1].verdict, Verdict::complete);
}

TEST_F(WecomSenderTest, MembersOverThePaceAreDeferred) {
    for (int i = 0; i < 30; i++)
        ASSERT_EQ(sender->send(messages, {delivery(i, "alice")})[0].verdict, Verdict::complete);
    now += 5000;
    auto results = sender->send(messages, {delivery(100, "ALICE"), delivery(101, "bob")});
    EXPECT_EQ(results[0].verdict, Verdict::deferred);
    EXPECT_EQ(results[0].defer_ms, 66000);
    EXPECT_FALSE(results[0].reached_network);
    EXPECT_EQ(results[1].verdict, Verdict::complete);
    EXPECT_EQ(touser_of(sends().back()), "bob");
}

TEST_F(WecomSenderTest, StopFlagDefersWithoutCalls) {
    volatile std::sig_atomic_t stop = 1;
    transport.stop = &stop;
    sender->configure({"corp1", 1000002, "s3cret/+", "http://127.0.0.1:9"}, transport);
    auto results = sender->send(messages, {delivery(1, "a")});
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(results[0].verdict, Verdict::deferred);
    EXPECT_EQ(results[0].defer_ms, 0);
    EXPECT_FALSE(results[0].reached_network);
}

TEST_F(WecomSenderTest, AbortedCallIsDeferred) {
    answer = [](const Request &request) {
        if (is_token_call(request))
            return ok_body(token_answer("T"));
        return HttpResponse{TransportError::aborted, 0, ""};
    };
    auto results = sender->send(messages, {delivery(1, "a")});
    EXPECT_EQ(results[0].verdict, Verdict::deferred);
    EXPECT_EQ(results[0].reason, "not sent: the dispatcher is stopping");
}

TEST_F(WecomSenderTest, TlsFailureIsAConfigurationFailure) {
    answer = [](const Request &) { return HttpResponse{TransportError::tls, 0, ""}; };
    auto results = sender->send(messages, {delivery(1, "a")});
    EXPECT_EQ(results[0].verdict, Verdict::failed);
    EXPECT_TRUE(results[0].configuration);
    EXPECT_EQ(results[0].reason, "could not verify the TLS certificate of the WeChat API "
                                 "server: check api_base and messaging.ca_file");
}

TEST_F(WecomSenderTest, MissingMessageTextFailsWithoutACall) {
    auto results = sender->send(messages, {delivery(1, "a", 99)});
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(results[0].verdict, Verdict::failed);
}

TEST_F(WecomSenderTest, AsTheDispatchersBatchSender) {
    ChannelSettings settings;
    settings.wecom = {"corp2", 9, "x", "http://wecom.test"};
    BatchSender &batch_sender = *sender;
    auto results = batch_sender.send(settings, messages, {delivery(1, "a")});
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].url, "http://wecom.test/cgi-bin/gettoken?corpid=corp2&corpsecret=x");
    EXPECT_NE(log[1].body.find(R"("agentid":9,)"), std::string::npos);
    EXPECT_EQ(results[0].verdict, Verdict::complete);
}
