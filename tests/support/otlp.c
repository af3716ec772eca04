/*
 * otlp: a trace receiver for tests (see otlp.h).
 */
#include "otlp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "kt.h"

static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *got; /* every span received */

static keel_err
receive(keel_req *req, void *ctx)
{
	json_t *body, *rs, *ss, *span;
	size_t i, j, k;

	(void)ctx;
	if (keel_req_json_body(req, &body) != KEEL_OK)
		return KEEL_EMALFORMED;
	pthread_mutex_lock(&got_lock);
	json_array_foreach(json_object_get(body, "resourceSpans"), i, rs)
	{
		json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
		{
			json_array_foreach(json_object_get(ss, "spans"), k, span) json_array_append(got, span);
		}
	}
	pthread_mutex_unlock(&got_lock);
	return keel_req_json(req, 200, json_object());
}

static const keel_route routes[] = {
    {.method = "POST",
     .path = "/v1/traces",
     .handler = receive,
     .flags = KEEL_ROUTE_PUBLIC | KEEL_ROUTE_BODY,
     .min_role = 0,
     .summary = "receiver"},
};

static keel_router *router;
static keel_server *server;
static char base[64];

const char *
otlp_start(void)
{
	char listen[32], err[128];

	got = json_array();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", kt_free_port());
	snprintf(base, sizeof(base), "http://%s", listen);
	router = keel_router_create();
	keel_router_add_all(router, routes, 1, NULL);
	keel_server_opts o = {
	    .listen = listen, .workers = 1, .max_connections = 16, .request_timeout_ms = 5000};

	server = keel_server_create(&o, router);
	if (keel_server_start(server, err, sizeof(err)) != KEEL_OK)
		fail_msg("OTLP receiver: %s", err);
	return base;
}

void
otlp_stop(void)
{
	keel_server_destroy(server);
	keel_router_destroy(router);
	json_decref(got);
	got = NULL;
}

static const char *
field(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "";
}

json_t *
otlp_span(const char *trace, const char *name)
{
	for (int tries = 0; tries < 100; tries++) {
		size_t i;
		json_t *s;

		pthread_mutex_lock(&got_lock);
		json_array_foreach(got, i, s)
		{
			if (strcmp(field(s, "traceId"), trace) == 0 && strcmp(field(s, "name"), name) == 0) {
				json_incref(s);
				pthread_mutex_unlock(&got_lock);
				return s;
			}
		}
		pthread_mutex_unlock(&got_lock);
		usleep(50000);
	}
	return NULL;
}

json_t *
otlp_children(const char *trace, const char *parent, size_t count)
{
	json_t *found = json_array();

	for (int tries = 0; tries < 100 && json_array_size(found) < count; tries++) {
		size_t i;
		json_t *s;

		json_array_clear(found);
		pthread_mutex_lock(&got_lock);
		json_array_foreach(got, i, s)
		{
			if (strcmp(field(s, "traceId"), trace) == 0 &&
			    strcmp(field(s, "parentSpanId"), parent) == 0)
				json_array_append(found, s);
		}
		pthread_mutex_unlock(&got_lock);
		if (json_array_size(found) < count)
			usleep(50000);
	}
	return found;
}

const char *
otlp_attr(const json_t *span, const char *key)
{
	size_t i;
	json_t *a;

	json_array_foreach(json_object_get(span, "attributes"), i, a)
	{
		if (strcmp(field(a, "key"), key) == 0) {
			json_t *v = json_object_get(a, "value");
			const char *s = json_string_value(json_object_get(v, "stringValue"));

			return s != NULL ? s : json_string_value(json_object_get(v, "intValue"));
		}
	}
	return NULL;
}

unsigned long long
otlp_time(const json_t *span, const char *name)
{
	return strtoull(field(span, name), NULL, 10);
}
