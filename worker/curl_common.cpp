// libcurl set-up shared by the WeCom and SMTP senders.
#include "curl_common.hpp"

namespace mis {

namespace {

// Asks libcurl to abort the transfer once the dispatcher is stopping.
int abort_when_stopping(void *clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto *settings = static_cast<const TransportSettings *>(clientp);
    return stop_requested(settings->stop) ? 1 : 0;
}

} // namespace

void ensure_curl_initialised() {
    static bool initialised = false;
    if (!initialised) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        initialised = true;
    }
}

void apply_transport_options(CURL *easy, const TransportSettings &settings) {
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, settings.request_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.request_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!settings.ca_file.empty())
        curl_easy_setopt(easy, CURLOPT_CAINFO, settings.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, abort_when_stopping);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &settings);
}

TransportError transport_error_of(CURLcode code) {
    switch (code) {
    case CURLE_OK:
        return TransportError::none;
    case CURLE_OPERATION_TIMEDOUT:
        return TransportError::timeout;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return TransportError::connect;
    // The server's certificate (or the CA bundle to judge it by) is at fault.
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return TransportError::tls;
    // The handshake failed before any certificate was judged: most often TLS spoken
    // to a port that expects plain text, or no cipher or version in common.
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return TransportError::tls_handshake;
    case CURLE_ABORTED_BY_CALLBACK:
        return TransportError::aborted;
    default:
        return TransportError::network;
    }
}

} // namespace mis
