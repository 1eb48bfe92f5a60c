// What the dispatcher hands a channel sender, and what it gets back. Pure C++:
// nothing here may include postgres.h.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace mis {

// The text of one message, as the sender wrote it.
struct MessageText {
    int64_t message_id = 0;
    std::string subject; // empty: no subject
    std::string body;
};

// One delivery to make on this try.
struct Outgoing {
    int64_t delivery_id = 0;
    int64_t message_id = 0;
    int64_t person_id = 0;
    std::string address;      // the WeCom user id or email address
    std::string display_name; // for the mail's To header
    int attempt = 1;          // this try's number, counting from 1
    int run = 0;              // 0 for the first send, n for the n-th deliberate rerun
};

// What became of one delivery.
enum class Verdict {
    complete, // delivered
    retry,    // transient failure: try again after a delay, unless out of tries
    failed,   // permanent or configuration failure: do not try again
    deferred, // not tried (pacing): queue again after defer_ms without using a try
};

struct DeliveryResult {
    int64_t delivery_id = 0;
    Verdict verdict = Verdict::failed;
    std::string reason;           // for people: why it failed or is retried
    bool reached_network = false; // whether this try counts as an attempt
    int64_t defer_ms = 0;         // for Verdict::deferred
    bool configuration = false;   // a problem for the DBA (logged once per batch)
};

// Set by the worker's SIGTERM handler: senders check it from their transfer
// callbacks, abort what is in flight and return at once.
inline volatile std::sig_atomic_t stop_requested = 0;

} // namespace mis
