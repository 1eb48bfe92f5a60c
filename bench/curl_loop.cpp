// The bare libcurl baselines of the dispatch benchmarks: one easy handle, so one
// reused connection, and a plain loop with nothing else in it.
//
//   curl_loop http URL COUNT TEXT       COUNT WeCom message/send POSTs, one user each
//   curl_loop smtp URL COUNT FROM FILE  COUNT mails, one recipient each; FILE holds
//                                       lines "address<TAB>mail file"
//
// Prints the seconds the loop took; exits non-zero at the first request that fails.
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

size_t keep_reply(char *data, size_t size, size_t count, void *out) {
    static_cast<std::string *>(out)->append(data, size * count);
    return size * count;
}

struct Upload {
    const std::string *text;
    size_t at;
};

size_t read_upload(char *buffer, size_t size, size_t count, void *in) {
    Upload *upload = static_cast<Upload *>(in);
    size_t n = std::min(size * count, upload->text->size() - upload->at);
    std::memcpy(buffer, upload->text->data() + upload->at, n);
    upload->at += n;
    return n;
}

// One POST per user id, each answered with errcode 0.
int http_loop(CURL *curl, const char *url, long count, const std::string &text,
              Clock::time_point &start) {
    std::string reply;
    curl_slist *headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    start = Clock::now();
    for (long i = 0; i < count; i++) {
        std::string body = "{\"touser\":\"baseline" + std::to_string(i) +
                           "\",\"msgtype\":\"text\",\"agentid\":1000002,\"text\":{\"content\":\"" +
                           text + "\"},\"safe\":0,\"enable_duplicate_check\":1}";
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
        reply.clear();
        long status = 0;
        CURLcode rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200 || reply.find("\"errcode\":0") == std::string::npos) {
            std::fprintf(stderr, "request %ld failed: %s, HTTP %ld\n", i, curl_easy_strerror(rc),
                         status);
            return 1;
        }
    }
    curl_slist_free_all(headers);
    return 0;
}

// One mail per line of the list, all over the handle's one connection.
int smtp_loop(CURL *curl, const char *url, long count, const char *from, const char *list,
              Clock::time_point &start) {
    std::vector<std::pair<std::string, std::string>> mails;
    std::ifstream lines(list);
    std::string line;
    while (std::getline(lines, line) && static_cast<long>(mails.size()) < count) {
        size_t tab = line.find('\t');
        std::ifstream file(line.substr(tab + 1), std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        mails.emplace_back(line.substr(0, tab), std::move(text));
    }
    if (static_cast<long>(mails.size()) != count) {
        std::fprintf(stderr, "%zu mails in %s, expected %ld\n", mails.size(), list, count);
        return 1;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
    start = Clock::now();
    for (const auto &[address, text] : mails) {
        curl_slist *rcpt = curl_slist_append(nullptr, address.c_str());
        Upload upload{&text, 0};
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
        CURLcode rc = curl_easy_perform(curl);
        curl_slist_free_all(rcpt);
        if (rc != CURLE_OK) {
            std::fprintf(stderr, "mail to %s failed: %s\n", address.c_str(),
                         curl_easy_strerror(rc));
            return 1;
        }
    }
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: curl_loop http URL COUNT TEXT | smtp URL COUNT FROM FILE\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    long count = std::atol(argv[3]);
    Clock::time_point start = Clock::now();
    int rc = 2;
    if (std::strcmp(argv[1], "http") == 0)
        rc = http_loop(curl, argv[2], count, argv[4], start);
    else if (std::strcmp(argv[1], "smtp") == 0 && argc == 6)
        rc = smtp_loop(curl, argv[2], count, argv[4], argv[5], start);
    std::chrono::duration<double> took = Clock::now() - start;
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    if (rc == 0)
        std::printf("%.6f\n", took.count());
    return rc;
}
