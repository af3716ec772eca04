/*
 * keel tenant create: the operator's way to make a tenant and its first
 * owner, through the same code as sign-up (and so the same rules), working
 * even when KEEL_SIGNUP=closed.  The owner's password is read from
 * --owner-password-file, or generated and printed once.
 *
 * keel tenant suspend SLUG [--reason TEXT] | resume SLUG: as the owner role
 * (KEEL_MIGRATE_DATABASE_URL), since keel_app may not change a tenant's
 * status.  Both print the tenant; doing what is already done is no error.
 */
#include "auth/auth.h"
#include "cmd/cmd.h"
#include "core/alloc.h"
#include "core/str.h"
#include "tenancy/tenancy.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(void)
{
	fprintf(stderr, "usage: keel tenant create --name NAME --slug SLUG --owner-email EMAIL\n"
	                "                          [--owner-password-file FILE]\n"
	                "       keel tenant suspend SLUG [--reason TEXT]\n"
	                "       keel tenant resume SLUG\n");
}

#define REASON_MAX 500 /* characters, as core.tenants allows */

static int
suspension(const keel_config *cfg, const char *slug, bool suspend, const char *reason)
{
	const char *verb = suspend ? "suspend" : "resume";
	keel_db_opts o = keel_cmd_db_opts(cfg, true);
	keel_arena *arena = keel_arena_create(4096);
	keel_db *db = NULL;
	json_t *tenant;
	bool changed;
	char err[512];
	int status = 1;

	o.application_name = "keel tenant";
	if (keel_db_open(&o, &db, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keel tenant %s: %s\n", verb, err);
		goto out;
	}
	keel_err e = keel_tenancy_suspend(db, arena, slug, suspend, reason, &tenant, &changed);

	if (e == KEEL_ENOTFOUND)
		fprintf(stderr, "keel tenant %s: no tenant has the slug \"%s\"\n", verb, slug);
	else if (e == KEEL_EDENIED)
		fprintf(stderr,
		        "keel tenant %s: permission denied: run it as the owner role "
		        "(KEEL_MIGRATE_DATABASE_URL)\n",
		        verb);
	else if (e != KEEL_OK)
		fprintf(stderr, "keel tenant %s: could not change the tenant (%s)\n", verb,
		        keel_err_name(e));
	else {
		char *text = json_dumps(tenant, JSON_INDENT(2));

		if (!changed)
			fprintf(stderr, "keel tenant %s: the tenant already is %s\n", verb,
			        suspend ? "suspended" : "active");
		printf("%s\n", text);
		free(text);
		status = 0;
	}
out:
	keel_db_close(db);
	keel_arena_destroy(arena);
	return status;
}

/* keel tenant suspend SLUG [--reason TEXT] | resume SLUG */
static int
suspension_cmd(const keel_config *cfg, int argc, char **argv, bool suspend)
{
	static const struct option longopts[] = {{"reason", required_argument, NULL, 'r'},
	                                         {NULL, 0, NULL, 0}};
	const char *reason = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'r' || !suspend) {
			usage();
			return 2;
		}
		reason = optarg;
	}
	if (optind + 1 != argc) {
		usage();
		return 2;
	}
	if (reason != NULL && (!keel_utf8_valid(reason, strlen(reason)) ||
	                       keel_utf8_length(reason, strlen(reason)) > REASON_MAX)) {
		fprintf(stderr,
		        "keel tenant suspend: --reason must be UTF-8 text of at most %d characters\n",
		        REASON_MAX);
		return 2;
	}
	return suspension(cfg, argv[optind], suspend, reason);
}

/* A 24-character password from an unambiguous alphabet. */
static void
generate_password(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

	for (size_t i = 0; i + 1 < len; i++)
		out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	out[len - 1] = '\0';
}

static char *
read_password(const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[512];

	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return keel_xstrdup(buf);
}

/* The command-line option that gives sign-up's field. */
static const char *
option_of(const char *field)
{
	static const char *const map[][2] = {{"name", "--name"},
	                                     {"slug", "--slug"},
	                                     {"owner_email", "--owner-email"},
	                                     {"owner_password", "the password"}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], field) == 0)
			return map[i][1];
	return field;
}

/* Release a sign-up body, its copy of the password overwritten first. */
static void
body_free(json_t *body)
{
	json_t *password = json_object_get(body, "owner_password");

	if (json_is_string(password)) /* jansson's own copy: nothing else reads it */
		sodium_memzero((char *)json_string_value(password), json_string_length(password));
	json_decref(body);
}

/*
 * The sign-up body for the arguments, checked by sign-up's own rules
 * (keel_tenancy_signup_check: trimmed like the API trims); NULL, each
 * problem printed, when they break one. Messages never repeat a value.
 */
static json_t *
signup_body(const char *name, const char *slug, const char *email, const char *password)
{
	const char *const given[][2] = {
	    {"name", name}, {"slug", slug}, {"owner_email", email}, {"owner_password", password}};
	json_t *body = json_object();
	size_t bad = 0, i;
	json_t *e;

	for (i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
		json_t *v = json_string(given[i][1]);

		if (v == NULL) {
			fprintf(stderr, "keel tenant create: %s must be UTF-8 text\n", option_of(given[i][0]));
			bad++;
		} else
			json_object_set_new(body, given[i][0], v);
	}
	if (bad == 0) {
		json_t *errors = json_array();

		bad = keel_tenancy_signup_check(body, errors);
		json_array_foreach(errors, i, e)
		{
			fprintf(stderr, "keel tenant create: %s %s\n",
			        option_of(json_string_value(json_object_get(e, "field"))),
			        json_string_value(json_object_get(e, "message")));
		}
		json_decref(errors);
	}
	if (bad > 0) {
		body_free(body);
		return NULL;
	}
	return body;
}

static int
create(const keel_config *cfg, json_t *body)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *slug = json_string_value(json_object_get(body, "slug"));
	const char *email = json_string_value(json_object_get(body, "owner_email"));
	const char *password = json_string_value(json_object_get(body, "owner_password"));
	keel_db_opts o = keel_cmd_db_opts(cfg, false);
	keel_workpool *hashers = keel_workpool_create(1, 1, 0);
	keel_auth *auth = NULL;
	keel_db *db = NULL;
	keel_arena *arena = keel_arena_create(4096);
	char err[512];
	int status = 1;
	json_t *out = NULL;

	if (keel_auth_create(cfg, NULL, hashers, &auth, err, sizeof(err)) != KEEL_OK ||
	    keel_db_open(&o, &db, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keel tenant create: %s\n", err);
		goto out;
	}
	keel_auth_hash_job job = {.auth = auth, .password = password};

	keel_auth_hash_run(&job);
	keel_err e =
	    job.ok ? keel_tenancy_create(db, arena, name, slug, email, job.hash, &out) : KEEL_EINTERNAL;

	if (e == KEEL_ECONFLICT)
		fprintf(stderr, "keel tenant create: the slug \"%s\" is already taken\n", slug);
	else if (e != KEEL_OK)
		fprintf(stderr, "keel tenant create: could not create the tenant (%s)\n", keel_err_name(e));
	else {
		char *text = json_dumps(out, JSON_INDENT(2));

		printf("%s\n", text);
		free(text);
		status = 0;
	}
out:
	json_decref(out);
	keel_db_close(db);
	keel_auth_destroy(auth);
	keel_workpool_destroy(hashers);
	keel_arena_destroy(arena);
	return status;
}

int
keel_cmd_tenant(const keel_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {{"name", required_argument, NULL, 'n'},
	                                         {"slug", required_argument, NULL, 's'},
	                                         {"owner-email", required_argument, NULL, 'e'},
	                                         {"owner-password-file", required_argument, NULL, 'p'},
	                                         {NULL, 0, NULL, 0}};
	const char *name = NULL, *slug = NULL, *email = NULL, *pwfile = NULL;
	char generated[25];
	char *password = NULL;
	int c;

	if (argc >= 2 && (strcmp(argv[1], "suspend") == 0 || strcmp(argv[1], "resume") == 0))
		return suspension_cmd(cfg, argc - 1, argv + 1, strcmp(argv[1], "suspend") == 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 's')
			slug = optarg;
		else if (c == 'e')
			email = optarg;
		else if (c == 'p')
			pwfile = optarg;
		else {
			usage();
			return 2;
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "create") != 0 || !name || !slug || !email) {
		usage();
		return 2;
	}
	if (pwfile != NULL && (password = read_password(pwfile)) == NULL) {
		fprintf(stderr, "keel tenant create: could not read %s\n", pwfile);
		return 1;
	}
	if (password == NULL) {
		generate_password(generated, sizeof(generated));
		password = keel_xstrdup(generated);
		fprintf(stderr, "keel tenant create: the owner's generated password (shown once): %s\n",
		        password);
	}
	json_t *body = signup_body(name, slug, email, password);
	int status = body != NULL ? create(cfg, body) : 2;

	sodium_memzero(password, strlen(password));
	free(password);
	if (body != NULL)
		body_free(body);
	return status;
}
