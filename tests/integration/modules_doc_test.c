/*
 * docs/modules.md's walkthrough (the crm module) does what the checklist promises, run as
 * the document shows it: its marked blocks are written to migration.sql, store.inc and
 * routes.inc by tests/support/doc-blocks whenever the document changes, and this program
 * compiles the store and routes blocks and applies the migration.
 *
 * The migration, applied as keel_owner to a freshly migrated database, makes crm.contacts
 * with row-level security enabled and forced, its audit triggers and only keel_app's
 * grants.  The store's insert, prepared and run as keel_app in a tenant, returns exactly
 * the members the route's Contact schema names, and its audit row is written.  keel_app in
 * one tenant neither sees, changes nor deletes another tenant's contacts, cannot write a
 * row into another tenant, and cannot point a contact at another tenant's organization:
 * the composite foreign key refuses it under the name the handler maps to 404.
 * Tenants and organizations are made through the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "http/http.h"
#include "kt.h"

/* What the walkthrough describes in words: the handler. */
static keel_err
contact_create(keel_req *req, void *ctx)
{
	(void)ctx;
	return keel_req_no_content(req);
}

#include "routes.inc"
#include "store.inc"

#define PASSWORD "correct horse battery staple"
#define FK       "contacts_tenant_id_organization_id_fkey" /* the name the handler maps */

static kt_keel *srv;
static kt_client cl;
static PGconn *pg; /* keel_owner */
static kt_tenant A, B;
static char *org_a, *org_b; /* an organization of A, of B */

/* ---- keel_app in one tenant ---- */

/* A keel_app connection scoped to tenant_id, with the store's insert prepared. */
static PGconn *
app_in(const char *tenant_id)
{
	PGconn *c = kt_pg_app();

	kt_pg_set_tenant(c, tenant_id);
	PGresult *r = PQprepare(c, st_insert.name, st_insert.sql, st_insert.nparams, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("PREPARE %s: %s", st_insert.sql, PQerrorMessage(c));
	PQclear(r);
	return c;
}

/* The store's insert of a contact with a new UUIDv7 (id, malloc'd, when not NULL). */
static PGresult *
insert(PGconn *c, const char *org_id, const char *name, const char *email, char **id)
{
	keel_uuid u;
	char text[KEEL_UUID_STRLEN + 1];

	keel_uuid_v7(&u);
	keel_uuid_format(&u, text);
	if (id != NULL)
		*id = strdup(text);
	return PQexecPrepared(c, st_insert.name, 4, (const char *[]){text, org_id, name, email}, NULL,
	                      NULL, 0);
}

/* The store's insert, which must succeed: the row's JSON. */
static json_t *
insert_ok(PGconn *c, const char *org_id, const char *name, const char *email, char **id)
{
	PGresult *r = insert(c, org_id, name, email, id);
	json_error_t jerr;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("the store's insert: %s", PQerrorMessage(c));
	json_t *row = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);

	if (row == NULL)
		fail_msg("the store's insert returned %s: %s", PQgetvalue(r, 0, 0), jerr.text);
	PQclear(r);
	return row;
}

/* Fail unless r failed with SQLSTATE state (and constraint, when not NULL); clears r. */
static void
check_refused(PGresult *r, const char *what, const char *state, const char *constraint)
{
	const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *name = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);

	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		fail_msg("keel_app could: %s", what);
	if (got == NULL || strcmp(got, state) != 0)
		fail_msg("%s: SQLSTATE %s, expected %s: %s", what, got ? got : "none", state,
		         PQresultErrorMessage(r));
	if (constraint != NULL && (name == NULL || strcmp(name, constraint) != 0))
		fail_msg("%s: refused by %s, expected %s", what, name ? name : "no constraint", constraint);
	PQclear(r);
}

/* sql with params as c; the number of rows it affected. */
static long
affected(PGconn *c, const char *sql, const char *const *params, int n)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	long rows = atol(PQcmdTuples(r));

	PQclear(r);
	return rows;
}

/* ---- the tests ---- */

static void
the_migration_forces_row_level_security(void **state)
{
	(void)state;
	kt_pg_exec(pg, "RESET app.tenant_id");
	char *rls = kt_pg_value(pg, "SELECT relrowsecurity::text || ' ' || relforcerowsecurity::text"
	                            " FROM pg_class WHERE oid = 'crm.contacts'::regclass");

	assert_string_equal(rls, "true true");
	free(rls);
	assert_int_equal(kt_pg_long(pg, "SELECT count(*) FROM pg_policies"
	                                " WHERE schemaname = 'crm' AND tablename = 'contacts'"
	                                " AND policyname = 'tenant_isolation'"),
	                 1);
	/* audited: the three statement triggers of audit.enable */
	assert_int_equal(kt_pg_long(pg,
	                            "SELECT count(*) FROM pg_trigger"
	                            " WHERE tgrelid = 'crm.contacts'::regclass"
	                            " AND tgname IN ('audit_insert', 'audit_update', 'audit_delete')"),
	                 3);
	/* the reference to the organization is composite, tenant first */
	char *cols =
	    kt_pg_value(pg, "SELECT string_agg(a.attname, ',' ORDER BY k.n)"
	                    " FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(att, n),"
	                    " pg_attribute a WHERE c.conname = '" FK "'"
	                    " AND a.attrelid = c.conrelid AND a.attnum = k.att");

	assert_string_equal(cols, "tenant_id,organization_id");
	free(cols);
	/* keel_app: the four privileges granted, nothing more */
	assert_int_equal(kt_pg_long(pg, "SELECT count(*) FROM unnest(ARRAY['SELECT', 'INSERT',"
	                                " 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p"
	                                " WHERE has_table_privilege('keel_app', 'crm.contacts', p)"),
	                 4);
}

static void
the_store_insert_returns_a_contact_and_audits_it(void **state)
{
	(void)state;
	PGconn *app = app_in(A.id);
	char *id;
	json_t *row = insert_ok(app, org_a, "Ada Lovelace", "ada@walk-a.test", &id);
	/* exactly the members the route's answer schema names */
	json_t *schema = json_loads(routes[0].reply.schema->json, 0, NULL);
	json_t *props = json_object_get(schema, "properties");
	const char *key;
	json_t *v;

	assert_ptr_equal(routes[0].reply.schema, &contact_schema);
	assert_int_equal(json_object_size(row), 7);
	assert_int_equal(json_object_size(row), json_object_size(props));
	json_object_foreach(props, key, v)
	{
		if (json_object_get(row, key) == NULL)
			fail_msg("the store's row has no %s: %s", key, json_dumps(row, 0));
	}
	assert_string_equal(kt_jstr(row, "id"), id);
	assert_true(kt_is_uuid_v7(kt_jstr(row, "id")));
	assert_string_equal(kt_jstr(row, "organization_id"), org_a);
	assert_string_equal(kt_jstr(row, "name"), "Ada Lovelace");
	assert_string_equal(kt_jstr(row, "email"), "ada@walk-a.test");
	assert_int_equal(json_integer_value(json_object_get(row, "version")), 1);
	assert_true(kt_is_rfc3339_ms(kt_jstr(row, "created_at")));
	assert_true(kt_is_rfc3339_ms(kt_jstr(row, "updated_at")));
	/* its audit row, in its tenant */
	assert_int_equal(kt_pg_tenant_long(pg, A.id,
	                                   "SELECT count(*) FROM audit.logs WHERE action = 'INSERT'"
	                                   " AND schema_name = 'crm' AND table_name = 'contacts'"
	                                   " AND record_id = $1 AND new ->> 'email' = $2"
	                                   " AND tenant_id = $3",
	                                   (const char *[]){id, "ada@walk-a.test", A.id, NULL}),
	                 1);
	/* the same email again in the organization: the unique key (409) */
	check_refused(insert(app, org_a, "Ada again", "ada@walk-a.test", NULL), "a duplicate email",
	              "23505", NULL);
	json_decref(schema);
	json_decref(row);
	free(id);
	PQfinish(app);
}

static void
another_tenants_contacts_are_out_of_reach(void **state)
{
	(void)state;
	PGconn *b = app_in(B.id);
	char *b_id, *a_id;
	json_t *row = insert_ok(b, org_b, "Grace Hopper", "grace@walk-b.test", &b_id);
	PGconn *app = app_in(A.id);

	json_decref(insert_ok(app, org_a, "Alan Turing", "alan@walk-a.test", &a_id));
	/* A sees its own contacts and none of B's */
	assert_int_equal(kt_pg_long(app, "SELECT count(*) FROM crm.contacts"
	                                 " WHERE tenant_id <> core.current_tenant_id()"),
	                 0);
	assert_int_equal(
	    affected(app, "SELECT 1 FROM crm.contacts WHERE id = $1", (const char *[]){b_id}, 1), 0);
	assert_int_equal(
	    affected(app, "SELECT 1 FROM crm.contacts WHERE id = $1", (const char *[]){a_id}, 1), 1);
	/* nor changes or deletes them */
	assert_int_equal(affected(app, "UPDATE crm.contacts SET name = 'taken' WHERE id = $1",
	                          (const char *[]){b_id}, 1),
	                 0);
	assert_int_equal(
	    affected(app, "DELETE FROM crm.contacts WHERE id = $1", (const char *[]){b_id}, 1), 0);
	assert_int_equal(kt_pg_tenant_long(pg, B.id,
	                                   "SELECT count(*) FROM crm.contacts WHERE id = $1"
	                                   " AND name = 'Grace Hopper' AND version = 1",
	                                   (const char *[]){b_id, NULL}),
	                 1);
	/* nor writes a row into B: row-level security's check */
	check_refused(PQexecParams(app,
	                           "INSERT INTO crm.contacts (tenant_id, id, organization_id, name,"
	                           " email) VALUES ($1, gen_random_uuid(), $2, 'x', 'x@walk-b.test')",
	                           2, NULL, (const char *[]){B.id, org_b}, NULL, NULL, 0),
	              "an insert into another tenant", "42501", NULL);
	check_refused(PQexecParams(app, "UPDATE crm.contacts SET tenant_id = $1 WHERE id = $2", 2, NULL,
	                           (const char *[]){B.id, a_id}, NULL, NULL, 0),
	              "a move into another tenant", "42501", NULL);
	/* nor points a contact of its own at B's organization: the composite foreign key */
	check_refused(insert(app, org_b, "Mallory", "mallory@walk-a.test", NULL),
	              "a contact of B's organization", "23503", FK);
	/* keel_owner is held to the same policy (forced) */
	assert_int_equal(kt_pg_tenant_long(pg, A.id, "SELECT count(*) FROM crm.contacts WHERE id = $1",
	                                   (const char *[]){b_id, NULL}),
	                 0);
	json_decref(row);
	free(a_id);
	free(b_id);
	PQfinish(app);
	PQfinish(b);
}

static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

static int
setup(void **state)
{
	(void)state;
	if ((srv = kt_fixture_start("modules_doc", NULL, &pg)) == NULL)
		return -1;
	cl.base = srv->base;
	kt_tenant_make(&cl, &A, "walk-a", PASSWORD);
	A.owner.token = kt_tenant_login(&cl, &A, "owner");
	org_a = kt_org_make(&cl, A.owner.token, "WA");
	kt_tenant_make(&cl, &B, "walk-b", PASSWORD);
	B.owner.token = kt_tenant_login(&cl, &B, "owner");
	org_b = kt_org_make(&cl, B.owner.token, "WB");
	/* the walkthrough's migration, as `keel migrate` would apply it: keel_owner, one go */
	char *sql = kt_read_file(KEEL_WALKTHROUGH_DIR "/migration.sql");

	if (sql == NULL)
		return -1;
	kt_pg_exec(pg, sql);
	free(sql);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	int status = kt_fixture_stop(srv, pg);

	free(org_a);
	free(org_b);
	kt_tenant_free(&A);
	kt_tenant_free(&B);
	return status;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_migration_forces_row_level_security),
	    cmocka_unit_test(the_store_insert_returns_a_contact_and_audits_it),
	    cmocka_unit_test(another_tenants_contacts_are_out_of_reach),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("modules_doc", tests, setup, teardown);
}
