# keel: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: all build run test fuzz format format-check clean

all: build

build:
	scripts/deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKEEL_TESTS=OFF >/dev/null
	cmake --build build -j "$$(nproc)"

run:
	scripts/run

test:
	scripts/test

# The libFuzzer harnesses (tests/fuzz) for 10 minutes each instead of make test's 20 s;
# inputs that reach new code are merged into tests/fuzz/corpus (commit them).
fuzz:
	KEEL_TEST_FUZZ_SECONDS=$${KEEL_TEST_FUZZ_SECONDS:-600} KEEL_TEST_FUZZ_MERGE=1 scripts/test-fuzz

SOURCES = $(shell git ls-files '*.c' '*.h')

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

clean:
	rm -rf build build-test build-memcheck build-fuzz

# Suites too slow or too long for every `make test` run: valgrind's memcheck
# on its own (make test runs it too), and the 10-minute soak (SOAK_SECONDS).
.PHONY: memcheck soak
memcheck:
	scripts/test-memcheck

soak:
	scripts/soak
