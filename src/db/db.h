/*
 * keel database access: a pool of libpq connections, tenant-scoped
 * transactions, named prepared statements, results, and migrations.
 *
 * Only this module includes libpq-fe.h.  Feature modules describe their SQL
 * as keel_stmt rows in their *_store.c and run them with keel_tx_exec()
 * inside a transaction begun by keel_tx_begin(); none opens a transaction by
 * hand.  Results and transactions belong to an arena and are released with
 * it, so a failed request can never leak a connection or leave one inside an
 * open transaction.
 */
#ifndef KEEL_DB_DB_H
#define KEEL_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/trace.h"

typedef struct keel_db keel_db;
typedef struct keel_db_pool keel_db_pool;
typedef struct keel_tx keel_tx;
typedef struct keel_res keel_res;

/* A named prepared statement; prepared on each connection at first use. */
typedef struct keel_stmt {
	const char *name;
	const char *sql;
	int nparams;
} keel_stmt;

typedef struct keel_db_opts {
	const char *conninfo;         /* URI or key=value; NULL: libpq's PG* variables */
	int64_t connect_timeout_ms;   /* 0: libpq's default */
	int64_t statement_timeout_ms; /* 0: none */
	const char *application_name; /* shown in pg_stat_activity */
	/*
	 * Called after each round trip with the name of the statement it carried
	 * (the last of a pipeline), its duration, and the span of the transaction's
	 * caller (NULL outside a traced transaction); NULL: not observed.
	 */
	void (*observe)(void *ctx, const char *statement, double seconds, const keel_trace_ref *parent);
	void *observe_ctx;
} keel_db_opts;

/* Connections of a pool: open and idle, open and in use, not connected. */
typedef struct keel_db_pool_stats {
	int idle, busy, closed;
} keel_db_pool_stats;

/* A snapshot of the pool, for metrics. */
void keel_db_pool_stats_get(keel_db_pool *pool, keel_db_pool_stats *out);

/*
 * The select list that makes a transaction's settings from $1..$5 (tenant, user, request id,
 * trace id, client address), with set_config(..., true): a keel_ctx.guard begins with it.
 */
#define KEEL_TX_SETTINGS_SQL                                                                       \
	"set_config('app.tenant_id', coalesce($1::text, ''), true),"                                   \
	" set_config('app.user_id', coalesce($2::text, ''), true),"                                    \
	" set_config('app.request_id', coalesce($3::text, ''), true),"                                 \
	" set_config('app.trace_id', coalesce($4::text, ''), true),"                                   \
	" set_config('app.client_addr', coalesce($5::text, ''), true)"
#define KEEL_TX_SETTINGS_PARAMS 5

/*
 * An instant as the API writes it, RFC 3339 UTC with milliseconds ("2026-12-07T16:05:31.123Z"):
 * the SQL expression for a timestamptz column or expression col (a string literal).  Every
 * statement that renders a timestamp for a client uses it; NULL stays NULL.
 */
#define KEEL_DB_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Who a transaction acts for; NULL members are unset (read back as NULL in SQL). */
typedef struct keel_ctx {
	const char *tenant_id;
	const char *user_id;
	const char *request_id;
	const char *trace_id;
	const char *client_addr;     /* the client's address as text, for audit rows */
	const keel_trace_ref *trace; /* round trips are child spans of it; NULL: none */
	/*
	 * A statement sent in place of the one that makes the settings, in the
	 * same pipeline as the transaction's first statement, so it costs no
	 * round trip: it makes the same settings (SELECT KEEL_TX_SETTINGS_SQL,
	 * $1..$5) and checks more, raising when the transaction must not go on
	 * (the caller's access), which stops everything queued after it.  Its own
	 * parameters ($6.., at most 4) are guard_params, copied.  NULL: none.
	 * guarded(), when set, is told the outcome once: the statement's result,
	 * or (res NULL) its error, SQLSTATE and primary message.
	 */
	const keel_stmt *guard;
	const char *const *guard_params;
	void (*guarded)(void *arg, const keel_res *res, keel_err err, const char *sqlstate,
	                const char *message);
	void *guard_arg;
} keel_ctx;

/* ---- single connections (commands: migrate, tenant create) ---- */

/* Connect now; KEEL_EUNAVAIL with the reason in err[errlen] when it fails. */
keel_err keel_db_open(const keel_db_opts *opts, keel_db **out, char *err, size_t errlen);
void keel_db_close(keel_db *db);

/* ---- the pool (serve) ---- */

/* size connections, each opened lazily at first acquire and again after a failure. */
keel_db_pool *keel_db_pool_create(const keel_db_opts *opts, int size);
void keel_db_pool_destroy(keel_db_pool *pool);

/*
 * Take a connection, connecting it first when it is new or was broken.
 * KEEL_EUNAVAIL when PostgreSQL cannot be reached or every connection stays
 * busy for the connect timeout.  Give it back with keel_db_release().
 */
keel_err keel_db_acquire(keel_db_pool *pool, keel_db **out);
void keel_db_release(keel_db_pool *pool, keel_db *db);

/* Take a connection that is released when arena is destroyed. */
keel_err keel_db_acquire_scoped(keel_db_pool *pool, keel_arena *arena, keel_db **out);

/*
 * Give a scoped connection back now, before its arena dies (a request that
 * waits for other work must not hold a connection meanwhile).  The arena's
 * later release becomes a no-op.  Finish its transaction first.
 */
void keel_db_release_scoped(keel_db *db);

/* ---- transactions ---- */

/*
 * Begin a transaction on db acting for ctx.  The settings app.tenant_id,
 * app.user_id, app.request_id, app.trace_id and app.client_addr are made with
 * set_config(..., true), so they vanish at COMMIT or ROLLBACK: a connection
 * handed to the next request never carries a tenant over.  BEGIN and the
 * settings travel in one pipeline with the first statement (one round trip).
 * A transaction not committed when arena is destroyed is rolled back.
 */
keel_err keel_tx_begin(keel_db *db, keel_arena *arena, const keel_ctx *ctx, keel_tx **out);

/*
 * Run a prepared statement with text parameters (NULL entries are SQL NULL).
 * On failure the transaction is aborted: only keel_tx_rollback() remains.
 * Errors map by SQLSTATE: unique violation -> KEEL_ECONFLICT, check / not-null
 * / foreign key / data errors -> KEEL_EINVAL, insufficient privilege (RLS) ->
 * KEEL_EDENIED, connection loss / timeouts / serialization -> KEEL_EUNAVAIL,
 * anything else KEEL_EINTERNAL.  *out may be NULL when the rows don't matter.
 */
keel_err keel_tx_exec(keel_tx *tx, const keel_stmt *st, const char *const *params, keel_res **out);

keel_err keel_tx_commit(keel_tx *tx);

/*
 * Run st as the whole transaction, in one round trip: the context settings
 * and st travel in one pipeline segment, which PostgreSQL runs as one
 * implicit transaction and commits at its Sync, so no BEGIN or COMMIT is
 * sent.  For requests that need exactly one statement (a read by id, a list
 * page).  Only on a transaction nothing has run in yet; afterwards the
 * transaction is finished and keel_tx_commit() is a no-op.
 */
keel_err keel_tx_exec_only(keel_tx *tx, const keel_stmt *st, const char *const *params,
                           keel_res **out);

/*
 * Queue st to run at keel_tx_commit(), in the same pipeline as COMMIT, so a
 * write that belongs with the transaction's changes (an outbox event) costs
 * no round trip of its own.  params are copied.  Deferred statements run in
 * the order they were queued; when one fails, the commit fails and nothing
 * of the transaction remains.  Past KEEL_TX_DEFER_MAX queued statements they
 * are sent at once, in one pipeline, so a transaction with very many of them
 * never builds an unbounded pipeline.  Never on a transaction that is run as
 * keel_tx_exec_only().
 */
#define KEEL_TX_DEFER_MAX 64
keel_err keel_tx_defer(keel_tx *tx, const keel_stmt *st, const char *const *params);

/*
 * Finish tx, rolling back what it did not commit, and give its connection
 * (from keel_db_acquire_scoped) back to the pool now.  Idempotent: later
 * calls, and the release at the arena's end, do nothing.
 */
void keel_tx_release(keel_tx *tx);

/* The span tx's round trips are children of (keel_ctx.trace); NULL when it has none. */
const keel_trace_ref *keel_tx_trace(const keel_tx *tx);

/* The connection a transaction runs on. */
keel_db *keel_tx_db(const keel_tx *tx);
void keel_tx_rollback(keel_tx *tx);

/* SQLSTATE and constraint name of the statement that failed, or "". */
const char *keel_tx_sqlstate(const keel_tx *tx);
const char *keel_tx_constraint(const keel_tx *tx);

/*
 * The COLUMN field and the primary message of the statement that failed, or "".  For the
 * errors a module raises itself (SQLSTATE K<letter><status>, the letter the module's: KF404,
 * KF409, KF422 of fin, KH403 of hr; 403, 404, 409 and 422), written for the client: COLUMN
 * names the body field to blame ("lines[2].account_id").  Other errors' messages are
 * PostgreSQL's and stay in the log.
 */
const char *keel_tx_column(const keel_tx *tx);
const char *keel_tx_message(const keel_tx *tx);

/* Whether state is a module's own SQLSTATE (K, a letter B..Z, three digits; KA is access's). */
bool keel_db_module_state(const char *state);

/* ---- notifications (the outbox relay) ---- */

/* LISTEN on channel, a name chosen by keel (quoted here), outside any transaction. */
keel_err keel_db_listen(keel_db *db, const char *channel);

/*
 * Wait at most timeout_ms until a notification arrives on db or wake_fd (-1:
 * none) becomes readable; wake_fd is not read.  *notified is set when
 * notifications arrived, including ones libpq had already received while a
 * statement ran; all of them are consumed.  KEEL_EUNAVAIL when the connection
 * is lost.
 */
keel_err keel_db_wait(keel_db *db, int wake_fd, int64_t timeout_ms, bool *notified);

/* ---- statements outside a transaction ---- */

/* Run a prepared statement in autocommit mode. */
keel_err keel_db_exec(keel_db *db, keel_arena *arena, const keel_stmt *st,
                      const char *const *params, keel_res **out);

/* ---- one run at a time across processes ---- */

/* How keel_db_lock() waits while another session holds the lock. */
typedef struct keel_db_lock_wait {
	bool wait;                    /* poll while it is held; false: KEEL_ECONFLICT at once */
	bool (*cancelled)(void *ctx); /* asked between tries (may be NULL): true gives up */
	void (*waiting)(void *ctx);   /* called once, when it has to wait (may be NULL) */
	void *ctx;
} keel_db_lock_wait;

/*
 * Take the session-level advisory lock named name (hashed by PostgreSQL's
 * hashtextextended), polling pg_try_advisory_lock() every 100 ms while another
 * session holds it, so a waiting run holds nothing and can be cancelled.
 * KEEL_ECONFLICT when it stays taken (not waiting, or cancelled).  Release
 * with keel_db_unlock() on the same connection.
 */
keel_err keel_db_lock(keel_db *db, const char *name, const keel_db_lock_wait *w);
void keel_db_unlock(keel_db *db, const char *name);

/* ---- results ---- */

int keel_res_rows(const keel_res *res);
int keel_res_cols(const keel_res *res);
/* Text of a value ("" for NULL); row and col must be in range. */
const char *keel_res_get(const keel_res *res, int row, int col);
bool keel_res_null(const keel_res *res, int row, int col);
/* Rows changed by an INSERT/UPDATE/DELETE. */
long keel_res_affected(const keel_res *res);

/* ---- JSON text PostgreSQL rendered (json_text.c) ---- */

/*
 * Copy JSON text src[0..len) to dst in the one style of keel's bodies, jansson's
 * JSON_COMPACT: no white space between tokens ({"id":"...","n":[1,2]}), strings and numbers
 * byte for byte.  PostgreSQL renders json_build_object() as {"id" : "...", ...} and jsonb as
 * {"a": 1}; every body it renders goes through here before it is sent.  One pass that tracks
 * only whether it is inside a string: src must be valid JSON (PostgreSQL's json or jsonb
 * output).  dst has room for len + 1 bytes and does not overlap src; it is NUL-terminated
 * (words of eight bytes are stored whole, ahead of what is kept).
 * Returns the length written.
 */
size_t keel_db_json_compact(char *dst, const char *src, size_t len);

/* Value (row, col) of res, JSON text, copied into a by keel_db_json_compact(). */
const char *keel_res_json(const keel_res *res, int row, int col, keel_arena *a);

/* ---- migrations (migrate.c) ---- */

typedef struct keel_migration {
	const char *file; /* "0001_core_tenancy.up.sql" */
	const char *up;   /* SQL text */
	const char *down; /* SQL text, NULL when there is no .down.sql */
} keel_migration;

typedef struct keel_migration_set {
	const keel_migration *items; /* ordered by version */
	size_t count;
} keel_migration_set;

/* Parsed name of a migration file: version and name ("0001", "core_tenancy"). */
bool keel_migration_parse_name(const char *file, int *version, char *name, size_t namelen);

/* SHA-256 of the up script, hex, into out[65]. */
void keel_migration_checksum(const char *sql, char *out);

typedef struct keel_migrate_opts {
	int to;       /* up: stop after this version (0: all) */
	int steps;    /* down: how many (default 1) */
	bool dry_run; /* up: print what would run, change nothing */
	FILE *out;    /* progress and reports */
} keel_migrate_opts;

keel_err keel_migrate_up(keel_db *db, const keel_migration_set *set, const keel_migrate_opts *o);
keel_err keel_migrate_down(keel_db *db, const keel_migration_set *set, const keel_migrate_opts *o);
keel_err keel_migrate_status(keel_db *db, const keel_migration_set *set, FILE *out);

/* KEEL_OK when applied files match; KEEL_ECONFLICT (with a report) when not. */
keel_err keel_migrate_verify(keel_db *db, const keel_migration_set *set, FILE *out);

/*
 * For serve (as keel_app): count migrations of set not applied, and applied
 * ones that differ from set or are unknown to it.  Uses core.migration_state(),
 * so the application role needs no access to core.schema_migrations.
 */
keel_err keel_migrate_pending(keel_db *db, keel_arena *arena, const keel_migration_set *set,
                              int *pending, int *mismatched);

#endif
