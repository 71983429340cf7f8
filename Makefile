# gsvm: shared virtual memory broker. See README.md.
#
#   make            build everything (build/)
#   make check      install deps, build, run every test, then again under ASan+UBSan
#   make lint       clang-tidy and cppcheck
#
# Sanitizer builds live in their own tree: make SAN=1 uses build/san.

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS =
endif

CC ?= gcc
PKG_CONFIG ?= pkg-config
OPT ?= -O2
BSD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbsd-overlay 2>/dev/null)
CFLAGS_ALL = -std=gnu11 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE -pthread \
	     $(BSD_CFLAGS) -Iinclude -Idaemon $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pthread $(SANFLAGS) $(LDFLAGS)

# The I/O-free core: a static library linked by gsvmd and the unit tests.
CORE_NAMES := mem vamap buddy sim pagemap svm migrate devop core
CORE_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(CORE_NAMES))))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libgsvmcore.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_SRCS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPERS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/%.o)

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps check test unit lint format clean
all: $(CORE_LIB) $(UNIT_BINS) $(BENCH_BINS)

deps:
	@scripts/install-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(UNIT_HELPERS) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcunit

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL)

# Run every unit suite; each prints CUnit's Run Summary.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

test: unit

check: deps
	$(MAKE) all
	$(MAKE) test
	$(MAKE) SAN=1 all
	$(MAKE) SAN=1 test
	@echo "make check: all tests passed (plain and ASan+UBSan)"

LINT_SRCS = $(CORE_SRCS)
lint: deps
	clang-tidy --quiet --warnings-as-errors='*' $(LINT_SRCS) -- -std=gnu11 -D_GNU_SOURCE $(BSD_CFLAGS) -Iinclude -Idaemon
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -DLIBBSD_OVERLAY \
		-I/usr/include/bsd -Iinclude -Idaemon $(LINT_SRCS)

format:
	clang-format -i $(wildcard daemon/*.[ch] client/*.[ch] include/*.h tests/*/*.[ch])

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
