/*
 * Tenant isolation of the data itself: for every tenant-owned table, rows of
 * three tenants, and what keel_app sees and may change with each tenant set.
 *
 * tenancy_test checks the schema (forced row-level security, the standard
 * policy, keys); this checks the rows.  The tables come from the catalog:
 * every table or partitioned parent with a tenant_id column in a schema
 * keel_owner owns (and the registry core.tenants, whose own id is the
 * tenant), so a table added by a later migration is checked without editing
 * this file.  Rows are planted by real API calls for three tenants (sign-up,
 * sign-in, failed sign-ins, refresh, users, organizations, divisions, keyed
 * creates, updates and deletes, the books and the people of an organization: audit rows
 * and outbox events follow); a
 * table the API left without rows of a tenant gets one by keel_owner, with
 * that tenant set, from a row synthesized from the catalog.  Then, for each
 * table and each tenant (and a tenant with no rows at all), as keel_app in
 * a transaction with that tenant set, as keel serves requests:
 *
 *   - count(*) is exactly the tenant's rows, and no row of another tenant
 *     is visible (or SELECT is refused: keel_app may not read the table);
 *   - UPDATE and DELETE of another tenant's rows change nothing (or are
 *     refused), moving its own rows to another tenant is refused, and an
 *     INSERT of another tenant's row is refused with 42501 (the policy's
 *     WITH CHECK runs before NOT NULL, CHECK and keys, so the synthetic row
 *     need not be valid: any other error means the policy let it through);
 *   - without a tenant, nothing is visible and nothing can be inserted;
 *   - afterwards every tenant's rows are exactly as before.
 *
 * The ground truth is not what the policy shows: keel_owner is itself
 * filtered (RLS is FORCEd), so counting as the owner with a tenant set would
 * only repeat the policy under test, and a policy that showed every row
 * would agree with itself.  Instead the owner lifts FORCE inside a
 * transaction it rolls back (ALTER TABLE is transactional), which makes it
 * bypass row-level security as a table owner does, and counts the rows
 * grouped by tenant; for a partitioned table the parent's policies are the
 * only ones applied.  The owner with a tenant set must then see the same
 * (FORCE works for it too).  A last test proves the check fails: a scratch
 * schema with a table without security and one whose policy lacks WITH
 * CHECK is reported, a table made by the rules is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

#define PASSWORD "correct horse battery staple"
#define NTENANTS 3
/* a tenant that exists nowhere: it must see nothing in any table */
#define NOBODY "01a21e00-0000-7000-8000-00000000dead"

static kt_keel *srv;
static char *tenants[NTENANTS + 1]; /* the planted ones, then NOBODY */

/* ---- planting through the API ---- */

static void
expect(kt_resp *r, long status, const char *what)
{
	if (r->status != status)
		fail_msg("%s: HTTP %ld, expected %ld: %s", what, r->status, status, r->body);
	kt_resp_free(r);
}

/* POST with an Idempotency-Key; returns the created id (malloc'd). */
static char *
create_keyed(const char *token, const char *key, const char *body, const char *path)
{
	char *auth = kt_strf("Authorization: Bearer %s", token);
	char *idem = kt_strf("Idempotency-Key: %s", key);
	const char *h[] = {auth, idem, "Content-Type: application/json", NULL};
	kt_resp *r = kt_request(srv->base, "POST", path, h, body, strlen(body));

	if (r->status != 201)
		fail_msg("POST %s: %ld %s", path, r->status, r->body);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	free(auth);
	free(idem);
	return id;
}

/* POST body to path as token; the created id (malloc'd). */
static char *
create(const char *token, const char *path, const char *body)
{
	kt_resp *r = kt_api(srv->base, "POST", token, body, "%s", path);

	if (r->status != 201)
		fail_msg("POST %s: %ld %s", path, r->status, r->body);
	char *id = strdup(kt_jstr(r->json, "id"));

	kt_resp_free(r);
	return id;
}

/*
 * n intercompany entries from org (its ledger open, its account cash) to a second organization
 * made here with its ledger, accounts and fiscal year: the link table's rows.
 */
static void
plant_intercompany(const char *owner, const char *org, const char *cash, int n)
{
	char *to = create(owner, "/api/v1/organizations", "{\"name\":\"Partner\",\"code\":\"ic\"}");
	char *path = kt_strf("/api/v1/organizations/%s/ledger", to);

	free(create(owner, path, "{\"currency\":\"EUR\"}"));
	free(path);
	path = kt_strf("/api/v1/organizations/%s/accounts", to);
	char *owed = create(owner, path, "{\"code\":\"2300\",\"name\":\"Due\",\"type\":\"liability\"}");
	char *fees = create(owner, path, "{\"code\":\"6000\",\"name\":\"Fees\",\"type\":\"expense\"}");

	free(path);
	path = kt_strf("/api/v1/organizations/%s/fiscal-years", to);
	free(create(owner, path,
	            "{\"name\":\"2026\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	            "\"period\":\"month\"}"));
	free(path);
	path = kt_strf("/api/v1/organizations/%s/accounts", org);
	char *due = create(owner, path, "{\"code\":\"1300\",\"name\":\"Due\",\"type\":\"asset\"}");
	char *body = kt_strf("{\"intercompany_receivable_account_id\":\"%s\"}", due);

	free(path);
	expect(kt_api(srv->base, "PATCH", owner, body, "/api/v1/organizations/%s/ledger", org), 200,
	       "ledger update");
	free(body);
	body = kt_strf("{\"intercompany_payable_account_id\":\"%s\"}", owed);
	expect(kt_api(srv->base, "PATCH", owner, body, "/api/v1/organizations/%s/ledger", to), 200,
	       "ledger update");
	free(body);
	for (int k = 0; k < n; k++) {
		body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
		               "\"date\":\"2026-%02d-20\",\"amount\":\"%d.00\",\"currency\":\"EUR\","
		               "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
		               org, to, k + 2, k + 1, cash, fees);
		free(create(owner, "/api/v1/intercompany-entries", body));
		free(body);
	}
	free(to);
	free(owed);
	free(fees);
	free(due);
}

/*
 * The books of organization org, n entries deep: the ledger, a group and its accounts,
 * a fiscal year with its periods, n + 1 exchange rates, n posted entries and a draft, a
 * reversal, the first two periods closed (the second's snapshot holds the first entry): a row
 * in every Finance table.
 */
static void
plant_books(const char *owner, const char *org, int n)
{
	char *path = kt_strf("/api/v1/organizations/%s/ledger", org);

	free(create(owner, path, "{\"currency\":\"EUR\"}"));
	free(path);
	path = kt_strf("/api/v1/organizations/%s/accounts", org);
	char *group = create(owner, path,
	                     "{\"code\":\"1\",\"name\":\"Assets\",\"type\":\"asset\","
	                     "\"is_group\":true}");
	char *body = kt_strf("{\"code\":\"1000\",\"name\":\"Cash\",\"type\":\"asset\","
	                     "\"parent_id\":\"%s\"}",
	                     group);
	char *cash = create(owner, path, body);
	char *sales = create(owner, path, "{\"code\":\"4000\",\"name\":\"Sales\",\"type\":\"income\"}");

	free(body);
	free(path);
	path = kt_strf("/api/v1/organizations/%s/fiscal-years", org);
	free(create(owner, path,
	            "{\"name\":\"2026\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
	            "\"period\":\"month\"}"));
	free(path);
	for (int k = 0; k <= n; k++) { /* the tenant's exchange rates */
		body = kt_strf("{\"from\":\"USD\",\"to\":\"EUR\",\"rate\":\"0.9\",\"date\":"
		               "\"2026-01-%02d\"}",
		               k + 1);
		expect(kt_api(srv->base, "POST", owner, body, "/api/v1/exchange-rates"), 201,
		       "exchange rate");
		free(body);
	}
	path = kt_strf("/api/v1/organizations/%s/journal-entries", org);
	char *first = NULL;

	for (int k = 0; k <= n; k++) {
		body = kt_strf("{\"journal\":\"sales\",\"date\":\"2026-%02d-10\",\"post\":%s,"
		               "\"lines\":[{\"account_id\":\"%s\",\"debit\":\"%d.00\"},"
		               "{\"account_id\":\"%s\",\"credit\":\"%d.00\"}]}",
		               k + 2, k < n ? "true" : "false", cash, k + 1, sales, k + 1);
		char *id = create(owner, path, body);

		free(body);
		if (first == NULL)
			first = id;
		else
			free(id);
	}
	free(path);
	plant_intercompany(owner, org, cash, n);
	path = kt_strf("/api/v1/journal-entries/%s/reverse", first);
	free(create(owner, path, "{\"date\":\"2026-06-01\"}"));
	free(path);
	kt_resp *r =
	    kt_api(srv->base, "GET", owner, NULL, "/api/v1/organizations/%s/periods?limit=2", org);

	if (r->status != 200)
		fail_msg("periods: %ld %s", r->status, r->body);
	for (size_t k = 0; k < 2; k++) {
		const char *period = kt_jstr(json_array_get(json_object_get(r->json, "data"), k), "id");

		expect(kt_api(srv->base, "POST", owner, NULL, "/api/v1/periods/%s/close", period), 200,
		       "period close");
	}
	kt_resp_free(r);
	free(first);
	free(group);
	free(cash);
	free(sales);
}

/*
 * n + 1 employees of org (the first the others' manager, the second linked to the tenant's
 * first member), a holiday calendar with a holiday, a position in division with an
 * assignment, a leave type that carries days, allocations, an approved and a submitted leave
 * request, and the balances read (which writes the carry-forward and expiry of the ended
 * period): every HR table.
 */
static void
plant_hr(const char *owner, const char *org, const char *division, const char *member, int n)
{
	char *path = kt_strf("/api/v1/organizations/%s/holiday-calendars", org);
	char *cal = create(owner, path, "{\"name\":\"Office\",\"workdays\":[1,2,3,4,5]}");

	free(path);
	path = kt_strf("/api/v1/holiday-calendars/%s/holidays", cal);
	free(create(owner, path, "{\"date\":\"2021-03-05\",\"name\":\"Half\",\"half_day\":\"pm\"}"));
	free(path);
	path = kt_strf("/api/v1/organizations/%s/employees", org);
	char *body =
	    kt_strf("{\"first_name\":\"Boss\",\"last_name\":\"B\",\"hire_date\":\"2020-01-01\","
	            "\"calendar_id\":\"%s\"}",
	            cal);
	char *boss = create(owner, path, body);
	char *first = NULL;

	free(body);
	for (int k = 0; k < n; k++) {
		body = kt_strf("{\"first_name\":\"E%d\",\"last_name\":\"E\",\"hire_date\":\"2020-01-01\","
		               "\"manager_id\":\"%s\"%s%s%s}",
		               k, boss, k == 0 ? ",\"user_id\":\"" : "", k == 0 ? member : "",
		               k == 0 ? "\"" : "");
		char *id = create(owner, path, body);

		free(body);
		if (first == NULL)
			first = id;
		else
			free(id);
	}
	free(path);
	path = kt_strf("/api/v1/divisions/%s/positions", division);
	char *pos = create(owner, path, "{\"title\":\"Clerk\",\"headcount\":2}");

	free(path);
	path = kt_strf("/api/v1/employees/%s/assignments", first);
	body = kt_strf("{\"position_id\":\"%s\",\"start_date\":\"2020-01-01\"}", pos);
	free(create(owner, path, body));
	free(body);
	free(path);
	path = kt_strf("/api/v1/organizations/%s/leave-types", org);
	char *type = create(owner, path,
	                    "{\"code\":\"AL\",\"name\":\"Annual\",\"approval_levels\":1,"
	                    "\"carry_forward_max\":\"5\",\"carry_forward_expires_after\":3}");

	free(path);
	path = kt_strf("/api/v1/employees/%s/leave-allocations", first);
	for (int y = 2020; y <= 2021; y++) {
		body = kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"%d\",\"valid_from\":\"%d-01-01\","
		               "\"valid_to\":\"%d-12-31\",\"reason\":\"year %d\"}",
		               type, 20 + n, y, y, y);
		free(create(owner, path, body));
		free(body);
	}
	free(path);
	path = kt_strf("/api/v1/employees/%s/leave-requests", first);
	body = kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"2021-03-01\",\"end_date\":"
	               "\"2021-03-02\"}",
	               type);
	char *req = create(owner, path, body);

	free(body);
	body = kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"2021-04-05\",\"end_date\":"
	               "\"2021-04-06\"}",
	               type);
	free(create(owner, path, body));
	free(body);
	free(path);
	expect(kt_api(srv->base, "POST", owner, "{}", "/api/v1/leave-requests/%s/approve", req), 200,
	       "leave approval");
	expect(kt_api(srv->base, "GET", owner, NULL, "/api/v1/employees/%s/leave-balances", first), 200,
	       "leave balances");
	free(req);
	free(type);
	free(pos);
	free(first);
	free(boss);
	free(cal);
}

/*
 * Tenant i: a different number of rows of every kind than the others, so
 * that showing one tenant another's rows changes a count.
 */
static void
plant(int i)
{
	char slug[32], email[64];
	int n = i + 1;

	snprintf(slug, sizeof(slug), "iso-%d", i);
	snprintf(email, sizeof(email), "owner@%s.test", slug);
	tenants[i] = kt_signup(srv->base, slug, PASSWORD);
	char *owner = kt_login(srv->base, slug, email, PASSWORD);

	/* a second sign-in, its refresh token rotated: refresh tokens and events */
	char *body =
	    kt_strf("{\"tenant\":\"%s\",\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", slug, email);
	kt_resp *r = kt_api(srv->base, "POST", NULL, body, "/api/v1/auth/login");

	free(body);
	if (r->status != 200)
		fail_msg("sign-in: %ld %s", r->status, r->body);
	body = kt_strf("{\"refresh_token\":\"%s\"}", kt_jstr(r->json, "refresh_token"));
	kt_resp_free(r);
	expect(kt_api(srv->base, "POST", NULL, body, "/api/v1/auth/refresh"), 200, "refresh");
	free(body);
	/* failed sign-ins, after the good ones (a success clears them): events and attempts */
	for (int k = 0; k < n; k++) {
		body = kt_strf("{\"tenant\":\"%s\",\"email\":\"%s\",\"password\":\"wrong %d\"}", slug,
		               email, k);

		expect(kt_api(srv->base, "POST", NULL, body, "/api/v1/auth/login"), 401, "bad sign-in");
		free(body);
	}
	char *member = NULL; /* the first user made here: a member */

	for (int k = 0; k < n; k++) {
		body = kt_strf("{\"email\":\"m%d@%s.test\",\"password\":\"" PASSWORD "\",\"role\":\"%s\"}",
		               k, slug, k % 2 ? "viewer" : "member");
		char *user = create(owner, "/api/v1/users", body);

		if (member == NULL)
			member = user;
		else
			free(user);
		free(body);
	}
	for (int o = 0; o < 2 * n; o++) {
		char key[64];

		snprintf(key, sizeof(key), "org-%d", o);
		body = kt_strf("{\"name\":\"Org %d of %s\",\"code\":\"o%d\"}", o, slug, o);
		char *org = create_keyed(owner, key, body, "/api/v1/organizations");
		char *divs = kt_strf("/api/v1/organizations/%s/divisions", org);
		char *last = NULL;

		free(body);
		for (int d = 0; d < n; d++) {
			snprintf(key, sizeof(key), "div-%d-%d", o, d);
			body = last ? kt_strf("{\"name\":\"Div %d\",\"code\":\"d%d\",\"parent_id\":\"%s\"}", d,
			                      d, last)
			            : kt_strf("{\"name\":\"Div %d\",\"code\":\"d%d\"}", d, d);
			free(last);
			last = create_keyed(owner, key, body, divs);
			free(body);
		}
		expect(kt_api(srv->base, "PATCH", owner, "{\"description\":\"changed\"}",
		              "/api/v1/organizations/%s", org),
		       200, "organization update");
		if (o == 1) { /* the books and people of one organization: every Finance and HR table */
			plant_books(owner, org, n);
			plant_hr(owner, org, last, member, n);
		}
		if (o == 0) /* a delete too: audit rows and events of it */
			expect(kt_api(srv->base, "DELETE", owner, NULL, "/api/v1/divisions/%s", last), 204,
			       "division delete");
		free(last);
		free(divs);
		free(org);
	}
	free(member);
	free(owner);
}

static int
setup(void **state)
{
	(void)state;
	if ((srv = kt_fixture_start("isolation", NULL, NULL)) == NULL)
		return -1;
	for (int i = 0; i < NTENANTS; i++)
		plant(i);
	tenants[NTENANTS] = strdup(NOBODY);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i <= NTENANTS; i++)
		free(tenants[i]);
	return kt_fixture_stop(srv, NULL);
}

/* ---- SQL helpers ---- */

#define TEXT_ARRAY_OID 1009

/* Run sql with text parameters; the result (caller clears).  Fails the test on a broken query. */
static PGresult *
q(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	return r;
}

/* Run sql that may fail: its SQLSTATE ("" on success) into state, rows changed or counted. */
static long
try_sql(PGconn *c, const char *sql, int n, const char *const *params, char state[6])
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	long rows = -1;

	state[0] = '\0';
	if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1)
		rows = atol(PQgetvalue(r, 0, 0));
	else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		rows = atol(PQcmdTuples(r));
	else
		snprintf(state, 6, "%s",
		         PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
		                                                 : "?????");
	PQclear(r);
	return rows;
}

/* Begin a transaction acting for tenant (NULL: none), as keel_tx_begin() does. */
static void
begin_as(PGconn *c, const char *tenant)
{
	kt_pg_exec(c, "BEGIN");
	if (tenant != NULL) {
		const char *p[] = {tenant};

		PQclear(q(c, "SELECT set_config('app.tenant_id', $1, true)", 1, p));
	}
}

/* ---- the problems found, one line each ---- */

typedef struct report {
	char *text;
	size_t len;
} report;

static void problem(report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(report *rep, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rep->text = realloc(rep->text, rep->len + strlen(line) + 2);
	rep->len += (size_t)sprintf(rep->text + rep->len, "%s\n", line);
}

/* ---- the tables ---- */

typedef struct table {
	char *name;      /* schema.table, quoted as needed */
	char *col;       /* the tenant column, quoted */
	char *upd;       /* a column keel_app may UPDATE (the tenant column when none) */
	bool app_select; /* keel_app may read it */
	bool forced;     /* FORCE ROW LEVEL SECURITY */
	int planted;     /* tenants the owner gave a row (the API gave them none) */
	long truth[NTENANTS + 1];
} table;

/*
 * Every table or partitioned parent with a tenant_id column in schemas
 * (NULL: every schema keel_owner owns), and core.tenants with its id.
 */
static table *
tables_of(PGconn *owner, const char *schemas, int *count)
{
	const char *p[] = {schemas};
	PGresult *r = q(owner,
	                "SELECT format('%I.%I', n.nspname, c.relname),"
	                " quote_ident(coalesce(a.attname, 'id')),"
	                " coalesce((SELECT quote_ident(u.attname) FROM pg_attribute u"
	                "  WHERE u.attrelid = c.oid AND u.attnum > 0 AND NOT u.attisdropped"
	                "  AND u.attname <> coalesce(a.attname, 'id')"
	                "  AND has_column_privilege('keel_app', c.oid, u.attnum, 'UPDATE')"
	                "  ORDER BY u.attnum LIMIT 1), quote_ident(coalesce(a.attname, 'id'))),"
	                " has_table_privilege('keel_app', c.oid, 'SELECT'), c.relforcerowsecurity"
	                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	                " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
	                "  AND NOT a.attisdropped"
	                " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
	                " AND (a.attname IS NOT NULL OR c.oid = to_regclass('core.tenants'))"
	                " AND CASE WHEN $1::text[] IS NULL"
	                "  THEN n.nspowner = 'keel_owner'::regrole ELSE n.nspname = ANY($1::text[]) END"
	                " ORDER BY 1",
	                1, p);
	table *t = calloc((size_t)PQntuples(r) + 1, sizeof(*t));

	*count = PQntuples(r);
	for (int i = 0; i < *count; i++) {
		t[i].name = strdup(PQgetvalue(r, i, 0));
		t[i].col = strdup(PQgetvalue(r, i, 1));
		t[i].upd = strdup(PQgetvalue(r, i, 2));
		t[i].app_select = PQgetvalue(r, i, 3)[0] == 't';
		t[i].forced = PQgetvalue(r, i, 4)[0] == 't';
	}
	PQclear(r);
	return t;
}

static void
tables_free(table *t, int n)
{
	for (int i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].col);
		free(t[i].upd);
	}
	free(t);
}

/*
 * The rows of each tenant in t, counted by the owner with FORCE lifted in a
 * transaction it rolls back (see the file header).
 */
static void
ground_truth(PGconn *owner, const table *t, long truth[NTENANTS + 1])
{
	char *sql = kt_strf("ALTER TABLE %s NO FORCE ROW LEVEL SECURITY", t->name);
	char *count = kt_strf("SELECT count(*) FROM %s WHERE %s = $1", t->name, t->col);

	kt_pg_exec(owner, "BEGIN");
	kt_pg_exec(owner, sql);
	for (int i = 0; i <= NTENANTS; i++) {
		const char *p[] = {tenants[i]};
		PGresult *r = q(owner, count, 1, p);

		truth[i] = atol(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	kt_pg_exec(owner, "ROLLBACK");
	free(sql);
	free(count);
}

/* ---- planting by the owner ---- */

/*
 * An INSERT of one row of tenant $1 into t synthesized from the catalog:
 * the tenant column, each NOT NULL column without a default given a value
 * of its type, and the columns of each NOT NULL foreign key taken from one
 * row of the referenced table of the same tenant.  NULL when a column's
 * type has no value here.
 */
static char *
synthesized_insert(PGconn *owner, const table *t)
{
	const char *p[] = {t->name, t->col};
	PGresult *r =
	    q(owner,
	      "WITH c AS (SELECT a.attnum, quote_ident(a.attname) AS col, a.atttypid, ty.typcategory,"
	      "  (SELECT k.oid FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'f'"
	      "   AND a.attnum = ANY(k.conkey) AND quote_ident(a.attname) <> $2 ORDER BY k.oid LIMIT 1)"
	      "  AS fk"
	      " FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid"
	      " WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped"
	      " AND a.attgenerated = '' AND a.attidentity = ''"
	      " AND (quote_ident(a.attname) = $2 OR (a.attnotnull AND NOT a.atthasdef)))"
	      " SELECT string_agg(c.col, ', ' ORDER BY c.attnum),"
	      " string_agg(CASE"
	      "  WHEN c.col = $2 THEN '$1'"
	      "  WHEN c.fk IS NOT NULL THEN format('f%s.%I', c.fk,"
	      "   (SELECT ra.attname FROM pg_constraint k JOIN pg_attribute ra ON ra.attrelid = "
	      "k.confrelid"
	      "    AND ra.attnum = k.confkey[array_position(k.conkey, c.attnum)] WHERE k.oid = c.fk))"
	      "  WHEN c.atttypid = 'uuid'::regtype THEN 'gen_random_uuid()'"
	      "  WHEN c.typcategory = 'S' THEN '''iso-'' || gen_random_uuid()'"
	      "  WHEN c.typcategory = 'N' THEN '1'"
	      "  WHEN c.typcategory = 'B' THEN 'false'"
	      "  WHEN c.typcategory = 'D' THEN 'now()'"
	      "  WHEN c.typcategory = 'A' THEN '''{}'''"
	      "  WHEN c.atttypid IN ('json'::regtype, 'jsonb'::regtype) THEN '''{}'''"
	      "  WHEN c.atttypid = 'inet'::regtype THEN '''127.0.0.1'''"
	      "  WHEN c.atttypid = 'bytea'::regtype THEN '''\\x00'''"
	      "  WHEN c.typcategory = 'E' THEN format('(SELECT e.enumlabel FROM pg_enum e"
	      "   WHERE e.enumtypid = %s ORDER BY e.enumsortorder LIMIT 1)', c.atttypid)"
	      "  END || '::' || format_type(c.atttypid, NULL), ', ' ORDER BY c.attnum),"
	      " bool_and(c.col = $2 OR c.fk IS NOT NULL OR c.typcategory IN ('S', 'N', 'B', 'D', 'A', "
	      "'E')"
	      "  OR c.atttypid IN ('uuid'::regtype, 'json'::regtype, 'jsonb'::regtype, 'inet'::regtype,"
	      "  'bytea'::regtype)),"
	      " (SELECT string_agg(format('(SELECT * FROM %s WHERE %s = $1 LIMIT 1) f%s',"
	      "   k.confrelid::regclass, (SELECT quote_ident(ra.attname) FROM pg_attribute ra"
	      "   WHERE ra.attrelid = k.confrelid AND ra.attname IN ('tenant_id', 'id')"
	      "   ORDER BY ra.attname DESC LIMIT 1), k.oid), ', ')"
	      "  FROM pg_constraint k WHERE k.oid IN (SELECT fk FROM c))"
	      " FROM c",
	      2, p);
	char *sql = NULL;

	if (PQgetvalue(r, 0, 2)[0] == 't')
		sql = kt_strf("INSERT INTO %s (%s) SELECT %s%s%s", t->name, PQgetvalue(r, 0, 0),
		              PQgetvalue(r, 0, 1), PQgetisnull(r, 0, 3) ? "" : " FROM ",
		              PQgetisnull(r, 0, 3) ? "" : PQgetvalue(r, 0, 3));
	PQclear(r);
	return sql;
}

/*
 * Give each planted tenant without rows in t one, as keel_owner with the
 * tenant set (row-level security checks it as it would keel's).  Reports
 * the tenants it could not fill.
 */
static void
plant_by_owner(PGconn *owner, table *t, report *rep)
{
	char *sql = NULL;

	for (int i = 0; i < NTENANTS; i++) {
		char state[6];

		if (t->truth[i] > 0)
			continue;
		if (sql == NULL && (sql = synthesized_insert(owner, t)) == NULL) {
			problem(rep, "%s: no rows of tenant %d, and no row can be synthesized for it", t->name,
			        i);
			return;
		}
		const char *p[] = {tenants[i]};

		begin_as(owner, tenants[i]);
		if (try_sql(owner, sql, 1, p, state) != 1)
			problem(rep, "%s: no rows of tenant %d, and the owner could not plant one (%s): %s",
			        t->name, i, state, PQerrorMessage(owner));
		kt_pg_exec(owner, state[0] ? "ROLLBACK" : "COMMIT");
		t->planted += state[0] ? 0 : 1;
	}
	free(sql);
	ground_truth(owner, t, t->truth);
}

/* ---- the check ---- */

/* What keel_app, acting for tenant i, sees of t and may change in it. */
static void
check_tenant(PGconn *app, const table *t, int i, report *rep)
{
	const char *me = tenants[i];
	char state[6];
	char *count = kt_strf("SELECT count(*) FROM %s", t->name);
	char *foreign = kt_strf("SELECT count(*) FROM %s WHERE %s <> $1", t->name, t->col);
	const char *pme[] = {me};

	begin_as(app, me);
	long seen = try_sql(app, count, 0, NULL, state);

	if (!t->app_select && strcmp(state, "42501") != 0)
		problem(rep, "%s: keel_app has no SELECT, yet reading it gave %ld rows (%s)", t->name, seen,
		        state);
	if (t->app_select && seen != t->truth[i])
		problem(rep, "%s: tenant %d sees %ld rows, it has %ld (%s)", t->name, i, seen, t->truth[i],
		        state);
	kt_pg_exec(app, "ROLLBACK");
	begin_as(app, me);
	long others = try_sql(app, foreign, 1, pme, state);

	if (t->app_select && others != 0)
		problem(rep, "%s: tenant %d sees %ld rows of other tenants (%s)", t->name, i, others,
		        state);
	kt_pg_exec(app, "ROLLBACK");

	/* writes into every other tenant, each in a transaction rolled back */
	for (int u = 0; u <= NTENANTS; u++) {
		if (u == i)
			continue;
		const char *pu[] = {tenants[u]};
		char *upd = kt_strf("UPDATE %s SET %s = %s WHERE %s = $1", t->name, t->upd, t->upd, t->col);
		char *del = kt_strf("DELETE FROM %s WHERE %s = $1", t->name, t->col);
		char *ins = kt_strf("INSERT INTO %s (%s) VALUES ($1)", t->name, t->col);
		char *move = kt_strf("UPDATE %s SET %s = $1", t->name, t->col);
		long n;

		begin_as(app, me);
		if ((n = try_sql(app, upd, 1, pu, state)) != 0 && strcmp(state, "42501") != 0)
			problem(rep, "%s: tenant %d updated %ld rows of tenant %d (%s)", t->name, i, n, u,
			        state);
		kt_pg_exec(app, "ROLLBACK");
		begin_as(app, me);
		if ((n = try_sql(app, del, 1, pu, state)) != 0 && strcmp(state, "42501") != 0)
			problem(rep, "%s: tenant %d deleted %ld rows of tenant %d (%s)", t->name, i, n, u,
			        state);
		kt_pg_exec(app, "ROLLBACK");
		begin_as(app, me);
		if ((n = try_sql(app, ins, 1, pu, state)) >= 0 || strcmp(state, "42501") != 0)
			problem(rep,
			        "%s: tenant %d inserting a row of tenant %d: %s, not refused by row-level"
			        " security (42501)",
			        t->name, i, u, n >= 0 ? "it was inserted" : state);
		kt_pg_exec(app, "ROLLBACK");
		begin_as(app, me);
		if ((n = try_sql(app, move, 1, pu, state)) > 0)
			problem(rep, "%s: tenant %d moved %ld of its rows to tenant %d", t->name, i, n, u);
		else if (n < 0 && strcmp(state, "42501") != 0)
			problem(rep, "%s: tenant %d moving its rows to tenant %d failed with %s, not 42501",
			        t->name, i, u, state);
		kt_pg_exec(app, "ROLLBACK");
		free(upd);
		free(del);
		free(ins);
		free(move);
	}
	free(count);
	free(foreign);
}

/* Without a tenant: nothing visible, nothing insertable. */
static void
check_no_tenant(PGconn *app, const table *t, report *rep)
{
	char state[6];
	char *count = kt_strf("SELECT count(*) FROM %s", t->name);
	char *ins = kt_strf("INSERT INTO %s (%s) VALUES ($1)", t->name, t->col);
	const char *p[] = {tenants[0]};
	long n;

	begin_as(app, NULL);
	if ((n = try_sql(app, count, 0, NULL, state)) != 0 && strcmp(state, "42501") != 0)
		problem(rep, "%s: without a tenant, keel_app sees %ld rows (%s)", t->name, n, state);
	kt_pg_exec(app, "ROLLBACK");
	begin_as(app, NULL);
	if ((n = try_sql(app, ins, 1, p, state)) >= 0 || strcmp(state, "42501") != 0)
		problem(rep, "%s: without a tenant, inserting a row: %s, not 42501", t->name,
		        n >= 0 ? "it was inserted" : state);
	kt_pg_exec(app, "ROLLBACK");
	free(count);
	free(ins);
}

/* The owner with a tenant set sees that tenant's rows (FORCE applies to it too). */
static void
check_owner(PGconn *owner, const table *t, report *rep)
{
	char *count = kt_strf("SELECT count(*) FROM %s", t->name);

	for (int i = 0; i <= NTENANTS && t->forced; i++) {
		char state[6];

		begin_as(owner, tenants[i]);
		long n = try_sql(owner, count, 0, NULL, state);

		if (n != t->truth[i])
			problem(rep, "%s: keel_owner acting for tenant %d sees %ld rows, it has %ld (%s)",
			        t->name, i, n, t->truth[i], state);
		kt_pg_exec(owner, "ROLLBACK");
	}
	free(count);
}

/*
 * Check every tenant table of schemas (a text[] literal, NULL: keel_owner's
 * schemas).  Returns the problems, one line each ("" when none; malloc'd);
 * *checked gets the number of tables and *rows the rows they hold.
 */
static char *
isolation_problems(const char *schemas, int *checked, long *rows)
{
	PGconn *owner = kt_pg_owner(), *app = kt_pg_app();
	report rep = {calloc(1, 1), 0};
	int n;
	table *t = tables_of(owner, schemas, &n);

	*rows = 0;
	for (int k = 0; k < n; k++) {
		ground_truth(owner, &t[k], t[k].truth);
		plant_by_owner(owner, &t[k], &rep);
		if (t[k].truth[NTENANTS] != 0)
			problem(&rep, "%s: %ld rows of a tenant that does not exist", t[k].name,
			        t[k].truth[NTENANTS]);
		for (int i = 0; i <= NTENANTS; i++)
			check_tenant(app, &t[k], i, &rep);
		check_no_tenant(app, &t[k], &rep);
		check_owner(owner, &t[k], &rep);

		long after[NTENANTS + 1];

		ground_truth(owner, &t[k], after);
		for (int i = 0; i <= NTENANTS; i++) {
			if (after[i] != t[k].truth[i])
				problem(&rep, "%s: tenant %d had %ld rows, now %ld", t[k].name, i, t[k].truth[i],
				        after[i]);
			*rows += after[i];
		}
		print_message("  %-28s %-10s rows per tenant: %ld, %ld, %ld%s\n", t[k].name,
		              t[k].app_select ? "readable," : "no SELECT,", t[k].truth[0], t[k].truth[1],
		              t[k].truth[2], t[k].planted ? " (rows planted by the owner)" : "");
	}
	*checked = n;
	tables_free(t, n);
	PQfinish(owner);
	PQfinish(app);
	return rep.text;
}

/* ---- tests ---- */

static void
every_tenant_table_keeps_its_rows_to_its_tenant(void **state)
{
	(void)state;
	int checked;
	long rows;
	char *problems = isolation_problems(NULL, &checked, &rows);

	if (*problems != '\0')
		fail_msg("tenant isolation is broken:\n%s", problems);
	/* at least the tables of today's migrations, with rows in each */
	assert_true(checked >= 11);
	assert_true(rows > 0);
	print_message("isolation: %d tables, %ld rows of %d tenants, no leak\n", checked, rows,
	              NTENANTS);
	free(problems);
}

static void
the_check_reports_tables_that_leak(void **state)
{
	(void)state;
	PGconn *c = kt_pg_owner();

	kt_pg_exec(c, "SET client_min_messages = warning;"
	              "CREATE SCHEMA scratch;"
	              "GRANT USAGE ON SCHEMA scratch TO keel_app;"
	              /* made by the rules: nothing to report */
	              "CREATE TABLE scratch.good (tenant_id uuid NOT NULL REFERENCES core.tenants (id),"
	              " id uuid NOT NULL DEFAULT gen_random_uuid(), name text NOT NULL,"
	              " PRIMARY KEY (tenant_id, id));"
	              "SELECT core.enable_tenant_rls('scratch.good');"
	              /* no row-level security at all */
	              "CREATE TABLE scratch.open (tenant_id uuid NOT NULL, id uuid NOT NULL,"
	              " n integer NOT NULL, PRIMARY KEY (tenant_id, id));"
	              /* filtered reads, but any tenant's rows may be written */
	              "CREATE TABLE scratch.unchecked (tenant_id uuid NOT NULL, id uuid NOT NULL,"
	              " note text, PRIMARY KEY (tenant_id, id));"
	              "ALTER TABLE scratch.unchecked ENABLE ROW LEVEL SECURITY;"
	              "ALTER TABLE scratch.unchecked FORCE ROW LEVEL SECURITY;"
	              "CREATE POLICY tenant_isolation ON scratch.unchecked"
	              " USING (tenant_id = core.current_tenant_id()) WITH CHECK (true);"
	              "GRANT SELECT, INSERT, UPDATE, DELETE ON scratch.good, scratch.open,"
	              " scratch.unchecked TO keel_app;");
	int checked;
	long rows;
	char *problems = isolation_problems("{scratch}", &checked, &rows);

	kt_pg_exec(c, "DROP SCHEMA scratch CASCADE");
	PQfinish(c);
	const char *expected[] = {
	    "scratch.open: tenant 0 sees 3 rows, it has 1",
	    "scratch.open: tenant 3 sees 3 rows, it has 0",
	    "scratch.open: tenant 1 sees 2 rows of other tenants",
	    "scratch.open: tenant 0 updated 1 rows of tenant 1",
	    "scratch.open: tenant 2 deleted 1 rows of tenant 0",
	    "scratch.open: tenant 0 inserting a row of tenant 1",
	    "scratch.open: tenant 1 moved 3 of its rows to tenant 0",
	    "scratch.open: without a tenant, keel_app sees 3 rows",
	    "scratch.open: without a tenant, inserting a row",
	    /* WITH CHECK (true) let it reach the NOT NULL of id */
	    "scratch.unchecked: tenant 0 inserting a row of tenant 2: 23502, not refused",
	    "scratch.unchecked: tenant 2 moved 1 of its rows to tenant 3",
	};

	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		if (strstr(problems, expected[i]) == NULL)
			fail_msg("the check did not report \"%s\"; it reported:\n%s", expected[i], problems);
	assert_null(strstr(problems, "scratch.good"));
	assert_null(strstr(problems, "scratch.unchecked: tenant 0 sees")); /* reads are filtered */
	assert_int_equal(checked, 3);
	assert_int_equal(rows, 9); /* one planted per tenant and table by the owner */
	free(problems);
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
	    cmocka_unit_test(every_tenant_table_keeps_its_rows_to_its_tenant),
	    cmocka_unit_test(the_check_reports_tables_that_leak),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("isolation", tests, setup, teardown);
}
