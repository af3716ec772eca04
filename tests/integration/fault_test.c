/*
 * Faults under load: PostgreSQL stopped, PostgreSQL frozen, and keel killed
 * with SIGKILL, each while keel takes writes from several threads.
 *
 * What is tested:
 * - the database shut down during a load of creates (each thread on its own
 *   kept-alive connection), and started again: every request is answered
 *   201, or 503 as problem+json with Retry-After, never anything else; none
 *   takes longer than a bound derived from keel's timeouts (set small here);
 *   once the database is back, the same keel process serves creates again by
 *   itself; every create that got a 201 is in the database with its audit row
 *   (found by its request id) and its outbox event, and no organization has
 *   a missing or extra audit row or event;
 * - the same with the database frozen (every PostgreSQL process stopped with
 *   SIGSTOP: no answer and no error, as when its host hangs or the network
 *   drops packets) for longer than the bound: only keel's own deadline can
 *   end the requests waiting on it;
 * - keel killed with SIGKILL while threads create and update organizations:
 *   every write that got a 2xx is in the database with its audit row and its
 *   outbox event; every organization, including those of writes cut off in
 *   flight, has exactly one audit INSERT row and one created event, one audit
 *   UPDATE row and one updated event for each version after the first, and
 *   no audit row or event exists without its organization; each is at its
 *   last acknowledged version (one more when its update was cut off);
 *   PostgreSQL ends the killed process's sessions, and a new keel updates
 *   every organization (no lock left behind).
 *
 * KEEL_KAFKA_BROKERS is unset, so no relay runs and the outbox keeps every
 * event for the checks.  Two tests stop or freeze the shared cluster: CTest
 * runs this program alone (RUN_SERIAL), and each test's teardown thaws and
 * starts the cluster again whatever happened.
 *
 * The load threads never call cmocka (its failures unwind the main thread's
 * stack): they record each call, and the main thread checks the records once
 * the threads are joined.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt.h"

#define PASSWORD "correct horse battery staple"
#define ORGS     "/api/v1/organizations"
#define THREADS  4
#define CALLS    16384 /* per thread, far more than a run makes */
#define ORGS_MAX 4096  /* per thread; more are checked as creates only */

/*
 * keel's timeouts for the outage tests, small, and the longest a request may
 * take: a worker may wait for a pool slot (the connect timeout), connect and,
 * finding that connection dead at once, connect again (libpq waits at least
 * 2 s whatever connect_timeout says), and run its statements (the statement
 * timeout); the rest is slack for a sanitized build on a shared machine.
 */
#define CONNECT_TIMEOUT_S   1
#define LIBPQ_CONNECT_S     (CONNECT_TIMEOUT_S > 2 ? CONNECT_TIMEOUT_S : 2)
#define STATEMENT_TIMEOUT_S 2
#define BOUND_MS            ((CONNECT_TIMEOUT_S + 2 * LIBPQ_CONNECT_S + STATEMENT_TIMEOUT_S) * 1000 + 3000)

/* One request of a load thread, as the thread saw it. */
typedef struct call {
	char kind;          /* 'c' create, 'u' update */
	long status;        /* 0: no answer (transport error) */
	long long start_ms; /* kt_now_ms() when sent, and when it ended */
	long long end_ms;
	bool problem; /* a 503 as problem+json with status 503 and a Retry-After */
	char rid[48]; /* the X-Request-ID sent */
	char code[33];
	char id[40];  /* the organization: created (from the answer) or updated */
	long version; /* the version the answer reports; for an update without one, the expected */
} call;

/* A load thread's work and what it saw. */
typedef struct load {
	const char *base;
	const char *token;
	char test; /* one per test: in request ids and codes, so they are unique */
	int no;
	bool updates; /* mix updates of its own organizations with the creates */
	atomic_bool *stop;
	call *calls;
	size_t n;
	char (*ids)[40]; /* its organizations, and the last version acknowledged of each */
	long *versions;
	size_t norgs;
	atomic_size_t oks; /* 2xx answers so far: read by the main thread while it runs */
} load;

static kt_keel *srv;
static bool db_stopped;

/*
 * What a test allocates, released by its teardown: a failing check unwinds
 * the test, and the sanitizer's leak report must not bury the failure.
 */
static void *scratch[64];
static int nscratch;
static PGconn *scratch_pg;

static void *
keep(void *p)
{
	assert_true(nscratch < 64);
	scratch[nscratch++] = p;
	return p;
}

/* ---- HTTP from the load threads ---- */

/* The value of header name in a raw header block, or NULL; points into hdr. */
static const char *
header_in(const char *hdr, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *line = hdr; line != NULL && *line != '\0';) {
		const char *end = strstr(line, "\r\n");
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;

			while (*v == ' ')
				v++;
			*len = (size_t)(line + ll - v);
			return v;
		}
		line = end ? end + 2 : NULL;
	}
	return NULL;
}

/* Is this 503 a problem+json with status 503 and a positive Retry-After? */
static bool
is_unavailable_problem(const kt_grow *hdr, const kt_grow *body)
{
	size_t len = 0;
	const char *ct = header_in(hdr->p, "Content-Type", &len);

	if (ct == NULL || len < 24 || strncmp(ct, "application/problem+json", 24) != 0)
		return false;
	const char *ra = header_in(hdr->p, "Retry-After", &len);

	if (ra == NULL || len == 0 || atoi(ra) <= 0)
		return false;
	json_t *j = json_loadb(body->p, body->len, 0, NULL);
	bool ok = json_integer_value(json_object_get(j, "status")) == 503;

	json_decref(j);
	return ok;
}

/*
 * One request on the thread's handle (kept alive between calls), filling c's
 * status, times and, from a 2xx JSON body, id and version.  Never fails the
 * test: a transport error leaves status 0.
 */
static void
send_call(CURL *h, const load *l, const char *method, const char *path, const char *body, call *c)
{
	char url[256], auth[1024], rid[80];
	kt_grow b = {calloc(1, 1), 0}, hdr = {calloc(1, 1), 0};
	struct curl_slist *hl = NULL;

	snprintf(url, sizeof(url), "%s%s", l->base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", l->token);
	snprintf(rid, sizeof(rid), "X-Request-ID: %s", c->rid);
	hl = curl_slist_append(hl, auth);
	hl = curl_slist_append(hl, rid);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, kt_grow_add);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, kt_grow_add);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
	/* a hung request shows as a duration over the bound, not as a stuck test */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)BOUND_MS + 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c->start_ms = kt_now_ms();
	CURLcode rc = curl_easy_perform(h);

	c->end_ms = kt_now_ms();
	c->status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status / 100 == 2) {
		json_t *j = json_loadb(b.p, b.len, 0, NULL);
		const char *id = json_string_value(json_object_get(j, "id"));

		if (id != NULL)
			snprintf(c->id, sizeof(c->id), "%s", id);
		c->version = (long)json_integer_value(json_object_get(j, "version"));
		json_decref(j);
	}
	c->problem = c->status == 503 && is_unavailable_problem(&hdr, &b);
	curl_slist_free_all(hl);
	free(b.p);
	free(hdr.p);
}

/* Create an organization with a code of its own; remember it when it got a 201. */
static void
do_create(CURL *h, load *l, call *c, size_t k)
{
	char body[160];

	c->kind = 'c';
	snprintf(c->code, sizeof(c->code), "F%c%d-%zu", l->test, l->no, k);
	snprintf(c->rid, sizeof(c->rid), "fault-%c-%d-%zu", l->test, l->no, k);
	snprintf(body, sizeof(body), "{\"name\":\"Fault %s\",\"code\":\"%s\"}", c->code, c->code);
	send_call(h, l, "POST", ORGS, body, c);
	if (c->status == 201 && l->norgs < ORGS_MAX) {
		memcpy(l->ids[l->norgs], c->id, sizeof(c->id));
		l->versions[l->norgs++] = c->version;
	}
}

/* Update one of the thread's organizations (in turn); track the version acknowledged. */
static void
do_update(CURL *h, load *l, call *c, size_t k)
{
	size_t i = k % l->norgs;
	char body[96], path[96];

	c->kind = 'u';
	snprintf(c->rid, sizeof(c->rid), "fault-%c-%d-%zu", l->test, l->no, k);
	memcpy(c->id, l->ids[i], sizeof(c->id));
	snprintf(path, sizeof(path), ORGS "/%s", c->id);
	snprintf(body, sizeof(body), "{\"description\":\"%s\"}", c->rid);
	send_call(h, l, "PATCH", path, body, c);
	if (c->status == 200)
		l->versions[i] = c->version;
	else
		c->version = l->versions[i] + 1; /* what it would have made */
}

/*
 * A load thread: creates (and, with updates, updates of its own
 * organizations every other call) until told to stop, or until keel stops
 * answering when updates are on (it was killed).
 */
static void *
load_run(void *arg)
{
	load *l = arg;
	CURL *h = curl_easy_init();

	for (size_t k = 0; k < CALLS && !atomic_load(l->stop); k++) {
		call *c = &l->calls[l->n++];

		if (l->updates && l->norgs > 0 && k % 2 == 1)
			do_update(h, l, c, k);
		else
			do_create(h, l, c, k);
		if (c->status / 100 == 2)
			atomic_fetch_add(&l->oks, 1);
		if (l->updates && c->status == 0)
			break;
		if (c->status == 503)
			usleep(10 * 1000); /* as a client would, if less patiently than Retry-After */
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void
loads_start(load *ls, pthread_t *th, const char *base, const char *token, char test, bool updates,
            atomic_bool *stop)
{
	for (int i = 0; i < THREADS; i++) {
		ls[i] = (load){
		    .base = base, .token = token, .test = test, .no = i, .updates = updates, .stop = stop};
		ls[i].calls = keep(calloc(CALLS, sizeof(call)));
		ls[i].ids = keep(calloc(ORGS_MAX, sizeof(*ls[i].ids)));
		ls[i].versions = keep(calloc(ORGS_MAX, sizeof(long)));
		assert_int_equal(pthread_create(&th[i], NULL, load_run, &ls[i]), 0);
	}
}

static void
loads_join(pthread_t *th, atomic_bool *stop)
{
	atomic_store(stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
}

/* Calls of every thread that satisfy pred. */
static size_t
count_calls(const load *ls, bool (*pred)(const call *, long long), long long t)
{
	size_t n = 0;

	for (int i = 0; i < THREADS; i++)
		for (size_t k = 0; k < ls[i].n; k++)
			n += pred(&ls[i].calls[k], t);
	return n;
}

static bool
ok_after(const call *c, long long t)
{
	return c->status / 100 == 2 && c->end_ms >= t;
}

/* 2xx answers of every thread so far (while they run). */
static size_t
oks(load *ls)
{
	size_t n = 0;

	for (int i = 0; i < THREADS; i++)
		n += atomic_load(&ls[i].oks);
	return n;
}

static bool
unavailable(const call *c, long long t)
{
	(void)t;
	return c->status == 503;
}

/* ---- the database, as keel_owner in the tenant ---- */

/* The test's connection (closed by its teardown). */
static PGconn *
owner_in(const char *tenant_id)
{
	scratch_pg = kt_pg_owner();
	kt_pg_set_tenant(scratch_pg, tenant_id);
	return scratch_pg;
}

/* A count (or any integer) from sql with its text parameters, NULL-terminated; -1 for NULL. */
static long
db_long(PGconn *pg, const char *sql, ...)
{
	const char *p[8];
	int n = 0;
	va_list ap;

	va_start(ap, sql);
	while (n < 8 && (p[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	PGresult *r = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	long v = PQgetisnull(r, 0, 0) ? -1 : atol(PQgetvalue(r, 0, 0));

	PQclear(r);
	return v;
}

/* The audit rows of organization id with action, made by request rid, at version v. */
static long
audit_rows(PGconn *pg, const char *id, const char *action, const char *rid, long v)
{
	char ver[24];

	snprintf(ver, sizeof(ver), "%ld", v);
	return db_long(pg,
	               "SELECT count(*) FROM audit.logs WHERE schema_name = 'org'"
	               " AND table_name = 'organizations' AND record_id = $1::uuid AND action = $2"
	               " AND request_id = $3 AND (coalesce(new, old) ->> 'version')::int = $4::int",
	               id, action, rid, ver, NULL);
}

/* The outbox events of organization id of type, at version v. */
static long
events_of(PGconn *pg, const char *id, const char *type, long v)
{
	char ver[24];

	snprintf(ver, sizeof(ver), "%ld", v);
	return db_long(pg,
	               "SELECT count(*) FROM events.outbox WHERE subject = $1 AND type = $2"
	               " AND (data ->> 'version')::int = $3::int",
	               id, type, ver, NULL);
}

/*
 * An acknowledged write is in the database with its audit row and its event:
 * a create's organization exists (with the code sent), an update's version is
 * at least the one acknowledged.
 */
static void
check_acknowledged(PGconn *pg, const call *c)
{
	if (c->kind == 'c') {
		if (db_long(pg, "SELECT count(*) FROM org.organizations WHERE id = $1::uuid AND code = $2",
		            c->id, c->code, NULL) != 1)
			fail_msg("create %s answered 201 (%s) but the organization is not there", c->rid,
			         c->id);
		if (audit_rows(pg, c->id, "INSERT", c->rid, 1) != 1)
			fail_msg("create %s answered 201 but has no audit row", c->rid);
		if (events_of(pg, c->id, "keel.organization.created", 1) != 1)
			fail_msg("create %s answered 201 but has no outbox event", c->rid);
		return;
	}
	if (db_long(pg, "SELECT version FROM org.organizations WHERE id = $1::uuid", c->id, NULL) <
	    c->version)
		fail_msg("update %s answered 200 with version %ld, the row is older", c->rid, c->version);
	if (audit_rows(pg, c->id, "UPDATE", c->rid, c->version) != 1)
		fail_msg("update %s answered 200 (version %ld) but has no audit row", c->rid, c->version);
	if (events_of(pg, c->id, "keel.organization.updated", c->version) != 1)
		fail_msg("update %s answered 200 (version %ld) but has no outbox event", c->rid,
		         c->version);
}

/*
 * No half-written change in the tenant: every organization has exactly one
 * audit INSERT row and one created event, and an audit UPDATE row and an
 * updated event for each of versions 2..version (each once); no audit row or
 * event of an organization that does not exist.  Returns the organizations.
 */
static long
check_whole(PGconn *pg)
{
	static const char *const checks[] = {
	    /* organizations whose audit rows or events are not exactly their versions' */
	    "SELECT count(*) FROM org.organizations o WHERE"
	    " (SELECT array_agg((coalesce(l.new, l.old) ->> 'version')::int"
	    "   ORDER BY (coalesce(l.new, l.old) ->> 'version')::int, l.action)"
	    "  FROM audit.logs l WHERE l.schema_name = 'org' AND l.table_name = 'organizations'"
	    "  AND l.record_id = o.id)"
	    " IS DISTINCT FROM (SELECT array_agg(g ORDER BY g) FROM generate_series(1, o.version) g)"
	    " OR (SELECT count(*) FROM audit.logs l WHERE l.schema_name = 'org'"
	    "  AND l.table_name = 'organizations' AND l.record_id = o.id AND l.action = 'INSERT') <> 1",
	    "SELECT count(*) FROM org.organizations o WHERE"
	    " (SELECT array_agg((e.data ->> 'version')::int ORDER BY e.seq) FROM events.outbox e"
	    "  WHERE e.subject = o.id::text)"
	    " IS DISTINCT FROM (SELECT array_agg(g ORDER BY g) FROM generate_series(1, o.version) g)"
	    " OR (SELECT count(*) FROM events.outbox e WHERE e.subject = o.id::text"
	    "  AND e.type = 'keel.organization.created') <> 1",
	    /* audit rows and events without their organization */
	    "SELECT count(*) FROM audit.logs l WHERE l.schema_name = 'org'"
	    " AND l.table_name = 'organizations'"
	    " AND NOT EXISTS (SELECT 1 FROM org.organizations o WHERE o.id = l.record_id)",
	    "SELECT count(*) FROM events.outbox e WHERE e.type LIKE 'keel.organization.%'"
	    " AND NOT EXISTS (SELECT 1 FROM org.organizations o WHERE o.id::text = e.subject)",
	};

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		long bad = db_long(pg, checks[i], NULL);

		if (bad != 0)
			fail_msg("%ld half-written change(s) found by: %s", bad, checks[i]);
	}
	return db_long(pg, "SELECT count(*) FROM org.organizations", NULL);
}

/* ---- the tests ---- */

static int
group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_ALL);
	unsetenv("KEEL_KAFKA_BROKERS"); /* no relay: the outbox keeps its rows */
	kt_db_fresh("fault");
	kt_migrate_up();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

/* ---- freezing the cluster: every PostgreSQL process stopped with SIGSTOP ---- */

static pid_t frozen[256];
static int nfrozen;

/* The parent pid of pid from /proc, or -1. */
static pid_t
parent_of(pid_t pid)
{
	char path[64], stat[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);

	fclose(f);
	stat[n] = '\0';
	const char *p = strrchr(stat, ')'); /* after the command name, which may hold anything */
	int ppid = -1;

	if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/*
 * Stop the postmaster and then each of its children with SIGSTOP: the
 * database neither answers nor closes anything, as when its host hangs or the
 * network drops packets.  Returns whether the postmaster was found.
 */
static bool
pg_freeze(void)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/pg/postmaster.pid", getenv("KEEL_TEST_DB_DIR"));
	char *text = kt_read_file(path);
	pid_t pm = text != NULL ? (pid_t)atoi(text) : 0;

	free(text);
	if (pm <= 0 || kill(pm, SIGSTOP) != 0)
		return false;
	frozen[nfrozen++] = pm;
	DIR *d = opendir("/proc");

	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL && nfrozen < 256;) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid > 0 && parent_of(pid) == pm && kill(pid, SIGSTOP) == 0)
			frozen[nfrozen++] = pid;
	}
	if (d != NULL)
		closedir(d);
	return true;
}

static void
pg_thaw(void)
{
	for (int i = 0; i < nfrozen; i++)
		kill(frozen[i], SIGCONT);
	nfrozen = 0;
}

/* Whatever happened: the shared cluster runs again and no keel of ours is left. */
static int
test_teardown(void **state)
{
	(void)state;
	pg_thaw();
	while (nscratch > 0)
		free(scratch[--nscratch]);
	if (scratch_pg != NULL)
		PQfinish(scratch_pg);
	scratch_pg = NULL;
	if (db_stopped && kt_dev_db("start") == 0)
		db_stopped = false;
	if (srv != NULL) {
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, NULL, 0);
		unlink(srv->log);
		free(srv);
		srv = NULL;
	}
	return 0;
}

/* Fail with keel's log when a call's answer is not what the fault allows. */
static void
check_answers(const load *ls, long long *max_ms)
{
	*max_ms = 0;
	for (int i = 0; i < THREADS; i++)
		for (size_t k = 0; k < ls[i].n; k++) {
			const call *c = &ls[i].calls[k];
			long long ms = c->end_ms - c->start_ms;

			if (ms > *max_ms)
				*max_ms = ms;
			if (c->status != 201 && !c->problem) {
				char *log = kt_keel_log(srv);

				print_error("%s", log ? log : "");
				free(log);
				fail_msg("create %s answered %ld after %lld ms: not 201 nor a 503 problem with "
				         "Retry-After",
				         c->rid, c->status, ms);
			}
			if (ms > BOUND_MS)
				fail_msg("create %s took %lld ms, more than the bound of %d ms (answer %ld)",
				         c->rid, ms, BOUND_MS, c->status);
		}
}

/* How the database goes away and comes back. */
typedef struct outage {
	const char *slug; /* the tenant's */
	char test;        /* in request ids and codes */
	bool (*begin)(void);
	bool (*end)(void);
	int hold_ms; /* between the two */
} outage;

static bool
db_stop(void)
{
	db_stopped = kt_dev_db("stop") == 0;
	return db_stopped;
}

static bool
db_start(void)
{
	db_stopped = kt_dev_db("start") != 0;
	return !db_stopped;
}

static bool
db_thaw(void)
{
	pg_thaw();
	return true;
}

/*
 * Creates from several threads while the database goes away and comes back:
 * each answered 201 or 503 (problem+json, Retry-After) within the bound; the
 * same keel serves creates again afterwards; every 201 is in the database,
 * whole.
 */
static void
writes_through(const outage *o)
{
	char ct[64], st[64];
	load ls[THREADS];
	pthread_t th[THREADS];
	atomic_bool stop = false;

	snprintf(ct, sizeof(ct), "KEEL_DB_CONNECT_TIMEOUT=%ds", CONNECT_TIMEOUT_S);
	snprintf(st, sizeof(st), "KEEL_DB_STATEMENT_TIMEOUT=%ds", STATEMENT_TIMEOUT_S);
	/*
	 * A connection waiting behind another's stuck round trip counts as idle for
	 * libmicrohttpd: the request timeout must exceed what a worker can be held (the bound).
	 */
	const char *env[] = {ct, st, "KEEL_REQUEST_TIMEOUT=15s", "KEEL_LOG_LEVEL=error", NULL};

	srv = kt_keel_start(env, NULL);
	char *tenant = keep(kt_signup(srv->base, o->slug, PASSWORD));
	char *email = keep(kt_strf("owner@%s.test", o->slug));
	char *token = keep(kt_login(srv->base, o->slug, email, PASSWORD));

	loads_start(ls, th, srv->base, token, o->test, false, &stop);
	usleep(800 * 1000);
	bool began = o->begin();

	usleep((useconds_t)o->hold_ms * 1000); /* writes go on against no database */
	bool ended = o->end();
	long long back = kt_now_ms();
	size_t before = oks(ls);

	/* keel (the same process) serves creates again by itself */
	while (kt_now_ms() - back < 20000 && oks(ls) - before < 2 * THREADS)
		usleep(50 * 1000);
	loads_join(th, &stop);
	assert_true(began);
	assert_true(ended);
	assert_int_equal(waitpid(srv->pid, NULL, WNOHANG), 0);

	long long max_ms;

	check_answers(ls, &max_ms);
	size_t n503 = count_calls(ls, unavailable, 0), nback = count_calls(ls, ok_after, back);

	if (n503 == 0)
		fail_msg("no create was answered 503: the outage was not exercised");
	if (nback < THREADS)
		fail_msg("only %zu creates succeeded within 20 s of the database's return", nback);

	PGconn *pg = owner_in(tenant);
	size_t acked = 0, total = 0;

	for (int i = 0; i < THREADS; i++)
		for (size_t k = 0; k < ls[i].n; k++, total++)
			if (ls[i].calls[k].status == 201) {
				check_acknowledged(pg, &ls[i].calls[k]);
				acked++;
			}
	long rows = check_whole(pg);

	if (rows < (long)acked)
		fail_msg("%ld organizations for %zu acknowledged creates", rows, acked);
	print_message("fault: %s: %zu creates: %zu answered 201, %zu 503 (problem+json, "
	              "Retry-After); slowest %lld ms (bound %d ms); %zu after the return; %ld rows\n",
	              o->slug, total, acked, n503, max_ms, BOUND_MS, nback, rows);
	assert_int_equal(kt_keel_stop(srv), 0);
	srv = NULL;
}

/* PostgreSQL shut down (fast) and started again. */
static void
database_stopped_during_writes(void **state)
{
	(void)state;
	const outage o = {"fault-stop", 'a', db_stop, db_start, 2500};

	writes_through(&o);
}

/*
 * PostgreSQL frozen (SIGSTOP) for longer than the bound, then let go: keel's
 * open connections get no answer and no error, so only keel's own deadline
 * can end the requests waiting on them.
 */
static void
database_unresponsive_during_writes(void **state)
{
	(void)state;
	const outage o = {"fault-freeze", 'f', pg_freeze, db_thaw, BOUND_MS + 2000};

	writes_through(&o);
}

/* Wait until PostgreSQL has no session of keel serve left in this database. */
static void
await_sessions_gone(PGconn *pg)
{
	long n = 0;

	for (long long until = kt_now_ms() + 10000; kt_now_ms() < until; usleep(50 * 1000))
		if ((n = db_long(pg,
		                 "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
		                 " AND application_name = 'keel serve'",
		                 NULL)) == 0)
			return;
	fail_msg("%ld sessions of the killed keel are still open after 10 s", n);
}

/*
 * The killed run's calls: the answered ones are 2xx and in the database, the
 * one each thread had in flight is whole or absent.  Returns the calls cut off.
 */
static size_t
check_killed_calls(PGconn *pg, const load *ls, long long killed_at, size_t *acked)
{
	size_t cut = 0;

	*acked = 0;
	for (int i = 0; i < THREADS; i++)
		for (size_t k = 0; k < ls[i].n; k++) {
			const call *c = &ls[i].calls[k];

			if (c->status / 100 == 2) {
				check_acknowledged(pg, c);
				(*acked)++;
				continue;
			}
			if (c->status != 0 || c->end_ms < killed_at)
				fail_msg("%s answered %ld before keel was killed", c->rid, c->status);
			cut++;
			if (c->kind == 'c') {
				long org = db_long(pg, "SELECT count(*) FROM org.organizations WHERE code = $1",
				                   c->code, NULL);
				long audit = db_long(pg, "SELECT count(*) FROM audit.logs WHERE request_id = $1",
				                     c->rid, NULL);

				if (org != audit)
					fail_msg("create %s cut off: %ld rows, %ld audit rows", c->rid, org, audit);
			} else {
				char ver[24];

				snprintf(ver, sizeof(ver), "%ld", c->version);
				long row = db_long(pg,
				                   "SELECT count(*) FROM org.organizations WHERE id = $1::uuid"
				                   " AND version = $2::int AND description = $3",
				                   c->id, ver, c->rid, NULL);

				if (audit_rows(pg, c->id, "UPDATE", c->rid, c->version) != row)
					fail_msg("update %s cut off: the row and its audit row disagree", c->rid);
			}
		}
	return cut;
}

/* Each organization is at the version last acknowledged, or one more when its update was cut off.
 */
static void
check_versions(PGconn *pg, const load *ls)
{
	for (int i = 0; i < THREADS; i++) {
		const call *last = ls[i].n > 0 ? &ls[i].calls[ls[i].n - 1] : NULL;

		for (size_t o = 0; o < ls[i].norgs; o++) {
			long v = db_long(pg, "SELECT version FROM org.organizations WHERE id = $1::uuid",
			                 ls[i].ids[o], NULL);
			bool in_flight = last != NULL && last->kind == 'u' && last->status == 0 &&
			                 strcmp(last->id, ls[i].ids[o]) == 0;

			if (v != ls[i].versions[o] && !(in_flight && v == ls[i].versions[o] + 1))
				fail_msg("organization %s is at version %ld, %ld was acknowledged", ls[i].ids[o], v,
				         ls[i].versions[o]);
		}
	}
}

/* A new keel updates every organization: nothing was left locked or broken. */
static void
check_serves_again(PGconn *pg, const load *ls)
{
	srv = kt_keel_start((const char *[]){"KEEL_LOG_LEVEL=error", NULL}, NULL);
	char *token = keep(kt_login(srv->base, "fault-kill", "owner@fault-kill.test", PASSWORD));

	for (int i = 0; i < THREADS; i++)
		for (size_t o = 0; o < ls[i].norgs; o++) {
			long v = db_long(pg, "SELECT version FROM org.organizations WHERE id = $1::uuid",
			                 ls[i].ids[o], NULL);
			kt_resp *r = kt_api(srv->base, "PATCH", token, "{\"description\":\"after\"}",
			                    ORGS "/%s", ls[i].ids[o]);

			long status = r->status;
			json_int_t version = json_integer_value(json_object_get(r->json, "version"));

			kt_resp_free(r);
			if (status != 200 || version != v + 1)
				fail_msg("PATCH of %s after the kill: HTTP %ld, version %lld (%ld before)",
				         ls[i].ids[o], status, (long long)version, v);
		}
	assert_int_equal(kt_keel_stop(srv), 0);
	srv = NULL;
}

static void
keel_killed_during_writes(void **state)
{
	(void)state;
	load ls[THREADS];
	pthread_t th[THREADS];
	atomic_bool stop = false;

	srv = kt_keel_start((const char *[]){"KEEL_LOG_LEVEL=error", NULL}, NULL);
	char *tenant = keep(kt_signup(srv->base, "fault-kill", PASSWORD));
	char *token = keep(kt_login(srv->base, "fault-kill", "owner@fault-kill.test", PASSWORD));

	loads_start(ls, th, srv->base, token, 'b', true, &stop);
	usleep(1500 * 1000);
	long long killed_at = kt_now_ms();

	kill(srv->pid, SIGKILL);
	int st = 0;

	waitpid(srv->pid, &st, 0);
	unlink(srv->log);
	free(srv);
	srv = NULL;
	for (int i = 0; i < THREADS; i++) /* each ends at its first unanswered call */
		pthread_join(th[i], NULL);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	PGconn *pg = owner_in(tenant);
	size_t acked;

	await_sessions_gone(pg);
	size_t cut = check_killed_calls(pg, ls, killed_at, &acked);

	check_versions(pg, ls);
	long rows = check_whole(pg);

	if (acked < 2 * THREADS)
		fail_msg("only %zu writes were acknowledged before the kill", acked);
	print_message("fault: keel killed after %zu acknowledged writes, %zu cut off in flight; "
	              "%ld organizations, each whole\n",
	              acked, cut, rows);
	check_serves_again(pg, ls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(keel_killed_during_writes, test_teardown),
	    cmocka_unit_test_teardown(database_stopped_during_writes, test_teardown),
	    cmocka_unit_test_teardown(database_unresponsive_during_writes, test_teardown),
	};

	return cmocka_run_group_tests_name("fault", tests, group_setup, group_teardown);
}
