/*
 * What every harness shares: how an invariant that does not hold stops the run.
 *
 * A harness must be able to fail on more than a sanitizer report: FZ_CHECK
 * aborts (libFuzzer then saves the input as a crash-* file) with a line
 * saying which property broke.  It is always on: no NDEBUG can turn it off.
 */
#ifndef KEEL_TESTS_FUZZ_H
#define KEEL_TESTS_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points (the harness defines them). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn, format(printf, 1, 2))) static inline void
fz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: invariant violated: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                           \
		if (!(cond))                                                                               \
			fz_fail(__VA_ARGS__);                                                                  \
	} while (0)

#endif
