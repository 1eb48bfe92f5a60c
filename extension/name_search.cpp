// SQL-callable text rules of the directory: name words for search, and natural
// sort keys for group names. The rules themselves live in text_rules.cpp.
extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

#include "pg_guard.hpp"
#include "sql_values.hpp"
#include "text_rules.hpp"

// messaging._index_words(text) -> text[]: the words a (lower-cased) name is found by.
MIS_SQL_FUNCTION(mis_index_words) {
    std::string name = mis::text_value(PG_GETARG_DATUM(0));
    PG_RETURN_DATUM(mis::text_array(mis::index_words(name)));
}

// messaging._search_words(text) -> text[]: the words of a (lower-cased) search text.
MIS_SQL_FUNCTION(mis_search_words) {
    std::string text = mis::text_value(PG_GETARG_DATUM(0));
    PG_RETURN_DATUM(mis::text_array(mis::split_words(text)));
}

// messaging._natural_sort_key(text) -> text: sorts numbers inside names as numbers.
MIS_SQL_FUNCTION(mis_natural_sort_key) {
    std::string key = mis::natural_sort_key(mis::text_value(PG_GETARG_DATUM(0)));
    PG_RETURN_DATUM(mis::text_datum(key));
}
