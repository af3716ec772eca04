# keel: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: all build run test format format-check clean

all: build

build:
	scripts/deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKEEL_TESTS=OFF >/dev/null
	cmake --build build -j "$$(nproc)"

run:
	scripts/run

test:
	scripts/test

SOURCES = $(shell git ls-files '*.c' '*.h')

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

clean:
	rm -rf build build-test build-memcheck

# Suites too slow or too long for every `make test` run: valgrind's memcheck
# on its own (make test runs it too), and the 10-minute soak (SOAK_SECONDS).
.PHONY: memcheck soak
memcheck:
	scripts/test-memcheck

soak:
	scripts/soak
