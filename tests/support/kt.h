/*
 * kt: helpers for keel's integration tests.
 *
 * Integration tests run under scripts/test, which starts a throwaway
 * PostgreSQL cluster and exports its PG* variables and KEEL_TEST_DB_DIR.
 * Each test program makes its own database (kt_db_fresh) so programs can run
 * in parallel without seeing each other's rows, runs the real keel binary
 * against it (kt_keel_start) and talks to it over real HTTP (kt_request).
 */
#ifndef KEEL_TESTS_KT_H
#define KEEL_TESTS_KT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct kt_resp {
	long status;
	char *body;
	size_t len;
	char *headers; /* raw header block */
	json_t *json;  /* parsed body, or NULL */
} kt_resp;

/*
 * One HTTP request to base + path.  headers: NULL-terminated "Name: value"
 * strings (may be NULL).  body may be NULL.  Aborts the test on a transport
 * error; status 0 means the connection was closed without a response.
 */
kt_resp *kt_request(const char *base, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t len);
void kt_resp_free(kt_resp *r);

/*
 * kt_request from the local address source (e.g. "127.0.0.2": any 127/8 address works on
 * loopback), so a test has a client address of its own; NULL: the system's choice.
 */
kt_resp *kt_request_from(const char *source, const char *base, const char *method, const char *path,
                         const char *const *headers, const char *body, size_t len);

/* A growing, NUL-terminated byte string (start it as {calloc(1, 1), 0}). */
typedef struct kt_grow {
	char *p;
	size_t len;
} kt_grow;

/* A libcurl write or header callback appending to the kt_grow given as its data. */
size_t kt_grow_add(char *data, size_t size, size_t n, void *arg);

/* Value of a response header (case-insensitive name), malloc'd; NULL when absent. */
char *kt_header(const kt_resp *r, const char *name);

/* A TCP port on 127.0.0.1 below the ephemeral range that nothing listens on right now. */
int kt_free_port(void);

/*
 * Create (or recreate) database keel_<name> owned by keel_owner in the test
 * cluster and point PGDATABASE, KEEL_MIGRATE_DATABASE_URL and
 * KEEL_RELAY_DATABASE_URL of this process (and so of the children it starts)
 * at it.
 */
void kt_db_fresh(const char *name);

/*
 * kt_db_fresh(name), then `keel migrate up` into it; false (with keel's output printed)
 * when the migrations fail.  For a group setup: return kt_db_migrated(...) ? 0 : -1.
 */
bool kt_db_migrated(const char *name);

/* Run `scripts/dev-db --dir $KEEL_TEST_DB_DIR <verb>`; returns its exit status. */
int kt_dev_db(const char *verb);

/* Connections to the current test database as keel_owner or keel_app. */
PGconn *kt_pg_owner(void);
PGconn *kt_pg_app(void);

/* First column of the first row of sql, malloc'd; NULL for SQL NULL. Fails the test on error. */
char *kt_pg_value(PGconn *c, const char *sql);
void kt_pg_exec(PGconn *c, const char *sql);

/* Scope c's later statements to one tenant (app.tenant_id): row-level security shows its rows. */
void kt_pg_set_tenant(PGconn *c, const char *tenant_id);

/*
 * sql among tenant_id's rows: kt_pg_set_tenant(c, tenant_id) (which stays set on c), then
 * sql with the text parameters params ($1, $2, ...; NULL-terminated, so a NULL params[0]
 * or a NULL params means none).  Fails the test unless sql returns rows (PGRES_TUPLES_OK).
 * The caller PQclears the result.
 */
PGresult *kt_pg_tenant_query(PGconn *c, const char *tenant_id, const char *sql,
                             const char *const *params);

/* First column of the first row of kt_pg_tenant_query, malloc'd; NULL for SQL NULL or no row. */
char *kt_pg_tenant_value(PGconn *c, const char *tenant_id, const char *sql,
                         const char *const *params);

/* kt_pg_tenant_value as a number (atol); -1 for SQL NULL or no row. */
long kt_pg_tenant_long(PGconn *c, const char *tenant_id, const char *sql,
                       const char *const *params);

/* Run the keel binary with args (NULL-terminated) and extra "NAME=value" env; returns exit status.
 */
int kt_keel_run(const char *const *args, const char *const *env, char **output);

typedef struct kt_keel {
	pid_t pid;
	int port;
	char base[64];
	char log[256];
} kt_keel;

/* Start `keel serve` with extra env and args; waits until /healthz answers. */
kt_keel *kt_keel_start(const char *const *env, const char *const *args);

/* SIGTERM, wait; returns the exit status (or 128 + signal). Frees k. */
int kt_keel_stop(kt_keel *k);

/* kt_keel_stop, handing over the process's whole log (malloc'd). */
int kt_keel_stop_log(kt_keel *k, char **log);

/*
 * For a program's last test: stop *k (SIGTERM, wait) and set *k to NULL, so a group teardown
 * that stops what is left finds nothing to stop.  Fails the test unless keel exited 0 and its log
 * has no sanitizer report ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", UBSan's "runtime
 * error") nor any string of also (NULL-terminated; may be NULL).
 */
void kt_keel_stop_clean(kt_keel **k, const char *const *also);

/* The keel process's log so far, malloc'd. */
char *kt_keel_log(const kt_keel *k);

/*
 * keel started in the background by kt_keel_spawn (for commands that must
 * overlap, e.g. two `migrate up` at once); its stdout and stderr go to a file.
 */
typedef struct kt_run kt_run;

kt_run *kt_keel_spawn(const char *const *args, const char *const *env);

/*
 * Wait at most timeout_ms for r to exit (then SIGKILL it: status 128 + 9).
 * Returns the exit status; *output as for kt_keel_run. Frees r.
 */
int kt_keel_wait(kt_run *r, long long timeout_ms, char **output);

/* A new empty directory under $KEEL_TEST_TMP (or /tmp); the path is malloc'd. */
char *kt_tmpdir(void);

/* Write text to dir/name, replacing the file. */
void kt_write_file(const char *dir, const char *name, const char *text);

/* Remove a file of dir (no error when it is absent). */
void kt_remove_file(const char *dir, const char *name);

/* Remove a directory made by kt_tmpdir with the files in it (not subdirectories); frees dir. */
void kt_tmpdir_remove(char *dir);

/* Whole file as a string, malloc'd; NULL if it can't be read. */
char *kt_read_file(const char *path);

/* Milliseconds on a monotonic clock. */
long long kt_now_ms(void);

/* ---- keel's API (kt_api.c) ---- */

/* Fail the test unless r answered code, showing the body. */
#define kt_assert_status(r, code)                                                                  \
	do {                                                                                           \
		if ((r)->status != (code))                                                                 \
			fail_msg("HTTP status %ld, expected %d; body: %s", (r)->status, (int)(code),           \
			         (r)->body);                                                                   \
	} while (0)

/* A formatted string, malloc'd. */
char *kt_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A string member of o, or "(not a string)". */
const char *kt_jstr(const json_t *o, const char *key);

/*
 * method on base + the formatted path, with "Authorization: Bearer token" when token is
 * not NULL and body (then sent as application/json) when not NULL.
 */
kt_resp *kt_api(const char *base, const char *method, const char *token, const char *body,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Sign up tenant slug ("Tenant <slug>") with owner owner@<slug>.test; fails the test unless
 * 201.  Returns the tenant id, malloc'd.
 */
char *kt_signup(const char *base, const char *slug, const char *password);

/* Sign in; fails the test unless 200.  Returns the access token, malloc'd. */
char *kt_login(const char *base, const char *slug, const char *email, const char *password);

/*
 * The owner (owner_token) adds <role>@<slug>.test with role, who signs in; returns that
 * user's access token, malloc'd.
 */
char *kt_user_make(const char *base, const char *owner_token, const char *slug, const char *role,
                   const char *password);

#endif
