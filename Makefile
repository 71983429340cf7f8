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
GEN := $(BUILD)/gen
CFLAGS_ALL = -std=gnu11 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE -pthread -fPIC \
	     $(BSD_CFLAGS) -Iinclude -Idaemon -Iproto -I$(GEN) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pthread $(SANFLAGS) $(LDFLAGS)

# The I/O-free core: a static library linked by gsvmd and the unit tests.
CORE_NAMES := mem vamap buddy sim pagemap svm migrate evict replica devop advise policy policy_default policy_explicit stats core
CORE_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(CORE_NAMES))))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libgsvmcore.a

# The wire protocol: generated protobuf-c code plus the framing both ends use.
PROTO_GEN := $(GEN)/gsvm.pb-c.c $(GEN)/gsvm.pb-c.h
PROTO_OBJS := $(GEN)/gsvm.pb-c.o $(BUILD)/proto/wire.o

# gsvmd: the core plus the daemon's I/O layers.
DAEMON_NAMES := gsvmd log config control dispatch session uffd workers
DAEMON_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(DAEMON_NAMES))))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
DAEMON_LIBS := -levent_core -levent_pthreads -lprotobuf-c -linih
GSVMD := $(BUILD)/gsvmd

# libgsvm.so.1: only gsvm_* is exported (client/libgsvm.map).
CLIENT_SRCS := $(wildcard client/*.c)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/%.o)
LIBGSVM := $(BUILD)/libgsvm.so.1
LIBGSVM_LINK = -L$(BUILD) -lgsvm -Wl,-rpath,$(abspath $(BUILD))

EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

ITEST_SRCS := $(wildcard tests/integration/test_*.c)
ITEST_BINS := $(ITEST_SRCS:tests/integration/%.c=$(BUILD)/itests/%)
ITEST_HELPER_SRCS := $(filter-out $(ITEST_SRCS),$(wildcard tests/integration/*.c))
ITEST_HELPERS := $(ITEST_HELPER_SRCS:%.c=$(BUILD)/%.o)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_SRCS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPERS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/%.o)

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps check test unit itest lint format clean demo
all: $(CORE_LIB) $(GSVMD) $(LIBGSVM) $(EXAMPLE_BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS)

deps:
	@scripts/install-deps

$(PROTO_GEN): proto/gsvm.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) proto/gsvm.proto

$(GEN)/gsvm.pb-c.o: $(GEN)/gsvm.pb-c.c
	$(CC) $(filter-out -Wextra,$(CFLAGS_ALL)) -c -o $@ $<

$(BUILD)/%.o: %.c | $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(GSVMD): $(DAEMON_OBJS) $(CORE_LIB) $(PROTO_OBJS)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(DAEMON_LIBS)

$(LIBGSVM): $(CLIENT_OBJS) $(PROTO_OBJS) client/libgsvm.map
	$(CC) -shared -o $@ $(CLIENT_OBJS) $(PROTO_OBJS) -Wl,-soname,libgsvm.so.1 \
		-Wl,--version-script=client/libgsvm.map -Wl,--no-undefined $(LDFLAGS_ALL) -lprotobuf-c
	ln -sf libgsvm.so.1 $(BUILD)/libgsvm.so

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIBGSVM)
	$(CC) -o $@ $< $(LDFLAGS_ALL) $(LIBGSVM_LINK)

$(BUILD)/tests/integration/%.o: CFLAGS_ALL += -Itests/unit

$(BUILD)/itests/%: $(BUILD)/tests/integration/%.o $(ITEST_HELPERS) $(BUILD)/tests/unit/cu.o \
		$(PROTO_OBJS) $(LIBGSVM) $(GSVMD)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(ITEST_HELPERS) $(BUILD)/tests/unit/cu.o $(PROTO_OBJS) $(LDFLAGS_ALL) \
		$(LIBGSVM_LINK) -lcunit -lprotobuf-c

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(UNIT_HELPERS) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcunit

# The config suite also tests daemon objects that are not in the core library.
$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(UNIT_HELPERS) \
		$(BUILD)/daemon/config.o $(BUILD)/daemon/log.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcunit -linih

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL)

# Run every unit suite; each prints CUnit's Run Summary.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

# Integration suites start their own gsvmd (GSVMD=path) on a private socket.
itest: $(ITEST_BINS) $(GSVMD)
	@fail=0; for t in $(ITEST_BINS); do \
		echo "== $$t"; GSVMD=$(abspath $(GSVMD)) timeout 600 $$t || fail=1; \
	done; exit $$fail

test: unit itest

# The README's first command: build, start gsvmd on a temporary socket with
# its embedded default (two sim devices), run the demo client, stop gsvmd.
demo: deps
	$(MAKE) $(GSVMD) $(BUILD)/examples/demo
	@scripts/run-demo $(GSVMD) $(BUILD)/examples/demo

check: deps
	$(MAKE) all
	$(MAKE) test
	$(MAKE) SAN=1 all
	$(MAKE) SAN=1 test
	@echo "make check: all tests passed (plain and ASan+UBSan)"

LINT_SRCS = $(CORE_SRCS) $(DAEMON_SRCS) $(CLIENT_SRCS) proto/wire.c
lint: deps $(PROTO_GEN)
	clang-tidy --quiet --warnings-as-errors="*" $(LINT_SRCS) -- -std=gnu11 -D_GNU_SOURCE $(BSD_CFLAGS) -Iinclude -Idaemon -Iproto -I$(GEN)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -DLIBBSD_OVERLAY \
		-DPROTOBUF_C_VERSION_NUMBER=1004001 -I/usr/include/bsd -Iinclude -Idaemon -Iproto -I$(GEN) $(LINT_SRCS)

format:
	clang-format -i $(wildcard daemon/*.[ch] client/*.[ch] include/*.h tests/*/*.[ch])

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
