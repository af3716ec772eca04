/*
 * Prometheus metrics registry.
 *
 * One mutex guards the registry: an update is a hash lookup and an add, far
 * below a request's own cost, and scrapes are rare.  Families keep their
 * declaration order and series their creation order, so the output is
 * stable.  Histograms use one fixed set of latency buckets (seconds).
 */
#include "telemetry/telemetry.h"
#include "core/alloc.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct series {
	struct series *next; /* in the family, creation order */
	char *labels;
	double value; /* counter, gauge; histogram: sum */
	uint64_t count;
	uint64_t bucket[NBUCKETS];
} series;

typedef struct family {
	struct family *next;
	char *name;
	char *help;
	keel_metric_type type;
	series *head, *tail;
} family;

typedef struct collector {
	struct collector *next;
	void (*collect)(keel_metrics *m, void *ctx);
	void *ctx;
} collector;

struct keel_metrics {
	pthread_mutex_t lock;
	family *head, *tail;
	collector *collectors;
	time_t started;
};

keel_metrics *
keel_metrics_create(void)
{
	keel_metrics *m = keel_xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->lock, NULL);
	m->started = time(NULL);
	return m;
}

void
keel_metrics_destroy(keel_metrics *m)
{
	if (m == NULL)
		return;
	for (family *f = m->head, *fn; f != NULL; f = fn) {
		fn = f->next;
		for (series *s = f->head, *sn; s != NULL; s = sn) {
			sn = s->next;
			free(s->labels);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	for (collector *c = m->collectors, *cn; c != NULL; c = cn) {
		cn = c->next;
		free(c);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static family *
family_find(keel_metrics *m, const char *name)
{
	for (family *f = m->head; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

void
keel_metrics_declare(keel_metrics *m, const char *name, keel_metric_type type, const char *help)
{
	pthread_mutex_lock(&m->lock);
	family *f = family_find(m, name);

	if (f != NULL) {
		if (f->type != type) {
			fprintf(stderr, "keel: metric %s declared twice with different types\n", name);
			abort();
		}
		pthread_mutex_unlock(&m->lock);
		return;
	}
	f = keel_xcalloc(1, sizeof(*f));
	f->name = keel_xstrdup(name);
	f->help = keel_xstrdup(help);
	f->type = type;
	if (m->tail != NULL)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	pthread_mutex_unlock(&m->lock);
}

/* The series of name{labels}, created on first use; NULL for an undeclared family. */
static series *
series_get(keel_metrics *m, const char *name, const char *labels)
{
	family *f = family_find(m, name);

	if (f == NULL)
		return NULL;
	for (series *s = f->head; s != NULL; s = s->next)
		if (strcmp(s->labels, labels) == 0)
			return s;
	series *s = keel_xcalloc(1, sizeof(*s));

	s->labels = keel_xstrdup(labels);
	if (f->tail != NULL)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
	return s;
}

void
keel_metrics_add(keel_metrics *m, const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&m->lock);
	series *s = series_get(m, name, labels ? labels : "");

	if (s != NULL && v >= 0)
		s->value += v;
	pthread_mutex_unlock(&m->lock);
}

void
keel_metrics_set(keel_metrics *m, const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&m->lock);
	series *s = series_get(m, name, labels ? labels : "");

	if (s != NULL)
		s->value = v;
	pthread_mutex_unlock(&m->lock);
}

void
keel_metrics_observe(keel_metrics *m, const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&m->lock);
	series *s = series_get(m, name, labels ? labels : "");

	if (s != NULL) {
		s->value += v;
		s->count++;
		for (size_t i = 0; i < NBUCKETS; i++)
			if (v <= buckets[i])
				s->bucket[i]++;
	}
	pthread_mutex_unlock(&m->lock);
}

void
keel_metrics_collector(keel_metrics *m, void (*collect)(keel_metrics *m, void *ctx), void *ctx)
{
	collector *c = keel_xcalloc(1, sizeof(*c));

	c->collect = collect;
	c->ctx = ctx;
	pthread_mutex_lock(&m->lock);
	c->next = m->collectors;
	m->collectors = c;
	pthread_mutex_unlock(&m->lock);
}

char *
keel_metrics_label(keel_arena *a, const char *value)
{
	keel_buf b;

	keel_buf_init(&b, a);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			keel_buf_puts(&b, "\\\\");
		else if (*p == '"')
			keel_buf_puts(&b, "\\\"");
		else if (*p == '\n')
			keel_buf_puts(&b, "\\n");
		else
			keel_buf_append(&b, p, 1);
	}
	return b.data;
}

/* A sample value: integers without a fraction, NaN and infinities by name. */
static void
put_value(keel_buf *out, double v)
{
	if (isnan(v))
		keel_buf_puts(out, "NaN");
	else if (isinf(v))
		keel_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		keel_buf_printf(out, "%.0f", v);
	else
		keel_buf_printf(out, "%.9g", v);
}

static void
put_sample(keel_buf *out, const char *name, const char *suffix, const char *labels,
           const char *extra, double v)
{
	bool any = labels[0] != '\0' || extra != NULL;

	keel_buf_printf(out, "%s%s%s%s%s%s%s ", name, suffix, any ? "{" : "", labels,
	                labels[0] != '\0' && extra != NULL ? "," : "", extra ? extra : "",
	                any ? "}" : "");
	put_value(out, v);
	keel_buf_puts(out, "\n");
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

static void
render_family(const family *f, keel_buf *out)
{
	char le[48];

	keel_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	                type_names[f->type]);
	for (const series *s = f->head; s != NULL; s = s->next) {
		if (f->type != KEEL_METRIC_HISTOGRAM) {
			put_sample(out, f->name, "", s->labels, NULL, s->value);
			continue;
		}
		for (size_t i = 0; i < NBUCKETS; i++) {
			snprintf(le, sizeof(le), "le=\"%g\"", buckets[i]);
			put_sample(out, f->name, "_bucket", s->labels, le, (double)s->bucket[i]);
		}
		put_sample(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
		put_sample(out, f->name, "_sum", s->labels, NULL, s->value);
		put_sample(out, f->name, "_count", s->labels, NULL, (double)s->count);
	}
}

void
keel_metrics_render(keel_metrics *m, keel_buf *out)
{
	pthread_mutex_lock(&m->lock);
	collector *cs = m->collectors;

	pthread_mutex_unlock(&m->lock);
	for (collector *c = cs; c != NULL; c = c->next)
		c->collect(m, c->ctx);
	pthread_mutex_lock(&m->lock);
	for (const family *f = m->head; f != NULL; f = f->next)
		render_family(f, out);
	pthread_mutex_unlock(&m->lock);
}

/* Resident set size in bytes from /proc/self/statm; 0 when unreadable. */
static double
resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static double
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	double n = 0;

	if (d == NULL)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

void
keel_metrics_process(keel_metrics *m, void *ctx)
{
	(void)ctx;
	keel_metrics_declare(m, "process_resident_memory_bytes", KEEL_METRIC_GAUGE,
	                     "Resident memory size in bytes.");
	keel_metrics_declare(m, "process_open_fds", KEEL_METRIC_GAUGE,
	                     "Number of open file descriptors.");
	keel_metrics_declare(m, "process_start_time_seconds", KEEL_METRIC_GAUGE,
	                     "Start time of the process since the Unix epoch, in seconds.");
	keel_metrics_declare(m, "keel_uptime_seconds", KEEL_METRIC_GAUGE,
	                     "Seconds since this process started.");
	keel_metrics_set(m, "process_resident_memory_bytes", "", resident_bytes());
	keel_metrics_set(m, "process_open_fds", "", open_fds());
	keel_metrics_set(m, "process_start_time_seconds", "", (double)m->started);
	keel_metrics_set(m, "keel_uptime_seconds", "", difftime(time(NULL), m->started));
}
