/*
 * Spans and their export with OTLP/HTTP.
 *
 * Finished spans are copied into a bounded ring; a background thread sends
 * them in batches (up to KEEL_TRACE_BATCH per request, at least every
 * second) as OTLP/HTTP JSON to <endpoint>/v1/traces with libcurl.  Recording
 * never blocks a request: when the ring is full, or no exporter runs, the
 * span is dropped and counted.
 *
 * JSON rather than protobuf: the OpenTelemetry Collector's OTLP/HTTP
 * receiver accepts both; JSON needs no protobuf library and no generated
 * code in keel.  Ids are hex strings and 64-bit integers decimal strings, as
 * the OTLP JSON mapping prescribes.
 *
 * The batch is written straight into an arena buffer rather than built as
 * jansson values: a span is a fixed shape of a few strings, and building it
 * as objects (two per attribute, each with its hash table) and serializing
 * them cost about 14 us of CPU per span, two thirds of it in jansson and
 * malloc (perf, 100,000 spans into a local receiver) -- at ratio 1 and
 * 15,000 requests/s, more than a third of a core.  Strings are escaped per
 * RFC 8259; one that is not valid UTF-8 is replaced, since the receiver
 * would reject the whole batch.  jansson still builds the resource once.
 */
#include "telemetry/telemetry.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "core/trace.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEL_TRACE_BATCH 256

typedef struct stored_span {
	keel_span span;
	char name[128];
	char keys[KEEL_SPAN_ATTRS][48];
	char values[KEEL_SPAN_ATTRS][128];
} stored_span;

struct keel_tracer {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	stored_span *ring;
	int cap, head, count;
	bool stopping;
	bool running;
	pthread_t thread;
	char *url;
	struct curl_slist *headers;
	char *resource; /* {"attributes":[...]} as JSON text */
	char *version;
	uint64_t dropped, exported, failed;
	int64_t timeout_ms;
};

static json_t *
attr(const char *key, const char *value)
{
	return json_pack("{s:s, s:{s:s}}", "key", key, "value", "stringValue", value);
}

/* Resource attributes: service.name plus "k=v,k2=v2" of OTEL_RESOURCE_ATTRIBUTES. */
static json_t *
resource_of(const keel_tracer_opts *o)
{
	json_t *attrs = json_array();
	bool named = false;

	if (o->resource_attributes != NULL) {
		char *copy = keel_xstrdup(o->resource_attributes), *save = NULL;

		for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');

			if (eq == NULL || eq == kv)
				continue;
			*eq = '\0';
			named = named || strcmp(kv, "service.name") == 0;
			json_t *a = attr(kv, eq + 1);

			if (a != NULL)
				json_array_append_new(attrs, a);
		}
		free(copy);
	}
	if (!named || o->service_name != NULL)
		json_array_append_new(attrs,
		                      attr("service.name", o->service_name ? o->service_name : "keel"));
	json_array_append_new(attrs, attr("service.version", o->service_version));
	return json_pack("{s:o}", "attributes", attrs);
}

/* s as a JSON string. */
static void
put_string(keel_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (!keel_utf8_valid(s, n)) {
		keel_buf_puts(b, "\"(not valid UTF-8)\"");
		return;
	}
	keel_buf_append(b, "\"", 1);
	const char *run = s;

	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		keel_buf_append(b, run, (size_t)(p - run));
		if (c == '"' || c == '\\')
			keel_buf_printf(b, "\\%c", c);
		else
			keel_buf_printf(b, "\\u%04x", c);
		run = p + 1;
	}
	keel_buf_puts(b, run);
	keel_buf_append(b, "\"", 1);
}

/* An id as a JSON string of lowercase hex. */
static void
put_id(keel_buf *b, const uint8_t *id, int len)
{
	char hex[2 * 16 + 3];

	hex[0] = '"';
	keel_trace_hex(id, len, hex + 1);
	hex[2 * len + 1] = '"';
	keel_buf_append(b, hex, (size_t)(2 * len + 2));
}

/* A 64-bit integer as a JSON string, as OTLP/JSON writes them (a double loses digits). */
static void
put_int_string(keel_buf *b, long long v)
{
	char digits[24];
	char *p = digits + sizeof(digits);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	*--p = '"';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	*--p = '"';
	keel_buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

/*
 * One span of the OTLP JSON mapping.  Appends only, no printf: formatting
 * was a fifth of the exporter's time.
 */
static void
put_span(keel_buf *b, const stored_span *s)
{
	static const char *const kinds[] = {"0", "1", "2", "3", "4", "5"};

	keel_buf_puts(b, "{\"traceId\":");
	put_id(b, s->span.trace_id, 16);
	keel_buf_puts(b, ",\"spanId\":");
	put_id(b, s->span.span_id, 8);
	if (s->span.has_parent) {
		keel_buf_puts(b, ",\"parentSpanId\":");
		put_id(b, s->span.parent_id, 8);
	}
	keel_buf_puts(b, ",\"name\":");
	put_string(b, s->name);
	keel_buf_puts(b, ",\"kind\":");
	keel_buf_puts(b, s->span.kind >= 0 && s->span.kind <= 5 ? kinds[s->span.kind] : "0");
	keel_buf_puts(b, ",\"startTimeUnixNano\":");
	put_int_string(b, (long long)s->span.start_unix_ns);
	keel_buf_puts(b, ",\"endTimeUnixNano\":");
	put_int_string(b, (long long)s->span.end_unix_ns);
	keel_buf_puts(b, ",\"attributes\":[");
	for (int i = 0; i < s->span.nattrs; i++) {
		keel_buf_puts(b, i > 0 ? ",{\"key\":" : "{\"key\":");
		put_string(b, s->keys[i]);
		if (s->span.attr_is_int[i]) {
			keel_buf_puts(b, ",\"value\":{\"intValue\":");
			put_int_string(b, s->span.attr_int[i]);
		} else {
			keel_buf_puts(b, ",\"value\":{\"stringValue\":");
			put_string(b, s->values[i]);
		}
		keel_buf_puts(b, "}}");
	}
	keel_buf_puts(b, s->span.error ? "],\"status\":{\"code\":2}}" : "],\"status\":{\"code\":0}}");
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/*
 * POST one batch on the exporter's handle c; true when the receiver took it
 * (2xx).  The handle is kept between batches, so its connection to the
 * receiver is reused (keep-alive) instead of opened for every batch.
 */
static bool
post(keel_tracer *t, CURL *c, const char *body)
{
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);

	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return rc == CURLE_OK && status >= 200 && status < 300;
}

/* Take up to KEEL_TRACE_BATCH spans off the ring (caller holds the lock). */
static int
take(keel_tracer *t, stored_span *out)
{
	int n = 0;

	while (t->count > 0 && n < KEEL_TRACE_BATCH) {
		out[n++] = t->ring[t->head];
		t->head = (t->head + 1) % t->cap;
		t->count--;
	}
	return n;
}

static void
export_batch(keel_tracer *t, CURL *c, const stored_span *batch, int n)
{
	keel_arena *a = keel_arena_create((size_t)n * 768 + 1024);
	keel_buf b;

	keel_buf_init(&b, a);
	keel_buf_printf(
	    &b, "{\"resourceSpans\":[{\"resource\":%s,\"scopeSpans\":[{\"scope\":", t->resource);
	keel_buf_puts(&b, "{\"name\":\"keel\",\"version\":");
	put_string(&b, t->version);
	keel_buf_puts(&b, "},\"spans\":[");
	for (int i = 0; i < n; i++) {
		if (i > 0)
			keel_buf_append(&b, ",", 1);
		put_span(&b, &batch[i]);
	}
	keel_buf_puts(&b, "]}]}]}");
	bool ok = c != NULL && post(t, c, b.data);

	keel_arena_destroy(a);
	pthread_mutex_lock(&t->lock);
	if (ok)
		t->exported += (uint64_t)n;
	else
		t->failed += (uint64_t)n;
	pthread_mutex_unlock(&t->lock);
}

static void *
exporter(void *arg)
{
	keel_tracer *t = arg;
	stored_span *batch = keel_xcalloc(KEEL_TRACE_BATCH, sizeof(stored_span));
	CURL *c = curl_easy_init();

	for (;;) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_mutex_lock(&t->lock);
		while (t->count < KEEL_TRACE_BATCH && !t->stopping &&
		       pthread_cond_timedwait(&t->wake, &t->lock, &until) == 0)
			;
		int n = take(t, batch);
		bool stop = t->stopping && t->count == 0;

		pthread_mutex_unlock(&t->lock);
		if (n > 0)
			export_batch(t, c, batch, n);
		if (stop)
			break;
	}
	curl_easy_cleanup(c);
	free(batch);
	return NULL;
}

void
keel_telemetry_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
keel_telemetry_global_cleanup(void)
{
	curl_global_cleanup();
}

keel_tracer *
keel_tracer_create(const keel_tracer_opts *o)
{
	keel_tracer *t = keel_xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	t->cap = o->queue > 0 ? o->queue : 2048;
	t->ring = keel_xcalloc((size_t)t->cap, sizeof(stored_span));
	t->version = keel_xstrdup(o->service_version ? o->service_version : "0");
	t->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	if (o->endpoint == NULL)
		return t; /* no exporter: spans are dropped (and counted) */
	size_t len = strlen(o->endpoint);

	if (o->traces_endpoint_given) {
		t->url = keel_xstrdup(o->endpoint);
	} else {
		t->url = keel_xmalloc(len + sizeof("/v1/traces"));
		memcpy(t->url, o->endpoint, len);
		while (len > 0 && t->url[len - 1] == '/')
			len--;
		memcpy(t->url + len, "/v1/traces", sizeof("/v1/traces"));
	}
	json_t *resource = resource_of(o);

	t->resource = json_dumps(resource, JSON_COMPACT);
	json_decref(resource);
	if (t->resource == NULL) /* an attribute that is not valid UTF-8 */
		t->resource = keel_xstrdup("{\"attributes\":[]}");
	t->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (o->headers != NULL) {
		/* OTEL_EXPORTER_OTLP_HEADERS: "k=v,k2=v2" (values may be percent-encoded; sent as is) */
		char *copy = keel_xstrdup(o->headers), *save = NULL;

		for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');

			if (eq == NULL || eq == kv || strpbrk(kv, "\r\n") != NULL)
				continue;
			*eq = '\0';
			size_t hl = strlen(kv) + strlen(eq + 1) + 3;
			char *h = keel_xmalloc(hl);

			snprintf(h, hl, "%s: %s", kv, eq + 1);
			t->headers = curl_slist_append(t->headers, h);
			free(h);
		}
		free(copy);
	}
	t->running = pthread_create(&t->thread, NULL, exporter, t) == 0;
	return t;
}

void
keel_tracer_destroy(keel_tracer *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->running)
		pthread_join(t->thread, NULL);
	curl_slist_free_all(t->headers);
	free(t->resource);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t->version);
	free(t->url);
	free(t->ring);
	free(t);
}

/* src into dst[size], cut to fit (at a character boundary: the exporter checks UTF-8). */
static void
copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	if (src[n] != '\0')
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--; /* src[n] continues a character: cut before the character */
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool
keel_tracer_record(keel_tracer *t, const keel_span *span, const char *name)
{
	bool ok = false;
	stored_span s;

	if (!t->running) { /* no exporter (set once, before any request) */
		pthread_mutex_lock(&t->lock);
		t->dropped++;
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	/* the strings are copied before the lock is taken: it covers one copy of s only */
	s.span = *span;
	copy_text(s.name, sizeof(s.name), name);
	for (int i = 0; i < span->nattrs && i < KEEL_SPAN_ATTRS; i++) {
		copy_text(s.keys[i], sizeof(s.keys[i]), span->attr_key[i]);
		copy_text(s.values[i], sizeof(s.values[i]), span->attr_value[i] ? span->attr_value[i] : "");
		s.span.attr_key[i] = NULL;
		s.span.attr_value[i] = NULL;
	}
	pthread_mutex_lock(&t->lock);
	if (!t->stopping && t->count < t->cap) {
		t->ring[(t->head + t->count) % t->cap] = s;
		t->count++;
		ok = true;
		if (t->count >= KEEL_TRACE_BATCH)
			pthread_cond_signal(&t->wake);
	} else {
		t->dropped++;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void
keel_tracer_stats(keel_tracer *t, keel_tracer_stats_t *out)
{
	pthread_mutex_lock(&t->lock);
	out->queued = (uint64_t)t->count;
	out->dropped = t->dropped;
	out->exported = t->exported;
	out->failed = t->failed;
	pthread_mutex_unlock(&t->lock);
}

void
keel_span_attr(keel_span *s, const char *key, const char *value)
{
	if (s->nattrs < KEEL_SPAN_ATTRS && value != NULL) {
		s->attr_key[s->nattrs] = key;
		s->attr_value[s->nattrs] = value;
		s->attr_is_int[s->nattrs++] = false;
	}
}

void
keel_span_attr_int(keel_span *s, const char *key, long long value)
{
	if (s->nattrs < KEEL_SPAN_ATTRS) {
		s->attr_key[s->nattrs] = key;
		s->attr_value[s->nattrs] = NULL;
		s->attr_int[s->nattrs] = value;
		s->attr_is_int[s->nattrs++] = true;
	}
}
