# gsvm: shared virtual memory broker. See README.md.
#
#   make            build everything (build/)
#   make check      install deps, build, run every test, then again under ASan+UBSan,
#                   then the multithreaded ones under TSan (make tsan), then the
#                   VM suite (make vm-check) when qemu can be installed
#   make valgrind   the integration suites with gsvmd under valgrind memcheck
#   make fuzz       the libFuzzer harnesses (tests/fuzz), FUZZ_SECONDS (60) each
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
DRM_CFLAGS := $(shell $(PKG_CONFIG) --cflags libdrm 2>/dev/null)
DRM_LIBS := $(shell $(PKG_CONFIG) --libs libdrm 2>/dev/null || echo -ldrm)
GEN := $(BUILD)/gen
CFLAGS_ALL = -std=gnu11 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE -pthread -fPIC \
	     $(BSD_CFLAGS) $(DRM_CFLAGS) -Iinclude -Idaemon -Iproto -I$(GEN) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pthread $(SANFLAGS) $(LDFLAGS)

# The I/O-free core: a static library linked by gsvmd and the unit tests.
CORE_NAMES := mem vamap buddy devblocks sim pagemap svm migrate evict replica devop advise policy policy_default policy_explicit stats event account core
CORE_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(CORE_NAMES))))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libgsvmcore.a

# The wire protocol: generated protobuf-c code plus the framing both ends use.
PROTO_GEN := $(GEN)/gsvm.pb-c.c $(GEN)/gsvm.pb-c.h
PROTO_OBJS := $(GEN)/gsvm.pb-c.o $(BUILD)/proto/wire.o

# gsvmd: the core plus the daemon's I/O layers.
DAEMON_NAMES := gsvmd log config drmdev control dispatch prefetch admin events metrics service session uffd kmod workers
DAEMON_SRCS := $(wildcard $(addprefix daemon/,$(addsuffix .c,$(DAEMON_NAMES))))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
# libevent_extra: evhttp, for the metrics endpoint.
DAEMON_LIBS := -levent_extra -levent_core -levent_pthreads -lprotobuf-c -linih -lsystemd $(DRM_LIBS)
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
UNIT_MT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(shell grep -l pthread_create $(UNIT_SRCS)))

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

# The hostile client (tests/hostile): attacks a running gsvmd; the hostile
# integration suite runs it ($HOSTILE) beside well-behaved clients.
HOSTILE_SRCS := $(wildcard tests/hostile/*.c)
HOSTILE_OBJS := $(HOSTILE_SRCS:%.c=$(BUILD)/%.o)
HOSTILE := $(BUILD)/hostile

# gsvm-bench (bench/): gsvm side by side with this machine's own limits. `make
# all` builds it, so make check keeps it compiling; only `make bench` runs it.
BENCH_TOOL_SRCS := $(wildcard bench/*.c)
BENCH_TOOL_OBJS := $(BENCH_TOOL_SRCS:%.c=$(BUILD)/%.o)
BENCH_TOOL := $(BUILD)/gsvm-bench

# Fuzz harnesses (tests/fuzz). Here they are ordinary programs that replay
# the seed corpus (replay.c's main); `make fuzz` builds them again with clang
# and libFuzzer in their own tree and runs each for FUZZ_SECONDS.
FUZZ_NAMES := config dispatch conn
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_MAIN ?= $(BUILD)/tests/fuzz/replay.o
FUZZ_DAEMON := $(BUILD)/tests/fuzz/fixture.o $(BUILD)/client/uffd_client.o \
	       $(filter-out $(BUILD)/daemon/gsvmd.o,$(DAEMON_OBJS)) $(CORE_LIB) $(PROTO_OBJS)
FUZZ_BUILD := build/libfuzzer
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer

.PHONY: all deps check test unit unit-mt itest tsan valgrind fuzz-replay fuzz lint format clean demo bench install uninstall
all: $(CORE_LIB) $(GSVMD) $(LIBGSVM) $(GSVMCTL) $(EXAMPLE_BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS) \
     $(HOSTILE) $(BENCH_TOOL) \
     $(FUZZ_BINS)

deps:
	@scripts/install-deps

$(PROTO_GEN) &: proto/gsvm.proto
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

$(BUILD)/tests/hostile/%.o: CFLAGS_ALL += -Itests/integration

$(HOSTILE): $(HOSTILE_OBJS) $(ITEST_HELPERS) $(PROTO_OBJS) $(LIBGSVM)
	$(CC) -o $@ $(HOSTILE_OBJS) $(ITEST_HELPERS) $(PROTO_OBJS) $(LDFLAGS_ALL) $(LIBGSVM_LINK) \
		-lprotobuf-c

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(UNIT_HELPERS) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcunit

# The config suite also tests daemon objects that are not in the core library
# (config.c probes DRM card nodes with drmdev.c).
$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(UNIT_HELPERS) \
		$(BUILD)/daemon/config.o $(BUILD)/daemon/drmdev.o $(BUILD)/daemon/log.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcunit -linih $(DRM_LIBS)

# The drm provider's suite: drmdev.c is a daemon object (ioctls, libdrm).
$(BUILD)/tests/test_drm: $(BUILD)/tests/unit/test_drm.o $(UNIT_HELPERS) $(BUILD)/daemon/drmdev.o \
		$(BUILD)/daemon/log.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcunit $(DRM_LIBS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL)

# The baselines reuse libgsvm's own memory setup (client/region.c,
# client/uffd_client.c) and the integration harness's helpers.
$(BUILD)/bench/%.o: CFLAGS_ALL += -Iclient -Itests/integration

$(BENCH_TOOL): $(BENCH_TOOL_OBJS) $(BUILD)/client/region.o $(BUILD)/client/uffd_client.o \
		$(BUILD)/tests/integration/harness.o $(PROTO_OBJS) $(LIBGSVM)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_ALL) $(LIBGSVM_LINK) -lprotobuf-c -ljson-c -lm

$(BUILD)/tests/fuzz/%.o: CFLAGS_ALL += -Iclient

# FUZZ_LINK: -fsanitize=fuzzer in the libFuzzer tree (make fuzz).
$(BUILD)/fuzz/fuzz_config: $(BUILD)/tests/fuzz/fuzz_config.o $(FUZZ_MAIN) $(BUILD)/daemon/config.o \
		$(BUILD)/daemon/drmdev.o $(BUILD)/daemon/log.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(FUZZ_LINK) -linih $(DRM_LIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_MAIN) $(FUZZ_DAEMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(FUZZ_LINK) $(DAEMON_LIBS)

# Writes the protobuf seeds again (see tests/fuzz/mkseeds.c).
$(BUILD)/fuzz/mkseeds: $(BUILD)/tests/fuzz/mkseeds.o $(PROTO_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lprotobuf-c

# Run every unit suite; each prints CUnit's Run Summary.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

# The unit suites that start threads (make tsan runs these).
unit-mt: $(UNIT_MT_BINS)
	@fail=0; for t in $(UNIT_MT_BINS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

# Integration suites start their own gsvmd (GSVMD=path) on a private socket.
# The install suite runs `make install` of this same tree and variant.
ITEST_TIMEOUT ?= 600
itest: $(ITEST_BINS) $(GSVMD) $(GSVMCTL) $(HOSTILE)
	@fail=0; for t in $(ITEST_BINS); do \
		echo "== $$t"; GSVMD=$(abspath $(GSVMD)) GSVMCTL=$(abspath $(GSVMCTL)) \
			HOSTILE=$(abspath $(HOSTILE)) \
			REPO_TOP=$(CURDIR) GSVM_BUILD=$(BUILD) GSVM_SAN=$(SAN) GSVM_TSAN=$(TSAN) \
			timeout $(ITEST_TIMEOUT) $$t || fail=1; \
	done; exit $$fail

# Replay each harness's corpus (tests/fuzz/corpus/NAME): any crash fails.
fuzz-replay: $(FUZZ_BINS)
	@fail=0; for n in $(FUZZ_NAMES); do \
		echo "== $(BUILD)/fuzz/fuzz_$$n"; \
		$(BUILD)/fuzz/fuzz_$$n tests/fuzz/corpus/$$n || fail=1; \
	done; exit $$fail

test: unit itest fuzz-replay

# make fuzz [FUZZ_SECONDS=60]: libFuzzer with ASan+UBSan, every source
# compiled again by clang in $(FUZZ_BUILD). Each harness starts from its seed
# corpus; what it finds new goes to $(FUZZ_BUILD)/corpus/NAME, crashes to
# $(FUZZ_BUILD)/crashes (copy one into tests/fuzz/corpus/NAME once fixed).
fuzz: deps
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SANFLAGS="$(FUZZ_SANFLAGS)" FUZZ_MAIN= \
		FUZZ_LINK=-fsanitize=fuzzer $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%)
	@for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/crashes || exit 1; \
		echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
			-close_fd_mask=2 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/fuzz_$$n- \
			$(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# The README's first command: build, start gsvmd on a temporary socket with
# its embedded default (two sim devices), run the demo client, stop gsvmd.
# make bench [BENCH_QUICK=1]: every figure of gsvm-bench, each against a
# gsvmd it starts itself with the configuration it needs, next to a baseline
# measured in the same run. Prints the table, writes bench/results.json and
# bench/chart.png (gnuplot). Never fails on time (see bench/README.md);
# not part of make check. BENCH_QUICK=1: the reduced run, under a minute.
bench: deps
	$(MAKE) $(GSVMD) $(BENCH_TOOL)
	BENCH_QUICK=$(BENCH_QUICK) $(BENCH_TOOL) --gsvmd $(GSVMD) --out bench

demo: deps
	$(MAKE) $(GSVMD) $(BUILD)/examples/demo
	@scripts/run-demo $(GSVMD) $(BUILD)/examples/demo

check: deps
	$(MAKE) all
	$(MAKE) test
	$(MAKE) SAN=1 all
	$(MAKE) SAN=1 test
	$(MAKE) tsan
	@if scripts/install-deps vm; then \
		$(MAKE) vm-check || exit 1; \
		echo "make check: all tests passed (plain, ASan+UBSan, TSan, VM)"; \
	else \
		echo "make check: qemu cannot be installed here: vm-check skipped"; \
		echo "make check: all tests passed (plain, ASan+UBSan, TSan)"; \
	fi

# make tsan: the multithreaded tests built with ThreadSanitizer (build/tsan):
# the unit suites that start threads, and every integration suite, where
# gsvmd (event loop, workers, a fault thread per client), libgsvm and the
# client processes are all TSan builds. A report fails the test: the process
# exits 66, and the harness prints gsvmd's log when it holds one. TSan's
# runtime wants its fixed layout of the address space; kernels with more
# mmap randomisation bits (vm.mmap_rnd_bits 32) make it abort with
# "unexpected memory mapping", so the tests run without address-space
# randomisation (setarch -R) where the kernel lets us switch it off. TSan
# runs several times slower: the harness's timeouts are tripled.
TSAN_SETARCH := $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)
# The integration suites it runs are those whose point is concurrency
# (TSAN_ITESTS): the end-to-end suite (threads, racing writers, parallel
# prefetch), the multi-client ones, gsvmctl against a busy daemon. Left out:
# test_policy's oversubscription and test_hostile (minutes of the same code
# paths, ten times slower here; their RSS bounds mean nothing under TSan's
# shadow memory), test_install and test_systemd (make and systemd, no gsvm
# threads of their own).
TSAN_ITESTS ?= test_e2e test_daemon test_ctl test_limits test_metrics
tsan: deps
	$(MAKE) TSAN=1 all
	TSAN_OPTIONS="second_deadlock_stack=1 $$TSAN_OPTIONS" GSVM_TEST_TIMEOUT_SCALE=3 \
		$(TSAN_SETARCH) $(MAKE) TSAN=1 unit-mt itest \
		ITEST_BINS="$(TSAN_ITESTS:%=build/tsan/itests/%)"

# make valgrind: the integration suites with every gsvmd they start through
# the harness (tests/integration/harness.c) run under valgrind memcheck; the
# clients run natively. The harness gives each gsvmd its own log and fails the
# test with that log unless valgrind reports no error and no definite or
# indirect leak. Timeouts are scaled up (GSVM_TEST_TIMEOUT_SCALE), assertions
# are not weakened. gsvmd is build/'s, as `make` builds it.
VALGRIND_FLAGS := --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30
valgrind: deps
	$(MAKE) all
	GSVMD_WRAPPER="valgrind $(VALGRIND_FLAGS)" GSVM_TEST_TIMEOUT_SCALE=10 \
		$(MAKE) itest ITEST_TIMEOUT=3600

# ---- make vm-check: the VM test harness (tests/vm; see tests/vm/README.md).
# Boots a Debian bookworm kernel (apt-get download, never installed on the
# host; cached in build/vm) under qemu with TCG, no KVM needed, from an
# initramfs holding busybox, the DRM drivers (vgem, virtio-gpu), out-of-tree
# modules built against the kernel's headers (kmod-shim when it has a
# Makefile) and gsvm's binaries, and runs tests/vm/suite.sh inside as root.
# Passes only if the guest prints "GSVM-VM-RESULT: PASS"; the console log is
# build/vm/serial.log. Installs its host tools first (scripts/install-deps vm).
# make check runs it when qemu can be installed. VM_KERNEL=6.1: bookworm's
# linux-image-amd64 (the default);
# VM_KERNEL=6.12: linux-image-6.12-amd64, also in bookworm (security).
# VM_TIMEOUT: seconds the VM may run. VM_GROUPS, VM_ITESTS: what runs inside.
VM_KERNEL ?= 6.1
VM_TIMEOUT ?= 300
.PHONY: vm-check
vm-check: deps
	@scripts/install-deps vm
	$(MAKE) $(GSVMD) $(GSVMCTL) $(LIBGSVM) $(HOSTILE) $(ITEST_BINS) $(BUILD)/tests/test_drm
	GSVM_BUILD=$(BUILD) VM_KERNEL=$(VM_KERNEL) VM_TIMEOUT=$(VM_TIMEOUT) tests/vm/run

LINT_SRCS = $(CORE_SRCS) $(DAEMON_SRCS) $(CLIENT_SRCS) $(CTL_SRCS) proto/wire.c
lint: deps $(PROTO_GEN)
	clang-tidy --quiet --warnings-as-errors="*" $(LINT_SRCS) -- -std=gnu11 -D_GNU_SOURCE $(BSD_CFLAGS) $(DRM_CFLAGS) -Iinclude -Idaemon -Iproto -I$(GEN)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -DLIBBSD_OVERLAY \
		-DPROTOBUF_C_VERSION_NUMBER=1004001 -I/usr/include/bsd -Iinclude -Idaemon -Iproto -I$(GEN) $(LINT_SRCS)

format:
	clang-format -i $(wildcard daemon/*.[ch] client/*.[ch] include/*.h tests/*/*.[ch] bench/*.[ch])

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
