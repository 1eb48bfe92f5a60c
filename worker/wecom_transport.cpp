// The libcurl HTTP transport of the WeCom sender.
#include "wecom_transport.hpp"

#include "curl_common.hpp"

namespace mis {

namespace {

size_t append_body(char *data, size_t size, size_t count, void *userdata) {
    static_cast<std::string *>(userdata)->append(data, size * count);
    return size * count;
}

class CurlHttpTransport : public HttpTransport {
public:
    CurlHttpTransport() {
        ensure_curl_initialised();
        multi_ = curl_multi_init();
        easy_ = curl_easy_init();
        headers_ = curl_slist_append(nullptr, "Content-Type: application/json; charset=utf-8");
    }

    ~CurlHttpTransport() override {
        curl_easy_cleanup(easy_);
        curl_multi_cleanup(multi_);
        curl_slist_free_all(headers_);
    }

    CurlHttpTransport(const CurlHttpTransport &) = delete;
    CurlHttpTransport &operator=(const CurlHttpTransport &) = delete;

    void configure(const TransportSettings &settings) override { settings_ = settings; }

    HttpResponse get(const std::string &url) override { return perform(url, nullptr); }

    HttpResponse post_json(const std::string &url, const std::string &body) override {
        return perform(url, &body);
    }

private:
    // One exchange on the kept handle, driven through the multi handle so that the stop
    // flag is looked at every kStopCheckMs even while nothing moves.
    HttpResponse perform(const std::string &url, const std::string *post_body) {
        HttpResponse response;
        if (stop_requested(settings_.stop)) {
            response.error = TransportError::aborted;
            return response;
        }

        // Options are set afresh each time; the connection cache is the multi handle's.
        curl_easy_reset(easy_);
        apply_transport_options(easy_, settings_);
        curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
        curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, append_body);
        curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &response.body);
        curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
        if (post_body != nullptr) {
            curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
            curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, post_body->c_str());
            curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(post_body->size()));
        }

        curl_multi_add_handle(multi_, easy_);
        CURLcode result = CURLE_OK;
        bool done = false;
        while (!done) {
            int running = 0;
            if (curl_multi_perform(multi_, &running) != CURLM_OK) {
                result = CURLE_RECV_ERROR;
                break;
            }
            int queued = 0;
            while (CURLMsg *message = curl_multi_info_read(multi_, &queued)) {
                if (message->msg == CURLMSG_DONE && message->easy_handle == easy_) {
                    result = message->data.result;
                    done = true;
                }
            }
            if (done)
                break;
            if (stop_requested(settings_.stop)) {
                result = CURLE_ABORTED_BY_CALLBACK;
                break;
            }
            curl_multi_poll(multi_, nullptr, 0, kStopCheckMs, nullptr);
        }
        curl_multi_remove_handle(multi_, easy_);

        response.error = transport_error_of(result);
        if (response.error == TransportError::none)
            curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &response.status);
        else
            response.body.clear();
        return response;
    }

    TransportSettings settings_;
    CURLM *multi_ = nullptr;
    CURL *easy_ = nullptr;
    curl_slist *headers_ = nullptr;
};

} // namespace

std::unique_ptr<HttpTransport> make_curl_http_transport() {
    return std::make_unique<CurlHttpTransport>();
}

} // namespace mis
