/*
 * kt: integration-test helpers (see kt.h).
 */
#include "kt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long
kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t
kt_grow_add(char *data, size_t size, size_t n, void *arg)
{
	kt_grow *g = arg;
	size_t add = size * n;

	g->p = realloc(g->p, g->len + add + 1);
	memcpy(g->p + g->len, data, add);
	g->len += add;
	g->p[g->len] = '\0';
	return add;
}

kt_resp *
kt_request(const char *base, const char *method, const char *path, const char *const *headers,
           const char *body, size_t len)
{
	return kt_request_from(NULL, base, method, path, headers, body, len);
}

kt_resp *
kt_request_from(const char *source, const char *base, const char *method, const char *path,
                const char *const *headers, const char *body, size_t len)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	kt_grow b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
	char *url = malloc(strlen(base) + strlen(path) + 1);
	kt_resp *r = calloc(1, sizeof(*r));

	strcpy(url, base);
	strcat(url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, kt_grow_add);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, kt_grow_add);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (source != NULL)
		curl_easy_setopt(c, CURLOPT_INTERFACE, source);
	/*
	 * No "Expect: 100-continue" (an empty header removes libcurl's): a body goes at once, as
	 * most clients send it, so a refusal keel gives before reading it (413) meets a body still
	 * arriving, which keel's lingering close must survive (src/http/README.md).
	 */
	hl = curl_slist_append(hl, "Expect:");
	for (const char *const *p = headers; p && *p; p++)
		hl = curl_slist_append(hl, *p);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	CURLcode rc = curl_easy_perform(c);

	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else if (rc != CURLE_GOT_NOTHING && rc != CURLE_RECV_ERROR && rc != CURLE_SEND_ERROR)
		fail_msg("%s %s%s: %s", method, base, path, curl_easy_strerror(rc));
	r->body = b.p;
	r->len = b.len;
	r->headers = h.p;
	r->json = json_loadb(b.p, b.len, 0, NULL);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
	return r;
}

void
kt_resp_free(kt_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	free(r);
}

char *
kt_header(const kt_resp *r, const char *name)
{
	size_t nl = strlen(name);

	for (const char *line = r->headers; line && *line;) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;

			while (*v == ' ')
				v++;
			return strndup(v, (size_t)(line + len - v));
		}
		line = end ? end + 2 : line + len;
	}
	return NULL;
}

int
kt_free_port(void)
{
	/*
	 * Below the ephemeral range (32768 and up on Linux), which the kernel hands to outgoing
	 * connections: a port of that range found free now may be a client's local port a moment
	 * later, before keel binds it.
	 */
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)kt_now_ms();
	for (int i = 0; i < 500; i++) {
		int port = 20000 + (int)(rand_r(&seed) % 12000);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

		assert_true(fd >= 0);
		int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

		close(fd);
		if (ok)
			return port;
	}
	fail_msg("no free port below the ephemeral range");
	return -1;
}

static const char *
need_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL)
		fail_msg("%s is not set: run integration tests through `make test`", name);
	return v;
}

int
kt_dev_db(const char *verb)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/scripts/dev-db --dir '%s' %s >/dev/null", KEEL_SOURCE_DIR,
	         need_env("KEEL_TEST_DB_DIR"), verb);
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void
kt_db_fresh(const char *name)
{
	char verb[256], db[128], url[1024];

	snprintf(db, sizeof(db), "keel_%s", name);
	snprintf(verb, sizeof(verb), "createdb %s", db);
	assert_int_equal(kt_dev_db(verb), 0);
	setenv("PGDATABASE", db, 1);
	snprintf(url, sizeof(url), "host=%s port=%s dbname=%s user=keel_owner", need_env("PGHOST"),
	         need_env("PGPORT"), db);
	setenv("KEEL_MIGRATE_DATABASE_URL", url, 1);
	snprintf(url, sizeof(url), "host=%s port=%s dbname=%s user=keel_relay", need_env("PGHOST"),
	         need_env("PGPORT"), db);
	setenv("KEEL_RELAY_DATABASE_URL", url, 1);
}

/* `keel migrate up` into the current database; false (with keel's output printed) on failure. */
static bool
migrate_up(void)
{
	const char *up[] = {"migrate", "up", NULL};
	char *out = NULL;
	bool ok = kt_keel_run(up, NULL, &out) == 0;

	if (!ok)
		print_error("keel migrate up failed:\n%s\n", out ? out : "");
	free(out);
	return ok;
}

bool
kt_db_migrated(const char *name)
{
	kt_db_fresh(name);
	return migrate_up();
}

void
kt_migrate_up(void)
{
	if (!migrate_up())
		fail_msg("keel migrate up failed");
}

kt_keel *
kt_fixture_start(const char *name, const char *const *env, PGconn **pg)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!kt_db_migrated(name))
		return NULL;
	kt_keel *k = kt_keel_start(env, NULL);

	if (pg != NULL)
		*pg = kt_pg_owner();
	return k;
}

int
kt_fixture_stop(kt_keel *k, PGconn *pg)
{
	int status = k != NULL ? kt_keel_stop(k) : 0;

	if (pg != NULL)
		PQfinish(pg);
	curl_global_cleanup();
	return status == 0 ? 0 : -1;
}

static PGconn *
connect_as(const char *user)
{
	const char *keys[] = {"user", NULL};
	const char *vals[] = {user, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 0);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect as %s: %s", user, PQerrorMessage(c));
	return c;
}

PGconn *
kt_pg_owner(void)
{
	return connect_as("keel_owner");
}

PGconn *
kt_pg_app(void)
{
	return connect_as("keel_app");
}

void
kt_pg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

char *
kt_pg_value(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));

	PQclear(r);
	return v;
}

long
kt_pg_long(PGconn *c, const char *sql)
{
	char *v = kt_pg_value(c, sql);
	long n = v != NULL ? strtol(v, NULL, 10) : -1;

	free(v);
	return n;
}

bool
kt_pg_relation_exists(PGconn *c, const char *name)
{
	const char *p[] = {name};
	PGresult *r = PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("to_regclass(%s): %s", name, PQerrorMessage(c));
	bool yes = strcmp(PQgetvalue(r, 0, 0), "t") == 0;

	PQclear(r);
	return yes;
}

char *
kt_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return NULL;
	kt_grow g = {calloc(1, 1), 0};
	char buf[4096];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		kt_grow_add(buf, 1, n, &g);
	fclose(f);
	return g.p;
}

/* Does environment entry e ("NAME=value") set the variable that extra sets? */
static bool
same_name(const char *e, const char *extra)
{
	size_t n = strcspn(extra, "=");

	return strncmp(e, extra, n) == 0 && e[n] == '=';
}

/*
 * In a forked child: exec keel with args and this process's environment plus
 * env (which wins).  Nothing here allocates: the parent may have threads (a
 * test's Kafka mock cluster), and one of them may have held the allocator's
 * lock at the fork.
 */
static void
child_exec(const char *const *args, const char *const *env, int outfd)
{
	const char *argv[32];
	const char *envp[1024];
	int n = 0, ne = 0;

	argv[n++] = KEEL_TEST_BINARY;
	for (const char *const *a = args; a && *a && n < 31; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	for (char **e = environ; *e != NULL && ne < 960; e++) {
		bool replaced = false;

		for (const char *const *x = env; x && *x && !replaced; x++)
			replaced = same_name(*e, *x);
		if (!replaced)
			envp[ne++] = *e;
	}
	for (const char *const *x = env; x && *x && ne < 1023; x++) {
		bool later = false; /* the last of env's settings of a name wins */

		for (const char *const *y = x + 1; *y && !later; y++)
			later = same_name(*y, *x);
		if (!later)
			envp[ne++] = *x;
	}
	envp[ne] = NULL;
	dup2(outfd, STDOUT_FILENO);
	dup2(outfd, STDERR_FILENO);
	execve(KEEL_TEST_BINARY, (char *const *)argv, (char *const *)envp);
	_exit(127);
}

int
kt_keel_run(const char *const *args, const char *const *env, char **output)
{
	char path[] = "/tmp/kt-run-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	pid_t pid = fork();

	if (pid == 0)
		child_exec(args, env, fd);
	int st;

	waitpid(pid, &st, 0);
	close(fd);
	char *out = kt_read_file(path);

	unlink(path);
	if (output != NULL)
		*output = out;
	else
		free(out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The inode of the socket listening on 127.0.0.1:port (/proc/net/tcp), 0 when none. */
static unsigned long
listener_inode(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long inode = 0;
	unsigned want = (unsigned)port;

	if (f == NULL)
		return 0;
	while (inode == 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned addr, lport, st;
		unsigned long ino;

		/* "  0: 0100007F:4E20 00000000:0000 0A ... uid timeout inode" */
		if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X %*8X:%*8X %*2X:%*8X %*8X %*u %*d %lu", &addr,
		           &lport, &st, &ino) == 4 &&
		    lport == want && st == 0x0A && addr == htonl(INADDR_LOOPBACK))
			inode = ino;
	}
	fclose(f);
	return inode;
}

/* Whether process pid holds the socket listening on 127.0.0.1:port. */
static bool
listens_on(pid_t pid, int port)
{
	unsigned long inode = listener_inode(port);
	char dir[64], want[64], path[320], link[64];
	DIR *d;
	bool found = false;

	if (inode == 0)
		return false;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((d = opendir(dir)) == NULL)
		return false;
	for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* GET /healthz answered 200 at base. */
static bool
healthz_ok(const char *base)
{
	CURL *c = curl_easy_init();
	char url[128];
	long code = 0;

	snprintf(url, sizeof(url), "%s/healthz", base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code == 200;
}

typedef enum { START_OK, START_PORT_TAKEN } start_result;

/*
 * Start keel on a free port and wait until it answers /healthz on the socket it holds itself:
 * a port found free may be taken by another process (another test program, another suite on
 * the machine) before keel binds it, and then the /healthz answer would come from that one.
 */
static start_result
keel_start_once(kt_keel *k, const char *const *argv, const char **envs, char *listen,
                size_t listen_len)
{
	const char *dir = getenv("KEEL_TEST_TMP") ? getenv("KEEL_TEST_TMP") : "/tmp";

	k->port = kt_free_port();
	snprintf(k->base, sizeof(k->base), "http://127.0.0.1:%d", k->port);
	snprintf(listen, listen_len, "KEEL_LISTEN=127.0.0.1:%d", k->port);
	snprintf(k->log, sizeof(k->log), "%s/keel-%d.log", dir, k->port);

	int fd = open(k->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	k->pid = fork();
	if (k->pid == 0)
		child_exec(argv, envs, fd);
	close(fd);
	for (long long until = kt_now_ms() + 15000; kt_now_ms() < until;) {
		int st;

		if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
			char *log = kt_keel_log(k);

			if (log != NULL && strstr(log, "could not listen on") != NULL) {
				free(log);
				return START_PORT_TAKEN;
			}
			fail_msg("keel exited during start-up:\n%s", log ? log : "");
		}
		if (listens_on(k->pid, k->port) && healthz_ok(k->base))
			return START_OK;
		usleep(20000);
	}
	fail_msg("keel did not answer /healthz within 15 s");
	return START_PORT_TAKEN;
}

kt_keel *
kt_keel_start(const char *const *env, const char *const *args)
{
	kt_keel *k = calloc(1, sizeof(*k));
	char listen[64];
	const char *argv[16] = {"serve"};
	const char *envs[64] = {listen};
	int n = 1, ne = 1;

	for (const char *const *a = args; a && *a && n < 15; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	for (const char *const *e = env; e && *e && ne < 63; e++)
		envs[ne++] = *e;
	envs[ne] = NULL;
	for (int attempt = 0; attempt < 5; attempt++) {
		if (keel_start_once(k, argv, envs, listen, sizeof(listen)) == START_OK)
			return k;
		unlink(k->log);
	}
	fail_msg("keel found its port taken five times in a row");
	return NULL;
}

char *
kt_keel_log(const kt_keel *k)
{
	return kt_read_file(k->log);
}

int
kt_keel_stop(kt_keel *k)
{
	return kt_keel_stop_log(k, NULL);
}

int
kt_keel_stop_log(kt_keel *k, char **log_out)
{
	int st = 0;

	kill(k->pid, SIGTERM);
	for (long long until = kt_now_ms() + 20000;;) {
		if (waitpid(k->pid, &st, WNOHANG) == k->pid)
			break;
		if (kt_now_ms() > until) {
			kill(k->pid, SIGKILL);
			waitpid(k->pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

	if (code != 0) {
		char *log = kt_keel_log(k);

		print_error("keel exited with %d; its log:\n%s\n", code, log ? log : "");
		free(log);
	}
	if (log_out != NULL)
		*log_out = kt_keel_log(k);
	unlink(k->log);
	free(k);
	return code;
}

void
kt_keel_stop_clean(kt_keel **k, const char *const *also)
{
	static const char *const reports[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
	                                      "runtime error", NULL};
	char *log = NULL;

	if (*k == NULL)
		fail_msg("keel is not running");
	int status = kt_keel_stop_log(*k, &log);

	*k = NULL;
	assert_non_null(log);
	for (const char *const *s = reports; *s != NULL; s++)
		if (strstr(log, *s) != NULL)
			fail_msg("keel's log has \"%s\":\n%s", *s, strstr(log, *s));
	for (const char *const *s = also; s != NULL && *s != NULL; s++)
		if (strstr(log, *s) != NULL)
			fail_msg("keel's log has \"%s\":\n%s", *s, strstr(log, *s));
	free(log);
	if (status != 0)
		fail_msg("keel exited with %d", status);
}

struct kt_run {
	pid_t pid;
	char path[64];
};

kt_run *
kt_keel_spawn(const char *const *args, const char *const *env)
{
	kt_run *r = calloc(1, sizeof(*r));

	snprintf(r->path, sizeof(r->path), "/tmp/kt-run-XXXXXX");
	int fd = mkstemp(r->path);

	assert_true(fd >= 0);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0)
		child_exec(args, env, fd);
	close(fd);
	return r;
}

int
kt_keel_wait(kt_run *r, long long timeout_ms, char **output)
{
	int st = 0;

	for (long long until = kt_now_ms() + timeout_ms;;) {
		if (waitpid(r->pid, &st, WNOHANG) == r->pid)
			break;
		if (kt_now_ms() > until) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	char *out = kt_read_file(r->path);

	unlink(r->path);
	free(r);
	if (output != NULL)
		*output = out;
	else
		free(out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *
kt_tmpdir(void)
{
	const char *base = getenv("KEEL_TEST_TMP") ? getenv("KEEL_TEST_TMP") : "/tmp";
	size_t len = strlen(base) + sizeof("/kt-dir-XXXXXX");
	char *dir = malloc(len);

	snprintf(dir, len, "%s/kt-dir-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp %s: %s", dir, strerror(errno));
	return dir;
}

void
kt_write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fail_msg("could not write %s: %s", path, strerror(errno));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

void
kt_remove_file(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

void
kt_tmpdir_remove(char *dir)
{
	DIR *d = opendir(dir);

	if (d != NULL) {
		for (struct dirent *e; (e = readdir(d)) != NULL;)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				kt_remove_file(dir, e->d_name);
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

void
kt_pg_set_tenant(PGconn *c, const char *tenant_id)
{
	const char *p[] = {tenant_id};
	PGresult *r =
	    PQexecParams(c, "SELECT set_config('app.tenant_id', $1, false)", 1, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("set app.tenant_id: %s", PQerrorMessage(c));
	PQclear(r);
}

PGresult *
kt_pg_tenant_query(PGconn *c, const char *tenant_id, const char *sql, const char *const *params)
{
	int n = 0;

	while (params != NULL && params[n] != NULL)
		n++;
	kt_pg_set_tenant(c, tenant_id);
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	return res;
}

char *
kt_pg_tenant_value(PGconn *c, const char *tenant_id, const char *sql, const char *const *params)
{
	PGresult *res = kt_pg_tenant_query(c, tenant_id, sql, params);
	char *v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;

	PQclear(res);
	return v;
}

long
kt_pg_tenant_long(PGconn *c, const char *tenant_id, const char *sql, const char *const *params)
{
	char *v = kt_pg_tenant_value(c, tenant_id, sql, params);
	long n = v != NULL ? atol(v) : -1;

	free(v);
	return n;
}
