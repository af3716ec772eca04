/*
 * keel fin verify [--tenant SLUG]: every period snapshot recomputed from the postings.
 *
 * A closed period's snapshot (fin.period_balances, migration 0014) holds the sums of its
 * postings per account and division, closing entries apart, and per account over all its
 * divisions (fin.period_account_balances, migration 0018).  verify compares each with
 * fin.postings, tenant by tenant in slug order (fin.verify_snapshots, under the tenant's
 * row-level security), and stops at the first difference, naming it: exit 1.  0 when every
 * snapshot holds.  It connects as the owner role (KEEL_MIGRATE_DATABASE_URL or the PG*
 * variables), the only one that sees every tenant; it only reads.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const keel_stmt st_tenants = {
    "fin_verify_tenants",
    "SELECT id::text, slug FROM core.tenants WHERE $1::text IS NULL OR slug = $1 ORDER BY slug", 1};
static const keel_stmt st_scope = {"fin_verify_scope",
                                   "SELECT set_config('app.tenant_id', $1, false)", 1};
static const keel_stmt st_first = {
    "fin_verify_first",
    "SELECT period_name, organization_id::text, account_code,"
    " CASE WHEN all_divisions THEN 'all' ELSE coalesce(division_id::text, '-') END,"
    " coalesce(snapshot_debit::text, 'none'), coalesce(snapshot_credit::text, 'none'),"
    " coalesce(posted_debit::text, 'none'), coalesce(posted_credit::text, 'none'),"
    " CASE WHEN closing THEN ' (closing entries)' ELSE '' END"
    " FROM fin.verify_snapshots() LIMIT 1",
    0};

static void
usage(void)
{
	fprintf(stderr, "usage: keel fin verify [--tenant SLUG]\n");
}

/* The tenant's first difference, printed: 1; none: 0; -1 when the statement failed. */
static int
verify_tenant(keel_db *db, keel_arena *a, const char *id, const char *slug)
{
	const char *p[] = {id};
	keel_res *res;

	if (keel_db_exec(db, a, &st_scope, p, NULL) != KEEL_OK ||
	    keel_db_exec(db, a, &st_first, NULL, &res) != KEEL_OK)
		return -1;
	if (keel_res_rows(res) == 0)
		return 0;
	fprintf(stderr,
	        "keel fin verify: tenant %s, organization %s, period %s, account %s, division %s%s:"
	        " the snapshot says debit %s credit %s, the postings sum to debit %s credit %s\n",
	        slug, keel_res_get(res, 0, 1), keel_res_get(res, 0, 0), keel_res_get(res, 0, 2),
	        keel_res_get(res, 0, 3), keel_res_get(res, 0, 8), keel_res_get(res, 0, 4),
	        keel_res_get(res, 0, 5), keel_res_get(res, 0, 6), keel_res_get(res, 0, 7));
	return 1;
}

static int
verify(const keel_config *cfg, const char *slug)
{
	keel_db_opts dbo = keel_cmd_db_opts(cfg, true);
	keel_arena *a = keel_arena_create(4096);
	const char *p[] = {slug};
	keel_db *db = NULL;
	keel_res *res;
	char err[512];
	int status = 1, bad = 0, n = 0;

	dbo.application_name = "keel fin verify";
	if (keel_db_open(&dbo, &db, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keel fin verify: %s\n", err);
		goto out;
	}
	if (keel_db_exec(db, a, &st_tenants, p, &res) != KEEL_OK) {
		fprintf(stderr, "keel fin verify: could not list the tenants; see the log line above\n");
		goto out;
	}
	n = keel_res_rows(res);
	if (slug != NULL && n == 0) {
		fprintf(stderr, "keel fin verify: no tenant \"%s\"\n", slug);
		goto out;
	}
	for (int i = 0; i < n && bad == 0; i++)
		bad = verify_tenant(db, a, keel_res_get(res, i, 0), keel_res_get(res, i, 1));
	if (bad < 0)
		fprintf(stderr, "keel fin verify: the check failed; see the log line above\n");
	else if (bad == 0) {
		printf("keel fin verify: the snapshots of %d tenant(s) match their postings\n", n);
		status = 0;
	}
out:
	keel_db_close(db);
	keel_arena_destroy(a);
	return status;
}

int
keel_cmd_fin(const keel_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {{"tenant", required_argument, NULL, 't'},
	                                         {NULL, 0, NULL, 0}};
	const char *slug = NULL;
	int c;

	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		usage();
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 't') {
			usage();
			return 2;
		}
		slug = optarg;
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	return verify(cfg, slug);
}
