# Thin wrapper over meson + ninja. `make` builds build/mcferry.
BUILD ?= build
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all deps check unit net demo bench clean asan fuzz install deb

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	./scripts/deps.sh

$(BUILD)/build.ninja:
	./scripts/deps.sh
	meson setup $(BUILD)

unit: all
	meson test -C $(BUILD) --print-errorlogs

net: all
	MCFERRY_BUILD=$(abspath $(BUILD)) $(PYTEST) -v tests/net

# Unit tests first, then the namespace tests; pytest's summary closes the run.
check: all
	./scripts/check.sh $(BUILD)

asan:
	./scripts/deps.sh
	meson setup build-asan -Db_sanitize=address,undefined -Dbuildtype=debug || true
	ninja -C build-asan
	meson test -C build-asan --print-errorlogs
	MCFERRY_BUILD=$(abspath build-asan) $(PYTEST) -q tests/net

# libFuzzer on every parser, FUZZ_SECONDS each, from the seed corpora
# (needs clang; new inputs land in build-fuzz/corpus-*).
FUZZ_SECONDS ?= 60
fuzz:
	command -v clang >/dev/null || (apt-get update -qq && apt-get install -y -qq clang)
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true
	ninja -C build-fuzz
	for t in frame uri config; do \
		mkdir -p build-fuzz/corpus-$$t && cp tests/fuzz/corpus/$$t/* build-fuzz/corpus-$$t/ && \
		build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus-$$t || exit 1; \
	done

# Install under PREFIX (default /usr, where the systemd units look for
# the binary), into DESTDIR when set: make install DESTDIR=/tmp/root
PREFIX ?= /usr
install: all
	meson configure $(BUILD) --prefix=$(PREFIX)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

# The Debian package, built with debhelper (dh --buildsystem=meson) in a
# build tree of its own, then checked with lintian. The .deb lands in
# DEB_OUT (default build-deb/).
DEB_OUT ?= build-deb
deb:
	./scripts/deps.sh deb
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/src
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - -cf - | tar -x -C $(DEB_OUT)/src
	cd $(DEB_OUT)/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --tag-display-limit 0 $(DEB_OUT)/*.changes
	ls -l $(DEB_OUT)/*.deb

demo: all
	./scripts/demo.sh $(BUILD)

bench: all
	python3 bench/bench.py $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
