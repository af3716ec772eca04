/*
 * Domain events end to end: the real keel binary, real librdkafka, and
 * librdkafka's mock cluster (3 brokers on loopback, in this process) as
 * Kafka.  A real librdkafka consumer, assigned to every partition of the four
 * topics from the beginning, reads back what the relay produced.
 *
 * What is tested: each kind of change produces exactly its event (topic, key,
 * CloudEvents envelope, tenant, data equal to what the API answered, no
 * secret); a change that fails produces none, and so does a transaction that
 * enqueued and then rolled back (in-process, through keel_events_enqueue);
 * the order per key; brokers failing while 1,000 changes commit (requests
 * succeed, events wait in the outbox, a warning is logged, all 1,000 arrive
 * after recovery, duplicates only with the same event id); the outbox
 * filling without brokers and two `keel relay` processes draining it at once
 * (no event twice, order per key kept); retention; the relay role's reach;
 * configuration errors.
 *
 * keel serve (with its relay thread) starts once for the group; tests that
 * need a database without a relay make their own with kt_db_fresh.  Every
 * test works on tenants and entities of its own and finds its events by
 * subject or tenant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "events/events.h"
#include "kt.h"
#include "otlp.h"

#define PASSWORD   "correct horse battery staple"
#define ORGS       "/api/v1/organizations"
#define PARTITIONS 4
#define WAIT_MS    60000

static const char *const kinds[] = {"tenants", "users", "organizations", "divisions"};

/* ---- the mock cluster and the consumer ---- */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char *bootstraps;
static rd_kafka_t *consumer;

/* One message read back. */
typedef struct msg {
	char *topic;
	int32_t partition;
	int64_t offset;
	char *key;
	char *ctype;       /* the content-type header */
	char *traceparent; /* the traceparent header, or NULL */
	char *raw;
	json_t *ev;
} msg;

static msg *msgs;
static size_t nmsgs, capmsgs;

static char *
dup_n(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
msg_add(const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h = NULL;
	const void *v = NULL;
	size_t vlen = 0;

	if (nmsgs == capmsgs) {
		capmsgs = capmsgs ? capmsgs * 2 : 1024;
		msgs = realloc(msgs, capmsgs * sizeof(*msgs));
	}
	msg *x = &msgs[nmsgs++];

	x->topic = strdup(rd_kafka_topic_name(m->rkt));
	x->partition = m->partition;
	x->offset = m->offset;
	x->key = m->key ? dup_n(m->key, m->key_len) : strdup("");
	x->raw = dup_n(m->payload, m->len);
	x->ev = json_loads(x->raw, 0, NULL);
	x->ctype = NULL;
	x->traceparent = NULL;
	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (rd_kafka_header_get_last(h, "content-type", &v, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR)
		x->ctype = dup_n(v, vlen);
	if (rd_kafka_header_get_last(h, "traceparent", &v, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR)
		x->traceparent = dup_n(v, vlen);
}

/*
 * A consumer of every partition of the four topics from the beginning, and
 * an empty list of messages read.
 */
static void
consumer_start(void)
{
	char err[512], topic[128];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", "events-test", err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_conf_set(conf, "fetch.wait.max.ms", "50", err, sizeof(err));
	rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err)); /* brokers down on purpose */
	consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(consumer);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4 * PARTITIONS);

	for (int k = 0; k < 4; k++) {
		snprintf(topic, sizeof(topic), "keel.%s", kinds[k]);
		for (int p = 0; p < PARTITIONS; p++)
			rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_assign(consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Close the consumer and forget what it read. */
static void
consumer_stop(void)
{
	for (size_t i = 0; i < nmsgs; i++) {
		free(msgs[i].topic);
		free(msgs[i].key);
		free(msgs[i].ctype);
		free(msgs[i].traceparent);
		free(msgs[i].raw);
		json_decref(msgs[i].ev);
	}
	free(msgs);
	msgs = NULL;
	nmsgs = capmsgs = 0;
	rd_kafka_consumer_close(consumer);
	rd_kafka_destroy(consumer);
	consumer = NULL;
}

/* Read what has arrived, for at most ms. */
static void
consume(int ms)
{
	for (long long until = kt_now_ms() + ms; kt_now_ms() < until;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 20);

		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			msg_add(m);
		rd_kafka_message_destroy(m);
	}
}

static bool
is(const msg *m, const char *subject, const char *type)
{
	return m->ev != NULL && strcmp(kt_jstr(m->ev, "subject"), subject) == 0 &&
	       (type == NULL || strcmp(kt_jstr(m->ev, "type"), type) == 0);
}

/* Messages of subject (and type, when given) read so far. */
static int
count_of(const char *subject, const char *type)
{
	int n = 0;

	for (size_t i = 0; i < nmsgs; i++)
		n += is(&msgs[i], subject, type);
	return n;
}

/* Consume until n messages of subject and type have arrived; the first of them. */
static const msg *
await(const char *subject, const char *type, int n)
{
	for (long long until = kt_now_ms() + WAIT_MS; count_of(subject, type) < n;) {
		if (kt_now_ms() > until)
			fail_msg("no %s event for %s within %d ms", type, subject, WAIT_MS);
		consume(50);
	}
	for (size_t i = 0; i < nmsgs; i++)
		if (is(&msgs[i], subject, type))
			return &msgs[i];
	return NULL;
}

/* ---- keel ---- */

static kt_keel *srv;
static PGconn *pg; /* keel_owner, on the group's database */

static kt_tenant A, B;

/* A request to base; with If-Match: "<if_match>" when if_match is not NULL. */
static kt_resp *api_on(const char *base, const char *method, const char *token,
                       const char *if_match, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static kt_resp *
api_on(const char *base, const char *method, const char *token, const char *if_match,
       const char *body, const char *fmt, ...)
{
	kt_client c = {.base = base};
	char *match = if_match != NULL ? kt_strf("If-Match: \"%s\"", if_match) : NULL;
	const char *extra[] = {match, NULL};
	va_list ap;

	va_start(ap, fmt);
	kt_resp *r = kt_vcall(&c, method, token, extra, body, fmt, ap);

	va_end(ap);
	free(match);
	return r;
}

#define api(method, token, body, ...) api_on(srv->base, method, token, NULL, body, __VA_ARGS__)

/* Sign up tenant slug on base; its owner signs in. */
static void
tenant_make_on(const char *base, kt_tenant *t, const char *slug)
{
	kt_client c = {.base = base};

	kt_tenant_make(&c, t, slug, PASSWORD);
	t->owner.token = kt_tenant_login(&c, t, "owner");
}

/* Create an organization with code on base; returns the answer's JSON (owned by the caller). */
static json_t *
org_create_on(const char *base, const kt_tenant *t, const char *code)
{
	kt_client c = {.base = base};

	return kt_org_create(&c, t->owner.token, code);
}

/* A GET's JSON (owned by the caller). */
static json_t *
get_json(const kt_tenant *t, const char *path)
{
	kt_resp *r = api("GET", t->owner.token, NULL, "%s", path);

	kt_assert_status(r, 200);
	json_t *j = json_incref(r->json);

	kt_resp_free(r);
	return j;
}

/* ---- the database ---- */

static long
outbox_count(PGconn *c, const char *tenant_id)
{
	return kt_pg_tenant_long(c, tenant_id, "SELECT count(*) FROM events.outbox", NULL);
}

static long
outbox_unpublished(PGconn *c, const char *tenant_id)
{
	return kt_pg_tenant_long(c, tenant_id,
	                         "SELECT count(*) FROM events.outbox WHERE published_at IS NULL", NULL);
}

/* Wait until none of tenant's events waits in the outbox. */
static void
await_outbox_drained(PGconn *c, const char *tenant_id)
{
	for (long long until = kt_now_ms() + WAIT_MS; outbox_unpublished(c, tenant_id) > 0;) {
		if (kt_now_ms() > until)
			fail_msg("%ld events of tenant %s still unpublished", outbox_unpublished(c, tenant_id),
			         tenant_id);
		usleep(50000);
	}
}

/* ---- checks ---- */

/*
 * The message is exactly the event: topic, key, content type, every
 * CloudEvents attribute (and no other), and data equal to want.
 */
static void
check_event(const msg *m, const char *type, const char *subject, const char *tenant_id,
            const char *topic, const json_t *want)
{
	char source[128];
	json_t *e = m->ev;

	if (e == NULL)
		fail_msg("not JSON: %s", m->raw);
	assert_string_equal(m->topic, topic);
	assert_string_equal(m->key, subject);
	assert_non_null(m->ctype);
	assert_string_equal(m->ctype, "application/cloudevents+json; charset=UTF-8");
	assert_int_equal(json_object_size(e), 9);
	assert_string_equal(kt_jstr(e, "specversion"), "1.0");
	assert_true(kt_is_uuid_v7(kt_jstr(e, "id")));
	snprintf(source, sizeof(source), "/tenants/%s", tenant_id);
	assert_string_equal(kt_jstr(e, "source"), source);
	assert_string_equal(kt_jstr(e, "type"), type);
	assert_string_equal(kt_jstr(e, "subject"), subject);
	assert_true(kt_is_rfc3339_ms(kt_jstr(e, "time")));
	assert_string_equal(kt_jstr(e, "datacontenttype"), "application/json");
	assert_string_equal(kt_jstr(e, "tenantid"), tenant_id);
	if (!json_equal(json_object_get(e, "data"), want)) {
		char *w = json_dumps(want, JSON_COMPACT);

		fail_msg("%s data differs:\n  got  %s\n  want %s", type, m->raw, w);
	}
}

/* The one event of subject and type: arrived, exactly once, as check_event wants. */
static void
expect_event(const char *type, const char *subject, const char *tenant_id, const char *topic,
             const json_t *want)
{
	const msg *m = await(subject, type, 1);

	consume(100); /* a duplicate would be right behind it */
	if (count_of(subject, type) != 1)
		fail_msg("%d %s events for %s, expected 1", count_of(subject, type), type, subject);
	check_event(m, type, subject, tenant_id, topic, want);
}

/* ---- traces ---- */

/* Create an organization with code under the given traceparent; the answer's traceparent. */
static char *
org_create_traced(const char *code, const char *traceparent, char **id)
{
	char body[256], auth[2048], tp[128];

	snprintf(body, sizeof(body), "{\"name\":\"Org %s\",\"code\":\"%s\"}", code, code);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", A.owner.token);
	snprintf(tp, sizeof(tp), "traceparent: %s", traceparent);
	const char *h[] = {auth, tp, "Content-Type: application/json", NULL};
	kt_resp *r = kt_request(srv->base, "POST", ORGS, h, body, strlen(body));

	kt_assert_status(r, 201);
	*id = strdup(kt_jstr(r->json, "id"));
	char *answer = kt_header(r, "traceparent");

	assert_non_null(answer);
	kt_resp_free(r);
	return answer;
}

/*
 * An event carries the trace of the change that caused it: in a sampled trace its produce
 * is a producer span, child of the request's server span, and the message's traceparent
 * names that produce span; in an unsampled trace the message passes on the request's own
 * context (the answer's traceparent) and no span is recorded.
 */
static void
events_continue_the_trace_of_their_change(void **state)
{
	(void)state;
	const char *trace = "6af7651916cd43dd8448eb211c80319c";
	char *id;
	char *answer =
	    org_create_traced("EVT1", "00-6af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &id);
	const msg *m = await(id, "keel.organization.created", 1);
	json_t *server = otlp_span(trace, "POST /api/v1/organizations");
	json_t *produce = otlp_span(trace, "publish keel.organizations");

	assert_non_null(server);
	assert_non_null(produce);
	const char *server_id = kt_jstr(server, "spanId");
	char want[64];

	/* the request's own span answered; the produce is its child and the message names it */
	snprintf(want, sizeof(want), "00-%s-%s-01", trace, server_id);
	assert_string_equal(answer, want);
	assert_int_equal(json_integer_value(json_object_get(produce, "kind")), 4);
	assert_string_equal(kt_jstr(produce, "parentSpanId"), server_id);
	assert_string_equal(otlp_attr(produce, "messaging.system"), "kafka");
	assert_string_equal(otlp_attr(produce, "messaging.destination.name"), "keel.organizations");
	/* the relay may produce before the answer is sent: only the start is ordered */
	assert_true(otlp_time(produce, "startTimeUnixNano") >= otlp_time(server, "startTimeUnixNano"));
	assert_true(otlp_time(produce, "endTimeUnixNano") >= otlp_time(produce, "startTimeUnixNano"));
	snprintf(want, sizeof(want), "00-%s-%s-01", trace, kt_jstr(produce, "spanId"));
	assert_non_null(m->traceparent);
	assert_string_equal(m->traceparent, want);
	json_decref(produce);
	json_decref(server);
	free(answer);
	free(id);

	answer =
	    org_create_traced("EVT2", "00-7af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00", &id);
	m = await(id, "keel.organization.created", 1);
	assert_non_null(m->traceparent);
	assert_string_equal(m->traceparent, answer);
	assert_null(otlp_span("7af7651916cd43dd8448eb211c80319c", "publish keel.organizations"));
	free(answer);
	free(id);
}

/* ---- group setup ---- */

static int
setup(void **state)
{
	(void)state;
	char err[512], topic[128], brokers[1024], otlp[128];
	char timeout[] = "KEEL_KAFKA_MESSAGE_TIMEOUT=2s";
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (mock_rk == NULL)
		return -1;
	mock = rd_kafka_mock_cluster_new(mock_rk, 3);
	bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(mock));
	for (int k = 0; k < 4; k++) {
		snprintf(topic, sizeof(topic), "keel.%s", kinds[k]);
		rd_kafka_mock_topic_create(mock, topic, PARTITIONS, 3);
	}

	consumer_start();
	kt_db_fresh("events");
	kt_migrate_up();
	snprintf(brokers, sizeof(brokers), "KEEL_KAFKA_BROKERS=%s", bootstraps);
	snprintf(otlp, sizeof(otlp), "OTEL_EXPORTER_OTLP_ENDPOINT=%s", otlp_start());
	const char *env[] = {brokers,          timeout, "KEEL_RELAY_POLL_INTERVAL=1s",
	                     "KEEL_WORKERS=8", otlp,    NULL};

	srv = kt_keel_start(env, NULL);
	pg = kt_pg_owner();
	tenant_make_on(srv->base, &A, "ev-a");
	tenant_make_on(srv->base, &B, "ev-b");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (srv != NULL && kt_keel_stop(srv) != 0)
		return -1;
	PQfinish(pg);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	consumer_stop();
	rd_kafka_mock_cluster_destroy(mock);
	rd_kafka_destroy(mock_rk);
	free(bootstraps);
	otlp_stop();
	curl_global_cleanup();
	return rd_kafka_wait_destroyed(10000) == 0 ? 0 : -1;
}

/* ---- each kind of change ---- */

static void
signup_and_rename_produce_tenant_events(void **state)
{
	(void)state;
	json_t *created = json_object_get(A.signup, "tenant");
	json_t *owner = json_object_get(A.signup, "owner");

	expect_event("keel.tenant.created", A.id, A.id, "keel.tenants", created);
	expect_event("keel.user.created", kt_jstr(owner, "id"), A.id, "keel.users", owner);

	kt_resp *r = api("PATCH", B.owner.token, "{\"name\":\"Renamed B\"}", "/api/v1/tenant");

	kt_assert_status(r, 200);
	expect_event("keel.tenant.updated", B.id, B.id, "keel.tenants", r->json);
	kt_resp_free(r);
}

static void
org_changes_produce_their_events(void **state)
{
	(void)state;
	json_t *org = org_create_on(srv->base, &A, "EVO1");
	const char *id = kt_jstr(org, "id");

	expect_event("keel.organization.created", id, A.id, "keel.organizations", org);

	kt_resp *r = api("PATCH", A.owner.token, "{\"name\":\"Renamed\",\"settings\":{\"a\":[1,2]}}",
	                 ORGS "/%s", id);

	kt_assert_status(r, 200);
	expect_event("keel.organization.updated", id, A.id, "keel.organizations", r->json);
	kt_resp_free(r);

	char path[256];

	snprintf(path, sizeof(path), ORGS "/%s", id);
	json_t *before = get_json(&A, path);
	r = api("DELETE", A.owner.token, NULL, ORGS "/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	expect_event("keel.organization.deleted", id, A.id, "keel.organizations", before);
	assert_int_equal(count_of(id, NULL), 3);
	json_decref(before);
	json_decref(org);
}

static void
division_changes_produce_their_events(void **state)
{
	(void)state;
	json_t *org = org_create_on(srv->base, &A, "EVD1");
	const char *org_id = kt_jstr(org, "id");
	kt_resp *r = api("POST", A.owner.token, "{\"name\":\"Root\",\"code\":\"R\"}",
	                 ORGS "/%s/divisions", org_id);

	kt_assert_status(r, 201);
	json_t *root = json_incref(r->json);
	const char *root_id = kt_jstr(root, "id");

	kt_resp_free(r);
	expect_event("keel.division.created", root_id, A.id, "keel.divisions", root);

	r = api("PATCH", A.owner.token, "{\"description\":\"the root\"}", "/api/v1/divisions/%s",
	        root_id);
	kt_assert_status(r, 200);
	json_t *root_now = json_incref(r->json);

	expect_event("keel.division.updated", root_id, A.id, "keel.divisions", r->json);
	kt_resp_free(r);

	/* a leaf deleted on its own */
	char body[256];

	snprintf(body, sizeof(body), "{\"name\":\"Leaf\",\"code\":\"L\",\"parent_id\":\"%s\"}",
	         root_id);
	r = api("POST", A.owner.token, body, ORGS "/%s/divisions", org_id);
	kt_assert_status(r, 201);
	json_t *leaf = json_incref(r->json);

	kt_resp_free(r);
	r = api("DELETE", A.owner.token, NULL, "/api/v1/divisions/%s", kt_jstr(leaf, "id"));
	kt_assert_status(r, 204);
	kt_resp_free(r);
	expect_event("keel.division.deleted", kt_jstr(leaf, "id"), A.id, "keel.divisions", leaf);

	/* a child that goes with its organization: every division gets its event */
	r = api("POST", A.owner.token, body, ORGS "/%s/divisions", org_id);
	kt_assert_status(r, 201);
	json_t *child = json_incref(r->json);

	kt_resp_free(r);
	r = api("DELETE", A.owner.token, NULL, ORGS "/%s", org_id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	expect_event("keel.division.deleted", root_id, A.id, "keel.divisions", root_now);
	expect_event("keel.division.deleted", kt_jstr(child, "id"), A.id, "keel.divisions", child);
	expect_event("keel.organization.deleted", org_id, A.id, "keel.organizations", org);
	json_decref(child);
	json_decref(leaf);
	json_decref(root_now);
	json_decref(root);
	json_decref(org);
}

/* A user's event data is the API's user: these members, never a hash. */
static void
check_no_secret(const char *subject)
{
	static const char *const members[] = {"id",         "tenant_id",  "email",
	                                      "role",       "status",     "version",
	                                      "created_at", "updated_at", "last_login_at"};

	for (size_t i = 0; i < nmsgs; i++) {
		if (!is(&msgs[i], subject, NULL))
			continue;
		json_t *data = json_object_get(msgs[i].ev, "data");

		assert_int_equal(json_object_size(data), 9);
		for (size_t k = 0; k < 9; k++)
			assert_non_null(json_object_get(data, members[k]));
		assert_null(strstr(msgs[i].raw, "password"));
		assert_null(strstr(msgs[i].raw, "argon2"));
	}
}

static void
user_changes_produce_their_events_without_secrets(void **state)
{
	(void)state;
	kt_resp *r =
	    api("POST", A.owner.token,
	        "{\"email\":\"ev-user@ev-a.test\",\"password\":\"" PASSWORD "\",\"role\":\"member\"}",
	        "/api/v1/users");

	kt_assert_status(r, 201);
	char *id = strdup(kt_jstr(r->json, "id"));

	expect_event("keel.user.created", id, A.id, "keel.users", r->json);
	kt_resp_free(r);

	r = api("PATCH", A.owner.token, "{\"role\":\"viewer\"}", "/api/v1/users/%s", id);
	kt_assert_status(r, 200);
	expect_event("keel.user.updated", id, A.id, "keel.users", r->json);
	kt_resp_free(r);

	/* a password change is a change of the user (version + 1): its event has no hash */
	r = api("POST", NULL,
	        "{\"tenant\":\"ev-a\",\"email\":\"ev-user@ev-a.test\",\"password\":\"" PASSWORD "\"}",
	        "/api/v1/auth/login");
	kt_assert_status(r, 200);
	char *token = strdup(kt_jstr(r->json, "access_token"));

	kt_resp_free(r);
	r = api("POST", token,
	        "{\"current_password\":\"" PASSWORD "\",\"new_password\":\"another long password\"}",
	        "/api/v1/auth/password");
	kt_assert_status(r, 204);
	kt_resp_free(r);
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/users/%s", id);
	json_t *before = get_json(&A, path);

	assert_int_equal(json_integer_value(json_object_get(before, "version")), 3);
	await(id, "keel.user.updated", 2);

	r = api("DELETE", A.owner.token, NULL, "/api/v1/users/%s", id);
	kt_assert_status(r, 204);
	kt_resp_free(r);
	expect_event("keel.user.deleted", id, A.id, "keel.users", before);
	assert_int_equal(count_of(id, NULL), 4);
	check_no_secret(id);
	json_decref(before);
	free(token);
	free(id);
}

/* ---- what must produce nothing ---- */

static void
failed_changes_produce_no_events(void **state)
{
	(void)state;
	json_t *org = org_create_on(srv->base, &A, "EVF1");
	const char *id = kt_jstr(org, "id");
	kt_resp *r =
	    api("POST", A.owner.token, "{\"name\":\"Root\",\"code\":\"R\"}", ORGS "/%s/divisions", id);

	kt_assert_status(r, 201);
	char *root = strdup(kt_jstr(r->json, "id")), body[256];

	kt_resp_free(r);
	snprintf(body, sizeof(body), "{\"name\":\"Leaf\",\"code\":\"L\",\"parent_id\":\"%s\"}", root);
	r = api("POST", A.owner.token, body, ORGS "/%s/divisions", id);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	await_outbox_drained(pg, A.id);
	long before = outbox_count(pg, A.id);

	/* a duplicate code, a stale If-Match, a division with children, a duplicate email */
	r = api("POST", A.owner.token, "{\"name\":\"Again\",\"code\":\"EVF1\"}", ORGS);
	kt_assert_status(r, 409);
	kt_resp_free(r);
	r = api_on(srv->base, "PATCH", A.owner.token, "7", "{\"name\":\"Stale\"}", ORGS "/%s", id);
	kt_assert_status(r, 412);
	kt_resp_free(r);
	r = api("DELETE", A.owner.token, NULL, "/api/v1/divisions/%s", root);
	kt_assert_status(r, 409);
	kt_resp_free(r);
	r = api("POST", A.owner.token,
	        "{\"email\":\"owner@ev-a.test\",\"password\":\"" PASSWORD "\",\"role\":\"member\"}",
	        "/api/v1/users");
	kt_assert_status(r, 409);
	kt_resp_free(r);

	assert_int_equal(outbox_count(pg, A.id), before);
	/* and on the topics: a later change of the organization arrives, nothing else did */
	r = api("PATCH", A.owner.token, "{\"name\":\"Marker\"}", ORGS "/%s", id);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	await(id, "keel.organization.updated", 1);
	consume(200);
	assert_int_equal(count_of(id, NULL), 2);
	assert_int_equal(count_of(root, "keel.division.deleted"), 0);
	free(root);
	json_decref(org);
}

static long
subject_rows(PGconn *c, const char *tenant_id, const char *subject)
{
	return kt_pg_tenant_long(c, tenant_id, "SELECT count(*) FROM events.outbox WHERE subject = $1",
	                         (const char *[]){subject, NULL});
}

/* keel_events_enqueue in a transaction of our own, as keel_app; commit or not. */
static void
enqueue_in_tx(const char *subject, int n, bool bad_last, bool commit, keel_err want)
{
	keel_db_opts o = {.application_name = "events_test"};
	keel_db *db;
	keel_tx *tx;
	char err[256];
	keel_arena *a = keel_arena_create(4096);
	keel_ctx ctx = {.tenant_id = A.id};

	assert_int_equal(keel_db_open(&o, &db, err, sizeof(err)), KEEL_OK);
	assert_int_equal(keel_tx_begin(db, a, &ctx, &tx), KEEL_OK);
	for (int i = 0; i < n; i++) {
		char data[64];

		snprintf(data, sizeof(data), "{\"n\":%d}", i);
		assert_int_equal(keel_events_enqueue(tx, "keel.test.happened", subject, data), KEEL_OK);
	}
	if (bad_last) /* the outbox's CHECK refuses the type when the row is written, at commit */
		assert_int_equal(keel_events_enqueue(tx, "not-a-type", subject, "{}"), KEEL_OK);
	if (commit)
		assert_int_equal(keel_tx_commit(tx), want);
	else
		keel_tx_rollback(tx);
	keel_arena_destroy(a);
	keel_db_close(db);
}

static void
a_rolled_back_transaction_leaves_no_event(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();

	enqueue_in_tx("rolled-back", 1, false, false, KEEL_OK);
	assert_int_equal(subject_rows(c, A.id, "rolled-back"), 0);
	/* more than one pipeline's worth: the early ones were sent before the rollback */
	enqueue_in_tx("rolled-back-many", KEEL_TX_DEFER_MAX * 2 + 3, false, false, KEEL_OK);
	assert_int_equal(subject_rows(c, A.id, "rolled-back-many"), 0);
	/* a deferred write that fails takes the whole transaction with it */
	enqueue_in_tx("failed-commit", KEEL_TX_DEFER_MAX + 1, true, true, KEEL_EINVAL);
	assert_int_equal(subject_rows(c, A.id, "failed-commit"), 0);
	/* committed: every event, in the order enqueued */
	enqueue_in_tx("committed", KEEL_TX_DEFER_MAX * 2 + 3, false, true, KEEL_OK);
	assert_int_equal(subject_rows(c, A.id, "committed"), KEEL_TX_DEFER_MAX * 2 + 3);
	kt_pg_set_tenant(c, A.id);
	char *sorted = kt_pg_value(c, "SELECT bool_and(n = rn - 1) FROM (SELECT (data->>'n')::int AS n,"
	                              " row_number() OVER (ORDER BY seq) AS rn FROM events.outbox"
	                              " WHERE subject = 'committed') s");

	assert_string_equal(sorted, "t");
	free(sorted);
	PQfinish(c);
}

/* ---- order ---- */

static void
order_per_key_is_kept(void **state)
{
	(void)state;
	json_t *org = org_create_on(srv->base, &A, "EVORD");
	const char *id = kt_jstr(org, "id");
	char body[64];

	for (int i = 0; i < 30; i++) {
		snprintf(body, sizeof(body), "{\"description\":\"change %d\"}", i);
		kt_resp *r = api("PATCH", A.owner.token, body, ORGS "/%s", id);

		kt_assert_status(r, 200);
		kt_resp_free(r);
	}
	kt_resp *r = api("DELETE", A.owner.token, NULL, ORGS "/%s", id);

	kt_assert_status(r, 204);
	kt_resp_free(r);
	await(id, "keel.organization.deleted", 1);
	consume(100);
	assert_int_equal(count_of(id, NULL), 32);
	/* one partition (same key), offsets rising, versions 1..31 then the delete */
	int32_t partition = -1;
	int64_t offset = -1;
	json_int_t version = 0;

	for (size_t i = 0; i < nmsgs; i++) {
		if (!is(&msgs[i], id, NULL))
			continue;
		const json_t *data = json_object_get(msgs[i].ev, "data");
		bool deleted = strcmp(kt_jstr(msgs[i].ev, "type"), "keel.organization.deleted") == 0;

		if (partition >= 0)
			assert_int_equal(msgs[i].partition, partition);
		partition = msgs[i].partition;
		assert_true(msgs[i].offset > offset);
		offset = msgs[i].offset;
		if (deleted) {
			assert_int_equal(json_integer_value(json_object_get(data, "version")), 31);
			assert_int_equal(version, 31);
		} else {
			assert_int_equal(json_integer_value(json_object_get(data, "version")), version + 1);
			version++;
		}
	}
	json_decref(org);
}

/* ---- Kafka failing ---- */

typedef struct creator {
	const kt_tenant *t;
	int first, count;
	char **ids;
	int failures;
} creator;

static void *
create_many(void *arg)
{
	creator *c = arg;
	char body[128], auth[2048];
	const char *h[] = {auth, "Content-Type: application/json", NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->t->owner.token);
	for (int i = c->first; i < c->first + c->count; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"Bulk %d\",\"code\":\"BULK%d\"}", i, i);
		kt_resp *r = kt_request(srv->base, "POST", ORGS, h, body, strlen(body));

		if (r->status == 201)
			c->ids[i] = strdup(kt_jstr(r->json, "id"));
		else
			c->failures++;
		kt_resp_free(r);
	}
	return NULL;
}

static bool
log_has(const char *needle)
{
	char *log = kt_keel_log(srv);
	bool has = log != NULL && strstr(log, needle) != NULL;

	free(log);
	return has;
}

/* Wait until the log has needle. */
static void
await_log(const char *needle)
{
	for (long long until = kt_now_ms() + WAIT_MS; !log_has(needle); usleep(50000))
		if (kt_now_ms() > until)
			fail_msg("keel never logged \"%s\"", needle);
}

/*
 * Consume until an organization.created event of each of the n ids has arrived, for as long as
 * messages keep arriving (a loaded machine reads slowly, a lost event never arrives).  When
 * nothing new came for WAIT_MS, fail naming a missing id and what the outbox says of it.
 */
static void
await_all(const char *tenant_id, char **ids, int n)
{
	int seen = 0;
	size_t had = nmsgs;

	for (long long idle_until = kt_now_ms() + WAIT_MS; seen < n;) {
		while (seen < n && count_of(ids[seen], "keel.organization.created") > 0)
			seen++;
		if (seen == n)
			break;
		if (nmsgs != had)
			had = nmsgs, idle_until = kt_now_ms() + WAIT_MS;
		else if (kt_now_ms() > idle_until) {
			char *row = kt_pg_tenant_value(
			    pg, tenant_id,
			    "SELECT concat_ws(' ', 'seq', seq, 'type', type, 'published_at', published_at) "
			    "FROM events.outbox WHERE subject = $1 ORDER BY seq LIMIT 1",
			    (const char *[]){ids[seen], NULL});

			fail_msg("%d of %d organizations' events read (%zu messages), none new for %d ms; "
			         "missing %s, its outbox row: %s",
			         seen, n, nmsgs, WAIT_MS, ids[seen], row ? row : "(none)");
		}
		consume(200);
	}
}

static void
brokers_up(bool up)
{
	for (int b = 1; b <= 3; b++)
		assert_int_equal(up ? rd_kafka_mock_broker_set_up(mock, b)
		                    : rd_kafka_mock_broker_set_down(mock, b),
		                 RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void
events_survive_a_kafka_outage(void **state)
{
	(void)state;
	enum { N = 1000, THREADS = 8 };
	kt_tenant t = {0};
	char **ids = calloc(N, sizeof(*ids));
	creator cr[THREADS];
	pthread_t th[THREADS];

	tenant_make_on(srv->base, &t, "ev-outage");
	await_outbox_drained(pg, t.id);
	/* produce requests failing for a while: librdkafka retries them, nothing is lost */
	rd_kafka_mock_push_request_errors(
	    mock, 0 /* Produce */, 6, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	/* then every broker down while the changes commit */
	brokers_up(false);
	for (int i = 0; i < THREADS; i++) {
		cr[i] = (creator){.t = &t, .first = i * (N / THREADS), .count = N / THREADS, .ids = ids};
		pthread_create(&th[i], NULL, create_many, &cr[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cr[i].failures, 0); /* requests keep succeeding */
	}
	await_log("relay: delivery failed");
	await_log("relay: outbox backlog growing");
	assert_true(outbox_unpublished(pg, t.id) > 0);

	brokers_up(true);
	await_outbox_drained(pg, t.id);
	assert_true(log_has("relay: delivering again"));
	/*
	 * Read the topics afresh: this consumer lost its brokers too, and may take
	 * long to come back; a new one reads everything from the beginning.
	 */
	consumer_stop();
	consumer_start();
	await_all(t.id, ids, N);
	for (int i = 0; i < N; i++) {
		const msg *first = await(ids[i], "keel.organization.created", 1);

		/* duplicates only with the same event id */
		for (size_t k = 0; k < nmsgs; k++)
			if (is(&msgs[k], ids[i], NULL))
				assert_string_equal(kt_jstr(msgs[k].ev, "id"), kt_jstr(first->ev, "id"));
		assert_int_equal(count_of(ids[i], NULL), count_of(ids[i], "keel.organization.created"));
	}
	for (int i = 0; i < N; i++)
		free(ids[i]);
	free(ids);
	kt_tenant_free(&t);
}

/* ---- without brokers; two relays ---- */

/* Spawn `keel relay --drain` with brokers and a small batch. */
static kt_run *
relay_spawn(const char *const *extra)
{
	static char brokers[1024];
	const char *args[] = {"relay", "--drain", NULL};
	const char *env[8] = {brokers, "KEEL_RELAY_BATCH=20", "KEEL_KAFKA_MESSAGE_TIMEOUT=10s"};
	int n = 3;

	snprintf(brokers, sizeof(brokers), "KEEL_KAFKA_BROKERS=%s", bootstraps);
	for (const char *const *e = extra; e && *e && n < 7; e++)
		env[n++] = *e;
	env[n] = NULL;
	return kt_keel_spawn(args, env);
}

/* "published": N of a relay's "relay: stopped" line. */
static long
published_of(const char *log)
{
	const char *p = log ? strstr(log, "\"msg\":\"relay: stopped\"") : NULL;

	p = p ? strstr(p, "\"published\":") : NULL;
	return p ? atol(p + strlen("\"published\":")) : -1;
}

static void
the_outbox_fills_without_brokers_and_two_relays_drain_it(void **state)
{
	(void)state;
	enum { ORGS_N = 20, ROUNDS = 25 };
	kt_tenant q = {0};
	char *ids[ORGS_N], code[32], body[64];

	kt_db_fresh("events_quiet");
	kt_migrate_up();
	kt_keel *quiet = kt_keel_start(NULL, NULL); /* no KEEL_KAFKA_BROKERS: no relay */
	PGconn *c = kt_pg_owner();

	tenant_make_on(quiet->base, &q, "ev-quiet");
	for (int i = 0; i < ORGS_N; i++) {
		snprintf(code, sizeof(code), "Q%d", i);
		json_t *org = org_create_on(quiet->base, &q, code);

		ids[i] = strdup(kt_jstr(org, "id"));
		json_decref(org);
	}
	/* round robin, so that every batch holds events of many keys */
	for (int round = 0; round < ROUNDS; round++)
		for (int i = 0; i < ORGS_N; i++) {
			snprintf(body, sizeof(body), "{\"description\":\"round %d\"}", round);
			kt_resp *r =
			    api_on(quiet->base, "PATCH", q.owner.token, NULL, body, ORGS "/%s", ids[i]);

			kt_assert_status(r, 200);
			kt_resp_free(r);
		}
	char *log;
	const long total = 2 + ORGS_N * (1 + ROUNDS);

	assert_int_equal(kt_keel_stop_log(quiet, &log), 0);
	assert_null(strstr(log, "relay:"));
	free(log);
	assert_int_equal(outbox_unpublished(c, q.id), total);

	/* slow brokers, so that the two relays overlap */
	for (int b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_rtt(mock, b, 20);
	kt_run *r1 = relay_spawn(NULL), *r2 = relay_spawn(NULL);
	char *out1, *out2;

	assert_int_equal(kt_keel_wait(r1, WAIT_MS, &out1), 0);
	assert_int_equal(kt_keel_wait(r2, WAIT_MS, &out2), 0);
	for (int b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_rtt(mock, b, 0);
	long p1 = published_of(out1), p2 = published_of(out2);

	if (p1 <= 0 || p2 <= 0 || p1 + p2 != total)
		fail_msg("the relays published %ld and %ld of %ld:\n%s\n%s", p1, p2, total, out1, out2);
	free(out1);
	free(out2);
	assert_int_equal(outbox_unpublished(c, q.id), 0);

	/* on the topics: every event exactly once, each key in order */
	for (int i = 0; i < ORGS_N; i++) {
		await(ids[i], "keel.organization.updated", ROUNDS);
		consume(20);
		assert_int_equal(count_of(ids[i], NULL), 1 + ROUNDS);
		json_int_t version = 0;

		for (size_t k = 0; k < nmsgs; k++) {
			if (!is(&msgs[k], ids[i], NULL))
				continue;
			json_int_t v =
			    json_integer_value(json_object_get(json_object_get(msgs[k].ev, "data"), "version"));

			assert_int_equal(v, version + 1);
			version = v;
		}
		free(ids[i]);
	}
	PQfinish(c);
	kt_tenant_free(&q);
}

static void
retention_deletes_published_events(void **state)
{
	(void)state;
	kt_tenant t = {0};

	kt_db_fresh("events_retention");
	kt_migrate_up();
	kt_keel *quiet = kt_keel_start(NULL, NULL);
	PGconn *c = kt_pg_owner();
	char *out;

	tenant_make_on(quiet->base, &t, "ev-retention");
	json_decref(org_create_on(quiet->base, &t, "OLD1"));
	json_decref(org_create_on(quiet->base, &t, "OLD2"));
	const char *keep[] = {"KEEL_EVENTS_RETENTION=7d", NULL};

	assert_int_equal(kt_keel_wait(relay_spawn(keep), WAIT_MS, &out), 0);
	free(out);
	assert_int_equal(outbox_count(c, t.id), 4);
	assert_int_equal(outbox_unpublished(c, t.id), 0);

	usleep(1200 * 1000);
	json_t *fresh = org_create_on(quiet->base, &t, "NEW1");
	const char *short_retention[] = {"KEEL_EVENTS_RETENTION=1s", NULL};

	assert_int_equal(kt_keel_wait(relay_spawn(short_retention), WAIT_MS, &out), 0);
	assert_non_null(strstr(out, "\"pruned\":4"));
	free(out);
	/* the old ones are gone; the one published just now stays */
	assert_int_equal(outbox_count(c, t.id), 1);
	assert_int_equal(subject_rows(c, t.id, kt_jstr(fresh, "id")), 1);
	assert_int_equal(outbox_unpublished(c, t.id), 0);
	assert_int_equal(kt_keel_stop(quiet), 0);
	json_decref(fresh);
	PQfinish(c);
	kt_tenant_free(&t);
}

/* ---- roles and configuration ---- */

static void
the_relay_role_reads_every_tenants_outbox_and_nothing_else(void **state)
{
	(void)state;
	PGconn *relay = PQconnectdb(getenv("KEEL_RELAY_DATABASE_URL"));
	PGconn *app = kt_pg_app();

	assert_int_equal(PQstatus(relay), CONNECTION_OK);
	/* no tenant set: the relay still sees both tenants' events */
	char *tenants = kt_pg_value(relay, "SELECT count(DISTINCT tenant_id) FROM events.outbox");

	assert_true(atoi(tenants) >= 2);
	free(tenants);
	const char *denied[] = {"SELECT 1 FROM org.organizations", "SELECT 1 FROM auth.users",
	                        "SELECT 1 FROM core.tenants",
	                        "INSERT INTO events.outbox (tenant_id, id, type, subject, data)"
	                        " SELECT tenant_id, gen_random_uuid(), type, subject, data"
	                        " FROM events.outbox LIMIT 1",
	                        "UPDATE events.outbox SET data = '{}'"};

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		PGresult *r = PQexec(relay, denied[i]);

		if (PQresultStatus(r) != PGRES_FATAL_ERROR ||
		    strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501") != 0)
			fail_msg("keel_relay may run: %s", denied[i]);
		PQclear(r);
	}
	/* keel_app writes events but cannot read them back, nor write another tenant's */
	PGresult *r = PQexec(app, "SELECT 1 FROM events.outbox");

	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	PQclear(r);
	kt_pg_set_tenant(app, A.id);
	const char *p[] = {B.id};

	r = PQexecParams(app,
	                 "INSERT INTO events.outbox (tenant_id, id, type, subject, data)"
	                 " VALUES ($1, gen_random_uuid(), 'keel.test.forged', 'x', '{}')",
	                 1, NULL, p, NULL, NULL, 0);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	PQclear(r);
	PQfinish(app);
	PQfinish(relay);
}

static void
kafka_settings_are_checked_at_start_up(void **state)
{
	(void)state;
	char *out;
	const char *relay[] = {"relay", NULL};

	/* keel relay needs brokers */
	assert_int_equal(kt_keel_run(relay, NULL, &out), 2);
	assert_non_null(strstr(out, "KEEL_KAFKA_BROKERS is not set"));
	free(out);
	/* a value librdkafka refuses names its variable; serve does not start */
	const char *serve[] = {"serve", NULL};
	const char *env[] = {"KEEL_KAFKA_BROKERS=127.0.0.1:1",
	                     "KEEL_KAFKA_SECURITY_PROTOCOL=carrier-pigeon", "KEEL_LISTEN=127.0.0.1:1",
	                     NULL};

	assert_int_equal(kt_keel_run(serve, env, &out), 1);
	if (strstr(out, "KEEL_KAFKA_SECURITY_PROTOCOL") == NULL)
		fail_msg("the error does not name the variable:\n%s", out);
	free(out);
}

/* Last: keel stops on SIGTERM with exit status 0, its log free of sanitizer reports. */
static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(signup_and_rename_produce_tenant_events),
	    cmocka_unit_test(org_changes_produce_their_events),
	    cmocka_unit_test(division_changes_produce_their_events),
	    cmocka_unit_test(user_changes_produce_their_events_without_secrets),
	    cmocka_unit_test(failed_changes_produce_no_events),
	    cmocka_unit_test(a_rolled_back_transaction_leaves_no_event),
	    cmocka_unit_test(order_per_key_is_kept),
	    cmocka_unit_test(events_continue_the_trace_of_their_change),
	    cmocka_unit_test(events_survive_a_kafka_outage),
	    cmocka_unit_test(the_relay_role_reads_every_tenants_outbox_and_nothing_else),
	    cmocka_unit_test(kafka_settings_are_checked_at_start_up),
	    /* these two switch this process to databases of their own: last */
	    cmocka_unit_test(the_outbox_fills_without_brokers_and_two_relays_drain_it),
	    cmocka_unit_test(retention_deletes_published_events),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("events", tests, setup, teardown);
}
