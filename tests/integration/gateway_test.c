/*
 * The gateway: real nginx (Debian's package) with deploy/gateway/nginx.conf
 * in front of two keel processes, `--services auth` and `--services
 * org,audit`, sharing this program's database, everything on loopback.
 *
 * The configuration is used as shipped: nginx.conf is copied unchanged into
 * a directory of the test's own (nginx's -p and -c), and the two files an
 * operator edits are the shipped ones with the default addresses replaced
 * (upstreams.conf: the keel ports; listen.conf: the gateway's port).  Once
 * nginx has made its temporary directories there, the test takes away their
 * write permission (and as root, nginx's workers run as nginx's default
 * unprivileged user, who cannot even reach that directory): whoever runs the
 * test, a request body or response that nginx wanted to write to a
 * temporary file fails its request and so the test, which is the
 * configuration's claim (passwords and tokens stay in memory).
 *
 * What is tested: sign-up -> sign-in -> organization CRUD -> audit query
 * through the gateway, each routed to the right process; the request id
 * (kept when sane, made when not, one header in the answer) and the trace
 * (joined by keel, carried into the audit rows); health pass-through and
 * what is not exposed; the 1 MiB body cap (413 past it, keel's answer at
 * it); the rate limit of password checks (sign-in and password change, one
 * budget) per client address (429 problem+json with Retry-After);
 * KEEL_TRUSTED_PROXIES (keel believes the gateway's
 * X-Forwarded-For: audit rows, security events, the address throttle and the
 * access log name the client, not the gateway, not what the client forged;
 * straight to keel, a forged header is ignored from an untrusted peer and
 * used from a trusted one); with the org process stopped, 502 problem+json
 * for its routes while auth still answers; and, with a plain echo server in
 * that process's place, exactly which headers the gateway sends on.
 *
 * Not tested here: 504 (it needs an upstream that hangs for the 35 s read
 * timeout), TLS, a load balancer in front (set_real_ip_from).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt.h"

#define NGINX    "/usr/sbin/nginx"
#define PASSWORD "correct horse battery staple"
#define SLUG     "gw-acme"
#define TRACE    "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT   "00f067aa0ba902b7"

static char *dir;           /* nginx's prefix and configuration */
static pid_t nginx_pid;     /* the nginx master */
static char gw[64];         /* the gateway's base URL */
static kt_keel *auth, *org; /* `--services auth`, `--services org,audit` */
static int org_port;        /* org's port, still in upstreams.conf after org stopped */
static PGconn *pg;          /* keel_owner */
static char *tenant_id, *token;

/* ---- HTTP ---- */

/*
 * method base+path from source (NULL: the system's choice), with a bearer
 * token and a JSON body when not NULL, and extra headers (NULL-terminated,
 * may be NULL).
 */
static kt_resp *
call(const char *base, const char *source, const char *method, const char *path, const char *tok,
     const char *body, const char *const *extra)
{
	kt_client c = {.base = base, .source = source};

	return kt_call(&c, method, tok, extra, body, "%s", path);
}

/* The number of header lines called name in r. */
static int
header_count(const kt_resp *r, const char *name)
{
	size_t nl = strlen(name);
	int n = 0;

	for (const char *line = r->headers; line != NULL && *line != '\0';) {
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':')
			n++;
		const char *end = strstr(line, "\r\n");

		line = end != NULL ? end + 2 : NULL;
	}
	return n;
}

#define assert_header(r, name, want)                                                               \
	do {                                                                                           \
		char *v_ = kt_header((r), (name));                                                         \
		if (v_ == NULL || strcmp(v_, (want)) != 0)                                                 \
			fail_msg("%s:%d: %s is \"%s\", expected \"%s\"", __FILE__, __LINE__, (name),           \
			         v_ ? v_ : "(absent)", (want));                                                \
		free(v_);                                                                                  \
	} while (0)

/* True when s is n lowercase hex digits: nginx's $request_id is 32. */
static bool
is_hex(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * A problem+json answer made by the gateway or keel: status, content type,
 * keel's members, type urn:keel:problem:<slug>, and a request_id that is the
 * X-Request-ID header's.
 */
static void
assert_problem(const kt_resp *r, long status, const char *slug, const char *instance)
{
	kt_assert_problem(r, status, slug, NULL);
	if (instance != NULL)
		assert_string_equal(kt_jstr(r->json, "instance"), instance);
	assert_int_equal(header_count(r, "X-Request-ID"), 1);
}

/* ---- the database ---- */

#define assert_sql(sql, want)                                                                      \
	do {                                                                                           \
		char *v_ = kt_pg_tenant_value(pg, tenant_id, sql, NULL);                                   \
		if (v_ == NULL || strcmp(v_, (want)) != 0)                                                 \
			fail_msg("%s:%d: %s\ngave \"%s\", expected \"%s\"", __FILE__, __LINE__, (sql),         \
			         v_ ? v_ : "(no row)", (want));                                                \
		free(v_);                                                                                  \
	} while (0)

/* ---- nginx ---- */

/* The shipped file name of deploy/gateway with every `from` replaced by `to` (at least once). */
static char *
shipped(const char *name, const char *const *from, const char *const *to)
{
	char *path = kt_strf("%s/deploy/gateway/%s", KEEL_SOURCE_DIR, name);
	char *text = kt_read_file(path);

	if (text == NULL)
		fail_msg("could not read %s", path);
	for (int i = 0; from != NULL && from[i] != NULL; i++) {
		char *at = strstr(text, from[i]);

		if (at == NULL)
			fail_msg("%s no longer contains \"%s\"; update the test", path, from[i]);
		while (at != NULL) {
			char *next = kt_strf("%.*s%s%s", (int)(at - text), text, to[i], at + strlen(from[i]));
			size_t off = (size_t)(at - text) + strlen(to[i]);

			free(text);
			text = next;
			at = strstr(text + off, from[i]);
		}
	}
	free(path);
	return text;
}

/* Write nginx's three files into dir: nginx.conf as shipped, the two address files filled in. */
static void
nginx_configure(int port)
{
	char *conf = shipped("nginx.conf", NULL, NULL);
	char *auth_addr = kt_strf("127.0.0.1:%d", auth->port);
	char *org_addr = kt_strf("127.0.0.1:%d", org->port);
	char *listen = kt_strf("listen 127.0.0.1:%d;", port);
	const char *from_up[] = {"127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083", NULL};
	const char *to_up[] = {auth_addr, org_addr, org_addr, NULL};
	const char *from_listen[] = {"\nlisten 8080;", NULL};
	char *nl_listen = kt_strf("\n%s", listen);
	const char *to_listen[] = {nl_listen, NULL};
	char *up = shipped("upstreams.conf", from_up, to_up);
	char *lis = shipped("listen.conf", from_listen, to_listen);

	kt_write_file(dir, "nginx.conf", conf);
	kt_write_file(dir, "upstreams.conf", up);
	kt_write_file(dir, "listen.conf", lis);
	free(conf);
	free(up);
	free(lis);
	free(auth_addr);
	free(org_addr);
	free(listen);
	free(nl_listen);
}

static void
nginx_stop(void)
{
	if (nginx_pid <= 0)
		return;
	kill(nginx_pid, SIGTERM);
	for (long long until = kt_now_ms() + 10000;; usleep(10000)) {
		if (waitpid(nginx_pid, NULL, WNOHANG) == nginx_pid)
			break;
		if (kt_now_ms() > until) {
			kill(nginx_pid, SIGKILL);
			waitpid(nginx_pid, NULL, 0);
			break;
		}
	}
	nginx_pid = 0;
}

/*
 * Stop nginx and the keel processes (a set-up that fails leaves none behind); 0 when each keel
 * process still running exited with status 0.
 */
static int
children_stop(void)
{
	int status = 0;

	nginx_stop();
	if (org != NULL)
		status |= kt_keel_stop(org);
	if (auth != NULL)
		status |= kt_keel_stop(auth);
	org = auth = NULL;
	return status;
}

/*
 * nginx's temporary directories, which nginx.conf keeps under -p: made by nginx at start-up,
 * then made unwritable by the test (nginx_temp_lock).
 */
static const char *const nginx_temp_dirs[] = {"client_body_temp", "proxy_temp", "fastcgi_temp",
                                              "uwsgi_temp", "scgi_temp"};

/*
 * Take write permission off nginx's temporary directories (nothing may be in them), so that
 * nginx cannot write a body or a response there, whoever it runs as: the test's own user
 * (nginx started by an ordinary user) owns them, nginx's unprivileged user (started by root)
 * too, and neither may now create a file in them.
 */
static void
nginx_temp_lock(void)
{
	for (size_t i = 0; i < sizeof(nginx_temp_dirs) / sizeof(nginx_temp_dirs[0]); i++) {
		char *p = kt_strf("%s/%s", dir, nginx_temp_dirs[i]);
		DIR *d = opendir(p);
		struct dirent *e;

		if (d == NULL)
			fail_msg("%s: %s (nginx.conf no longer keeps it under -p?)", p, strerror(errno));
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				fail_msg("%s holds %s before any request", p, e->d_name);
		closedir(d);
		if (chmod(p, 0500) != 0)
			fail_msg("chmod %s: %s", p, strerror(errno));
		free(p);
	}
}

/* Start nginx in the foreground (the configuration says `daemon off`); wait for /healthz. */
static void
nginx_start(void)
{
	int port = kt_free_port();
	char *prefix = kt_strf("%s/", dir), *conf = kt_strf("%s/nginx.conf", dir);
	char *log = kt_strf("%s/nginx.log", dir);

	if (access(NGINX, X_OK) != 0)
		fail_msg("%s: %s (scripts/deps installs nginx)", NGINX, strerror(errno));
	nginx_configure(port);
	snprintf(gw, sizeof(gw), "http://127.0.0.1:%d", port);

	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	nginx_pid = fork();
	assert_true(nginx_pid >= 0);
	if (nginx_pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(NGINX, "nginx", "-p", prefix, "-c", conf, "-e", "stderr", (char *)NULL);
		_exit(127);
	}
	close(fd);
	bool up = false;

	for (long long until = kt_now_ms() + 15000; !up && kt_now_ms() < until; usleep(20000)) {
		int st;

		if (waitpid(nginx_pid, &st, WNOHANG) == nginx_pid) {
			char *text = kt_read_file(log);

			nginx_pid = 0;
			children_stop();
			fail_msg("nginx exited during start-up:\n%s", text ? text : "");
		}
		/* kt_request fails the test on a refused connection: probe with a plain connect first */
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		up = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(s);
	}
	if (!up) {
		char *text = kt_read_file(log);

		children_stop();
		fail_msg("nginx did not listen on %s within 15 s:\n%s", gw, text ? text : "");
	}
	nginx_temp_lock();
	free(prefix);
	free(conf);
	free(log);
}

/* The gateway's log so far (its access lines on stdout, its errors on stderr). */
static char *
nginx_log(void)
{
	char *path = kt_strf("%s/nginx.log", dir);
	char *text = kt_read_file(path);

	free(path);
	return text;
}

/* ---- set-up ---- */

static int
setup(void **state)
{
	const char *up[] = {"migrate", "up", NULL};
	const char *env[] = {"KEEL_TRUSTED_PROXIES=127.0.0.1", "KEEL_WORKERS=2", "KEEL_HASH_WORKERS=1",
	                     NULL};
	const char *auth_args[] = {"--services", "auth", NULL};
	const char *org_args[] = {"--services", "org,audit", NULL};
	char *out;

	(void)state;
	kt_db_fresh("gateway");
	if (kt_keel_run(up, NULL, &out) != 0)
		fail_msg("migrate up: %s", out);
	free(out);
	pg = kt_pg_owner();
	auth = kt_keel_start(env, auth_args);
	org = kt_keel_start(env, org_args);
	org_port = org->port;
	dir = kt_tmpdir();
	nginx_start();
	return 0;
}

static int
teardown(void **state)
{
	static const char *const temp_dirs[] = {"client_body_temp", "proxy_temp", "fastcgi_temp",
	                                        "uwsgi_temp", "scgi_temp"};

	(void)state;
	int status = children_stop();

	for (size_t i = 0; i < sizeof(temp_dirs) / sizeof(temp_dirs[0]); i++) {
		char *p = kt_strf("%s/%s", dir, temp_dirs[i]);

		rmdir(p); /* empty: nothing was ever written to a temporary file */
		free(p);
	}
	kt_tmpdir_remove(dir);
	PQfinish(pg);
	free(tenant_id);
	free(token);
	return status == 0 ? 0 : -1;
}

/* ---- the tests ---- */

/* Sign-up -> sign-in -> organization CRUD -> audit query, all through the gateway. */
static void
end_to_end(void **state)
{
	(void)state;
	tenant_id = kt_signup(gw, SLUG, PASSWORD);
	token = kt_login(gw, SLUG, "owner@" SLUG ".test", PASSWORD);

	const char *hc[] = {"X-Request-ID: gw-create-1", "traceparent: 00-" TRACE "-" PARENT "-01",
	                    NULL};
	kt_resp *r = call(gw, NULL, "POST", "/api/v1/organizations", token,
	                  "{\"name\":\"Gateway Org\",\"code\":\"GW-1\"}", hc);

	kt_assert_status(r, 201);
	assert_header(r, "X-Request-ID", "gw-create-1");
	char *id = strdup(kt_jstr(r->json, "id"));
	char *loc = kt_strf("/api/v1/organizations/%s", id);

	assert_header(r, "Location", loc);
	assert_header(r, "ETag", "\"1\"");
	kt_resp_free(r);

	r = call(gw, NULL, "GET", loc, token, NULL, NULL);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "code"), "GW-1");
	assert_string_equal(kt_jstr(r->json, "tenant_id"), tenant_id);
	kt_resp_free(r);

	const char *hp[] = {"If-Match: \"1\"", "X-Request-ID: gw-update-1", NULL};

	r = call(gw, NULL, "PATCH", loc, token, "{\"name\":\"Gateway Org 2\"}", hp);
	kt_assert_status(r, 200);
	assert_int_equal(json_integer_value(json_object_get(r->json, "version")), 2);
	kt_resp_free(r);

	r = call(gw, NULL, "GET", "/api/v1/organizations?q=gateway", token, NULL, NULL);
	kt_assert_status(r, 200);
	assert_int_equal(json_array_size(json_object_get(r->json, "data")), 1);
	assert_string_equal(kt_jstr(json_array_get(json_object_get(r->json, "data"), 0), "id"), id);
	kt_resp_free(r);

	const char *hd[] = {"X-Request-ID: gw-delete-1", NULL};

	r = call(gw, NULL, "DELETE", loc, token, NULL, hd);
	kt_assert_status(r, 204);
	kt_resp_free(r);

	/* keel's own problem passes through untouched, with keel's request id */
	const char *hg[] = {"X-Request-ID: gw-gone-1", NULL};

	r = call(gw, NULL, "GET", loc, token, NULL, hg);
	assert_problem(r, 404, "not-found", loc);
	assert_string_equal(kt_jstr(r->json, "request_id"), "gw-gone-1");
	kt_resp_free(r);

	/* the audit log, from the audit service, newest first */
	char *q = kt_strf("/api/v1/audit-logs?table=org.organizations&record_id=%s", id);

	r = call(gw, NULL, "GET", q, token, NULL, NULL);
	kt_assert_status(r, 200);
	json_t *data = json_object_get(r->json, "data");

	assert_int_equal(json_array_size(data), 3);
	assert_string_equal(kt_jstr(json_array_get(data, 0), "action"), "DELETE");
	assert_string_equal(kt_jstr(json_array_get(data, 0), "request_id"), "gw-delete-1");
	assert_string_equal(kt_jstr(json_array_get(data, 1), "action"), "UPDATE");
	assert_string_equal(kt_jstr(json_array_get(data, 1), "request_id"), "gw-update-1");
	assert_string_equal(kt_jstr(json_array_get(data, 2), "action"), "INSERT");
	assert_string_equal(kt_jstr(json_array_get(data, 2), "request_id"), "gw-create-1");
	/* the caller's trace, joined by keel, recorded by PostgreSQL */
	assert_string_equal(kt_jstr(json_array_get(data, 2), "trace_id"), TRACE);
	kt_resp_free(r);
	free(q);
	free(loc);
	free(id);
}

/* Each route reaches the process that serves it, and only the API is exposed. */
static void
routing_and_health(void **state)
{
	(void)state;
	/* /.well-known/jwks.json is the auth service's: the same answer as asking it directly */
	kt_resp *via = call(gw, NULL, "GET", "/.well-known/jwks.json", NULL, NULL, NULL);
	kt_resp *direct = call(auth->base, NULL, "GET", "/.well-known/jwks.json", NULL, NULL, NULL);
	kt_resp *wrong = call(org->base, NULL, "GET", "/.well-known/jwks.json", NULL, NULL, NULL);

	kt_assert_status(via, 200);
	kt_assert_status(direct, 200);
	kt_assert_status(wrong, 404);
	assert_string_equal(via->body, direct->body);
	assert_non_null(json_object_get(via->json, "keys"));
	kt_resp_free(via);
	kt_resp_free(direct);
	kt_resp_free(wrong);

	/* users and the caller's tenant are auth's, through their prefixes */
	kt_resp *r = call(gw, NULL, "GET", "/api/v1/users", token, NULL, NULL);

	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = call(gw, NULL, "GET", "/api/v1/tenant", token, NULL, NULL);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "id"), tenant_id);
	kt_resp_free(r);

	/* the gateway's own liveness, and each service's health passed through */
	r = call(gw, NULL, "GET", "/healthz", NULL, NULL, NULL);
	kt_assert_status(r, 200);
	assert_string_equal(kt_jstr(r->json, "status"), "ok");
	kt_resp_free(r);
	static const char *const health[] = {"/healthz/auth", "/readyz/auth",   "/healthz/org",
	                                     "/readyz/org",   "/healthz/audit", "/readyz/audit"};

	for (size_t i = 0; i < sizeof(health) / sizeof(health[0]); i++) {
		r = call(gw, NULL, "GET", health[i], NULL, NULL, NULL);
		kt_assert_status(r, 200);
		assert_string_equal(kt_jstr(r->json, "status"), "ok");
		if (strncmp(health[i], "/readyz", 7) == 0)
			assert_string_equal(kt_jstr(json_object_get(r->json, "checks"), "migrations"),
			                    "current");
		kt_resp_free(r);
	}

	/* not exposed: per-process endpoints and anything unrouted, as the gateway's problem */
	static const char *const hidden[] = {"/metrics", "/openapi.json", "/api/v1/nothing",
	                                     "/api/v1/organizationsX", "/"};

	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		r = call(gw, NULL, "GET", hidden[i], NULL, NULL, NULL);
		assert_problem(r, 404, "not-found", hidden[i]);
		assert_true(is_hex(kt_jstr(r->json, "request_id"), 32));
		kt_resp_free(r);
	}
}

/* X-Request-ID: kept when sane, made by the gateway when not; one in every answer. */
static void
request_id_and_trace(void **state)
{
	(void)state;
	const char *sane[] = {"X-Request-ID: client-chose.this_1", NULL};
	kt_resp *r = call(gw, NULL, "GET", "/api/v1/auth/me", token, NULL, sane);

	kt_assert_status(r, 200);
	assert_header(r, "X-Request-ID", "client-chose.this_1");
	assert_int_equal(header_count(r, "X-Request-ID"), 1);
	kt_resp_free(r);

	static const char *const bad[] = {"X-Request-ID: not sane!", "X-Request-ID: a/b", NULL};

	for (int i = 0; bad[i] != NULL; i++) {
		const char *h[] = {bad[i], NULL};

		r = call(gw, NULL, "GET", "/api/v1/auth/me", token, NULL, h);
		kt_assert_status(r, 200);
		char *rid = kt_header(r, "X-Request-ID");

		if (!is_hex(rid, 32))
			fail_msg("X-Request-ID \"%s\" for \"%s\": expected the gateway's 32 hex digits",
			         rid ? rid : "(absent)", bad[i]);
		assert_int_equal(header_count(r, "X-Request-ID"), 1);
		free(rid);
		kt_resp_free(r);
	}
	r = call(gw, NULL, "GET", "/api/v1/auth/me", token, NULL, NULL);
	char *rid = kt_header(r, "X-Request-ID");

	assert_true(is_hex(rid, 32));
	free(rid);
	kt_resp_free(r);

	/* a caller's trace is joined: same trace id, keel's own span id */
	const char *tp[] = {"traceparent: 00-" TRACE "-" PARENT "-01", NULL};

	r = call(gw, NULL, "GET", "/api/v1/organizations", token, NULL, tp);
	kt_assert_status(r, 200);
	char *got = kt_header(r, "traceparent");

	assert_non_null(got);
	assert_int_equal(strlen(got), 55);
	assert_memory_equal(got, "00-" TRACE "-", 36);
	assert_memory_not_equal(got + 36, PARENT, 16);
	free(got);
	kt_resp_free(r);

	/* a malformed one is not passed on: keel starts a trace of its own */
	const char *badtp[] = {"traceparent: 00-" TRACE "-zz-01", NULL};

	r = call(gw, NULL, "GET", "/api/v1/organizations", token, NULL, badtp);
	kt_assert_status(r, 200);
	got = kt_header(r, "traceparent");
	assert_non_null(got);
	assert_int_equal(strlen(got), 55);
	assert_memory_not_equal(got + 3, TRACE, 32);
	free(got);
	kt_resp_free(r);

	/* the gateway's access line carries the request id and the trace keel answered */
	char *log = nginx_log();

	assert_non_null(strstr(log, "\"request_id\":\"client-chose.this_1\""));
	assert_non_null(strstr(log, "\"traceparent\":\"00-" TRACE "-"));
	free(log);
}

/*
 * KEEL_TRUSTED_PROXIES=127.0.0.1: keel believes the gateway's X-Forwarded-For,
 * which names the client nginx saw, whatever the client forged.
 */
static void
trusted_proxy(void **state)
{
	(void)state;
	const char *forged[] = {"X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.10",
	                        "Forwarded: for=203.0.113.11", "X-Request-ID: gw-xff-fail", NULL};
	char *body = kt_strf("{\"tenant\":\"%s\",\"email\":\"owner@%s.test\",\"password\":\"wrong "
	                     "password!\"}",
	                     SLUG, SLUG);
	kt_resp *r = call(gw, "127.0.0.23", "POST", "/api/v1/auth/login", NULL, body, forged);

	assert_problem(r, 401, "unauthenticated", "/api/v1/auth/login");
	kt_resp_free(r);
	free(body);
	/* the sign-in event and the address throttle count the client, not the gateway */
	assert_sql("SELECT kind || ' ' || host(client_addr) FROM auth.security_events"
	           " WHERE request_id = 'gw-xff-fail'",
	           "sign_in_failed 127.0.0.23");
	char *n = kt_pg_value(pg, "SELECT count(*) FROM auth.address_failures"
	                          " WHERE client_addr = '127.0.0.23'");

	assert_string_equal(n, "1");
	free(n);
	n = kt_pg_value(pg, "SELECT count(*) FROM auth.address_failures"
	                    " WHERE client_addr <> '127.0.0.23'");
	assert_string_equal(n, "0");
	free(n);

	/* a change through the gateway: the audit row and keel's access line name the client */
	const char *h1[] = {"X-Forwarded-For: 203.0.113.9", "X-Request-ID: gw-xff-org", NULL};

	r = call(gw, "127.0.0.23", "POST", "/api/v1/organizations", token,
	         "{\"name\":\"Forwarded\",\"code\":\"XFF-1\"}", h1);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	assert_sql("SELECT host(client_addr) FROM audit.logs WHERE request_id = 'gw-xff-org'",
	           "127.0.0.23");
	char *log = kt_keel_log(org);
	char *line = strstr(log, "\"request_id\":\"gw-xff-org\"");

	assert_non_null(line);
	char *eol = strchr(line, '\n');

	if (eol != NULL)
		*eol = '\0';
	while (line > log && line[-1] != '\n')
		line--;
	if (strstr(line, "\"client_addr\":\"127.0.0.23\"") == NULL)
		fail_msg("keel's access line does not name the client: %s", line);
	free(log);

	/* straight to keel from a peer it does not trust: the header is the sender's word */
	const char *h2[] = {"X-Forwarded-For: 203.0.113.9", "X-Request-ID: direct-untrusted", NULL};

	r = call(org->base, "127.0.0.5", "POST", "/api/v1/organizations", token,
	         "{\"name\":\"Direct\",\"code\":\"XFF-2\"}", h2);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	assert_sql("SELECT host(client_addr) FROM audit.logs WHERE request_id = 'direct-untrusted'",
	           "127.0.0.5");

	/* from a trusted peer it is believed: right-most entry that is not a trusted proxy */
	const char *h3[] = {"X-Forwarded-For: 6.6.6.6, 198.51.100.7, 127.0.0.1",
	                    "X-Request-ID: direct-trusted", NULL};

	r = call(org->base, "127.0.0.1", "POST", "/api/v1/organizations", token,
	         "{\"name\":\"Trusted\",\"code\":\"XFF-3\"}", h3);
	kt_assert_status(r, 201);
	kt_resp_free(r);
	assert_sql("SELECT host(client_addr) FROM audit.logs WHERE request_id = 'direct-trusted'",
	           "198.51.100.7");
}

/* The gateway refuses bodies past 1 MiB, as keel does, and passes one of exactly 1 MiB. */
static void
body_cap(void **state)
{
	(void)state;
	size_t cap = 1024 * 1024;
	char *big = malloc(cap + 2);

	/* {"name":"xxx...x"} of exactly cap bytes */
	memset(big, 'x', cap + 1);
	memcpy(big, "{\"name\":\"", 9);
	memcpy(big + cap - 2, "\"}", 3);
	assert_int_equal(strlen(big), cap);

	kt_resp *r = call(gw, NULL, "POST", "/api/v1/organizations", token, big, NULL);

	/* keel's answer (a name of a million characters is invalid), not the gateway's 413 */
	assert_problem(r, 422, "validation-failed", "/api/v1/organizations");
	kt_resp_free(r);

	memcpy(big + cap - 2, "x\"}", 4);
	assert_int_equal(strlen(big), cap + 1);
	r = call(gw, NULL, "POST", "/api/v1/organizations", token, big, NULL);
	assert_problem(r, 413, "payload-too-large", "/api/v1/organizations");
	assert_true(is_hex(kt_jstr(r->json, "request_id"), 32));
	kt_resp_free(r);
	free(big);
}

/*
 * Requests to path from source until the first 429 (at most 40), each answered 422 by keel
 * before that ({} costs keel no hash; the gateway counts the attempt all the same); 11 to 14
 * pass, then *limited is the 429 (the caller frees it).
 */
static void
attempts_until_limited(const char *source, const char *path, const char *tok, kt_resp **limited)
{
	int passed = 0;

	*limited = NULL;
	for (int i = 0; i < 40; i++) {
		kt_resp *r = call(gw, source, "POST", path, tok, "{}", NULL);

		if (r->status == 429) {
			*limited = r;
			break;
		}
		assert_problem(r, 422, "validation-failed", path);
		passed++;
		kt_resp_free(r);
	}
	if (*limited == NULL)
		fail_msg("40 attempts at %s from one address and no 429", path);
	/* burst=10 nodelay at 10 a minute: 11 at once, one more for every 6 s taken */
	if (passed < 11 || passed > 14)
		fail_msg("%d attempts at %s passed before the 429; expected 11", passed, path);
	assert_problem(*limited, 429, "too-many-requests", path);
	assert_header(*limited, "Retry-After", "60");
}

/*
 * Password checks per client address, sign-ins and password changes alike: a burst of 11,
 * then 429 problem+json, and one budget for both routes.
 */
static void
sign_in_rate_limit(void **state)
{
	(void)state;
	kt_resp *r;

	attempts_until_limited("127.0.0.31", "/api/v1/auth/login", NULL, &r);
	kt_resp_free(r);
	/* another address is not affected; nor are other routes of the same address */
	r = call(gw, "127.0.0.32", "POST", "/api/v1/auth/login", NULL, "{}", NULL);
	assert_problem(r, 422, "validation-failed", "/api/v1/auth/login");
	kt_resp_free(r);
	r = call(gw, "127.0.0.31", "GET", "/api/v1/auth/me", token, NULL, NULL);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	/* a password change checks a password too: the budget spent on sign-ins is spent */
	r = call(gw, "127.0.0.31", "POST", "/api/v1/auth/password", token, "{}", NULL);
	assert_problem(r, 429, "too-many-requests", "/api/v1/auth/password");
	assert_header(r, "Retry-After", "60");
	kt_resp_free(r);
	/* and the other way round, from an address of its own */
	attempts_until_limited("127.0.0.33", "/api/v1/auth/password", token, &r);
	kt_resp_free(r);
	r = call(gw, "127.0.0.33", "POST", "/api/v1/auth/login", NULL, "{}", NULL);
	assert_problem(r, 429, "too-many-requests", "/api/v1/auth/login");
	kt_resp_free(r);
	r = call(gw, "127.0.0.33", "GET", "/api/v1/auth/me", token, NULL, NULL);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

/* With the org,audit process stopped: 502 problem+json for its routes; auth still answers. */
static void
upstream_down(void **state)
{
	(void)state;
	assert_int_equal(kt_keel_stop(org), 0);
	org = NULL;

	static const char *const gone[] = {"/api/v1/organizations", "/api/v1/audit-logs", "/readyz/org",
	                                   "/healthz/audit"};

	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		const char *h[] = {"X-Request-ID: gw-down-1", NULL};
		kt_resp *r = call(gw, NULL, "GET", gone[i], token, NULL, h);

		assert_problem(r, 502, "bad-gateway", gone[i]);
		assert_string_equal(kt_jstr(r->json, "title"), "Bad Gateway");
		assert_string_equal(kt_jstr(r->json, "request_id"), "gw-down-1");
		kt_resp_free(r);
	}
	kt_resp *r = call(gw, NULL, "POST", "/api/v1/organizations", token,
	                  "{\"name\":\"Nobody home\",\"code\":\"DOWN-1\"}", NULL);

	assert_problem(r, 502, "bad-gateway", "/api/v1/organizations");
	kt_resp_free(r);
	r = call(gw, NULL, "GET", "/api/v1/auth/me", token, NULL, NULL);
	kt_assert_status(r, 200);
	kt_resp_free(r);
	r = call(gw, NULL, "GET", "/readyz/auth", NULL, NULL, NULL);
	kt_assert_status(r, 200);
	kt_resp_free(r);
}

/* ---- an echo server in the stopped process's place ---- */

typedef struct echo {
	int fd;
	pthread_t thread;
	char head[16384]; /* the last request head received */
} echo;

/* Answer every connection with its request head as the body, until the socket is shut down. */
static void *
echo_run(void *arg)
{
	echo *e = arg;

	for (;;) {
		int c = accept(e->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		char buf[sizeof(e->head)];
		size_t len = 0;

		while (len < sizeof(buf) - 1) {
			ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);

			if (n <= 0)
				break;
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, "\r\n\r\n") != NULL)
				break;
		}
		buf[len] = '\0';
		memcpy(e->head, buf, len + 1);
		char *resp = kt_strf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
		                     "%zu\r\nConnection: close\r\n\r\n%s",
		                     len, buf);

		if (write(c, resp, strlen(resp)) < 0) {
			/* the gateway went away; the test will say so */
		}
		free(resp);
		close(c);
	}
}

static void
echo_start(echo *e, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;

	e->head[0] = '\0';
	e->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(e->fd >= 0);
	setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(e->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("bind 127.0.0.1:%d: %s", port, strerror(errno));
	assert_int_equal(listen(e->fd, 16), 0);
	assert_int_equal(pthread_create(&e->thread, NULL, echo_run, e), 0);
}

static void
echo_stop(echo *e)
{
	shutdown(e->fd, SHUT_RDWR);
	pthread_join(e->thread, NULL);
	close(e->fd);
}

/* The header line "name: value" (case-insensitive name) in head, once; else fails. */
static void
assert_sent(const char *head, const char *name, const char *value)
{
	char *want = kt_strf("\r\n%s: %s\r\n", name, value);
	char *lower = strdup(head), *lwant = strdup(want);

	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (char *p = lwant; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	char *at = strstr(lower, lwant);

	if (at == NULL || strstr(at + 1, lwant) != NULL)
		fail_msg("expected one \"%s: %s\" in what the gateway sent:\n%s", name, value, head);
	free(want);
	free(lower);
	free(lwant);
}

/* No header line called name in head; else fails. */
static void
assert_not_sent(const char *head, const char *name)
{
	char *want = kt_strf("\r\n%s:", name);

	if (strcasestr(head, want) != NULL)
		fail_msg("the gateway sent %s on:\n%s", name, head);
	free(want);
}

static void
headers_sent_on(void **state)
{
	(void)state;
	echo e;

	echo_start(&e, org_port); /* the stopped process's port: upstreams.conf still names it */
	const char *h[] = {"X-Forwarded-For: 203.0.113.9",
	                   "X-Real-IP: 203.0.113.10",
	                   "Forwarded: for=203.0.113.11;proto=https",
	                   "X-Forwarded-Host: evil.example",
	                   "X-Forwarded-Proto: https",
	                   "X-Forwarded-Port: 443",
	                   "Proxy-Authorization: Basic Zm9vOmJhcg==",
	                   "Proxy: http://evil.example/",
	                   "Keep-Alive: timeout=99",
	                   "Upgrade: websocket",
	                   "X-Request-ID: not sane!",
	                   "traceparent: 00-" TRACE "-zz-01",
	                   "tracestate: vendor=forged",
	                   "X-Tenant-ID: 0190a0b0-0000-7000-8000-000000000001",
	                   NULL};
	kt_resp *r = call(gw, "127.0.0.41", "GET", "/api/v1/organizations?limit=5", token, NULL, h);

	echo_stop(&e);
	kt_assert_status(r, 200);
	const char *head = e.head;

	/* the request line: the path and query as the client sent them */
	if (strncmp(head, "GET /api/v1/organizations?limit=5 HTTP/1.1\r\n", 44) != 0)
		fail_msg("request line: %.60s", head);
	/* forwarding headers: the gateway's, not the client's */
	assert_sent(head, "X-Forwarded-For", "127.0.0.41");
	assert_sent(head, "X-Forwarded-Proto", "http");
	assert_sent(head, "X-Forwarded-Host", "127.0.0.1");
	if (strstr(head, "203.0.113.") != NULL || strstr(head, "evil.example") != NULL)
		fail_msg("a forged value was sent on:\n%s", head);
	static const char *const dropped[] = {
	    "X-Real-IP",  "Forwarded", "X-Forwarded-Port", "Proxy-Authorization", "Proxy",
	    "Keep-Alive", "Upgrade",   "traceparent",      "tracestate",          "Proxy-Connection",
	};

	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		assert_not_sent(head, dropped[i]);
	/* a request id of the gateway's making, the caller's credentials and tenant */
	const char *rid = strcasestr(head, "\r\nX-Request-ID: ");

	assert_non_null(rid);
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)rid[16 + i]) || isupper((unsigned char)rid[16 + i]))
			fail_msg("X-Request-ID sent on is not the gateway's: %.60s", rid + 2);
	assert_true(rid[48] == '\r');
	char *bearer = kt_strf("Bearer %s", token);

	assert_sent(head, "Authorization", bearer);
	assert_sent(head, "X-Tenant-ID", "0190a0b0-0000-7000-8000-000000000001");
	free(bearer);
	kt_resp_free(r);

	/* nothing went wrong inside nginx (no crit, alert or emerg lines) */
	char *log = nginx_log();

	if (strstr(log, "[crit]") || strstr(log, "[alert]") || strstr(log, "[emerg]"))
		fail_msg("nginx logged a serious error:\n%s", log);
	free(log);
}

/*
 * Last: the keel processes stop on SIGTERM with exit status 0, their logs free of sanitizer
 * reports (upstream_down stopped the org,audit one already, checking its status).
 */
static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&auth, NULL);
	if (org != NULL)
		kt_keel_stop_clean(&org, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(end_to_end),
	    cmocka_unit_test(routing_and_health),
	    cmocka_unit_test(request_id_and_trace),
	    cmocka_unit_test(trusted_proxy),
	    cmocka_unit_test(body_cap),
	    cmocka_unit_test(sign_in_rate_limit),
	    cmocka_unit_test(upstream_down),
	    cmocka_unit_test(headers_sent_on),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("gateway", tests, setup, teardown);
}
