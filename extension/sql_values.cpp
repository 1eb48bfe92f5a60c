// Converting SQL values to and from C++ values.
extern "C" {
#include "postgres.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

#include "sql_values.hpp"

namespace mis {

std::string text_value(Datum value) {
    const char *data = nullptr;
    int length = 0;
    pg_call([&]() {
        text *detoasted = DatumGetTextPP(value);
        data = VARDATA_ANY(detoasted);
        length = VARSIZE_ANY_EXHDR(detoasted);
    });
    return std::string(data, length);
}

std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n))
        return std::nullopt;
    return text_value(PG_GETARG_DATUM(n));
}

Datum text_datum(const std::string &value) {
    return pg_call([&]() {
        return PointerGetDatum(
            cstring_to_text_with_len(value.data(), static_cast<int>(value.size())));
    });
}

Datum text_array(const std::vector<std::string> &items) {
    int count = static_cast<int>(items.size());
    Datum *elements =
        pg_call([&]() { return static_cast<Datum *>(palloc0(sizeof(Datum) * (count + 1))); });
    for (int i = 0; i < count; i++)
        elements[i] = text_datum(items[i]);
    return pg_call([&]() {
        return PointerGetDatum(construct_array(elements, count, TEXTOID, -1, false, TYPALIGN_INT));
    });
}

Datum int8_array(const std::vector<int64_t> &items) {
    int count = static_cast<int>(items.size());
    const int64_t *data = items.data();
    return pg_call([&]() {
        Datum *elements = static_cast<Datum *>(palloc0(sizeof(Datum) * (count + 1)));
        for (int i = 0; i < count; i++)
            elements[i] = Int64GetDatum(data[i]);
        return PointerGetDatum(
            construct_array(elements, count, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
}

Datum int2_array(const std::vector<int16_t> &items) {
    int count = static_cast<int>(items.size());
    const int16_t *data = items.data();
    return pg_call([&]() {
        Datum *elements = static_cast<Datum *>(palloc0(sizeof(Datum) * (count + 1)));
        for (int i = 0; i < count; i++)
            elements[i] = Int16GetDatum(data[i]);
        return PointerGetDatum(construct_array(elements, count, INT2OID, 2, true, TYPALIGN_SHORT));
    });
}

void array_elements(Datum array, std::vector<Datum> &items, std::vector<bool> &nulls) {
    Datum *values = nullptr;
    bool *is_null = nullptr;
    int count = 0;
    pg_call([&]() {
        ArrayType *detoasted = DatumGetArrayTypeP(array);
        Oid element_type = ARR_ELEMTYPE(detoasted);
        int16 length;
        bool by_value;
        char align;
        get_typlenbyvalalign(element_type, &length, &by_value, &align);
        deconstruct_array(detoasted, element_type, length, by_value, align, &values, &is_null,
                          &count);
    });
    items.assign(values, values + count);
    nulls.assign(is_null, is_null + count);
}

} // namespace mis
