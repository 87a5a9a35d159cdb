# SPDX-License-Identifier: MIT
#
# hakmem top-level Makefile, in the style of the kernel's kbuild.
#
# The configuration lives in .config (edit it with "make menuconfig");
# kconfig-conf turns it into include/config/auto.conf, which this Makefile
# reads, and include/generated/autoconf.h, which the C code reads.  Each
# source directory has a Makefile fragment that only lists its objects:
#
#	obj-y                  += heap.o	always built
#	obj-$(CONFIG_HAKMEM_X) += x.o		built when X=y
#
# Without O=, objects and libraries go to build/ and the configuration
# stays at the root.  With O=DIR, everything (.config and include/ too)
# goes under DIR, so several configurations build side by side:
#
#	make O=build/debug debug_defconfig && make O=build/debug
#
# Run make from the root of the tree (make -C works).  "make help" lists
# the targets.

comma := ,

# Built-in rules would only slow make down and hide typos.
MAKEFLAGS += -r --no-print-directory
.SUFFIXES:

# A recipe that fails leaves no half-written target behind; this is also
# how a library that fails the export check gets removed.
.DELETE_ON_ERROR:

ifeq ($(origin CC),default)
CC := gcc
endif
ifeq ($(origin CXX),default)
CXX := g++
endif
CFLAGS ?= -O2 -g
NM ?= nm
OBJCOPY ?= objcopy

# V=1 prints full commands; otherwise one short line per step, and
# nothing at all under "make -s".
ifeq ($(V),1)
Q :=
msg-raw :=
msg :=
else
Q := @
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
msg-raw :=
msg :=
else
# Paths are shown relative to the output directory, as kbuild does.
msg-raw = @printf '  %-7s %s\n' '$(1)' '$(2)'
msg = $(call msg-raw,$(1),$(patsubst $(outdir)/%,%,$(2)))
endif
endif

# ---------------------------------------------------------------------------
# Where things go

override O := $(patsubst %/,%,$(O))
srctree := $(CURDIR)
ifeq ($(abspath $(O)),$(srctree))
$(error O= names the source tree; leave O unset to build into build/)
endif
ifeq ($(O),)
confdir := .
outdir  := build
else
confdir := $(O)
outdir  := $(O)
endif
confpre := $(if $(O),$(O)/)

dot-config  := $(confpre).config
autoconf-mk := $(confpre)include/config/auto.conf
autoconf-h  := $(confpre)include/generated/autoconf.h

# Each directory with a Makefile fragment; policies/ joins when it exists.
subdirs := core $(patsubst %/Makefile,%,$(wildcard policies/Makefile)) \
	   backends frontends

# SANITIZE=undefined (or another -fsanitize= list): build and test with
# those sanitizers, stopping at the first report.  Instrumented objects
# must not mix with ordinary ones, so it needs a build directory of its
# own, and the test configurations go under it.
ifneq ($(SANITIZE),)
ifeq ($(O),)
$(error SANITIZE= needs a build directory of its own: make test O=build/san SANITIZE=$(SANITIZE))
endif
override CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
# ASan and TSan bring their own malloc, which hakmem's would fight: make
# test builds each configuration without it (configs/native.config) and
# runs only the suites that reach hakmem through its native API.
native-only := $(filter address thread,$(subst $(comma), ,$(SANITIZE)))
endif

TEST_TIMEOUT ?= 300
PROGRAMS_TIMEOUT ?= 600

# Where "make install" puts things, under $(DESTDIR) when set (a staging
# root: the files are still made for PREFIX).  "make uninstall", with the
# same variables, removes exactly what install put there.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
LIBEXECDIR ?= $(PREFIX)/libexec
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# The version is written once, in include/hakmem.h.  The shared library
# is libhakmem.so.VERSION with the SONAME libhakmem.so.MAJOR; both names
# and libhakmem.so are links to it, in the build directory as installed.
hash := \#
hak-version = $(shell sed -n 's/^$(hash)define HAK_VERSION_$(1)  *\([0-9][0-9]*\)$$/\1/p' \
	$(srctree)/include/hakmem.h)
SOMAJOR := $(call hak-version,MAJOR)
VERSION := $(SOMAJOR).$(call hak-version,MINOR).$(call hak-version,PATCH)
soname  := libhakmem.so.$(SOMAJOR)
libreal := libhakmem.so.$(VERSION)

# ---------------------------------------------------------------------------
# Goals that edit .config must run before the goals that read it, and this
# Makefile reads it when parsed: "make defconfig all" therefore runs each
# goal in a make of its own, in order, as kbuild does.

goals := $(if $(MAKECMDGOALS),$(MAKECMDGOALS),all)
config-goals   := $(filter %config,$(goals))
noconfig-goals := clean distclean help test check test-suites fuzz install-deps uninstall version
build-goals    := $(filter-out %config $(noconfig-goals),$(goals))

ifneq ($(and $(config-goals),$(filter-out %config,$(goals))),)

PHONY += __sequential
$(goals): __sequential
	@:
__sequential:
	$(Q)set -e; for goal in $(goals); do $(MAKE) -f $(srctree)/Makefile $$goal; done

else # one kind of goal: the normal rules

PHONY += all
all: libs tools

# ---------------------------------------------------------------------------
# Configuration
#
# kconfig-conf writes .config, include/config/ and include/generated/
# relative to its working directory (KCONFIG_CONFIG, KCONFIG_AUTOCONFIG,
# KCONFIG_AUTOHEADER and KCONFIG_TRISTATE move only some of them), and it
# finds sourced Kconfig files through $srctree: run it inside $(confdir),
# as kbuild does for O=.

CONF  := kconfig-conf
MCONF := kconfig-mconf
NCONF := kconfig-nconf
unexport KCONFIG_CONFIG KCONFIG_AUTOCONFIG KCONFIG_AUTOHEADER KCONFIG_TRISTATE

kconfig-files := $(wildcard Kconfig Kconfig.* */Kconfig)
kconfig = $(kconfig-check)(cd $(confdir) && srctree=$(srctree) $(1) $(srctree)/Kconfig)
kconfig-check = $(if $(shell command -v $(CONF)),,$(error $(CONF) not found: \
	install kconfig-frontends-nox (sh scripts/install-deps.sh build)))

PHONY += menuconfig nconfig oldconfig olddefconfig savedefconfig defconfig
menuconfig nconfig oldconfig olddefconfig:
	$(Q)mkdir -p $(confdir)
	$(Q)$(call kconfig,$(if $(filter menuconfig,$@),$(MCONF),$(if $(filter nconfig,$@),$(NCONF),$(CONF) --$@)))

# The minimal file that gives this configuration, for configs/.
savedefconfig:
	$(Q)$(call kconfig,$(CONF) --savedefconfig=defconfig)

defconfig: configs/defconfig FORCE
	$(Q)mkdir -p $(confdir)
	$(Q)$(call kconfig,$(CONF) --defconfig=$(srctree)/$<)

%_defconfig: configs/%_defconfig FORCE
	$(Q)mkdir -p $(confdir)
	$(Q)$(call kconfig,$(CONF) --defconfig=$(srctree)/$<)

# A fragment of configs/ over the current .config, as kbuild's
# "make kvm_guest.config": its lines come last, so they win.
%.config: configs/%.config FORCE
	$(Q)[ -f $(dot-config) ] || { echo "*** no $(dot-config): make a defconfig first" >&2; exit 1; }
	$(Q)cat $< >>$(dot-config)
	$(Q)$(call kconfig,$(CONF) --olddefconfig)

ifneq ($(build-goals),)

# A plain "make" in a fresh tree starts from the defaults.
$(dot-config):
	@echo "*** No $@: creating it from configs/defconfig"
	$(Q)mkdir -p $(confdir)
	$(Q)$(call kconfig,$(CONF) --defconfig=$(srctree)/configs/defconfig)

# --silentoldconfig writes auto.conf and autoconf.h (always, so every
# object rebuilds after .config changes), but aborts when a symbol is new
# or invalid and stdin is no terminal: give such symbols their defaults
# first, and say so.
$(autoconf-mk) $(autoconf-h) &: $(dot-config) $(kconfig-files)
	$(call msg,CONF,$(autoconf-h))
	$(Q)mkdir -p $(confdir)/include/config $(confdir)/include/generated
	$(Q)new=$$( $(call kconfig,$(CONF) --listnewconfig) ); \
	if [ -n "$$new" ]; then \
		echo "*** $(dot-config): new or invalid, set to defaults:" $$new; \
		$(call kconfig,$(CONF) --olddefconfig) >/dev/null; \
	fi
	$(Q)$(call kconfig,$(CONF) --silentoldconfig)

# Make remakes auto.conf (and .config) first, then restarts with it read.
-include $(autoconf-mk)

endif # build-goals

# ---------------------------------------------------------------------------
# The library

# Read the fragments one at a time and keep each directory's obj-y, each
# object once (a line listed twice would otherwise be linked twice).
# libs-y collects the libraries the objects need (-lyaml, ...).
uniq = $(if $(1),$(firstword $(1)) $(call uniq,$(filter-out $(firstword $(1)),$(1))))
libs-y :=
define read-fragment
obj-y :=
include $(1)/Makefile
objs-$(1) := $$(addprefix $(outdir)/$(1)/,$$(call uniq,$$(obj-y)))
endef
$(foreach d,$(subdirs),$(eval $(call read-fragment,$(d))))
objs := $(foreach d,$(subdirs),$(objs-$(d)))

# Objects carry both machine code and the optimiser's IR (fat LTO
# objects): libhakmem.so is linked with link-time optimisation, while
# libhakmem.a stays an ordinary archive any linker can use.
lto-cflags := -flto -ffat-lto-objects
lto-ldflags := -flto=auto
# clang (make fuzz) makes no fat LTO objects: its archive would hold IR
# only, which just clang's own linker plugin can read.  Build it plainly.
ifneq ($(findstring clang,$(CC)),)
lto-cflags :=
lto-ldflags :=
endif
hak-cflags := -std=gnu11 $(CFLAGS) -fPIC -pthread -fvisibility=hidden \
	-ftls-model=initial-exec -Wall -Wextra $(lto-cflags) \
	-fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc \
	-fno-builtin-realloc
# $(O)/include comes first: a root include/generated/ left by the
# default build must not shadow this configuration's autoconf.h.
conf-include := $(if $(O),-I$(O)/include)
hak-cppflags := $(conf-include) -Iinclude -Icore
depflags := -MMD -MP

# Every policy of the tree, built or not, each named as its file: the
# option table tells a policy left out of this build from a typo.
$(outdir)/core/options.o: hak-cflags += \
	-DHAK_POLICY_NAMES='"$(basename $(notdir $(wildcard policies/*.c)))"'

libs := $(addprefix $(outdir)/,$(libreal) $(soname) libhakmem.so libhakmem.a)
PHONY += libs
libs: $(libs)

# The Makefile itself: its flags are part of every object.
$(outdir)/%.o: %.c $(autoconf-h) Makefile
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(hak-cppflags) $(hak-cflags) $(depflags) -c -o $@ $<

# -z defs turns a missing object (a backend configured out, say) into a
# link error instead of a failure when the library is loaded.
$(outdir)/$(libreal): $(objs) scripts/check-exports.sh
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -pthread $(CFLAGS) $(lto-ldflags) $(LDFLAGS) -Wl,-z,defs \
		-Wl,-soname,$(soname) -o $@ $(objs) $(call uniq,$(libs-y))
	$(call msg,EXPORTS,$@)
	$(Q)NM="$(NM)" sh scripts/check-exports.sh $@

$(outdir)/$(soname) $(outdir)/libhakmem.so: $(outdir)/$(libreal)
	$(call msg,LN,$@)
	$(Q)ln -sf $(<F) $@

# The archive holds one object, prelinked from all of them: plugins
# register themselves in linker sections and nothing names them, so as
# members of their own a static link would leave them out.  The merged
# object keeps the machine code and drops the optimiser's IR, which -r
# cannot merge.  Starting from an empty archive, objects configured out
# do not linger.
$(outdir)/libhakmem.a: $(objs)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(LD) -r -o $(outdir)/hakmem.o $(objs)
	$(Q)$(OBJCOPY) -R '.gnu.lto_*' -R '.gnu.debuglto_*' $(outdir)/hakmem.o
	$(Q)$(AR) rcs $@ $(outdir)/hakmem.o

# ---------------------------------------------------------------------------
# Tools: benchmarks and helpers, built with the plain compiler and not
# linked with hakmem (they are run under LD_PRELOAD to compare allocators).

tool-bins := $(patsubst %.c,$(outdir)/%,$(wildcard tools/*.c))
PHONY += tools
tools: $(tool-bins)

$(outdir)/tools/%: tools/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -pthread -Wall $(depflags) -o $@ $< -lm

# The trace replay (tools/replay/, docs/replay.md) is not one of them: it
# links this configuration's core without the malloc replacement, so
# that its own mallocs go to the C library and the core serves the
# trace's blocks alone.
replay-objs := $(filter-out $(addprefix $(outdir)/frontends/,libc.o glibc.o cxx.o),$(objs))
replay-own := $(patsubst %.c,$(outdir)/%.o,$(wildcard tools/replay/*.c))
replay-bin := $(outdir)/tools/replay/hakmem-replay
replay-cflags := -std=gnu11 $(CFLAGS) -pthread -Wall -Wextra $(conf-include) -Iinclude \
	-Icore -Itools/replay
tools: $(replay-bin)

$(outdir)/tools/replay/%.o: tools/replay/%.c $(autoconf-h) Makefile
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(replay-cflags) $(depflags) -c -o $@ $<

$(replay-bin): $(replay-own) $(replay-objs)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(lto-ldflags) -pthread $(LDFLAGS) -o $@ $(replay-own) $(replay-objs) \
		$(call uniq,$(libs-y))

# ---------------------------------------------------------------------------
# Tests: test/<dir>/test_<name>.c is a Check program, built as
# $(outdir)/test/<dir>/test_<name> with the helpers of test/lib/.  The
# directories in static-test-dirs link the static library to reach
# internals; every other one links libhakmem.so, named
# before libcheck and kept even if unused (--no-as-needed), so that the
# whole process allocates through hakmem.

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

test-bins := $(patsubst %.c,$(outdir)/%,$(wildcard test/*/test_*.c))
# test/<dir>/test_<name>.cc: C++ programs, for the C++ operators.
cxx-test-bins := $(patsubst %.cc,$(outdir)/%,$(wildcard test/*/test_*.cc))
ifeq ($(CONFIG_HAKMEM_FRONTEND_CXX),y)
test-bins += $(cxx-test-bins)
endif
# These are also built as NAME.preload, not linked with hakmem, and run
# under LD_PRELOAD=libhakmem.so: the two ways a program gets hakmem.
preload-tests := api/test_glibc_extras $(if $(filter $(cxx-test-bins),$(test-bins)),api/test_cxx)
preload-bins := $(addsuffix .preload,$(addprefix $(outdir)/test/,$(preload-tests)))

# Suites that call malloc and check what hakmem answers need hakmem to be
# the process's malloc (CONFIG_HAKMEM_FRONTEND_LIBC); a configuration
# without it skips them.  test_cross_thread runs in both: STRESS_API=native
# sends its work through hak_*() instead.
libc-tests := api/test_aligned api/test_cxx api/test_glibc_extras api/test_hardened \
	api/test_libc_contract api/test_native_api api/test_startup api/test_trace stress/test_fork \
	stress/test_large_policies \
	stress/test_limits stress/test_rss_purge stress/test_stats_dump stress/test_thread_churn
ifneq ($(CONFIG_HAKMEM_FRONTEND_LIBC),y)
skipped-tests := $(filter $(addprefix $(outdir)/test/,$(libc-tests)),$(test-bins))
test-bins := $(filter-out $(skipped-tests),$(test-bins))
preload-bins :=
export STRESS_API := native
endif

# TEST_SUITES (separated by commas or spaces): what runtests runs.  A
# directory of test/ runs its test programs; "options-doc" checks that
# docs/options.md is not stale; "layers" checks this build's core objects
# with scripts/check-layers.sh; "programs" and "tools" run real programs
# under LD_PRELOAD, so a configuration without the malloc replacement
# skips them.  TEST_PROFILE=NAME runs them all with
# HAKMEM_PROFILE=configs/profiles/NAME.yaml.
TEST_SUITES ?= $(sort $(patsubst test/%/,%,$(dir $(wildcard test/*/test_*.c)))) options-doc
test-suites := $(subst $(comma), ,$(TEST_SUITES))
run-bins := $(filter $(patsubst %,$(outdir)/test/%/%,$(test-suites)),$(test-bins))
run-preload := $(filter $(patsubst %,$(outdir)/test/%/%,$(test-suites)),$(preload-bins))
skipped-tests := $(filter $(patsubst %,$(outdir)/test/%/%,$(test-suites)),$(skipped-tests))
preload-suites := $(filter programs tools,$(test-suites))
ifneq ($(CONFIG_HAKMEM_FRONTEND_LIBC),y)
skipped-preload := $(preload-suites)
preload-suites :=
endif
ifneq ($(TEST_PROFILE),)
export HAKMEM_PROFILE := $(srctree)/configs/profiles/$(TEST_PROFILE).yaml
export TEST_TAG := $(TEST_PROFILE)
endif
test-log = $(1)$(if $(TEST_PROFILE),@$(TEST_PROFILE)).log
test-cflags := -std=gnu11 $(CFLAGS) -pthread -Wall -Wextra \
	-fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc \
	-fno-builtin-realloc $(conf-include) -Iinclude -Itest/lib $(CHECK_CFLAGS)
test-cxxflags := -std=gnu++17 $(filter-out -std=%,$(test-cflags))
need-check = $(if $(CHECK_LIBS),,$(error pkg-config finds no "check": run scripts/install-deps.sh test))

test-lib := $(patsubst %.c,$(outdir)/%.o,$(wildcard test/lib/*.c))

PHONY += tests
tests: $(test-lib) $(test-bins) $(preload-bins)

$(outdir)/test/lib/%.o: test/lib/%.c $(autoconf-h) Makefile
	$(need-check)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(test-cflags) $(depflags) -c -o $@ $<

# Directories whose tests reach internals: unit/ (core modules), policy/
# (each policy on the real policy host), config/ (the option table and the
# profile loader).
static-test-dirs := unit policy config

define static-test-rule
$$(outdir)/test/$(1)/%: test/$(1)/%.c $$(test-lib) $$(outdir)/libhakmem.a $$(autoconf-h)
	$$(need-check)
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(test-cflags) -Icore $$(depflags) -o $$@ $$< $$(test-lib) \
		$$(outdir)/libhakmem.a $$(call uniq,$$(libs-y)) $$(CHECK_LIBS)
endef
$(foreach d,$(static-test-dirs),$(eval $(call static-test-rule,$(d))))

$(outdir)/test/%: test/%.c $(test-lib) $(outdir)/libhakmem.so $(outdir)/$(soname) $(autoconf-h)
	$(need-check)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(test-cflags) $(depflags) -o $@ $< $(test-lib) \
		-L$(outdir) -Wl,--no-as-needed -lhakmem -Wl,--as-needed \
		-Wl,-rpath,$(abspath $(outdir)) $(CHECK_LIBS)

$(outdir)/test/%: test/%.cc $(test-lib) $(outdir)/libhakmem.so $(outdir)/$(soname) $(autoconf-h)
	$(need-check)
	$(call msg,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(test-cxxflags) $(depflags) -o $@ $< $(test-lib) \
		-L$(outdir) -Wl,--no-as-needed -lhakmem -Wl,--as-needed \
		-Wl,-rpath,$(abspath $(outdir)) $(CHECK_LIBS)

# test/replay/ links the trace reader and the trace writer of the tests,
# and runs hakmem-replay, whose path it is given.
replay-test-objs := $(outdir)/tools/replay/trace.o $(outdir)/test/replay/tracegen.o
$(outdir)/test/replay/tracegen.o: test/replay/tracegen.c $(autoconf-h) Makefile
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(test-cflags) -Itools/replay $(depflags) -c -o $@ $<

$(outdir)/test/replay/%: test/replay/%.c $(replay-test-objs) $(test-lib) $(replay-bin) \
		$(outdir)/libhakmem.so $(outdir)/$(soname) $(autoconf-h)
	$(need-check)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(test-cflags) -Itools/replay -DREPLAY_BIN='"$(abspath $(replay-bin))"' \
		$(depflags) -o $@ $< $(replay-test-objs) $(test-lib) \
		-L$(outdir) -Wl,--no-as-needed -lhakmem -Wl,--as-needed \
		-Wl,-rpath,$(abspath $(outdir)) $(CHECK_LIBS)

$(outdir)/test/%.preload: test/%.c $(test-lib) $(autoconf-h)
	$(need-check)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(test-cflags) $(depflags) -o $@ $< $(test-lib) $(CHECK_LIBS) -ldl

$(outdir)/test/%.preload: test/%.cc $(test-lib) $(autoconf-h)
	$(need-check)
	$(call msg,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(test-cxxflags) $(depflags) -o $@ $< $(test-lib) $(CHECK_LIBS) -ldl

# docs/options.md's option tables come from the option list and the
# policies' schemas, through a program built with every policy of the
# tree whatever this configuration holds: "make options-doc" rewrites
# them, and runtests fails while they are stale.
gen-options := $(outdir)/scripts/gen-options-doc
$(gen-options): scripts/gen-options-doc.c $(wildcard policies/*.c) core/options.h \
		include/hakmem_policy.h $(autoconf-h)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 $(CFLAGS) -Wall -Wextra $(hak-cppflags) -o $@ $(filter %.c,$^)

option-docs := docs/options.md man/hakmem.3 man/hakmem-profile.5
PHONY += options-doc
options-doc: $(gen-options)
	$(Q)sh scripts/options-doc.sh $(gen-options) $(option-docs)

# "make runtests" runs this configuration's test programs and sums them
# up; "make test" calls it once per configuration with a shared results
# file and prints one summary at the end.
ifeq ($(origin TEST_RESULTS),undefined)
TEST_RESULTS := $(outdir)/test-results
runtests-alone := 1
endif
export CK_FORK ?= yes

PHONY += runtests
runtests: libs tests $(gen-options)
	$(if $(runtests-alone),@rm -f $(TEST_RESULTS))
	$(if $(skipped-tests),@echo "  SKIP    $(patsubst $(outdir)/test/%,%,$(skipped-tests))" \
		"(no malloc replacement in this configuration)")
	$(Q)for t in $(run-bins); do \
		TIMEOUT=$(TEST_TIMEOUT) sh scripts/run-test.sh $(TEST_RESULTS) $(call test-log,$$t) $$t; \
	done
	$(Q)for t in $(run-preload); do \
		LD_PRELOAD=$(abspath $(outdir))/libhakmem.so TIMEOUT=$(TEST_TIMEOUT) \
			sh scripts/run-test.sh $(TEST_RESULTS) $(call test-log,$$t) $$t; \
	done
	$(if $(filter options-doc,$(test-suites)),$(Q)sh scripts/run-test.sh $(TEST_RESULTS) \
		$(call test-log,$(outdir)/test/options-doc) \
		scripts/options-doc.sh $(gen-options) --check $(option-docs))
	$(if $(filter layers,$(test-suites)),$(Q)sh scripts/run-test.sh $(TEST_RESULTS) \
		$(call test-log,$(outdir)/check-layers) scripts/check-layers.sh $(outdir))
	$(if $(skipped-preload),@echo "  SKIP    $(addprefix test/,$(skipped-preload))" \
		"(they run under LD_PRELOAD)")
	$(if $(filter programs,$(preload-suites)),$(Q)TIMEOUT=$(PROGRAMS_TIMEOUT) \
		sh scripts/run-test.sh $(TEST_RESULTS) $(call test-log,$(outdir)/test/programs) \
		$$([ -x test/programs/run.sh ] || echo sh) test/programs/run.sh \
		$(abspath $(outdir))/libhakmem.so)
	$(if $(filter tools,$(preload-suites)),$(Q)for t in test/tools/test_*.sh; do \
		sh scripts/run-test.sh $(TEST_RESULTS) \
			$(call test-log,$(outdir)/$${t%.sh}) \
			$$t $(abspath $(outdir))/libhakmem.so; \
	done)
	$(if $(runtests-alone),$(Q)sh scripts/test-summary.sh $(TEST_RESULTS))

# ---------------------------------------------------------------------------
# Fuzzing: test/fuzz/fuzz_<name>.c is a libFuzzer target, linked with
# libhakmem.a.  "make fuzz" builds them with clang in FUZZ_O and runs each
# one (scripts/run-fuzz.sh).

fuzz-bins := $(patsubst %.c,$(outdir)/%,$(wildcard test/fuzz/fuzz_*.c))

PHONY += fuzzers
fuzzers: $(fuzz-bins)

# fuzz_trace reads its input with the replay's trace reader, whose
# trace.h comes before the recorder's in core/.
$(outdir)/test/fuzz/fuzz_trace: $(outdir)/tools/replay/trace.o

$(outdir)/test/fuzz/%: test/fuzz/%.c $(outdir)/libhakmem.a $(autoconf-h)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(test-cflags) -Itools/replay -Icore -fsanitize=fuzzer $(depflags) -o $@ $< \
		$(filter %.o,$^) $(outdir)/libhakmem.a $(call uniq,$(libs-y))

-include $(objs:.o=.d) $(test-lib:.o=.d) $(replay-own:.o=.d) $(replay-test-objs:.o=.d) \
	$(addsuffix .d,$(tool-bins) $(test-bins) $(preload-bins) $(fuzz-bins))

# ---------------------------------------------------------------------------
# Goals that need no configuration

# Everything a clean checkout needs: install missing packages, then each
# row of test/matrix in order, each a make of its own so that it sees the
# configuration (and the packages) the step before it made.  A row names
# its build directory: "default" is this one; any other NAME is NAME_O
# when set (DEBUG_O=...), else build/NAME (with SANITIZE=, $(O)/NAME).
# Under ASan or TSan each configuration is made native-only when it is
# first configured.
test-results := $(abspath $(outdir))/test-results
native-config := $(if $(native-only),native.config)
test-matrix = $(shell awk '!/^$(hash)/ && NF { print $$1 ":" $$2 ":" $$3 ":" $$4 }' test/matrix)
test-base := $(if $(SANITIZE),$(O),build)
test-dir = $(if $(filter default,$(1)),$(confdir),$(or $($(shell echo $(1) | tr a-z A-Z)_O),$(test-base)/$(1)))
test-o = $(if $(filter-out default,$(1)),O=$(call test-dir,$(1)))

# One row of test/matrix: NAME DEFCONFIG PROFILE SUITES, as words, and
# its number.
define test-row
	@echo "==== configuration $(2) of $(words $(test-matrix)): $(word 1,$(1))" \
		"($(word 2,$(1))$(if $(filter-out -,$(word 3,$(1))), + $(word 3,$(1)))): $(word 4,$(1))"
	$(Q)[ -f $(call test-dir,$(word 1,$(1)))/.config ] || \
		$(MAKE) $(call test-o,$(word 1,$(1))) $(word 2,$(1)) $(native-config)
	$(Q)$(MAKE) $(call test-o,$(word 1,$(1))) all runtests TEST_RESULTS=$(test-results) \
		TEST_SUITES=$(word 4,$(1)) TEST_PROFILE=$(filter-out -,$(word 3,$(1)))

endef

PHONY += test check
test check:
	$(Q)sh scripts/install-deps.sh test
	@mkdir -p $(outdir)
	@rm -f $(test-results)
	$(foreach k,$(shell seq $(words $(test-matrix))),\
		$(call test-row,$(subst :, ,$(word $(k),$(test-matrix))),$(k)))
	$(Q)sh scripts/test-summary.sh $(test-results)

# Real projects' own regression suites (a fixed selection of CPython's,
# GLib's and MariaDB's) without a preload and under LD_PRELOAD of the
# default and hardened builds, test/matrix's rows of those names (each
# configured from its row's defconfig when it has no .config yet): a
# test that ends otherwise than under glibc fails (test/programs/suites.sh;
# about six minutes on 2 cores, not part of make test).
suite-builds := default hardened
matrix-defconfig = $(shell awk '$$1 == "$(1)" { print $$2; exit }' test/matrix)
suite-lib = $(abspath $(if $(filter default,$(1)),$(outdir),$(call test-dir,$(1))))/libhakmem.so

define suite-build
	$(Q)[ -f $(call test-dir,$(1))/.config ] || \
		$(MAKE) $(call test-o,$(1)) $(call matrix-defconfig,$(1))
	$(Q)$(MAKE) $(call test-o,$(1)) libs

endef

PHONY += test-suites
test-suites:
	$(Q)sh scripts/install-deps.sh suites
	$(foreach b,$(suite-builds),$(call suite-build,$(b)))
	$(Q)bash test/programs/suites.sh $(foreach b,$(suite-builds),$(b)=$(call suite-lib,$(b)))

# A long randomised multi-threaded run under hakmem that prints RSS and the
# mapping count each second, then where RSS ends (not part of make test).
SOAK_SECONDS ?= 600
PHONY += soak
soak: libs $(outdir)/tools/soak
	LD_PRELOAD=$(abspath $(outdir))/libhakmem.so $(outdir)/tools/soak -t 4 -s $(SOAK_SECONDS)

# The libFuzzer targets of test/fuzz/, built with clang and ASan + UBSan
# for configs/fuzz_defconfig in a directory of their own, each run for
# FUZZ_SECONDS; a crash fails the goal (not part of make test).
FUZZ_O ?= build/fuzz
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
PHONY += fuzz
fuzz:
	$(Q)sh scripts/install-deps.sh fuzz
	$(Q)[ -f $(FUZZ_O)/.config ] || $(MAKE) O=$(FUZZ_O) fuzz_defconfig
	$(Q)$(MAKE) O=$(FUZZ_O) CC=$(FUZZ_CC) SANITIZE=fuzzer-no-link,address,undefined fuzzers
	$(Q)sh scripts/run-fuzz.sh $(FUZZ_O) $(FUZZ_SECONDS)

PHONY += install-deps
install-deps:
	$(Q)sh scripts/install-deps.sh all

# make install: the libraries, headers, hakmem.pc, the wrapper (told
# where the library and which version it is), hakmem-report, the replay
# (its front end told where its engine is), the man pages and the shipped
# profiles.  Each line of inst-files is a file
# install writes, and exactly what uninstall removes.
inst-headers := $(notdir $(wildcard include/hakmem*.h))
inst-profiles := $(notdir $(wildcard configs/profiles/*.yaml))
inst-man := $(notdir $(wildcard man/*.[1-8]))
inst-files := \
	$(addprefix $(INCLUDEDIR)/,$(inst-headers)) \
	$(addprefix $(LIBDIR)/,$(libreal) $(soname) libhakmem.so libhakmem.a) \
	$(PKGCONFIGDIR)/hakmem.pc \
	$(BINDIR)/hakmem $(BINDIR)/hakmem-report $(BINDIR)/hakmem-replay \
	$(LIBEXECDIR)/hakmem/hakmem-replay \
	$(foreach m,$(inst-man),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(m)) \
	$(addprefix $(DATADIR)/hakmem/profiles/,$(inst-profiles))
inst-dirs := $(DATADIR)/hakmem/profiles $(DATADIR)/hakmem $(LIBEXECDIR)/hakmem

PHONY += install uninstall
install: libs $(replay-bin)
	install -d $(addprefix $(DESTDIR),$(BINDIR) $(LIBDIR) $(INCLUDEDIR) $(PKGCONFIGDIR) \
		$(DATADIR)/hakmem/profiles $(LIBEXECDIR)/hakmem $(sort $(dir $(filter $(MANDIR)/%,$(inst-files)))))
	install -m 644 $(addprefix include/,$(inst-headers)) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(outdir)/$(libreal) $(outdir)/libhakmem.a $(DESTDIR)$(LIBDIR)/
	ln -sf $(libreal) $(DESTDIR)$(LIBDIR)/$(soname)
	ln -sf $(soname) $(DESTDIR)$(LIBDIR)/libhakmem.so
	sed -e 's|@PREFIX@|$(PREFIX)|g; s|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g; s|@VERSION@|$(VERSION)|g' \
		-e 's|@LIBS_PRIVATE@|$(strip $(call uniq,$(libs-y)) -pthread)|g' \
		hakmem.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc
	sed -e 's|^installed_lib=$$|installed_lib=$(LIBDIR)/$(soname)|' \
		-e 's|^version=$$|version=$(VERSION)|' tools/hakmem >$(DESTDIR)$(BINDIR)/hakmem
	chmod 755 $(DESTDIR)$(BINDIR)/hakmem
	install -m 755 tools/hakmem-report $(DESTDIR)$(BINDIR)/
	install -m 755 $(replay-bin) $(DESTDIR)$(LIBEXECDIR)/hakmem/
	sed -e 's|^INSTALLED_ENGINE = ""$$|INSTALLED_ENGINE = "$(LIBEXECDIR)/hakmem/hakmem-replay"|' \
		tools/hakmem-replay >$(DESTDIR)$(BINDIR)/hakmem-replay
	chmod 755 $(DESTDIR)$(BINDIR)/hakmem-replay
	$(foreach m,$(inst-man),install -m 644 man/$(m) \
		$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/;)
	install -m 644 $(addprefix configs/profiles/,$(inst-profiles)) \
		$(DESTDIR)$(DATADIR)/hakmem/profiles/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(inst-files))
	rmdir $(addprefix $(DESTDIR),$(inst-dirs)) 2>/dev/null || true

# The version, for scripts (scripts/check-package.sh).
PHONY += version
version:
	@echo $(VERSION)

# clean keeps the configuration; without O= it leaves build/debug alone.
PHONY += clean distclean
clean:
	$(call msg-raw,CLEAN,$(outdir))
	$(Q)rm -rf $(addprefix $(outdir)/,core policies backends frontends scripts test tools) \
		$(outdir)/libhakmem.so* $(outdir)/libhakmem.a $(outdir)/hakmem.o \
		$(outdir)/test-results

distclean: clean
	$(call msg-raw,CLEAN,$(dot-config) $(confpre)include/generated $(confpre)include/config)
	$(Q)rm -rf $(dot-config) $(dot-config).old \
		$(confpre)include/generated $(confpre)include/config
ifeq ($(O),)
	$(Q)rm -rf build
else
	@rmdir $(O)/include $(O) 2>/dev/null || true
endif

PHONY += help
help:
	@echo 'Configuration (writes $(dot-config)):'
	@echo '  menuconfig         - edit the configuration in a menu (ncurses)'
	@echo '  nconfig            - the same, newer look'
	@echo '  oldconfig          - update .config, asking about new symbols'
	@echo '  olddefconfig       - update .config, new symbols get their defaults'
	@echo '  defconfig          - new .config from configs/defconfig'
	@$(foreach f,$(filter-out configs/defconfig,$(wildcard configs/*_defconfig)), \
		printf '  %-18s - new .config from %s\n' $(notdir $(f)) $(f);)
	@echo '  savedefconfig      - write the minimal file for this .config'
	@echo '                       to $(confdir)/defconfig'
	@$(foreach f,$(wildcard configs/*.config), \
		printf '  %-18s - merge %s into .config\n' $(notdir $(f)) $(f);)
	@echo
	@echo 'Building (into $(outdir)/):'
	@echo '  all                - libhakmem.so, libhakmem.a and the tools (default)'
	@echo '  libs               - libhakmem.so and libhakmem.a only'
	@echo '  tools              - tools/*.c (benchmarks; not linked with hakmem) and'
	@echo '                       tools/replay/hakmem-replay (docs/replay.md)'
	@echo '  tests              - build the test programs without running them'
	@echo '  options-doc        - rewrite the option tables of docs/options.md'
	@echo '  fuzzers            - build the libFuzzer targets of test/fuzz/ (CC=clang)'
	@echo '  install            - install the libraries, headers, hakmem.pc, the tools,'
	@echo '                       man pages and profiles into $$(DESTDIR)$$(PREFIX)'
	@echo '                       (PREFIX=$(PREFIX); also BINDIR, LIBDIR, MANDIR, ...)'
	@echo '  uninstall          - remove what install put there (same variables)'
	@echo '  version            - print the version (from include/hakmem.h)'
	@echo
	@echo 'Testing:'
	@echo '  test, check        - install missing packages, then build and run every'
	@echo '                       configuration and suite test/matrix lists (default, debug,'
	@echo '                       minimal, hardened, then test/programs); ends with "N passed, N failed"'
	@echo '  test-suites        - CPython'"'"'s, GLib'"'"'s and MariaDB'"'"'s own tests (a selection) under'
	@echo '                       glibc and the default and hardened builds; fails where a result'
	@echo '                       differs from glibc'"'"'s (SUITES=, SUITES_JOBS=, SUITES_TIMEOUT=)'
	@echo '  runtests           - build and run the test programs of this configuration'
	@echo '                       (TEST_SUITES=unit,api,... picks some; TEST_PROFILE=vm runs under a profile)'
	@echo '  fuzz               - build test/fuzz/ with clang, ASan and UBSan in FUZZ_O and'
	@echo '                       run each target for FUZZ_SECONDS; fails on a crash'
	@echo '  install-deps       - install the packages for building, tests and benchmarks'
	@echo
	@echo 'Cleaning:'
	@echo '  clean              - remove objects, libraries, tests and tools'
	@echo '  distclean          - clean, and remove the configuration$(if $(O),, and build/)'
	@echo
	@echo 'Variables:'
	@echo '  O=DIR              - put .config, include/generated/ and all outputs in DIR'
	@echo '  V=1                - print full commands'
	@echo '  CFLAGS=...         - optimisation and debug flags (default: -O2 -g)'
	@echo '  soak               - tools/soak under hakmem for SOAK_SECONDS (600): RSS and mappings each second'
	@echo '  SANITIZE=LIST      - build with -fsanitize=LIST, e.g. make test O=build/san SANITIZE=undefined;'
	@echo '                       with address or thread, make test runs the native API suites only'
	@echo '  FUZZ_SECONDS=S     - how long make fuzz runs each target ($(FUZZ_SECONDS))'
	@echo '  FUZZ_O=DIR         - where make fuzz builds ($(FUZZ_O))'
	@echo '  NAME_O=DIR         - where make test builds test/matrix'"'"'s NAME, e.g. DEBUG_O (build/NAME)'
	@echo '  TEST_TIMEOUT=S     - seconds each test program may run ($(TEST_TIMEOUT))'

PHONY += FORCE
FORCE:

endif # one kind of goal

.PHONY: $(PHONY)
