// Converting SQL values to and from C++ values, for the SQL-callable functions.
// Every PostgreSQL call inside goes through mis::pg_call.
#pragma once

#include "pg_guard.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mis {

// A text value as a std::string (detoasted and copied).
std::string text_value(Datum value);

// Argument n as text; nullopt when it is NULL.
std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n);

// A text Datum holding a copy of value, in the current memory context.
Datum text_datum(const std::string &value);

// A one-dimensional text[] built from strings, in the current memory context.
Datum text_array(const std::vector<std::string> &items);

// One-dimensional bigint[] and smallint[] arrays, in the current memory context.
Datum int8_array(const std::vector<int64_t> &items);
Datum int2_array(const std::vector<int16_t> &items);

// The elements of a one-dimensional array, NULL elements flagged in `nulls`.
// By-reference elements stay valid while the array does.
void array_elements(Datum array, std::vector<Datum> &items, std::vector<bool> &nulls);

} // namespace mis
