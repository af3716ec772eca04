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
#include <stdarg.h>
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

/* `keel migrate up` into the current test database; fails the test (keel's output shown) if not. */
void kt_migrate_up(void);

/* Run `scripts/dev-db --dir $KEEL_TEST_DB_DIR <verb>`; returns its exit status. */
int kt_dev_db(const char *verb);

/* Connections to the current test database as keel_owner or keel_app. */
PGconn *kt_pg_owner(void);
PGconn *kt_pg_app(void);

/* First column of the first row of sql, malloc'd; NULL for SQL NULL. Fails the test on error. */
char *kt_pg_value(PGconn *c, const char *sql);
void kt_pg_exec(PGconn *c, const char *sql);

/* kt_pg_value as a number (strtol); -1 for SQL NULL. */
long kt_pg_long(PGconn *c, const char *sql);

/* Whether relation name (to_regclass: "schema.name") exists. */
bool kt_pg_relation_exists(PGconn *c, const char *name);

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
 * The usual group setup: libcurl initialized, kt_db_migrated(name), keel started with extra env
 * (kt_keel_start), and *pg (when pg is not NULL) a keel_owner connection.  NULL when the
 * migrations fail: return srv != NULL ? 0 : -1.
 */
kt_keel *kt_fixture_start(const char *name, const char *const *env, PGconn **pg);

/*
 * The matching group teardown: k stopped unless NULL (a test stopped it), pg closed unless NULL,
 * libcurl cleaned up.  0, or -1 when keel did not exit 0: return it.
 */
int kt_fixture_stop(kt_keel *k, PGconn *pg);

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

/* kt_strf with a va_list (ap is consumed). */
char *kt_vstrf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A string member of o, or "(not a string)". */
const char *kt_jstr(const json_t *o, const char *key);

/* A string member of o, or NULL. */
const char *kt_json_str(const json_t *o, const char *key);

/* n copies of unit, malloc'd. */
char *kt_repeat(const char *unit, size_t n);

/*
 * method on base + the formatted path, with "Authorization: Bearer token" when token is
 * not NULL and body (then sent as application/json) when not NULL.
 */
kt_resp *kt_api(const char *base, const char *method, const char *token, const char *body,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The body of a sign-up of tenant slug ("Tenant <slug>", owner owner@<slug>.test), malloc'd. */
char *kt_signup_body(const char *slug, const char *password);

/*
 * Sign up tenant slug ("Tenant <slug>") with owner owner@<slug>.test; fails the test unless
 * 201.  Returns the tenant id, malloc'd.
 */
char *kt_signup(const char *base, const char *slug, const char *password);

/* The body of a sign-in of email in tenant slug, malloc'd. */
char *kt_sign_in_body(const char *slug, const char *email, const char *password);

/* Sign in: the whole answer (token pair or failure). */
kt_resp *kt_sign_in(const char *base, const char *slug, const char *email, const char *password);

/* Sign in; fails the test unless 200.  Returns the access token, malloc'd. */
char *kt_login(const char *base, const char *slug, const char *email, const char *password);

/*
 * The owner (owner_token) adds <local>@<slug>.test with role, who signs in; fails the test unless
 * both succeed.  Returns that user's access token, malloc'd.
 */
char *kt_user_make(const char *base, const char *owner_token, const char *slug, const char *local,
                   const char *role, const char *password);

/* ---- a client with options; tenants, users and organizations (kt_api.c) ---- */

/*
 * How a test reaches keel: base, and optionally a local source address and a request id on every
 * request.  Zero-initialize, then set base (and source, id_prefix).
 */
typedef struct kt_client {
	const char *base;      /* keel's base URL */
	const char *source;    /* local address as for kt_request_from; NULL: the system's choice */
	const char *id_prefix; /* when set: every request carries X-Request-ID: <id_prefix>-<seq> */
	int seq;               /* requests sent with an id so far */
	char request_id[96];   /* the X-Request-ID of the last request */
} kt_client;

#define KT_EXTRA_MAX 24 /* extra headers of one kt_call */

/*
 * kt_api through c, with extra "Name: value" headers (NULL-terminated, at most KT_EXTRA_MAX; may
 * be NULL).
 */
kt_resp *kt_call(kt_client *c, const char *method, const char *token, const char *const *extra,
                 const char *body, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
kt_resp *kt_vcall(kt_client *c, const char *method, const char *token, const char *const *extra,
                  const char *body, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

/* A user: id and access token (NULL where not made). */
typedef struct kt_user {
	char *id, *token;
} kt_user;

/* A tenant made by kt_tenant_make, with the users a test adds (zeroed where not made). */
typedef struct kt_tenant {
	char *id, *slug;
	const char *password; /* every user's password */
	json_t *signup;       /* the sign-up's answer */
	kt_user owner, admin, member, viewer;
} kt_tenant;

/*
 * Sign up tenant slug ("Tenant <slug>", owner owner@<slug>.test with password) through c; fails
 * the test unless 201.  Sets id, slug, password, signup and owner.id; nobody signs in.
 */
void kt_tenant_make(kt_client *c, kt_tenant *t, const char *slug, const char *password);

/* Sign in as <who>@<slug>.test with password: the whole answer. */
kt_resp *kt_tenant_login_as(kt_client *c, const kt_tenant *t, const char *who,
                            const char *password);

/* Sign in as <who>@<slug>.test with t's password; fails the test unless 200.  The access token. */
char *kt_tenant_login(kt_client *c, const kt_tenant *t, const char *who);

/*
 * t's owner (owner.token) adds <name>@<slug>.test with role (fails the test unless 201), who
 * signs in: sets u->id and u->token.
 */
void kt_tenant_user(kt_client *c, const kt_tenant *t, kt_user *u, const char *name,
                    const char *role);

/*
 * kt_tenant_make, then the owner signed in (owner.token) and one user of each other role,
 * admin@, member@ and viewer@<slug>.test, made and signed in (admin, member, viewer).
 */
void kt_tenant_staffed(kt_client *c, kt_tenant *t, const char *slug, const char *password);

/* Free and zero. */
void kt_user_free(kt_user *u);
void kt_tenant_free(kt_tenant *t);

/* Create organization "Org <code>" with code; fails the test unless 201.  The answer's JSON. */
json_t *kt_org_create(kt_client *c, const char *token, const char *code);

/* kt_org_create's id, malloc'd. */
char *kt_org_make(kt_client *c, const char *token, const char *code);

/*
 * Create division "Division <code>" of org_id under parent (NULL: top level); fails the test
 * unless 201.  Its id, malloc'd.
 */
char *kt_div_make(kt_client *c, const char *token, const char *org_id, const char *parent,
                  const char *code);

/* ---- checks (kt_api.c) ---- */

/* Whether r has header name with exactly the value want. */
bool kt_header_is(const kt_resp *r, const char *name, const char *want);

/* Fail the test (at file:line) unless kt_header_is(r, name, want). */
void kt_check_header(const kt_resp *r, const char *name, const char *want, const char *file,
                     int line);
#define kt_assert_header(r, name, want) kt_check_header((r), (name), (want), __FILE__, __LINE__)

/* A lowercase canonical UUID of version 7 (RFC 9562 variant). */
bool kt_is_uuid_v7(const char *s);

/* Whether problem r lists an error for field: an errors[] entry with that field and a message. */
bool kt_has_field_error(const kt_resp *r, const char *field);

/* Fail the test (at file:line) unless kt_has_field_error(r, field). */
void kt_check_field_error(const kt_resp *r, const char *field, const char *file, int line);
#define kt_assert_field_error(r, field) kt_check_field_error((r), (field), __FILE__, __LINE__)

/* RFC 3339 UTC with milliseconds, as keel renders times: 2026-11-27T15:42:00.123Z. */
bool kt_is_rfc3339_ms(const char *s);

/*
 * Fail the running test with a printf message, reported at file:line (a helper's caller's
 * place, so the failure names the test's line rather than the helper's).  Needs cmocka.h.
 */
#define kt_fail_at(file, line, ...)                                                                \
	do {                                                                                           \
		print_error(__VA_ARGS__);                                                                  \
		print_error("\n");                                                                         \
		_fail(file, line);                                                                         \
	} while (0)

/* The body is in keel's one JSON style: exactly what jansson writes compact (no " : "). */
void kt_assert_compact_body(const kt_resp *r);

/*
 * Fail the test (at file:line) unless r is keel's problem+json answer of status: the status, the
 * Content-Type, a JSON body whose "status" is status, string members title and detail, and a
 * request_id that is the X-Request-ID header's; type urn:keel:problem:<slug> when slug is not
 * NULL; an errors[] entry (field and message) for field when field is not NULL.
 */
void kt_check_problem(const kt_resp *r, long status, const char *slug, const char *field,
                      const char *file, int line);
#define kt_assert_problem(r, status, slug, field)                                                  \
	kt_check_problem((r), (status), (slug), (field), __FILE__, __LINE__)

#endif
