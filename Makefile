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

# Everything under ASan+UBSan (clang): unit tests, then the whole namespace
# suite with MCFERRY_SANITIZE=1, so a sanitizer report from any process a
# test starts fails that test (tests/net/conftest.py, sanitizer_check).
# The product runs instrumented; the test instruments (mcsend, mcrecv)
# come from the plain build, so a slow instrumented receiver does not turn
# a burst test into a slow-consumer test.
asan: all
	./scripts/deps.sh
	command -v clang >/dev/null || (apt-get update -qq && apt-get install -y -qq clang)
	[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
		-Dc_args=-fno-sanitize-recover=undefined \
		-Dc_link_args=-fno-sanitize-recover=undefined
	ninja -C build-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs
	MCFERRY_SANITIZE=1 MCFERRY_BUILD=$(abspath build-asan) \
		MCFERRY_TOOLS=$(abspath $(BUILD))/tests/tools $(PYTEST) -q tests/net

# libFuzzer on every parser and on the session (conn), FUZZ_SECONDS each,
# from the seed corpora (needs clang; new inputs land in build-fuzz/corpus-*,
# a crashing input in build-fuzz/crash-TARGET-*). Every target runs; the
# target fails if any of them crashed. The targets' own stderr is closed
# (-close_fd_mask=2: fuzz_conn logs at debug level so every log format
# runs); libFuzzer and sanitizer reports still print.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= frame uri config conn conn_msg psk http acl
fuzz:
	command -v clang >/dev/null || (apt-get update -qq && apt-get install -y -qq clang)
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true
	ninja -C build-fuzz
	failed=""; for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus-$$t && cp tests/fuzz/corpus/$$t/* build-fuzz/corpus-$$t/ && \
		build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-close_fd_mask=2 -print_final_stats=1 \
			-artifact_prefix=build-fuzz/crash-$$t- build-fuzz/corpus-$$t || \
			failed="$$failed $$t"; \
	done; [ -z "$$failed" ] || { echo "fuzz: crashed:$$failed" >&2; exit 1; }

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
