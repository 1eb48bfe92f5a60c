// messaging.send: checks a message, widens its recipients to associated
// contacts, and queues one delivery per person and channel, all in the
// caller's transaction. The rules of the request are pure C++ (text_rules.cpp);
// this file holds the SQL around them.
extern "C" {
#include "postgres.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
}

#include "dispatcher_signal.hpp"
#include "pg_guard.hpp"
#include "sql_values.hpp"
#include "text_rules.hpp"

#include <algorithm>

namespace {

using mis::pg_call;

// One row of send's result: a dispatch of the message on one channel.
struct DispatchRow {
    int64 message_id;
    int64 dispatch_id;
    Datum channel; // a messaging.channel value (an enum: passed by value)
    int32 recipients;
    int32 flagged;
};

// An argument of an SPI statement.
struct SpiArg {
    Oid type;
    Datum value;
    bool null;
};

// A text argument, NULL for nullopt.
SpiArg text_param(const std::optional<std::string> &value) {
    if (!value)
        return {TEXTOID, Datum(0), true};
    return {TEXTOID, mis::text_datum(*value), false};
}

// Runs a statement with arguments and returns how many rows it produced; they
// stay in SPI_tuptable until the next statement.
uint64 spi_run(const char *sql, const std::vector<SpiArg> &args) {
    int count = static_cast<int>(args.size());
    const SpiArg *given = args.data();
    return pg_call([&]() {
        Oid *types = static_cast<Oid *>(palloc0(sizeof(Oid) * (count + 1)));
        Datum *values = static_cast<Datum *>(palloc0(sizeof(Datum) * (count + 1)));
        char *nulls = static_cast<char *>(palloc0(count + 1));
        for (int i = 0; i < count; i++) {
            types[i] = given[i].type;
            values[i] = given[i].value;
            nulls[i] = given[i].null ? 'n' : ' ';
        }
        int status = SPI_execute_with_args(sql, count, types, values, nulls, false, 0);
        if (status < 0)
            elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(status));
        return SPI_processed;
    });
}

// Column `column` (from 1) of result row `row` as a Datum; *null tells NULL.
Datum spi_value(uint64 row, int column, bool *null) {
    return pg_call([&]() {
        return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, null);
    });
}

// Column `column` of result row `row` as text; nullopt for NULL.
std::optional<std::string> spi_text(uint64 row, int column) {
    bool null = false;
    Datum value = spi_value(row, column, &null);
    if (null)
        return std::nullopt;
    return mis::text_value(value);
}

// Column `column` of result row `row` as an integer (bigint or int); 0 for NULL.
int64 spi_int(uint64 row, int column) {
    bool null = false;
    Datum value = spi_value(row, column, &null);
    if (null)
        return 0;
    Oid type = pg_call([&]() { return SPI_gettypeid(SPI_tuptable->tupdesc, column); });
    return type == INT4OID ? DatumGetInt32(value) : DatumGetInt64(value);
}

// The caller's arguments, NULLs as nullopt.
mis::SendArguments read_arguments(FunctionCallInfo fcinfo) {
    mis::SendArguments arguments;
    std::vector<Datum> items;
    std::vector<bool> nulls;

    arguments.subject = mis::text_arg(fcinfo, 0);
    arguments.body = mis::text_arg(fcinfo, 1);

    if (!PG_ARGISNULL(2)) {
        mis::array_elements(PG_GETARG_DATUM(2), items, nulls);
        arguments.recipients.emplace();
        for (size_t i = 0; i < items.size(); i++)
            arguments.recipients->push_back(
                nulls[i] ? std::nullopt : std::optional<int64_t>(DatumGetInt64(items[i])));
    }
    if (!PG_ARGISNULL(3)) {
        mis::array_elements(PG_GETARG_DATUM(3), items, nulls);
        arguments.channels.emplace();
        for (size_t i = 0; i < items.size(); i++) {
            if (nulls[i]) {
                arguments.channels->push_back(std::nullopt);
                continue;
            }
            Datum item = items[i];
            const char *label =
                pg_call([&]() { return DatumGetCString(DirectFunctionCall1(enum_out, item)); });
            arguments.channels->push_back(std::string(label));
        }
    }
    if (!PG_ARGISNULL(4))
        arguments.include_associations = PG_GETARG_BOOL(4);
    if (!PG_ARGISNULL(5)) {
        mis::array_elements(PG_GETARG_DATUM(5), items, nulls);
        arguments.relationships.emplace();
        for (size_t i = 0; i < items.size(); i++)
            arguments.relationships->push_back(
                nulls[i] ? std::nullopt : std::optional<std::string>(mis::text_value(items[i])));
    }
    if (!PG_ARGISNULL(6)) {
        mis::array_elements(PG_GETARG_DATUM(6), items, nulls);
        arguments.ranks.emplace();
        for (size_t i = 0; i < items.size(); i++)
            arguments.ranks->push_back(nulls[i] ? std::nullopt
                                                : std::optional<int16_t>(DatumGetInt16(items[i])));
    }
    arguments.request_key = mis::text_arg(fcinfo, 7);
    return arguments;
}

// Checks the request, turning a broken rule into the API's SQLSTATE.
mis::SendRequest check_request(const mis::SendArguments &arguments) {
    try {
        return mis::check_send(arguments);
    } catch (const mis::RuleError &error) {
        int sqlstate = error.kind == mis::RuleError::Kind::too_long
                           ? ERRCODE_STRING_DATA_RIGHT_TRUNCATION
                           : ERRCODE_INVALID_PARAMETER_VALUE;
        throw mis::SqlError(sqlstate, error.what(), error.detail);
    }
}

// Case-folds relationship names the way the database does, sorted and unique.
void fold_relationships(mis::SendRequest &request) {
    if (!request.relationships)
        return;
    uint64 rows = spi_run("SELECT DISTINCT lower(r) FROM unnest($1) AS r",
                          {{TEXTARRAYOID, mis::text_array(*request.relationships), false}});
    std::vector<std::string> folded;
    for (uint64 row = 0; row < rows; row++)
        folded.push_back(*spi_text(row, 1));
    std::sort(folded.begin(), folded.end());
    request.relationships = std::move(folded);
}

// The dispatches of a message, as send returned them when it queued it.
std::vector<DispatchRow> dispatches_of(int64 message_id) {
    uint64 rows = spi_run("SELECT d.dispatch_id, d.channel, d.recipients, d.flagged"
                          " FROM messaging.dispatch d WHERE d.message_id = $1"
                          " ORDER BY d.channel",
                          {{INT8OID, Int64GetDatum(message_id), false}});
    std::vector<DispatchRow> result;
    for (uint64 row = 0; row < rows; row++) {
        bool null = false;
        Datum channel = spi_value(row, 2, &null);
        result.push_back({message_id, spi_int(row, 1), channel, static_cast<int32>(spi_int(row, 3)),
                          static_cast<int32>(spi_int(row, 4))});
    }
    return result;
}

// When the sender already used this request_key: the first call's rows, or an
// error if that call said something else. nullopt when the key is new.
std::optional<std::vector<DispatchRow>>
repeated_request(const std::string &sender, const std::string &key, const std::string &content) {
    uint64 rows = spi_run(
        "SELECT m.message_id,"
        "       (m.request_fingerprint = encode(sha256(convert_to($3, 'UTF8')), 'hex'))::int"
        " FROM messaging.message m WHERE m.sent_by = $1 AND m.request_key = $2",
        {text_param(sender), text_param(key), text_param(content)});
    if (rows == 0)
        return std::nullopt;

    int64 message_id = spi_int(0, 1);
    if (spi_int(0, 2) != 1)
        throw mis::SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                            "request_key \"" + key + "\" was already used for another message",
                            "Message " + std::to_string(message_id) +
                                " was sent with this key and a different subject, body, "
                                "recipients, channels or association filters.",
                            "Use a new request_key for a new message.");
    return dispatches_of(message_id);
}

// Checks that every recipient is in the directory; returns the pupils among
// them and whether any is staff.
std::vector<int64_t> check_recipients(const mis::SendRequest &request, bool *any_staff) {
    uint64 rows = spi_run("SELECT u.id, p.kind::text FROM unnest($1) AS u(id)"
                          " LEFT JOIN messaging.person p ON p.person_id = u.id",
                          {{INT8ARRAYOID, mis::int8_array(request.recipients), false}});
    std::vector<int64_t> unknown, pupils;
    *any_staff = false;
    for (uint64 row = 0; row < rows; row++) {
        int64 id = spi_int(row, 1);
        std::optional<std::string> kind = spi_text(row, 2);
        if (!kind)
            unknown.push_back(id);
        else if (*kind == "pupil")
            pupils.push_back(id);
        else if (*kind == "staff")
            *any_staff = true;
    }

    if (!unknown.empty()) {
        std::sort(unknown.begin(), unknown.end());
        throw mis::SqlError(
            ERRCODE_INVALID_PARAMETER_VALUE,
            std::string(unknown.size() == 1 ? "unknown person id: " : "unknown person ids: ") +
                mis::list_ids(unknown),
            "Every id in recipients must be a person in the directory.");
    }
    return pupils;
}

// The contacts the request adds to its pupils.
std::vector<int64_t> associated_contacts(const mis::SendRequest &request,
                                         const std::vector<int64_t> &pupils) {
    if (!request.associations || pupils.empty())
        return {};

    SpiArg relationships{TEXTARRAYOID, Datum(0), true};
    if (request.relationships)
        relationships = {TEXTARRAYOID, mis::text_array(*request.relationships), false};
    SpiArg ranks{INT2ARRAYOID, Datum(0), true};
    if (request.ranks)
        ranks = {INT2ARRAYOID, mis::int2_array(*request.ranks), false};

    uint64 rows = spi_run("SELECT DISTINCT a.contact_id"
                          " FROM messaging._associations($1, $2, $3) a",
                          {{INT8ARRAYOID, mis::int8_array(pupils), false}, relationships, ranks});
    std::vector<int64_t> contacts;
    for (uint64 row = 0; row < rows; row++)
        contacts.push_back(spi_int(row, 1));
    return contacts;
}

// Inserts the message; returns its id, or nullopt when a concurrent send by the
// same sender took the request_key first.
std::optional<int64> insert_message(const std::string &sender, const mis::SendRequest &request,
                                    const std::string &content) {
    uint64 rows = spi_run(
        "INSERT INTO messaging.message (subject, body, sent_by, request_key, request_fingerprint)"
        " VALUES ($1, $2, $3, $4,"
        "         CASE WHEN $4 IS NOT NULL"
        "              THEN encode(sha256(convert_to($5, 'UTF8')), 'hex') END)"
        " ON CONFLICT (sent_by, request_key) DO NOTHING"
        " RETURNING message_id",
        {text_param(request.subject), text_param(request.body), text_param(sender),
         text_param(request.request_key), text_param(content)});
    if (rows == 0)
        return std::nullopt;
    return spi_int(0, 1);
}

// Queues the message on one channel for the recipients it can concern (alerts:
// staff only), in one statement. People the channel cannot reach get a delivery
// failed at once with the reason. Returns the dispatch, or nullopt if the
// channel concerns none of the recipients.
std::optional<DispatchRow> queue_channel(int64 message_id, const std::string &sender,
                                         mis::Channel channel,
                                         const std::vector<int64_t> &recipients) {
    static const char *sql =
        "WITH target AS ("
        "    SELECT p.person_id,"
        "           messaging._channel_problem(p.kind, p.disabled, p.email, p.wechat_userid,"
        "                                      $3::messaging.channel) AS problem"
        "    FROM unnest($4::bigint[]) AS u(person_id)"
        "    JOIN messaging.person p ON p.person_id = u.person_id"
        "    WHERE $3::messaging.channel <> 'alert' OR p.kind = 'staff'"
        "), queued AS ("
        "    INSERT INTO messaging.dispatch (message_id, channel, sent_by, recipients, flagged)"
        "    SELECT $1, $3::messaging.channel, $2, count(*), count(problem) FROM target"
        "    HAVING count(*) > 0"
        "    RETURNING dispatch_id, channel, recipients, flagged"
        "), deliveries AS ("
        "    INSERT INTO messaging.delivery (dispatch_id, person_id, status, error)"
        "    SELECT q.dispatch_id, t.person_id,"
        "           CASE WHEN t.problem IS NULL THEN 'not_started'"
        "                ELSE 'failed' END::messaging.delivery_status,"
        "           t.problem"
        "    FROM queued q CROSS JOIN target t"
        ")"
        "SELECT dispatch_id, channel, recipients, flagged FROM queued";

    uint64 rows = spi_run(sql, {{INT8OID, Int64GetDatum(message_id), false},
                                text_param(sender),
                                text_param(std::string(mis::channel_label(channel))),
                                {INT8ARRAYOID, mis::int8_array(recipients), false}});
    if (rows == 0)
        return std::nullopt;

    bool null = false;
    Datum channel_value = spi_value(0, 2, &null);
    return DispatchRow{message_id, spi_int(0, 1), channel_value, static_cast<int32>(spi_int(0, 3)),
                       static_cast<int32>(spi_int(0, 4))};
}

// Writes the result rows into the function's result set.
void return_rows(FunctionCallInfo fcinfo, const std::vector<DispatchRow> &rows) {
    pg_call([&]() { InitMaterializedSRF(fcinfo, 0); });
    for (const DispatchRow &row : rows) {
        const DispatchRow *current = &row;
        pg_call([&]() {
            ReturnSetInfo *result = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
            Datum values[5] = {Int64GetDatum(current->message_id),
                               Int64GetDatum(current->dispatch_id), current->channel,
                               Int32GetDatum(current->recipients), Int32GetDatum(current->flagged)};
            bool nulls[5] = {false, false, false, false, false};
            tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
        });
    }
}

// The work of send between SPI_connect and SPI_finish.
std::vector<DispatchRow> send_within_spi(FunctionCallInfo fcinfo) {
    // Who is sending comes first: an application role must name its user.
    spi_run("SELECT messaging._sender()", {});
    std::string sender = *spi_text(0, 1);

    mis::SendRequest request = check_request(read_arguments(fcinfo));
    fold_relationships(request);
    std::string content = mis::request_content(request);

    // A retried request answers as the first call did, and queues nothing.
    if (request.request_key) {
        if (auto rows = repeated_request(sender, *request.request_key, content))
            return *rows;
    }

    // Who receives it.
    bool any_staff = false;
    std::vector<int64_t> pupils = check_recipients(request, &any_staff);
    bool wants_alert = std::find(request.channels.begin(), request.channels.end(),
                                 mis::Channel::alert) != request.channels.end();
    if (wants_alert && !any_staff)
        throw mis::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "alerts reach staff only",
                            "The alert channel was asked for, but no recipient is staff.",
                            "Leave out the alert channel or add staff recipients.");
    std::vector<int64_t> everyone =
        mis::merge_ids(request.recipients, associated_contacts(request, pupils));

    // The message, then one dispatch per channel.
    std::optional<int64> message_id = insert_message(sender, request, content);
    if (!message_id) {
        if (auto rows = repeated_request(sender, *request.request_key, content))
            return *rows;
        throw mis::SqlError(ERRCODE_INTERNAL_ERROR, "message with request_key vanished");
    }

    std::vector<DispatchRow> result;
    for (mis::Channel channel : request.channels)
        if (auto row = queue_channel(*message_id, sender, channel, everyone))
            result.push_back(*row);

    mis::wake_dispatcher_at_commit();
    return result;
}

} // namespace

// messaging.send(subject, body, recipients, channels, include_associations,
// relationships, ranks, request_key): queues a message; one row per channel.
MIS_SQL_FUNCTION(mis_send) {
    pg_call([]() {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "SPI_connect failed");
    });
    std::vector<DispatchRow> rows = send_within_spi(fcinfo);
    pg_call([]() { SPI_finish(); });

    return_rows(fcinfo, rows);
    return Datum(0);
}
