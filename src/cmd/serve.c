/*
 * keel serve: the HTTP API.
 *
 * Start-up order: connection pool -> schema check (refuse to serve an
 * unmigrated database unless --migrate) -> router with the selected services
 * -> listen -> the outbox relay thread (when KEEL_KAFKA_BROKERS is set; a
 * relay that cannot reach Kafka or the database only logs and retries, it
 * never stops the API).  Signals are blocked in every thread and taken
 * synchronously by the main thread with sigwait(), which then runs the
 * graceful stop; no work happens in a signal handler.
 *
 * After listening, a thread keeps the audit log's partitions made ahead (at
 * once, then daily) on the owner's connection, when there is one
 * (audit_upkeep_start), and another deletes what is past its retention on
 * that connection too (retention_upkeep_start); they never stop the API
 * either.
 */
#include "audit/audit.h"
#include "auth/auth.h"
#include "cmd/cmd_int.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"
#include "ops/ops.h"
#include "fin/fin.h"
#include "hr/hr.h"
#include "org/org.h"
#include "tenancy/tenancy.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

keel_db_opts
keel_cmd_db_opts(const keel_config *cfg, bool owner)
{
	return (keel_db_opts){
	    .conninfo = owner ? cfg->migrate_database_url : cfg->database_url,
	    .connect_timeout_ms = cfg->db_connect_timeout_ms,
	    .statement_timeout_ms = owner ? 0 : cfg->db_statement_timeout_ms,
	    .application_name = owner ? "keel migrate" : "keel serve",
	};
}

/* Everything a serving process holds; lives on serve's stack. */
typedef struct app {
	observe *obs;
	keel_db_pool *pool;
	keel_workpool *hashers;
	keel_auth *auth;
	keel_tenancy tenancy;
	keel_org org;
	keel_fin fin;
	keel_hr hr;
	keel_ops ops;
	keel_audit audit;
	/* the audit partitions' upkeep thread; NULL without an owner connection */
	keel_audit_maintainer *audit_upkeep;
	/* retention's upkeep thread (retention.c); NULL without an owner connection */
	keel_retention_upkeep *retention_upkeep;
	keel_relay *relay; /* outbox -> Kafka, when KEEL_KAFKA_BROKERS is set */
	keel_router *router, *metrics_router;
	keel_server *server, *metrics_server; /* metrics_server: with KEEL_METRICS_LISTEN */
} app;

static void
add_auth(keel_router *r, app *a)
{
	keel_auth_routes(r, a->auth);
	keel_tenancy_routes(r, &a->tenancy);
}

static void
add_org(keel_router *r, app *a)
{
	keel_org_routes(r, &a->org);
}

static void
add_fin(keel_router *r, app *a)
{
	keel_fin_routes(r, &a->fin);
}

static void
add_hr(keel_router *r, app *a)
{
	keel_hr_routes(r, &a->hr);
}

static void
add_audit(keel_router *r, app *a)
{
	keel_audit_routes(r, &a->audit);
}

/*
 * The audit log's partitions are made ahead by a thread of every serve
 * process (they all try; an advisory lock lets one run at a time), on the
 * owner's connection: only the owner of audit.logs may attach partitions.
 * Without KEEL_MIGRATE_DATABASE_URL the process has no such connection and
 * says so; `keel audit maintain` from cron does the same job.
 */
static keel_audit_maintainer *
audit_upkeep_start(const keel_config *cfg)
{
	if (cfg->migrate_database_url == NULL) {
		keel_log_warn("audit: KEEL_MIGRATE_DATABASE_URL is not set, so this process does not "
		              "make the audit log's partitions ahead; run `keel audit maintain` daily");
		return NULL;
	}
	keel_db_opts o = keel_cmd_db_opts(cfg, true);

	o.application_name = "keel audit";
	return keel_audit_maintainer_start(&o, cfg->audit_months_ahead);
}

/*
 * Retention's upkeep, on the owner's connection like the partitions' (the
 * deletes cross tenants): at once, then daily.  Without it, `keel maintain`
 * from cron does the same job.
 */
static keel_retention_upkeep *
retention_upkeep_start(const keel_config *cfg)
{
	if (cfg->migrate_database_url == NULL) {
		keel_log_warn("retention: KEEL_MIGRATE_DATABASE_URL is not set, so this process does "
		              "not delete expired rows; run `keel maintain` daily");
		return NULL;
	}
	keel_db_opts o = keel_cmd_db_opts(cfg, true);
	keel_retention_opts ro = keel_retention_opts_of(cfg);

	o.application_name = "keel retention";
	return keel_retention_upkeep_start(&o, &ro);
}

/* The services a process can run; each adds its routes. */
typedef struct service {
	const char *name;
	void (*add)(keel_router *r, app *a);
} service;

static const service services[] = {{"auth", add_auth}, {"org", add_org},     {"fin", add_fin},
                                   {"hr", add_hr},     {"audit", add_audit}, {NULL, NULL}};

static bool
service_selected(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (strcmp(list, "all") == 0)
		return true;
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, name, len) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Validate a services list ("all" or "a,b"); prints the reason when invalid. */
static bool
services_valid(const char *list)
{
	if (strcmp(list, "all") == 0)
		return true;
	const char *p = list;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		bool known = false;

		for (const service *s = services; s->name != NULL && !known; s++)
			known = strlen(s->name) == len && strncmp(s->name, p, len) == 0;
		if (!known) {
			fprintf(stderr, "keel serve: unknown service \"%.*s\" (known: all", (int)len, p);
			for (const service *s = services; s->name != NULL; s++)
				fprintf(stderr, ", %s", s->name);
			fprintf(stderr, ")\n");
			return false;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

/* Apply pending migrations as the owner role (serve --migrate). */
static bool
migrate_first(const keel_config *cfg)
{
	keel_db_opts o = keel_cmd_db_opts(cfg, true);
	keel_db *db;
	char err[512];

	if (keel_db_open(&o, &db, err, sizeof(err)) != KEEL_OK) {
		keel_log_error("migrate: %s", err);
		return false;
	}
	keel_migrate_opts mo = {.out = stderr};
	keel_err e = keel_migrate_up(db, &keel_migrations_embedded, &mo);

	keel_db_close(db);
	return e == KEEL_OK;
}

/*
 * Refuse to start on a schema that is behind or different, unless migrating.
 * An unreachable database is only a warning: keel starts, answers 503, and
 * recovers when PostgreSQL comes up.
 */
static bool
schema_ready(keel_db_pool *pool)
{
	keel_arena *a = keel_arena_create(1024);
	keel_db *db;
	int pending = 0, mismatched = 0;
	bool ok = true;

	if (keel_db_acquire_scoped(pool, a, &db) != KEEL_OK ||
	    keel_migrate_pending(db, a, &keel_migrations_embedded, &pending, &mismatched) != KEEL_OK) {
		keel_log_warn("database unreachable at start; serving 503 until it answers");
	} else if (mismatched > 0) {
		keel_log_error("the database schema differs from this binary's migrations; run "
		               "`keel migrate verify`");
		ok = false;
	} else if (pending > 0) {
		keel_log_error("%d migration%s pending; run `keel migrate up` or `keel serve --migrate`",
		               pending, pending == 1 ? " is" : "s are");
		ok = false;
	}
	keel_arena_destroy(a);
	return ok;
}

static int
wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigwait(&set, &sig);
	return sig;
}

static void
usage(void)
{
	fprintf(stderr, "usage: keel serve [--listen ADDR] [--services all|NAME,...] [--migrate]\n");
}

/*
 * A worker thread waits for its own database round trips, each bounded by
 * the statement timeout plus the connect timeout.  While one waits, the other
 * connections the thread serves wait too, and libmicrohttpd closes those idle
 * for the request timeout meanwhile, without an answer: say so when the
 * settings allow it.
 */
static void
timeouts_check(const keel_config *cfg)
{
	int64_t round_trip = cfg->db_statement_timeout_ms + cfg->db_connect_timeout_ms;

	if (cfg->db_statement_timeout_ms == 0 || round_trip >= cfg->request_timeout_ms)
		keel_log_warn("KEEL_REQUEST_TIMEOUT should exceed KEEL_DB_STATEMENT_TIMEOUT +"
		              " KEEL_DB_CONNECT_TIMEOUT (a round trip's deadline): connections waiting"
		              " behind a stuck round trip are closed without an answer");
}

/*
 * The pool, the hashing pool and the modules, wired to the metrics and spans;
 * the relay when KEEL_KAFKA_BROKERS is set.  False (logged) on a
 * configuration error; app_close() releases what was made either way.
 */
static bool
app_open(app *a, const keel_config *cfg)
{
	keel_db_opts dbo = keel_cmd_db_opts(cfg, false);
	char err[512];

	a->obs = observe_create();
	dbo.observe = observe_query;
	dbo.observe_ctx = a->obs;
	a->pool = keel_db_pool_create(&dbo, cfg->workers);
	a->hashers = keel_workpool_create(cfg->hash_workers, cfg->hash_queue, 10);
	a->router = keel_router_create();
	a->metrics_router = keel_router_create();
	a->ops = (keel_ops){
	    .pool = a->pool, .migrations = &keel_migrations_embedded, .metrics = a->obs->metrics};
	keel_metrics_collector(a->obs->metrics, observe_pool, a->pool);
	if (keel_auth_create(cfg, a->pool, a->hashers, &a->auth, err, sizeof(err)) != KEEL_OK) {
		keel_log_error("configuration: %s", err);
		return false;
	}
	keel_auth_set_metrics(a->auth, a->obs->metrics);
	a->tenancy = (keel_tenancy){
	    .pool = a->pool, .auth = a->auth, .signup_open = strcmp(cfg->signup, "open") == 0};
	a->org = (keel_org){.pool = a->pool};
	a->fin = (keel_fin){.pool = a->pool};
	a->hr = (keel_hr){.pool = a->pool};
	a->audit = (keel_audit){.pool = a->pool};
	if (cfg->kafka_brokers != NULL) {
		keel_relay_opts ro = keel_cmd_relay_opts(cfg);

		ro.on_produce = observe_produce;
		ro.on_produce_ctx = a->obs;
		if (keel_relay_create(&ro, &a->relay, err, sizeof(err)) != KEEL_OK) {
			keel_log_error("configuration: %s", err);
			return false;
		}
		keel_metrics_collector(a->obs->metrics, observe_relay, a->relay);
	}
	return true;
}

static void
app_close(app *a)
{
	keel_audit_maintainer_stop(a->audit_upkeep);
	keel_retention_upkeep_stop(a->retention_upkeep);
	keel_relay_destroy(a->relay);
	if (a->hashers != NULL) /* first: no connection may wait for a hash (see app_stop) */
		keel_workpool_stop(a->hashers, keel_clock_mono_ns());
	keel_server_destroy(a->metrics_server);
	keel_server_destroy(a->server);
	keel_router_destroy(a->metrics_router);
	keel_router_destroy(a->router);
	keel_workpool_destroy(a->hashers);
	keel_auth_destroy(a->auth);
	keel_db_pool_destroy(a->pool);
	keel_ops_release(&a->ops);
	observe_destroy(a->obs);
}

/* The operations routes (GET /metrics on metrics) and those of the selected services. */
static void
routes_add(app *a, keel_router *router, keel_router *metrics, const char *list)
{
	keel_ops_routes(router, &a->ops);
	keel_ops_metrics_route(metrics, &a->ops);
	for (const service *sv = services; sv->name != NULL; sv++)
		if (service_selected(list, sv->name))
			sv->add(router, a);
}

void
keel_cmd_serve_routes(keel_router *r, const char *list)
{
	static app none; /* registration only keeps the contexts' addresses */

	routes_add(&none, r, r, list);
}

/* The routes of the selected services, the operations routes, and the listeners. */
static bool
app_listen(app *a, const keel_config *cfg, const char *listen, const char *list)
{
	char err[512];

	routes_add(a, a->router, cfg->metrics_listen ? a->metrics_router : a->router, list);
	keel_ops_finish(&a->ops, a->router, KEEL_VERSION);

	keel_server_opts so = {.listen = listen,
	                       .workers = cfg->workers,
	                       .max_connections = cfg->max_connections,
	                       .request_timeout_ms = cfg->request_timeout_ms,
	                       .auth = keel_auth_authenticate,
	                       .auth_ctx = a->auth,
	                       .observe = observe_request,
	                       .observe_ctx = a->obs,
	                       .trace_ratio = a->obs->trace_ratio,
	                       .trusted_proxies = &cfg->trusted_proxies};

	a->server = keel_server_create(&so, a->router);
	if (keel_server_start(a->server, err, sizeof(err)) != KEEL_OK) {
		keel_log_error("%s", err);
		return false;
	}
	keel_metrics_collector(a->obs->metrics, observe_server, a->server);
	if (cfg->metrics_listen != NULL) {
		keel_server_opts mo = {.listen = cfg->metrics_listen,
		                       .workers = 1,
		                       .max_connections = 16,
		                       .request_timeout_ms = cfg->request_timeout_ms};

		a->metrics_server = keel_server_create(&mo, a->metrics_router);
		if (keel_server_start(a->metrics_server, err, sizeof(err)) != KEEL_OK) {
			keel_log_error("metrics: %s", err);
			return false;
		}
	}
	keel_log_json(
	    KEEL_LOG_INFO, "listening",
	    json_pack("{s:s, s:i, s:s}", "address", listen, "workers", cfg->workers, "services", list));
	return true;
}

/*
 * The graceful stop, within KEEL_SHUTDOWN_TIMEOUT: stop accepting; then the
 * hashing pool, which takes no new work and runs what is queued for at most
 * half the timeout, then answers what still waits 503 (Retry-After) and
 * finishes the hashes running; then the requests in flight, the sign-ins
 * resumed from the pool among them, for the rest of it.  The pool goes
 * first because a request waiting for a hash holds a suspended connection,
 * which libmicrohttpd cannot close, and its job, run later, would resume a
 * connection of a server gone.
 */
static void
app_stop(app *a, const keel_config *cfg)
{
	uint64_t start = keel_clock_mono_ns();
	uint64_t budget = (uint64_t)cfg->shutdown_timeout_ms * 1000000u;

	keel_server_quiesce(a->server);
	keel_workpool_stop(a->hashers, start + budget / 2);

	uint64_t spent = keel_clock_mono_ns() - start;

	keel_server_stop(a->server, spent < budget ? (int64_t)((budget - spent) / 1000000u) : 0);
}

/* Serve until SIGINT or SIGTERM, then finish what is in flight. */
static void
app_run(app *a, const keel_config *cfg)
{
	a->audit_upkeep = audit_upkeep_start(cfg);
	a->retention_upkeep = retention_upkeep_start(cfg);
	if (a->relay != NULL && keel_relay_start(a->relay) != KEEL_OK)
		keel_log_error("relay: could not start its thread; events stay in the outbox");
	int sig = wait_for_signal();

	keel_log_info("received %s; finishing requests in flight",
	              sig == SIGINT ? "SIGINT" : "SIGTERM");
	app_stop(a, cfg);
	if (a->metrics_server != NULL)
		keel_server_stop(a->metrics_server, 1000);
	keel_audit_maintainer_stop(a->audit_upkeep);
	a->audit_upkeep = NULL;
	keel_retention_upkeep_stop(a->retention_upkeep);
	a->retention_upkeep = NULL;
	keel_relay_stop(a->relay);
	keel_log_info("stopped");
}

int
keel_cmd_serve(const keel_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
	                                         {"services", required_argument, NULL, 's'},
	                                         {"migrate", no_argument, NULL, 'm'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	const char *listen = cfg->listen, *list = cfg->services;
	bool migrate = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 's':
			list = optarg;
			break;
		case 'm':
			migrate = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc || !services_valid(list)) {
		usage();
		return 2;
	}
	if (migrate && !migrate_first(cfg))
		return 1;
	timeouts_check(cfg);

	app a = {0};
	int status = 1;

	if (app_open(&a, cfg) && schema_ready(a.pool) && app_listen(&a, cfg, listen, list)) {
		app_run(&a, cfg);
		status = 0;
	}
	app_close(&a);
	return status;
}
