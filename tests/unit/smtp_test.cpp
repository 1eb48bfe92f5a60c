// The email channel's sender: SMTP outcome classification, and libcurl sending against a
// small SMTP server on 127.0.0.1 (one mail per recipient, reused connections, refusals).
#include <gtest/gtest.h>

#include <curl/curl.h>

#include <chrono>
#include <mutex>

#include "loopback_server.hpp"
#include "smtp_sender.hpp"

using namespace mis;
using mis_test::Connection;
using mis_test::LoopbackServer;

TEST(SmtpClassify, Table) {
    struct Case {
        CURLcode code;
        long smtp;
        const char *error;
        Verdict verdict;
        std::string reason;
        bool configuration;
    };
    std::vector<Case> cases = {
        {CURLE_OK, 250, "", Verdict::complete, "", false},
        {CURLE_SEND_ERROR, 550, "RCPT failed: 550", Verdict::failed,
         "the mail server refused the address", false},
        {CURLE_SEND_ERROR, 553, "RCPT failed: 553", Verdict::failed,
         "the mail server refused the address", false},
        {CURLE_SEND_ERROR, 450, "RCPT failed: 450", Verdict::retry,
         "the mail server deferred the address (SMTP 450)", false},
        {CURLE_SEND_ERROR, 451, "MAIL failed: 451", Verdict::retry,
         "the mail server asked to try again later (SMTP 451)", false},
        {CURLE_SEND_ERROR, 553, "MAIL failed: 553", Verdict::failed,
         "the mail server refused the sender address: check messaging.configure_smtp's "
         "mail_from (SMTP 553)",
         true},
        {CURLE_LOGIN_DENIED, 535, "", Verdict::failed,
         "the mail server refused the login: check messaging.configure_smtp's username and "
         "password",
         true},
        {CURLE_WEIRD_SERVER_REPLY, 554, "Got unexpected smtp-server response: 554", Verdict::failed,
         "the mail server refused the connection (SMTP 554)", true},
        {CURLE_WEIRD_SERVER_REPLY, 421, "Got unexpected smtp-server response: 421", Verdict::retry,
         "the mail server asked to try again later (SMTP 421)", false},
        {CURLE_RECV_ERROR, 552, "", Verdict::failed, "the mail server refused the mail (SMTP 552)",
         false},
        {CURLE_PEER_FAILED_VERIFICATION, 0, "", Verdict::failed,
         "could not verify the TLS certificate of the mail server: check the SMTP URL and "
         "messaging.ca_file",
         true},
        {CURLE_SSL_CACERT_BADFILE, 0, "", Verdict::failed,
         "could not verify the TLS certificate of the mail server: check the SMTP URL and "
         "messaging.ca_file",
         true},
        {CURLE_SSL_CONNECT_ERROR, 0, "", Verdict::failed,
         "TLS handshake with the mail server failed: check that the SMTP URL's scheme matches "
         "the server (smtps:// for TLS from the first byte, smtp:// for STARTTLS)",
         true},
        {CURLE_SSL_CIPHER, 0, "", Verdict::failed,
         "TLS handshake with the mail server failed: check that the SMTP URL's scheme matches "
         "the server (smtps:// for TLS from the first byte, smtp:// for STARTTLS)",
         true},
        {CURLE_USE_SSL_FAILED, 250, "", Verdict::failed,
         "the mail server does not offer STARTTLS: use an smtps:// URL, or starttls false for "
         "a relay on a trusted network",
         true},
        {CURLE_COULDNT_CONNECT, 0, "", Verdict::retry, "could not connect to the mail server",
         false},
        {CURLE_OPERATION_TIMEDOUT, 354, "", Verdict::retry, "timed out waiting for the mail server",
         false},
        {CURLE_RECV_ERROR, 354, "", Verdict::retry, "the connection to the mail server was lost",
         false},
        {CURLE_GOT_NOTHING, 0, "", Verdict::retry, "the connection to the mail server was lost",
         false},
        {CURLE_ABORTED_BY_CALLBACK, 0, "", Verdict::deferred,
         "not sent: the dispatcher is stopping", false},
    };
    for (const Case &c : cases) {
        SmtpOutcome outcome = classify_smtp(c.code, c.smtp, c.error);
        EXPECT_EQ(outcome.verdict, c.verdict) << c.code << " " << c.smtp;
        EXPECT_EQ(outcome.reason, c.reason) << c.code << " " << c.smtp;
        EXPECT_EQ(outcome.configuration, c.configuration) << c.code << " " << c.smtp;
    }
}

namespace {

// What the SMTP server received, and how it behaves.
struct SmtpServerState {
    std::mutex mutex;
    struct Mail {
        std::string from;
        std::vector<std::string> recipients;
        std::string data;
    };
    std::vector<Mail> mails;
    int auth_attempts = 0;
    // Behaviour.
    std::string greeting = "220 test ESMTP";
    std::string user_password; // "user\0password" expected in AUTH PLAIN, empty: no AUTH
    bool drop_in_data = false;
    bool silent = false;
};

std::string decode64(const std::string &text) {
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        auto pos = alphabet.find(c);
        if (pos == std::string::npos)
            continue;
        bits = (bits << 6) | static_cast<uint32_t>(pos);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xFF);
        }
    }
    return out;
}

// A small SMTP server: refuses recipients starting with "refused" (550) and "later" (451).
void serve_smtp(SmtpServerState &state, Connection &connection, const std::atomic<bool> &stop) {
    if (state.silent) {
        std::string line;
        connection.read_line(line, stop);
        return;
    }
    connection.write(state.greeting + "\r\n");
    if (state.greeting[0] != '2')
        return;
    SmtpServerState::Mail mail;
    std::string line;
    while (connection.read_line(line, stop)) {
        std::string verb = line.substr(0, 4);
        for (char &c : verb)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (verb == "EHLO") {
            std::string auth = state.user_password.empty() ? "" : "250-AUTH PLAIN\r\n";
            connection.write("250-test\r\n" + auth + "250 8BITMIME\r\n");
        } else if (verb == "AUTH") {
            // Without an initial response, the credentials follow a 334 challenge.
            std::string encoded = line.substr(line.rfind(' ') + 1);
            if (line.find(' ') == line.rfind(' ')) {
                connection.write("334 \r\n");
                if (!connection.read_line(encoded, stop))
                    return;
            }
            std::lock_guard<std::mutex> lock(state.mutex);
            state.auth_attempts++;
            std::string credentials = decode64(encoded);
            bool good = credentials == std::string("\0", 1) + state.user_password;
            connection.write(good ? "235 ok\r\n" : "535 5.7.8 authentication failed\r\n");
        } else if (verb == "MAIL") {
            mail = {};
            mail.from = line.substr(10);
            connection.write("250 ok\r\n");
        } else if (verb == "RCPT") {
            std::string to = line.substr(8);
            if (to.rfind("<refused", 0) == 0) {
                connection.write("550 5.1.1 no such user\r\n");
            } else if (to.rfind("<later", 0) == 0) {
                connection.write("451 4.3.0 try later\r\n");
            } else {
                mail.recipients.push_back(to);
                connection.write("250 ok\r\n");
            }
        } else if (verb == "DATA") {
            connection.write("354 go ahead\r\n");
            if (state.drop_in_data)
                return;
            while (connection.read_line(line, stop) && line != ".")
                mail.data += line + "\r\n";
            {
                std::lock_guard<std::mutex> lock(state.mutex);
                state.mails.push_back(mail);
            }
            connection.write("250 queued\r\n");
        } else if (verb == "RSET" || verb == "NOOP") {
            connection.write("250 ok\r\n");
        } else if (verb == "QUIT") {
            connection.write("221 bye\r\n");
            return;
        } else {
            connection.write("502 unknown\r\n");
        }
    }
}

class SmtpSenderTest : public ::testing::Test {
protected:
    SmtpSenderTest()
        : server([this](Connection &c, const std::atomic<bool> &stop) {
              serve_smtp(state, c, stop);
          }) {
        smtp.url = "smtp://127.0.0.1:" + std::to_string(server.port());
        smtp.mail_from = "Greenfield Office <office@greenfield.example>";
        smtp.starttls = false;
        transport.request_timeout_ms = 2000;
        transport.max_connections = 2;
        sender.configure(smtp, transport);
    }

    static Outgoing delivery(int64_t id, const std::string &address, int run = 0) {
        Outgoing out;
        out.delivery_id = id;
        out.message_id = 1;
        out.address = address;
        out.display_name = "Parent " + std::to_string(id);
        out.run = run;
        return out;
    }

    SmtpServerState state;
    LoopbackServer server;
    SmtpSettings smtp;
    TransportSettings transport;
    SmtpSender sender{[] { return static_cast<std::time_t>(1796400000); }};
    std::vector<MessageText> messages = {{1, "Trip", "Bring a coat.\n.\nThanks"}};
};

} // namespace

TEST_F(SmtpSenderTest, OneMailPerRecipientOverReusedConnections) {
    std::vector<Outgoing> deliveries;
    for (int i = 1; i <= 6; i++)
        deliveries.push_back(delivery(i, "p" + std::to_string(i) + "@example.org"));
    auto results = sender.send(messages, deliveries);
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::complete) << result.reason;
        EXPECT_TRUE(result.reached_network);
    }
    auto more = sender.send(messages, {delivery(7, "p7@example.org")});
    EXPECT_EQ(more[0].verdict, Verdict::complete);

    std::lock_guard<std::mutex> lock(state.mutex);
    ASSERT_EQ(state.mails.size(), 7u);
    for (const auto &mail : state.mails) {
        EXPECT_EQ(mail.from, "<office@greenfield.example>");
        ASSERT_EQ(mail.recipients.size(), 1u);
    }
    EXPECT_LE(server.connections(), 2);
    // The body's lone "." arrived dot-stuffed or encoded, never ending the data early.
    const std::string &data = state.mails[0].data;
    EXPECT_NE(data.find("From: Greenfield Office <office@greenfield.example>\r\n"),
              std::string::npos);
    EXPECT_NE(data.find("Subject: Trip\r\n"), std::string::npos);
    EXPECT_NE(data.find("Thanks"), std::string::npos);
}

TEST_F(SmtpSenderTest, RefusedRecipientFailsAlone) {
    auto results =
        sender.send(messages, {delivery(1, "a@example.org"), delivery(2, "refused@example.org"),
                               delivery(3, "later@example.org"), delivery(4, "b@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::complete);
    EXPECT_EQ(results[1].verdict, Verdict::failed);
    EXPECT_EQ(results[1].reason, "the mail server refused the address");
    EXPECT_FALSE(results[1].configuration);
    EXPECT_TRUE(results[1].reached_network);
    EXPECT_EQ(results[2].verdict, Verdict::retry);
    EXPECT_EQ(results[2].reason, "the mail server deferred the address (SMTP 451)");
    EXPECT_EQ(results[3].verdict, Verdict::complete);
    std::lock_guard<std::mutex> lock(state.mutex);
    EXPECT_EQ(state.mails.size(), 2u);
}

TEST_F(SmtpSenderTest, InvalidAddressFailsWithoutNetwork) {
    auto results = sender.send(messages, {delivery(1, "a@example.org>\r\nRCPT TO:<b@c")});
    EXPECT_EQ(results[0].verdict, Verdict::failed);
    EXPECT_EQ(results[0].reason, "not a valid email address: check the person's email address");
    EXPECT_FALSE(results[0].reached_network);
    EXPECT_EQ(server.connections(), 0);
}

TEST_F(SmtpSenderTest, LoginRefusedFailsTheBatchAfterOneTry) {
    state.user_password = std::string("office\0right", 12);
    smtp.username = "office";
    smtp.password = "wrong";
    sender.configure(smtp, transport);
    transport.max_connections = 1;
    sender.configure(smtp, transport);
    auto results =
        sender.send(messages, {delivery(1, "a@example.org"), delivery(2, "b@example.org"),
                               delivery(3, "c@example.org")});
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::failed);
        EXPECT_EQ(result.reason, "the mail server refused the login: check "
                                 "messaging.configure_smtp's username and password");
        EXPECT_TRUE(result.configuration);
    }
    EXPECT_TRUE(results[0].reached_network);
    EXPECT_FALSE(results[2].reached_network);
    std::lock_guard<std::mutex> lock(state.mutex);
    EXPECT_EQ(state.auth_attempts, 1);
}

TEST_F(SmtpSenderTest, RightLoginSends) {
    state.user_password = std::string("office\0right", 12);
    smtp.username = "office";
    smtp.password = "right";
    sender.configure(smtp, transport);
    auto results = sender.send(messages, {delivery(1, "a@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::complete) << results[0].reason;
}

TEST_F(SmtpSenderTest, GreetingRefused) {
    state.greeting = "554 5.7.1 go away";
    auto results = sender.send(messages, {delivery(1, "a@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::failed);
    EXPECT_EQ(results[0].reason, "the mail server refused the connection (SMTP 554)");
    EXPECT_TRUE(results[0].configuration);
}

TEST_F(SmtpSenderTest, DropInDataIsRetried) {
    state.drop_in_data = true;
    auto results = sender.send(messages, {delivery(1, "a@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::retry);
    EXPECT_EQ(results[0].reason, "the connection to the mail server was lost");
}

TEST_F(SmtpSenderTest, SilentServerTimesOut) {
    state.silent = true;
    transport.request_timeout_ms = 300;
    sender.configure(smtp, transport);
    auto results = sender.send(messages, {delivery(1, "a@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::retry);
    EXPECT_EQ(results[0].reason, "timed out waiting for the mail server");
}

TEST_F(SmtpSenderTest, StarttlsRequiredButNotOffered) {
    smtp.starttls = true;
    sender.configure(smtp, transport);
    auto results = sender.send(messages, {delivery(1, "a@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::failed);
    EXPECT_TRUE(results[0].configuration);
    EXPECT_EQ(results[0].reason.substr(0, 42), "the mail server does not offer STARTTLS: u");
}

TEST_F(SmtpSenderTest, StopAbortsPromptly) {
    state.silent = true;
    transport.request_timeout_ms = 10000;
    volatile std::sig_atomic_t stop = 0;
    transport.stop = &stop;
    sender.configure(smtp, transport);
    std::thread stopper([&stop] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop = 1;
    });
    auto started = std::chrono::steady_clock::now();
    auto results =
        sender.send(messages, {delivery(1, "a@example.org"), delivery(2, "b@example.org"),
                               delivery(3, "c@example.org")});
    auto elapsed = std::chrono::steady_clock::now() - started;
    stopper.join();
    EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
    for (const auto &result : results) {
        EXPECT_EQ(result.verdict, Verdict::deferred);
        EXPECT_EQ(result.defer_ms, 0);
        EXPECT_FALSE(result.reached_network);
    }
}

TEST(SmtpSenderNoServer, ConnectionRefusedIsRetried) {
    // Take a free port, then close it, so nothing listens there.
    int port;
    {
        LoopbackServer closed([](Connection &, const std::atomic<bool> &) {});
        port = closed.port();
    }
    SmtpSender sender;
    SmtpSettings smtp{"smtp://127.0.0.1:" + std::to_string(port), "office@example.org", "", "",
                      false};
    sender.configure(smtp, TransportSettings{});
    Outgoing out;
    out.delivery_id = 1;
    out.message_id = 1;
    out.address = "a@example.org";
    auto results = sender.send({{1, "", "hi"}}, {out});
    EXPECT_EQ(results[0].verdict, Verdict::retry);
    EXPECT_EQ(results[0].reason, "could not connect to the mail server");
    EXPECT_TRUE(results[0].reached_network);
}

TEST(SmtpSenderNoServer, InvalidMailFromIsAConfigurationFailure) {
    SmtpSender sender;
    sender.configure({"smtp://127.0.0.1:1", "Office <>", "", "", false}, TransportSettings{});
    Outgoing out;
    out.delivery_id = 1;
    out.message_id = 1;
    out.address = "a@example.org";
    auto results = sender.send({{1, "", "hi"}}, {out});
    EXPECT_EQ(results[0].verdict, Verdict::failed);
    EXPECT_TRUE(results[0].configuration);
    EXPECT_FALSE(results[0].reached_network);
}

TEST_F(SmtpSenderTest, AsTheDispatchersBatchSender) {
    ChannelSettings settings;
    settings.smtp = smtp;
    settings.smtp.mail_from = "other@school.example";
    settings.transport = transport;
    BatchSender &batch_sender = sender;
    auto results = batch_sender.send(settings, messages, {delivery(1, "a@example.org")});
    EXPECT_EQ(results[0].verdict, Verdict::complete);
    std::lock_guard<std::mutex> lock(state.mutex);
    ASSERT_EQ(state.mails.size(), 1u);
    EXPECT_EQ(state.mails[0].from, "<other@school.example>");
    EXPECT_NE(state.mails[0].data.find("Message-ID: <delivery-1.run-0@school.example>"),
              std::string::npos);
}
