// The dispatcher: a background worker connected to messaging.database that
// claims due deliveries in batches, sends them outside any transaction, and
// records the results in one transaction per batch.
extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/procsignal.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void mis_dispatcher_main(Datum);
}

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "outcome.hpp"
#include "pg_guard.hpp"
#include "sender.hpp"
#include "settings.hpp"
#include "worker_state.hpp"

namespace {

// While the extension is missing, look for it this often (CREATE EXTENSION
// also wakes the dispatcher when it commits).
constexpr long extension_check_ms = 10000;
// Even when idle, refresh last_heartbeat_at this often (no statements run).
constexpr long heartbeat_ms = 60000;
// Recording a batch's results is tried this many times more after a failure.
constexpr int record_tries = 3;
// After an error in the loop, wait this long, doubling up to the maximum.
constexpr long error_backoff_first_ms = 1000;
constexpr long error_backoff_max_ms = 60000;
// When deliveries are due but none could be claimed (their rows or their
// dispatch's row held by another transaction), look again after this long; a
// rerun that commits wakes the dispatcher sooner.
constexpr long held_retry_ms = 1000;

// What pg_stat_activity shows as the dispatcher's query in each step.
const char *const step_claiming = "mis_messaging: claiming deliveries";
const char *const step_recording = "mis_messaging: recording results";
const char *const step_checking = "mis_messaging: checking for the extension";
const char *const step_waiting = "mis_messaging: waiting for work";
const char *const step_no_extension = "mis_messaging: waiting for extension mis_messaging";
const char *const step_paused = "mis_messaging: paused (messaging.enabled is off)";
const char *const step_after_error = "mis_messaging: waiting to try again after an error";

// Allocations of one turn of the loop; reset after every turn.
MemoryContext loop_context = nullptr;

// Set by SIGTERM; the senders abort their network transfers when it is.
volatile sig_atomic_t stop_senders = 0;

// SIGTERM: stop after the current step, and cut network transfers short.
void handle_sigterm(SIGNAL_ARGS) {
    int saved_errno = errno;
    ShutdownRequestPending = true;
    stop_senders = 1;
    SetLatch(MyLatch);
    errno = saved_errno;
}

// Runs fn on the shared state with the lock held; fn must not raise or allocate.
template <typename Fn>
void with_state(Fn &&fn) {
    mis::WorkerState *state = mis::worker_state();
    SpinLockAcquire(&state->mutex);
    fn(*state);
    SpinLockRelease(&state->mutex);
}

// Takes the dispatcher's place in shared memory; false if another one holds it.
bool take_dispatcher_slot(const char *database) {
    pid_t holder = 0;
    with_state([&](mis::WorkerState &state) { holder = state.dispatcher_pid; });
    if (holder != 0 && holder != MyProcPid && kill(holder, 0) == 0)
        return false;

    TimestampTz now = GetCurrentTimestamp();
    with_state([&](mis::WorkerState &state) {
        state.dispatcher_pid = MyProcPid;
        state.dispatcher_latch = MyLatch;
        state.database_oid = MyDatabaseId;
        strlcpy(state.database, database, sizeof(state.database));
        state.started_at = now;
        state.last_heartbeat_at = now;
        state.in_flight = 0;
        state.sent_total = 0;
        state.failed_total = 0;
        state.last_error[0] = '\0';
    });
    return true;
}

// Clears the dispatcher's place when the process exits.
void forget_dispatcher(int code, Datum) {
    with_state([&](mis::WorkerState &state) {
        if (state.dispatcher_pid == MyProcPid) {
            state.dispatcher_exited_cleanly = code == 0;
            state.dispatcher_pid = 0;
            state.dispatcher_latch = nullptr;
            state.in_flight = 0;
        }
    });
}

// Shows message as worker_status.last_error.
void note_error(const std::string &message) {
    with_state([&](mis::WorkerState &state) {
        mis::copy_message(state.last_error, sizeof(state.last_error), message.c_str());
    });
}

// The step last shown in pg_stat_activity, so that an unchanged step is not
// reported again (which would move its state_change time).
std::string shown_step;
BackendState shown_state = STATE_UNDEFINED;

// Shows the step the dispatcher is in as its query in pg_stat_activity: running
// while it works (in a transaction or on the network), idle while it waits.
void report_step(BackendState state, const std::string &step) {
    if (state == shown_state && step == shown_step)
        return;
    mis::pg_call([&]() {
        if (state == STATE_RUNNING)
            SetCurrentStatementStartTimestamp();
        pgstat_report_activity(state, step.c_str());
    });
    shown_state = state;
    shown_step = step;
}

// Starts a transaction with a snapshot and an SPI connection.
void begin_transaction(const char *activity) {
    mis::pg_call([&]() {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        PushActiveSnapshot(GetTransactionSnapshot());
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "mis_messaging dispatcher could not connect to SPI");
    });
    report_step(STATE_RUNNING, activity);
}

void commit_transaction() {
    mis::pg_call([]() {
        SPI_finish();
        PopActiveSnapshot();
        CommitTransactionCommand();
        pgstat_report_stat(false);
        MemoryContextSwitchTo(loop_context);
    });
}

// Abandons whatever transaction an error interrupted.
void abort_transaction() {
    mis::pg_call([]() {
        AbortOutOfAnyTransaction();
        MemoryContextSwitchTo(loop_context);
    });
}

// The extension's oid in this database, or InvalidOid (a catalog lookup).
Oid find_extension() {
    return mis::pg_call([]() { return get_extension_oid("mis_messaging", true); });
}

// Runs one statement through SPI; its rows are left in SPI_tuptable.
uint64 execute(const char *sql, int nargs, Oid *types, Datum *values) {
    return mis::pg_call([&]() -> uint64 {
        int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "mis_messaging dispatcher query failed: %s", SPI_result_code_string(rc));
        return SPI_processed;
    });
}

// Readers of the current SPI result; columns count from 1.
Datum column(uint64 row, int col, bool *isnull) {
    return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

int64_t int64_column(uint64 row, int col) {
    bool isnull = false;
    Datum value = column(row, col, &isnull);
    return isnull ? 0 : DatumGetInt64(value);
}

int int32_column(uint64 row, int col) {
    bool isnull = false;
    Datum value = column(row, col, &isnull);
    return isnull ? 0 : DatumGetInt32(value);
}

bool bool_column(uint64 row, int col) {
    bool isnull = false;
    Datum value = column(row, col, &isnull);
    return !isnull && DatumGetBool(value);
}

bool null_column(uint64 row, int col) {
    bool isnull = false;
    (void) column(row, col, &isnull);
    return isnull;
}

std::string text_column(uint64 row, int col) {
    const char *value = mis::pg_call([&]() -> const char * {
        bool isnull = false;
        Datum datum = column(row, col, &isnull);
        return isnull ? nullptr : TextDatumGetCString(datum);
    });
    return value != nullptr ? std::string(value) : std::string();
}

// A bigint[] parameter.
Datum int64_array(const std::vector<int64_t> &values) {
    return mis::pg_call([&]() {
        Datum *elements = static_cast<Datum *>(palloc(sizeof(Datum) * (values.size() + 1)));
        for (size_t i = 0; i < values.size(); i++)
            elements[i] = Int64GetDatum(values[i]);
        return PointerGetDatum(construct_array(elements, static_cast<int>(values.size()), INT8OID,
                                               8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
}

// Turns one batch's results into the arrays messaging._record_deliveries takes.
void result_arrays(const std::vector<mis::DeliveryResult> &results, Datum *arrays) {
    mis::pg_call([&]() {
        int n = static_cast<int>(results.size());
        Datum *ids = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
        Datum *outcomes = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
        Datum *reasons = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
        Datum *tried = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
        Datum *defer_ms = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
        for (int i = 0; i < n; i++) {
            const mis::DeliveryResult &result = results[i];
            ids[i] = Int64GetDatum(result.delivery_id);
            outcomes[i] = CStringGetTextDatum(mis::verdict_name(result.verdict));
            reasons[i] = PointerGetDatum(cstring_to_text_with_len(
                result.reason.data(), static_cast<int>(result.reason.size())));
            tried[i] = BoolGetDatum(result.reached_network);
            defer_ms[i] = Int64GetDatum(result.defer_ms);
        }
        arrays[0] =
            PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
        arrays[1] = PointerGetDatum(construct_array(outcomes, n, TEXTOID, -1, false, TYPALIGN_INT));
        arrays[2] = PointerGetDatum(construct_array(reasons, n, TEXTOID, -1, false, TYPALIGN_INT));
        arrays[3] = PointerGetDatum(construct_array(tried, n, BOOLOID, 1, true, TYPALIGN_CHAR));
        arrays[4] = PointerGetDatum(
            construct_array(defer_ms, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
}

// One claimed batch: what to send over each channel, and what is needed to send it.
struct Batch {
    Oid extension = InvalidOid;
    uint64 claimed = 0;
    int failed_at_claim = 0;
    std::vector<int64_t> sending; // claim order
    std::vector<mis::Outgoing> wechat;
    std::vector<mis::Outgoing> email;
    std::vector<mis::Outgoing> alert;
    std::vector<mis::MessageText> messages;
    mis::ChannelSettings settings;
    std::vector<std::pair<std::string, int>> configuration_problems;
    long next_due_ms = -1; // when nothing was claimed: -1 for an empty queue
};

const char *claim_sql =
    "SELECT delivery_id, message_id, channel::text, person_id, address, display_name, "
    "attempts, run, problem, configuration_problem "
    "FROM messaging._claim_deliveries($1)";

const char *record_sql = "SELECT complete, failed FROM messaging._record_deliveries("
                         "$1, $2, $3, $4, $5, $6, $7)";

// The dispatcher's state between turns of its loop.
class Dispatcher {
public:
    Dispatcher()
        : wecom_(mis::make_wecom_sender()), smtp_(mis::make_smtp_sender()),
          alert_(mis::make_alert_sender()) {}

    // One turn: claim, send, record. Returns how long to sleep before the next
    // turn: 0 for at once, -1 until woken.
    long step();

    // Handles an error that interrupted a turn: makes sure that nothing the turn
    // claimed stays in flight, and logs the error once, unless it came from the
    // extension being dropped. True in that case: the next turn may run at once.
    bool recover(const std::string &message);

    // What the dispatcher waits for when it sleeps, as pg_stat_activity shows it.
    const char *waiting_for() const { return waiting_for_; }

private:
    bool claim(Batch &batch);
    void serve(Oid extension);
    bool extension_vanished();
    void requeue_in_flight();
    void take_claimed(Batch &batch, uint64 row);
    void read_messages(Batch &batch);
    void read_settings(Batch &batch);
    std::vector<mis::DeliveryResult> send(const Batch &batch);
    void record(Oid extension, const std::vector<mis::DeliveryResult> &results);
    long record_again();
    void log_configuration_problems(const std::vector<std::pair<std::string, int>> &problems);

    std::unique_ptr<mis::BatchSender> wecom_;
    std::unique_ptr<mis::BatchSender> smtp_;
    std::unique_ptr<mis::BatchSender> alert_;
    Oid extension_ = InvalidOid;      // the extension served, once its queue was checked
    Oid seen_extension_ = InvalidOid; // the extension found by the latest lookup
    bool requeue_needed_ = true;
    bool results_discarded_ = false; // a batch's results went with a dropped extension
    const char *waiting_for_ = step_waiting;
    bool said_waiting_ = false;
    bool said_paused_ = false;
    std::string last_logged_error_;

    // Between a committed claim and the recording of its results.
    bool batch_in_flight_ = false;

    // Results whose recording failed: recorded first at the next turn.
    struct Unrecorded {
        Oid extension;
        std::vector<mis::DeliveryResult> results;
        int tries;
    };
    std::optional<Unrecorded> unrecorded_;
};

long Dispatcher::step() {
    if (!mis::settings::enabled) {
        waiting_for_ = step_paused;
        if (!said_paused_)
            ereport(LOG, (errmsg("mis_messaging dispatcher paused: messaging.enabled is off")));
        said_paused_ = true;
        return -1;
    }
    if (said_paused_)
        ereport(LOG, (errmsg("mis_messaging dispatcher resumed")));
    said_paused_ = false;

    if (unrecorded_)
        return record_again();

    Batch batch;
    if (!claim(batch)) {
        // One line while the extension is missing, whatever took it away.
        if (!said_waiting_)
            ereport(LOG, (errmsg("mis_messaging dispatcher is waiting for the extension to be "
                                 "created in database \"%s\"",
                                 mis::settings::database),
                          results_discarded_ ? errdetail("The results of the batch being sent "
                                                         "when it was dropped were discarded.")
                                             : 0));
        said_waiting_ = true;
        results_discarded_ = false;
        waiting_for_ = step_no_extension;
        return extension_check_ms;
    }
    said_waiting_ = false;
    waiting_for_ = step_waiting;
    log_configuration_problems(batch.configuration_problems);
    if (batch.claimed == 0)
        return batch.next_due_ms == 0 ? held_retry_ms : batch.next_due_ms;

    with_state([&](mis::WorkerState &state) { state.failed_total += batch.failed_at_claim; });
    if (!batch.sending.empty()) {
        int in_flight = static_cast<int>(batch.sending.size());
        with_state([&](mis::WorkerState &state) { state.in_flight = in_flight; });
        batch_in_flight_ = true;
        unrecorded_ = Unrecorded{batch.extension, send(batch), 0};
        record(unrecorded_->extension, unrecorded_->results);
        unrecorded_.reset();
        batch_in_flight_ = false;
    }
    with_state([&](mis::WorkerState &state) { state.in_flight = 0; });
    return 0;
}

// Records the results of a batch whose recording failed, before anything else:
// the deliveries were tried, and queueing them again would send them twice.
// After a few failures they go back to the queue all the same.
long Dispatcher::record_again() {
    Unrecorded &pending = *unrecorded_;
    if (++pending.tries > record_tries) {
        ereport(LOG, (errmsg("mis_messaging dispatcher could not record the results of %zu "
                             "deliveries; they are queued again",
                             pending.results.size())));
        unrecorded_.reset();
        batch_in_flight_ = false;
        requeue_needed_ = true;
        return 0;
    }
    record(pending.extension, pending.results);
    unrecorded_.reset();
    batch_in_flight_ = false;
    with_state([&](mis::WorkerState &state) { state.in_flight = 0; });
    return 0;
}

// Claims a batch and reads what sending it needs, in one short transaction
// committed before any network I/O. False when the extension does not exist.
bool Dispatcher::claim(Batch &batch) {
    begin_transaction(step_claiming);
    batch.extension = find_extension();
    seen_extension_ = batch.extension;
    if (!OidIsValid(batch.extension)) {
        commit_transaction();
        return false;
    }

    // A new extension (or a new process): put back what an earlier one left in flight.
    if (batch.extension != extension_ || requeue_needed_) {
        requeue_in_flight();
        if (batch.extension != extension_)
            serve(batch.extension);
        requeue_needed_ = false;
    }

    Oid types[1] = {INT4OID};
    Datum values[1] = {Int32GetDatum(mis::settings::batch_size)};
    batch.claimed = execute(claim_sql, 1, types, values);
    for (uint64 row = 0; row < batch.claimed; row++)
        take_claimed(batch, row);

    if (!batch.sending.empty()) {
        read_messages(batch);
        read_settings(batch);
    } else if (batch.claimed == 0) {
        execute("SELECT messaging._next_due_in()", 0, nullptr, nullptr);
        batch.next_due_ms = null_column(0, 1) ? -1 : static_cast<long>(int64_column(0, 1));
    }
    commit_transaction();
    return true;
}

// Starts serving a newly found extension. Errors noted for an earlier one (or
// while it was being dropped) no longer apply: last_error is cleared.
void Dispatcher::serve(Oid extension) {
    ereport(LOG,
            (errmsg("mis_messaging dispatcher serving database \"%s\"", mis::settings::database),
             results_discarded_ ? errdetail("The results of a batch being sent when "
                                            "the extension was dropped were discarded.")
                                : 0));
    extension_ = extension;
    results_discarded_ = false;
    last_logged_error_.clear();
    with_state([](mis::WorkerState &state) { state.last_error[0] = '\0'; });
}

// Whether the extension served is gone (dropped, or dropped and created again)
// since the turn began; an error of the turn is then only a consequence of it.
bool Dispatcher::extension_vanished() {
    if (!OidIsValid(seen_extension_))
        return false;
    Oid now = InvalidOid;
    try {
        begin_transaction(step_checking);
        now = find_extension();
        commit_transaction();
    } catch (const std::exception &) {
        abort_transaction();
        return false;
    }
    return now != seen_extension_;
}

// Puts back in the queue whatever an earlier process or turn left in flight.
void Dispatcher::requeue_in_flight() {
    execute("SELECT messaging._requeue_in_flight()", 0, nullptr, nullptr);
    int requeued = int32_column(0, 1);
    if (requeued > 0)
        ereport(LOG, (errmsg("mis_messaging dispatcher queued %d interrupted deliveries again",
                             requeued)));
}

// Adds one row of the claim to the batch: a delivery to send over its channel,
// or one that failed at once (counted, and its reason kept if it is for the DBA).
void Dispatcher::take_claimed(Batch &batch, uint64 row) {
    if (!null_column(row, 9)) {
        batch.failed_at_claim++;
        if (bool_column(row, 10))
            mis::count_problem(batch.configuration_problems, text_column(row, 9));
        return;
    }

    mis::Outgoing outgoing;
    outgoing.delivery_id = int64_column(row, 1);
    outgoing.message_id = int64_column(row, 2);
    outgoing.person_id = int64_column(row, 4);
    outgoing.address = text_column(row, 5);
    outgoing.display_name = text_column(row, 6);
    outgoing.attempt = int32_column(row, 7) + 1;
    outgoing.run = int32_column(row, 8);

    std::string channel = text_column(row, 3);
    batch.sending.push_back(outgoing.delivery_id);
    if (channel == "wechat")
        batch.wechat.push_back(std::move(outgoing));
    else if (channel == "email")
        batch.email.push_back(std::move(outgoing));
    else
        batch.alert.push_back(std::move(outgoing));
}

// Reads the subject and body of every message the batch sends.
void Dispatcher::read_messages(Batch &batch) {
    std::vector<int64_t> ids;
    for (const auto *list : {&batch.wechat, &batch.email, &batch.alert})
        for (const mis::Outgoing &outgoing : *list)
            ids.push_back(outgoing.message_id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

    Oid types[1] = {INT8ARRAYOID};
    Datum values[1] = {int64_array(ids)};
    uint64 rows = execute("SELECT message_id, coalesce(subject, ''), body "
                          "FROM messaging.message WHERE message_id = ANY($1)",
                          1, types, values);
    for (uint64 row = 0; row < rows; row++) {
        mis::MessageText text;
        text.message_id = int64_column(row, 1);
        text.subject = text_column(row, 2);
        text.body = text_column(row, 3);
        batch.messages.push_back(std::move(text));
    }
}

// Reads the network parameters and the settings of the channels the batch uses.
void Dispatcher::read_settings(Batch &batch) {
    mis::TransportSettings &transport = batch.settings.transport;
    transport.max_connections = mis::settings::max_connections;
    transport.request_timeout_ms = mis::settings::request_timeout;
    transport.ca_file = mis::settings::ca_file != nullptr ? mis::settings::ca_file : "";
    transport.stop = &stop_senders;

    if (!batch.wechat.empty() &&
        execute("SELECT corp_id, agent_id, secret, api_base FROM messaging.wecom_config", 0,
                nullptr, nullptr) > 0) {
        mis::WecomSettings &wecom = batch.settings.wecom;
        wecom.corp_id = text_column(0, 1);
        wecom.agent_id = int32_column(0, 2);
        wecom.secret = text_column(0, 3);
        wecom.api_base = text_column(0, 4);
    }
    if (!batch.email.empty() &&
        execute("SELECT url, mail_from, username, password, starttls FROM messaging.smtp_config", 0,
                nullptr, nullptr) > 0) {
        mis::SmtpSettings &smtp = batch.settings.smtp;
        smtp.url = text_column(0, 1);
        smtp.mail_from = text_column(0, 2);
        smtp.username = text_column(0, 3);
        smtp.password = text_column(0, 4);
        smtp.starttls = bool_column(0, 5);
    }
}

// The step of sending n deliveries over a channel: "mis_messaging: sending 12 emails".
std::string sending_step(const std::string &channel, size_t n) {
    std::string what;
    if (channel == "email" || channel == "alert")
        what = n == 1 ? channel : channel + "s";
    else
        what = channel + (n == 1 ? " delivery" : " deliveries");
    return "mis_messaging: sending " + std::to_string(n) + " " + what;
}

// Sends the batch over each channel, outside any transaction.
std::vector<mis::DeliveryResult> Dispatcher::send(const Batch &batch) {
    std::vector<mis::DeliveryResult> results;
    auto send_over = [&](mis::BatchSender &sender, const std::vector<mis::Outgoing> &list,
                         const char *channel) {
        if (list.empty() || stop_senders)
            return;
        report_step(STATE_RUNNING, sending_step(channel, list.size()));
        try {
            std::vector<mis::DeliveryResult> sent =
                sender.send(batch.settings, batch.messages, list);
            std::move(sent.begin(), sent.end(), std::back_inserter(results));
        } catch (const std::exception &error) {
            // Deliveries without a result are retried by reconcile_results.
            ereport(LOG, (errmsg("mis_messaging %s sender failed: %s", channel, error.what())));
        }
    };
    send_over(*alert_, batch.alert, "alert");
    send_over(*wecom_, batch.wechat, "WeChat");
    send_over(*smtp_, batch.email, "email");
    return mis::reconcile_results(batch.sending, std::move(results), stop_senders != 0);
}

// Records the results in one transaction; if the extension was dropped in the
// meantime they are discarded with it.
void Dispatcher::record(Oid extension, const std::vector<mis::DeliveryResult> &results) {
    begin_transaction(step_recording);
    seen_extension_ = find_extension();
    if (seen_extension_ != extension) {
        // Said in the one line logged when the next turn finds the extension missing
        // (or new).
        commit_transaction();
        results_discarded_ = true;
        requeue_needed_ = true;
        return;
    }

    Oid types[7] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, BOOLARRAYOID,
                    INT8ARRAYOID, INT4OID,      INT8OID};
    Datum values[7];
    result_arrays(results, values);
    values[5] = Int32GetDatum(mis::settings::max_attempts);
    values[6] = Int64GetDatum(static_cast<int64_t>(mis::settings::retry_delay));
    execute(record_sql, 7, types, values);
    int complete = int32_column(0, 1);
    int failed = int32_column(0, 2);
    commit_transaction();

    with_state([&](mis::WorkerState &state) {
        state.sent_total += complete;
        state.failed_total += failed;
    });
    log_configuration_problems(mis::configuration_problems(results));
    ereport(DEBUG1, (errmsg("mis_messaging dispatcher recorded %zu results: %d complete, "
                            "%d failed",
                            results.size(), complete, failed)));
}

// One LOG line per configuration problem per batch, for the DBA to act on.
void Dispatcher::log_configuration_problems(
    const std::vector<std::pair<std::string, int>> &problems) {
    for (const auto &[reason, count] : problems) {
        ereport(LOG, (errmsg_plural("mis_messaging failed %d delivery: %s",
                                    "mis_messaging failed %d deliveries: %s", count, count,
                                    reason.c_str())));
        note_error(reason);
    }
}

bool Dispatcher::recover(const std::string &message) {
    abort_transaction();
    with_state([](mis::WorkerState &state) { state.in_flight = 0; });

    // An error caused by a DROP EXTENSION (a relation gone while the dispatcher
    // waited for its lock) is no error of the dispatcher: the deliveries it was
    // about went with the extension, and the next turn says that it is missing.
    if (extension_vanished()) {
        if (batch_in_flight_)
            results_discarded_ = true;
        unrecorded_.reset();
        batch_in_flight_ = false;
        requeue_needed_ = true;
        return true;
    }

    // A failed claim changed nothing, and unrecorded results are kept; only a
    // batch lost between the two must go back to the queue.
    if (batch_in_flight_ && !unrecorded_)
        requeue_needed_ = true;
    note_error(message);
    if (message != last_logged_error_)
        ereport(LOG, (errmsg("mis_messaging dispatcher error: %s", message.c_str()),
                      errdetail("The dispatcher retries after a pause.")));
    last_logged_error_ = message;
    return false;
}

// The dispatcher's loop; returns when asked to stop.
void run_dispatcher() {
    Dispatcher dispatcher;
    long backoff_ms = 0;
    TimestampTz due_at = GetCurrentTimestamp(); // when the next turn must run
    bool woken = true;

    while (!ShutdownRequestPending) {
        // DROP DATABASE of another database waits until every process has
        // absorbed its barrier.
        if (ProcSignalBarrierPending)
            mis::pg_call([]() { ProcessProcSignalBarrier(); });

        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            mis::pg_call([]() { ProcessConfigFile(PGC_SIGHUP); });
            ereport(LOG, (errmsg("mis_messaging dispatcher configuration reloaded")));
            woken = true;
        }

        TimestampTz now = GetCurrentTimestamp();
        with_state([&](mis::WorkerState &state) { state.last_heartbeat_at = now; });

        // A turn runs when woken (unless backing off after an error) or when due.
        bool run = now >= due_at || (woken && backoff_ms == 0);
        long wait_ms = -1;
        if (run) {
            bool failed = false;
            std::string error;
            try {
                wait_ms = dispatcher.step();
                backoff_ms = 0;
            } catch (const std::exception &failure) { // mis::PgError included
                failed = true;
                error = failure.what();
            }
            if (failed && dispatcher.recover(error)) {
                // The extension was dropped: no pause, the next turn says so.
                backoff_ms = 0;
                wait_ms = 0;
            } else if (failed) {
                backoff_ms = std::min(std::max(backoff_ms * 2, error_backoff_first_ms),
                                      error_backoff_max_ms);
                wait_ms = backoff_ms;
            }
            MemoryContextReset(loop_context);
            now = GetCurrentTimestamp();
            due_at = wait_ms < 0 ? DT_NOEND : TimestampTzPlusMilliseconds(now, wait_ms);
        }
        if (wait_ms == 0 && !ShutdownRequestPending) {
            woken = true;
            continue;
        }

        report_step(STATE_IDLE, backoff_ms > 0 ? step_after_error : dispatcher.waiting_for());
        long sleep_ms = heartbeat_ms;
        if (due_at != DT_NOEND)
            sleep_ms = std::min(sleep_ms, TimestampDifferenceMilliseconds(now, due_at) + 1);
        int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms,
                           PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        woken = (rc & WL_LATCH_SET) != 0;
    }
}

// Runs the loop behind a catch-all; false (with the message) if it failed.
bool run_guarded(char *message, size_t size) {
    try {
        run_dispatcher();
        return true;
    } catch (const std::exception &error) {
        mis::copy_message(message, size, error.what());
    } catch (...) {
        mis::copy_message(message, size, "unexpected C++ exception");
    }
    return false;
}

} // namespace

// Entry point of the dispatcher process, started by the launcher.
void mis_dispatcher_main(Datum main_arg) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, handle_sigterm);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);

    char database[NAMEDATALEN] = "";
    StartTransactionCommand();
    if (char *name = get_database_name(MyDatabaseId))
        strlcpy(database, name, sizeof(database));
    CommitTransactionCommand();

    if (!take_dispatcher_slot(database)) {
        ereport(LOG, (errmsg("mis_messaging dispatcher not started: another one is running")));
        proc_exit(0);
    }
    before_shmem_exit(forget_dispatcher, 0);
    ereport(LOG, (errmsg("mis_messaging dispatcher started for database \"%s\"", database)));

    // In a deadlock with a session (say a TRUNCATE of the directory), the
    // dispatcher should be the one to give way: it checks for deadlocks first,
    // aborts its short transaction and simply tries again.
    SetConfigOption("deadlock_timeout", "100", PGC_SUSET, PGC_S_OVERRIDE);
    // Its statements are short and planned afresh each turn: JIT compiling them
    // once the tables look large costs more time than it saves, and loading LLVM
    // adds some 10 MB of private memory and 46 MB of mapped library for good.
    SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    // Its transactions are written for read committed, read-write, with every
    // trigger firing, whatever the server's defaults say.
    SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);

    loop_context = AllocSetContextCreate(TopMemoryContext, "mis_messaging dispatcher loop",
                                         ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(loop_context);

    char failure[512] = "";
    if (!run_guarded(failure, sizeof(failure))) {
        ereport(LOG, (errmsg("mis_messaging dispatcher stopping after an error: %s", failure)));
        proc_exit(1);
    }
    ereport(LOG, (errmsg("mis_messaging dispatcher stopping")));
    proc_exit(0);
}
