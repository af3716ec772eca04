/*
 * keel migrate: up, down, status, verify, create.
 *
 * The migration set is the one embedded in the binary, or with --dir the
 * files of a directory (development: edit, `keel migrate down`, `up` again
 * without rebuilding).  Schema commands connect as the owner role
 * (KEEL_MIGRATE_DATABASE_URL or the PG* variables).
 */
#include "cmd/cmd.h"
#include "core/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct dir_set {
	keel_migration_set set;
	keel_migration *items;
} dir_set;

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0, n;
	char *buf = keel_xmalloc(cap);

	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap)
			buf = keel_xrealloc(buf, cap *= 2);
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load dir's *.up.sql (and matching .down.sql) in name order. */
static bool
dir_set_load(const char *dir, dir_set *ds)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;

	memset(ds, 0, sizeof(*ds));
	if (d == NULL) {
		fprintf(stderr, "keel migrate: could not open directory \"%s\": %s\n", dir,
		        strerror(errno));
		return false;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);

		if (len < 8 || strcmp(e->d_name + len - 7, ".up.sql") != 0)
			continue;
		if (n == cap)
			names = keel_xrealloc(names, (cap = cap ? cap * 2 : 16) * sizeof(char *));
		names[n++] = keel_xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1) /* names is NULL in an empty directory, and qsort() must not get NULL */
		qsort(names, n, sizeof(char *), cmp_names);
	ds->items = keel_xcalloc(n + 1, sizeof(keel_migration));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 8;
		char *path = keel_xmalloc(len);

		snprintf(path, len, "%s/%s", dir, names[i]);
		ds->items[i].file = names[i];
		ds->items[i].up = read_file(path);
		snprintf(path, len, "%s/%.*s.down.sql", dir, (int)(strlen(names[i]) - 7), names[i]);
		ds->items[i].down = read_file(path);
		if (ds->items[i].up == NULL)
			ds->items[i].up = keel_xstrdup("");
		free(path);
	}
	free(names);
	ds->set.items = ds->items;
	ds->set.count = n;
	return true;
}

static void
dir_set_free(dir_set *ds)
{
	for (size_t i = 0; i < ds->set.count; i++) {
		free((char *)ds->items[i].file);
		free((char *)ds->items[i].up);
		free((char *)ds->items[i].down);
	}
	free(ds->items);
}

static bool
valid_word(const char *s)
{
	if (*s == '\0' || strlen(s) > 60)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int
write_new(const char *path, const char *text)
{
	FILE *f = fopen(path, "wx");

	if (f == NULL) {
		fprintf(stderr, "keel migrate: could not create \"%s\": %s\n", path, strerror(errno));
		return 1;
	}
	fputs(text, f);
	return fclose(f) == 0 ? 0 : 1;
}

/* keel migrate create NAME --module M: the next numbered pair of files. */
static int
create(const char *dir, const char *name, const char *module)
{
	dir_set ds;
	int next = 1, version;
	char parsed[128], up[512], down[512], body[512];

	if (name == NULL || module == NULL || !valid_word(name) || !valid_word(module)) {
		fprintf(stderr, "keel migrate create: NAME and --module must be [a-z0-9_]+\n");
		return 2;
	}
	if (!dir_set_load(dir, &ds))
		return 1;
	for (size_t i = 0; i < ds.set.count; i++)
		if (keel_migration_parse_name(ds.items[i].file, &version, parsed, sizeof(parsed)) &&
		    version >= next)
			next = version + 1;
	dir_set_free(&ds);
	snprintf(up, sizeof(up), "%s/%04d_%s_%s.up.sql", dir, next, module, name);
	snprintf(down, sizeof(down), "%s/%04d_%s_%s.down.sql", dir, next, module, name);
	snprintf(body, sizeof(body),
	         "-- %04d %s: %s\n-- Runs in one transaction with its bookkeeping row; make the first\n"
	         "-- line \"-- keel:no-transaction\" for CREATE INDEX CONCURRENTLY.\n\n",
	         next, module, name);
	if (write_new(up, body) != 0)
		return 1;
	snprintf(body, sizeof(body), "-- %04d %s: %s (revert)\n\n", next, module, name);
	if (write_new(down, body) != 0)
		return 1;
	printf("%s\n%s\n", up, down);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: keel migrate up [--to VERSION] [--dry-run] [--dir DIR]\n"
	                "       keel migrate down [N] [--dir DIR]\n"
	                "       keel migrate status|verify [--dir DIR]\n"
	                "       keel migrate create NAME --module MODULE [--dir DIR]\n");
}

static int
run(const keel_config *cfg, const char *verb, const keel_migration_set *set, keel_migrate_opts *mo)
{
	keel_db_opts o = keel_cmd_db_opts(cfg, true);
	keel_db *db;
	char err[512];
	keel_err e;

	if (keel_db_open(&o, &db, err, sizeof(err)) != KEEL_OK) {
		fprintf(stderr, "keel migrate: %s\n", err);
		return 1;
	}
	if (strcmp(verb, "up") == 0)
		e = keel_migrate_up(db, set, mo);
	else if (strcmp(verb, "down") == 0)
		e = keel_migrate_down(db, set, mo);
	else if (strcmp(verb, "status") == 0)
		e = keel_migrate_status(db, set, mo->out);
	else
		e = keel_migrate_verify(db, set, mo->out);
	keel_db_close(db);
	return e == KEEL_OK ? 0 : 1;
}

static bool
parse_positive(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 999999999)
		return false;
	*out = (int)v;
	return true;
}

int
keel_cmd_migrate(const keel_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, 't'},  {"dry-run", no_argument, NULL, 'n'},
	    {"dir", required_argument, NULL, 'd'}, {"module", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
	keel_migrate_opts mo = {.out = stdout, .steps = 1};
	const char *dir = NULL, *module = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 't' && parse_positive(optarg, &mo.to))
			continue;
		if (c == 'n')
			mo.dry_run = true;
		else if (c == 'd')
			dir = optarg;
		else if (c == 'M')
			module = optarg;
		else {
			usage();
			return 2;
		}
	}
	const char *verb = optind < argc ? argv[optind++] : NULL;
	const char *arg = optind < argc ? argv[optind++] : NULL;

	if (verb == NULL || optind != argc) {
		usage();
		return 2;
	}
	if (strcmp(verb, "create") == 0)
		return create(dir ? dir : "migrations", arg, module);
	if (strcmp(verb, "down") == 0 && arg != NULL && !parse_positive(arg, &mo.steps)) {
		usage();
		return 2;
	}
	if ((strcmp(verb, "down") != 0 && arg != NULL) ||
	    (strcmp(verb, "up") && strcmp(verb, "down") && strcmp(verb, "status") &&
	     strcmp(verb, "verify"))) {
		usage();
		return 2;
	}
	if (dir == NULL)
		return run(cfg, verb, &keel_migrations_embedded, &mo);
	dir_set ds;

	if (!dir_set_load(dir, &ds))
		return 1;
	int status = run(cfg, verb, &ds.set, &mo);

	dir_set_free(&ds);
	return status;
}
