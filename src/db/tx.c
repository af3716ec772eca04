/*
 * Tenant-scoped transactions, prepared statements and results.
 *
 * A transaction is begun lazily: keel_tx_begin() only records who it acts
 * for, and the first keel_tx_exec() sends BEGIN, the set_config() of the
 * context, any PREPARE still needed and the statement itself in one libpq
 * pipeline, so a typical request costs two round trips (that one and
 * COMMIT).  When that first pipeline finds the connection dead (PostgreSQL
 * restarted since the connection was made), nothing can have been done, so it
 * reconnects and tries once more before giving up with KEEL_EUNAVAIL.
 *
 * Statements queued with keel_tx_defer() (outbox events) ride in the COMMIT's
 * pipeline, ahead of COMMIT: they cost no round trip of their own, and they
 * commit or vanish with everything else.
 *
 * A transaction with a guard (keel_ctx.guard: svc's access check) sends the
 * guard in place of the settings statement; when it raises, PostgreSQL skips
 * the rest of the pipeline, so nothing of the transaction runs, and the
 * caller is told (guarded()) before the failure reaches the statement's
 * caller.
 */
#include "db/db_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef enum tx_state {
	TX_PENDING, /* BEGIN not sent yet */
	TX_OPEN,
	TX_FAILED, /* a statement failed: only rollback remains */
	TX_DONE,
} tx_state;

/* A statement queued by keel_tx_defer(), with its own copy of the parameters. */
typedef struct deferred {
	const keel_stmt *st;
	const char **params;
	struct deferred *next;
} deferred;

struct keel_tx {
	keel_db *db;
	keel_arena *arena;
	keel_ctx ctx;
	tx_state state;
	char sqlstate[6];
	const char *constraint;
	const char *column;  /* the failed statement's COLUMN field, or "" */
	const char *message; /* its primary message, or "" */
	deferred *defer_head, *defer_tail;
	int ndefer;
	bool released; /* keel_tx_release() gave the connection back */
	bool guarded;  /* the guard's outcome was reported */
};

static const keel_stmt begin_stmt = {"BEGIN", "BEGIN", 0};
static const keel_stmt commit_stmt = {"COMMIT", "COMMIT", 0};

static const keel_stmt ctx_stmt = {"keel_tx_ctx", "SELECT " KEEL_TX_SETTINGS_SQL,
                                   KEEL_TX_SETTINGS_PARAMS};

static void
pgresult_release(void *res)
{
	PQclear(res);
}

void
db_defer_clear(keel_arena *arena, PGresult *res)
{
	keel_arena_defer(arena, pgresult_release, res);
}

static bool
state_is(const char *state, const char *want)
{
	return strncmp(state, want, strlen(want)) == 0;
}

bool
keel_db_module_state(const char *state)
{
	return state != NULL && state[0] == 'K' && state[1] >= 'B' && state[1] <= 'Z' &&
	       strlen(state) == 5;
}

keel_err
db_result_err(keel_db *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK || state == NULL ||
	    state_is(state, "08") || state_is(state, "57P0")) {
		db->broken = true;
		return KEEL_EUNAVAIL;
	}
	if (state_is(state, "57014") || state_is(state, "40") || state_is(state, "53"))
		return KEEL_EUNAVAIL;
	if (state_is(state, "23505") || state_is(state, "23P01"))
		return KEEL_ECONFLICT;
	if (state_is(state, "23") || state_is(state, "22") || state_is(state, "P0001"))
		return KEEL_EINVAL;
	if (keel_db_module_state(state)) {
		if (strcmp(state + 2, "404") == 0)
			return KEEL_ENOTFOUND;
		if (strcmp(state + 2, "409") == 0)
			return KEEL_ECONFLICT;
		if (strcmp(state + 2, "422") == 0)
			return KEEL_EINVAL;
		if (strcmp(state + 2, "403") == 0)
			return KEEL_EDENIED;
	}
	if (state_is(state, "42501") || state_is(state, "KA403") || state_is(state, "KA423"))
		return KEEL_EDENIED;
	if (state_is(state, "KA401"))
		return KEEL_EUNAUTH;
	return KEEL_EINTERNAL;
}

/* Log a failed statement: SQLSTATE and primary message only (DETAIL can hold row data). */
static void
log_failure(keel_err err, const char *what, const PGresult *res, const keel_db *db)
{
	keel_log_level level = err == KEEL_EINTERNAL  ? KEEL_LOG_ERROR
	                       : err == KEEL_EUNAVAIL ? KEEL_LOG_WARN
	                                              : KEEL_LOG_DEBUG;

	if (!keel_log_enabled(level))
		return;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	json_t *f = json_object();

	json_object_set_new(f, "statement", json_string(what));
	json_object_set_new(f, "sqlstate", json_string(state ? state : ""));
	json_t *m = json_string(msg ? msg : (db->conn ? PQerrorMessage(db->conn) : "no connection"));

	json_object_set_new(f, "error", m ? m : json_string("(not UTF-8)"));
	keel_log_json(level, "db: statement failed", f);
}

/* Keep ctx's guard, with a copy of its parameters, in tx. */
static void
guard_copy(keel_tx *tx, const keel_ctx *ctx)
{
	const keel_stmt *g = ctx->guard;

	if (g == NULL)
		return;
	int n = g->nparams - KEEL_TX_SETTINGS_PARAMS;
	const char **p = keel_arena_calloc(tx->arena, (size_t)(n > 0 ? n : 1), sizeof(*p));

	for (int i = 0; i < n; i++)
		p[i] = ctx->guard_params[i] ? keel_arena_strdup(tx->arena, ctx->guard_params[i]) : NULL;
	tx->ctx.guard = g;
	tx->ctx.guard_params = p;
	tx->ctx.guarded = ctx->guarded;
	tx->ctx.guard_arg = ctx->guard_arg;
}

/*
 * Tell the caller how the guard went, once: res is the guard step's result
 * when it succeeded; otherwise err (and the failed result's details).
 */
static void
guard_report(keel_tx *tx, const PGresult *res, keel_err err)
{
	if (tx->ctx.guarded == NULL || tx->guarded)
		return;
	tx->guarded = true;
	if (err == KEEL_OK) {
		tx->ctx.guarded(tx->ctx.guard_arg, (const keel_res *)res, KEEL_OK, "", "");
		return;
	}
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	tx->ctx.guarded(tx->ctx.guard_arg, NULL, err, state ? state : "", msg ? msg : "");
}

static void
tx_cleanup(void *arg)
{
	keel_tx_rollback(arg);
}

keel_err
keel_tx_begin(keel_db *db, keel_arena *arena, const keel_ctx *ctx, keel_tx **out)
{
	keel_tx *tx = keel_arena_calloc(arena, 1, sizeof(*tx));

	tx->db = db;
	tx->arena = arena;
	if (ctx != NULL) {
		tx->ctx.tenant_id = ctx->tenant_id ? keel_arena_strdup(arena, ctx->tenant_id) : NULL;
		tx->ctx.user_id = ctx->user_id ? keel_arena_strdup(arena, ctx->user_id) : NULL;
		tx->ctx.request_id = ctx->request_id ? keel_arena_strdup(arena, ctx->request_id) : NULL;
		tx->ctx.trace_id = ctx->trace_id ? keel_arena_strdup(arena, ctx->trace_id) : NULL;
		tx->ctx.client_addr = ctx->client_addr ? keel_arena_strdup(arena, ctx->client_addr) : NULL;
		guard_copy(tx, ctx);
	}
	/* The connection is this transaction's until it ends: its round trips carry the trace. */
	db->traced = ctx != NULL && ctx->trace != NULL;
	if (db->traced)
		db->trace = *ctx->trace;
	tx->state = TX_PENDING;
	tx->constraint = tx->column = tx->message = "";
	keel_arena_defer(arena, tx_cleanup, tx);
	*out = tx;
	return KEEL_OK;
}

/* One step of a pipeline. */
typedef struct step {
	enum { STEP_SIMPLE, STEP_PREPARE, STEP_EXEC } kind;
	const keel_stmt *st;
	const char *sql; /* STEP_SIMPLE */
	const char *const *params;
	PGresult *res;
} step;

static bool
step_send(PGconn *c, const step *s)
{
	switch (s->kind) {
	case STEP_SIMPLE:
		return PQsendQueryParams(c, s->sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
	case STEP_PREPARE:
		return PQsendPrepare(c, s->st->name, s->st->sql, s->st->nparams, NULL) == 1;
	case STEP_EXEC:
		return PQsendQueryPrepared(c, s->st->name, s->st->nparams, s->params, NULL, NULL, 0) == 1;
	}
	return false;
}

/*
 * Send steps in one pipeline and collect one result per step.  Returns false
 * when the connection failed (results may be missing); the caller maps errors.
 */
static bool pipeline_send(keel_db *db, step *steps, int n);

/*
 * When a round trip begun now must have its answer: the statement timeout
 * (which PostgreSQL enforces, when it runs at all) plus the connect timeout
 * as grace.  A server that neither answers nor closes (hung host, dropped
 * packets) would otherwise keep the worker forever.  No limit without a
 * statement timeout.
 */
static uint64_t
result_deadline(const keel_db *db)
{
	if (db->opts.statement_timeout_ms <= 0)
		return UINT64_MAX;
	int64_t grace = db->opts.connect_timeout_ms > 0 ? db->opts.connect_timeout_ms : 5000;

	return keel_clock_mono_ns() + (uint64_t)(db->opts.statement_timeout_ms + grace) * 1000000u;
}

/*
 * PQgetResult() that waits at most until deadline (keel_clock_mono_ns()).
 * Returns NULL with *late set when the deadline passed first; the connection
 * is then unusable (a result may still be on its way).
 */
static PGresult *
result_by(PGconn *c, uint64_t deadline, bool *late)
{
	while (PQisBusy(c)) {
		uint64_t now = keel_clock_mono_ns();

		if (now >= deadline) {
			*late = true;
			return NULL;
		}
		uint64_t left = (deadline - now + 999999) / 1000000;
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);

		if ((r < 0 && errno != EINTR) || (r > 0 && PQconsumeInput(c) == 0))
			break; /* PQgetResult reports the broken connection */
	}
	return PQgetResult(c);
}

/* Run one pipeline and tell the observer how long the round trip took. */
static bool
pipeline_run(keel_db *db, step *steps, int n)
{
	uint64_t start = db->opts.observe ? keel_clock_mono_ns() : 0;
	bool ok = pipeline_send(db, steps, n);

	if (db->opts.observe != NULL && n > 0)
		db->opts.observe(db->opts.observe_ctx, steps[n - 1].st ? steps[n - 1].st->name : "sql",
		                 (double)(keel_clock_mono_ns() - start) / 1e9,
		                 db->traced ? &db->trace : NULL);
	return ok;
}

static bool
pipeline_send(keel_db *db, step *steps, int n)
{
	PGconn *c = db->conn;
	bool ok = true, late = false;
	uint64_t deadline = result_deadline(db);

	db->late = false;
	for (int i = 0; i < n; i++)
		steps[i].res = NULL;
	if (c == NULL || PQenterPipelineMode(c) != 1)
		return false;
	for (int i = 0; i < n && ok; i++)
		ok = step_send(c, &steps[i]);
	ok = ok && PQpipelineSync(c) == 1;
	for (int i = 0; i < n && ok; i++) {
		steps[i].res = result_by(c, deadline, &late);
		if (steps[i].res == NULL) {
			ok = false;
			break;
		}
		for (PGresult *extra; (extra = result_by(c, deadline, &late)) != NULL;)
			PQclear(extra);
		ok = !late;
	}
	if (ok) {
		PGresult *sync = result_by(c, deadline, &late);

		ok = sync != NULL && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
		PQclear(sync);
	}
	if (late) {
		/* the statements may have run: never retried, the connection is dropped */
		keel_log_warn("db: no answer from PostgreSQL within the statement timeout");
		db->late = true;
		db->broken = true;
		return false;
	}
	if (!ok || PQexitPipelineMode(c) != 1) {
		db->broken = true;
		return false;
	}
	return true;
}

static bool
result_ok(const PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static void
steps_clear(step *steps, int n, int keep)
{
	for (int i = 0; i < n; i++)
		if (i != keep)
			PQclear(steps[i].res);
}

#define GUARD_PARAMS_MAX 4

/* The settings statement's parameters into p: the context's, then the guard's. */
static const char **
settings_params(const keel_tx *tx, const char **p)
{
	const keel_ctx *c = &tx->ctx;
	int extra = c->guard != NULL ? c->guard->nparams - KEEL_TX_SETTINGS_PARAMS : 0;

	p[0] = c->tenant_id;
	p[1] = c->user_id;
	p[2] = c->request_id;
	p[3] = c->trace_id;
	p[4] = c->client_addr;
	for (int i = 0; i < extra && i < GUARD_PARAMS_MAX; i++)
		p[KEEL_TX_SETTINGS_PARAMS + i] = c->guard_params[i];
	return p;
}

/*
 * Queue the settings: [PREPARE,] the statement that makes them: the guard
 * when the transaction has one (it makes them and checks more).
 */
static int
plan_settings(const keel_tx *tx, step *s, int n, const char **params)
{
	const keel_stmt *st = tx->ctx.guard != NULL ? tx->ctx.guard : &ctx_stmt;

	if (!db_is_prepared(tx->db, st))
		s[n++] = (step){.kind = STEP_PREPARE, .st = st};
	s[n++] = (step){.kind = STEP_EXEC, .st = st, .params = params};
	return n;
}

/* Is s the guard's own execution? */
static bool
is_guard(const keel_tx *tx, const step *s)
{
	return tx->ctx.guard != NULL && s->kind == STEP_EXEC && s->st == tx->ctx.guard;
}

/*
 * Build the steps for st: [BEGIN, [PREPARE] settings,] [PREPARE st,] st.  A
 * transaction run as a single statement (only) has no BEGIN: the pipeline
 * segment up to its Sync is one implicit transaction.
 */
static int
plan(keel_tx *tx, const keel_stmt *st, const char *const *params, const char **ctxp, step *s,
     bool only)
{
	int n = 0;

	if (tx->state == TX_PENDING) {
		if (!only)
			s[n++] = (step){.kind = STEP_SIMPLE, .sql = "BEGIN"};
		n = plan_settings(tx, s, n, ctxp);
	}
	if (!db_is_prepared(tx->db, st))
		s[n++] = (step){.kind = STEP_PREPARE, .st = st};
	s[n++] = (step){.kind = STEP_EXEC, .st = st, .params = params};
	return n;
}

static keel_err
tx_fail(keel_tx *tx, keel_err err, const keel_stmt *st, PGresult *res)
{
	log_failure(err, st->name, res, tx->db);
	if (res != NULL) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
		const char *col = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		snprintf(tx->sqlstate, sizeof(tx->sqlstate), "%s", state ? state : "");
		tx->constraint = keel_arena_strdup(tx->arena, cons ? cons : "");
		tx->column = keel_arena_strdup(tx->arena, col ? col : "");
		tx->message = keel_arena_strdup(tx->arena, msg ? msg : "");
	}
	tx->state = TX_FAILED;
	return err;
}

/* One attempt; *retry is set when the connection was found dead before anything ran. */
static keel_err
exec_once(keel_tx *tx, const keel_stmt *st, const char *const *params, keel_res **out, bool *retry,
          bool only)
{
	const char *ctxp[KEEL_TX_SETTINGS_PARAMS + GUARD_PARAMS_MAX];
	step steps[6];
	int n = plan(tx, st, params, settings_params(tx, ctxp), steps, only);
	bool first = tx->state == TX_PENDING;

	*retry = false;
	if (!pipeline_run(tx->db, steps, n)) {
		steps_clear(steps, n, -1);
		*retry = first && !tx->db->late;
		return tx_fail(tx, KEEL_EUNAVAIL, st, NULL);
	}
	for (int i = 0; i < n; i++) {
		if (result_ok(steps[i].res)) {
			if (steps[i].kind == STEP_PREPARE)
				db_mark_prepared(tx->db, steps[i].st);
			if (is_guard(tx, &steps[i]))
				guard_report(tx, steps[i].res, KEEL_OK);
			continue;
		}
		PGresult *bad = steps[i].res;
		keel_err err = db_result_err(tx->db, bad);

		*retry = first && tx->db->broken;
		if (is_guard(tx, &steps[i]) && !*retry)
			guard_report(tx, bad, err);
		err = tx_fail(tx, err, st, bad);
		steps_clear(steps, n, -1);
		return err;
	}
	tx->state = only ? TX_DONE : TX_OPEN;
	steps_clear(steps, n, n - 1);
	db_defer_clear(tx->arena, steps[n - 1].res);
	if (out != NULL)
		*out = (keel_res *)steps[n - 1].res;
	return KEEL_OK;
}

static keel_err
exec_with_retry(keel_tx *tx, const keel_stmt *st, const char *const *params, keel_res **out,
                bool only)
{
	bool retry;

	if (out != NULL)
		*out = NULL;
	if (tx->state == TX_FAILED || tx->state == TX_DONE ||
	    (only && (tx->state != TX_PENDING || tx->ndefer > 0))) {
		keel_log_error("db: %s run on a %s transaction", st->name, only ? "started" : "finished");
		return KEEL_EINTERNAL;
	}
	keel_err err = exec_once(tx, st, params, out, &retry, only);

	if (err != KEEL_OK && retry) {
		char why[512];

		tx->state = TX_PENDING;
		if (db_connect(tx->db, why, sizeof(why)) != KEEL_OK) {
			keel_log_warn("db: %s", why);
			tx->state = TX_FAILED;
			return KEEL_EUNAVAIL;
		}
		err = exec_once(tx, st, params, out, &retry, only);
	}
	if (err != KEEL_OK && only)
		tx->state = TX_DONE; /* the implicit transaction ended at its Sync */
	return err;
}

keel_err
keel_tx_exec(keel_tx *tx, const keel_stmt *st, const char *const *params, keel_res **out)
{
	return exec_with_retry(tx, st, params, out, false);
}

keel_err
keel_tx_exec_only(keel_tx *tx, const keel_stmt *st, const char *const *params, keel_res **out)
{
	return exec_with_retry(tx, st, params, out, true);
}

static keel_err
tx_simple(keel_tx *tx, const char *sql)
{
	uint64_t start = keel_clock_mono_ns(), deadline = result_deadline(tx->db);
	PGconn *c = tx->db->conn;
	PGresult *res = NULL, *r;
	bool late = false;

	if (PQsendQuery(c, sql) == 1)
		while ((r = result_by(c, deadline, &late)) != NULL) {
			PQclear(res);
			res = r;
		}
	if (late) {
		keel_log_warn("db: no answer from PostgreSQL within the statement timeout");
		PQclear(res);
		res = NULL;
		tx->db->broken = true;
	}

	if (tx->db->opts.observe != NULL)
		tx->db->opts.observe(tx->db->opts.observe_ctx, sql,
		                     (double)(keel_clock_mono_ns() - start) / 1e9,
		                     tx->db->traced ? &tx->db->trace : NULL);
	keel_err err = KEEL_OK;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		err = res == NULL ? KEEL_EUNAVAIL : db_result_err(tx->db, res);
		if (res == NULL)
			tx->db->broken = true;
		log_failure(err, sql, res, tx->db);
	}
	PQclear(res);
	return err;
}

/* Has st got a PREPARE among the first n steps? */
static bool
planned(const step *s, int n, const keel_stmt *st)
{
	for (int i = 0; i < n; i++)
		if (s[i].kind == STEP_PREPARE && s[i].st == st)
			return true;
	return false;
}

/*
 * Send the deferred statements in one pipeline: [BEGIN, ctx,] [PREPAREs,]
 * the statements [, COMMIT].  The queue is empty afterwards, whatever
 * happened; on failure the transaction is failed (or, when COMMIT itself
 * failed, over: PostgreSQL ended it).
 */
static keel_err
defer_flush(keel_tx *tx, bool commit)
{
	const char *ctxp[KEEL_TX_SETTINGS_PARAMS + GUARD_PARAMS_MAX];
	step *s = keel_arena_calloc(tx->arena, (size_t)(2 * tx->ndefer + 5), sizeof(*s));
	int n = 0;

	if (tx->state == TX_PENDING) {
		s[n++] = (step){.kind = STEP_SIMPLE, .st = &begin_stmt, .sql = begin_stmt.sql};
		n = plan_settings(tx, s, n, settings_params(tx, ctxp));
	}
	for (deferred *d = tx->defer_head; d != NULL; d = d->next) {
		if (!db_is_prepared(tx->db, d->st) && !planned(s, n, d->st))
			s[n++] = (step){.kind = STEP_PREPARE, .st = d->st};
		s[n++] = (step){.kind = STEP_EXEC, .st = d->st, .params = d->params};
	}
	if (commit)
		s[n++] = (step){.kind = STEP_SIMPLE, .st = &commit_stmt, .sql = commit_stmt.sql};
	tx->defer_head = tx->defer_tail = NULL;
	tx->ndefer = 0;
	if (!pipeline_run(tx->db, s, n)) {
		steps_clear(s, n, -1);
		return tx_fail(tx, KEEL_EUNAVAIL, &commit_stmt, NULL);
	}
	for (int i = 0; i < n; i++) {
		if (result_ok(s[i].res)) {
			if (s[i].kind == STEP_PREPARE)
				db_mark_prepared(tx->db, s[i].st);
			if (is_guard(tx, &s[i]))
				guard_report(tx, s[i].res, KEEL_OK);
			continue;
		}
		keel_err err = db_result_err(tx->db, s[i].res);

		if (is_guard(tx, &s[i]))
			guard_report(tx, s[i].res, err);
		err = tx_fail(tx, err, s[i].st, s[i].res);
		if (s[i].st == &commit_stmt)
			tx->state = TX_DONE;
		steps_clear(s, n, -1);
		return err;
	}
	steps_clear(s, n, -1);
	tx->state = commit ? TX_DONE : TX_OPEN;
	return KEEL_OK;
}

keel_err
keel_tx_defer(keel_tx *tx, const keel_stmt *st, const char *const *params)
{
	if (tx->state == TX_FAILED || tx->state == TX_DONE) {
		keel_log_error("db: %s deferred on a %s transaction", st->name,
		               tx->state == TX_FAILED ? "failed" : "finished");
		return KEEL_EINTERNAL;
	}
	deferred *d = keel_arena_calloc(tx->arena, 1, sizeof(*d));

	d->st = st;
	d->params = keel_arena_calloc(tx->arena, (size_t)(st->nparams > 0 ? st->nparams : 1),
	                              sizeof(*d->params));
	for (int i = 0; i < st->nparams; i++)
		d->params[i] = params[i] != NULL ? keel_arena_strdup(tx->arena, params[i]) : NULL;
	if (tx->defer_tail != NULL)
		tx->defer_tail->next = d;
	else
		tx->defer_head = d;
	tx->defer_tail = d;
	if (++tx->ndefer >= KEEL_TX_DEFER_MAX)
		return defer_flush(tx, false);
	return KEEL_OK;
}

keel_err
keel_tx_commit(keel_tx *tx)
{
	if (tx->ndefer > 0 && (tx->state == TX_PENDING || tx->state == TX_OPEN))
		return defer_flush(tx, true);
	if (tx->state == TX_PENDING || tx->state == TX_DONE) {
		tx->state = TX_DONE; /* nothing was sent, or it ran as one implicit transaction */
		return KEEL_OK;
	}
	if (tx->state != TX_OPEN) {
		keel_log_error("db: commit of a %s transaction",
		               tx->state == TX_FAILED ? "failed" : "finished");
		return KEEL_EINTERNAL;
	}
	keel_err err = tx_simple(tx, "COMMIT");

	tx->state = TX_DONE;
	return err;
}

void
keel_tx_rollback(keel_tx *tx)
{
	if (tx->state == TX_PENDING || tx->state == TX_DONE) {
		tx->state = TX_DONE;
		return;
	}
	tx->state = TX_DONE;
	if (tx->db->conn == NULL || tx->db->broken)
		return;
	if (tx_simple(tx, "ROLLBACK") != KEEL_OK)
		tx->db->broken = true;
}

void
keel_tx_release(keel_tx *tx)
{
	if (tx->released)
		return;
	tx->released = true;
	keel_tx_rollback(tx);
	keel_db_release_scoped(tx->db);
}

const keel_trace_ref *
keel_tx_trace(const keel_tx *tx)
{
	return tx->db->traced ? &tx->db->trace : NULL;
}

keel_db *
keel_tx_db(const keel_tx *tx)
{
	return tx->db;
}

const char *
keel_tx_sqlstate(const keel_tx *tx)
{
	return tx->sqlstate;
}

const char *
keel_tx_constraint(const keel_tx *tx)
{
	return tx->constraint;
}

const char *
keel_tx_column(const keel_tx *tx)
{
	return tx->column;
}

const char *
keel_tx_message(const keel_tx *tx)
{
	return tx->message;
}

keel_err
keel_db_exec(keel_db *db, keel_arena *arena, const keel_stmt *st, const char *const *params,
             keel_res **out)
{
	step steps[2];
	int n = 0;

	if (out != NULL)
		*out = NULL;
	db->traced = false; /* a statement of its own, not of a caller's transaction */
	if (!db_is_prepared(db, st))
		steps[n++] = (step){.kind = STEP_PREPARE, .st = st};
	steps[n++] = (step){.kind = STEP_EXEC, .st = st, .params = params};
	if (!pipeline_run(db, steps, n)) {
		steps_clear(steps, n, -1);
		log_failure(KEEL_EUNAVAIL, st->name, NULL, db);
		return KEEL_EUNAVAIL;
	}
	for (int i = 0; i < n; i++) {
		if (!result_ok(steps[i].res)) {
			keel_err err = db_result_err(db, steps[i].res);

			log_failure(err, st->name, steps[i].res, db);
			steps_clear(steps, n, -1);
			return err;
		}
		if (steps[i].kind == STEP_PREPARE)
			db_mark_prepared(db, st);
	}
	steps_clear(steps, n, n - 1);
	db_defer_clear(arena, steps[n - 1].res);
	if (out != NULL)
		*out = (keel_res *)steps[n - 1].res;
	return KEEL_OK;
}

int
keel_res_rows(const keel_res *res)
{
	return PQntuples((const PGresult *)res);
}

int
keel_res_cols(const keel_res *res)
{
	return PQnfields((const PGresult *)res);
}

const char *
keel_res_get(const keel_res *res, int row, int col)
{
	return PQgetvalue((const PGresult *)res, row, col);
}

bool
keel_res_null(const keel_res *res, int row, int col)
{
	return PQgetisnull((const PGresult *)res, row, col) == 1;
}

long
keel_res_affected(const keel_res *res)
{
	const char *n = PQcmdTuples((PGresult *)res);

	return n[0] ? strtol(n, NULL, 10) : 0;
}

#define LOCK_POLL_MS 100 /* how often a waiting keel_db_lock() tries again */

static const keel_stmt try_lock_stmt = {"keel_db_try_lock",
                                        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1};
static const keel_stmt unlock_stmt = {"keel_db_unlock",
                                      "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1};

keel_err
keel_db_lock(keel_db *db, const char *name, const keel_db_lock_wait *w)
{
	const char *p[] = {name};

	for (bool told = false;; told = true) {
		keel_arena *a = keel_arena_create(256);
		keel_res *res;
		keel_err err = keel_db_exec(db, a, &try_lock_stmt, p, &res);
		bool got = err == KEEL_OK && keel_res_get(res, 0, 0)[0] == 't';

		keel_arena_destroy(a);
		if (err != KEEL_OK || got)
			return err;
		if (!w->wait || (w->cancelled != NULL && w->cancelled(w->ctx)))
			return KEEL_ECONFLICT;
		if (!told && w->waiting != NULL)
			w->waiting(w->ctx);
		nanosleep(&(struct timespec){.tv_nsec = LOCK_POLL_MS * 1000000L}, NULL);
	}
}

void
keel_db_unlock(keel_db *db, const char *name)
{
	keel_arena *a = keel_arena_create(256);
	const char *p[] = {name};

	keel_db_exec(db, a, &unlock_stmt, p, NULL);
	keel_arena_destroy(a);
}
