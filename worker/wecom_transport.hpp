// The HTTP exchanges of the WeCom sender, behind an interface so that tests can put a
// fake in libcurl's place.
#pragma once

#include <memory>
#include <string>

#include "channel.hpp"
#include "wecom_api.hpp"

namespace mis {

class HttpTransport {
public:
    virtual ~HttpTransport() = default;

    // Takes new settings; `settings` stays alive and unchanged until the next call.
    virtual void configure(const TransportSettings &settings) = 0;
    virtual HttpResponse get(const std::string &url) = 0;
    virtual HttpResponse post_json(const std::string &url, const std::string &body) = 0;
};

// The libcurl transport: one handle whose connection is kept alive from call to call,
// so consecutive calls reuse one TLS session. A call returns TransportError::aborted
// within about 100 ms once the stop flag is set.
std::unique_ptr<HttpTransport> make_curl_http_transport();

} // namespace mis
