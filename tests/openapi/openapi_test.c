/*
 * The /openapi.json a running keel serves, checked by tools of the outside
 * world: Redocly CLI lints it with its recommended rules (no error allowed;
 * warnings are printed), and conform.mjs drives a black-box session against
 * the same process, checking every answer's status and body against the
 * document (ajv, JSON Schema 2020-12).  The tools are the project's npm
 * devDependencies (package.json), installed by scripts/deps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kt.h"

static kt_keel *srv;
static char *dir;  /* holds openapi.json */
static char *file; /* dir/openapi.json */

/* Run cmd through the shell, its output (stdout and stderr) printed; returns its exit status. */
static int
run(const char *cmd)
{
	char line[4096];
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	while (fgets(line, sizeof(line), p) != NULL)
		fputs(line, stdout);
	int st = pclose(p);

	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The npm tools must be installed: a missing one fails the test (run scripts/deps). */
static void
tools_installed(void)
{
	char *redocly = kt_strf("%s/node_modules/.bin/redocly", KEEL_SOURCE_DIR);
	char *ajv = kt_strf("%s/node_modules/ajv-formats/package.json", KEEL_SOURCE_DIR);

	if (access(redocly, X_OK) != 0 || access(ajv, R_OK) != 0)
		fail_msg("%s or %s is missing: run scripts/deps (npm ci)", redocly, ajv);
	free(redocly);
	free(ajv);
}

static int
setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!kt_db_migrated("openapi"))
		return -1;
	srv = kt_keel_start(NULL, NULL);
	kt_resp *r = kt_request(srv->base, "GET", "/openapi.json", NULL, NULL, 0);

	if (r->status != 200 || r->json == NULL) {
		fprintf(stderr, "GET /openapi.json: %ld %s\n", r->status, r->body);
		kt_resp_free(r);
		return -1;
	}
	dir = kt_tmpdir();
	kt_write_file(dir, "openapi.json", r->body);
	file = kt_strf("%s/openapi.json", dir);
	kt_resp_free(r);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (srv != NULL)
		kt_keel_stop(srv);
	if (dir != NULL) {
		kt_remove_file(dir, "openapi.json");
		kt_tmpdir_remove(dir);
	}
	free(file);
	return 0;
}

/* Redocly's recommended rules: zero errors (warnings are listed in the output). */
static void
the_document_passes_redocly_lint(void **state)
{
	(void)state;
	tools_installed();
	/* no usage report nor update check: the test talks to nothing but keel */
	char *cmd = kt_strf("cd '%s' && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "
	                    "node_modules/.bin/redocly lint --config redocly.yaml "
	                    "--format stylish '%s' 2>&1",
	                    KEEL_SOURCE_DIR, file);
	int status = run(cmd);

	free(cmd);
	if (status != 0)
		fail_msg("redocly lint found errors in /openapi.json (exit %d; see above)", status);
}

/* A session against keel: every answer's status and body as the document says. */
static void
answers_conform_to_the_document(void **state)
{
	(void)state;
	tools_installed();
	char *cmd = kt_strf("cd '%s' && node tests/openapi/conform.mjs '%s' '%s' 2>&1", KEEL_SOURCE_DIR,
	                    file, srv->base);
	int status = run(cmd);

	free(cmd);
	if (status != 0)
		fail_msg("keel's answers disagree with /openapi.json (exit %d; see above)", status);
	kt_keel_stop_clean(&srv, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_document_passes_redocly_lint),
	    cmocka_unit_test(answers_conform_to_the_document),
	};

	return cmocka_run_group_tests_name("openapi", tests, setup, teardown);
}
