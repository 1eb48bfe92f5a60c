// What both libcurl senders share: global initialisation, the transport settings every
// handle gets, the stop flag, and the meaning of libcurl's error codes. Pure C++.
#pragma once

#include <curl/curl.h>

#include "channel.hpp"
#include "wecom_api.hpp"

namespace mis {

// Initialises libcurl once per process (the worker is single-threaded).
void ensure_curl_initialised();

// Sets the options every transfer shares: no signals, timeouts, CA bundle, TCP
// keep-alive, and a progress callback that aborts the transfer once `settings.stop`
// is set. `settings` must outlive the handle's use (the callback reads its stop flag).
void apply_transport_options(CURL *easy, const TransportSettings &settings);

// The kind of failure a libcurl error code stands for.
TransportError transport_error_of(CURLcode code);

// How long curl_multi_poll may wait before the stop flag is looked at again.
constexpr int kStopCheckMs = 100;

} // namespace mis
