// The one boundary between C++ and PostgreSQL.
//
// Two rules hold everywhere in mis_messaging:
//  1. No C++ exception ever reaches PostgreSQL code. Every entry point PostgreSQL
//     calls (SQL function, worker main, callback) is a thin extern "C" function
//     around a C++ body; mis::guarded() catches everything the body throws and
//     raises the PostgreSQL ERROR only after the catch block has been left.
//  2. No PostgreSQL ERROR ever jumps over a live C++ object. A call into
//     PostgreSQL that may raise an ERROR while C++ objects with destructors are
//     alive goes through mis::pg_call(), which catches the ERROR with PG_TRY and
//     throws it on as mis::PgError, so the C++ frames unwind normally. The
//     lambda given to pg_call must itself hold no such objects.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/elog.h"
}

#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace mis {

// An error found by C++ code that reaches the client as a PostgreSQL ERROR.
class SqlError : public std::exception {
public:
    SqlError(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : sqlstate(sqlstate), message(std::move(message)), detail(std::move(detail)),
          hint(std::move(hint)) {}
    const char *what() const noexcept override { return message.c_str(); }

    int sqlstate;
    std::string message;
    std::string detail;
    std::string hint;
};

// A PostgreSQL ERROR caught by pg_call, carried through C++ frames. The error
// data lives in the memory context that was current when pg_call was entered.
class PgError : public std::exception {
public:
    explicit PgError(ErrorData *edata) : edata(edata) {}
    const char *what() const noexcept override {
        return edata && edata->message ? edata->message : "PostgreSQL error";
    }

    ErrorData *edata;
};

// Runs fn, which calls PostgreSQL, turning a raised ERROR into a thrown PgError.
// It unwinds C++ frames only: the transaction is still doomed, so the error must
// reach guarded() (or, in the worker, an abort of the transaction).
template <typename Fn>
void pg_call_void(Fn &fn) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;

    PG_TRY();
    { fn(); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();

    if (edata != nullptr)
        throw PgError(edata);
}

// pg_call for a function with a result; the result type must be trivially copyable.
template <typename Fn>
auto pg_call(Fn &&fn) -> decltype(fn()) {
    using Result = decltype(fn());
    if constexpr (std::is_void_v<Result>) {
        pg_call_void(fn);
    } else {
        static_assert(std::is_trivially_copyable_v<Result>,
                      "pg_call results must not need destructors");
        Result result{};
        auto store = [&]() { result = fn(); };
        pg_call_void(store);
        return result;
    }
}

// Copies at most size-1 bytes of text into a fixed buffer, without allocating.
inline void copy_message(char *buffer, size_t size, const char *text) noexcept {
    size_t i = 0;
    for (; text != nullptr && text[i] != '\0' && i + 1 < size; i++)
        buffer[i] = text[i];
    buffer[i] = '\0';
}

// Calls body(fcinfo) and turns anything it throws into a PostgreSQL ERROR. The
// catch blocks only copy into fixed buffers, so nothing in them can raise.
inline Datum guarded(FunctionCallInfo fcinfo, Datum (*body)(FunctionCallInfo)) {
    ErrorData *pg_error = nullptr;
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[1024] = "";
    char detail[1024] = "";
    char hint[512] = "";

    try {
        return body(fcinfo);
    } catch (const PgError &error) {
        pg_error = error.edata;
    } catch (const SqlError &error) {
        sqlstate = error.sqlstate;
        copy_message(message, sizeof(message), error.message.c_str());
        copy_message(detail, sizeof(detail), error.detail.c_str());
        copy_message(hint, sizeof(hint), error.hint.c_str());
    } catch (const std::bad_alloc &) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_message(message, sizeof(message), "out of memory");
    } catch (const std::exception &error) {
        copy_message(message, sizeof(message), error.what());
    } catch (...) {
        copy_message(message, sizeof(message), "unexpected C++ exception");
    }

    if (pg_error != nullptr)
        ReThrowError(pg_error);
    ereport(ERROR,
            (errcode(sqlstate), errmsg_internal("%s", message),
             detail[0] ? errdetail_internal("%s", detail) : 0, hint[0] ? errhint("%s", hint) : 0));
    pg_unreachable();
}

} // namespace mis

// Defines SQL-callable function `name` as a thin extern "C" entry point around a
// C++ body; write the body's block right after the macro.
#define MIS_SQL_FUNCTION(name)                                                                     \
    static Datum name##_body(FunctionCallInfo fcinfo);                                             \
    extern "C" {                                                                                   \
    PG_FUNCTION_INFO_V1(name);                                                                     \
    }                                                                                              \
    extern "C" Datum name(PG_FUNCTION_ARGS) {                                                      \
        return mis::guarded(fcinfo, name##_body);                                                  \
    }                                                                                              \
    static Datum name##_body(FunctionCallInfo fcinfo)
