/*
 * Fuzz the configuration loader (src/core/config.c).
 *
 * The input is environment lines, "NAME=value\n...", handed to
 * keel_config_load() as its envp.  A NAME_FILE line does not name a path the
 * fuzzer chose: the harness writes its value (and a newline, as `echo` would)
 * to a file of its own and passes that file's path, so the loader reads
 * secret files with fuzzed contents and never anything else on the machine.
 * Which variables are secrets is read from keel_config_describe(), the table
 * `keel help` prints, so a new secret is covered without editing this file.
 *
 * What must hold:
 *   - a failure is one line naming what failed, and leaves no string behind;
 *   - a failure never echoes the value of a secret;
 *   - a secret given as NAME=value or as NAME_FILE holding value (and a
 *     newline) loads the same way: same verdict, same configuration;
 *   - loading is deterministic, and what loads is usable: a listen address
 *     that keel_addr_parse() accepts, positive worker counts, sign-up open or
 *     closed, no empty strings;
 *   - keel_duration_parse() of every value agrees with a plain reading of
 *     its contract (digits, then exactly ms|s|m|h|d, within int64 ms).
 */
#include "fuzz.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

#define MAX_LINES   64
#define MAX_SECRETS 32

static char dir[64];
static char secrets[MAX_SECRETS][64];
static int nsecrets;
static char *fixed_text; /* every word a failure message may hold besides the values */

static void
dir_remove(void)
{
	char path[128];

	for (int i = 0; i < MAX_LINES; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

/* The secret variables, from the table keel help prints. */
static void
secrets_read(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	char *save;

	keel_config_describe(out);
	fprintf(out,
	        "unknown setting (see keel help) invalid value are both set; set one could not "
	        "open is larger than 1 MiB contains a NUL byte %s %s",
	        dir, strerror(ENOENT));
	fclose(out);
	fixed_text = strdup(text);
	FZ_CHECK(fixed_text != NULL, "out of memory");
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64];

		if (strstr(line, "(secret") != NULL && sscanf(line, " %63s", name) == 1 &&
		    nsecrets < MAX_SECRETS)
			snprintf(secrets[nsecrets++], sizeof(secrets[0]), "%s", name);
	}
	free(text);
	FZ_CHECK(nsecrets > 0, "set-up: keel_config_describe lists no secret");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/keel-fuzz-config.XXXXXX",
	         tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	FZ_CHECK(mkdtemp(dir) != NULL, "set-up: mkdtemp");
	atexit(dir_remove);
	secrets_read();
	return 0;
}

static bool
is_secret(const char *name, size_t len)
{
	for (int i = 0; i < nsecrets; i++)
		if (strlen(secrets[i]) == len && strncmp(secrets[i], name, len) == 0)
			return true;
	return false;
}

/* ---- building an environment ---- */

typedef struct env {
	char *lines[MAX_LINES + 1]; /* NULL-terminated, each malloc'd */
	int n;
} env;

static void
env_free(env *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->lines[i]);
	e->n = 0;
}

/* name=value, or for NAME_FILE name=<a file holding value and a newline>. */
static void
env_add(env *e, const char *name, size_t nlen, const char *value)
{
	char path[128];
	const char *v = value;

	if (e->n == MAX_LINES)
		return;
	if (nlen >= 5 && strncmp(name + nlen - 5, "_FILE", 5) == 0) {
		snprintf(path, sizeof(path), "%s/f%d", dir, e->n);
		FILE *f = fopen(path, "wb");

		FZ_CHECK(f != NULL, "could not write %s", path);
		fprintf(f, "%s\n", value);
		fclose(f);
		v = path;
	}
	char *line = malloc(nlen + strlen(v) + 2);

	FZ_CHECK(line != NULL, "out of memory");
	sprintf(line, "%.*s=%s", (int)nlen, name, v);
	e->lines[e->n++] = line;
	e->lines[e->n] = NULL;
}

/* ---- checks ---- */

static bool
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every member of keel_config (strings by content). */
static bool
config_equal(const keel_config *a, const keel_config *b)
{
	return str_eq(a->listen, b->listen) && str_eq(a->metrics_listen, b->metrics_listen) &&
	       a->workers == b->workers && a->max_connections == b->max_connections &&
	       str_eq(a->database_url, b->database_url) &&
	       str_eq(a->migrate_database_url, b->migrate_database_url) &&
	       str_eq(a->services, b->services) && a->log_level == b->log_level &&
	       a->request_timeout_ms == b->request_timeout_ms &&
	       a->shutdown_timeout_ms == b->shutdown_timeout_ms &&
	       a->db_connect_timeout_ms == b->db_connect_timeout_ms &&
	       a->db_statement_timeout_ms == b->db_statement_timeout_ms &&
	       str_eq(a->signup, b->signup) && str_eq(a->jwt_secret, b->jwt_secret) &&
	       str_eq(a->jwt_private_key, b->jwt_private_key) &&
	       str_eq(a->jwt_previous_secret, b->jwt_previous_secret) &&
	       str_eq(a->jwt_previous_public_key, b->jwt_previous_public_key) &&
	       str_eq(a->jwt_issuer, b->jwt_issuer) && str_eq(a->jwt_audience, b->jwt_audience) &&
	       a->access_token_ttl_ms == b->access_token_ttl_ms &&
	       a->refresh_token_ttl_ms == b->refresh_token_ttl_ms &&
	       a->password_memory_kib == b->password_memory_kib &&
	       a->password_passes == b->password_passes && a->hash_workers == b->hash_workers &&
	       a->hash_queue == b->hash_queue && a->audit_months_ahead == b->audit_months_ahead &&
	       a->trusted_proxies.n == b->trusted_proxies.n &&
	       (a->trusted_proxies.n == 0 ||
	        memcmp(a->trusted_proxies.nets, b->trusted_proxies.nets,
	               a->trusted_proxies.n * sizeof(*a->trusted_proxies.nets)) == 0) &&
	       str_eq(a->kafka_brokers, b->kafka_brokers) &&
	       str_eq(a->kafka_security_protocol, b->kafka_security_protocol) &&
	       str_eq(a->kafka_sasl_mechanism, b->kafka_sasl_mechanism) &&
	       str_eq(a->kafka_sasl_username, b->kafka_sasl_username) &&
	       str_eq(a->kafka_sasl_password, b->kafka_sasl_password) &&
	       str_eq(a->kafka_ssl_ca_file, b->kafka_ssl_ca_file) &&
	       str_eq(a->kafka_ssl_cert_file, b->kafka_ssl_cert_file) &&
	       str_eq(a->kafka_ssl_key_file, b->kafka_ssl_key_file) &&
	       str_eq(a->kafka_topic_prefix, b->kafka_topic_prefix) &&
	       a->kafka_message_timeout_ms == b->kafka_message_timeout_ms &&
	       str_eq(a->relay_database_url, b->relay_database_url) &&
	       a->relay_batch == b->relay_batch &&
	       a->relay_poll_interval_ms == b->relay_poll_interval_ms &&
	       a->relay_backlog_warn == b->relay_backlog_warn &&
	       a->events_retention_ms == b->events_retention_ms;
}

static bool
nonempty_or_unset(const char *s)
{
	return s == NULL || s[0] != '\0';
}

/* What a loaded configuration must be for serve to use it. */
static void
usable_check(const keel_config *c)
{
	struct sockaddr_storage ss;
	socklen_t len;

	FZ_CHECK(c->listen != NULL && keel_addr_parse(c->listen, &ss, &len) == 0,
	         "loaded an unusable KEEL_LISTEN");
	FZ_CHECK(c->metrics_listen == NULL || keel_addr_parse(c->metrics_listen, &ss, &len) == 0,
	         "loaded an unusable KEEL_METRICS_LISTEN");
	FZ_CHECK(c->workers >= 1 && c->hash_workers >= 1 && c->max_connections >= 1 &&
	             c->hash_queue >= 1,
	         "loaded a count below 1");
	FZ_CHECK(c->signup != NULL &&
	             (strcmp(c->signup, "open") == 0 || strcmp(c->signup, "closed") == 0),
	         "loaded KEEL_SIGNUP \"%s\"", c->signup ? c->signup : "(null)");
	FZ_CHECK(c->log_level >= KEEL_LOG_DEBUG && c->log_level <= KEEL_LOG_ERROR,
	         "loaded an unknown log level");
	FZ_CHECK(nonempty_or_unset(c->database_url) && nonempty_or_unset(c->jwt_secret) &&
	             nonempty_or_unset(c->jwt_issuer) && nonempty_or_unset(c->services) &&
	             nonempty_or_unset(c->kafka_brokers) && nonempty_or_unset(c->jwt_audience),
	         "loaded an empty string");
}

/* The plain reading of keel_duration_parse's contract. */
static void
duration_check(const char *s)
{
	static const struct {
		const char *unit;
		__int128 ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	size_t digits = strspn(s, "0123456789");
	__int128 v = 0, want = -1;

	for (size_t i = 0; i < digits && v <= INT64_MAX; i++)
		v = v * 10 + (s[i] - '0');
	for (size_t i = 0; digits > 0 && v <= INT64_MAX && i < 5; i++)
		if (strcmp(s + digits, units[i].unit) == 0 && v * units[i].ms <= INT64_MAX)
			want = v * units[i].ms;
	int64_t got = -1;
	bool ok = keel_duration_parse(s, &got);

	FZ_CHECK(ok == (want >= 0), "keel_duration_parse(\"%s\") %s", s, ok ? "accepted" : "refused");
	FZ_CHECK(!ok || got == (int64_t)want, "keel_duration_parse(\"%s\") = %lld", s, (long long)got);
}

/* A failed load: one line, nothing left allocated, no secret value in it. */
static void
failure_check(const keel_config *c, const char *err, const env *e)
{
	FZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL, "failure message \"%s\"", err);
	FZ_CHECK(c->listen == NULL && c->jwt_secret == NULL && c->signup == NULL &&
	             c->database_url == NULL && c->jwt_issuer == NULL,
	         "a failed load left strings behind");
	for (int i = 0; e->lines[i] != NULL; i++) {
		const char *eq = strchr(e->lines[i], '=');
		const char *v = eq + 1;
		bool elsewhere = false;

		/* text the message holds anyway (a name, a help text) proves nothing */
		if (!is_secret(e->lines[i], (size_t)(eq - e->lines[i])) || strlen(v) < 6 ||
		    strstr(fixed_text, v) != NULL)
			continue;
		/* the same text given to a variable that is not secret may be named */
		for (int k = 0; e->lines[k] != NULL && !elsewhere; k++)
			elsewhere = k != i && strstr(e->lines[k], v) != NULL;
		FZ_CHECK(elsewhere || strstr(err, v) == NULL, "failure message echoes a secret: %s", err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	env direct = {0}, filed = {0};
	char *save;
	bool any_secret = false, incomparable = false;

	FZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		size_t nlen = (size_t)(eq - line);
		bool secret = is_secret(line, nlen);
		char file_name[80];

		duration_check(eq + 1);
		/* a NAME_FILE of the input's own would be set twice in the file form */
		incomparable = incomparable || (nlen >= 5 && strncmp(eq - 5, "_FILE", 5) == 0);
		env_add(&direct, line, nlen, eq + 1);
		/* the same secret once more, as NAME_FILE (a trailing CR would be eaten there) */
		size_t vlen = strlen(eq + 1);

		if (secret && (nlen >= 64 || (vlen > 0 && eq[vlen] == '\r')))
			incomparable = true; /* not expressible as a file: no comparison */
		if (secret && nlen < 64) {
			snprintf(file_name, sizeof(file_name), "%.*s_FILE", (int)nlen, line);
			env_add(&filed, file_name, nlen + 5, eq + 1);
			any_secret = true;
		} else {
			env_add(&filed, line, nlen, eq + 1);
		}
	}
	char *const empty[] = {NULL};
	char *const *envp = direct.n > 0 ? direct.lines : empty;
	keel_config a, b;
	char err_a[512] = "", err_b[512] = "";
	keel_err ra = keel_config_load(&a, envp, err_a, sizeof(err_a));
	keel_err rb = keel_config_load(&b, envp, err_b, sizeof(err_b));

	FZ_CHECK(ra == rb && strcmp(err_a, err_b) == 0, "two loads of one environment differ");
	if (ra == KEEL_OK) {
		FZ_CHECK(config_equal(&a, &b), "two loads of one environment differ");
		usable_check(&a);
	} else {
		failure_check(&a, err_a, &direct);
	}
	if (any_secret && !incomparable) {
		keel_config c;
		char err_c[512] = "";
		keel_err rc = keel_config_load(&c, filed.lines, err_c, sizeof(err_c));

		FZ_CHECK(rc == ra, "a secret loads %s from its file and %s from the variable",
		         rc == KEEL_OK ? "ok" : err_c, ra == KEEL_OK ? "ok" : err_a);
		if (rc == KEEL_OK)
			FZ_CHECK(config_equal(&a, &c), "a secret from its file gives another configuration");
		if (rc == KEEL_OK)
			keel_config_free(&c);
	}
	if (ra == KEEL_OK) {
		keel_config_free(&a);
		keel_config_free(&b);
	}
	env_free(&direct);
	env_free(&filed);
	free(text);
	return 0;
}
