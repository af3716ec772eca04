/*
 * Configuration loader.
 *
 * The variables are rows of one table: adding a setting is adding a row and
 * a field of keel_config.  Variables named KEEL_DEV_* and KEEL_TEST_* belong
 * to the project's scripts and test harness and are ignored here.
 */
#include "core/config.h"
#include "core/alloc.h"
#include "core/str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum opt_type {
	OPT_STRING,
	OPT_INT,
	OPT_DURATION,
	OPT_LOGLEVEL,
	OPT_ADDR,
	OPT_SIGNUP,
	OPT_PROXIES,
} opt_type;

typedef struct opt {
	const char *name;
	opt_type type;
	size_t offset;
	bool secret;
	const char *def; /* NULL: unset (or computed, see apply_defaults) */
	int64_t min, max;
	const char *help;
} opt;

#define F(field) offsetof(keel_config, field)

static const opt opts[] = {
    {"KEEL_LISTEN", OPT_ADDR, F(listen), false, "127.0.0.1:8080", 0, 0,
     "address the API listens on, HOST:PORT or [V6]:PORT"},
    {"KEEL_METRICS_LISTEN", OPT_ADDR, F(metrics_listen), false, NULL, 0, 0,
     "serve GET /metrics on this address only (unset: on KEEL_LISTEN)"},
    {"KEEL_WORKERS", OPT_INT, F(workers), false, NULL, 1, 512,
     "worker threads, each with its own database connection (default 2 x cores)"},
    {"KEEL_MAX_CONNECTIONS", OPT_INT, F(max_connections), false, "1024", 1, 65536,
     "concurrent client connections accepted"},
    {"KEEL_TRUSTED_PROXIES", OPT_PROXIES, F(trusted_proxies), false, NULL, 0, 0,
     "proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; "
     "unset: none"},
    {"KEEL_DATABASE_URL", OPT_STRING, F(database_url), true, NULL, 0, 0,
     "libpq connection string or URI for serve (role keel_app); unset: PGHOST, PGUSER, ..."},
    {"KEEL_MIGRATE_DATABASE_URL", OPT_STRING, F(migrate_database_url), true, NULL, 0, 0,
     "connection for `keel migrate` (role keel_owner); unset: PGHOST, PGUSER, ..."},
    {"KEEL_SERVICES", OPT_STRING, F(services), false, "all", 0, 0,
     "modules served: all, or a comma list (same as serve --services)"},
    {"KEEL_LOG_LEVEL", OPT_LOGLEVEL, F(log_level), false, "info", 0, 0,
     "debug, info, warn or error"},
    {"KEEL_REQUEST_TIMEOUT", OPT_DURATION, F(request_timeout_ms), false, "30s", 1000, 3600000,
     "a client idle or slower than this is disconnected"},
    {"KEEL_SHUTDOWN_TIMEOUT", OPT_DURATION, F(shutdown_timeout_ms), false, "10s", 0, 600000,
     "on SIGTERM, how long requests in flight may take to finish"},
    {"KEEL_DB_CONNECT_TIMEOUT", OPT_DURATION, F(db_connect_timeout_ms), false, "5s", 1000, 600000,
     "give up connecting to PostgreSQL after this (then 503)"},
    {"KEEL_DB_STATEMENT_TIMEOUT", OPT_DURATION, F(db_statement_timeout_ms), false, "5s", 0, 3600000,
     "statement_timeout of the serve connections (0: none)"},
    {"KEEL_SIGNUP", OPT_SIGNUP, F(signup), false, "open", 0, 0,
     "open: anyone may create a tenant (POST /api/v1/tenants); closed: 403"},
    {"KEEL_JWT_SECRET", OPT_STRING, F(jwt_secret), true, NULL, 0, 0,
     "HS256 key for access tokens, at least 32 bytes"},
    {"KEEL_JWT_PRIVATE_KEY", OPT_STRING, F(jwt_private_key), true, NULL, 0, 0,
     "ES256 (P-256) private key, PEM; signs instead of KEEL_JWT_SECRET"},
    {"KEEL_JWT_PREVIOUS_SECRET", OPT_STRING, F(jwt_previous_secret), true, NULL, 0, 0,
     "an HS256 key still accepted for verification (rotation)"},
    {"KEEL_JWT_PREVIOUS_PUBLIC_KEY", OPT_STRING, F(jwt_previous_public_key), true, NULL, 0, 0,
     "an ES256 public key, PEM, still accepted for verification (rotation)"},
    {"KEEL_JWT_ISSUER", OPT_STRING, F(jwt_issuer), false, "keel", 0, 0,
     "the iss claim issued and required"},
    {"KEEL_JWT_AUDIENCE", OPT_STRING, F(jwt_audience), false, NULL, 0, 0,
     "the aud claim issued and required (unset: none)"},
    {"KEEL_ACCESS_TOKEN_TTL", OPT_DURATION, F(access_token_ttl_ms), false, "15m", 60000, 86400000,
     "lifetime of access tokens"},
    {"KEEL_REFRESH_TOKEN_TTL", OPT_DURATION, F(refresh_token_ttl_ms), false, "30d", 60000,
     31536000000, "lifetime of refresh tokens"},
    {"KEEL_PASSWORD_MEMORY_KIB", OPT_INT, F(password_memory_kib), false, "19456", 19456, 4194304,
     "argon2id memory per hash, KiB (OWASP minimum 19456)"},
    {"KEEL_PASSWORD_PASSES", OPT_INT, F(password_passes), false, "2", 2, 20,
     "argon2id passes (OWASP minimum 2)"},
    {"KEEL_HASH_WORKERS", OPT_INT, F(hash_workers), false, NULL, 1, 256,
     "threads hashing passwords (default: cores - 1, at least 1)"},
    {"KEEL_HASH_QUEUE", OPT_INT, F(hash_queue), false, "64", 1, 100000,
     "password hashes that may wait; more are answered 503"},
    {"KEEL_AUDIT_MONTHS_AHEAD", OPT_INT, F(audit_months_ahead), false, "3", 0, 120,
     "audit log partitions kept ready: this month and the next N (serve, keel audit maintain)"},
    {"KEEL_SECURITY_EVENTS_RETENTION", OPT_DURATION, F(security_events_keep_ms), false, "400d",
     86400000, 3153600000000,
     "sign-in and token events (auth.security_events) are deleted after this (serve, keel "
     "maintain); 1d..36500d"},
    /* events (docs/events.md): the outbox relay and its Kafka producer */
    {"KEEL_KAFKA_BROKERS", OPT_STRING, F(kafka_brokers), false, NULL, 0, 0,
     "Kafka bootstrap servers HOST:PORT,... (bootstrap.servers); set: serve runs the relay"},
    {"KEEL_KAFKA_SECURITY_PROTOCOL", OPT_STRING, F(kafka_security_protocol), false, NULL, 0, 0,
     "plaintext, ssl, sasl_plaintext or sasl_ssl (security.protocol)"},
    {"KEEL_KAFKA_SASL_MECHANISM", OPT_STRING, F(kafka_sasl_mechanism), false, NULL, 0, 0,
     "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (sasl.mechanism)"},
    {"KEEL_KAFKA_SASL_USERNAME", OPT_STRING, F(kafka_sasl_username), false, NULL, 0, 0,
     "SASL user name (sasl.username)"},
    {"KEEL_KAFKA_SASL_PASSWORD", OPT_STRING, F(kafka_sasl_password), true, NULL, 0, 0,
     "SASL password (sasl.password)"},
    {"KEEL_KAFKA_SSL_CA_FILE", OPT_STRING, F(kafka_ssl_ca_file), false, NULL, 0, 0,
     "PEM file of the CAs that sign the brokers' certificates (ssl.ca.location)"},
    {"KEEL_KAFKA_SSL_CERT_FILE", OPT_STRING, F(kafka_ssl_cert_file), false, NULL, 0, 0,
     "PEM client certificate for mutual TLS (ssl.certificate.location)"},
    {"KEEL_KAFKA_SSL_KEY_FILE", OPT_STRING, F(kafka_ssl_key_file), false, NULL, 0, 0,
     "PEM private key of the client certificate (ssl.key.location)"},
    {"KEEL_KAFKA_TOPIC_PREFIX", OPT_STRING, F(kafka_topic_prefix), false, "keel", 0, 0,
     "topics are PREFIX.<kind plural>: PREFIX.organizations, PREFIX.journal_entries, ..."},
    {"KEEL_KAFKA_MESSAGE_TIMEOUT", OPT_DURATION, F(kafka_message_timeout_ms), false, "30s", 1000,
     3600000,
     "how long the producer retries an event before the relay backs off (message.timeout.ms)"},
    {"KEEL_RELAY_DATABASE_URL", OPT_STRING, F(relay_database_url), true, NULL, 0, 0,
     "connection of the outbox relay (role keel_relay); unset: PGHOST, ... with user keel_relay"},
    {"KEEL_RELAY_BATCH", OPT_INT, F(relay_batch), false, "500", 1, 10000,
     "events the relay claims and produces at a time"},
    {"KEEL_RELAY_POLL_INTERVAL", OPT_DURATION, F(relay_poll_interval_ms), false, "5s", 100, 3600000,
     "the relay looks at the outbox at least this often (NOTIFY wakes it at once)"},
    {"KEEL_RELAY_BACKLOG_WARN", OPT_INT, F(relay_backlog_warn), false, "10000", 1, 1000000000,
     "warn while more events than this wait in the outbox"},
    {"KEEL_EVENTS_RETENTION", OPT_DURATION, F(events_retention_ms), false, "7d", 0, 315360000000,
     "published events are deleted from the outbox after this"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const char *
env_lookup(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (char *const *e = envp; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

bool
keel_duration_parse(const char *s, int64_t *ms_out)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (errno != 0 || end == s)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].ms)
				return false;
			*ms_out = v * units[i].ms;
			return true;
		}
	}
	return false;
}

static bool
parse_int(const char *s, int64_t *out)
{
	char *end;

	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

int
keel_addr_parse(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	char host[64];
	const char *colon;
	const char *hs = s;
	size_t hlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hs = s + 1;
		hlen = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';

	int64_t port;

	if (!parse_int(colon + 1, &port) || port < 1 || port > 65535)
		return -1;
	memset(out, 0, sizeof(*out));
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));

	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;

	if (s[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (s[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

bool
keel_ip_parse(const char *s, size_t len, uint8_t out[16])
{
	char text[INET6_ADDRSTRLEN];
	struct in_addr v4;

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, &v4) == 1) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		memcpy(out, mapped, sizeof(mapped));
		memcpy(out + 12, &v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, text, out) == 1;
}

/* Whether the first prefix bits of a and b agree. */
static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (a[whole] & mask) == (b[whole] & mask);
}

/* One "ADDR" or "ADDR/N" entry of len bytes (blanks trimmed); why says what is wrong. */
static bool
cidr_parse(const char *s, size_t len, keel_cidr *out, char *why, size_t whylen)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	bool v4 = memchr(s, ':', alen) == NULL;
	unsigned max = v4 ? 32 : 128, prefix = max;

	if (!keel_ip_parse(s, alen, out->addr)) {
		snprintf(why, whylen, "\"%.*s\" is not an IP address", (int)(alen > 64 ? 64 : alen), s);
		return false;
	}
	if (slash != NULL) {
		const char *p = slash + 1, *end = s + len;

		prefix = 0;
		if (p == end || end - p > 3)
			goto bad_prefix;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				goto bad_prefix;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			goto bad_prefix;
	}
	out->prefix = v4 ? prefix + 96 : prefix;
	for (unsigned b = out->prefix; b < 128; b++) {
		if (out->addr[b / 8] & (0x80 >> (b % 8))) {
			snprintf(why, whylen, "\"%.*s\" has bits set after its prefix length",
			         (int)(len > 64 ? 64 : len), s);
			return false;
		}
	}
	return true;
bad_prefix:
	snprintf(why, whylen, "\"%.*s\": the prefix length must be 0..%u", (int)(len > 64 ? 64 : len),
	         s, max);
	return false;
}

bool
keel_cidr_list_parse(const char *s, keel_cidr_list *out, char *err, size_t errlen)
{
	size_t cap = 0;

	*out = (keel_cidr_list){NULL, 0};
	if (s[strspn(s, " \t")] == '\0')
		return true;
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		const char *e = p;
		size_t elen = len;

		while (elen > 0 && (*e == ' ' || *e == '\t'))
			e++, elen--;
		while (elen > 0 && (e[elen - 1] == ' ' || e[elen - 1] == '\t'))
			elen--;
		if (elen == 0) {
			snprintf(err, errlen, "empty entry in the list");
			goto fail;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 4;
			out->nets = keel_xrealloc(out->nets, cap * sizeof(*out->nets));
		}
		if (!cidr_parse(e, elen, &out->nets[out->n], err, errlen))
			goto fail;
		out->n++;
		if (p[len] == '\0')
			return true;
		p += len + 1;
	}
fail:
	keel_cidr_list_free(out);
	return false;
}

void
keel_cidr_list_free(keel_cidr_list *l)
{
	free(l->nets);
	*l = (keel_cidr_list){NULL, 0};
}

bool
keel_cidr_list_contains(const keel_cidr_list *l, const uint8_t addr[16])
{
	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (prefix_equal(l->nets[i].addr, addr, l->nets[i].prefix))
			return true;
	return false;
}

/* Read a secret from NAME_FILE; the trailing newline is dropped. NULL on error. */
static char *
read_secret_file(const char *path, char *err, size_t errlen, const char *name)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		snprintf(err, errlen, "%s_FILE: could not open \"%s\": %s", name, path, strerror(errno));
		return NULL;
	}
	size_t cap = 256, len = 0;
	char *buf = keel_xmalloc(cap);

	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap) {
			if (cap >= 1024 * 1024) {
				snprintf(err, errlen, "%s_FILE: \"%s\" is larger than 1 MiB", name, path);
				fclose(f);
				free(buf);
				return NULL;
			}
			cap *= 2;
			buf = keel_xrealloc(buf, cap);
		}
	}
	fclose(f);
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s_FILE: \"%s\" contains a NUL byte", name, path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Store one value; err gets the reason when it is invalid. */
static bool
opt_set(keel_config *cfg, const opt *o, const char *v, char *err, size_t errlen)
{
	void *field = (char *)cfg + o->offset;
	int64_t n;

	switch (o->type) {
	case OPT_STRING:
		if (*v == '\0')
			goto bad;
		*(char **)field = keel_xstrdup(v);
		return true;
	case OPT_ADDR: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (keel_addr_parse(v, &ss, &len) != 0)
			goto bad;
		*(char **)field = keel_xstrdup(v);
		return true;
	}
	case OPT_INT:
		if (!parse_int(v, &n) || n < o->min || n > o->max)
			goto bad;
		*(int *)field = (int)n;
		return true;
	case OPT_DURATION:
		if (!keel_duration_parse(v, &n) || n < o->min || n > o->max)
			goto bad;
		*(int64_t *)field = n;
		return true;
	case OPT_LOGLEVEL:
		if (!keel_log_level_parse(v, (keel_log_level *)field))
			goto bad;
		return true;
	case OPT_SIGNUP:
		if (strcmp(v, "open") != 0 && strcmp(v, "closed") != 0)
			goto bad;
		*(char **)field = keel_xstrdup(v);
		return true;
	case OPT_PROXIES: {
		char why[160];

		if (keel_cidr_list_parse(v, (keel_cidr_list *)field, why, sizeof(why)))
			return true;
		snprintf(err, errlen, "%s: %s (%s)", o->name, why, o->help);
		return false;
	}
	}
bad:
	if (o->secret)
		snprintf(err, errlen, "%s: invalid value (%s)", o->name, o->help);
	else
		snprintf(err, errlen, "%s: invalid value \"%.64s\" (%s)", o->name, v, o->help);
	return false;
}

/* The value of o from NAME or NAME_FILE; *owned is set when the caller must free it. */
static const char *
opt_value(const opt *o, char *const *envp, char **owned, char *err, size_t errlen)
{
	const char *v = env_lookup(envp, o->name);

	*owned = NULL;
	if (!o->secret)
		return v;

	char file_name[128];

	snprintf(file_name, sizeof(file_name), "%s_FILE", o->name);
	const char *path = env_lookup(envp, file_name);

	if (path == NULL)
		return v;
	if (v != NULL) {
		snprintf(err, errlen, "%s and %s are both set; set one", o->name, file_name);
		return NULL;
	}
	*owned = read_secret_file(path, err, errlen, o->name);
	return *owned;
}

/* A KEEL_ variable that no row names (or names with _FILE, for a secret). */
static bool
check_unknown(char *const *envp, char *err, size_t errlen)
{
	for (char *const *e = envp; *e != NULL; e++) {
		if (strncmp(*e, "KEEL_", 5) != 0 || strncmp(*e, "KEEL_DEV_", 9) == 0 ||
		    strncmp(*e, "KEEL_TEST_", 10) == 0)
			continue;
		size_t len = strcspn(*e, "=");
		bool known = false;

		for (size_t i = 0; i < NOPTS && !known; i++) {
			size_t nl = strlen(opts[i].name);

			known = (len == nl && strncmp(*e, opts[i].name, nl) == 0) ||
			        (opts[i].secret && len == nl + 5 && strncmp(*e, opts[i].name, nl) == 0 &&
			         strncmp(*e + nl, "_FILE", 5) == 0);
		}
		if (!known) {
			snprintf(err, errlen, "unknown setting %.*s (see keel help)", (int)len, *e);
			return false;
		}
	}
	return true;
}

/* Processors this process may run on (a container's cpuset, taskset), 1..256. */
static int
usable_cores(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

keel_err
keel_config_load(keel_config *cfg, char *const *envp, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (!check_unknown(envp, err, errlen))
		return KEEL_EINVAL;
	for (size_t i = 0; i < NOPTS; i++) {
		const opt *o = &opts[i];
		char *owned;
		const char *v;

		err[0] = '\0';
		v = opt_value(o, envp, &owned, err, errlen);
		if (v == NULL && err[0] != '\0')
			goto fail;
		if (v == NULL)
			v = o->def;
		if (v == NULL)
			continue;
		bool ok = opt_set(cfg, o, v, err, errlen);

		free(owned);
		if (!ok)
			goto fail;
	}
	int cores = usable_cores();

	if (cfg->workers == 0)
		cfg->workers = cores * 2;
	/*
	 * Hashing leaves one core to request handling: with every core hashing,
	 * a request thread or its PostgreSQL backend waits for a processor
	 * behind the hashes (nice 10 shortens the wait, it does not remove it),
	 * and on two cores one hashing thread signs in as many users per second
	 * as two (bench/auth, docs/design.md "Password hashing").
	 */
	if (cfg->hash_workers == 0)
		cfg->hash_workers = cores > 1 ? cores - 1 : 1;
	return KEEL_OK;
fail:
	keel_config_free(cfg);
	return KEEL_EINVAL;
}

void
keel_config_free(keel_config *cfg)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].type == OPT_STRING || opts[i].type == OPT_ADDR || opts[i].type == OPT_SIGNUP) {
			char **field = (char **)((char *)cfg + opts[i].offset);

			free(*field);
			*field = NULL;
		}
		if (opts[i].type == OPT_PROXIES)
			keel_cidr_list_free((keel_cidr_list *)((char *)cfg + opts[i].offset));
	}
}

void
keel_config_describe(FILE *out)
{
	for (size_t i = 0; i < NOPTS; i++) {
		fprintf(out, "  %-30s %-16s %s%s\n", opts[i].name, opts[i].def ? opts[i].def : "-",
		        opts[i].help, opts[i].secret ? " (secret; also _FILE)" : "");
	}
}
