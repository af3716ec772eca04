/*
 * Finance rows by SQL as keel_app (kt_fin.h).
 */
#include "kt_fin.h"
#include "kt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

/* A fresh UUIDv7 from the database, as keel would make it. */
static char *
new_id(PGconn *app, const char *tenant)
{
	return kt_pg_tenant_value(app, tenant, "SELECT audit.uuid_v7(clock_timestamp())::text", NULL);
}

/* Run sql as tenant; fails the test unless it succeeds. */
static void
run(PGconn *app, const char *tenant, const char *sql, const char *const *params)
{
	int n = 0;

	while (params != NULL && params[n] != NULL)
		n++;
	kt_pg_set_tenant(app, tenant);
	PGresult *res = PQexecParams(app, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(app));
	PQclear(res);
}

void
kt_fin_ledger(PGconn *app, const char *tenant, const char *org, const char *currency)
{
	const char *p[] = {org, currency, NULL};

	run(app, tenant,
	    "INSERT INTO fin.ledgers (tenant_id, id, organization_id, currency)"
	    " VALUES (core.current_tenant_id(), $1, $1, $2)",
	    p);
}

char *
kt_fin_account(PGconn *app, const char *tenant, const char *org, const char *code, const char *type,
               const char *parent_id, bool is_group)
{
	char *id = new_id(app, tenant);
	/* no parent travels as "": the list ends at its first NULL */
	const char *p[] = {
	    id, org, code, type, is_group ? "true" : "false", parent_id ? parent_id : "", NULL};

	run(app, tenant,
	    "INSERT INTO fin.accounts (tenant_id, id, organization_id, code, name, type, is_group,"
	    " parent_id) VALUES (core.current_tenant_id(), $1, $2, $3, 'Account ' || $3, $4, $5,"
	    " nullif($6, '')::uuid)",
	    p);
	return id;
}

char *
kt_fin_year(PGconn *app, const char *tenant, const char *org, const char *name, const char *start,
            const char *end, const char *period)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, name, start, end, period, NULL};

	run(app, tenant, "SELECT fin.create_fiscal_year($1, $2, $3, $4, $5, $6)", p);
	return id;
}

char *
kt_fin_entry(PGconn *app, const char *tenant, const char *org, const char *journal,
             const char *date, int n, const kt_fin_line *lines, bool post)
{
	char *id = new_id(app, tenant);
	const char *p[] = {id, org, journal, date, NULL};

	run(app, tenant, "BEGIN", NULL);
	run(app, tenant,
	    "INSERT INTO fin.journal_entries (tenant_id, id, organization_id, journal, date, currency)"
	    " SELECT core.current_tenant_id(), $1, $2, $3, $4, l.currency FROM fin.ledgers l"
	    " WHERE l.tenant_id = core.current_tenant_id() AND l.organization_id = $2",
	    p);
	for (int i = 0; i < n; i++) {
		char no[16], debit[32], credit[32];

		snprintf(no, sizeof(no), "%d", i + 1);
		snprintf(debit, sizeof(debit), "%lld", lines[i].debit);
		snprintf(credit, sizeof(credit), "%lld", lines[i].credit);
		const char *lp[] = {id,  org, no, lines[i].account_id, debit, credit, lines[i].division_id,
		                    NULL};

		/* lines[i].division_id may be NULL: the list ends at the first NULL, so pass 7 */
		kt_pg_set_tenant(app, tenant);
		PGresult *res = PQexecParams(
		    app,
		    "INSERT INTO fin.journal_lines (tenant_id, id, organization_id, entry_id, line_no,"
		    " account_id, debit, credit, currency, functional_debit, functional_credit,"
		    " division_id) SELECT core.current_tenant_id(), audit.uuid_v7(clock_timestamp()), $2,"
		    " $1, $3::integer, $4, $5::bigint, $6::bigint, e.currency, $5::bigint, $6::bigint, $7"
		    " FROM fin.journal_entries e WHERE e.tenant_id = core.current_tenant_id()"
		    " AND e.id = $1",
		    7, NULL, lp, NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("line %d: %s", i + 1, PQerrorMessage(app));
		PQclear(res);
	}
	if (post) {
		const char *pp[] = {id, NULL};

		run(app, tenant, "SELECT fin.post_entry($1)", pp);
	}
	run(app, tenant, "COMMIT", NULL);
	return id;
}
