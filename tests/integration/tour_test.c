/*
 * The newcomer's tour: the README's copy-paste lines (sign up, sign in, create an
 * organization, read its audit trail), as scripts/tour prints them for `make run`'s banner,
 * run by bash against a fresh keel.  They must all succeed (curl -f: any 4xx/5xx stops
 * the script) and do what the README says they do.
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

static kt_keel *srv;
static PGconn *pg;

/* Occurrences of needle in text. */
static int
count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* scripts/tour's lines for this keel. */
static char *
tour_for(const kt_keel *k)
{
	char *out = NULL;
	char *addr = kt_strf("127.0.0.1:%d", k->port);
	char *cmd = kt_strf("%s/scripts/tour %s", KEEL_SOURCE_DIR, addr);
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 0;
	char buf[4096];
	size_t n;

	assert_non_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		if (len + n + 1 > cap) {
			cap = 2 * (len + n + 1);
			out = realloc(out, cap);
		}
		memcpy(out + len, buf, n);
		len += n;
	}
	assert_int_equal(pclose(p), 0);
	assert_non_null(out);
	out[len] = '\0';
	free(cmd);
	free(addr);
	return out;
}

static void
readme_tour_runs_as_written(void **state)
{
	(void)state;
	char *tour = tour_for(srv);

	/* the four steps are there, for this keel's address */
	assert_int_equal(count_of(tour, "curl -sSf"), 4);
	char *first = kt_strf("KEEL=http://127.0.0.1:%d\n", srv->port);
	assert_non_null(strstr(tour, first));
	free(first);

	char *dir = kt_tmpdir();
	kt_write_file(dir, "tour.sh", tour);
	char *out_path = kt_strf("%s/out", dir);
	char *cmd = kt_strf("bash -e -o pipefail %s/tour.sh >%s 2>&1", dir, out_path);
	int rc = system(cmd);
	char *out = kt_read_file(out_path);

	if (rc != 0)
		print_error("tour failed (%d):\n%s\n", rc, out);
	assert_int_equal(rc, 0);

	/* sign-up answered the tenant, the organization was created, and the audit trail
	 * (jq-printed) shows its insert with the new row */
	assert_non_null(strstr(out, "\"slug\":\"acme\""));
	assert_non_null(strstr(out, "\"code\":\"EU\""));
	assert_non_null(strstr(out, "\"action\": \"INSERT\""));
	assert_non_null(strstr(out, "\"table\": \"org.organizations\""));
	assert_non_null(strstr(out, "\"name\": \"Acme Europe\""));

	/* and the database has it, in the tenant the tour signed up (the first answer) */
	json_error_t jerr;
	json_t *signup = json_loads(out, JSON_DISABLE_EOF_CHECK, &jerr);
	assert_non_null(signup);
	const char *tenant_id = kt_jstr(json_object_get(signup, "tenant"), "id");
	assert_non_null(tenant_id);
	long n = kt_pg_tenant_long(pg, tenant_id,
	                           "SELECT count(*) FROM org.organizations"
	                           " WHERE code = 'EU' AND name = 'Acme Europe'",
	                           NULL);
	assert_int_equal(n, 1);
	json_decref(signup);

	kt_tmpdir_remove(dir);
	free(out);
	free(cmd);
	free(out_path);
	free(tour);
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
	srv = kt_fixture_start("tour", NULL, &pg);
	return srv != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return kt_fixture_stop(srv, pg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(readme_tour_runs_as_written),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("tour", tests, setup, teardown);
}
