/*
 * A strict parser of the Prometheus text exposition format (0.0.4), for
 * tests: every line must be a well-formed HELP, TYPE or sample line; a
 * family's TYPE comes before its samples and only once; sample names belong
 * to their family (histograms: _bucket, _sum, _count); label names and
 * escaped values are checked; no series appears twice; histogram buckets are
 * cumulative and end with le="+Inf" equal to _count.
 */
#ifndef KEEL_TESTS_PROM_H
#define KEEL_TESTS_PROM_H

#include <stdbool.h>

/* NULL when text is valid; otherwise a malloc'd "line N: reason". */
char *prom_check(const char *text);

/* The value of the sample whose name and label string match exactly ("" for none); NaN when absent.
 */
double prom_value(const char *text, const char *name, const char *labels);

#endif
