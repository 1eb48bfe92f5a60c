# mis_messaging: PGXS build of the extension, plus the demo, test and bench targets.

MODULE_big = mis_messaging
MODULEDIR = extension
DATA = extension/mis_messaging.control
DATA_built = sql/mis_messaging--1.0.sql

SOURCES := $(sort $(wildcard extension/*.cpp worker/*.cpp))
OBJS = $(SOURCES:.cpp=.o)

PG_CONFIG ?= pg_config
PG_INCLUDE := $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)

# PostgreSQL's headers are system headers to us, so -Werror judges only our code.
PG_CPPFLAGS = -isystem $(PG_INCLUDE) -I$(CURDIR)/extension -I$(CURDIR)/worker
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror
SHLIB_LINK = -lcurl -lstdc++

# No LLVM bitcode for JIT inlining: nothing here is worth inlining into queries.
override with_llvm = no

EXTRA_CLEAN = build

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
# Before `make deps` there is no pg_config; the only useful targets are below.
all:
	@echo "PostgreSQL server headers are missing: run 'make deps' (or 'make test')." && false
endif

# The install script is assembled from its parts, in file-name order.
SQL_PARTS := $(sort $(wildcard sql/install/*.sql))
sql/mis_messaging--1.0.sql: $(SQL_PARTS)
	cat $^ > $@

.PHONY: deps unit pgtap e2e test demo bench format

# Install the Debian packages the build, the tests and the demo need, if missing.
deps:
	@bash tests/deps.sh

# GoogleTest unit tests of the C++ that does not need a server.
unit:
	cmake -S . -B build/unit -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/unit -j2
	cd build/unit && ctest --output-on-failure

test: deps
	$(MAKE) all
	bash tests/run_all.sh

demo: deps
	$(MAKE) all
	bash tests/demo.sh

bench: deps
	$(MAKE) all
	bash bench/run.sh

format:
	clang-format -i $(SOURCES) $(wildcard extension/*.hpp worker/*.hpp tests/unit/*.cpp)
