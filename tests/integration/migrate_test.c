/*
 * The migrations engine end to end: the real keel binary (`keel migrate ...`)
 * against the program's own database, emptied before each test, with
 * migration files each test writes into its own temporary directory (--dir),
 * and the embedded set for the round trip and serve's schema check.
 *
 * Covered: up/down/up leaves the same schema (pg_dump), status and verify,
 * changed and unknown versions, a failing migration is named, located and
 * rolled back, --to and --dry-run, concurrent runners, no-transaction files
 * (CREATE INDEX CONCURRENTLY under the lock, statement splitting), create,
 * and serve refusing a schema that differs from its binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "kt.h"

#define PG_DUMP_15 "/usr/lib/postgresql/15/bin/pg_dump"
#define WAIT_MS    20000 /* a keel command that takes longer than this has hung */
#define TOO_LONG   "a123456789b123456789c123456789d123456789e123456789f123456789g" /* > 60 */

/* ---- helpers ---- */

/* Run keel with the NULL-terminated arguments after out; returns the exit status. */
static int
keel(char **out, const char *first, ...)
{
	const char *args[24];
	int n = 0;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a != NULL && n < 23; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	return kt_keel_wait(kt_keel_spawn(args, NULL), WAIT_MS, out);
}

/* How often needle occurs in haystack. */
static int
occurrences(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The line of text that starts with prefix, malloc'd ("" when there is none). */
static char *
line_starting(const char *text, const char *prefix)
{
	for (const char *line = text; *line != '\0';) {
		size_t len = strcspn(line, "\n");

		if (strncmp(line, prefix, strlen(prefix)) == 0)
			return strndup(line, len);
		line += len + (line[len] == '\n');
	}
	return strdup("");
}

/* Does text match the extended regular expression pattern? */
static bool
matches(const char *text, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	bool m = regexec(&re, text, 0, NULL, 0) == 0;

	regfree(&re);
	return m;
}

/* First value of sql as a number (as keel_owner). */
static long
owner_long(const char *sql)
{
	PGconn *c = kt_pg_owner();
	long n = kt_pg_long(c, sql);

	PQfinish(c);
	return n;
}

/* Does the relation (or index) exist? */
static bool
relation_exists(const char *name)
{
	PGconn *c = kt_pg_owner();
	bool yes = kt_pg_relation_exists(c, name);

	PQfinish(c);
	return yes;
}

static long
applied_count(void)
{
	if (!relation_exists("core.schema_migrations"))
		return 0;
	return owner_long("SELECT count(*) FROM core.schema_migrations");
}

static long
last_version(void)
{
	return owner_long("SELECT coalesce(max(version), 0) FROM core.schema_migrations");
}

/*
 * pg_dump --schema-only of the test database as keel_owner, without the
 * \restrict lines that carry a random key in each dump.
 */
static char *
schema_dump(void)
{
	char cmd[512], buf[4096];

	snprintf(cmd, sizeof(cmd), "'%s' --schema-only --no-password --username=keel_owner 2>&1",
	         access(PG_DUMP_15, X_OK) == 0 ? PG_DUMP_15 : "pg_dump");
	FILE *p = popen(cmd, "r");
	size_t len = 0;
	char *dump = calloc(1, 1);

	assert_non_null(p);
	while (fgets(buf, sizeof(buf), p) != NULL) {
		if (strncmp(buf, "\\restrict ", 10) == 0 || strncmp(buf, "\\unrestrict ", 12) == 0)
			continue;
		dump = realloc(dump, len + strlen(buf) + 1);
		strcpy(dump + len, buf);
		len += strlen(buf);
	}
	if (pclose(p) != 0)
		fail_msg("pg_dump failed:\n%s", dump);
	return dump;
}

/* Write the embedded migrations into dir, as `keel migrate create` lays them out. */
static void
write_embedded(const char *dir)
{
	for (size_t i = 0; i < keel_migrations_embedded.count; i++) {
		const keel_migration *m = &keel_migrations_embedded.items[i];
		char down[256];

		kt_write_file(dir, m->file, m->up);
		snprintf(down, sizeof(down), "%.*s.down.sql", (int)(strlen(m->file) - 7), m->file);
		if (m->down != NULL)
			kt_write_file(dir, down, m->down);
	}
}

/* Files in dir, not counting . and .. */
static int
files_in(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Back to an empty database, much faster than recreating it: DROP OWNED
 * drops every schema, table, function and default privilege of keel_owner
 * here, including the public schema, which is made again as dev-db makes it.
 */
static void
db_reset(void)
{
	PGconn *c = kt_pg_owner();

	kt_pg_exec(c, "SET client_min_messages = warning;"
	              "DROP OWNED BY keel_owner;"
	              "CREATE SCHEMA public;"
	              "REVOKE ALL ON SCHEMA public FROM PUBLIC");
	PQfinish(c);
}

static int
setup(void **state)
{
	(void)state;
	kt_db_fresh("migrate");
	return 0;
}

static const char table_a[] = "CREATE TABLE public.a (id int);\n";
static const char table_b[] = "CREATE TABLE public.b (id int);\n";
static const char table_c[] = "CREATE TABLE public.c (id int);\n";

/* ---- the embedded set: up / down / up ---- */

static void
embedded_up_down_up_leaves_the_same_schema(void **state)
{
	(void)state;
	db_reset();
	char *out, *first, *again;

	assert_int_equal(keel(&out, "migrate", "up", NULL), 0);
	free(out);
	first = schema_dump();
	assert_non_null(strstr(first, "CREATE TABLE core.tenants"));
	assert_non_null(strstr(first, "CREATE POLICY tenant_self ON core.tenants"));

	assert_int_equal(keel(&out, "migrate", "down", NULL), 0);
	assert_int_equal(occurrences(out, "reverted "), 1);
	free(out);
	assert_int_equal(applied_count(), (long)keel_migrations_embedded.count - 1);
	assert_int_equal(keel(&out, "migrate", "up", NULL), 0);
	assert_int_equal(occurrences(out, "applied "), 1);
	free(out);

	again = schema_dump();
	assert_string_equal(again, first);
	free(first);
	free(again);
}

static void
embedded_down_to_zero_then_up_restores_everything(void **state)
{
	(void)state;
	db_reset();
	char *out, *empty, *migrated, *reverted, *again, steps[16];

	/* down on a fresh database only creates the bookkeeping table */
	assert_int_equal(keel(&out, "migrate", "down", NULL), 0);
	assert_non_null(strstr(out, "nothing to revert"));
	free(out);
	empty = schema_dump();
	assert_int_equal(keel(&out, "migrate", "up", NULL), 0);
	free(out);
	migrated = schema_dump();
	assert_string_not_equal(migrated, empty);

	snprintf(steps, sizeof(steps), "%zu", keel_migrations_embedded.count);
	assert_int_equal(keel(&out, "migrate", "down", steps, NULL), 0);
	assert_int_equal(occurrences(out, "reverted "), (int)keel_migrations_embedded.count);
	free(out);
	assert_int_equal(applied_count(), 0);
	assert_false(relation_exists("core.tenants"));
	reverted = schema_dump();
	assert_string_equal(reverted, empty); /* every down undoes its up completely */

	assert_int_equal(keel(&out, "migrate", "up", NULL), 0);
	free(out);
	again = schema_dump();
	assert_string_equal(again, migrated);
	free(empty);
	free(migrated);
	free(reverted);
	free(again);
}

/* ---- status and verify ---- */

static void
status_lists_state_checksum_and_times(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out, *line, sum_a[65], sum_b[65], prefix[16];

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	kt_write_file(dir, "0002_test_b.up.sql", table_b);
	keel_migration_checksum(table_a, sum_a);
	keel_migration_checksum(table_b, sum_b);
	assert_int_equal(keel(&out, "migrate", "up", "--to", "1", "--dir", dir, NULL), 0);
	free(out);

	assert_int_equal(keel(&out, "migrate", "status", "--dir", dir, NULL), 0);
	assert_true(matches(out, "^version +name +state +checksum +applied_at +duration"));
	line = line_starting(out, "0001 ");
	assert_non_null(strstr(line, "test_a"));
	assert_non_null(strstr(line, " applied "));
	snprintf(prefix, sizeof(prefix), " %.12s ", sum_a);
	assert_non_null(strstr(line, prefix));
	assert_true(matches(line, " 20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z "
	                          "+[0-9]+ ms$"));
	free(line);
	line = line_starting(out, "0002 ");
	assert_non_null(strstr(line, "test_b"));
	assert_non_null(strstr(line, " pending "));
	snprintf(prefix, sizeof(prefix), " %.12s ", sum_b);
	assert_non_null(strstr(line, prefix));
	assert_true(matches(line, " - +-$")); /* not applied: no time, no duration */
	free(line);
	free(out);
	kt_tmpdir_remove(dir);
}

static void
verify_ok_counts_applied_and_pending(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	kt_write_file(dir, "0002_test_b.up.sql", table_b);
	/* before anything ran: nothing applied, and verify must not create anything */
	assert_int_equal(keel(&out, "migrate", "verify", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "verify ok: 0 applied, 2 pending"));
	free(out);
	assert_false(relation_exists("core.schema_migrations"));

	assert_int_equal(keel(&out, "migrate", "up", "--to", "1", "--dir", dir, NULL), 0);
	free(out);
	assert_int_equal(keel(&out, "migrate", "verify", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "verify ok: 1 applied, 1 pending"));
	free(out);
	kt_tmpdir_remove(dir);
}

static void
changed_applied_file_fails_verify_and_blocks_up(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out, *line;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);

	kt_write_file(dir, "0001_test_a.up.sql", "CREATE TABLE public.a (id bigint);\n");
	kt_write_file(dir, "0002_test_b.up.sql", table_b);
	assert_int_equal(keel(&out, "migrate", "verify", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "0001_test_a.up.sql changed after it was applied"));
	assert_non_null(strstr(out, "verify failed: 1 problem"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "status", "--dir", dir, NULL), 0);
	line = line_starting(out, "0001 ");
	assert_non_null(strstr(line, " changed "));
	free(line);
	free(out);

	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "0001_test_a.up.sql changed after it was applied"));
	assert_non_null(strstr(out, "refusing to migrate"));
	free(out);
	assert_false(relation_exists("public.b"));
	assert_int_equal(applied_count(), 1);

	/* the check is on content: the original text verifies again */
	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	assert_int_equal(keel(&out, "migrate", "verify", "--dir", dir, NULL), 0);
	free(out);
	kt_tmpdir_remove(dir);
}

static void
version_unknown_to_the_binary_fails_verify(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out, *line;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	kt_write_file(dir, "0002_test_b.up.sql", table_b);
	kt_write_file(dir, "0002_test_b.down.sql", "DROP TABLE public.b;\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);
	kt_remove_file(dir, "0002_test_b.up.sql");
	kt_remove_file(dir, "0002_test_b.down.sql");

	assert_int_equal(keel(&out, "migrate", "verify", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "version 0002 (test_b) is applied but unknown to this binary"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "status", "--dir", dir, NULL), 0);
	line = line_starting(out, "0002 ");
	assert_non_null(strstr(line, " unknown "));
	free(line);
	free(out);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "refusing to migrate"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "down", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "cannot revert version 0002 (test_b): unknown to this binary"));
	free(out);
	assert_int_equal(applied_count(), 2);
	kt_tmpdir_remove(dir);
}

/* ---- failures ---- */

static void
syntax_error_names_file_line_and_column_and_leaves_no_trace(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	kt_write_file(dir, "0002_test_broken.up.sql",
	              "CREATE TABLE public.broken (id int);\n"
	              "INSERT INTO public.broken VALUES (1);\n"
	              "  SELEC 1;\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "applied 0001_test_a.up.sql"));
	assert_non_null(strstr(out, "migration 0002_test_broken.up.sql failed: syntax error at or "
	                            "near \"SELEC\" (SQLSTATE 42601) at line 3, column 3"));
	assert_non_null(strstr(out, "0002_test_broken.up.sql rolled back"));
	free(out);
	assert_false(relation_exists("public.broken"));
	assert_int_equal(last_version(), 1);
	assert_int_equal(applied_count(), 1);
	kt_tmpdir_remove(dir);
}

static void
failing_statement_rolls_back_the_statements_before_it(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	/* line 1 and 2 run; line 3 fails in the executor, after them */
	kt_write_file(dir, "0002_test_half.up.sql",
	              "CREATE TABLE public.half (id int);\n"
	              "INSERT INTO public.half VALUES (1);\n"
	              "SELECT 'é' AS e FROM public.no_such_table;\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 1);
	/* columns count characters, not bytes: é is one */
	assert_non_null(strstr(out, "migration 0002_test_half.up.sql failed: relation "
	                            "\"public.no_such_table\" does not exist (SQLSTATE 42P01) "
	                            "at line 3, column 22"));
	free(out);
	assert_false(relation_exists("public.half"));
	assert_int_equal(last_version(), 1);

	/* fixed, it applies */
	kt_write_file(dir, "0002_test_half.up.sql",
	              "CREATE TABLE public.half (id int);\nINSERT INTO public.half VALUES (1);\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);
	assert_int_equal(owner_long("SELECT count(*) FROM public.half"), 1);
	assert_int_equal(last_version(), 2);
	kt_tmpdir_remove(dir);
}

static void
no_transaction_failure_is_located_in_the_file(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_nt.up.sql",
	              "-- keel:no-transaction\n"
	              "CREATE TABLE public.nt (id int);\n"
	              "CREATE INDEX CONCURRENTLY nt_id_idx ON public.nt "
	              "(id);\n"
	              "\n"
	              "  SELEC 1;\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 1);
	assert_non_null(strstr(out, "migration 0001_test_nt.up.sql (statement 3) failed: syntax "
	                            "error at or near \"SELEC\" (SQLSTATE 42601) at line 5, column 3"));
	/* no transaction: what ran stays, and keel says so */
	assert_non_null(strstr(out, "ran without a transaction"));
	assert_null(strstr(out, "rolled back"));
	free(out);
	assert_true(relation_exists("public.nt_id_idx"));
	assert_int_equal(applied_count(), 0);
	kt_tmpdir_remove(dir);
}

/* ---- --to and --dry-run ---- */

static void
to_applies_only_up_to_the_version(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	kt_write_file(dir, "0002_test_b.up.sql", table_b);
	kt_write_file(dir, "0003_test_c.up.sql", table_c);
	assert_int_equal(keel(&out, "migrate", "up", "--to", "2", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "applied 0002_test_b.up.sql"));
	assert_null(strstr(out, "0003"));
	free(out);
	assert_true(relation_exists("public.b"));
	assert_false(relation_exists("public.c"));
	assert_int_equal(last_version(), 2);

	assert_int_equal(keel(&out, "migrate", "up", "--to", "2", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "nothing to apply"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "applied 0003_test_c.up.sql"));
	free(out);
	assert_int_equal(last_version(), 3);
	kt_tmpdir_remove(dir);
}

static void
dry_run_prints_and_changes_nothing(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_a.up.sql", table_a);
	kt_write_file(dir, "0002_test_b.up.sql", table_b);
	kt_write_file(dir, "0003_test_c.up.sql", "-- keel:no-transaction\nCREATE TABLE public.c ();\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dry-run", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "would apply 0001_test_a.up.sql\n"));
	assert_non_null(strstr(out, "would apply 0002_test_b.up.sql\n"));
	assert_non_null(strstr(out, "would apply 0003_test_c.up.sql (no transaction)\n"));
	free(out);
	assert_false(relation_exists("core.schema_migrations"));
	assert_false(relation_exists("public.a"));

	assert_int_equal(keel(&out, "migrate", "up", "--to", "1", "--dir", dir, NULL), 0);
	free(out);
	assert_int_equal(keel(&out, "migrate", "up", "--dry-run", "--dir", dir, NULL), 0);
	assert_null(strstr(out, "0001"));
	assert_non_null(strstr(out, "would apply 0002_test_b.up.sql"));
	free(out);
	assert_false(relation_exists("public.b"));
	assert_int_equal(applied_count(), 1);
	kt_tmpdir_remove(dir);
}

/* ---- concurrency ---- */

/* Start two `migrate up --dir dir` at once; both must succeed. Returns both outputs joined. */
static char *
two_runners(const char *dir)
{
	const char *args[] = {"migrate", "up", "--dir", dir, NULL};
	kt_run *first = kt_keel_spawn(args, NULL), *second = kt_keel_spawn(args, NULL);
	char *out1, *out2, *both;
	int st1 = kt_keel_wait(first, WAIT_MS, &out1), st2 = kt_keel_wait(second, WAIT_MS, &out2);

	if (st1 != 0 || st2 != 0)
		fail_msg("runners exited %d and %d:\n%s\n---\n%s", st1, st2, out1, out2);
	both = malloc(strlen(out1) + strlen(out2) + 8);
	sprintf(both, "%s\n---\n%s", out1, out2);
	free(out1);
	free(out2);
	return both;
}

static void
concurrent_ups_apply_each_migration_once(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_counter.up.sql", "CREATE TABLE public.counter (v int);\n");
	kt_write_file(dir, "0002_test_slow.up.sql",
	              "SELECT pg_sleep(1);\nINSERT INTO public.counter VALUES (2);\n");
	kt_write_file(dir, "0003_test_after.up.sql", "INSERT INTO public.counter VALUES (3);\n");
	out = two_runners(dir);
	/* they overlapped: one waited for the other */
	assert_int_equal(occurrences(out, "waiting for another migration runner"), 1);
	assert_int_equal(occurrences(out, "applied 0001_test_counter.up.sql"), 1);
	assert_int_equal(occurrences(out, "applied 0002_test_slow.up.sql"), 1);
	assert_int_equal(occurrences(out, "applied 0003_test_after.up.sql"), 1);
	free(out);
	assert_int_equal(applied_count(), 3);
	assert_int_equal(owner_long("SELECT count(*) FROM public.counter WHERE v = 2"), 1);
	assert_int_equal(owner_long("SELECT count(*) FROM public.counter"), 2);
	kt_tmpdir_remove(dir);
}

/*
 * A runner waiting for the lock must not hold a snapshot: CREATE INDEX
 * CONCURRENTLY in the runner that holds the lock would wait for it, and
 * PostgreSQL would break the cycle by failing one of them ("deadlock
 * detected"), leaving an invalid index behind.
 */
static void
concurrent_ups_with_create_index_concurrently_do_not_deadlock(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_items.up.sql",
	              "CREATE TABLE public.items (id int, name text);\n"
	              "INSERT INTO public.items SELECT g, g::text FROM generate_series(1, 1000) g;\n");
	kt_write_file(dir, "0002_test_slow.up.sql", "SELECT pg_sleep(0.5);\n"); /* so they overlap */
	kt_write_file(
	    dir, "0003_test_items_name.up.sql",
	    "-- keel:no-transaction\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_idx ON public.items (name);\n");
	out = two_runners(dir);
	assert_null(strstr(out, "deadlock"));
	assert_int_equal(occurrences(out, "applied 0003_test_items_name.up.sql"), 1);
	free(out);
	assert_int_equal(applied_count(), 3);
	assert_int_equal(owner_long("SELECT indisvalid::int FROM pg_index"
	                            " WHERE indexrelid = 'public.items_name_idx'::regclass"),
	                 1);
	kt_tmpdir_remove(dir);
}

/* ---- no-transaction migrations ---- */

static void
create_index_concurrently_runs_under_the_lock_and_reverts(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_items.up.sql",
	              "CREATE TABLE public.items (id int, name text);\n"
	              "INSERT INTO public.items SELECT g, g::text FROM generate_series(1, 1000) g;\n");
	kt_write_file(dir, "0001_test_items.down.sql", "DROP TABLE public.items;\n");
	kt_write_file(
	    dir, "0002_test_items_name.up.sql",
	    "-- keel:no-transaction\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_idx ON public.items (name);\n");
	kt_write_file(dir, "0002_test_items_name.down.sql",
	              "-- keel:no-transaction\n"
	              "DROP INDEX CONCURRENTLY IF EXISTS public.items_name_idx;\n");
	/* keel() gives up after WAIT_MS: a deadlock on the lock would fail here, not hang */
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "applied 0002_test_items_name.up.sql"));
	free(out);
	assert_int_equal(owner_long("SELECT indisvalid::int FROM pg_index"
	                            " WHERE indexrelid = 'public.items_name_idx'::regclass"),
	                 1);
	assert_int_equal(last_version(), 2);

	assert_int_equal(keel(&out, "migrate", "down", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "reverted 0002_test_items_name.down.sql"));
	free(out);
	assert_false(relation_exists("public.items_name_idx"));
	assert_true(relation_exists("public.items"));
	assert_int_equal(last_version(), 1);
	kt_tmpdir_remove(dir);
}

/* Semicolons inside comments, strings, quoted names and dollar quotes do not end a statement. */
static const char split_sql[] =
    "-- keel:no-transaction\n"
    "-- a comment; with a semicolon\n"
    "CREATE FUNCTION public.semi() RETURNS text LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "\tRETURN 'a;b';\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION public.tagged() RETURNS text LANGUAGE sql\n"
    "\tAS $body$ SELECT 'x;y' || $$;$$ $body$;\n"
    "/* block; comment /* nested; */ still; a comment */\n"
    "CREATE TABLE public.split (id int, note text DEFAULT E'it\\'s; fine', \"odd;name\" int);\n"
    "CREATE INDEX CONCURRENTLY split_id_idx ON public.split (id);\n"
    "-- trailing comment; no statement\n";

static void
no_transaction_file_is_split_into_whole_statements(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_split.up.sql", split_sql);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);
	PGconn *c = kt_pg_owner();
	char *v;

	v = kt_pg_value(c, "SELECT public.semi()");
	assert_string_equal(v, "a;b");
	free(v);
	v = kt_pg_value(c, "SELECT public.tagged()");
	assert_string_equal(v, "x;y;");
	free(v);
	v = kt_pg_value(c, "INSERT INTO public.split (id, \"odd;name\") VALUES (1, 2) RETURNING note");
	assert_string_equal(v, "it's; fine");
	free(v);
	PQfinish(c);
	/* CREATE INDEX CONCURRENTLY fails inside a multi-statement string: it was sent alone */
	assert_true(relation_exists("public.split_id_idx"));
	assert_int_equal(applied_count(), 1);
	kt_tmpdir_remove(dir);
}

static void
settings_do_not_leak_into_the_next_migration(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	kt_write_file(dir, "0001_test_scratch.up.sql",
	              "CREATE SCHEMA scratch;\nSET search_path = scratch;\nSET lock_timeout = 1;\n");
	kt_write_file(
	    dir, "0002_test_probe.up.sql",
	    "CREATE TABLE probe AS SELECT current_setting('lock_timeout') AS lock_timeout;\n");
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);
	assert_true(relation_exists("public.probe"));
	assert_false(relation_exists("scratch.probe"));
	PGconn *c = kt_pg_owner();
	char *v = kt_pg_value(c, "SELECT lock_timeout FROM public.probe");

	assert_string_equal(v, "0");
	free(v);
	PQfinish(c);
	kt_tmpdir_remove(dir);
}

/* ---- create ---- */

static void
create_writes_the_next_numbered_pair(void **state)
{
	(void)state;
	char *dir = kt_tmpdir(), *out, *text, path[512];

	kt_write_file(dir, "0001_core_first.up.sql", table_a);
	kt_write_file(dir, "0007_org_later.up.sql", table_b);
	kt_write_file(dir, "0007_org_later.down.sql", "DROP TABLE public.b;\n");
	assert_int_equal(
	    keel(&out, "migrate", "create", "add_widgets", "--module", "org", "--dir", dir, NULL), 0);
	snprintf(path, sizeof(path), "%s/0008_org_add_widgets.up.sql\n", dir);
	assert_non_null(strstr(out, path));
	snprintf(path, sizeof(path), "%s/0008_org_add_widgets.down.sql\n", dir);
	assert_non_null(strstr(out, path));
	free(out);
	snprintf(path, sizeof(path), "%s/0008_org_add_widgets.up.sql", dir);
	text = kt_read_file(path);
	assert_non_null(text);
	assert_true(strncmp(text, "-- 0008 org: add_widgets\n", 25) == 0);
	free(text);
	snprintf(path, sizeof(path), "%s/0008_org_add_widgets.down.sql", dir);
	text = kt_read_file(path);
	assert_non_null(text);
	free(text);
	assert_int_equal(files_in(dir), 5);
	/* an existing pair is never overwritten: the next call takes 0009 */
	assert_int_equal(keel(&out, "migrate", "create", "more", "--module", "org", "--dir", dir, NULL),
	                 0);
	assert_non_null(strstr(out, "0009_org_more.up.sql"));
	free(out);
	kt_tmpdir_remove(dir);
}

static void
created_pair_applies_and_reverts(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	assert_int_equal(
	    keel(&out, "migrate", "create", "first", "--module", "core", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "/0001_core_first.up.sql"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "applied 0001_core_first.up.sql"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "down", "--dir", dir, NULL), 0);
	assert_non_null(strstr(out, "reverted 0001_core_first.down.sql"));
	free(out);
	kt_tmpdir_remove(dir);
}

static void
create_rejects_bad_names(void **state)
{
	(void)state;
	char *dir = kt_tmpdir(), *out;
	const char *bad[] = {"Add_widgets", "add-widgets", "add widgets", "", "../escape", TOO_LONG};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    keel(&out, "migrate", "create", bad[i], "--module", "org", "--dir", dir, NULL), 2);
		assert_non_null(strstr(out, "must be [a-z0-9_]+"));
		free(out);
	}
	assert_int_equal(
	    keel(&out, "migrate", "create", "widgets", "--module", "Org", "--dir", dir, NULL), 2);
	free(out);
	assert_int_equal(
	    keel(&out, "migrate", "create", "widgets", "--module", "../org", "--dir", dir, NULL), 2);
	free(out);
	assert_int_equal(keel(&out, "migrate", "create", "widgets", "--dir", dir, NULL), 2);
	free(out);
	assert_int_equal(keel(&out, "migrate", "create", "--module", "org", "--dir", dir, NULL), 2);
	free(out);
	assert_int_equal(files_in(dir), 0);
	kt_tmpdir_remove(dir);
}

static void
bad_arguments_exit_2(void **state)
{
	(void)state;
	char *out;

	assert_int_equal(keel(&out, "migrate", NULL), 2);
	free(out);
	assert_int_equal(keel(&out, "migrate", "sideways", NULL), 2);
	free(out);
	assert_int_equal(keel(&out, "migrate", "up", "--to", "soon", NULL), 2);
	free(out);
	assert_int_equal(keel(&out, "migrate", "down", "0", NULL), 2);
	free(out);
	assert_int_equal(keel(&out, "migrate", "status", "extra", NULL), 2);
	free(out);
}

/* ---- serve's schema check ---- */

/* Run `keel serve [option]` expecting it to refuse to start; returns its output. */
static char *
serve_refuses(const char *option)
{
	char listen[64], *out;

	snprintf(listen, sizeof(listen), "KEEL_LISTEN=127.0.0.1:%d", kt_free_port());
	const char *args[] = {"serve", option, NULL}, *env[] = {listen, NULL};

	assert_int_equal(kt_keel_wait(kt_keel_spawn(args, env), WAIT_MS, &out), 1);
	return out;
}

static void
serve_refuses_a_migration_unknown_to_the_binary(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out;

	/* a newer binary migrated this database */
	write_embedded(dir);
	kt_write_file(dir, "9999_test_newer.up.sql", table_a);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);

	out = serve_refuses(NULL);
	assert_non_null(strstr(out, "differs from this binary's migrations"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "verify", NULL), 1);
	assert_non_null(strstr(out, "version 9999 (test_newer) is applied but unknown"));
	free(out);
	/* --migrate does not paper over it */
	out = serve_refuses("--migrate");
	assert_non_null(strstr(out, "refusing to migrate"));
	free(out);
	kt_tmpdir_remove(dir);
}

static void
serve_refuses_a_changed_checksum(void **state)
{
	(void)state;
	db_reset();
	char *dir = kt_tmpdir(), *out, *edited;
	const keel_migration *last =
	    &keel_migrations_embedded.items[keel_migrations_embedded.count - 1];

	/* the database was migrated with a different text of the binary's last file */
	write_embedded(dir);
	edited = malloc(strlen(last->up) + 32);
	sprintf(edited, "%s\n-- edited after release\n", last->up);
	kt_write_file(dir, last->file, edited);
	free(edited);
	assert_int_equal(keel(&out, "migrate", "up", "--dir", dir, NULL), 0);
	free(out);

	out = serve_refuses(NULL);
	assert_non_null(strstr(out, "differs from this binary's migrations"));
	free(out);
	assert_int_equal(keel(&out, "migrate", "verify", NULL), 1);
	assert_non_null(strstr(out, last->file));
	assert_non_null(strstr(out, "changed after it was applied"));
	free(out);
	kt_tmpdir_remove(dir);
}

/*
 * `keel migrate` creates the core schema before 0001 lets keel_app use it: a
 * database in that state (a first `up` that failed, or everything reverted)
 * has nothing applied, and serve must say so rather than start.
 */
static void
serve_refuses_a_database_with_only_the_bookkeeping(void **state)
{
	(void)state;
	db_reset();
	char *out;

	assert_int_equal(keel(&out, "migrate", "down", NULL), 0);
	free(out);
	assert_true(relation_exists("core.schema_migrations"));
	out = serve_refuses(NULL);
	assert_non_null(strstr(out, "pending"));
	free(out);
}

static void
serve_migrate_applies_pending_then_is_ready(void **state)
{
	(void)state;
	db_reset();
	const char *args[] = {"--migrate", NULL};
	kt_keel *k = kt_keel_start(NULL, args);
	kt_resp *r = kt_request(k->base, "GET", "/readyz", NULL, NULL, 0);

	assert_int_equal(r->status, 200);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r->json, "checks"), "migrations")),
	    "current");
	kt_resp_free(r);
	assert_int_equal(kt_keel_stop(k), 0);
	assert_int_equal(applied_count(), (long)keel_migrations_embedded.count);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(embedded_up_down_up_leaves_the_same_schema),
	    cmocka_unit_test(embedded_down_to_zero_then_up_restores_everything),
	    cmocka_unit_test(status_lists_state_checksum_and_times),
	    cmocka_unit_test(verify_ok_counts_applied_and_pending),
	    cmocka_unit_test(changed_applied_file_fails_verify_and_blocks_up),
	    cmocka_unit_test(version_unknown_to_the_binary_fails_verify),
	    cmocka_unit_test(syntax_error_names_file_line_and_column_and_leaves_no_trace),
	    cmocka_unit_test(failing_statement_rolls_back_the_statements_before_it),
	    cmocka_unit_test(no_transaction_failure_is_located_in_the_file),
	    cmocka_unit_test(to_applies_only_up_to_the_version),
	    cmocka_unit_test(dry_run_prints_and_changes_nothing),
	    cmocka_unit_test(concurrent_ups_apply_each_migration_once),
	    cmocka_unit_test(concurrent_ups_with_create_index_concurrently_do_not_deadlock),
	    cmocka_unit_test(create_index_concurrently_runs_under_the_lock_and_reverts),
	    cmocka_unit_test(no_transaction_file_is_split_into_whole_statements),
	    cmocka_unit_test(settings_do_not_leak_into_the_next_migration),
	    cmocka_unit_test(create_writes_the_next_numbered_pair),
	    cmocka_unit_test(created_pair_applies_and_reverts),
	    cmocka_unit_test(create_rejects_bad_names),
	    cmocka_unit_test(bad_arguments_exit_2),
	    cmocka_unit_test(serve_refuses_a_migration_unknown_to_the_binary),
	    cmocka_unit_test(serve_refuses_a_changed_checksum),
	    cmocka_unit_test(serve_refuses_a_database_with_only_the_bookkeeping),
	    cmocka_unit_test(serve_migrate_applies_pending_then_is_ready),
	};

	return cmocka_run_group_tests_name("migrate", tests, setup, NULL);
}
