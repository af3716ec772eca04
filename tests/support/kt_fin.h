/*
 * Finance rows for tests whose subject is something else (a report, a race, the isolation
 * walk): made by SQL as keel_app in one tenant, through migration 0012's own functions and
 * rules (fin.create_fiscal_year, fin.post_entry), never around them.  A test of a Finance
 * route makes its rows through that route instead.  Each fails the test on error; returned
 * ids are malloc'd.
 */
#ifndef KT_FIN_H
#define KT_FIN_H

#include <libpq-fe.h>
#include <stdbool.h>

/* The organization's ledger in currency ("EUR"). */
void kt_fin_ledger(PGconn *app, const char *tenant, const char *org, const char *currency);

/* An account; parent_id NULL for none.  Its id. */
char *kt_fin_account(PGconn *app, const char *tenant, const char *org, const char *code,
                     const char *type, const char *parent_id, bool is_group);

/* A fiscal year from start to end (YYYY-MM-DD) of "month" or "quarter" periods.  Its id. */
char *kt_fin_year(PGconn *app, const char *tenant, const char *org, const char *name,
                  const char *start, const char *end, const char *period);

/* A line in the ledger's currency: amounts in minor units, one of them zero. */
typedef struct kt_fin_line {
	const char *account_id;
	long long debit, credit;
	const char *division_id; /* NULL: none */
} kt_fin_line;

/*
 * An entry of n lines in the ledger's currency, posted (post) or left a draft, in one
 * transaction.  Its id.
 */
char *kt_fin_entry(PGconn *app, const char *tenant, const char *org, const char *journal,
                   const char *date, int n, const kt_fin_line *lines, bool post);

#endif
