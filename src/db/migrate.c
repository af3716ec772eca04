/*
 * Schema migrations.
 *
 * One ordered set of NNNN_<module>_<name>.up.sql / .down.sql files, embedded
 * in the binary at build time (or read from a directory in development), is
 * applied by `keel migrate` as keel_owner and recorded in
 * core.schema_migrations with the SHA-256 of each up script.
 *
 * Concurrency: every command that changes the schema first takes a
 * session-level advisory lock on its own connection, outside any
 * transaction, and reads the applied versions only after it holds the lock,
 * so two runners started together apply each migration exactly once.
 * Because the lock is held by the very session that runs the migrations and
 * that session is idle between them, a `-- keel:no-transaction` migration's
 * CREATE INDEX CONCURRENTLY never waits on the lock holder's snapshot (the
 * trap of tools that hold the lock inside a transaction on a second
 * connection).  A runner that finds the lock taken polls with
 * pg_try_advisory_lock() instead of blocking in pg_advisory_lock(): a
 * blocked lock call is a statement holding a snapshot, which CREATE INDEX
 * CONCURRENTLY in the lock holder would wait for -- a deadlock that
 * PostgreSQL resolves by failing one of the two runners.
 *
 * Each migration runs in its own transaction together with its bookkeeping
 * row; a failure rolls it back entirely and reports the file, the
 * PostgreSQL error and its line and column in the file.  A no-transaction
 * migration is split into statements and run one by one in autocommit mode.
 * After each migration the session's settings are reset, so a plain SET in
 * one file (search_path, role) never leaks into the next.
 */
#include "db/db_int.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/str.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCK_KEY     "7310034283826" /* arbitrary, constant: the keel migration lock */
#define LOCK_POLL_MS 100             /* how often a waiting runner tries the lock again */
#define NO_TX_MARK   "-- keel:no-transaction"

static const char bootstrap_sql[] = "SET client_min_messages = warning;"
                                    "CREATE SCHEMA IF NOT EXISTS core;"
                                    "CREATE TABLE IF NOT EXISTS core.schema_migrations ("
                                    " version integer PRIMARY KEY,"
                                    " name text NOT NULL,"
                                    " checksum text NOT NULL,"
                                    " applied_at timestamptz NOT NULL DEFAULT now(),"
                                    " duration_ms integer NOT NULL);"
                                    "REVOKE ALL ON core.schema_migrations FROM PUBLIC;";

/* Back to the settings of the connection's start (RESET ALL leaves the role alone). */
static const char reset_sql[] = "RESET ALL; RESET ROLE; SET client_min_messages = warning";

/* One migration of the set, with its parsed version and name. */
typedef struct known {
	int version;
	char name[128];
	char checksum[65];
	const keel_migration *m;
} known;

/* One row of core.schema_migrations. */
typedef struct applied {
	int version;
	char *name;
	char *checksum;
	char *applied_at;
	int duration_ms;
} applied;

bool
keel_migration_parse_name(const char *file, int *version, char *name, size_t namelen)
{
	const char *p = file;
	int v = 0, digits = 0;

	while (isdigit((unsigned char)*p) && digits < 9) {
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (digits < 4 || *p != '_' || v == 0)
		return false;
	p++;
	const char *suffix = strstr(p, ".up.sql");

	if (suffix == NULL || suffix[7] != '\0' || suffix == p)
		return false;
	for (const char *c = p; c < suffix; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
			return false;
	if ((size_t)(suffix - p) >= namelen)
		return false;
	memcpy(name, p, (size_t)(suffix - p));
	name[suffix - p] = '\0';
	*version = v;
	return true;
}

void
keel_migration_checksum(const char *sql, char *out)
{
	unsigned char hash[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(hash, (const unsigned char *)sql, strlen(sql));
	sodium_bin2hex(out, 65, hash, sizeof(hash));
}

/* Parse the whole set; false (and a message) when a name is bad or a version repeats. */
static bool
set_index(const keel_migration_set *set, known *out, FILE *report)
{
	for (size_t i = 0; i < set->count; i++) {
		known *k = &out[i];

		k->m = &set->items[i];
		if (!keel_migration_parse_name(k->m->file, &k->version, k->name, sizeof(k->name))) {
			fprintf(report, "migration file name \"%s\" must look like NNNN_module_name.up.sql\n",
			        k->m->file);
			return false;
		}
		if (i > 0 && k->version <= out[i - 1].version) {
			fprintf(report, "migration versions must be unique and ascending: %s\n", k->m->file);
			return false;
		}
		keel_migration_checksum(k->m->up, k->checksum);
	}
	return true;
}

/*
 * Line and column (from 1) in text of character want (from 1, as PostgreSQL
 * counts) of the statement that starts at byte offset of text.
 */
static void
text_position(const char *text, size_t offset, long want, int *line, int *col)
{
	const char *stmt = text + offset;
	long chars = 0;

	*line = 1;
	*col = 1;
	for (const char *p = text; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue; /* UTF-8 continuation byte: not a character of its own */
		if (p >= stmt && chars++ >= want - 1)
			break;
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/*
 * Report a failed statement under the name what.  text is the whole file (or
 * NULL) and the statement sent started at byte offset of it, so positions are
 * reported as line and column of the file.
 */
static void
report_pg_error(FILE *out, const char *what, const char *text, size_t offset, const PGresult *res,
                PGconn *c)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	fprintf(out, "%s failed: %s", what, msg ? msg : PQerrorMessage(c));
	if (state != NULL)
		fprintf(out, " (SQLSTATE %s)", state);
	if (pos != NULL && text != NULL) {
		int line, col;

		text_position(text, offset, strtol(pos, NULL, 10), &line, &col);
		fprintf(out, " at line %d, column %d", line, col);
	}
	fputc('\n', out);
	if (detail != NULL)
		fprintf(out, "  detail: %s\n", detail);
}

/*
 * Run the statement(s) at text + offset and report failure under the name
 * what, with positions counted in text.
 */
static bool
run_sql_at(PGconn *c, const char *what, const char *text, size_t offset, const char *sql, FILE *out)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	bool ok =
	    res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY);

	if (!ok)
		report_pg_error(out, what, text, offset, res, c);
	PQclear(res);
	return ok;
}

/* Run sql (possibly several statements) and report failure under the name what. */
static bool
run_sql(PGconn *c, const char *what, const char *sql, FILE *out)
{
	return run_sql_at(c, what, sql, 0, sql, out);
}

/*
 * Take the migration lock, waiting for another runner to finish.  Polls
 * with pg_try_advisory_lock() so that no statement of this session is open
 * while it waits (see the file header).
 */
static bool
lock_take(PGconn *c, FILE *out)
{
	for (bool told = false;;) {
		PGresult *res = PQexec(c, "SELECT pg_try_advisory_lock(" LOCK_KEY ")");
		bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
		bool got = ok && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		if (!ok)
			report_pg_error(out, "taking the migration lock", NULL, 0, res, c);
		PQclear(res);
		if (!ok || got)
			return ok;
		if (!told) {
			fprintf(out, "waiting for another migration runner to finish\n");
			fflush(out);
			told = true;
		}
		nanosleep(&(struct timespec){.tv_nsec = LOCK_POLL_MS * 1000000L}, NULL);
	}
}

static void
lock_drop(PGconn *c)
{
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" LOCK_KEY ")"));
}

/* Read core.schema_migrations into the arena; -1 on error. */
static int
applied_read(PGconn *c, keel_arena *a, applied **out, FILE *report)
{
	PGresult *res =
	    PQexec(c, "SELECT version, name, checksum,"
	              " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	              " duration_ms FROM core.schema_migrations ORDER BY version");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		report_pg_error(report, "reading core.schema_migrations", NULL, 0, res, c);
		PQclear(res);
		return -1;
	}
	int n = PQntuples(res);

	*out = keel_arena_calloc(a, (size_t)n + 1, sizeof(applied));
	for (int i = 0; i < n; i++) {
		(*out)[i].version = atoi(PQgetvalue(res, i, 0));
		(*out)[i].name = keel_arena_strdup(a, PQgetvalue(res, i, 1));
		(*out)[i].checksum = keel_arena_strdup(a, PQgetvalue(res, i, 2));
		(*out)[i].applied_at = keel_arena_strdup(a, PQgetvalue(res, i, 3));
		(*out)[i].duration_ms = atoi(PQgetvalue(res, i, 4));
	}
	PQclear(res);
	return n;
}

static const applied *
applied_find(const applied *ap, int n, int version)
{
	for (int i = 0; i < n; i++)
		if (ap[i].version == version)
			return &ap[i];
	return NULL;
}

static const known *
known_find(const known *k, size_t n, int version)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].version == version)
			return &k[i];
	return NULL;
}

/*
 * Compare the database with the set: applied files that changed and applied
 * versions the set does not know.  Prints each problem; returns their number.
 */
static int
drift(const known *k, size_t nk, const applied *ap, int na, FILE *out)
{
	int problems = 0;

	for (int i = 0; i < na; i++) {
		const known *m = known_find(k, nk, ap[i].version);

		if (m == NULL) {
			fprintf(out, "version %04d (%s) is applied but unknown to this binary\n", ap[i].version,
			        ap[i].name);
			problems++;
		} else if (strcmp(m->checksum, ap[i].checksum) != 0) {
			fprintf(out, "%s changed after it was applied (checksum %.12s, applied %.12s)\n",
			        m->m->file, m->checksum, ap[i].checksum);
			problems++;
		}
	}
	return problems;
}

/* One statement of a no-transaction file and where it starts in the file. */
typedef struct stmt {
	char *sql;
	size_t offset;
} stmt;

/* Can c continue an identifier (so that a following $ or ' belongs to it)? */
static bool
ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* End of the quoted string or identifier opening at p; backslash: an E'' string. */
static const char *
skip_quoted(const char *p, bool backslash)
{
	char q = *p;

	for (p++; *p != '\0'; p++) {
		if (backslash && *p == '\\' && p[1] != '\0') {
			p++;
		} else if (*p == q) {
			if (p[1] != q)
				return p + 1;
			p++; /* doubled quote */
		}
	}
	return p;
}

/* End of the block comment opening at p; they nest, as in PostgreSQL. */
static const char *
skip_block_comment(const char *p)
{
	int depth = 0;

	while (*p != '\0') {
		if (p[0] == '/' && p[1] == '*') {
			depth++;
			p += 2;
		} else if (p[0] == '*' && p[1] == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return p;
}

/* End of the dollar-quoted string opening at p ($$ or $tag$), or NULL when p opens none. */
static const char *
skip_dollar_quoted(keel_arena *a, const char *p)
{
	size_t len = 1;

	if (isalpha((unsigned char)p[1]) || p[1] == '_' || (unsigned char)p[1] >= 0x80)
		while (ident_char(p[len]) && p[len] != '$')
			len++;
	if (p[len] != '$')
		return NULL; /* $1, or a $ inside an identifier */
	const char *delim = keel_arena_strndup(a, p, len + 1);
	const char *end = strstr(p + len + 1, delim);

	return end ? end + len + 1 : p + strlen(p);
}

static void
stmt_add(keel_arena *a, stmt **stmts, int *n, size_t *cap, const char *sql, const char *start,
         const char *end)
{
	if ((size_t)*n == *cap) {
		stmt *more = keel_arena_alloc(a, *cap * 2 * sizeof(stmt));

		memcpy(more, *stmts, *cap * sizeof(stmt));
		*stmts = more;
		*cap *= 2;
	}
	(*stmts)[*n].sql = keel_arena_strndup(a, start, (size_t)(end - start));
	(*stmts)[*n].offset = (size_t)(start - sql);
	(*n)++;
}

/*
 * Split sql into statements at top-level semicolons, following PostgreSQL's
 * lexical rules for what can hide a semicolon: -- and nested block comments,
 * quoted strings (E'' with backslash escapes) and identifiers, dollar quotes.
 */
static stmt *
split_statements(keel_arena *a, const char *sql, int *count)
{
	size_t cap = 8;
	stmt *stmts = keel_arena_alloc(a, cap * sizeof(stmt));
	const char *start = sql, *p = sql;
	int n = 0;

	while (*p != '\0') {
		const char *next = NULL;
		bool after_ident = p > sql && ident_char(p[-1]);

		if (p[0] == '-' && p[1] == '-') {
			next = p + strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			next = skip_block_comment(p);
		} else if (*p == '\'' || *p == '"') {
			bool escapes = *p == '\'' && after_ident && (p[-1] == 'E' || p[-1] == 'e') &&
			               (p - 1 == sql || !ident_char(p[-2]));

			next = skip_quoted(p, escapes);
		} else if (*p == '$' && !after_ident) {
			next = skip_dollar_quoted(a, p);
		} else if (*p == ';') {
			stmt_add(a, &stmts, &n, &cap, sql, start, p + 1);
			start = p + 1;
		}
		p = next ? next : p + 1;
	}
	const char *q = start;

	while (*q != '\0' && isspace((unsigned char)*q))
		q++;
	if (*q != '\0')
		stmt_add(a, &stmts, &n, &cap, sql, start, start + strlen(start));
	*count = n;
	return stmts;
}

static bool
is_no_transaction(const char *sql)
{
	return strncmp(sql, NO_TX_MARK, strlen(NO_TX_MARK)) == 0 &&
	       (sql[strlen(NO_TX_MARK)] == '\n' || sql[strlen(NO_TX_MARK)] == '\r' ||
	        sql[strlen(NO_TX_MARK)] == '\0');
}

/* Run a no-transaction file statement by statement in autocommit mode. */
static bool
run_statements(PGconn *c, keel_arena *a, const char *file, const char *sql, FILE *out)
{
	int n;
	stmt *stmts = split_statements(a, sql, &n);

	for (int i = 0; i < n; i++)
		if (!run_sql_at(c, keel_arena_printf(a, "migration %s (statement %d)", file, i + 1), sql,
		                stmts[i].offset, stmts[i].sql, out))
			return false;
	return true;
}

static bool
record(PGconn *c, const known *k, int64_t ms, bool up, FILE *out)
{
	char version[16], duration[24];
	const char *params[4] = {version, k->name, k->checksum, duration};

	snprintf(version, sizeof(version), "%d", k->version);
	snprintf(duration, sizeof(duration), "%lld", (long long)ms);
	PGresult *res = up ? PQexecParams(c,
	                                  "INSERT INTO core.schema_migrations"
	                                  " (version, name, checksum, duration_ms)"
	                                  " VALUES ($1, $2, $3, $4)",
	                                  4, NULL, params, NULL, NULL, 0)
	                   : PQexecParams(c, "DELETE FROM core.schema_migrations WHERE version = $1", 1,
	                                  NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		report_pg_error(out, "recording the migration", NULL, 0, res, c);
	PQclear(res);
	return ok;
}

static int64_t
now_ms(void)
{
	return (int64_t)(keel_clock_mono_ns() / 1000000);
}

/* Apply (up) or revert (down) one migration with its bookkeeping. */
static bool
migration_run(PGconn *c, keel_arena *a, const known *k, bool up, FILE *out)
{
	const char *sql = up ? k->m->up : k->m->down;
	char file[160];
	int64_t start = now_ms();
	bool no_tx = is_no_transaction(sql), ok;

	snprintf(file, sizeof(file), "%.*s%s", (int)(strlen(k->m->file) - strlen(".up.sql")),
	         k->m->file, up ? ".up.sql" : ".down.sql");
	if (no_tx) {
		ok = run_statements(c, a, file, sql, out) && record(c, k, now_ms() - start, up, out);
	} else {
		ok = run_sql(c, "BEGIN", "BEGIN", out) &&
		     run_sql(c, keel_arena_printf(a, "migration %s", file), sql, out) &&
		     record(c, k, now_ms() - start, up, out) && run_sql(c, "COMMIT", "COMMIT", out);
		if (!ok)
			PQclear(PQexec(c, "ROLLBACK"));
	}
	bool reset = run_sql(c, "resetting the session", reset_sql, out);

	if (ok)
		fprintf(out, "%s %s (%lld ms)\n", up ? "applied" : "reverted", file,
		        (long long)(now_ms() - start));
	else if (no_tx)
		fprintf(out,
		        "%s ran without a transaction: the statements before the failing one stay, "
		        "and the version is not recorded; make the file safe to run again and rerun\n",
		        file);
	else
		fprintf(out, "%s rolled back; the database is still at the previous version\n", file);
	return ok && reset;
}

/* Common start of every command: index the set, bootstrap, lock, read state. */
typedef struct session {
	keel_arena *arena;
	known *k;
	size_t nk;
	applied *ap;
	int na;
	bool locked;
} session;

static keel_err
session_open(keel_db *db, const keel_migration_set *set, bool lock, session *s, FILE *out)
{
	PGconn *c = db->conn;

	memset(s, 0, sizeof(*s));
	s->arena = keel_arena_create(16384);
	s->nk = set->count;
	s->k = keel_arena_calloc(s->arena, set->count + 1, sizeof(known));
	if (!set_index(set, s->k, out))
		return KEEL_EINVAL;
	if (lock) {
		if (!lock_take(c, out))
			return KEEL_EUNAVAIL;
		s->locked = true;
		if (!run_sql(c, "creating core.schema_migrations", bootstrap_sql, out))
			return KEEL_EUNAVAIL;
	} else {
		PGresult *res = PQexec(c, "SELECT to_regclass('core.schema_migrations') IS NOT NULL");
		bool exists =
		    PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		PQclear(res);
		if (!exists)
			return KEEL_OK; /* nothing applied yet */
	}
	s->na = applied_read(c, s->arena, &s->ap, out);
	return s->na < 0 ? KEEL_EUNAVAIL : KEEL_OK;
}

static void
session_close(keel_db *db, session *s)
{
	if (s->locked)
		lock_drop(db->conn);
	keel_arena_destroy(s->arena);
}

keel_err
keel_migrate_up(keel_db *db, const keel_migration_set *set, const keel_migrate_opts *o)
{
	session s;
	keel_err err = session_open(db, set, !o->dry_run, &s, o->out);
	int done = 0;

	if (err != KEEL_OK)
		goto out;
	if (drift(s.k, s.nk, s.ap, s.na, o->out) > 0) {
		fprintf(o->out, "refusing to migrate: run `keel migrate verify` and fix the above\n");
		err = KEEL_ECONFLICT;
		goto out;
	}
	for (size_t i = 0; i < s.nk; i++) {
		const known *k = &s.k[i];

		if (applied_find(s.ap, s.na, k->version) != NULL)
			continue;
		if (o->to > 0 && k->version > o->to)
			break;
		if (o->dry_run) {
			fprintf(o->out, "would apply %s%s\n", k->m->file,
			        is_no_transaction(k->m->up) ? " (no transaction)" : "");
			done++;
			continue;
		}
		if (!migration_run(db->conn, s.arena, k, true, o->out)) {
			err = KEEL_EINVAL;
			goto out;
		}
		done++;
	}
	if (done == 0)
		fprintf(o->out, "nothing to apply: the schema is current\n");
out:
	session_close(db, &s);
	return err;
}

keel_err
keel_migrate_down(keel_db *db, const keel_migration_set *set, const keel_migrate_opts *o)
{
	session s;
	keel_err err = session_open(db, set, true, &s, o->out);
	int steps = o->steps > 0 ? o->steps : 1;

	if (err != KEEL_OK)
		goto out;
	if (s.na == 0)
		fprintf(o->out, "nothing to revert: no migration is applied\n");
	for (int i = s.na - 1; i >= 0 && steps > 0; i--, steps--) {
		const known *k = known_find(s.k, s.nk, s.ap[i].version);

		if (k == NULL || k->m->down == NULL) {
			fprintf(o->out, "cannot revert version %04d (%s): %s\n", s.ap[i].version, s.ap[i].name,
			        k == NULL ? "unknown to this binary" : "it has no .down.sql");
			err = KEEL_EINVAL;
			goto out;
		}
		if (!migration_run(db->conn, s.arena, k, false, o->out)) {
			err = KEEL_EINVAL;
			goto out;
		}
	}
out:
	session_close(db, &s);
	return err;
}

keel_err
keel_migrate_status(keel_db *db, const keel_migration_set *set, FILE *out)
{
	session s;
	keel_err err = session_open(db, set, false, &s, out);

	if (err != KEEL_OK)
		goto out;
	fprintf(out, "%-8s %-36s %-9s %-12s %-20s %s\n", "version", "name", "state", "checksum",
	        "applied_at", "duration");
	for (size_t i = 0; i < s.nk; i++) {
		const known *k = &s.k[i];
		const applied *a = applied_find(s.ap, s.na, k->version);
		const char *state = a == NULL                               ? "pending"
		                    : strcmp(a->checksum, k->checksum) != 0 ? "changed"
		                                                            : "applied";

		fprintf(out, "%04d     %-36s %-9s %-12.12s %-20s %s\n", k->version, k->name, state,
		        k->checksum, a ? a->applied_at : "-",
		        a ? keel_arena_printf(s.arena, "%d ms", a->duration_ms) : "-");
	}
	for (int i = 0; i < s.na; i++)
		if (known_find(s.k, s.nk, s.ap[i].version) == NULL)
			fprintf(out, "%04d     %-36s %-9s %-12.12s %-20s %d ms\n", s.ap[i].version,
			        s.ap[i].name, "unknown", s.ap[i].checksum, s.ap[i].applied_at,
			        s.ap[i].duration_ms);
out:
	session_close(db, &s);
	return err;
}

keel_err
keel_migrate_verify(keel_db *db, const keel_migration_set *set, FILE *out)
{
	session s;
	keel_err err = session_open(db, set, false, &s, out);

	if (err != KEEL_OK)
		goto out;
	int problems = drift(s.k, s.nk, s.ap, s.na, out);

	if (problems > 0) {
		fprintf(out, "verify failed: %d problem%s\n", problems, problems == 1 ? "" : "s");
		err = KEEL_ECONFLICT;
	} else {
		int pending = 0;

		for (size_t i = 0; i < s.nk; i++)
			pending += applied_find(s.ap, s.na, s.k[i].version) == NULL;
		fprintf(out, "verify ok: %d applied, %d pending\n", s.na, pending);
	}
out:
	session_close(db, &s);
	return err;
}

keel_err
keel_migrate_pending(keel_db *db, keel_arena *arena, const keel_migration_set *set, int *pending,
                     int *mismatched)
{
	PGresult *res = PQexec(db->conn, "SELECT version, checksum FROM core.migration_state()");
	int rows = 0;

	*pending = 0;
	*mismatched = 0;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		/*
		 * No core schema, no state function, or no access to them yet (keel
		 * migrate creates core before 0001 grants keel_app its use): nothing
		 * is applied, as far as serve can tell, so it refuses as "pending".
		 */
		if (state == NULL || (strcmp(state, "3F000") != 0 && strcmp(state, "42883") != 0 &&
		                      strcmp(state, "42501") != 0)) {
			keel_err err = db_result_err(db, res);

			PQclear(res);
			return err;
		}
	} else {
		rows = PQntuples(res);
	}
	db_defer_clear(arena, res);
	for (size_t i = 0; i < set->count; i++) {
		int version;
		char name[128], sum[65];
		bool found = false;

		if (!keel_migration_parse_name(set->items[i].file, &version, name, sizeof(name)))
			return KEEL_EINVAL;
		keel_migration_checksum(set->items[i].up, sum);
		for (int r = 0; r < rows && !found; r++) {
			if (atoi(PQgetvalue(res, r, 0)) != version)
				continue;
			found = true;
			*mismatched += strcmp(PQgetvalue(res, r, 1), sum) != 0;
		}
		*pending += !found;
	}
	*mismatched += rows - ((int)set->count - *pending); /* versions unknown to the set */
	return KEEL_OK;
}
