# infosrv build. `make` builds build/infosrv; `make test` builds the
# sanitizer flavour and runs every suite; `make run` starts the daemon on its
# embedded defaults. Missing Debian packages are installed first (as root).

CC       ?= cc
FUZZ_CC  ?= clang
BUILD    := build
TBUILD   := build/test

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wvla -Wcast-qual -Wundef -Werror
CSTD     := -std=gnu11 -D_GNU_SOURCE
VERSION_STR := $(shell cat VERSION)
CFLAGS_COMMON := $(CSTD) $(WARN) -Isrc -pthread -MMD -MP -DINFOSRV_VERSION=\"$(VERSION_STR)\"
CFLAGS_REL  := $(CFLAGS_COMMON) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
CFLAGS_TEST := $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -DINFOSRV_TEST_BUILD
LDLIBS   := -pthread -lsqlite3 -ljansson -lssl -lcrypto -lsodium -lcurl -lz -lnghttp2

LIB_SRC  := $(wildcard src/core/*.c src/www/*.c src/gopher/*.c src/ftp/*.c src/runtime/*.c src/acme/*.c src/daemon/*.c src/metabase/*.c src/admin/*.c src/farm/*.c \
              src/cli/*.c)
LIB_SRC  := $(filter-out src/daemon/main.c src/cli/main.c src/metabase/gen_props_doc.c \
              $(wildcard src/*/gen_*.c),$(LIB_SRC))
MAIN_SRC := src/daemon/main.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB_TOBJ  := $(LIB_SRC:%.c=$(TBUILD)/obj/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(TBUILD)/unit/%)
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzzobj/%.o)
.SECONDARY: $(FUZZ_LIB_OBJ)

# Debian packages: to build, to test, to benchmark.
PKGS_BUILD := gcc make libc6-dev pkg-config libsqlite3-dev libjansson-dev libssl-dev libsodium-dev libcurl4-openssl-dev \
              zlib1g-dev libnghttp2-dev
PKGS_TEST  := clang libclang-rt-14-dev libcriterion-dev python3 python3-pytest curl openssl git testssl.sh lynx lftp pebble nghttp2-client python3-h2 prometheus groff lintian etcd-server etcd-client \
              chromium chromium-driver python3-selenium
PKGS_BENCH := nghttp2-client wrk nginx-light lighttpd lighttpd-mod-openssl h2o gophernicus socat vsftpd

FUZZ_SECONDS ?= 20
FUZZ_LONG    ?= 600

.PHONY: all run test unit e2e compat fuzz fuzz-smoke bench bench-admin clean deps deps-test deps-bench \
        install uninstall deb lint-deb
.DEFAULT_GOAL := all

all: $(BUILD)/infosrv $(BUILD)/infoadm

# Install only what is missing; apt-get update only when something is.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root to install:$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(PKGS_BUILD))
deps-test:
	$(call apt_install,$(PKGS_BUILD) $(PKGS_TEST))
deps-bench:
	$(call apt_install,$(PKGS_BUILD) $(PKGS_BENCH))

$(BUILD)/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	@echo "CC      $<"
	@$(CC) $(CFLAGS_REL) -c $< -o $@

$(TBUILD)/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	@echo "CC test $<"
	@$(CC) $(CFLAGS_TEST) -c $< -o $@

$(BUILD)/infosrv: $(LIB_OBJ) $(BUILD)/obj/src/daemon/main.o
	@echo "LD      $@"
	@$(CC) $(CFLAGS_REL) $(LDFLAGS_REL) -o $@ $^ $(LDLIBS)

$(BUILD)/libinfosrv.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(TBUILD)/libinfosrv.a: $(LIB_TOBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/infoadm: $(BUILD)/obj/src/cli/main.o $(BUILD)/libinfosrv.a
	@echo "LD      $@"
	@$(CC) $(CFLAGS_REL) $(LDFLAGS_REL) -o $@ $^ $(LDLIBS)

$(TBUILD)/infoadm: $(TBUILD)/obj/src/cli/main.o $(TBUILD)/libinfosrv.a
	@echo "LD test $@"
	@$(CC) $(CFLAGS_TEST) -o $@ $^ $(LDLIBS)

$(TBUILD)/infosrv: $(LIB_TOBJ) $(TBUILD)/obj/src/daemon/main.o
	@echo "LD test $@"
	@$(CC) $(CFLAGS_TEST) -o $@ $^ $(LDLIBS)

$(TBUILD)/unit/%: tests/unit/%.c $(LIB_TOBJ)
	@mkdir -p $(dir $@)
	@echo "LD unit $@"
	@$(CC) $(CFLAGS_TEST) -Itests/unit -o $@ $< $(LIB_TOBJ) -lcriterion $(LDLIBS)

# The library is compiled once with clang's fuzzing instrumentation; each
# target only compiles its driver and links.
FUZZ_FLAGS := $(CSTD) -Isrc -g -O1 -pthread -MMD -MP
$(BUILD)/fuzzobj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	@echo "CC fuzz $<"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "LD fuzz $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB_OBJ) $(LDLIBS)

# The property reference is generated from the property table.
$(BUILD)/gen_props_doc: src/metabase/gen_props_doc.c $(LIB_OBJ)
	@echo "LD      $@"
	@$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS)

docs/properties.md: $(BUILD)/gen_props_doc
	./$(BUILD)/gen_props_doc $@

# ---- manuals and completion (generated) ----
# man/infosrv-properties.5 from the property table; man/infoadm.1 from
# man/infoadm.1.in and infoadm's command table; the bash completion from
# contrib/bash-completion/infoadm.in and both tables. `make man` rewrites the
# three; tests/unit/test_manuals.c fails while a committed one is stale.
GEN_UTIL_OBJ := $(BUILD)/obj/src/core/gen_util.o

$(BUILD)/gen_props_man: $(BUILD)/obj/src/metabase/gen_props_man.o $(GEN_UTIL_OBJ) $(BUILD)/libinfosrv.a
	@echo "LD      $@"
	@$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS)

$(BUILD)/gen_infoadm_man: $(BUILD)/obj/src/cli/gen_infoadm_man.o $(GEN_UTIL_OBJ) $(BUILD)/libinfosrv.a
	@echo "LD      $@"
	@$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS)

$(BUILD)/gen_completion: $(BUILD)/obj/src/cli/gen_completion.o $(GEN_UTIL_OBJ) $(BUILD)/libinfosrv.a
	@echo "LD      $@"
	@$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS)

man/infosrv-properties.5: $(BUILD)/gen_props_man
	./$(BUILD)/gen_props_man $@

man/infoadm.1: man/infoadm.1.in $(BUILD)/gen_infoadm_man
	./$(BUILD)/gen_infoadm_man man/infoadm.1.in $@

contrib/bash-completion/infoadm: contrib/bash-completion/infoadm.in $(BUILD)/gen_completion
	./$(BUILD)/gen_completion contrib/bash-completion/infoadm.in $@

.PHONY: man
man: man/infosrv-properties.5 man/infoadm.1 contrib/bash-completion/infoadm
# ---- end manuals ----

# As whoever runs it (root stays root: the tree may be closed to other users).
run: deps
	$(MAKE) --no-print-directory all
	INFOSRV_USER=$${INFOSRV_USER:-$$(id -un)} ./$(BUILD)/infosrv

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; ./$$t --jobs 2; done

e2e: $(TBUILD)/infosrv $(TBUILD)/infoadm $(BUILD)/infosrv
	INFOSRV_BIN=$(abspath $(TBUILD)/infosrv) INFOADM_BIN=$(abspath $(TBUILD)/infoadm) \
	  /usr/bin/python3 -m pytest -q tests/e2e

# Two fuzzers at a time (one per core); each one's summary is printed when it ends,
# and any failure fails the target.
FUZZ_JOBS ?= 2
fuzz-smoke: $(FUZZ_BIN)
	@printf '%s\n' $(FUZZ_BIN) | xargs -P $(FUZZ_JOBS) -I{} sh -c 'f={}; n=$$(basename $$f); \
	  mkdir -p $(BUILD)/fuzz-work/$$n; \
	  if ./$$f -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/$$n.dict $(BUILD)/fuzz-work/$$n \
	       fuzz/corpus/$$n > $(BUILD)/fuzz-work/$$n.log 2>&1; then \
	    echo "== $$n for $(FUZZ_SECONDS)s: $$(grep "^Done" $(BUILD)/fuzz-work/$$n.log)"; \
	  else echo "== $$n FAILED:"; tail -n 40 $(BUILD)/fuzz-work/$$n.log; exit 255; fi'

# The compatibility suite builds the last three releases listed in RELEASES
# from git history and runs infoadm across versions in both directions.
compat: all
	/usr/bin/python3 tests/compat/run --all

test: deps-test
	$(MAKE) --no-print-directory -j2 unit
	$(MAKE) --no-print-directory -j2 e2e
	$(MAKE) --no-print-directory compat
	$(MAKE) --no-print-directory -j2 fuzz-smoke

fuzz: deps-test $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); \
	  mkdir -p $(BUILD)/fuzz-work/$$n; \
	  ./$$f -max_total_time=$(FUZZ_LONG) -dict=fuzz/$$n.dict $(BUILD)/fuzz-work/$$n fuzz/corpus/$$n; \
	done

bench: deps-bench all
	bench/http

bench-admin: deps-bench all
	bench/admin

# ---- install, and the Debian package ----
# make install [PREFIX=/usr/local] [DESTDIR=...] puts everything under
# DESTDIR; state and logs go to /var/lib/infosrv and /var/log/infosrv (the
# unit's StateDirectory and LogsDirectory). make uninstall takes it away
# again, leaving state and logs.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MAN_PAGES  := man/infosrv.8 man/infoadm.1 man/infosrv-properties.5
COMPLETION := contrib/bash-completion/infoadm
INSTALLED  := $(PREFIX)/sbin/infosrv $(PREFIX)/bin/infoadm \
              $(PREFIX)/share/man/man8/infosrv.8 $(PREFIX)/share/man/man1/infoadm.1 \
              $(PREFIX)/share/man/man5/infosrv-properties.5 \
              $(PREFIX)/share/bash-completion/completions/infoadm \
              $(UNITDIR)/infosrv.service $(SYSCONFDIR)/default/infosrv
LDFLAGS_REL := -Wl,-z,relro -Wl,-z,now

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)/var/lib/infosrv $(DESTDIR)/var/log/infosrv
	install -m 0755 $(BUILD)/infosrv $(DESTDIR)$(PREFIX)/sbin/infosrv
	install -m 0755 $(BUILD)/infoadm $(DESTDIR)$(PREFIX)/bin/infoadm
	install -m 0644 man/infosrv.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/infoadm.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/infosrv-properties.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(COMPLETION) $(DESTDIR)$(PREFIX)/share/bash-completion/completions/infoadm
	sed 's|/usr/sbin/infosrv|$(PREFIX)/sbin/infosrv|' dist/infosrv.service \
	  > $(DESTDIR)$(UNITDIR)/infosrv.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/infosrv.service
	test -e $(DESTDIR)$(SYSCONFDIR)/default/infosrv || \
	  install -m 0644 dist/default $(DESTDIR)$(SYSCONFDIR)/default/infosrv
	install -d $(DESTDIR)$(PREFIX)/share/infosrv/web
	cp -R web/. $(DESTDIR)$(PREFIX)/share/infosrv/web/
	find $(DESTDIR)$(PREFIX)/share/infosrv/web -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rm -rf $(DESTDIR)$(PREFIX)/share/infosrv
	-rmdir $(DESTDIR)/var/lib/infosrv $(DESTDIR)/var/log/infosrv 2>/dev/null

# make deb: build/infosrv_VERSION_amd64.deb from a staged install (dpkg-deb),
# binaries stripped, manuals and changelog compressed, dependencies from
# dpkg-shlibdeps; lintian must find no error.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB      := $(BUILD)/infosrv_$(VERSION_STR)_$(DEB_ARCH).deb
DEB_ROOT := $(BUILD)/deb/root

deb: deps all
	rm -rf $(BUILD)/deb
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr UNITDIR=/lib/systemd/system
	rmdir $(DEB_ROOT)/var/lib/infosrv $(DEB_ROOT)/var/log/infosrv $(DEB_ROOT)/var/lib \
	  $(DEB_ROOT)/var/log $(DEB_ROOT)/var
	strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	  $(DEB_ROOT)/usr/sbin/infosrv $(DEB_ROOT)/usr/bin/infoadm
	gzip -9n $(DEB_ROOT)/usr/share/man/man*/*
	install -d $(DEB_ROOT)/usr/share/doc/infosrv $(DEB_ROOT)/DEBIAN
	install -m 0644 dist/deb/copyright $(DEB_ROOT)/usr/share/doc/infosrv/copyright
	printf 'infosrv (%s) unstable; urgency=medium\n\n  * Release %s; see RELEASES and docs/.\n\n -- infosrv developers <infosrv@users.noreply.github.com>  %s\n' \
	  "$(VERSION_STR)" "$(VERSION_STR)" "$$(date -R -u -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))" \
	  | gzip -9n > $(DEB_ROOT)/usr/share/doc/infosrv/changelog.gz
	install -m 0755 dist/deb/postinst dist/deb/prerm dist/deb/postrm $(DEB_ROOT)/DEBIAN/
	echo /etc/default/infosrv > $(DEB_ROOT)/DEBIAN/conffiles
	cd $(DEB_ROOT) && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z \
	  | xargs -0 md5sum > DEBIAN/md5sums
	mkdir -p $(BUILD)/deb/debian && printf 'Source: infosrv\n\nPackage: infosrv\nArchitecture: any\n' \
	  > $(BUILD)/deb/debian/control
	cd $(BUILD)/deb && dpkg-shlibdeps -O -eroot/usr/sbin/infosrv -eroot/usr/bin/infoadm \
	  2>/dev/null | sed -n 's/^shlibs:Depends=//p' > depends
	{ echo "Package: infosrv"; echo "Version: $(VERSION_STR)"; echo "Architecture: $(DEB_ARCH)"; \
	  echo "Maintainer: infosrv developers <infosrv@users.noreply.github.com>"; \
	  echo "Installed-Size: $$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)"; \
	  echo "Depends: adduser, $$(cat $(BUILD)/deb/depends)"; \
	  echo "Section: httpd"; echo "Priority: optional"; \
	  echo "Description: Internet information server for WWW, FTP and Gopher"; \
	  echo " One daemon serving HTTP/1.1, HTTP/2 and HTTPS, FTP with FTPS, and Gopher, configured"; \
	  echo " through a revisioned property database and changed live with infoadm, across"; \
	  echo " server versions; certificates from ACME CAs are obtained and renewed"; \
	  echo " automatically."; } > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build $(DEB_ROOT) $(DEB)
	@echo "built $(DEB)"

lint-deb: deb
	lintian --fail-on error $(DEB)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
