/*
 * The multi-tenancy foundation (migration 0001 and the rules every later
 * migration follows), tested in PostgreSQL itself over libpq.
 *
 * The test's own database is migrated with the real binary, then a demo
 * tenant-owned table is made exactly as the rules say (public.things) and
 * two tenants are created through core.create_tenant as keel_app.  As
 * keel_app the tests prove that row-level security confines every statement
 * to the tenant of its transaction and fails closed without one, that the
 * role cannot switch role, turn security off or change the schema, and that
 * the narrow SECURITY DEFINER functions work.  A catalog check, driven from
 * pg_catalog, fails when any table, view or function in a tenant schema
 * breaks the rules, so tables added by later migrations are covered too;
 * one test proves it reports what it should.  docs/isolation.md describes
 * the model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

#define TENANT_A "0192f3a4-0000-7000-8000-00000000000a"
#define TENANT_B "0192f3a4-0000-7000-8000-00000000000b"
#define TENANT_C "0192f3a4-0000-7000-8000-00000000000c"
#define THING_A1 "0192f3a4-0000-7000-8000-0000000000a1"
#define THING_B1 "0192f3a4-0000-7000-8000-0000000000b1"

/* The schemas of keel's modules; those that exist are checked. */
#define TENANT_SCHEMAS "{core,auth,org,audit,events}"

/* ---- helpers ---- */

/* Begin a transaction on c acting for tenant, as keel_tx_begin() does. */
static void
tenant_begin(PGconn *c, const char *tenant)
{
	const char *params[] = {tenant};

	kt_pg_exec(c, "BEGIN");
	PGresult *r = PQexecParams(c, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, params,
	                           NULL, NULL, 0);

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
}

/* keel_app in a transaction of tenant. */
static PGconn *
app_for(const char *tenant)
{
	PGconn *c = kt_pg_app();

	tenant_begin(c, tenant);
	return c;
}

/* Text of the first value of sql; "NULL" for SQL NULL; into buf. */
static const char *
text_value(PGconn *c, const char *sql, char *buf, size_t len)
{
	char *v = kt_pg_value(c, sql);

	snprintf(buf, len, "%s", v ? v : "NULL");
	free(v);
	return buf;
}

/* sql must fail with SQLSTATE state. */
static void
expect_error(PGconn *c, const char *sql, const char *state)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		fail_msg("expected SQLSTATE %s, but it succeeded: %s", state, sql);
	if (got == NULL || strcmp(got, state) != 0)
		fail_msg("expected SQLSTATE %s, got %s: %s\n%s", state, got ? got : "none", sql,
		         PQerrorMessage(c));
	PQclear(r);
}

/* sql fails in a transaction: expect state, then roll back. */
static void
expect_error_in_tx(PGconn *c, const char *sql, const char *state)
{
	expect_error(c, sql, state);
	kt_pg_exec(c, "ROLLBACK");
}

/* Rows changed by an INSERT/UPDATE/DELETE. */
static long
affected(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	long n = strtol(PQcmdTuples(r), NULL, 10);

	PQclear(r);
	return n;
}

/* Create a tenant as keel_app with some things, as sign-up would. */
static void
tenant_create(const char *id, const char *slug, int things)
{
	PGconn *c = kt_pg_app();
	const char *params[] = {id, slug};
	char sql[256];

	kt_pg_exec(c, "BEGIN");
	PGresult *r = PQexecParams(c, "SELECT core.create_tenant($1, 'Tenant ' || $2, $2)", 2, NULL,
	                           params, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO public.things (tenant_id, id, name)"
	         " SELECT core.current_tenant_id(), gen_random_uuid(), 'thing ' || g"
	         " FROM generate_series(1, %d) g",
	         things);
	kt_pg_exec(c, sql);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
}

static int
setup(void **state)
{
	(void)state;
	const char *up[] = {"migrate", "up", NULL};
	char *out;

	kt_db_fresh("tenancy");
	if (kt_keel_run(up, NULL, &out) != 0)
		fail_msg("keel migrate up failed:\n%s", out);
	free(out);

	/* a tenant-owned table, exactly as the rules in 0001 say */
	PGconn *c = kt_pg_owner();

	kt_pg_exec(c, "SET client_min_messages = warning;"
	              "CREATE TABLE public.things ("
	              " tenant_id uuid NOT NULL REFERENCES core.tenants (id),"
	              " id uuid NOT NULL, name text, PRIMARY KEY (tenant_id, id));"
	              "SELECT core.enable_tenant_rls('public.things');"
	              "GRANT USAGE ON SCHEMA public TO keel_app;"
	              "GRANT SELECT, INSERT, UPDATE, DELETE ON public.things TO keel_app;");
	PQfinish(c);

	tenant_create(TENANT_A, "tenant-a", 2);
	tenant_create(TENANT_B, "tenant-b", 3);
	/* one row of each with a known id */
	c = app_for(TENANT_A);
	kt_pg_exec(c, "INSERT INTO public.things VALUES ('" TENANT_A "', '" THING_A1 "', 'a1')");
	kt_pg_exec(c, "COMMIT");
	tenant_begin(c, TENANT_B);
	kt_pg_exec(c, "INSERT INTO public.things VALUES ('" TENANT_B "', '" THING_B1 "', 'b1')");
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	return 0;
}

/* ---- row-level security as keel_app ---- */

static void
without_a_tenant_nothing_is_visible_and_inserts_fail(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();

	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 0);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM core.tenants"), 0);
	expect_error(c, "INSERT INTO public.things VALUES ('" TENANT_A "', gen_random_uuid(), 'x')",
	             "42501");
	PQfinish(c);
}

static void
a_tenant_sees_only_its_own_rows(void **state)
{
	(void)state;
	PGconn *c = app_for(TENANT_A);
	char buf[64];

	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 3);
	assert_int_equal(
	    kt_pg_long(c, "SELECT count(*) FROM public.things WHERE tenant_id <> '" TENANT_A "'"), 0);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things WHERE id = '" THING_B1 "'"),
	                 0);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM core.tenants"), 1);
	assert_string_equal(text_value(c, "SELECT id FROM core.tenants", buf, sizeof(buf)), TENANT_A);
	kt_pg_exec(c, "COMMIT");

	tenant_begin(c, TENANT_B);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 4);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
}

static void
forced_security_filters_even_the_owner(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();

	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 0);
	tenant_begin(c, TENANT_A);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 3);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
}

static void
a_row_cannot_move_to_another_tenant(void **state)
{
	(void)state;
	PGconn *c = app_for(TENANT_A);

	expect_error_in_tx(c,
	                   "UPDATE public.things SET tenant_id = '" TENANT_B "'"
	                   " WHERE id = '" THING_A1 "'",
	                   "42501");
	PQfinish(c);
}

static void
inserting_for_another_tenant_is_rejected(void **state)
{
	(void)state;
	PGconn *c = app_for(TENANT_A);

	expect_error_in_tx(
	    c, "INSERT INTO public.things VALUES ('" TENANT_B "', gen_random_uuid(), 'smuggled')",
	    "42501");
	PQfinish(c);
}

static void
another_tenants_rows_cannot_be_changed_or_deleted(void **state)
{
	(void)state;
	PGconn *c = app_for(TENANT_A);
	char buf[64];

	assert_int_equal(affected(c, "DELETE FROM public.things WHERE tenant_id = '" TENANT_B "'"), 0);
	assert_int_equal(affected(c, "DELETE FROM public.things WHERE id = '" THING_B1 "'"), 0);
	assert_int_equal(
	    affected(c, "UPDATE public.things SET name = 'mine' WHERE id = '" THING_B1 "'"), 0);
	assert_int_equal(affected(c, "UPDATE core.tenants SET name = 'mine' WHERE id = '" TENANT_B "'"),
	                 0);
	kt_pg_exec(c, "COMMIT");

	/* B's rows are all there, unchanged */
	tenant_begin(c, TENANT_B);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 4);
	assert_string_equal(
	    text_value(c, "SELECT name FROM public.things WHERE id = '" THING_B1 "'", buf, sizeof(buf)),
	    "b1");
	assert_string_equal(text_value(c, "SELECT name FROM core.tenants", buf, sizeof(buf)),
	                    "Tenant tenant-b");
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
}

static void
the_tenant_setting_dies_with_its_transaction(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();
	char buf[64];

	/* never set: NULL, and so is the tenant */
	assert_string_equal(
	    text_value(c, "SELECT current_setting('app.tenant_id', true)", buf, sizeof(buf)), "NULL");
	assert_string_equal(text_value(c, "SELECT core.current_tenant_id()", buf, sizeof(buf)), "NULL");

	tenant_begin(c, TENANT_A);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 3);
	kt_pg_exec(c, "COMMIT");
	/* after COMMIT the setting reads '', which is no tenant either: fail closed */
	assert_string_equal(
	    text_value(c, "SELECT current_setting('app.tenant_id', true)", buf, sizeof(buf)), "");
	assert_string_equal(text_value(c, "SELECT core.current_tenant_id()", buf, sizeof(buf)), "NULL");
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 0);

	tenant_begin(c, TENANT_A);
	kt_pg_exec(c, "ROLLBACK");
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 0);
	PQfinish(c);
}

static void
a_malformed_tenant_is_an_error_not_a_match(void **state)
{
	(void)state;
	PGconn *c = app_for("not-a-uuid");

	expect_error_in_tx(c, "SELECT count(*) FROM public.things", "22P02");
	PQfinish(c);
}

static void
create_tenant_scopes_its_transaction(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();
	char buf[64];

	kt_pg_exec(c, "BEGIN");
	kt_pg_exec(c, "SELECT core.create_tenant('" TENANT_C "', 'Tenant C', 'tenant-c')");
	assert_string_equal(text_value(c, "SELECT core.current_tenant_id()", buf, sizeof(buf)),
	                    TENANT_C);
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM core.tenants"), 1);
	kt_pg_exec(c, "INSERT INTO public.things VALUES ('" TENANT_C "', gen_random_uuid(), 'c1')");
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 1);
	kt_pg_exec(c, "COMMIT");
	assert_string_equal(text_value(c, "SELECT core.current_tenant_id()", buf, sizeof(buf)), "NULL");
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM public.things"), 0);
	/* a slug is taken once */
	expect_error(c, "SELECT core.create_tenant(gen_random_uuid(), 'Again', 'tenant-c')", "23505");
	PQfinish(c);
}

/* ---- what keel_app cannot do ---- */

static void
app_role_cannot_become_owner_or_turn_security_off(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();

	expect_error(c, "SET ROLE keel_owner", "42501");
	expect_error(c, "SET SESSION AUTHORIZATION keel_owner", "42501");
	expect_error(c, "ALTER TABLE public.things DISABLE ROW LEVEL SECURITY", "42501");
	expect_error(c, "ALTER TABLE public.things NO FORCE ROW LEVEL SECURITY", "42501");
	expect_error(c, "DROP POLICY tenant_isolation ON public.things", "42501");
	expect_error(c, "ALTER TABLE core.tenants DISABLE ROW LEVEL SECURITY", "42501");
	expect_error(c, "SELECT core.enable_tenant_rls('public.things')", "42501");
	/* row_security = off makes a query that RLS would filter an error, not a bypass */
	kt_pg_exec(c, "SET row_security = off");
	expect_error(c, "SELECT count(*) FROM public.things", "42501");
	PQfinish(c);
}

static void
app_role_cannot_change_the_schema(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();

	expect_error(c, "CREATE TABLE public.mine (id int)", "42501");
	expect_error(c, "CREATE TABLE core.mine (id int)", "42501");
	expect_error(c, "CREATE FUNCTION core.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'", "42501");
	expect_error(c, "CREATE SCHEMA mine", "42501");
	expect_error(c, "TRUNCATE public.things", "42501");
	expect_error(c, "DROP TABLE public.things", "42501");
	expect_error(c, "ALTER TABLE public.things ADD COLUMN x int", "42501");
	PQfinish(c);
}

static void
app_role_cannot_read_migration_bookkeeping(void **state)
{
	(void)state;
	PGconn *app = kt_pg_app(), *owner = kt_pg_owner();

	expect_error(app, "SELECT count(*) FROM core.schema_migrations", "42501");
	/* ... but sees which versions are applied through core.migration_state() */
	long applied = kt_pg_long(owner, "SELECT count(*) FROM core.schema_migrations");

	assert_true(applied >= 1);
	assert_int_equal(kt_pg_long(app, "SELECT count(*) FROM core.migration_state()"), applied);
	assert_int_equal(kt_pg_long(app, "SELECT min(version) FROM core.migration_state()"), 1);
	PQfinish(app);
	PQfinish(owner);
}

static void
app_role_has_no_privileged_attributes_and_owns_nothing(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();
	char buf[64];

	assert_string_equal(text_value(c,
	                               "SELECT rolsuper::text || rolbypassrls::text || "
	                               "rolcreaterole::text || rolcreatedb::text"
	                               " FROM pg_roles WHERE rolname = 'keel_app'",
	                               buf, sizeof(buf)),
	                    "falsefalsefalsefalse");
	assert_string_equal(
	    text_value(c, "SELECT pg_has_role('keel_app', 'keel_owner', 'MEMBER')", buf, sizeof(buf)),
	    "f");
	assert_int_equal(
	    kt_pg_long(c, "SELECT count(*) FROM pg_class WHERE relowner = 'keel_app'::regrole"), 0);
	assert_int_equal(
	    kt_pg_long(c, "SELECT count(*) FROM pg_proc WHERE proowner = 'keel_app'::regrole"), 0);
	assert_int_equal(
	    kt_pg_long(c, "SELECT count(*) FROM pg_namespace WHERE nspowner = 'keel_app'::regrole"), 0);
	PQfinish(c);
}

static void
tenant_by_slug_resolves_before_a_tenant_is_set(void **state)
{
	(void)state;
	PGconn *c = kt_pg_app();
	char buf[64];

	assert_string_equal(
	    text_value(c, "SELECT id FROM core.tenant_by_slug('tenant-a')", buf, sizeof(buf)),
	    TENANT_A);
	assert_string_equal(
	    text_value(c, "SELECT status FROM core.tenant_by_slug('tenant-b')", buf, sizeof(buf)),
	    "active");
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM core.tenant_by_slug('no-such-slug')"), 0);
	/* the function, not the table: the registry itself still shows nothing */
	assert_int_equal(kt_pg_long(c, "SELECT count(*) FROM core.tenants"), 0);
	PQfinish(c);
}

/* ---- the catalog check ---- */

#define TEXT_ARRAY_OID 1009 /* text[], the type of every rule parameter */

/* Expressions accepted in tenant_isolation's USING and WITH CHECK (deparsed, search_path ''). */
#define TENANT_EXPRS                                                                               \
	"{\"(tenant_id = ( SELECT core.current_tenant_id() AS current_tenant_id))\","                  \
	"\"(tenant_id = core.current_tenant_id())\"}"

/* Privileges of keel_app on table $1 (oid): true when it has any at all. */
#define APP_ACCESS(oid)                                                                            \
	"(has_table_privilege('keel_app', " oid ", 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,"             \
	"REFERENCES,TRIGGER') OR has_any_column_privilege('keel_app', " oid                            \
	", 'SELECT,INSERT,UPDATE,REFERENCES'))"

/*
 * The allowlist: tables of the tenant schemas that are not tenant-owned,
 * each with the query (on its oid, $1) that is true when it is what it must
 * be instead.  Every other table must follow the tenant-owned rules.
 */
typedef struct exemption {
	const char *table;
	const char *must;
	const char *sql;
} exemption;

static const exemption exemptions[] = {
    /* keel migrate's bookkeeping; keel_app reads it only through core.migration_state(). */
    {"core.schema_migrations", "keel_app must have no access to it",
     "SELECT NOT " APP_ACCESS("$1::oid")},
    /*
     * The tenant registry: a tenant's row is keyed by its own id, so the policy
     * compares id.  RLS is enabled but not forced: the SECURITY DEFINER
     * functions, running as the owner, resolve slugs before sign-in and
     * create tenants.
     */
    {"core.tenants",
     "it must have row-level security enabled and exactly one policy, tenant_self, FOR ALL "
     "with USING and WITH CHECK id = core.current_tenant_id()",
     "SELECT c.relrowsecurity AND (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) = 1"
     " AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid"
     "  AND p.polname = 'tenant_self' AND p.polpermissive AND p.polcmd = '*'"
     "  AND pg_get_expr(p.polqual, p.polrelid) = pg_get_expr(p.polwithcheck, p.polrelid)"
     "  AND pg_get_expr(p.polqual, p.polrelid)"
     "   = '(id = ( SELECT core.current_tenant_id() AS current_tenant_id))')"
     " FROM pg_class c WHERE c.oid = $1"},
    /*
     * Failed sign-ins per client address (migration 0002): an address belongs
     * to no tenant.  keel_app reaches it only through the SECURITY DEFINER
     * functions auth.address_failures_recent and auth.address_failure_record.
     */
    {"auth.address_failures", "keel_app must have no access to it",
     "SELECT NOT " APP_ACCESS("$1::oid")},
    /*
     * The trigram search side table of organizations (migration 0003): tenant
     * data without RLS, because LIKE is not leakproof and a policy would keep
     * the trigram index from being used.  keel_app cannot read it; the
     * SECURITY DEFINER function org.search_organizations() filters by
     * core.current_tenant_id() and a trigger fills it.
     */
    {"org.organization_search", "keel_app must have no access to it",
     "SELECT NOT " APP_ACCESS("$1::oid")},
};

/*
 * One rule of the model: sql lists the objects that break it as
 * (name, detail) rows.  $1: schemas, $2: exempt tables, $3: accepted policy
 * expressions.  Tables are the ordinary and partitioned tables of the
 * schemas, except the exempt ones; a partition that keel_app cannot access
 * directly is reached only through its parent's policy.
 */
typedef struct rule {
	const char *problem;
	const char *sql;
} rule;

/* keel_app's access to the table being scanned (c.oid). */
#define APP_ACCESS_C APP_ACCESS("c.oid")

/* The tables a rule looks at, as t: name, RLS flags, attnum of tenant_id, directly accessible. */
#define TABLES                                                                                     \
	"WITH t AS (SELECT c.oid, c.relrowsecurity, c.relforcerowsecurity,"                            \
	" format('%I.%I', n.nspname, c.relname) AS name,"                                              \
	" (NOT c.relispartition OR " APP_ACCESS_C ") AS direct,"                                       \
	" (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid"                               \
	"  AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_att"                          \
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"                               \
	" WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')"                               \
	" AND format('%I.%I', n.nspname, c.relname) <> ALL($2::text[])) "

static const rule rules[] = {
    {"has no tenant_id uuid NOT NULL column",
     TABLES "SELECT t.name, '' FROM t WHERE NOT EXISTS (SELECT FROM pg_attribute a"
            " WHERE a.attrelid = t.oid AND a.attnum = t.tenant_att"
            " AND a.atttypid = 'uuid'::regtype AND a.attnotnull)"},
    {"row-level security is not enabled",
     TABLES "SELECT t.name, '' FROM t WHERE t.direct AND NOT t.relrowsecurity"},
    {"row-level security is not forced",
     TABLES "SELECT t.name, '' FROM t WHERE t.direct AND NOT t.relforcerowsecurity"},
    {"lacks the standard policy tenant_isolation (core.enable_tenant_rls)",
     TABLES "SELECT t.name, '' FROM t WHERE t.direct AND NOT EXISTS (SELECT FROM pg_policy p"
            " WHERE p.polrelid = t.oid AND p.polname = 'tenant_isolation' AND p.polpermissive"
            " AND p.polcmd = '*' AND p.polroles = '{0}'"
            " AND pg_get_expr(p.polqual, p.polrelid) = ANY($3::text[])"
            " AND pg_get_expr(p.polwithcheck, p.polrelid) = ANY($3::text[]))"},
    {"has a further permissive policy for keel_app, which widens tenant_isolation",
     TABLES "SELECT t.name, p.polname FROM t JOIN pg_policy p ON p.polrelid = t.oid"
            " WHERE p.polpermissive AND p.polname <> 'tenant_isolation'"
            " AND (p.polroles = '{0}' OR 'keel_app'::regrole = ANY(p.polroles))"},
    {"has a unique index without tenant_id",
     TABLES "SELECT t.name, i.indexrelid::regclass::text FROM t JOIN pg_index i"
            " ON i.indrelid = t.oid WHERE i.indisunique"
            " AND (t.tenant_att IS NULL OR NOT t.tenant_att = ANY(i.indkey::int2[]))"},
    {"has a foreign key without tenant_id",
     TABLES "SELECT t.name, k.conname FROM t JOIN pg_constraint k ON k.conrelid = t.oid"
            " WHERE k.contype = 'f'"
            " AND (t.tenant_att IS NULL OR NOT t.tenant_att = ANY(k.conkey))"},
    {"is a view that is not security_invoker (it would read as its owner)",
     "SELECT format('%I.%I', n.nspname, c.relname), '' FROM pg_class c"
     " JOIN pg_namespace n ON n.oid = c.relnamespace"
     " WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'v' AND NOT EXISTS (SELECT"
     " FROM pg_options_to_table(c.reloptions) o"
     " WHERE o.option_name = 'security_invoker' AND o.option_value::boolean)"},
    {"is a materialized view (its rows are not filtered by row-level security)",
     "SELECT format('%I.%I', n.nspname, c.relname), '' FROM pg_class c"
     " JOIN pg_namespace n ON n.oid = c.relnamespace"
     " WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'm'"},
    {"is SECURITY DEFINER without a pinned search_path, or not owned by keel_owner",
     "SELECT p.oid::regprocedure::text, '' FROM pg_proc p"
     " JOIN pg_namespace n ON n.oid = p.pronamespace"
     " WHERE n.nspname = ANY($1::text[]) AND p.prosecdef"
     " AND (p.proowner <> 'keel_owner'::regrole OR NOT EXISTS (SELECT"
     " FROM unnest(p.proconfig) s WHERE s LIKE 'search_path=%'))"},
};

static void
append(char **buf, size_t *len, const char *name, const char *what, const char *detail)
{
	size_t add = strlen(name) + strlen(what) + strlen(detail) + 8;

	*buf = realloc(*buf, *len + add);
	*len +=
	    (size_t)snprintf(*buf + *len, add, "%s%s%s: %s\n", name, *detail ? " " : "", detail, what);
}

/* Check the allowlisted tables that exist in schemas. */
static void
check_exemptions(PGconn *c, const char *schemas, char **buf, size_t *len)
{
	for (size_t i = 0; i < sizeof(exemptions) / sizeof(exemptions[0]); i++) {
		const exemption *e = &exemptions[i];
		const char *p1[] = {e->table, schemas};
		PGresult *r = PQexecParams(c,
		                           "SELECT to_regclass($1)::oid FROM pg_namespace"
		                           " WHERE nspname = split_part($1, '.', 1)"
		                           " AND nspname = ANY($2::text[]) AND to_regclass($1) IS NOT NULL",
		                           2, NULL, p1, NULL, NULL, 0);

		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		if (PQntuples(r) == 1) {
			const char *p2[] = {PQgetvalue(r, 0, 0)};
			PGresult *ok = PQexecParams(c, e->sql, 1, NULL, p2, NULL, NULL, 0);

			if (PQresultStatus(ok) != PGRES_TUPLES_OK)
				fail_msg("%s: %s", e->table, PQerrorMessage(c));
			if (strcmp(PQgetvalue(ok, 0, 0), "t") != 0)
				append(buf, len, e->table, e->must, "");
			PQclear(ok);
		}
		PQclear(r);
	}
}

/*
 * Check every table, view and SECURITY DEFINER function of schemas (an
 * array literal, "{core,auth}") against the isolation rules.  Returns the
 * problems, one line each ("" when there are none; malloc'd), and in
 * *examined how many tables and views it looked at.
 */
static char *
isolation_problems(PGconn *c, const char *schemas, int *examined)
{
	char *buf = calloc(1, 1), exempt[512] = "{";
	size_t len = 0;

	/* deparse with every name qualified, whatever the caller's search_path */
	kt_pg_exec(c, "SELECT set_config('search_path', '', false)");
	for (size_t i = 0; i < sizeof(exemptions) / sizeof(exemptions[0]); i++)
		snprintf(exempt + strlen(exempt), sizeof(exempt) - strlen(exempt), "%s%s", i ? "," : "",
		         exemptions[i].table);
	strcat(exempt, "}");
	check_exemptions(c, schemas, &buf, &len);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const char *params[] = {schemas, exempt, TENANT_EXPRS};
		const Oid types[] = {TEXT_ARRAY_OID, TEXT_ARRAY_OID, TEXT_ARRAY_OID}; /* used or not */
		PGresult *r = PQexecParams(c, rules[i].sql, 3, types, params, NULL, NULL, 0);

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("rule \"%s\": %s", rules[i].problem, PQerrorMessage(c));
		for (int row = 0; row < PQntuples(r); row++)
			append(&buf, &len, PQgetvalue(r, row, 0), rules[i].problem, PQgetvalue(r, row, 1));
		PQclear(r);
	}
	const char *p[] = {schemas};
	PGresult *r = PQexecParams(c,
	                           "SELECT count(*) FROM pg_class c JOIN pg_namespace n"
	                           " ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[])"
	                           " AND c.relkind IN ('r', 'p', 'v', 'm')",
	                           1, NULL, p, NULL, NULL, 0);

	*examined = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	kt_pg_exec(c, "RESET search_path");
	return buf;
}

static void
tenant_schemas_follow_the_isolation_rules(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();
	int examined;
	char *problems = isolation_problems(c, TENANT_SCHEMAS, &examined);

	if (*problems != '\0')
		fail_msg("tables, views or functions breaking the isolation rules:\n%s", problems);
	assert_true(examined >= 2); /* core.schema_migrations and core.tenants at least */
	free(problems);
	PQfinish(c);
}

static void
isolation_check_reports_what_breaks_the_rules(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();
	int examined;

	kt_pg_exec(
	    c, "SET client_min_messages = warning;"
	       "CREATE SCHEMA scratch;"
	       /* compliant: made as the rules say */
	       "CREATE TABLE scratch.good (tenant_id uuid NOT NULL REFERENCES core.tenants (id),"
	       " id uuid NOT NULL, code text, PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, code));"
	       "SELECT core.enable_tenant_rls('scratch.good');"
	       "CREATE VIEW scratch.fine_view WITH (security_invoker = on) AS"
	       " SELECT * FROM scratch.good;"
	       /* everything wrong */
	       "CREATE TABLE scratch.loose (id uuid PRIMARY KEY, name text UNIQUE);"
	       /* RLS on, but a unique key across tenants and a policy that opens it up */
	       "CREATE TABLE scratch.leaky (tenant_id uuid NOT NULL, id uuid NOT NULL, code text,"
	       " PRIMARY KEY (tenant_id, id), UNIQUE (code));"
	       "SELECT core.enable_tenant_rls('scratch.leaky');"
	       "CREATE POLICY everyone ON scratch.leaky USING (true);"
	       /* forced, but the policy is not the standard one */
	       "CREATE TABLE scratch.weak (tenant_id uuid NOT NULL, id uuid NOT NULL,"
	       " PRIMARY KEY (tenant_id, id));"
	       "ALTER TABLE scratch.weak ENABLE ROW LEVEL SECURITY;"
	       "ALTER TABLE scratch.weak FORCE ROW LEVEL SECURITY;"
	       "CREATE POLICY tenant_isolation ON scratch.weak USING (true) WITH CHECK (true);"
	       /* a foreign key that can point into another tenant */
	       "CREATE TABLE scratch.stray (tenant_id uuid NOT NULL, id uuid NOT NULL,"
	       " loose_id uuid REFERENCES scratch.loose (id), PRIMARY KEY (tenant_id, id));"
	       "SELECT core.enable_tenant_rls('scratch.stray');"
	       "CREATE VIEW scratch.peek AS SELECT * FROM scratch.good;"
	       "CREATE MATERIALIZED VIEW scratch.snapshot AS SELECT * FROM scratch.good;"
	       "CREATE FUNCTION scratch.unsafe() RETURNS int LANGUAGE sql SECURITY DEFINER"
	       " AS 'SELECT 1';"
	       /* partitions: reached through the parent's policy unless keel_app has grants */
	       "CREATE TABLE scratch.parted (tenant_id uuid NOT NULL, id uuid NOT NULL,"
	       " PRIMARY KEY (tenant_id, id)) PARTITION BY HASH (tenant_id);"
	       "SELECT core.enable_tenant_rls('scratch.parted');"
	       "CREATE TABLE scratch.parted_0 PARTITION OF scratch.parted"
	       " FOR VALUES WITH (MODULUS 2, REMAINDER 0);"
	       "CREATE TABLE scratch.parted_1 PARTITION OF scratch.parted"
	       " FOR VALUES WITH (MODULUS 2, REMAINDER 1);"
	       "GRANT SELECT ON scratch.parted, scratch.parted_1 TO keel_app;");
	char *problems = isolation_problems(c, "{core,auth,org,audit,events,scratch}", &examined);
	const char *expected[] = {
	    "scratch.loose: has no tenant_id uuid NOT NULL column",
	    "scratch.loose: row-level security is not enabled",
	    "scratch.loose: row-level security is not forced",
	    "scratch.loose: lacks the standard policy tenant_isolation",
	    "scratch.loose scratch.loose_pkey: has a unique index without tenant_id",
	    "scratch.loose scratch.loose_name_key: has a unique index without tenant_id",
	    "scratch.leaky scratch.leaky_code_key: has a unique index without tenant_id",
	    "scratch.leaky everyone: has a further permissive policy for keel_app",
	    "scratch.weak: lacks the standard policy tenant_isolation",
	    "scratch.stray stray_loose_id_fkey: has a foreign key without tenant_id",
	    "scratch.peek: is a view that is not security_invoker",
	    "scratch.snapshot: is a materialized view",
	    "scratch.unsafe(): is SECURITY DEFINER without a pinned search_path",
	    "scratch.parted_1: row-level security is not enabled",
	};

	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		if (strstr(problems, expected[i]) == NULL)
			fail_msg("the check did not report \"%s\"; it reported:\n%s", expected[i], problems);
	assert_null(strstr(problems, "scratch.good"));
	assert_null(strstr(problems, "scratch.fine_view"));
	assert_null(strstr(problems, "scratch.weak: row-level")); /* enabled and forced */
	assert_null(strstr(problems, "scratch.parted:"));
	assert_null(strstr(problems, "scratch.parted_0"));
	free(problems);
	kt_pg_exec(c, "DROP SCHEMA scratch CASCADE");
	PQfinish(c);
}

static void
allowlisted_tables_are_checked_for_what_they_must_be(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();
	int examined;
	char *problems;

	kt_pg_exec(c, "BEGIN;"
	              "GRANT SELECT ON core.schema_migrations TO keel_app;"
	              "ALTER TABLE core.tenants DISABLE ROW LEVEL SECURITY");
	problems = isolation_problems(c, TENANT_SCHEMAS, &examined);
	kt_pg_exec(c, "ROLLBACK");
	assert_non_null(strstr(problems, "core.schema_migrations: keel_app must have no access"));
	assert_non_null(strstr(problems, "core.tenants: it must have row-level security enabled"));
	free(problems);
	PQfinish(c);
}

/* ---- the planner ---- */

static void
lookup_by_id_uses_the_tenant_leading_primary_key(void **state)
{
	(void)state;
	PGconn *owner = kt_pg_owner();

	tenant_create("0192f3a4-0000-7000-8000-0000000000d1", "tenant-d1", 3000);
	tenant_create("0192f3a4-0000-7000-8000-0000000000d2", "tenant-d2", 3000);
	kt_pg_exec(owner, "ANALYZE public.things");
	PQfinish(owner);

	PGconn *c = app_for("0192f3a4-0000-7000-8000-0000000000d1");
	const char *params[] = {THING_A1};
	PGresult *r = PQexecParams(c, "EXPLAIN SELECT name FROM public.things WHERE id = $1", 1, NULL,
	                           params, NULL, NULL, 0);
	char plan[4096] = "";

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	for (int i = 0; i < PQntuples(r); i++)
		snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	kt_pg_exec(c, "COMMIT");
	PQfinish(c);
	if (strstr(plan, "Index Scan using things_pkey on things") == NULL ||
	    strstr(plan, "Seq Scan") != NULL || strstr(plan, "(tenant_id = ") == NULL)
		fail_msg("expected an index scan on (tenant_id, id); the plan was:\n%s", plan);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(without_a_tenant_nothing_is_visible_and_inserts_fail),
	    cmocka_unit_test(a_tenant_sees_only_its_own_rows),
	    cmocka_unit_test(forced_security_filters_even_the_owner),
	    cmocka_unit_test(a_row_cannot_move_to_another_tenant),
	    cmocka_unit_test(inserting_for_another_tenant_is_rejected),
	    cmocka_unit_test(another_tenants_rows_cannot_be_changed_or_deleted),
	    cmocka_unit_test(the_tenant_setting_dies_with_its_transaction),
	    cmocka_unit_test(a_malformed_tenant_is_an_error_not_a_match),
	    cmocka_unit_test(create_tenant_scopes_its_transaction),
	    cmocka_unit_test(app_role_cannot_become_owner_or_turn_security_off),
	    cmocka_unit_test(app_role_cannot_change_the_schema),
	    cmocka_unit_test(app_role_cannot_read_migration_bookkeeping),
	    cmocka_unit_test(app_role_has_no_privileged_attributes_and_owns_nothing),
	    cmocka_unit_test(tenant_by_slug_resolves_before_a_tenant_is_set),
	    cmocka_unit_test(tenant_schemas_follow_the_isolation_rules),
	    cmocka_unit_test(isolation_check_reports_what_breaks_the_rules),
	    cmocka_unit_test(allowlisted_tables_are_checked_for_what_they_must_be),
	    cmocka_unit_test(lookup_by_id_uses_the_tenant_leading_primary_key),
	};

	return cmocka_run_group_tests_name("tenancy", tests, setup, NULL);
}
