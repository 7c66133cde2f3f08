# Thin wrapper over meson + ninja. `make` builds build/mcferry.
BUILD ?= build
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all deps check unit net demo bench clean asan

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

demo: all
	./scripts/demo.sh $(BUILD)

bench: all
	./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
