/*
 * keel tenant create: the operator's way to make a tenant and its first
 * owner, through the same code as sign-up (and so the same rules), working
 * even when KEEL_SIGNUP=closed.  The owner's password is read from
 * --owner-password-file, or generated and printed once.
 */
#include "auth/auth.h"
#include "cmd/cmd.h"
#include "core/alloc.h"
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
	                "                          [--owner-password-file FILE]\n");
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

/* Validate like sign-up: PostgreSQL's CHECKs would catch it too, less clearly. */
static bool
valid(const char *name, const char *slug, const char *email, const char *password)
{
	bool ok = true;

	if (strlen(name) == 0 || strlen(name) > 200) {
		fprintf(stderr, "keel tenant create: --name must be 1..200 characters\n");
		ok = false;
	}
	if (!keel_tenancy_slug_valid(slug)) {
		fprintf(stderr, "keel tenant create: --slug must match ^[a-z0-9][a-z0-9-]{1,62}$\n");
		ok = false;
	}
	if (strchr(email, '@') == NULL || strlen(email) > 254) {
		fprintf(stderr, "keel tenant create: --owner-email must be an email address\n");
		ok = false;
	}
	if (strlen(password) < 12 || strlen(password) > 256) {
		fprintf(stderr, "keel tenant create: the password must be 12..256 bytes\n");
		ok = false;
	}
	return ok;
}

static int
create(const keel_config *cfg, const char *name, const char *slug, const char *email,
       const char *password)
{
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
	int status = valid(name, slug, email, password) ? create(cfg, name, slug, email, password) : 2;

	sodium_memzero(password, strlen(password));
	free(password);
	return status;
}
