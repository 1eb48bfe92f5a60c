// messaging._count_deliveries(): the statement-level AFTER trigger on
// messaging.delivery that keeps each dispatch's dashboard counters. It reads the
// statement's transition tables, nets them per dispatch (counter_changes.cpp) and
// updates each changed dispatch once, in dispatch_id order, so that writers
// touching several dispatches lock their rows in the same order and never
// deadlock. Counts move relative to the row's current value, which a writer that
// waited for the row lock re-reads, so concurrent changes are never lost.
extern "C" {
#include "postgres.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
}

#include "counter_changes.hpp"
#include "pg_guard.hpp"

#include <limits>

namespace {

using mis::pg_call;

// How many rows are read from a transition table at a time.
constexpr int chunk_rows = 256;

// Where the counters' columns are in a delivery row, and the enum value of each
// status in the order of mis::DeliveryRow::status.
struct Columns {
    int delivery_id;
    int dispatch_id;
    int run;
    int status;
    Oid status_values[mis::delivery_status_count];
};

// One transition table being read through a read pointer of its own.
struct TransitionReader {
    Tuplestorestate *store;
    int pointer;
    TupleTableSlot *slot;
};

// Applies one dispatch's change: counts move relative to the locked row, and
// updated_at moves forward when a delivery changed status or was rerun. It takes
// the time of this update, not of the statement: a statement that waited for the
// row behind a later one still moves it.
constexpr const char *update_dispatch_sql =
    "UPDATE messaging.dispatch SET messages = messages + $2, "
    "not_started = not_started + $3, processing = processing + $4, "
    "complete = complete + $5, failed = failed + $6, "
    "updated_at = CASE WHEN $7 THEN greatest(updated_at, clock_timestamp()) "
    "ELSE updated_at END "
    "WHERE dispatch_id = $1";

// Prepared once per backend; the plan cache replans it if the table changes.
SPIPlanPtr update_dispatch_plan = nullptr;

Columns find_columns(TupleDesc desc) {
    return pg_call([&]() {
        Columns columns{};
        const char *names[] = {"delivery_id", "dispatch_id", "run", "status"};
        int *places[] = {&columns.delivery_id, &columns.dispatch_id, &columns.run, &columns.status};
        for (int i = 0; i < 4; i++) {
            *places[i] = SPI_fnumber(desc, names[i]);
            if (*places[i] <= 0)
                elog(ERROR, "messaging.delivery has no column %s", names[i]);
        }
        Oid status_type = TupleDescAttr(desc, columns.status - 1)->atttypid;
        const char *labels[] = {"not_started", "processing", "complete", "failed"};
        for (int i = 0; i < mis::delivery_status_count; i++) {
            columns.status_values[i] =
                GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid, ObjectIdGetDatum(status_type),
                                CStringGetDatum(labels[i]));
            if (!OidIsValid(columns.status_values[i]))
                elog(ERROR, "messaging.delivery_status has no value %s", labels[i]);
        }
        return columns;
    });
}

TransitionReader open_reader(Tuplestorestate *store, TupleDesc desc) {
    if (store == nullptr)
        throw mis::SqlError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                            "messaging._count_deliveries() needs the statement's transition "
                            "tables (REFERENCING OLD TABLE / NEW TABLE)");
    return pg_call([&]() {
        TransitionReader reader{store, 0, nullptr};
        reader.pointer = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
        tuplestore_select_read_pointer(store, reader.pointer);
        tuplestore_rescan(store);
        reader.slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
        return reader;
    });
}

void close_reader(TransitionReader &reader) {
    pg_call([&]() { ExecDropSingleTupleTableSlot(reader.slot); });
}

// A counted column of a delivery row; all of them are NOT NULL.
Datum counted_column(TupleTableSlot *slot, int column) {
    bool null = false;
    Datum value = slot_getattr(slot, column, &null);
    if (null)
        elog(ERROR, "a delivery row has a NULL counted column");
    return value;
}

// Reads up to `max` rows into `rows` and returns how many it read (0 at the end).
int read_rows(TransitionReader &reader, const Columns &columns, mis::DeliveryRow *rows, int max) {
    return pg_call([&]() {
        int count = 0;
        tuplestore_select_read_pointer(reader.store, reader.pointer);
        while (count < max && tuplestore_gettupleslot(reader.store, true, false, reader.slot)) {
            mis::DeliveryRow &row = rows[count];
            row.delivery_id = DatumGetInt64(counted_column(reader.slot, columns.delivery_id));
            row.dispatch_id = DatumGetInt64(counted_column(reader.slot, columns.dispatch_id));
            row.run = DatumGetInt32(counted_column(reader.slot, columns.run));
            Oid status = DatumGetObjectId(counted_column(reader.slot, columns.status));
            row.status = -1;
            for (int i = 0; i < mis::delivery_status_count; i++)
                if (columns.status_values[i] == status)
                    row.status = i;
            if (row.status < 0)
                elog(ERROR, "a delivery row has an unknown status");
            count++;
        }
        return count;
    });
}

// Every row of one transition table, as added (sign 1) or removed (sign -1).
void count_all(TransitionReader &reader, const Columns &columns, int sign,
               mis::CounterChanges &changes) {
    mis::DeliveryRow rows[chunk_rows];
    for (int count; (count = read_rows(reader, columns, rows, chunk_rows)) > 0;)
        for (int i = 0; i < count; i++)
            sign > 0 ? changes.inserted(rows[i]) : changes.deleted(rows[i]);
}

// The old and new tables of an UPDATE, read side by side.
void count_updates(TransitionReader &before, TransitionReader &after, const Columns &columns,
                   mis::CounterChanges &changes) {
    mis::DeliveryRow old_rows[chunk_rows];
    mis::DeliveryRow new_rows[chunk_rows];
    for (;;) {
        int old_count = read_rows(before, columns, old_rows, chunk_rows);
        int new_count = read_rows(after, columns, new_rows, chunk_rows);
        if (old_count == 0 && new_count == 0)
            break;
        for (int i = 0; i < old_count || i < new_count; i++)
            changes.updated(i < old_count ? &old_rows[i] : nullptr,
                            i < new_count ? &new_rows[i] : nullptr);
    }
    changes.finish();
}

Datum int4_delta(int64_t delta) {
    if (delta < std::numeric_limits<int32>::min() || delta > std::numeric_limits<int32>::max())
        throw mis::SqlError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                            "one statement changed too many deliveries of one dispatch");
    return Int32GetDatum(static_cast<int32>(delta));
}

void apply(const mis::CounterChange &change) {
    Datum values[7] = {
        Int64GetDatum(change.dispatch_id), int4_delta(change.messages),
        int4_delta(change.by_status[0]),   int4_delta(change.by_status[1]),
        int4_delta(change.by_status[2]),   int4_delta(change.by_status[3]),
        BoolGetDatum(change.touched),
    };
    pg_call([&]() {
        if (update_dispatch_plan == nullptr) {
            Oid types[7] = {INT8OID, INT4OID, INT4OID, INT4OID, INT4OID, INT4OID, BOOLOID};
            SPIPlanPtr plan = SPI_prepare(update_dispatch_sql, 7, types);
            if (plan == nullptr)
                elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
            if (SPI_keepplan(plan) != 0)
                elog(ERROR, "SPI_keepplan failed");
            update_dispatch_plan = plan;
        }
        int status = SPI_execute_plan(update_dispatch_plan, values, nullptr, false, 0);
        if (status != SPI_OK_UPDATE)
            elog(ERROR, "updating a dispatch's counters failed: %s",
                 SPI_result_code_string(status));
    });
}

} // namespace

MIS_SQL_FUNCTION(mis_count_deliveries) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw mis::SqlError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                            "messaging._count_deliveries() must be called as a trigger");
    TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
    TriggerEvent event = trigger->tg_event;
    if (!TRIGGER_FIRED_AFTER(event) || !TRIGGER_FIRED_FOR_STATEMENT(event))
        throw mis::SqlError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                            "messaging._count_deliveries() must fire AFTER, FOR EACH STATEMENT");
    bool inserting = TRIGGER_FIRED_BY_INSERT(event);
    bool updating = TRIGGER_FIRED_BY_UPDATE(event);
    if (!inserting && !updating && !TRIGGER_FIRED_BY_DELETE(event))
        throw mis::SqlError(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                            "messaging._count_deliveries() counts INSERT, UPDATE and DELETE");

    TupleDesc desc = trigger->tg_relation->rd_att;
    Columns columns = find_columns(desc);
    mis::CounterChanges changes;
    if (updating) {
        TransitionReader before = open_reader(trigger->tg_oldtable, desc);
        TransitionReader after = open_reader(trigger->tg_newtable, desc);
        count_updates(before, after, columns, changes);
        close_reader(before);
        close_reader(after);
    } else {
        TransitionReader reader =
            open_reader(inserting ? trigger->tg_newtable : trigger->tg_oldtable, desc);
        count_all(reader, columns, inserting ? 1 : -1, changes);
        close_reader(reader);
    }

    std::vector<mis::CounterChange> dispatches = changes.by_dispatch();
    if (dispatches.empty())
        return PointerGetDatum(nullptr);
    pg_call([]() {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "SPI_connect failed");
    });
    for (const mis::CounterChange &change : dispatches)
        apply(change);
    pg_call([]() { SPI_finish(); });
    return PointerGetDatum(nullptr);
}
