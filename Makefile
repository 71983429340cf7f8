# gsvm: shared virtual memory broker. See README.md.
#
#   make            build everything (build/)
#   make check      install deps, build, run every test, then again under ASan+UBSan
#   make lint       clang-tidy and cppcheck
#
# Sanitizer builds live in their own tree: make SAN=1 uses build/san,
# make TSAN=1 (ThreadSanitizer) build/tsan.

SAN ?= 0
TSAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(TSAN),1)
BUILD ?= build/tsan
OPT ?= -O1
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
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
CORE_NAMES := mem vamap buddy sim pagemap svm migrate evict replica devop advise policy policy_default policy_explicit stats event account core
CORE_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(CORE_NAMES))))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libgsvmcore.a

# The wire protocol: generated protobuf-c code plus the framing both ends use.
PROTO_GEN := $(GEN)/gsvm.pb-c.c $(GEN)/gsvm.pb-c.h
PROTO_OBJS := $(GEN)/gsvm.pb-c.o $(BUILD)/proto/wire.o

# gsvmd: the core plus the daemon's I/O layers.
DAEMON_NAMES := gsvmd log config control dispatch admin events metrics service session uffd workers
DAEMON_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(DAEMON_NAMES))))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
# libevent_extra: evhttp, for the metrics endpoint.
DAEMON_LIBS := -levent_extra -levent_core -levent_pthreads -lprotobuf-c -linih -lsystemd
GSVMD := $(BUILD)/gsvmd

# libgsvm.so.1: only gsvm_* is exported (client/libgsvm.map).
CLIENT_NAMES := libgsvm conn region uffd_client
CLIENT_SRCS := $(addprefix client/,$(addsuffix .c,$(CLIENT_NAMES)))
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/%.o)
LIBGSVM := $(BUILD)/libgsvm.so.1
LIBGSVM_LINK = -L$(BUILD) -lgsvm -Wl,-rpath,$(abspath $(BUILD))

# gsvmctl: speaks the protocol itself (no libgsvm); JSON with json-c.
CTL_NAMES := gsvmctl ctl_text ctl_json
CTL_SRCS := $(addprefix client/,$(addsuffix .c,$(CTL_NAMES)))
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/%.o)
GSVMCTL := $(BUILD)/gsvmctl

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

.PHONY: all deps check test unit itest lint format clean demo install uninstall
all: $(CORE_LIB) $(GSVMD) $(LIBGSVM) $(GSVMCTL) $(EXAMPLE_BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS)

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

$(GSVMCTL): $(CTL_OBJS) $(PROTO_OBJS)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lprotobuf-c -ljson-c

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIBGSVM)
	$(CC) -o $@ $< $(LDFLAGS_ALL) $(LIBGSVM_LINK)

$(BUILD)/tests/integration/%.o: CFLAGS_ALL += -Itests/unit

$(BUILD)/itests/%: $(BUILD)/tests/integration/%.o $(ITEST_HELPERS) $(BUILD)/tests/unit/cu.o \
		$(PROTO_OBJS) $(LIBGSVM) $(GSVMD)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(ITEST_HELPERS) $(BUILD)/tests/unit/cu.o $(PROTO_OBJS) $(LDFLAGS_ALL) \
		$(LIBGSVM_LINK) -lcunit -lprotobuf-c -ljson-c

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
# The install suite runs `make install` of this same tree and variant.
itest: $(ITEST_BINS) $(GSVMD) $(GSVMCTL)
	@fail=0; for t in $(ITEST_BINS); do \
		echo "== $$t"; GSVMD=$(abspath $(GSVMD)) GSVMCTL=$(abspath $(GSVMCTL)) \
			REPO_TOP=$(CURDIR) GSVM_BUILD=$(BUILD) GSVM_SAN=$(SAN) timeout 600 $$t || fail=1; \
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

LINT_SRCS = $(CORE_SRCS) $(DAEMON_SRCS) $(CLIENT_SRCS) $(CTL_SRCS) proto/wire.c
lint: deps $(PROTO_GEN)
	clang-tidy --quiet --warnings-as-errors="*" $(LINT_SRCS) -- -std=gnu11 -D_GNU_SOURCE $(BSD_CFLAGS) -Iinclude -Idaemon -Iproto -I$(GEN)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -DLIBBSD_OVERLAY \
		-DPROTOBUF_C_VERSION_NUMBER=1004001 -I/usr/include/bsd -Iinclude -Idaemon -Iproto -I$(GEN) $(LINT_SRCS)

format:
	clang-format -i $(wildcard daemon/*.[ch] client/*.[ch] include/*.h tests/*/*.[ch])

# make install [PREFIX=/usr/local] [DESTDIR=]: copies what `make` built (and
# builds it first if it is missing). gsvm.pc and the systemd files are
# generated with the directories substituted (@prefix@, @sbindir@, ...);
# the systemd files are installed as far as systemd/ has them.
VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
INSTALL ?= install
MAN_PAGES := man/gsvmd.8 man/gsvmctl.8 man/gsvmd.conf.5 man/libgsvm.3
# source in systemd/ : where it goes
SYSTEMD_FILES := gsvmd.service:$(SYSTEMDUNITDIR)/gsvmd.service \
	gsvmd.socket:$(SYSTEMDUNITDIR)/gsvmd.socket \
	gsvm.sysusers:$(SYSUSERSDIR)/gsvm.conf \
	gsvm.tmpfiles:$(TMPFILESDIR)/gsvm.conf \
	60-gsvm-userfaultfd.rules:$(UDEVRULESDIR)/60-gsvm-userfaultfd.rules
SUBST = sed -e 's|@prefix@|$(PREFIX)|g' -e 's|@bindir@|$(BINDIR)|g' \
	-e 's|@sbindir@|$(SBINDIR)|g' -e 's|@libdir@|$(LIBDIR)|g' \
	-e 's|@includedir@|$(INCLUDEDIR)|g' -e 's|@version@|$(VERSION)|g'

install: $(GSVMD) $(GSVMCTL) $(LIBGSVM) gsvm.pc.in $(MAN_PAGES)
	$(INSTALL) -D -m 0755 $(GSVMD) $(DESTDIR)$(SBINDIR)/gsvmd
	$(INSTALL) -D -m 0755 $(GSVMCTL) $(DESTDIR)$(BINDIR)/gsvmctl
	$(INSTALL) -D -m 0644 $(LIBGSVM) $(DESTDIR)$(LIBDIR)/libgsvm.so.1
	ln -sf libgsvm.so.1 $(DESTDIR)$(LIBDIR)/libgsvm.so
	$(INSTALL) -D -m 0644 include/gsvm.h $(DESTDIR)$(INCLUDEDIR)/gsvm.h
	@mkdir -p $(BUILD)/install
	$(SUBST) gsvm.pc.in > $(BUILD)/install/gsvm.pc
	$(INSTALL) -D -m 0644 $(BUILD)/install/gsvm.pc $(DESTDIR)$(PKGCONFIGDIR)/gsvm.pc
	@for page in $(MAN_PAGES); do \
		sec=$${page##*.}; \
		echo "$(INSTALL) -D -m 0644 $$page $(DESTDIR)$(MANDIR)/man$$sec/$${page#man/}"; \
		$(INSTALL) -D -m 0644 $$page $(DESTDIR)$(MANDIR)/man$$sec/$${page#man/} || exit 1; \
	done
	@for f in $(SYSTEMD_FILES); do \
		src=systemd/$${f%%:*}; dst=$(DESTDIR)$${f#*:}; tmp=$(BUILD)/install/$${f%%:*}; \
		[ -f "$$src" ] || continue; \
		echo "$(INSTALL) -D -m 0644 $$src $$dst (directories substituted)"; \
		$(SUBST) "$$src" > "$$tmp" && $(INSTALL) -D -m 0644 "$$tmp" "$$dst" || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gsvmd $(DESTDIR)$(BINDIR)/gsvmctl \
		$(DESTDIR)$(LIBDIR)/libgsvm.so.1 $(DESTDIR)$(LIBDIR)/libgsvm.so \
		$(DESTDIR)$(INCLUDEDIR)/gsvm.h $(DESTDIR)$(PKGCONFIGDIR)/gsvm.pc \
		$(foreach p,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))) \
		$(foreach f,$(SYSTEMD_FILES),$(DESTDIR)$(lastword $(subst :, ,$(f))))

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
