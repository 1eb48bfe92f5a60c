// The libcurl HTTP transport of the WeChat sender, against a small HTTP server on
// 127.0.0.1: keep-alive reuse, statuses, timeouts, refused connections, stopping.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>

#include "curl_common.hpp"
#include "loopback_server.hpp"
#include "wecom_sender.hpp"
#include "wecom_transport.hpp"

using namespace mis;
using mis_test::Connection;
using mis_test::LoopbackServer;

namespace {

struct HttpRequest {
    std::string request_line;
    std::string body;
};

// A keep-alive HTTP/1.1 server answering every request through `answer`.
struct HttpServerState {
    std::mutex mutex;
    std::vector<HttpRequest> requests;
    std::function<std::pair<int, std::string>(const HttpRequest &)> answer;
    bool silent = false;
};

void serve_http(HttpServerState &state, Connection &connection, const std::atomic<bool> &stop) {
    std::string line;
    while (connection.read_line(line, stop)) {
        HttpRequest request{line, ""};
        std::size_t length = 0;
        while (connection.read_line(line, stop) && !line.empty()) {
            std::string lower = line;
            for (char &c : lower)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (lower.rfind("content-length:", 0) == 0)
                length = std::stoul(line.substr(15));
        }
        if (length > 0 && !connection.read_bytes(length, request.body, stop))
            return;
        if (state.silent) {
            while (!stop)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            return;
        }
        std::pair<int, std::string> reply;
        {
            std::lock_guard<std::mutex> lock(state.mutex);
            state.requests.push_back(request);
            reply = state.answer(request);
        }
        connection.write("HTTP/1.1 " + std::to_string(reply.first) +
                         " X\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(reply.second.size()) + "\r\n\r\n" + reply.second);
    }
}

class TransportTest : public ::testing::Test {
protected:
    TransportTest()
        : server([this](Connection &c, const std::atomic<bool> &stop) {
              serve_http(state, c, stop);
          }) {
        state.answer = [](const HttpRequest &) {
            return std::make_pair(200, std::string(R"({"errcode":0})"));
        };
        base = "http://127.0.0.1:" + std::to_string(server.port());
        settings.request_timeout_ms = 2000;
        transport->configure(settings);
    }

    HttpServerState state;
    LoopbackServer server;
    std::string base;
    TransportSettings settings;
    std::unique_ptr<HttpTransport> transport = make_curl_http_transport();
};

} // namespace

TEST_F(TransportTest, CallsShareOneConnection) {
    HttpResponse first = transport->get(base + "/cgi-bin/gettoken?corpid=c");
    HttpResponse second = transport->post_json(base + "/cgi-bin/message/send", R"({"a":1})");
    HttpResponse third = transport->post_json(base + "/cgi-bin/message/send", R"({"b":2})");
    EXPECT_EQ(first.error, TransportError::none);
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body, R"({"errcode":0})");
    EXPECT_EQ(third.status, 200);
    EXPECT_EQ(server.connections(), 1);
    std::lock_guard<std::mutex> lock(state.mutex);
    ASSERT_EQ(state.requests.size(), 3u);
    EXPECT_EQ(state.requests[0].request_line, "GET /cgi-bin/gettoken?corpid=c HTTP/1.1");
    EXPECT_EQ(state.requests[1].request_line, "POST /cgi-bin/message/send HTTP/1.1");
    EXPECT_EQ(state.requests[1].body, R"({"a":1})");
    EXPECT_EQ(state.requests[2].body, R"({"b":2})");
}

TEST_F(TransportTest, StatusAndBodyOfErrors) {
    state.answer = [](const HttpRequest &) { return std::make_pair(503, std::string("busy")); };
    HttpResponse response = transport->get(base + "/");
    EXPECT_EQ(response.error, TransportError::none);
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(response.body, "busy");
}

TEST_F(TransportTest, SilentServerTimesOut) {
    state.silent = true;
    settings.request_timeout_ms = 300;
    transport->configure(settings);
    auto started = std::chrono::steady_clock::now();
    HttpResponse response = transport->get(base + "/");
    EXPECT_EQ(response.error, TransportError::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
}

TEST_F(TransportTest, StopAbortsACallInFlight) {
    state.silent = true;
    volatile std::sig_atomic_t stop = 0;
    settings.stop = &stop;
    settings.request_timeout_ms = 10000;
    transport->configure(settings);
    std::thread stopper([&stop] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop = 1;
    });
    auto started = std::chrono::steady_clock::now();
    HttpResponse response = transport->get(base + "/");
    auto elapsed = std::chrono::steady_clock::now() - started;
    stopper.join();
    EXPECT_EQ(response.error, TransportError::aborted);
    EXPECT_LT(elapsed, std::chrono::milliseconds(600));
}

TEST_F(TransportTest, OnlyHttpUrls) {
    HttpResponse response = transport->get("file:///etc/passwd");
    EXPECT_NE(response.error, TransportError::none);
    EXPECT_TRUE(response.body.empty());
}

TEST(TransportNoServer, HttpsToAPlainServerIsAHandshakeFailure) {
    // A plain-text server answers the TLS client hello with text, as an HTTP server
    // answers a request it cannot read.
    LoopbackServer plain([](Connection &c, const std::atomic<bool> &) {
        c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    auto transport = make_curl_http_transport();
    transport->configure(TransportSettings{});
    HttpResponse response =
        transport->get("https://127.0.0.1:" + std::to_string(plain.port()) + "/");
    EXPECT_EQ(response.error, TransportError::tls_handshake);
}

TEST_F(TransportTest, AnUnreadableCaFileIsACertificateFailure) {
    settings.ca_file = "/nonexistent/mis_messaging/ca.pem";
    transport->configure(settings);
    HttpResponse response = transport->get("https" + base.substr(4) + "/");
    EXPECT_EQ(response.error, TransportError::tls);
}

TEST(TransportErrors, CertificateAndHandshakeFailuresAreTold) {
    EXPECT_EQ(transport_error_of(CURLE_PEER_FAILED_VERIFICATION), TransportError::tls);
    EXPECT_EQ(transport_error_of(CURLE_SSL_CACERT_BADFILE), TransportError::tls);
    EXPECT_EQ(transport_error_of(CURLE_SSL_ISSUER_ERROR), TransportError::tls);
    EXPECT_EQ(transport_error_of(CURLE_SSL_CONNECT_ERROR), TransportError::tls_handshake);
    EXPECT_EQ(transport_error_of(CURLE_SSL_CIPHER), TransportError::tls_handshake);
    EXPECT_EQ(transport_error_of(CURLE_COULDNT_CONNECT), TransportError::connect);
    EXPECT_EQ(transport_error_of(CURLE_RECV_ERROR), TransportError::network);
}

TEST(TransportNoServer, RefusedConnection) {
    int port;
    {
        LoopbackServer closed([](Connection &, const std::atomic<bool> &) {});
        port = closed.port();
    }
    auto transport = make_curl_http_transport();
    transport->configure(TransportSettings{});
    HttpResponse response = transport->get("http://127.0.0.1:" + std::to_string(port) + "/");
    EXPECT_EQ(response.error, TransportError::connect);
}

TEST(TransportNoServer, DroppedConnectionIsANetworkError) {
    LoopbackServer dropper([](Connection &c, const std::atomic<bool> &stop) {
        std::string line;
        c.read_line(line, stop); // read the request line, then hang up
    });
    auto transport = make_curl_http_transport();
    transport->configure(TransportSettings{});
    HttpResponse response =
        transport->get("http://127.0.0.1:" + std::to_string(dropper.port()) + "/");
    EXPECT_EQ(response.error, TransportError::network);
}

TEST_F(TransportTest, WecomSenderOverLibcurl) {
    state.answer = [](const HttpRequest &request) {
        if (request.request_line.find("/cgi-bin/gettoken?corpid=corp&corpsecret=s") !=
            std::string::npos)
            return std::make_pair(200, std::string(R"({"errcode":0,"access_token":"TOK",)"
                                                   R"("expires_in":7200})"));
        if (request.request_line.find("access_token=TOK") != std::string::npos)
            return std::make_pair(200, std::string(R"({"errcode":0,"invaliduser":"bob"})"));
        return std::make_pair(200, std::string(R"({"errcode":40014})"));
    };
    WecomSender sender;
    sender.configure({"corp", 5, "s", base}, settings);
    Outgoing alice, bob;
    alice.delivery_id = 1;
    alice.message_id = 9;
    alice.address = "alice";
    bob = alice;
    bob.delivery_id = 2;
    bob.address = "Bob";
    auto results = sender.send({{9, "Notice", "School closes at noon."}}, {alice, bob});
    EXPECT_EQ(results[0].verdict, Verdict::complete);
    EXPECT_EQ(results[1].verdict, Verdict::failed);
    EXPECT_EQ(server.connections(), 1);
    std::lock_guard<std::mutex> lock(state.mutex);
    ASSERT_EQ(state.requests.size(), 2u);
    EXPECT_EQ(state.requests[1].body,
              R"({"agentid":5,"duplicate_check_interval":1800,"enable_duplicate_check":1,)"
              R"("msgtype":"text","safe":0,"text":{"content":"Notice\n\nSchool closes at )"
              R"(noon."},"touser":"alice|Bob"})");
}
