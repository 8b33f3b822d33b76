# harombe: one Makefile for everything.
#
#   make                 build build/harombefs and build/harombe
#   make check           unit tests (Check) and integration tests (real FUSE mounts; root)
#   make check-sanitize  check-asan, then check-tsan
#   make check-asan      the whole suite built with AddressSanitizer + UBSan
#   make check-tsan      the threaded parts built with ThreadSanitizer
#   make fuzz            libFuzzer on every parser of untrusted bytes (FUZZ_SECONDS each)
#   make stress          two mounts under load, faults and reloads (STRESS_SECONDS)
#   make demo            mount the embedded demo config and read a view
#   make bench           benchmarks, written to bench/report.md
#   make bench-fs        the open path's benchmark alone (tests/bench/bench_fs.sh)
#   make bench-vault     the Vault backend's benchmark alone (tests/bench/bench_vault.sh)
#   make bench-vault-leases  Vault requests per hour, 50 containers on one dynamic path
#   make bench-scan      the scanner's benchmark alone (tests/bench/bench_scan.sh)
#   make install         PREFIX=/usr/local DESTDIR= (programs, mount helper, units, man pages,
#                        docs, config, libharombe-scan; make uninstall removes them); /etc and
#                        /sbin only for PREFIX=/usr or SYSCONFDIR=/etc MOUNTHELPERDIR=/sbin
#   make deps            install missing Debian packages (as root) or print the apt-get line
#
# Building never runs the package manager: a missing library stops the build
# with its name and scripts/deps.sh.  make check, make demo, make stress,
# make bench and make fuzz install what they need first (scripts/deps.sh).
#   make clean

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/harombe
UNITDIR ?= $(PREFIX)/lib/systemd/system
# Everything goes under PREFIX (and DESTDIR): /etc and /sbin only for
# PREFIX=/usr, or when SYSCONFDIR=/etc MOUNTHELPERDIR=/sbin ask for them, so
# that `make install PREFIX=$$HOME/.local` works as a normal user.
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
# mount(8) looks for mount.<type> helpers in /sbin, whatever the prefix.
MOUNTHELPERDIR ?= /sbin
else
SYSCONFDIR ?= $(PREFIX)/etc
MOUNTHELPERDIR ?= $(PREFIX)/sbin
endif
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?=

PKGS := fuse3 libcurl json-c libsodium libpcre2-8 yaml-0.1 libcrypto libssl libhs
TEST_PKGS := check zlib

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla -Wmissing-prototypes
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
ifeq ($(SANITIZE),thread)
HARDEN := -fsanitize=thread -fno-omit-frame-pointer
else ifneq ($(SANITIZE),)
HARDEN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKGS_OK := $(BUILD)/.pkgs-ok
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The harombe command links everything but libfuse: FUSE is the daemon's alone.
CLI_PKG_LIBS = $(shell pkg-config --libs $(filter-out fuse3,$(PKGS)) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

ALL_CFLAGS = -std=gnu11 $(WARN) $(HARDEN) $(CFLAGS) -I. -DHAROMBE_VERSION='"$(VERSION)"' \
	$(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(HARDEN) -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS := -lpthread -lm

LIB_OBJS := lib/carry.o lib/why.o lib/trust.o lib/control.o lib/fileio.o lib/secbuf.o lib/log.o lib/audit.o lib/config.o lib/names.o lib/credshape.o lib/workq.o lib/jsonw.o
BACKEND_OBJS := backends/backend.o backends/env.o backends/cache.o \
	backends/sops/sops.o backends/sops/tree.o backends/sops/crypto.o backends/sops/datakey.o \
	backends/sops/age.o backends/sops/bech32.o backends/sops/json.o backends/sops/yaml.o backends/sops/flat.o \
	backends/sops/file.o backends/sops/conf.o backends/sops/comment.o \
	backends/vault/vault.o backends/vault/creds.o backends/vault/login.o \
	backends/vault/renew.o backends/vault/request.o backends/vault/kv.o backends/vault/parse.o \
	backends/vault/sjson.o backends/vault/vhttp.o backends/vault/auth.o backends/vault/lease.o backends/vault/pki.o
INJECT_OBJS := inject/view.o inject/render.o inject/fetch.o
INJECT_OBJS += inject/dotenv.o inject/run.o inject/rotate.o inject/template.o
LIB_OBJS += lib/when.o
FS_OBJS := fs/fs.o fs/nodes.o fs/dir.o fs/open.o fs/inval.o fs/access.o fs/harden.o fs/handover.o fs/keeper.o fs/daemon.o
CLI_OBJS := cli/main.o cli/vault.o cli/secrets.o cli/secrets-filter.o cli/secrets-scan.o cli/secrets-git.o \
	cli/secrets-redact.o cli/secrets-rules.o cli/secrets-found.o \
	cli/secrets-config.o cli/secrets-pool.o cli/config-check.o cli/help.o
CLI_OBJS += cli/ops.o cli/vault-io.o cli/vault-leases.o cli/rotate.o cli/container.o cli/run.o cli/audit.o cli/sops.o
FS_OBJS += fs/control.o fs/notify.o fs/watch.o fs/onchange.o fs/live.o
# The scanner: scan/ needs only lib/.  SCAN_LIB_OBJS also make up libharombe-scan.
SCAN_LIB_OBJS := scan/scan.o scan/hits.o scan/build.o scan/decode.o scan/rules.o scan/veto.o scan/rulefile.o scan/entropy.o scan/known.o scan/helper.o scan/hsdb.o
SCAN_OBJS := $(SCAN_LIB_OBJS) scan/report.o scan/fingerprint.o scan/scanconf.o

# CLI_CORE_OBJS: what the harombe command links; CORE_OBJS adds the daemon (fs/, FUSE).
CLI_CORE_OBJS = $(addprefix $(BUILD)/,$(INJECT_OBJS) $(BACKEND_OBJS) $(LIB_OBJS))
CORE_OBJS = $(addprefix $(BUILD)/,$(FS_OBJS)) $(CLI_CORE_OBJS)
SCAN_CORE = $(addprefix $(BUILD)/,$(SCAN_OBJS))

# libharombe-scan.so: position-independent copies of scan/ and the lib/
# objects it uses; only the scan_* API of scan/scan.h is exported.
SCAN_SONAME := libharombe-scan.so.0
SCAN_SO := $(BUILD)/libharombe-scan.so.$(VERSION)
SCAN_PIC = $(addprefix $(BUILD)/pic/,$(SCAN_LIB_OBJS) lib/secbuf.o lib/log.o lib/config.o lib/credshape.o lib/why.o lib/trust.o lib/fileio.o)
SCAN_SO_LIBS = $(shell pkg-config --libs libhs libpcre2-8 yaml-0.1 libsodium 2>/dev/null) -lm -lpthread
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include

UNIT_SRCS := $(wildcard tests/unit/check_*.c)
UNIT_BINS := $(addprefix $(BUILD)/,$(UNIT_SRCS:.c=))
TOOLS := $(BUILD)/tests/tools/fsprobe $(BUILD)/tests/tools/agetool

PROGS := $(BUILD)/harombefs $(BUILD)/harombe $(BUILD)/harombe-bind
TEST_PROGS := $(UNIT_BINS) $(BUILD)/tests/harombefs-test $(TOOLS) $(BUILD)/tests/tools/scaneval
TEST_PROGS += $(BUILD)/tests/harombe-test

.SECONDARY:
.PHONY: all deps check check-run check-layout demo-run stress-run regen-bigrams check-unit check-fuzz-replay check-integration check-sanitize check-asan check-tsan \
	stress demo bench bench-fs bench-sops bench-vault bench-vault-leases bench-scan fuzz install install-scan uninstall clean
all: $(PROGS) $(SCAN_SO)

deps:
	@scripts/deps.sh

# The libraries the build needs, checked (never installed) once per build dir.
$(PKGS_OK):
	@command -v pkg-config >/dev/null || { echo "harombe: pkg-config is missing;" \
		"install the build dependencies with scripts/deps.sh (as root) or make deps" >&2; exit 1; }
	@missing=$$(for p in $(PKGS); do pkg-config --exists $$p || printf ' %s' $$p; done); \
	if [ -n "$$missing" ]; then echo "harombe: missing libraries (pkg-config):$$missing;" \
		"install them with scripts/deps.sh (as root) or make deps" >&2; exit 1; fi
	@mkdir -p $(@D) && touch $@

# make V=1 shows the full command lines.
Q := $(if $(V),,@)

# The one link recipe: every program links its prerequisites with the
# libraries it names in LINK_LIBS (the package libraries by default).
LINK_LIBS = $(PKG_LIBS)
define LINK
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LINK_LIBS) $(LIBS)
endef

$(BUILD)/%.o: %.c | $(PKGS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c | $(PKGS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

# The default config, SYSCONFDIR/harombe/harombe.yaml, is compiled into
# harombe and harombefs (cli/main.c, fs/daemon.c) from SYSCONFDIR at build
# time.  $(BUILD)/.sysconfdir keeps the value they were built with, so that a
# build with another SYSCONFDIR rebuilds them.  make install does not rebuild
# for its own SYSCONFDIR (it may run as another user than the build): it says
# so when the two differ; the units and the man pages it installs name
# install's SYSCONFDIR.
SYSCONF_STAMP := $(BUILD)/.sysconfdir
INSTALL_GOALS := $(filter install install-scan uninstall,$(MAKECMDGOALS))
BUILT_SYSCONFDIR = $(if $(INSTALL_GOALS),$(or $(shell cat $(SYSCONF_STAMP) 2>/dev/null),$(SYSCONFDIR)),$(SYSCONFDIR))
SYSCONF_OBJS := $(BUILD)/cli/main.o $(BUILD)/fs/daemon.o
$(SYSCONF_OBJS): ALL_CFLAGS += -DSYSCONFDIR='"$(BUILT_SYSCONFDIR)"'
$(SYSCONF_OBJS): $(SYSCONF_STAMP)
$(SYSCONF_STAMP): FORCE
	@mkdir -p $(@D)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(BUILT_SYSCONFDIR)" ]; then echo "$(BUILT_SYSCONFDIR)" > $@; fi
FORCE:
.PHONY: FORCE

$(BUILD)/harombefs: $(BUILD)/fs/main.o $(CORE_OBJS)
	$(LINK)

# The command itself loads libcurl and libcrypto on first use (cli/lazylink.c):
# they and their ~30 dependencies cost every `secrets filter` 4-5 ms of
# dynamic linking.  The test build of the command links them as usual.
CMD_PKG_LIBS = $(shell pkg-config --libs $(filter-out fuse3 libcurl libcrypto libssl,$(PKGS)) 2>/dev/null)
$(BUILD)/harombe: LINK_LIBS = $(CMD_PKG_LIBS)
$(BUILD)/harombe: $(addprefix $(BUILD)/,$(CLI_OBJS) cli/lazylink.o) $(CLI_CORE_OBJS) $(SCAN_CORE)
	$(LINK)

$(BUILD)/pic/%.o: %.c | $(PKGS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

# scan/bigrams.h is generated and committed; not part of the build.  This
# rebuilds it from the Python standard library it was made from.
regen-bigrams:
	python3 scan/tools/gen-bigrams.py /usr/lib/python3.11/*.py > scan/bigrams.h.tmp
	mv scan/bigrams.h.tmp scan/bigrams.h

# The built-in prefilters, compiled at build time (see scan/tools/hsdb-gen.c).
HSDB_GEN_OBJS = $(addprefix $(BUILD)/,scan/tools/hsdb-gen.o scan/rules.o scan/veto.o scan/entropy.o lib/config.o lib/log.o \
	lib/secbuf.o lib/credshape.o lib/why.o lib/trust.o lib/fileio.o)
$(BUILD)/scan/hsdb-gen: $(HSDB_GEN_OBJS)
	$(LINK)

$(BUILD)/scan/hsdb.c: $(BUILD)/scan/hsdb-gen
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(BUILD)/scan/hsdb.o: $(BUILD)/scan/hsdb.c
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/pic/scan/hsdb.o: $(BUILD)/scan/hsdb.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(SCAN_SO): $(SCAN_PIC) scan/libharombe-scan.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(filter-out -fPIE,$(HARDEN)) -Wl,-z,relro,-z,now $(LDFLAGS) -Wl,-soname,$(SCAN_SONAME) \
		-Wl,--version-script=scan/libharombe-scan.map -Wl,--no-undefined -o $@ $(SCAN_PIC) $(SCAN_SO_LIBS)
	$(Q)ln -sf $(notdir $@) $(BUILD)/$(SCAN_SONAME)
	$(Q)ln -sf $(SCAN_SONAME) $(BUILD)/libharombe-scan.so

$(BUILD)/tests/tools/scaneval: LINK_LIBS = $(CLI_PKG_LIBS)
$(BUILD)/tests/tools/scaneval: $(BUILD)/tests/tools/scaneval.o $(CLI_CORE_OBJS) $(SCAN_CORE)
	$(LINK)

$(BUILD)/harombe-bind: LINK_LIBS =
$(BUILD)/harombe-bind: $(BUILD)/mount-helpers/harombe-bind.o $(BUILD)/lib/names.o
	$(LINK)

$(BUILD)/tests/unit/check_%: LINK_LIBS = $(TEST_LIBS) $(PKG_LIBS)
$(BUILD)/tests/unit/check_%: $(BUILD)/tests/unit/check_%.o $(BUILD)/tests/unit/vaultsrv.o $(BUILD)/tests/mock/mock.o $(CORE_OBJS) $(SCAN_CORE)
	$(LINK)

$(BUILD)/tests/harombefs-test: $(BUILD)/tests/mock/main.o $(BUILD)/tests/mock/mock.o $(CORE_OBJS)
	$(LINK)

# The harombe command with the mock store (tests only).
$(BUILD)/tests/harombe-test: LINK_LIBS = $(CLI_PKG_LIBS)
$(BUILD)/tests/harombe-test: $(addprefix $(BUILD)/,$(CLI_OBJS)) $(BUILD)/tests/mock/register.o \
		$(BUILD)/tests/mock/mock.o $(CLI_CORE_OBJS) $(SCAN_CORE)
	$(LINK)

$(BUILD)/tests/tools/fsprobe: $(BUILD)/tests/tools/fsprobe.o
	$(LINK)

$(BUILD)/tests/tools/agetool: $(BUILD)/tests/tools/agetool.o $(BUILD)/backends/sops/age.o $(BUILD)/backends/sops/bech32.o \
		$(BUILD)/lib/secbuf.o $(BUILD)/lib/why.o
	$(LINK)

# make check first installs what the tests drive (scripts/deps.sh: as root it
# runs apt-get for what is missing; otherwise it prints the line and fails).
check:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory check-run

check-run: check-unit check-fuzz-replay check-integration check-layout

# The layering, the one fetch path and file lengths (docs/architecture.md).
check-layout: $(BUILD)/harombe
	BUILD=$(BUILD) tests/layout/check.sh

check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

check-integration: $(PROGS) $(SCAN_SO) $(TEST_PROGS)
	BUILD=$(BUILD) tests/integration/run.sh

check-sanitize: check-asan check-tsan

# Every sanitizer report, from any process of the run (a daemon in the
# background included), lands in build-san/reports/; any report fails it.
check-asan:
	@rm -rf build-san/reports && mkdir -p build-san/reports
	ASAN_OPTIONS=log_path=$(CURDIR)/build-san/reports/asan:detect_leaks=1 \
	UBSAN_OPTIONS=log_path=$(CURDIR)/build-san/reports/ubsan:print_stacktrace=1 \
		$(MAKE) BUILD=build-san SANITIZE=1 CFLAGS="-O1 -g" check
	@if [ -n "$$(ls build-san/reports)" ]; then cat build-san/reports/*; \
		echo "FAILED: sanitizer reports above"; exit 1; fi
	@echo "check-asan: no AddressSanitizer, LeakSanitizer or UBSan reports"

# ThreadSanitizer on what runs threads (TSan and ASan cannot share a
# build): every unit test (check_threads drives the work queue, the cache's
# single flight and the Vault HTTP worker from many threads), the
# integration tests of harombefs over Vault (open workers, the HTTP worker,
# renewal, faults), scan --threads (t_secrets_threads), and a short `make
# stress` (concurrent opens, reloads and faults on two mounts).  Tests that
# wait for a signal with the mount idle are left out: TSan handles a signal
# only when the FUSE thread leaves its blocking read.  setarch -R: old TSan runtimes reject high-entropy ASLR
# layouts.  Reports from every process land in build-tsan/reports/.
TSAN_IT := t_vault_fs t_vault_resilience t_vault_auth t_vault_leases t_vault_pki t_vault_live t_views.sh t_views_watch t_access t_tenant_slow \
	t_secrets_threads
TSAN_STRESS_SECONDS ?= 36
check-tsan:
	@rm -rf build-tsan/reports && mkdir -p build-tsan/reports
	$(MAKE) BUILD=build-tsan SANITIZE=thread CFLAGS="-O1 -g" $(PROGS:$(BUILD)/%=build-tsan/%) \
		$(TEST_PROGS:$(BUILD)/%=build-tsan/%) build-tsan/tests/stress/stressclient
	TSAN_OPTIONS="log_path=$(CURDIR)/build-tsan/reports/tsan halt_on_error=0 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	setarch $$(uname -m) -R sh -c '$(MAKE) BUILD=build-tsan SANITIZE=thread CFLAGS="-O1 -g" check-unit && \
		BUILD=build-tsan T_ONLY="$(TSAN_IT)" tests/integration/run.sh && \
		BUILD=build-tsan STRESS_SECONDS=$(TSAN_STRESS_SECONDS) STRESS_PHASE=2 STRESS_THREADS=3 \
			STRESS_DISK_SEARCH=0 tests/stress/run.sh'
	@if [ -n "$$(ls build-tsan/reports)" ]; then cat build-tsan/reports/*; \
		echo "FAILED: ThreadSanitizer reports above"; exit 1; fi
	@echo "check-tsan: no ThreadSanitizer reports"

# make stress: see tests/stress/run.sh.  STRESS_SECONDS (60), STRESS_THREADS.
stress:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory stress-run

stress-run: $(PROGS) $(BUILD)/tests/harombefs-test $(BUILD)/tests/stress/stressclient
	BUILD=$(BUILD) tests/stress/run.sh

$(BUILD)/tests/stress/stressclient: $(BUILD)/tests/stress/stressclient.o
	$(LINK)

demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory demo-run

demo-run: $(PROGS)
	BUILD=$(BUILD) scripts/demo.sh

# Every benchmark, one report with plots (gnuplot is installed for this
# target only: BENCH_PLOTS=1 scripts/deps.sh; CI's check path does not need it).
bench: $(BUILD)/.bench-deps-ok $(PROGS) $(TEST_PROGS) $(BUILD)/tests/bench/minfs $(BUILD)/tests/bench/floorfs \
	$(BUILD)/tests/bench/openbench \
	$(BUILD)/tests/bench/sopsbench $(BUILD)/tests/bench/vaultbench $(BUILD)/tests/bench/linelat
	BUILD=$(BUILD) tests/bench/run.sh

$(BUILD)/.bench-deps-ok: scripts/deps.sh
	@BENCH_PLOTS=1 scripts/deps.sh
	@mkdir -p $(@D) && touch $@

bench-vault: $(PROGS) $(BUILD)/tests/bench/vaultbench
	BUILD=$(BUILD) tests/bench/bench_vault.sh

# Vault requests per hour for 50 containers on one dynamic path (a simulated hour).
bench-vault-leases: $(PROGS)
	BUILD=$(BUILD) tests/bench/bench_vault_leases.sh

$(BUILD)/tests/bench/vaultbench: $(BUILD)/tests/bench/vaultbench.o
	$(LINK)

# The scanner's benchmark alone: filter beside cat, ripgrep and secretlint
# (installed from npm into $(BUILD)/peers/ by tests/bench/secretlint-install.sh),
# line latency, scan --threads, by input size.
bench-scan: $(PROGS) $(BUILD)/tests/bench/linelat $(BUILD)/tests/tools/scaneval
	BUILD=$(BUILD) tests/bench/bench_scan.sh

$(BUILD)/tests/bench/linelat: $(BUILD)/tests/bench/linelat.o
	$(LINK)

$(BUILD)/tests/bench/minfs: $(BUILD)/tests/bench/minfs.o
	$(LINK)

$(BUILD)/tests/bench/openbench: $(BUILD)/tests/bench/openbench.o
	$(LINK)

# The open path's benchmark alone, as bench/report.md: harombefs beside the
# floor (floorfs), minfs and tmpfs; BENCH_FS_BEFORE=PATH adds an older harombefs.
bench-fs: $(BUILD)/.bench-deps-ok $(PROGS) $(BUILD)/tests/bench/minfs $(BUILD)/tests/bench/floorfs \
	$(BUILD)/tests/bench/openbench $(BUILD)/tests/bench/sopsbench
	BUILD=$(BUILD) BENCH_ONLY=fs tests/bench/run.sh

$(BUILD)/tests/bench/floorfs: $(BUILD)/tests/bench/floorfs.o
	$(LINK)

# The SOPS backend's benchmark (tests/bench/sops.sh; needs root for FUSE).
bench-sops: $(PROGS) $(BUILD)/tests/bench/sopsbench
	BUILD=$(BUILD) tests/bench/bench_sops.sh

$(BUILD)/tests/bench/sopsbench: $(BUILD)/tests/bench/sopsbench.o $(CORE_OBJS)
	$(LINK)

# ---- fuzzing ----
# make fuzz: libFuzzer (clang, ASan+UBSan) on every parser of untrusted
# bytes, FUZZ_SECONDS each (default 30), seeded from the fixtures; a crash
# is kept in tests/fuzz/regressions/<target>/.  Not part of check; but
# `make check` replays every regression input and every seed through every
# target (check-fuzz-replay, built with the ordinary compiler).  See
# tests/fuzz/run.sh and docs/proof.md.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := sops_json sops_yaml sops_dotenv sops_ini sops_rules age config sjson vault names fs scan scan_rules dotenv when baseline scan_config template
# Targets that run the real code over a stand-in for what lies beneath it.
FUZZ_EXTRA_vault := tests/fuzz/vhttp-script.o
FUZZ_EXTRA_fs := tests/fuzz/fuse-stub.o
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -DHAROMBE_VERSION='"$(VERSION)"' -DSYSCONFDIR='"$(SYSCONFDIR)"' $(FUZZ_SAN)
FUZZ_CORE = $(addprefix $(FUZZ_BUILD)/obj/,$(FS_OBJS) $(INJECT_OBJS) $(BACKEND_OBJS) $(LIB_OBJS) $(SCAN_OBJS))

fuzz: $(FUZZ_BUILD)/.deps-ok $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

$(FUZZ_BUILD)/.deps-ok: scripts/deps.sh
	@FUZZ=1 scripts/deps.sh
	@mkdir -p $(@D) && touch $@

# Everything is instrumented for coverage; only the targets link libFuzzer's main.
$(FUZZ_BUILD)/obj/%.o: %.c | $(PKGS_OK) $(FUZZ_BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

# The scanner's prefilter database is generated by the ordinary build.
$(FUZZ_BUILD)/obj/scan/hsdb.o: $(BUILD)/scan/hsdb.c | $(FUZZ_BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

# An archive: a target takes only what it uses, and a stand-in (vhttp,
# libfuse) comes first and wins.
$(FUZZ_BUILD)/libcore.a: $(FUZZ_CORE)
	@rm -f $@
	$(Q)ar rcs $@ $^

.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $$(addprefix $(FUZZ_BUILD)/obj/,$$(FUZZ_EXTRA_$$*)) \
		$(FUZZ_BUILD)/libcore.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(LIBS)

# The same targets with an ordinary main (tests/fuzz/replay.c) for make check.
$(BUILD)/tests/libcore.a: $(CORE_OBJS) $(SCAN_CORE)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o \
		$$(addprefix $(BUILD)/,$$(FUZZ_EXTRA_$$*)) $(BUILD)/tests/libcore.a
	$(LINK)

FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)
check-fuzz-replay: $(FUZZ_REPLAYS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf $(BUILD)/fuzz-seeds/$$t; tests/fuzz/seeds.sh $$t $(BUILD)/fuzz-seeds/$$t; \
		$(BUILD)/tests/fuzz/replay_$$t tests/fuzz/regressions/$$t $(BUILD)/fuzz-seeds/$$t; \
	done

UNITS := run-harombe.mount harombefs.service harombe-rotate.service harombe-rotate.timer
MANPAGES := man/harombe.1 man/harombe.yaml.5 man/harombefs.8
# The documents --help and the man pages point to.
DOCS := README.md $(wildcard docs/*.md)
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

# Installs everything under DESTDIR; the example config only when there is
# none (it holds references, never credentials, and is 0600).
install: $(PROGS) install-scan
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MOUNTHELPERDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples/docker.service.d
	install -m 0755 $(BUILD)/harombefs $(DESTDIR)$(SBINDIR)/harombefs
	install -m 0755 $(BUILD)/harombe-bind $(DESTDIR)$(SBINDIR)/harombe-bind
	install -m 0755 $(BUILD)/harombe $(DESTDIR)$(BINDIR)/harombe
	$(SUBST) mount-helpers/mount.fuse.harombefs > $(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.harombefs
	chmod 0755 $(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.harombefs
	for u in $(UNITS); do $(SUBST) systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 0644 systemd/docker.service.d/harombe.conf \
		$(DESTDIR)$(DOCDIR)/examples/docker.service.d/harombe.conf
	install -m 0644 examples/harombe.yaml $(DESTDIR)$(DOCDIR)/examples/harombe.yaml
	install -m 0644 .pre-commit-hooks.yaml $(DESTDIR)$(DOCDIR)/examples/pre-commit-hooks.yaml
	install -d $(DESTDIR)$(DOCDIR)/docs
	for d in $(DOCS); do install -m 0644 $$d $(DESTDIR)$(DOCDIR)/$$d || exit 1; done
	for m in harombe.1:man1 harombe.yaml.5:man5 harombefs.8:man8; do \
		$(SUBST) man/$${m%:*} > $(DESTDIR)$(MANDIR)/$${m#*:}/$${m%:*} && \
		chmod 0644 $(DESTDIR)$(MANDIR)/$${m#*:}/$${m%:*} || exit 1; done
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/harombe
	test -e $(DESTDIR)$(SYSCONFDIR)/harombe/harombe.yaml || \
		install -m 0600 examples/harombe.yaml $(DESTDIR)$(SYSCONFDIR)/harombe/harombe.yaml
	@[ "$$(cat $(SYSCONF_STAMP))" = "$(SYSCONFDIR)" ] || echo "note: harombe and harombefs" \
		"were built to read $$(cat $(SYSCONF_STAMP))/harombe/harombe.yaml by default, not" \
		"$(SYSCONFDIR)/harombe/harombe.yaml (the units pass it explicitly); for that default," \
		"build with make SYSCONFDIR=$(SYSCONFDIR)"
	@case "$(MOUNTHELPERDIR)" in /sbin|/usr/sbin) ;; *) echo "note: mount(8) finds" \
		"mount.fuse.harombefs in /sbin only; for mount -t fuse.harombefs and run-harombe.mount," \
		"install with PREFIX=/usr or MOUNTHELPERDIR=/sbin" ;; esac

# The scanner library: shared object with its soname links, the header as
# <harombe/scan.h>, and harombe-scan.pc for pkg-config.
install-scan: $(SCAN_SO)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/harombe
	install -m 0755 $(SCAN_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SCAN_SO)) $(DESTDIR)$(LIBDIR)/$(SCAN_SONAME)
	ln -sf $(SCAN_SONAME) $(DESTDIR)$(LIBDIR)/libharombe-scan.so
	install -m 0644 scan/scan.h $(DESTDIR)$(INCLUDEDIR)/harombe/scan.h
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
		scan/harombe-scan.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/harombe-scan.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/harombe-scan.pc

# Removes what install put there.  The config goes only when it is still the
# example: an edited one is kept, and said so.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/harombefs $(DESTDIR)$(SBINDIR)/harombe-bind $(DESTDIR)$(BINDIR)/harombe
	rm -f $(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.harombefs
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	rm -f $(DESTDIR)$(MANDIR)/man1/harombe.1 $(DESTDIR)$(MANDIR)/man5/harombe.yaml.5 \
		$(DESTDIR)$(MANDIR)/man8/harombefs.8
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(LIBDIR)/libharombe-scan.so* $(DESTDIR)$(LIBDIR)/pkgconfig/harombe-scan.pc
	rm -f $(DESTDIR)$(INCLUDEDIR)/harombe/scan.h
	rmdir $(DESTDIR)$(INCLUDEDIR)/harombe 2>/dev/null || true
	@if cmp -s examples/harombe.yaml $(DESTDIR)$(SYSCONFDIR)/harombe/harombe.yaml; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/harombe/harombe.yaml; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/harombe 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/harombe/harombe.yaml ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/harombe/harombe.yaml: it differs from the example"; \
	fi

clean:
	rm -rf build build-san build-tsan build-fuzz

-include $(shell find $(BUILD) $(if $(filter fuzz,$(MAKECMDGOALS)),$(FUZZ_BUILD)) -name '*.d' 2>/dev/null)
