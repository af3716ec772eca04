/*
 * The tenant-leak property test: a seeded random walk of API calls by the
 * users of five tenants, asserting after every response that nothing of
 * another tenant is in it and that its status is the one a model of each
 * tenant's data predicts, and comparing the model with the database.
 *
 * Each tenant has an owner, an admin, a member and a viewer, signed in once
 * (password hashing is slow under ASan); every call is made by one of them
 * at random.  The walk creates, reads, lists (keyset pages, ?status=, ?q=,
 * ?parent_id=), updates (with and without If-Match, stale ones too) and
 * deletes organizations, divisions and users, queries the audit log, reads
 * and renames the tenant, and makes crafted requests from what the other
 * tenants' responses showed: their organization, division and user ids in
 * paths, filters and parent_id, their cursors, codes, Idempotency-Keys and
 * tenant ids (X-Tenant-ID).  Every name, code and email carries its
 * tenant's marker (LkT<n>x).
 *
 * The ledger too: organizations open books (a ledger in a currency, and with
 * it the fiscal year 2026 of monthly periods; an organization that keeps
 * books is not deleted, 409), charts of accounts grow (groups and children
 * of their type, codes unique per organization; renamed, deactivated,
 * deleted while nothing names them), journal entries of two balanced lines
 * (some in divisions of the organization, which then are not deleted) are
 * drafted (member), changed, deleted, posted (admin, at once or later:
 * numbered GEN-2026-NNNNNN / SAL-..., consecutive per journal and
 * organization; refused for an inactive account or a date in no open
 * period) and reversed once; periods are closed in order, the latest one
 * reopened, the earliest locked; the model's sums per account and month
 * predict the trial balance (totals, rows, groups rolled up) and each
 * account ledger (opening, running balance, pages).  Another tenant's
 * account, entry, period and fiscal-year ids go into paths (404, as for no
 * row), its accounts into lines, parent_id and rounding_account_id and its
 * divisions into lines and ?division_id= (422 naming the field, worded as
 * for an id of no row), its cursors into the Finance lists.  After every
 * response:
 *
 *   - the raw headers and body hold no marker of another tenant, and no id
 *     another tenant's responses or sign-up gave (a 4xx may echo what the
 *     request itself sent, as the problem's instance does);
 *   - the status is exactly the model's: 403 for a role too low, 404 for
 *     another tenant's ids and for rows deleted, 409, 412, 422 where the
 *     rules say, else 200/201/204 with every field as the model has it, and
 *     a list page is exactly the model's rows after the cursor (a cursor of
 *     another tenant is only a position in the caller's own rows), and a 404
 *     for another tenant's id reads like the one for an id of no row at all;
 *   - per entity, the audit log has exactly one row per change it saw.
 *
 * Periodically and at the end the model is compared with the database, as
 * keel_owner with each tenant set (row-level security is forced on the
 * owner too): organizations, divisions, users, ledgers, fiscal years,
 * periods, accounts, journal entries and what was posted, and the audit
 * rows of each.
 *
 * The seed comes from KEEL_TEST_SEED or the clock and is printed at the
 * start and on failure; the number of calls from KEEL_TEST_LEAK_CALLS (default
 * 10,000; taken out of the environment before keel starts, which refuses
 * KEEL_* settings it does not know).  Each tenant walks on a thread of its own (only it changes its
 * rows, so its model is exact) and reads the others' observations from a
 * shared, locked pool; KEEL_TEST_LEAK_THREADS=1 walks all five round-robin on one
 * thread, so that the crafted requests, too, repeat exactly for a seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kt.h"

#define PASSWORD "correct horse battery staple"
#define ORGS     "/api/v1/organizations"
#define NT       5   /* tenants */
#define POOL     64  /* observations kept per tenant and kind */
#define CHECK_DB 400 /* compare with the database every this many calls of a tenant */
#define NMONTHS  12  /* the periods of a fiscal year (2026, monthly) */
#define FY_NAME  "2026"

enum journal { J_GENERAL, J_SALES, NJOURNALS };

enum period_status { P_OPEN, P_CLOSED, P_LOCKED };

static const char *const period_statuses[] = {"open", "closed", "locked"};

static const char *const journal_names[NJOURNALS] = {"general", "sales"};
static const char *const journal_prefixes[NJOURNALS] = {"GEN", "SAL"};
static const char *const acct_types[] = {"asset", "liability", "equity", "income", "expense"};

enum role { OWNER, ADMIN, MEMBER, VIEWER, NROLES };

static const char *const role_names[] = {"owner", "admin", "member", "viewer"};

/* ---- the model of one tenant ---- */

typedef struct org_m {
	char id[37];
	char *name, *code, *description, *status;
	json_t *settings;
	long version;
	int audit; /* audit rows of it */
	bool alive;
	/* its books: a ledger, the fiscal year 2026 of monthly periods, the numbers per journal */
	bool ledger;
	char currency[4];
	int rounding; /* index into accts, -1: none */
	long ledger_version;
	int ledger_audit;
	char fy[37];
	char period[NMONTHS][37];
	int period_status[NMONTHS]; /* enum period_status */
	long period_version[NMONTHS];
	long last_number[NJOURNALS];
	bool hr; /* it has HR records (employees, calendars, leave types): not deleted */
} org_m;

typedef struct div_m {
	char id[37];
	int org, parent; /* indexes into orgs and divs; parent -1: a top-level division */
	char *name, *code, *description;
	long version;
	int audit;
	bool alive;
	bool positions; /* HR positions are in it: not deleted */
} div_m;

typedef struct user_m {
	char id[37];
	char *email;
	int role;
	bool active;
	long version;
	int audit;
	bool alive;
	bool actor; /* one of the four signed in: never changed */
} user_m;

/* An account: its posted amounts (minor units) per month of 2026. */
typedef struct acct_m {
	char id[37];
	int org, parent; /* indexes into orgs and accts; parent -1: none */
	char *code, *name;
	int type; /* index into acct_types */
	bool group, active, alive;
	long version;
	int audit;
	long debit[NMONTHS], credit[NMONTHS];
} acct_m;

/* An HR row: its kind (enum obs: OBS_EMP, OBS_HRCAL, OBS_POS, OBS_LTYPE, OBS_LREQ), organization.
 */
typedef struct hr_m {
	char id[37];
	int kind, org;
} hr_m;

/* A journal entry of two lines: line k books amount on account acct[k], debit[k] or credit. */
typedef struct entry_m {
	char id[37];
	int org, journal;
	int month, day; /* month 12: in 2027, outside the fiscal year */
	int acct[2];
	int div[2]; /* the lines' divisions (indexes into divs), -1: none */
	bool debit[2];
	long amount;
	char line[2][37];
	char *memo;
	bool posted, reversal, alive;
	int reverses, reversed_by; /* indexes into entries, -1: none */
	long number;
	long version;
	int audit;
} entry_m;

typedef struct runner runner;

typedef struct walker {
	int idx;
	char marker[8]; /* "LkT3x" */
	char slug[32];
	char *tenant_id;
	char *tenant_name;
	long tenant_version;
	char *token[NROLES];
	int actor[NROLES]; /* index into users */
	org_m *orgs;
	int norgs;
	div_m *divs;
	int ndivs;
	user_m *users;
	int nusers;
	acct_m *accts;
	int naccts;
	entry_m *entries;
	int nentries;
	hr_m *hr;
	int nhr;
	int seq;
	char *used_keys[64]; /* other tenants' Idempotency-Keys this one used */
	int nused;
	uint64_t rng;
	long calls, target;
	CURL *curl;
	PGconn *pg; /* keel_owner */
	runner *run;
	/* the request in flight, for failure messages and the echo rule */
	char *req_text;
	const char *op;
	int role; /* of the call in flight; -1: none */
} walker;

/* ---- shared between the walkers ---- */

typedef struct ring {
	char *item[POOL];
	unsigned n;
} ring;

enum obs {
	OBS_ORG,
	OBS_DIV,
	OBS_USER,
	OBS_CODE,
	OBS_ORG_CURSOR,
	OBS_DIV_CURSOR,
	OBS_USER_CURSOR,
	OBS_AUDIT_CURSOR,
	OBS_KEY,
	OBS_ACCT,
	OBS_ENTRY,
	OBS_PERIOD,
	OBS_FY,
	OBS_ACCT_CURSOR,
	OBS_PERIOD_CURSOR,
	OBS_ENTRY_CURSOR,
	OBS_LEDGER_CURSOR,
	OBS_FY_CURSOR,
	OBS_EMP,   /* HR rows: an employee */
	OBS_HRCAL, /* a holiday calendar */
	OBS_POS,   /* a position */
	OBS_LTYPE, /* a leave type */
	OBS_LREQ,  /* a leave request */
	NOBS
};

static struct {
	pthread_mutex_t lock;
	ring obs[NT][NOBS];
} shared = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Which tenant an id belongs to: an open-addressing set of every id handed out. */
#define IDS_CAP (1u << 17)

static struct {
	pthread_rwlock_t lock;
	char (*id)[37];
	signed char *tenant;
	unsigned count;
} ids = {.lock = PTHREAD_RWLOCK_INITIALIZER};

struct runner {
	jmp_buf jb;
	pthread_t thread;
	walker **walkers;
	int nwalkers;
};

static kt_keel *srv;
static walker W[NT];
static unsigned long long seed;
static long n_calls, n_threads; /* KEEL_TEST_LEAK_CALLS, KEEL_TEST_LEAK_THREADS */
static atomic_bool stop_all;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char *failure; /* the first failure, reported by the main thread */

/* The kinds of call, counted (and by status) for the summary. */
enum op {
	OP_ORG_CREATE,
	OP_ORG_GET,
	OP_ORG_LIST,
	OP_ORG_PATCH,
	OP_ORG_DELETE,
	OP_DIV_CREATE,
	OP_DIV_GET,
	OP_DIV_LIST,
	OP_DIV_PATCH,
	OP_DIV_DELETE,
	OP_USER_CREATE,
	OP_USER_GET,
	OP_USER_LIST,
	OP_USER_PATCH,
	OP_USER_DELETE,
	OP_AUDIT,
	OP_TENANT,
	OP_ME,
	OP_FOREIGN_ID,
	OP_FOREIGN_CURSOR,
	OP_FOREIGN_OTHER,
	OP_LEDGER,
	OP_ACCT_CREATE,
	OP_ACCT_GET,
	OP_ACCT_LIST,
	OP_ACCT_PATCH,
	OP_FISCAL,
	OP_ENTRY_CREATE,
	OP_ENTRY_GET,
	OP_ENTRY_LIST,
	OP_ENTRY_POST,
	OP_ENTRY_REVERSE,
	OP_TRIAL_BALANCE,
	OP_ACCT_DELETE,
	OP_ENTRY_PATCH,
	OP_ENTRY_DELETE,
	OP_PERIOD,
	OP_ACCT_LEDGER,
	OP_FOREIGN_FIN,
	OP_HR,
	OP_FOREIGN_HR,
	OP_DB_CHECK,
	N_OPS
};

static const char *const op_names[N_OPS] = {"org create",     "org get",
                                            "org list page",  "org patch",
                                            "org delete",     "div create",
                                            "div get",        "div list page",
                                            "div patch",      "div delete",
                                            "user create",    "user get",
                                            "user list page", "user patch",
                                            "user delete",    "audit query",
                                            "tenant",         "me",
                                            "foreign id",     "foreign cursor",
                                            "foreign other",  "ledger",
                                            "account create", "account get",
                                            "account list",   "account patch",
                                            "fiscal year",    "entry create",
                                            "entry get",      "entry list page",
                                            "entry post",     "entry reverse",
                                            "trial balance",  "account delete",
                                            "entry patch",    "entry delete",
                                            "period",         "account ledger",
                                            "foreign fin",    "hr",
                                            "foreign hr",     "db check"};
static atomic_long op_count[N_OPS], status_count[600];

/* ---- failing from any thread ---- */

static void walk_fail(walker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void
walk_fail(walker *w, const char *fmt, ...)
{
	va_list ap;
	char msg[4096];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fail_lock);
	if (failure == NULL)
		failure = kt_strf("seed %llu (KEEL_TEST_SEED=%llu reproduces), tenant %d, its call %ld"
		                  " (%s by the %s):\n%s\nrequest: %s",
		                  seed, seed, w->idx, w->calls, w->op ? w->op : "-",
		                  w->role >= 0 ? role_names[w->role] : "nobody", msg,
		                  w->req_text ? w->req_text : "-");
	pthread_mutex_unlock(&fail_lock);
	atomic_store(&stop_all, true);
	longjmp(w->run->jb, 1);
}

/* ---- randomness (xorshift64*, one stream per tenant) ---- */

static uint64_t
rnd64(walker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ull;
}

static int
rnd(walker *w, int n)
{
	return n <= 1 ? 0 : (int)(rnd64(w) % (uint64_t)n);
}

static bool
chance(walker *w, int percent)
{
	return rnd(w, 100) < percent;
}

/* ---- the id registry and the observation pool ---- */

static unsigned
id_hash(const char *id)
{
	unsigned h = 2166136261u;

	for (int i = 0; i < 36; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return h & (IDS_CAP - 1);
}

static void
id_register(walker *w, const char *id, int tenant)
{
	if (strlen(id) != 36)
		walk_fail(w, "not an id: \"%s\"", id);
	pthread_rwlock_wrlock(&ids.lock);
	unsigned h = id_hash(id);

	while (ids.tenant[h] >= 0 && strcmp(ids.id[h], id) != 0)
		h = (h + 1) & (IDS_CAP - 1);
	if (ids.tenant[h] >= 0 && ids.tenant[h] != tenant) {
		pthread_rwlock_unlock(&ids.lock);
		walk_fail(w, "id %s of tenant %d was shown to tenant %d before", id, ids.tenant[h], tenant);
	}
	if (ids.tenant[h] < 0) {
		memcpy(ids.id[h], id, 37);
		ids.tenant[h] = (signed char)tenant;
		if (++ids.count > IDS_CAP / 2)
			abort(); /* the walk is far larger than planned */
	}
	pthread_rwlock_unlock(&ids.lock);
}

/* The tenant of id (36 characters at p), or -1. */
static int
id_owner(const char *p)
{
	int t = -1;

	pthread_rwlock_rdlock(&ids.lock);
	for (unsigned h = id_hash(p); ids.tenant[h] >= 0; h = (h + 1) & (IDS_CAP - 1))
		if (memcmp(ids.id[h], p, 36) == 0) {
			t = ids.tenant[h];
			break;
		}
	pthread_rwlock_unlock(&ids.lock);
	return t;
}

static void
observe(walker *w, enum obs kind, const char *text)
{
	pthread_mutex_lock(&shared.lock);
	ring *r = &shared.obs[w->idx][kind];

	free(r->item[r->n % POOL]);
	r->item[r->n % POOL] = strdup(text);
	r->n++;
	pthread_mutex_unlock(&shared.lock);
}

/* Something another tenant saw of kind (malloc'd), and which tenant in *from; NULL if none yet. */
static char *
foreign(walker *w, enum obs kind, int *from)
{
	int t = (w->idx + 1 + rnd(w, NT - 1)) % NT;
	char *v = NULL;

	pthread_mutex_lock(&shared.lock);
	ring *r = &shared.obs[t][kind];

	if (r->n > 0)
		v = strdup(r->item[(unsigned)rnd(w, (int)(r->n < POOL ? r->n : POOL))]);
	pthread_mutex_unlock(&shared.lock);
	if (from != NULL)
		*from = t;
	return v;
}

/* ---- HTTP ---- */

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A lowercase canonical UUID at p (36 characters of len)? */
static bool
uuid_at(const char *p, size_t len)
{
	if (len < 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-')
		return false;
	for (int i = 0; i < 36; i++)
		if (i != 8 && i != 13 && i != 18 && i != 23 && !is_hex(p[i]))
			return false;
	return true;
}

/* The request sent contains the 36 (or 5) characters at p? */
static bool
sent(const walker *w, const char *p, size_t n, bool nocase)
{
	size_t len = w->req_text ? strlen(w->req_text) : 0;

	for (size_t i = 0; i + n <= len; i++)
		if (nocase ? strncasecmp(w->req_text + i, p, n) == 0 : strncmp(w->req_text + i, p, n) == 0)
			return true;
	return false;
}

/* Nothing of another tenant in text (see the file header). */
static void
scan(walker *w, const char *text, size_t len, long status)
{
	bool echo_ok = status >= 400;

	for (size_t i = 0; i + 5 <= len; i++) {
		const char *p = text + i;

		if (uuid_at(p, len - i)) {
			int t = id_owner(p);

			if (t >= 0 && t != w->idx && !(echo_ok && sent(w, p, 36, false)))
				walk_fail(w,
				          "LEAK: id %.36s of tenant %d in a response to tenant %d (HTTP %ld):\n%s",
				          p, t, w->idx, status, text);
			i += 35;
			continue;
		}
		if ((p[0] == 'L' || p[0] == 'l') && (p[1] == 'k' || p[1] == 'K') &&
		    (p[2] == 'T' || p[2] == 't') && p[3] >= '0' && p[3] < '0' + NT &&
		    (p[4] == 'x' || p[4] == 'X') && p[3] - '0' != w->idx &&
		    !(echo_ok && sent(w, p, 5, true)))
			walk_fail(w,
			          "LEAK: marker %.5s of tenant %d in a response to tenant %d (HTTP %ld):\n%s",
			          p, p[3] - '0', w->idx, status, text);
	}
}

/*
 * One call of the walk: method on path with the role's token (role -1: none)
 * and body (JSON) or NULL, plus extra headers.  Counts it, scans the answer
 * for leaks and returns it.
 */
static kt_resp *
call(walker *w, enum op op, int role, const char *const *extra, const char *method,
     const char *body, const char *path)
{
	struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
	kt_grow b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
	char *url = kt_strf("%s%s", srv->base, path);
	kt_resp *r = calloc(1, sizeof(*r));
	char auth[2048];

	free(w->req_text);
	w->req_text = kt_strf("%s %s%s%s%s%s", method, path, body ? " " : "", body ? body : "",
	                      extra && extra[0] ? " " : "", extra && extra[0] ? extra[0] : "");
	w->op = op_names[op];
	w->role = role;
	if (role >= 0) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token[role]);
		hl = curl_slist_append(hl, auth);
	}
	if (body != NULL)
		hl = curl_slist_append(hl, "Content-Type: application/json");
	for (const char *const *e = extra; e != NULL && *e != NULL; e++)
		hl = curl_slist_append(hl, *e);
	curl_easy_reset(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, kt_grow_add);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, kt_grow_add);
	curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	CURLcode rc = curl_easy_perform(w->curl);

	curl_slist_free_all(hl);
	free(url);
	if (rc != CURLE_OK)
		walk_fail(w, "transport error: %s", curl_easy_strerror(rc));
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = b.p;
	r->len = b.len;
	r->headers = h.p;
	r->json = json_loadb(b.p, b.len, 0, NULL);
	w->calls++;
	atomic_fetch_add(&op_count[op], 1);
	atomic_fetch_add(&status_count[r->status >= 0 && r->status < 600 ? r->status : 0], 1);
	scan(w, r->headers, h.len, r->status);
	scan(w, r->body, r->len, r->status);
	if (r->status >= 500)
		walk_fail(w, "HTTP %ld: %s", r->status, r->body);
	return r;
}

/* The status must be want; a failure is problem+json with that status. */
static void
expect_status(walker *w, const kt_resp *r, long want)
{
	if (r->status != want)
		walk_fail(w, "HTTP %ld, the model expected %ld: %s", r->status, want, r->body);
	if (want >= 400) {
		char *ct = kt_header(r, "Content-Type");
		bool ok = ct != NULL && strcmp(ct, "application/problem+json") == 0 &&
		          json_integer_value(json_object_get(r->json, "status")) == want;

		free(ct);
		if (!ok)
			walk_fail(w, "HTTP %ld is not a problem+json of that status: %s", want, r->body);
	}
}

/* ---- model helpers ---- */

static long
jlong(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

static int
pick_role(walker *w)
{
	int n = rnd(w, 100);

	return n < 30 ? OWNER : n < 70 ? ADMIN : n < 85 ? MEMBER : VIEWER;
}

static bool
is_admin(int role)
{
	return role <= ADMIN;
}

/* A random live organization's index, or -1. */
static int
live_org(walker *w)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->norgs; i++)
		if (w->orgs[i].alive && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

/* A random live division of org (-1: of any organization), or -1. */
static int
live_div(walker *w, int org)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->ndivs; i++)
		if (w->divs[i].alive && (org < 0 || w->divs[i].org == org) && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

/* A random dead entity index of kind (0 orgs, 1 divs, 2 users), or -1. */
static int
dead_one(walker *w, int kind)
{
	int n = 0, pick = -1, count = kind == 0 ? w->norgs : kind == 1 ? w->ndivs : w->nusers;

	for (int i = 0; i < count; i++) {
		bool alive = kind == 0   ? w->orgs[i].alive
		             : kind == 1 ? w->divs[i].alive
		                         : w->users[i].alive;

		if (!alive && rnd(w, ++n) == 0)
			pick = i;
	}
	return pick;
}

static int
count_live_orgs(const walker *w)
{
	int n = 0;

	for (int i = 0; i < w->norgs; i++)
		n += w->orgs[i].alive;
	return n;
}

static int
count_live_divs(const walker *w)
{
	int n = 0;

	for (int i = 0; i < w->ndivs; i++)
		n += w->divs[i].alive;
	return n;
}

/* A well-formed id of no row anywhere (version 7, from a far future millisecond). */
static char *
nowhere_id(walker *w)
{
	return kt_strf("ffff%04x-%04x-7%03x-8%03x-%012llx", rnd(w, 65536), rnd(w, 65536), rnd(w, 4096),
	               rnd(w, 4096), (unsigned long long)(rnd64(w) & 0xffffffffffffull));
}

/* ASCII case-insensitive substring. */
static bool
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return n == 0;
}

static char *
etag_header(long version)
{
	return kt_strf("If-Match: \"%ld\"", version);
}

/* ---- checking rendered resources against the model ---- */

static void
check_org(walker *w, const json_t *o, const org_m *m)
{
	if (strcmp(kt_jstr(o, "id"), m->id) != 0 ||
	    strcmp(kt_jstr(o, "tenant_id"), w->tenant_id) != 0 ||
	    strcmp(kt_jstr(o, "name"), m->name) != 0 || strcmp(kt_jstr(o, "code"), m->code) != 0 ||
	    strcmp(kt_jstr(o, "description"), m->description) != 0 ||
	    strcmp(kt_jstr(o, "status"), m->status) != 0 || jlong(o, "version") != m->version ||
	    !json_equal(json_object_get(o, "settings"), m->settings)) {
		char *text = json_dumps(o, JSON_COMPACT), *want = json_dumps(m->settings, JSON_COMPACT);

		walk_fail(w,
		          "organization %s is %s; the model has name \"%s\" code %s status %s version %ld"
		          " settings %s",
		          m->id, text, m->name, m->code, m->status, m->version, want);
	}
}

static void
check_div(walker *w, const json_t *o, const div_m *m)
{
	const char *parent = json_string_value(json_object_get(o, "parent_id"));

	if (strcmp(kt_jstr(o, "id"), m->id) != 0 ||
	    strcmp(kt_jstr(o, "tenant_id"), w->tenant_id) != 0 ||
	    strcmp(kt_jstr(o, "organization_id"), w->orgs[m->org].id) != 0 ||
	    (m->parent < 0 ? parent != NULL
	                   : parent == NULL || strcmp(parent, w->divs[m->parent].id) != 0) ||
	    strcmp(kt_jstr(o, "name"), m->name) != 0 || strcmp(kt_jstr(o, "code"), m->code) != 0 ||
	    strcmp(kt_jstr(o, "description"), m->description) != 0 ||
	    jlong(o, "version") != m->version) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w, "division %s is %s; the model has name \"%s\" code %s parent %s version %ld",
		          m->id, text, m->name, m->code, m->parent < 0 ? "null" : w->divs[m->parent].id,
		          m->version);
	}
}

static void
check_user(walker *w, const json_t *o, const user_m *m)
{
	if (strcmp(kt_jstr(o, "id"), m->id) != 0 ||
	    strcmp(kt_jstr(o, "tenant_id"), w->tenant_id) != 0 ||
	    strcmp(kt_jstr(o, "email"), m->email) != 0 ||
	    strcmp(kt_jstr(o, "role"), role_names[m->role]) != 0 ||
	    strcmp(kt_jstr(o, "status"), m->active ? "active" : "disabled") != 0 ||
	    jlong(o, "version") != m->version) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w, "user %s is %s; the model has %s %s %s version %ld", m->id, text, m->email,
		          role_names[m->role], m->active ? "active" : "disabled", m->version);
	}
}

/* The ETag of a single resource is its version. */
static void
check_etag(walker *w, const kt_resp *r, long version)
{
	char *etag = kt_header(r, "ETag");
	char want[32];

	snprintf(want, sizeof(want), "\"%ld\"", version);
	if (etag == NULL || strcmp(etag, want) != 0)
		walk_fail(w, "ETag %s, expected %s", etag ? etag : "(none)", want);
	free(etag);
}

/* ---- cursors ---- */

/* The id a list cursor (kind 0x01) positions after, into out[37]; false if it is not one. */
static bool
cursor_id(const char *cursor, char out[37])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char bin[18];
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (const char *c = cursor; *c != '\0'; c++) {
		const char *p = strchr(b64, *c);

		if (p == NULL)
			return false;
		acc = acc << 6 | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == sizeof(bin))
				return false;
			bin[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (n != 17 || bin[0] != 0x01)
		return false;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         bin[1], bin[2], bin[3], bin[4], bin[5], bin[6], bin[7], bin[8], bin[9], bin[10],
	         bin[11], bin[12], bin[13], bin[14], bin[15], bin[16]);
	return true;
}

/* ---- lists ---- */

/* Indexes of the rows a list must show, in id order. */
typedef struct rowset {
	int *idx;
	int n;
} rowset;

/* The id of row i of a kind (0 organizations, 1 divisions, 2 users). */
static const char *
row_id(const walker *w, int kind, int i)
{
	return kind == 0 ? w->orgs[i].id : kind == 1 ? w->divs[i].id : w->users[i].id;
}

typedef struct sort_by {
	const walker *w;
	int kind;
} sort_by;

static int
by_id(const void *a, const void *b, void *arg)
{
	const sort_by *by = arg;

	return strcmp(row_id(by->w, by->kind, *(const int *)a),
	              row_id(by->w, by->kind, *(const int *)b));
}

/* Rows in id order, as every list but the audit log's. */
static void
sort_rows(const walker *w, rowset *s, int kind)
{
	sort_by by = {w, kind};

	qsort_r(s->idx, (size_t)s->n, sizeof(int), by_id, &by);
}

/*
 * Walk a list of kind (0 organizations, 1 divisions, 2 users) at path with
 * query (ending in '&' or empty) page by page, limit rows a page, for at
 * most max_pages pages, from cursor (may be NULL), as role; each page must
 * be exactly the model's rows s after the position, and next_cursor must be
 * given exactly when the page is full.  Publishes the cursors seen.
 */
static void
walk_list(walker *w, enum op op, int role, int kind, const char *path, const char *query,
          const rowset *s, int limit, int max_pages, const char *cursor)
{
	char *cur = cursor ? strdup(cursor) : NULL;
	int pos = 0;

	if (cur != NULL) { /* a cursor is a position: the first of the model's rows after it */
		char after[37];

		if (!cursor_id(cur, after))
			walk_fail(w, "cursor %s does not decode", cur);
		while (pos < s->n && strcmp(row_id(w, kind, s->idx[pos]), after) <= 0)
			pos++;
	}
	for (int page = 0; page < max_pages; page++) {
		char *p = cur ? kt_strf("%s?%slimit=%d&cursor=%s", path, query, limit, cur)
		              : kt_strf("%s?%slimit=%d", path, query, limit);
		kt_resp *r = call(w, op, role, NULL, "GET", NULL, p);

		free(p);
		expect_status(w, r, 200);
		json_t *data = json_object_get(r->json, "data");
		json_t *next = json_object_get(r->json, "next_cursor");
		int expect_n = s->n - pos < limit ? s->n - pos : limit;

		if ((int)json_array_size(data) != expect_n)
			walk_fail(w, "a page of %zu rows, the model has %d here (of %d): %s",
			          json_array_size(data), expect_n, s->n, r->body);
		for (int k = 0; k < expect_n; k++) {
			json_t *o = json_array_get(data, (size_t)k);
			int i = s->idx[pos + k];

			if (kind == 0)
				check_org(w, o, &w->orgs[i]);
			else if (kind == 1)
				check_div(w, o, &w->divs[i]);
			else
				check_user(w, o, &w->users[i]);
		}
		pos += expect_n;
		free(cur);
		cur = NULL;
		if (expect_n == limit) {
			if (!json_is_string(next))
				walk_fail(w, "a full page without next_cursor: %s", r->body);
			cur = strdup(json_string_value(next));
			observe(w,
			        kind == 0   ? OBS_ORG_CURSOR
			        : kind == 1 ? OBS_DIV_CURSOR
			                    : OBS_USER_CURSOR,
			        cur);
		} else if (!json_is_null(next)) {
			walk_fail(w, "a last page with a next_cursor: %s", r->body);
		}
		kt_resp_free(r);
		if (cur == NULL)
			break;
	}
	free(cur);
}

/* The organizations a list with status and q shows. */
static rowset
orgs_matching(walker *w, const char *status, const char *q)
{
	rowset s = {calloc((size_t)w->norgs + 1, sizeof(int)), 0};

	for (int i = 0; i < w->norgs; i++) {
		org_m *o = &w->orgs[i];

		if (o->alive && (status == NULL || strcmp(o->status, status) == 0) &&
		    (q == NULL || contains_ci(o->name, q) || contains_ci(o->code, q)))
			s.idx[s.n++] = i;
	}
	sort_rows(w, &s, 0);
	return s;
}

/* The divisions of org a list shows: all (parent -2), top-level ones (-1) or children. */
static rowset
divs_matching(walker *w, int org, int parent)
{
	rowset s = {calloc((size_t)w->ndivs + 1, sizeof(int)), 0};

	for (int i = 0; i < w->ndivs; i++) {
		div_m *d = &w->divs[i];

		if (d->alive && d->org == org && (parent == -2 || d->parent == parent))
			s.idx[s.n++] = i;
	}
	sort_rows(w, &s, 1);
	return s;
}

static rowset
users_all(walker *w)
{
	rowset s = {calloc((size_t)w->nusers + 1, sizeof(int)), 0};

	for (int i = 0; i < w->nusers; i++)
		if (w->users[i].alive)
			s.idx[s.n++] = i;
	sort_rows(w, &s, 2);
	return s;
}

static int
random_limit(walker *w)
{
	static const int limits[] = {1, 2, 3, 5, 10, 20, 50, 200};

	return limits[rnd(w, sizeof(limits) / sizeof(limits[0]))];
}

/* ---- organizations ---- */

/* A new organization in the model: what the create request asked for, under the id given. */
static org_m *
org_add(walker *w, const char *id, const json_t *body)
{
	const char *description = json_string_value(json_object_get(body, "description"));
	const char *status = json_string_value(json_object_get(body, "status"));
	const json_t *settings = json_object_get(body, "settings");

	w->orgs = realloc(w->orgs, sizeof(org_m) * (size_t)(w->norgs + 1));
	org_m *m = &w->orgs[w->norgs++];

	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->name = strdup(kt_jstr(body, "name"));
	m->code = strdup(kt_jstr(body, "code"));
	m->description = strdup(description ? description : "");
	m->status = strdup(status ? status : "active");
	m->settings = settings ? json_deep_copy(settings) : json_object();
	m->version = 1;
	m->audit = 1;
	m->alive = true;
	m->rounding = -1;
	id_register(w, m->id, w->idx);
	observe(w, OBS_ORG, m->id);
	observe(w, OBS_CODE, m->code);
	return m;
}

static void
op_org_create(walker *w)
{
	int role = pick_role(w), dup = -1;
	int n = ++w->seq;
	json_t *body = json_object();
	char *key = NULL;
	long want = is_admin(role) ? 201 : 403;

	json_object_set_new(body, "name", json_sprintf("Org %s %d", w->marker, n));
	if (chance(w, 8) && (dup = live_org(w)) >= 0)
		json_object_set_new(body, "code", json_string(w->orgs[dup].code));
	else
		json_object_set_new(body, "code", json_sprintf("%s-o%d", w->marker, n));
	if (chance(w, 40))
		json_object_set_new(body, "description", json_sprintf("about %s %d", w->marker, n));
	if (chance(w, 20))
		json_object_set_new(body, "status", json_string("archived"));
	if (chance(w, 30))
		json_object_set_new(body, "settings",
		                    json_pack("{s:i, s:s, s:[b, n]}", "n", n, "tag", w->marker, "list", 1));
	bool invalid = chance(w, 4);

	if (invalid)
		json_object_set_new(body, "name", json_string("   "));
	if (want == 201)
		want = invalid ? 422 : dup >= 0 ? 409 : 201;
	if (chance(w, 20))
		key = kt_strf("Idempotency-Key: k-%s-%d", w->marker, n);
	char *text = json_dumps(body, JSON_COMPACT);
	const char *h[] = {key, NULL};
	kt_resp *r = call(w, OP_ORG_CREATE, role, key ? h : NULL, "POST", text, ORGS);

	expect_status(w, r, want);
	if (want == 201) {
		org_m *m = org_add(w, kt_jstr(r->json, "id"), body);

		check_org(w, r->json, m);
		check_etag(w, r, 1);
		if (key != NULL) {
			observe(w, OBS_KEY, key + strlen("Idempotency-Key: "));
			if (chance(w, 30)) { /* a retry gets the first answer, byte for byte */
				kt_resp *again = call(w, OP_ORG_CREATE, role, h, "POST", text, ORGS);
				char *replayed = kt_header(again, "Idempotent-Replayed");

				expect_status(w, again, 201);
				if (replayed == NULL || strcmp(replayed, "true") != 0 || again->len != r->len ||
				    memcmp(again->body, r->body, r->len) != 0)
					walk_fail(w, "not a replay: %s", again->body);
				free(replayed);
				kt_resp_free(again);
			}
		}
	}
	kt_resp_free(r);
	free(text);
	free(key);
	json_decref(body);
}

/* An own organization (live or not) or an id of no row; the expected status of reading it. */
static char *
org_target(walker *w, int *idx)
{
	int i = chance(w, 85) ? live_org(w) : dead_one(w, 0);

	*idx = i;
	if (i < 0 || chance(w, 4))
		return (*idx = -1, nowhere_id(w));
	return strdup(w->orgs[i].id);
}

static void
op_org_get(walker *w)
{
	int role = pick_role(w), i;
	char *id = org_target(w, &i);
	char *path = kt_strf(ORGS "/%s", id);
	kt_resp *r = call(w, OP_ORG_GET, role, NULL, "GET", NULL, path);

	if (i >= 0 && w->orgs[i].alive) {
		expect_status(w, r, 200);
		check_org(w, r->json, &w->orgs[i]);
		check_etag(w, r, w->orgs[i].version);
	} else {
		expect_status(w, r, 404);
	}
	kt_resp_free(r);
	free(path);
	free(id);
}

/* A q that matches something of ours: a piece of a name or code, in another case. */
static char *
some_q(walker *w)
{
	int i = live_org(w);

	if (i < 0 || chance(w, 10))
		return strdup(chance(w, 50) ? "Org" : w->marker);
	const char *src = chance(w, 50) ? w->orgs[i].name : w->orgs[i].code;
	size_t len = strlen(src), start = (size_t)rnd(w, (int)len), n = 1 + (size_t)rnd(w, 8);

	if (start + n > len)
		n = len - start;
	char *q = strndup(src + start, n);

	for (char *c = q; *c; c++)
		*c = (char)(chance(w, 50) ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
	return q;
}

static void
op_org_list(walker *w)
{
	int role = pick_role(w);
	const char *status = chance(w, 20) ? (chance(w, 50) ? "active" : "archived") : NULL;
	char *q = chance(w, 30) ? some_q(w) : NULL;
	char *esc = q ? curl_easy_escape(w->curl, q, 0) : NULL;
	char *query = kt_strf("%s%s%s%s%s", status ? "status=" : "", status ? status : "",
	                      status ? "&" : "", q ? "q=" : "", q ? esc : "");

	if (q != NULL) {
		char *with_amp = kt_strf("%s&", query);

		free(query);
		query = with_amp;
	}
	rowset s = orgs_matching(w, status, q);

	walk_list(w, OP_ORG_LIST, role, 0, ORGS, query, &s, random_limit(w), 1 + rnd(w, 3), NULL);
	free(s.idx);
	free(query);
	curl_free(esc);
	free(q);
}

/* Random changes to an organization: a JSON body and what it must become. */
static void
op_org_patch(walker *w)
{
	int role = pick_role(w), i, dup = -1;
	char *id = org_target(w, &i);
	char *path = kt_strf(ORGS "/%s", id);
	json_t *body = json_object();
	int n = ++w->seq;

	if (chance(w, 50))
		json_object_set_new(body, "name", json_sprintf("Org %s %d renamed", w->marker, n));
	if (chance(w, 25)) {
		if (chance(w, 20) && (dup = live_org(w)) >= 0 && dup != i)
			json_object_set_new(body, "code", json_string(w->orgs[dup].code));
		else
			json_object_set_new(body, "code", json_sprintf("%s-p%d", w->marker, n)), dup = -1;
	}
	if (chance(w, 30))
		json_object_set_new(body, "description", json_sprintf("now %s %d", w->marker, n));
	if (chance(w, 30))
		json_object_set_new(body, "status", json_string(chance(w, 50) ? "active" : "archived"));
	if (chance(w, 20))
		json_object_set_new(body, "settings", json_pack("{s:i}", "v", n));
	bool empty = json_object_size(body) == 0;
	bool invalid = !empty && chance(w, 3);

	if (invalid)
		json_object_set_new(body, "status", json_string("deleted"));
	/* If-Match: none, the current version, or a stale one */
	int how = rnd(w, 100);
	bool alive = i >= 0 && w->orgs[i].alive;
	long version = i >= 0 ? w->orgs[i].version : 1;
	char *ifm = how < 50 ? NULL : etag_header(how < 85 ? version : version + 1 + rnd(w, 3));
	bool stale = ifm != NULL && how >= 85;
	long want = !is_admin(role)    ? 403
	            : empty || invalid ? 422
	            : !alive           ? 404
	            : stale            ? 412
	            : dup >= 0         ? 409
	                               : 200;
	char *text = json_dumps(body, JSON_COMPACT);
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_ORG_PATCH, role, ifm ? h : NULL, "PATCH", text, path);

	expect_status(w, r, want);
	if (want == 200) {
		org_m *o = &w->orgs[i];
		json_t *v;

		if ((v = json_object_get(body, "name")) != NULL)
			free(o->name), o->name = strdup(json_string_value(v));
		if ((v = json_object_get(body, "code")) != NULL)
			free(o->code), o->code = strdup(json_string_value(v)), observe(w, OBS_CODE, o->code);
		if ((v = json_object_get(body, "description")) != NULL)
			free(o->description), o->description = strdup(json_string_value(v));
		if ((v = json_object_get(body, "status")) != NULL)
			free(o->status), o->status = strdup(json_string_value(v));
		if ((v = json_object_get(body, "settings")) != NULL)
			json_decref(o->settings), o->settings = json_deep_copy(v);
		o->version++;
		o->audit++;
		check_org(w, r->json, o);
		check_etag(w, r, o->version);
	}
	kt_resp_free(r);
	free(text);
	free(ifm);
	free(path);
	free(id);
	json_decref(body);
}

static void
op_org_delete(walker *w)
{
	if (count_live_orgs(w) < 6)
		return;
	int role = pick_role(w), i;
	char *id = org_target(w, &i);
	char *path = kt_strf(ORGS "/%s", id);
	int how = rnd(w, 100);
	bool alive = i >= 0 && w->orgs[i].alive;
	long version = i >= 0 ? w->orgs[i].version : 1;
	char *ifm = how < 60 ? NULL : etag_header(how < 85 ? version : version + 1);
	bool stale = ifm != NULL && how >= 85;
	/* an organization that keeps books is not deleted */
	bool kept = alive && (w->orgs[i].ledger || w->orgs[i].hr);
	long want = !is_admin(role) ? 403 : !alive ? 404 : stale ? 412 : kept ? 409 : 204;
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_ORG_DELETE, role, ifm ? h : NULL, "DELETE", NULL, path);

	expect_status(w, r, want);
	if (want == 409 && !contains_ci(kt_jstr(r->json, "detail"), "books") &&
	    !contains_ci(kt_jstr(r->json, "detail"), "HR records"))
		walk_fail(w, "a 409 not about the books or HR records: %s", r->body);
	if (want == 204) {
		if (r->len != 0)
			walk_fail(w, "a 204 with a body: %s", r->body);
		w->orgs[i].alive = false;
		w->orgs[i].audit++;
		for (int d = 0; d < w->ndivs; d++)
			if (w->divs[d].alive && w->divs[d].org == i)
				w->divs[d].alive = false, w->divs[d].audit++;
	}
	kt_resp_free(r);
	free(ifm);
	free(path);
	free(id);
}

/* ---- divisions ---- */

/* A new division in the model: what the create request asked for, under the id given. */
static div_m *
div_add(walker *w, const char *id, const json_t *body, int org, int parent)
{
	const char *description = json_string_value(json_object_get(body, "description"));

	w->divs = realloc(w->divs, sizeof(div_m) * (size_t)(w->ndivs + 1));
	div_m *m = &w->divs[w->ndivs++];

	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->org = org;
	m->parent = parent;
	m->name = strdup(kt_jstr(body, "name"));
	m->code = strdup(kt_jstr(body, "code"));
	m->description = strdup(description ? description : "");
	m->version = 1;
	m->audit = 1;
	m->alive = true;
	id_register(w, m->id, w->idx);
	observe(w, OBS_DIV, m->id);
	observe(w, OBS_CODE, m->code);
	return m;
}

/* Is d (a division index) a descendant of, or, a? */
static bool
under(const walker *w, int d, int a)
{
	for (int hops = 0; d >= 0 && hops < 10000; hops++, d = w->divs[d].parent)
		if (d == a)
			return true;
	return false;
}

static bool
has_live_children(const walker *w, int d)
{
	for (int i = 0; i < w->ndivs; i++)
		if (w->divs[i].alive && w->divs[i].parent == d)
			return true;
	return false;
}

/*
 * A parent_id for a division of org: kept (-3, not sent), none (-1), one of
 * org's divisions (its index), or a wrong one (-2: another organization's,
 * a deleted one, another tenant's, or no row).  *text gets the id sent.
 */
static int
pick_parent(walker *w, int org, bool allow_keep, char **text)
{
	int n = rnd(w, 100);

	*text = NULL;
	if (allow_keep && n < 50)
		return -3;
	if (n < 65)
		return -1;
	if (n < 94) {
		int d = live_div(w, org);

		if (d >= 0) {
			*text = strdup(w->divs[d].id);
			return d;
		}
		return -1;
	}
	int other = live_div(w, -1), dead = dead_one(w, 1), from;
	char *f = foreign(w, OBS_DIV, &from);

	if (n < 96 && other >= 0 && w->divs[other].org != org)
		*text = strdup(w->divs[other].id);
	else if (n < 98 && dead >= 0)
		*text = strdup(w->divs[dead].id);
	else if (f != NULL)
		*text = strdup(f);
	else
		*text = nowhere_id(w);
	free(f);
	return -2;
}

static void
op_div_create(walker *w)
{
	int role = pick_role(w), org = chance(w, 92) ? live_org(w) : dead_one(w, 0);
	char *org_id = org >= 0 ? strdup(w->orgs[org].id) : nowhere_id(w);
	bool org_alive = org >= 0 && w->orgs[org].alive;
	int n = ++w->seq, dup = -1;
	json_t *body = json_object();
	char *parent_text = NULL;
	int parent = org >= 0 ? pick_parent(w, org, false, &parent_text) : -1;

	json_object_set_new(body, "name", json_sprintf("Div %s %d", w->marker, n));
	if (parent != -2 && org >= 0 && chance(w, 6) && (dup = live_div(w, org)) >= 0)
		json_object_set_new(body, "code", json_string(w->divs[dup].code));
	else
		json_object_set_new(body, "code", json_sprintf("%s-d%d", w->marker, n)), dup = -1;
	if (chance(w, 30))
		json_object_set_new(body, "description", json_sprintf("div of %s", w->marker));
	if (parent_text != NULL)
		json_object_set_new(body, "parent_id", json_string(parent_text));
	else if (parent == -1 && chance(w, 30))
		json_object_set_new(body, "parent_id", json_null());
	long want = !is_admin(role) ? 403
	            : !org_alive    ? 404
	            : dup >= 0      ? 409
	            : parent == -2  ? 422
	                            : 201;
	char *path = kt_strf(ORGS "/%s/divisions", org_id);
	char *key = chance(w, 15) ? kt_strf("Idempotency-Key: kd-%s-%d", w->marker, n) : NULL;
	const char *h[] = {key, NULL};
	char *text = json_dumps(body, JSON_COMPACT);
	kt_resp *r = call(w, OP_DIV_CREATE, role, key ? h : NULL, "POST", text, path);

	expect_status(w, r, want);
	if (want == 422 && !strstr(r->body, "\"parent_id\""))
		walk_fail(w, "a 422 not about parent_id: %s", r->body);
	if (want == 201) {
		div_m *m = div_add(w, kt_jstr(r->json, "id"), body, org, parent >= 0 ? parent : -1);

		check_div(w, r->json, m);
		check_etag(w, r, 1);
		if (key != NULL)
			observe(w, OBS_KEY, key + strlen("Idempotency-Key: "));
	}
	kt_resp_free(r);
	free(text);
	free(key);
	free(path);
	free(parent_text);
	free(org_id);
	json_decref(body);
}

static char *
div_target(walker *w, int *idx)
{
	int i = chance(w, 88) ? live_div(w, -1) : dead_one(w, 1);

	*idx = i;
	if (i < 0 || chance(w, 4))
		return (*idx = -1, nowhere_id(w));
	return strdup(w->divs[i].id);
}

static void
op_div_get(walker *w)
{
	int role = pick_role(w), i;
	char *id = div_target(w, &i);
	char *path = kt_strf("/api/v1/divisions/%s", id);
	kt_resp *r = call(w, OP_DIV_GET, role, NULL, "GET", NULL, path);

	if (i >= 0 && w->divs[i].alive) {
		expect_status(w, r, 200);
		check_div(w, r->json, &w->divs[i]);
		check_etag(w, r, w->divs[i].version);
	} else {
		expect_status(w, r, 404);
	}
	kt_resp_free(r);
	free(path);
	free(id);
}

static void
op_div_list(walker *w)
{
	int role = pick_role(w), org = chance(w, 94) ? live_org(w) : dead_one(w, 0);

	if (org < 0)
		return;
	char *path = kt_strf(ORGS "/%s/divisions", w->orgs[org].id);

	if (!w->orgs[org].alive) {
		kt_resp *r = call(w, OP_DIV_LIST, role, NULL, "GET", NULL, path);

		expect_status(w, r, 404);
		kt_resp_free(r);
		free(path);
		return;
	}
	int n = rnd(w, 100), parent = -2;
	char *query;

	if (n < 20) {
		parent = -1;
		query = strdup("parent_id=null&");
	} else if (n < 40 && (parent = live_div(w, org)) >= 0) {
		query = kt_strf("parent_id=%s&", w->divs[parent].id);
	} else {
		parent = -2;
		query = strdup("");
	}
	rowset s = divs_matching(w, org, parent);

	walk_list(w, OP_DIV_LIST, role, 1, path, query, &s, random_limit(w), 1 + rnd(w, 3), NULL);
	free(s.idx);
	free(query);
	free(path);
}

static void
op_div_patch(walker *w)
{
	int role = pick_role(w), i;
	char *id = div_target(w, &i);
	char *path = kt_strf("/api/v1/divisions/%s", id);
	json_t *body = json_object();
	int n = ++w->seq, dup = -1, parent = -3;
	char *parent_text = NULL;
	bool alive = i >= 0 && w->divs[i].alive;

	if (chance(w, 40))
		json_object_set_new(body, "name", json_sprintf("Div %s %d moved", w->marker, n));
	if (chance(w, 20)) {
		if (alive && chance(w, 25) && (dup = live_div(w, w->divs[i].org)) >= 0 && dup != i)
			json_object_set_new(body, "code", json_string(w->divs[dup].code));
		else
			json_object_set_new(body, "code", json_sprintf("%s-q%d", w->marker, n)), dup = -1;
	}
	if (chance(w, 20))
		json_object_set_new(body, "description", json_sprintf("desc %s %d", w->marker, n));
	if (alive)
		parent = pick_parent(w, w->divs[i].org, true, &parent_text);
	if (parent >= 0 || parent == -2)
		json_object_set_new(body, "parent_id", json_string(parent_text));
	else if (parent == -1)
		json_object_set_new(body, "parent_id", json_null());
	if (json_object_size(body) == 0)
		json_object_set_new(body, "name", json_sprintf("Div %s %d named", w->marker, n));

	int how = rnd(w, 100);
	long version = i >= 0 ? w->divs[i].version : 1;
	char *ifm = how < 50 ? NULL : etag_header(how < 85 ? version : version + 2);
	bool stale = ifm != NULL && how >= 85;
	/* a move under itself or its own subtree is a cycle */
	bool cycle = alive && parent >= 0 && under(w, parent, i);
	long want = !is_admin(role) ? 403
	            : !alive        ? 404
	            : stale         ? 412
	            : cycle         ? 422
	            : dup >= 0      ? 409
	            : parent == -2  ? 422
	                            : 200;
	char *text = json_dumps(body, JSON_COMPACT);
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_DIV_PATCH, role, ifm ? h : NULL, "PATCH", text, path);

	expect_status(w, r, want);
	if (want == 422 && !strstr(r->body, "\"parent_id\""))
		walk_fail(w, "a 422 not about parent_id: %s", r->body);
	if (want == 200) {
		div_m *d = &w->divs[i];
		json_t *v;

		if ((v = json_object_get(body, "name")) != NULL)
			free(d->name), d->name = strdup(json_string_value(v));
		if ((v = json_object_get(body, "code")) != NULL)
			free(d->code), d->code = strdup(json_string_value(v));
		if ((v = json_object_get(body, "description")) != NULL)
			free(d->description), d->description = strdup(json_string_value(v));
		if (parent != -3)
			d->parent = parent;
		d->version++;
		d->audit++;
		check_div(w, r->json, d);
		check_etag(w, r, d->version);
	}
	kt_resp_free(r);
	free(text);
	free(ifm);
	free(parent_text);
	free(path);
	free(id);
	json_decref(body);
}

/* Do journal lines name d or a division below it (then it is not deleted)? */
static bool
div_in_lines(const walker *w, int d)
{
	for (int i = 0; i < w->nentries; i++)
		for (int k = 0; k < 2; k++)
			if (w->entries[i].alive && w->entries[i].div[k] >= 0 &&
			    under(w, w->entries[i].div[k], d))
				return true;
	return false;
}

/* Whether positions are in d or a live division under it. */
static bool
div_has_positions(const walker *w, int d)
{
	for (int i = 0; i < w->ndivs; i++)
		if (w->divs[i].alive && w->divs[i].positions && under(w, i, d))
			return true;
	return false;
}

/* Mark d and its subtree deleted. */
static void
div_remove(walker *w, int d)
{
	w->divs[d].alive = false;
	w->divs[d].audit++;
	for (int i = 0; i < w->ndivs; i++)
		if (w->divs[i].alive && w->divs[i].parent == d)
			div_remove(w, i);
}

static void
op_div_delete(walker *w)
{
	if (count_live_divs(w) < 6)
		return;
	int role = pick_role(w), i;
	char *id = div_target(w, &i);
	bool cascade = chance(w, 40);
	char *path = kt_strf("/api/v1/divisions/%s%s", id,
	                     cascade         ? "?cascade=true"
	                     : chance(w, 10) ? "?cascade=false"
	                                     : "");
	int how = rnd(w, 100);
	bool alive = i >= 0 && w->divs[i].alive;
	long version = i >= 0 ? w->divs[i].version : 1;
	char *ifm = how < 60 ? NULL : etag_header(how < 85 ? version : version + 1);
	bool stale = ifm != NULL && how >= 85;
	long want = !is_admin(role)                       ? 403
	            : !alive                              ? 404
	            : stale                               ? 412
	            : !cascade && has_live_children(w, i) ? 409
	            : div_in_lines(w, i)                  ? 409
	            : div_has_positions(w, i)             ? 409
	                                                  : 204;
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_DIV_DELETE, role, ifm ? h : NULL, "DELETE", NULL, path);

	expect_status(w, r, want);
	if (want == 204)
		div_remove(w, i);
	kt_resp_free(r);
	free(ifm);
	free(path);
	free(id);
}

/* ---- users ---- */

/* A user in the model: id, email, role, active, version. */
static user_m *
user_add(walker *w, const char *id, const char *email, int role, bool active, long version,
         bool actor)
{
	w->users = realloc(w->users, sizeof(user_m) * (size_t)(w->nusers + 1));
	user_m *m = &w->users[w->nusers++];

	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->email = strdup(email);
	m->role = role;
	m->active = active;
	m->version = version;
	m->audit = 1;
	m->alive = true;
	m->actor = actor;
	id_register(w, m->id, w->idx);
	observe(w, OBS_USER, m->id);
	return m;
}

/* May an actor of role change a user of role target (or give that role)? */
static bool
may_manage(int role, int target)
{
	return role == OWNER || target > ADMIN;
}

static int
active_owners(const walker *w)
{
	int n = 0;

	for (int i = 0; i < w->nusers; i++)
		n += w->users[i].alive && w->users[i].active && w->users[i].role == OWNER;
	return n;
}

/* A live user that is not an actor, or -1. */
static int
extra_user(walker *w)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->nusers; i++)
		if (w->users[i].alive && !w->users[i].actor && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

static int
count_extras(const walker *w)
{
	int n = 0;

	for (int i = 0; i < w->nusers; i++)
		n += w->users[i].alive && !w->users[i].actor;
	return n;
}

static void
op_user_create(walker *w)
{
	if (count_extras(w) > 25)
		return;
	int role = pick_role(w), n = ++w->seq, target = rnd(w, 100);

	target = target < 50 ? MEMBER : target < 80 ? VIEWER : target < 95 ? ADMIN : OWNER;
	int dup = chance(w, 8) ? extra_user(w) : -1;
	char *email;

	if (dup >= 0) { /* emails compare case-insensitively */
		email = strdup(w->users[dup].email);
		for (char *c = email; *c; c++)
			*c = (char)toupper((unsigned char)*c);
	} else {
		email = kt_strf("u%d.%s@leak.test", n, w->marker);
	}
	bool invalid = chance(w, 4);
	char *body = kt_strf("{\"email\":\"%s\",\"password\":\"%s\",\"role\":\"%s\"}",
	                     invalid ? "not-an-email" : email, PASSWORD, role_names[target]);
	long want = !is_admin(role)             ? 403
	            : invalid                   ? 422
	            : !may_manage(role, target) ? 403
	            : dup >= 0                  ? 409
	                                        : 201;
	kt_resp *r = call(w, OP_USER_CREATE, role, NULL, "POST", body, "/api/v1/users");

	expect_status(w, r, want);
	if (want == 201)
		check_user(w, r->json, user_add(w, kt_jstr(r->json, "id"), email, target, true, 1, false));
	kt_resp_free(r);
	free(body);
	free(email);
}

static void
op_user_get(walker *w)
{
	int role = pick_role(w), n = rnd(w, 100), i;
	char *id;

	if (n < 20)
		i = w->actor[role];
	else if (n < 40)
		i = w->actor[rnd(w, NROLES)];
	else if (n < 85)
		i = extra_user(w);
	else
		i = dead_one(w, 2);
	id = i >= 0 && !chance(w, 5) ? strdup(w->users[i].id) : (i = -1, nowhere_id(w));
	bool self = i == w->actor[role];
	bool alive = i >= 0 && w->users[i].alive;
	long want = !is_admin(role) && !self ? 403 : alive ? 200 : 404;
	char *path = kt_strf("/api/v1/users/%s", id);
	kt_resp *r = call(w, OP_USER_GET, role, NULL, "GET", NULL, path);

	expect_status(w, r, want);
	if (want == 200) {
		check_user(w, r->json, &w->users[i]);
		check_etag(w, r, w->users[i].version);
	}
	kt_resp_free(r);
	free(path);
	free(id);
}

static void
op_user_list(walker *w)
{
	int role = pick_role(w);

	if (!is_admin(role)) {
		kt_resp *r = call(w, OP_USER_LIST, role, NULL, "GET", NULL, "/api/v1/users");

		expect_status(w, r, 403);
		kt_resp_free(r);
		return;
	}
	rowset s = users_all(w);

	walk_list(w, OP_USER_LIST, role, 2, "/api/v1/users", "", &s, random_limit(w), 1 + rnd(w, 3),
	          NULL);
	free(s.idx);
}

/*
 * A change to a user, or its deletion.  Targets are extra users, except
 * that an actor may be the target where the model says the change is
 * refused (actors must stay as they are).
 */
static void
op_user_change(walker *w, bool delete)
{
	int role = pick_role(w), i = chance(w, 85) ? extra_user(w) : -1;
	int new_role = -1, new_active = -1;
	char *id;

	if (!delete) {
		if (chance(w, 60))
			new_role = rnd(w, NROLES);
		if (new_role < 0 || chance(w, 40))
			new_active = chance(w, 50);
	}
	if (i < 0 && chance(w, 50)) { /* an actor, only where it must be refused */
		int a = w->actor[rnd(w, NROLES)];
		bool removes = delete || (new_role >= 0 && new_role != OWNER) || new_active == 0;
		bool refused = !is_admin(role) || !may_manage(role, w->users[a].role) ||
		               (new_role >= 0 && !may_manage(role, new_role)) ||
		               (w->users[a].role == OWNER && removes && active_owners(w) <= 1);

		i = refused ? a : -1;
	}
	if (i < 0 && chance(w, 50))
		i = dead_one(w, 2);
	id = i >= 0 ? strdup(w->users[i].id) : nowhere_id(w);

	bool alive = i >= 0 && w->users[i].alive;
	int target = i >= 0 ? w->users[i].role : MEMBER;
	bool removes = delete || (new_role >= 0 && new_role != OWNER) || new_active == 0;
	int how = rnd(w, 100);
	long version = i >= 0 ? w->users[i].version : 1;
	char *ifm = how < 60 ? NULL : etag_header(how < 85 ? version : version + 1);
	bool stale = ifm != NULL && how >= 85;
	long want = !is_admin(role)                                                               ? 403
	            : !alive                                                                      ? 404
	            : stale                                                                       ? 412
	            : !may_manage(role, target) || (new_role >= 0 && !may_manage(role, new_role)) ? 403
	            : target == OWNER && w->users[i].active && removes && active_owners(w) <= 1   ? 409
	            : delete                                                                      ? 204
	                                                                                          : 200;
	char *body = NULL;

	if (!delete) {
		json_t *b = json_object();

		if (new_role >= 0)
			json_object_set_new(b, "role", json_string(role_names[new_role]));
		if (new_active >= 0)
			json_object_set_new(b, "status", json_string(new_active ? "active" : "disabled"));
		body = json_dumps(b, JSON_COMPACT);
		json_decref(b);
	}
	if ((want == 200 || want == 204) && w->users[i].actor)
		walk_fail(w, "the walk would change an actor (a bug of the test)");
	char *path = kt_strf("/api/v1/users/%s", id);
	const char *h[] = {ifm, NULL};
	kt_resp *r =
	    call(w, delete ? 14 : 13, role, ifm ? h : NULL, delete ? "DELETE" : "PATCH", body, path);

	expect_status(w, r, want);
	if (want == 200) {
		user_m *u = &w->users[i];

		if (new_role >= 0)
			u->role = new_role;
		if (new_active >= 0)
			u->active = new_active;
		u->version++;
		u->audit++;
		check_user(w, r->json, u);
		check_etag(w, r, u->version);
	} else if (want == 204) {
		w->users[i].alive = false;
		w->users[i].audit++;
	}
	kt_resp_free(r);
	free(body);
	free(ifm);
	free(path);
	free(id);
}

/* ---- audit log, tenant, me ---- */

/* Register the ids of audit rows as this tenant's; every row is of this tenant's records. */
static void
audit_rows(walker *w, const json_t *data)
{
	size_t k;
	json_t *row;

	json_array_foreach(data, k, row)
	{
		id_register(w, kt_jstr(row, "id"), w->idx);
	}
}

static void
op_audit(walker *w)
{
	int role = pick_role(w), n = rnd(w, 100);

	if (!is_admin(role)) {
		kt_resp *r = call(w, OP_AUDIT, role, NULL, "GET", NULL, "/api/v1/audit-logs?limit=5");

		expect_status(w, r, 403);
		kt_resp_free(r);
		return;
	}
	if (n < 50) { /* an entity's history: exactly one row per change */
		int kind = rnd(w, 5), i = -1, audit = 0;
		const char *id = NULL, *table = NULL;

		if (kind == 0 && w->norgs > 0)
			i = rnd(w, w->norgs), id = w->orgs[i].id, audit = w->orgs[i].audit,
			table = "org.organizations";
		else if (kind == 1 && w->ndivs > 0)
			i = rnd(w, w->ndivs), id = w->divs[i].id, audit = w->divs[i].audit,
			table = "org.divisions";
		else if (kind == 2 && (i = rnd(w, w->nusers)) >= 0 && !w->users[i].actor)
			id = w->users[i].id, audit = w->users[i].audit, table = "auth.users";
		else if (kind == 3 && w->naccts > 0)
			i = rnd(w, w->naccts), id = w->accts[i].id, audit = w->accts[i].audit,
			table = "fin.accounts";
		else if (kind == 4 && w->nentries > 0)
			i = rnd(w, w->nentries), id = w->entries[i].id, audit = w->entries[i].audit,
			table = "fin.journal_entries";
		if (id == NULL)
			return;
		char *path = kt_strf("/api/v1/audit-logs?record_id=%s&table=%s&limit=200", id, table);
		kt_resp *r = call(w, OP_AUDIT, role, NULL, "GET", NULL, path);
		json_t *data = json_object_get(r->json, "data");
		size_t k;
		json_t *row;

		expect_status(w, r, 200);
		if ((int)json_array_size(data) != audit)
			walk_fail(w, "%s %s has %zu audit rows, the model %d: %s", table, id,
			          json_array_size(data), audit, r->body);
		json_array_foreach(data, k, row)
		{
			if (strcmp(kt_jstr(row, "record_id"), id) != 0 ||
			    strcmp(kt_jstr(row, "table"), table) != 0)
				walk_fail(w, "an audit row of another record: %s", r->body);
			/* newest first: the oldest, last, is the insert */
			if (k + 1 == json_array_size(data) && strcmp(kt_jstr(row, "action"), "INSERT") != 0)
				walk_fail(w, "the first audit row of %s is not its INSERT: %s", id, r->body);
		}
		audit_rows(w, data);
		kt_resp_free(r);
		free(path);
		return;
	}
	/* filters and pages: every row as filtered, the cursors shared */
	static const char *const tables[] = {"org.organizations", "org.divisions", "auth.users",
	                                     "fin.accounts", "fin.journal_entries"};
	static const char *const actions[] = {"INSERT", "UPDATE", "DELETE"};
	const char *table = tables[rnd(w, 5)], *action = actions[rnd(w, 3)];
	int actor = w->actor[rnd(w, 2)]; /* the owner or the admin made the changes */
	char *query = n < 75 ? kt_strf("table=%s&action=%s", table, action)
	                     : kt_strf("actor_id=%s&since=2000-01-01T00:00:00Z", w->users[actor].id);
	char *cursor = NULL;

	for (int page = 0; page < 1 + rnd(w, 2); page++) {
		char *path = cursor ? kt_strf("/api/v1/audit-logs?%s&limit=%d&cursor=%s", query,
		                              random_limit(w), cursor)
		                    : kt_strf("/api/v1/audit-logs?%s&limit=%d", query, random_limit(w));
		kt_resp *r = call(w, OP_AUDIT, role, NULL, "GET", NULL, path);
		json_t *data = json_object_get(r->json, "data"), *row;
		size_t k;

		expect_status(w, r, 200);
		json_array_foreach(data, k, row)
		{
			if (n < 75 ? strcmp(kt_jstr(row, "table"), table) != 0 ||
			                 strcmp(kt_jstr(row, "action"), action) != 0
			           : strcmp(kt_jstr(row, "actor_id"), w->users[actor].id) != 0)
				walk_fail(w, "an audit row the filter excludes: %s", r->body);
		}
		audit_rows(w, data);
		free(cursor);
		cursor = json_is_string(json_object_get(r->json, "next_cursor"))
		             ? strdup(kt_jstr(r->json, "next_cursor"))
		             : NULL;
		if (cursor != NULL)
			observe(w, OBS_AUDIT_CURSOR, cursor);
		kt_resp_free(r);
		free(path);
		if (cursor == NULL)
			break;
	}
	free(cursor);
	free(query);
}

static void
op_tenant(walker *w)
{
	int role = pick_role(w);

	if (chance(w, 70)) {
		kt_resp *r = call(w, OP_TENANT, role, NULL, "GET", NULL, "/api/v1/tenant");

		expect_status(w, r, 200);
		if (strcmp(kt_jstr(r->json, "id"), w->tenant_id) != 0 ||
		    strcmp(kt_jstr(r->json, "name"), w->tenant_name) != 0 ||
		    jlong(r->json, "version") != w->tenant_version)
			walk_fail(w, "the tenant is %s; the model has \"%s\" version %ld", r->body,
			          w->tenant_name, w->tenant_version);
		kt_resp_free(r);
		return;
	}
	char *name = kt_strf("Tenant %s %d", w->marker, ++w->seq);
	char *body = kt_strf("{\"name\":\"%s\"}", name);
	kt_resp *r = call(w, OP_TENANT, role, NULL, "PATCH", body, "/api/v1/tenant");

	expect_status(w, r, role == OWNER ? 200 : 403);
	if (role == OWNER) {
		free(w->tenant_name);
		w->tenant_name = name;
		w->tenant_version++;
		name = NULL;
		if (strcmp(kt_jstr(r->json, "name"), w->tenant_name) != 0 ||
		    jlong(r->json, "version") != w->tenant_version)
			walk_fail(w, "the renamed tenant is %s", r->body);
	}
	kt_resp_free(r);
	free(body);
	free(name);
}

static void
op_me(walker *w)
{
	int role = pick_role(w);
	kt_resp *r = call(w, OP_ME, role, NULL, "GET", NULL, "/api/v1/auth/me");

	expect_status(w, r, 200);
	if (strcmp(kt_jstr(r->json, "id"), w->users[w->actor[role]].id) != 0 ||
	    strcmp(kt_jstr(r->json, "role"), role_names[role]) != 0 ||
	    strcmp(kt_jstr(r->json, "tenant_id"), w->tenant_id) != 0)
		walk_fail(w, "me is %s", r->body);
	kt_resp_free(r);
}

/* ---- crafted requests from other tenants' observations ---- */

/* Another tenant's id of kind, or an id of no row while none has been seen. */
static char *
foreign_id(walker *w, enum obs kind)
{
	char *id = foreign(w, kind, NULL);

	return id ? id : nowhere_id(w);
}

static void
op_foreign_id(walker *w)
{
	int role = pick_role(w), n = rnd(w, 15);
	char *id = foreign_id(w, n < 6 ? OBS_ORG : n < 11 ? OBS_DIV : OBS_USER);
	char *ifm = chance(w, 30) ? strdup("If-Match: \"1\"") : NULL;
	const char *h[] = {ifm, NULL};
	const char *method = "GET", *body = NULL;
	char *path;
	long want = 404;
	char *own_body = NULL;

	switch (n) {
	case 0:
		path = kt_strf(ORGS "/%s", id);
		break;
	case 1:
		method = "PATCH", path = kt_strf(ORGS "/%s", id);
		body = own_body = kt_strf("{\"name\":\"Org %s taken\"}", w->marker);
		break;
	case 2:
		method = "DELETE", path = kt_strf(ORGS "/%s", id);
		break;
	case 3:
		path = kt_strf(ORGS "/%s/divisions", id);
		break;
	case 4:
		path = kt_strf(ORGS "/%s/divisions?parent_id=null", id);
		break;
	case 5:
		method = "POST", path = kt_strf(ORGS "/%s/divisions", id);
		body = own_body = kt_strf("{\"name\":\"Div %s\",\"code\":\"%s-x\"}", w->marker, w->marker);
		break;
	case 6:
		path = kt_strf("/api/v1/divisions/%s", id);
		break;
	case 7:
		method = "PATCH", path = kt_strf("/api/v1/divisions/%s", id);
		body = own_body = kt_strf("{\"description\":\"%s\"}", w->marker);
		break;
	case 8:
		method = "DELETE", path = kt_strf("/api/v1/divisions/%s?cascade=true", id);
		break;
	case 9:
	case 10: { /* as the parent of a division of ours: not a division of the same organization */
		int d = live_div(w, -1);

		if (d < 0) {
			path = kt_strf("/api/v1/divisions/%s", id);
			break;
		}
		want = 422;
		body = own_body = kt_strf("{\"parent_id\":\"%s\"}", id);
		if (n == 9) {
			method = "PATCH", path = kt_strf("/api/v1/divisions/%s", w->divs[d].id);
		} else {
			free(own_body);
			body = own_body =
			    kt_strf("{\"name\":\"Div %s\",\"code\":\"%s-y%d\",\"parent_id\":\"%s\"}", w->marker,
			            w->marker, ++w->seq, id);
			method = "POST", path = kt_strf(ORGS "/%s/divisions", w->orgs[w->divs[d].org].id);
		}
		if (ifm != NULL && n == 9) /* keep the version out of it */
			free(ifm), ifm = NULL, h[0] = NULL;
		break;
	}
	case 11:
		path = kt_strf("/api/v1/users/%s", id);
		want = is_admin(role) ? 404 : 403;
		break;
	case 12:
		method = "PATCH", path = kt_strf("/api/v1/users/%s", id);
		body = own_body = strdup("{\"status\":\"disabled\"}");
		break;
	case 13:
		method = "DELETE", path = kt_strf("/api/v1/users/%s", id);
		break;
	default: /* as a filter of the audit log: nothing */
		path = kt_strf("/api/v1/audit-logs?%s=%s", chance(w, 50) ? "record_id" : "actor_id", id);
		want = 200;
		break;
	}
	bool write = strcmp(method, "GET") != 0;

	if ((write || n == 14) && !is_admin(role))
		want = 403;
	kt_resp *r = call(w, OP_FOREIGN_ID, role, ifm ? h : NULL, method, body, path);

	expect_status(w, r, want);
	if (want == 404 && chance(w, 30) && strstr(path, id) != NULL) {
		/* the answer for an id of no row at all is the same: no oracle for existence */
		char *none = nowhere_id(w), *at = strstr(path, id);
		char *other = kt_strf("%.*s%s%s", (int)(at - path), path, none, at + strlen(id));
		kt_resp *r2 = call(w, OP_FOREIGN_ID, role, ifm ? h : NULL, method, body, other);

		expect_status(w, r2, 404);
		if (strcmp(kt_jstr(r2->json, "detail"), kt_jstr(r->json, "detail")) != 0)
			walk_fail(w, "another tenant's id is told apart from no row: \"%s\" vs \"%s\"",
			          kt_jstr(r->json, "detail"), kt_jstr(r2->json, "detail"));
		kt_resp_free(r2);
		free(other);
		free(none);
	}
	if (want == 200 && json_array_size(json_object_get(r->json, "data")) != 0)
		walk_fail(w, "another tenant's id as a filter found rows: %s", r->body);
	if (want == 422 && !strstr(r->body, "\"parent_id\""))
		walk_fail(w, "a 422 not about parent_id: %s", r->body);
	kt_resp_free(r);
	free(own_body);
	free(path);
	free(ifm);
	free(id);
}

static void
op_foreign_cursor(walker *w)
{
	int role = pick_role(w), n = rnd(w, 4);
	static const enum obs kinds[] = {OBS_ORG_CURSOR, OBS_DIV_CURSOR, OBS_USER_CURSOR,
	                                 OBS_AUDIT_CURSOR};
	char *cursor = foreign(w, kinds[n], NULL);

	if (cursor == NULL)
		return;
	if (n == 3) { /* a position in time: the caller's own rows before it */
		char *path = kt_strf("/api/v1/audit-logs?limit=%d&cursor=%s", random_limit(w), cursor);
		kt_resp *r = call(w, OP_FOREIGN_CURSOR, role, NULL, "GET", NULL, path);

		expect_status(w, r, is_admin(role) ? 200 : 403);
		if (r->status == 200)
			audit_rows(w, json_object_get(r->json, "data"));
		kt_resp_free(r);
		free(path);
	} else if (n == 2 && !is_admin(role)) {
		char *path = kt_strf("/api/v1/users?cursor=%s", cursor);
		kt_resp *r = call(w, OP_FOREIGN_CURSOR, role, NULL, "GET", NULL, path);

		expect_status(w, r, 403);
		kt_resp_free(r);
		free(path);
	} else if (n == 2) {
		rowset s = users_all(w);

		walk_list(w, OP_FOREIGN_CURSOR, role, 2, "/api/v1/users", "", &s, random_limit(w), 1,
		          cursor);
		free(s.idx);
	} else if (n == 0) {
		rowset s = orgs_matching(w, NULL, NULL);

		walk_list(w, OP_FOREIGN_CURSOR, role, 0, ORGS, "", &s, random_limit(w), 1, cursor);
		free(s.idx);
	} else {
		int org = live_org(w);

		if (org >= 0) {
			char *path = kt_strf(ORGS "/%s/divisions", w->orgs[org].id);
			rowset s = divs_matching(w, org, -2);

			walk_list(w, OP_FOREIGN_CURSOR, role, 1, path, "", &s, random_limit(w), 1, cursor);
			free(s.idx);
			free(path);
		}
	}
	free(cursor);
}

static void
op_foreign_other(walker *w)
{
	int role = pick_role(w), n = rnd(w, 4), from;

	if (n == 0) { /* another tenant named in X-Tenant-ID: 403, whatever the route */
		char *tid = kt_strf("X-Tenant-ID: %s", W[(w->idx + 1 + rnd(w, NT - 1)) % NT].tenant_id);
		const char *h[] = {tid, NULL};
		static const char *const paths[] = {ORGS, "/api/v1/tenant", "/api/v1/auth/me",
		                                    "/api/v1/audit-logs"};
		kt_resp *r = call(w, OP_FOREIGN_OTHER, role, h, "GET", NULL, paths[rnd(w, 4)]);

		expect_status(w, r, 403);
		kt_resp_free(r);
		free(tid);
	} else if (n == 1) { /* its code or marker as a search: nothing of ours matches it */
		char *code = foreign(w, OBS_CODE, &from);
		char *q = code ? code : strdup(W[from].marker);
		char *path = kt_strf(ORGS "?q=%s", q);
		kt_resp *r = call(w, OP_FOREIGN_OTHER, role, NULL, "GET", NULL, path);

		expect_status(w, r, 200);
		if (json_array_size(json_object_get(r->json, "data")) != 0)
			walk_fail(w, "another tenant's code found our rows: %s", r->body);
		kt_resp_free(r);
		free(path);
		free(q);
	} else if (n == 2) { /* its Idempotency-Key: keys are per tenant, so a new create */
		char *key = foreign(w, OBS_KEY, NULL);
		bool used = key == NULL || w->nused == 64;

		for (int k = 0; k < w->nused && !used; k++)
			used = strcmp(w->used_keys[k], key) == 0;
		if (used) { /* once ours, the same key with another body would be 422 */
			free(key);
			return;
		}
		int seq = ++w->seq;
		char *hk = kt_strf("Idempotency-Key: %s", key);
		const char *h[] = {hk, NULL};
		json_t *body = json_object();
		char *text;

		json_object_set_new(body, "name", json_sprintf("Org %s %d", w->marker, seq));
		json_object_set_new(body, "code", json_sprintf("%s-k%d", w->marker, seq));
		text = json_dumps(body, JSON_COMPACT);
		kt_resp *r = call(w, OP_FOREIGN_OTHER, role, h, "POST", text, ORGS);
		char *replayed = kt_header(r, "Idempotent-Replayed");

		expect_status(w, r, is_admin(role) ? 201 : 403);
		if (replayed != NULL)
			walk_fail(w, "another tenant's Idempotency-Key replayed: %s", r->body);
		if (r->status == 201) {
			check_org(w, r->json, org_add(w, kt_jstr(r->json, "id"), body));
			w->used_keys[w->nused++] = strdup(key);
		}
		kt_resp_free(r);
		free(replayed);
		free(text);
		json_decref(body);
		free(hk);
		free(key);
	} else { /* our own tenant in X-Tenant-ID is fine */
		char *tid = kt_strf("X-Tenant-ID: %s", w->tenant_id);
		const char *h[] = {tid, NULL};
		kt_resp *r = call(w, OP_FOREIGN_OTHER, role, h, "GET", NULL, "/api/v1/auth/me");

		expect_status(w, r, 200);
		kt_resp_free(r);
		free(tid);
	}
}

/* ---- Finance: the model's books ---- */

static const int month_days[NMONTHS] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
static const char *const currencies[] = {"EUR", "USD", "GBP", "CHF"}; /* all of 2 minor digits */

#define FY_BODY                                                                                    \
	"{\"name\":\"" FY_NAME "\",\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","         \
	"\"period\":\"month\"}"

/* Minor units as the API writes an amount of a currency of 2 minor digits ("12.30", "-0.05"). */
static void
amount_text(long minor, char out[32])
{
	unsigned long a = minor < 0 ? 0ul - (unsigned long)minor : (unsigned long)minor;

	snprintf(out, 32, "%s%lu.%02lu", minor < 0 ? "-" : "", a / 100, a % 100);
}

/* The string member key of o is want (NULL: null). */
static bool
jis(const json_t *o, const char *key, const char *want)
{
	const json_t *v = json_object_get(o, key);

	return want == NULL ? json_is_null(v)
	                    : json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* The amount member key of o is minor units. */
static bool
jamount(const json_t *o, const char *key, long minor)
{
	char want[32];

	amount_text(minor, want);
	return jis(o, key, want);
}

/* A random live organization that keeps books (books) or not, or -1. */
static int
books_org(walker *w, bool books)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->norgs; i++)
		if (w->orgs[i].alive && w->orgs[i].ledger == books && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

/* An organization for a Finance route: mostly one with books, else one without or a dead one. */
static int
fin_org(walker *w, int books_percent)
{
	int n = rnd(w, 100), org = n < books_percent ? books_org(w, true) : -1;

	if (org < 0 && n < 96)
		org = books_org(w, false);
	if (org < 0)
		org = dead_one(w, 0);
	return org;
}

/* A random account of org (-1: any): a group (group 1), not (0) or either (-1); active only if
 * active. */
static int
pick_acct(walker *w, int org, int group, bool active)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->naccts; i++) {
		acct_m *a = &w->accts[i];

		if (a->alive && (org < 0 || a->org == org) && (group < 0 || a->group == (group == 1)) &&
		    (!active || a->active) && rnd(w, ++n) == 0)
			pick = i;
	}
	return pick;
}

static int
count_accts(const walker *w, int org, bool postable)
{
	int n = 0;

	for (int i = 0; i < w->naccts; i++)
		n += w->accts[i].alive && w->accts[i].org == org &&
		     (!postable || (!w->accts[i].group && w->accts[i].active));
	return n;
}

/* A random organization with books and two accounts to post to, or -1. */
static int
entry_org(walker *w)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->norgs; i++)
		if (w->orgs[i].alive && w->orgs[i].ledger && count_accts(w, i, true) >= 2 &&
		    rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

/* A random organization with books and accounts already, or -1: charts grow where they are. */
static int
busy_org(walker *w)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->norgs; i++)
		if (w->orgs[i].alive && w->orgs[i].ledger && count_accts(w, i, false) > 0 &&
		    rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

static char *
entry_date(const entry_m *e)
{
	return kt_strf("%d-%02d-%02d", e->month < NMONTHS ? 2026 : 2027, e->month % NMONTHS + 1,
	               e->day);
}

/* The entry's number as the API writes it, or NULL for a draft. */
static char *
entry_number(const entry_m *e)
{
	return e->posted ? kt_strf("%s-" FY_NAME "-%06ld", journal_prefixes[e->journal], e->number)
	                 : NULL;
}

/* A posted entry's lines become the accounts' postings of its month. */
static void
entry_book(walker *w, const entry_m *e)
{
	for (int k = 0; k < 2; k++) {
		acct_m *a = &w->accts[e->acct[k]];

		if (e->debit[k])
			a->debit[e->month] += e->amount;
		else
			a->credit[e->month] += e->amount;
	}
}

/* Post e in the model: its number is the next of its journal in its organization. */
static void
entry_post(walker *w, entry_m *e)
{
	e->posted = true;
	e->number = ++w->orgs[e->org].last_number[e->journal];
	e->version++;
	e->audit++;
	entry_book(w, e);
}

/*
 * Why posting lines on acct[] of org dated in month is refused, as fin.post_entry checks in
 * order: a line's account inactive ("lines[k].account_id"), the date in no open period
 * ("date"); NULL: it posts.
 */
static char *
post_refusal(const walker *w, int org, const int acct[2], int month)
{
	for (int k = 0; k < 2; k++)
		if (!w->accts[acct[k]].active)
			return kt_strf("lines[%d].account_id", k);
	if (month >= NMONTHS || w->orgs[org].period_status[month] != P_OPEN)
		return strdup("date");
	return NULL;
}

static char *
entry_refusal(const walker *w, const entry_m *e)
{
	return post_refusal(w, e->org, e->acct, e->month);
}

/* ---- Finance: checking rendered resources against the model ---- */

static void
check_ledger(walker *w, const json_t *o, const org_m *m)
{
	if (!jis(o, "organization_id", m->id) || !jis(o, "currency", m->currency) ||
	    !jis(o, "rounding_account_id", m->rounding < 0 ? NULL : w->accts[m->rounding].id) ||
	    !jis(o, "retained_earnings_account_id", NULL) || jlong(o, "version") != m->ledger_version) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w, "the ledger of %s is %s; the model has %s, rounding %s, version %ld", m->id,
		          text, m->currency, m->rounding < 0 ? "null" : w->accts[m->rounding].id,
		          m->ledger_version);
	}
}

static void
check_acct(walker *w, const json_t *o, int org, int i)
{
	const acct_m *m = &w->accts[i];

	(void)org;
	if (!jis(o, "id", m->id) || !jis(o, "organization_id", w->orgs[m->org].id) ||
	    !jis(o, "code", m->code) || !jis(o, "name", m->name) ||
	    !jis(o, "type", acct_types[m->type]) ||
	    !jis(o, "parent_id", m->parent < 0 ? NULL : w->accts[m->parent].id) ||
	    !json_equal(json_object_get(o, "is_group"), m->group ? json_true() : json_false()) ||
	    !jis(o, "status", m->active ? "active" : "inactive") || jlong(o, "version") != m->version) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w, "account %s is %s; the model has %s \"%s\" %s%s %s version %ld", m->id, text,
		          m->code, m->name, acct_types[m->type], m->group ? " group" : "",
		          m->active ? "active" : "inactive", m->version);
	}
}

/* Period month of org (the API's row of a periods list or a fiscal year's periods). */
static void
check_period(walker *w, const json_t *o, int org, int month)
{
	const org_m *m = &w->orgs[org];
	char *name = kt_strf("2026-%02d", month + 1), *start = kt_strf("%s-01", name);
	char *end = kt_strf("%s-%02d", name, month_days[month]);

	if (!jis(o, "id", m->period[month]) || !jis(o, "fiscal_year_id", m->fy) ||
	    !jis(o, "name", name) || !jis(o, "start_date", start) || !jis(o, "end_date", end) ||
	    !jis(o, "status", period_statuses[m->period_status[month]]) ||
	    jlong(o, "version") != m->period_version[month]) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w, "period %s of %s is %s; the model has %s, %s, version %ld, of %s",
		          m->period[month], m->id, text, name, period_statuses[m->period_status[month]],
		          m->period_version[month], m->fy);
	}
	free(name);
	free(start);
	free(end);
}

static void
check_fy(walker *w, const json_t *o, int org)
{
	const org_m *m = &w->orgs[org];

	if (!jis(o, "id", m->fy) || !jis(o, "organization_id", m->id) || !jis(o, "name", FY_NAME) ||
	    !jis(o, "start_date", "2026-01-01") || !jis(o, "end_date", "2026-12-31") ||
	    !jis(o, "status", "open")) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w, "fiscal year %s of %s is %s", m->fy, m->id, text);
	}
	json_t *periods = json_object_get(o, "periods");

	if (periods != NULL && json_array_size(periods) != NMONTHS)
		walk_fail(w, "fiscal year %s has %zu periods, not %d", m->fy, json_array_size(periods),
		          NMONTHS);
	for (size_t k = 0; k < json_array_size(periods); k++)
		check_period(w, json_array_get(periods, k), org, (int)k);
}

/* An entry's line k: its id (registered the first time it is seen), account and side. */
static void
check_line(walker *w, const json_t *l, entry_m *m, int k)
{
	const char *id = json_string_value(json_object_get(l, "id"));
	const acct_m *a = &w->accts[m->acct[k]];

	if (id == NULL || strlen(id) != 36)
		walk_fail(w, "line %d of entry %s has no id", k, m->id);
	if (m->line[k][0] == '\0') {
		id_register(w, id, w->idx);
		memcpy(m->line[k], id, 37);
	}
	/* the other side of a line is zero */
	if (strcmp(id, m->line[k]) != 0 || !jis(l, "account_id", a->id) ||
	    !jamount(l, m->debit[k] ? "debit" : "credit", m->amount) ||
	    !jamount(l, m->debit[k] ? "credit" : "debit", 0) ||
	    !jamount(l, m->debit[k] ? "functional_debit" : "functional_credit", m->amount) ||
	    !jis(l, "currency", w->orgs[m->org].currency) ||
	    !jis(l, "division_id", m->div[k] < 0 ? NULL : w->divs[m->div[k]].id)) {
		char *text = json_dumps(l, JSON_COMPACT);

		walk_fail(w, "line %d of entry %s is %s; the model has account %s, %s %ld", k, m->id, text,
		          a->id, m->debit[k] ? "debit" : "credit", m->amount);
	}
}

/* An entry as the API renders it (lists may leave the lines out). */
static void
check_entry(walker *w, const json_t *o, int org, int i)
{
	entry_m *m = &w->entries[i];
	char *date = entry_date(m), *number = entry_number(m);
	json_t *lines = json_object_get(o, "lines");

	(void)org;
	if (!jis(o, "id", m->id) || !jis(o, "organization_id", w->orgs[m->org].id) ||
	    !jis(o, "journal", journal_names[m->journal]) ||
	    !jis(o, "kind", m->reversal ? "reversal" : "normal") || !jis(o, "date", date) ||
	    !jis(o, "memo", m->memo) || !jis(o, "status", m->posted ? "posted" : "draft") ||
	    !jis(o, "number", number) || !jis(o, "currency", w->orgs[m->org].currency) ||
	    !jis(o, "reverses_id", m->reverses < 0 ? NULL : w->entries[m->reverses].id) ||
	    !jis(o, "reversed_by_id", m->reversed_by < 0 ? NULL : w->entries[m->reversed_by].id) ||
	    (m->posted ? !json_is_string(json_object_get(o, "posted_at"))
	               : !jis(o, "posted_at", NULL)) ||
	    jlong(o, "version") != m->version || (lines != NULL && json_array_size(lines) != 2)) {
		char *text = json_dumps(o, JSON_COMPACT);

		walk_fail(w,
		          "entry %s is %s; the model has %s %s %s %s, dated %s, reverses %d, reversed by"
		          " %d, version %ld",
		          m->id, text, journal_names[m->journal], m->reversal ? "reversal" : "normal",
		          m->posted ? "posted" : "draft", number ? number : "(no number)", date,
		          m->reverses, m->reversed_by, m->version);
	}
	for (int k = 0; k < 2 && lines != NULL; k++)
		check_line(w, json_array_get(lines, (size_t)k), m, k);
	free(date);
	free(number);
}

/* ---- Finance: lists in their own orders ---- */

/* The rows a Finance list must show, in its order, and how to check one. */
typedef struct fin_rows {
	int *idx; /* into accts, entries, or months */
	const char **id;
	int n;
	int org;
	void (*check)(walker *w, const json_t *o, int org, int i);
} fin_rows;

static void
fin_rows_free(fin_rows *s)
{
	free(s->idx);
	free(s->id);
}

/*
 * Walk a Finance list at path with query (ending in '&' or empty) page by page, limit rows
 * a page, for at most max_pages pages, from cursor (may be NULL, or another tenant's: only a
 * position, so the first page is a run of the model's rows that ends the list when it is not
 * full); each page is exactly the model's rows after the position, next_cursor given exactly
 * when the page is full.  Publishes the cursors seen as kind.
 */
static void
fin_list(walker *w, enum op op, int role, const char *path, const char *query, const fin_rows *s,
         int limit, int max_pages, const char *cursor, enum obs kind)
{
	char *cur = cursor ? strdup(cursor) : NULL;
	int pos = cursor ? -1 : 0;

	for (int page = 0; page < max_pages; page++) {
		char *p = cur ? kt_strf("%s?%slimit=%d&cursor=%s", path, query, limit, cur)
		              : kt_strf("%s?%slimit=%d", path, query, limit);
		kt_resp *r = call(w, op, role, NULL, "GET", NULL, p);

		free(p);
		expect_status(w, r, 200);
		json_t *data = json_object_get(r->json, "data");
		json_t *next = json_object_get(r->json, "next_cursor");

		if (pos < 0) { /* where another tenant's cursor put us in our rows */
			const char *first = json_string_value(json_object_get(json_array_get(data, 0), "id"));

			pos = first == NULL ? s->n : 0;
			while (pos < s->n && strcmp(s->id[pos], first) != 0)
				pos++;
			if (first != NULL && pos == s->n)
				walk_fail(w, "a row the model does not have here: %s", r->body);
		}
		int expect_n = s->n - pos < limit ? s->n - pos : limit;

		if ((int)json_array_size(data) != expect_n)
			walk_fail(w, "a page of %zu rows, the model has %d here (of %d): %s",
			          json_array_size(data), expect_n, s->n, r->body);
		for (int k = 0; k < expect_n; k++)
			s->check(w, json_array_get(data, (size_t)k), s->org, s->idx[pos + k]);
		pos += expect_n;
		free(cur);
		cur = NULL;
		if (expect_n == limit) {
			if (!json_is_string(next))
				walk_fail(w, "a full page without next_cursor: %s", r->body);
			cur = strdup(json_string_value(next));
			observe(w, kind, cur);
		} else if (!json_is_null(next)) {
			walk_fail(w, "a last page with a next_cursor: %s", r->body);
		}
		kt_resp_free(r);
		if (cur == NULL)
			break;
	}
	free(cur);
}

static fin_rows
fin_rows_new(int org, int cap, void (*check)(walker *, const json_t *, int, int))
{
	return (fin_rows){calloc((size_t)cap + 1, sizeof(int)), calloc((size_t)cap + 1, sizeof(char *)),
	                  0, org, check};
}

static int
acct_order(const void *a, const void *b, void *arg)
{
	const walker *w = arg;
	const acct_m *x = &w->accts[*(const int *)a], *y = &w->accts[*(const int *)b];

	return strcmp(x->code, y->code);
}

/* The accounts of org a list shows: all, of a type (type >= 0) or children of parent (>= 0). */
static fin_rows
accts_matching(walker *w, int org, int type, int parent)
{
	fin_rows s = fin_rows_new(org, w->naccts, check_acct);

	for (int i = 0; i < w->naccts; i++)
		if (w->accts[i].alive && w->accts[i].org == org && (type < 0 || w->accts[i].type == type) &&
		    (parent < 0 || w->accts[i].parent == parent))
			s.idx[s.n++] = i;
	qsort_r(s.idx, (size_t)s.n, sizeof(int), acct_order, w);
	for (int k = 0; k < s.n; k++)
		s.id[k] = w->accts[s.idx[k]].id;
	return s;
}

static int
entry_order(const void *a, const void *b, void *arg)
{
	const walker *w = arg;
	const entry_m *x = &w->entries[*(const int *)a], *y = &w->entries[*(const int *)b];

	if (x->month != y->month)
		return x->month - y->month;
	if (x->day != y->day)
		return x->day - y->day;
	if (x->journal != y->journal)
		return x->journal - y->journal; /* GEN- before SAL- */
	return x->number < y->number ? -1 : x->number > y->number;
}

/*
 * The posted entries of org in date and number order: of journal (-1: any), in the months
 * from..to, with a line on account acct (-1: any).
 */
static fin_rows
posted_entries(walker *w, int org, int journal, int from, int to, int acct)
{
	fin_rows s = fin_rows_new(org, w->nentries, check_entry);

	for (int i = 0; i < w->nentries; i++) {
		entry_m *e = &w->entries[i];

		if (e->org == org && e->posted && (journal < 0 || e->journal == journal) &&
		    e->month >= from && e->month <= to &&
		    (acct < 0 || e->acct[0] == acct || e->acct[1] == acct))
			s.idx[s.n++] = i;
	}
	qsort_r(s.idx, (size_t)s.n, sizeof(int), entry_order, w);
	for (int k = 0; k < s.n; k++)
		s.id[k] = w->entries[s.idx[k]].id;
	return s;
}

static void
check_fy_row(walker *w, const json_t *o, int org, int i)
{
	(void)i;
	check_fy(w, o, org);
}

/* The fiscal years of org: the model's one. */
static fin_rows
years_of(walker *w, int org)
{
	fin_rows s = fin_rows_new(org, 1, check_fy_row);

	s.idx[s.n] = 0, s.id[s.n++] = w->orgs[org].fy;
	return s;
}

static fin_rows
periods_of(walker *w, int org)
{
	fin_rows s = fin_rows_new(org, NMONTHS, check_period);

	for (int m = 0; m < NMONTHS; m++)
		s.idx[s.n] = m, s.id[s.n++] = w->orgs[org].period[m];
	return s;
}

/* ---- Finance: ledgers and fiscal years ---- */

/*
 * A create sent with an Idempotency-Key (header h[0]) answered 201 (first): its key is
 * published, and sometimes the same request again gets that answer, byte for byte.
 */
static void
fin_idem(walker *w, enum op op, int role, const char *const *h, const char *text, const char *path,
         const kt_resp *first)
{
	observe(w, OBS_KEY, h[0] + strlen("Idempotency-Key: "));
	if (!chance(w, 40))
		return;
	kt_resp *again = call(w, op, role, h, "POST", text, path);
	char *replayed = kt_header(again, "Idempotent-Replayed");

	expect_status(w, again, 201);
	if (replayed == NULL || strcmp(replayed, "true") != 0 || again->len != first->len ||
	    memcmp(again->body, first->body, first->len) != 0)
		walk_fail(w, "not a replay: %s", again->body);
	free(replayed);
	kt_resp_free(again);
}

/* The fiscal year 2026 of org, of monthly periods, made by role (admin or owner). */
static void
fiscal_year_make(walker *w, int org, int role)
{
	org_m *o = &w->orgs[org];
	char *path = kt_strf(ORGS "/%s/fiscal-years", o->id);
	kt_resp *r = call(w, OP_FISCAL, role, NULL, "POST", FY_BODY, path);
	json_t *periods = json_object_get(r->json, "periods");

	expect_status(w, r, 201);
	if (strlen(kt_jstr(r->json, "id")) != 36 || json_array_size(periods) != NMONTHS)
		walk_fail(w, "a fiscal year without its id or %d periods: %s", NMONTHS, r->body);
	memcpy(o->fy, kt_jstr(r->json, "id"), 37);
	id_register(w, o->fy, w->idx);
	observe(w, OBS_FY, o->fy);
	for (size_t k = 0; k < NMONTHS; k++) {
		json_t *p = json_array_get(periods, k);
		const char *start = kt_jstr(p, "start_date"), *id = kt_jstr(p, "id");
		int month = atoi(start + 5) - 1;

		if (strncmp(start, "2026-", 5) != 0 || month < 0 || month >= NMONTHS || strlen(id) != 36)
			walk_fail(w, "a period of 2026 that is not: %s", r->body);
		memcpy(o->period[month], id, 37);
		o->period_status[month] = P_OPEN;
		o->period_version[month] = 1;
		id_register(w, id, w->idx);
		observe(w, OBS_PERIOD, id);
	}
	check_fy(w, r->json, org);
	kt_resp_free(r);
	free(path);
}

/* The currencies (public): ISO 4217, the ledger's among them with their minor units. */
static void
currencies_check(walker *w)
{
	kt_resp *r = call(w, OP_LEDGER, chance(w, 50) ? -1 : pick_role(w), NULL, "GET", NULL,
	                  "/api/v1/currencies");
	json_t *data = json_object_get(r->json, "data"), *c;
	size_t k;
	int found = 0;

	expect_status(w, r, 200);
	json_array_foreach(data, k, c)
	{
		for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++)
			found += jis(c, "code", currencies[i]) && jlong(c, "minor_units") == 2;
		if (jis(c, "code", "JPY") && jlong(c, "minor_units") != 0)
			walk_fail(w, "JPY has minor units: %s", r->body);
	}
	if (json_array_size(data) < 150 || found != (int)(sizeof(currencies) / sizeof(currencies[0])))
		walk_fail(w, "the currencies are not ISO 4217's: %s", r->body);
	kt_resp_free(r);
}

/* GET, PATCH (the rounding account) or POST (open the books) an organization's ledger. */
static void
op_ledger(walker *w)
{
	int role = pick_role(w), org = fin_org(w, 40), n = rnd(w, 100);

	if (n >= 95) {
		currencies_check(w);
		return;
	}
	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	char *path = kt_strf(ORGS "/%s/ledger", o->id);
	kt_resp *r;

	if ((o->ledger && n < 35) || (!o->ledger && n < 15)) {
		/* the ledger itself: 404 where there is none (the organization's books not opened) */
		r = call(w, OP_LEDGER, role, NULL, "GET", NULL, path);
		expect_status(w, r, !o->alive || !o->ledger ? 404 : 200);
		if (r->status == 200) {
			check_ledger(w, r->json, o);
			check_etag(w, r, o->ledger_version);
		}
	} else if (o->ledger && n < 60) { /* the rounding account: one of its own, or none */
		int a = chance(w, 80) ? pick_acct(w, org, -1, false) : -1;
		char *body = a >= 0 ? kt_strf("{\"rounding_account_id\":\"%s\"}", w->accts[a].id)
		                    : strdup("{\"rounding_account_id\":null}");

		r = call(w, OP_LEDGER, role, NULL, "PATCH", body, path);
		expect_status(w, r, is_admin(role) ? 200 : 403);
		if (r->status == 200) {
			o->rounding = a;
			o->ledger_version++;
			o->ledger_audit++;
			check_ledger(w, r->json, o);
			check_etag(w, r, o->ledger_version);
		}
		free(body);
	} else { /* open the books: once */
		bool invalid = o->alive && !o->ledger && chance(w, 5);
		const char *currency = currencies[rnd(w, sizeof(currencies) / sizeof(currencies[0]))];
		char *body = kt_strf("{\"currency\":\"%s\"}", invalid ? "ZZZ" : currency);
		long want = !is_admin(role) ? 403 : !o->alive ? 404 : o->ledger ? 409 : invalid ? 422 : 201;

		r = call(w, OP_LEDGER, role, NULL, "POST", body, path);
		expect_status(w, r, want);
		if (want == 422 && !kt_has_field_error(r, "currency"))
			walk_fail(w, "a 422 not about currency: %s", r->body);
		if (want == 201) {
			o->ledger = true;
			snprintf(o->currency, sizeof(o->currency), "%s", currency);
			o->ledger_version = 1;
			o->ledger_audit = 1;
			check_ledger(w, r->json, o);
			check_etag(w, r, 1);
			fiscal_year_make(w, org, role);
		}
		free(body);
	}
	kt_resp_free(r);
	free(path);
}

/* The fiscal years and periods of an organization: read, listed, and an overlapping one (409). */
static void
op_fiscal(walker *w)
{
	int role = pick_role(w), org = fin_org(w, 85), n = rnd(w, 100);

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	bool books = o->alive && o->ledger;
	long none = !o->alive ? 404 : 409;
	char *path;
	kt_resp *r;

	if (n < 20 && books) {
		path = kt_strf("/api/v1/fiscal-years/%s", o->fy);
		r = call(w, OP_FISCAL, role, NULL, "GET", NULL, path);
		expect_status(w, r, 200);
		check_fy(w, r->json, org);
		check_etag(w, r, 1);
	} else if (n < 40) {
		path = kt_strf(ORGS "/%s/fiscal-years", o->id);
		if (books) {
			fin_rows s = years_of(w, org);

			fin_list(w, OP_FISCAL, role, path, "", &s, 1 + rnd(w, 2), 2, NULL, OBS_FY_CURSOR);
			fin_rows_free(&s);
			free(path);
			return;
		}
		r = call(w, OP_FISCAL, role, NULL, "GET", NULL, path);
		expect_status(w, r, none);
	} else if (n < 55) { /* 2026-07..2027-06 overlaps 2026 */
		path = kt_strf(ORGS "/%s/fiscal-years", o->id);
		r = call(w, OP_FISCAL, role, NULL, "POST",
		         "{\"name\":\"FY27\",\"start_date\":\"2026-07-01\",\"end_date\":\"2027-06-30\","
		         "\"period\":\"month\"}",
		         path);
		expect_status(w, r, !is_admin(role) ? 403 : books ? 409 : none);
	} else {
		path = kt_strf(ORGS "/%s/periods", o->id);
		if (books) {
			fin_rows s = periods_of(w, org);

			fin_list(w, OP_FISCAL, role, path, "", &s, random_limit(w), 1 + rnd(w, 2), NULL,
			         OBS_PERIOD_CURSOR);
			fin_rows_free(&s);
			free(path);
			return;
		}
		r = call(w, OP_FISCAL, role, NULL, "GET", NULL, path);
		expect_status(w, r, none);
	}
	kt_resp_free(r);
	free(path);
}

/* ---- Finance: accounts ---- */

static int
acct_add(walker *w, const char *id, int org, int parent, const json_t *body, int type, bool group)
{
	w->accts = realloc(w->accts, sizeof(acct_m) * (size_t)(w->naccts + 1));
	acct_m *m = &w->accts[w->naccts];

	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->org = org;
	m->parent = parent;
	m->code = strdup(kt_jstr(body, "code"));
	m->name = strdup(kt_jstr(body, "name"));
	m->type = type;
	m->group = group;
	m->active = true;
	m->alive = true;
	m->version = 1;
	m->audit = 1;
	id_register(w, m->id, w->idx);
	observe(w, OBS_ACCT, m->id);
	observe(w, OBS_CODE, m->code);
	return w->naccts++;
}

/*
 * A parent_id for a new account of org that is wrong (422): a leaf account, another
 * organization's group, another tenant's account, or no row.
 */
static char *
wrong_parent(walker *w, int org)
{
	int n = rnd(w, 100), leaf = pick_acct(w, org, 0, false), other = pick_acct(w, -1, 1, false);

	if (n < 35 && leaf >= 0)
		return strdup(w->accts[leaf].id);
	if (n < 60 && other >= 0 && w->accts[other].org != org)
		return strdup(w->accts[other].id);
	return foreign_id(w, OBS_ACCT);
}

static void
op_acct_create(walker *w)
{
	int role = pick_role(w), org = chance(w, 50) ? busy_org(w) : -1;

	if (org < 0 && (org = fin_org(w, 90)) < 0)
		return;
	org_m *o = &w->orgs[org];
	bool books = o->alive && o->ledger;

	if (books && count_accts(w, org, false) >= 40)
		return;
	int n = ++w->seq, type = rnd(w, 5), dup = -1, parent = -1, how = rnd(w, 100);
	bool group = chance(w, 25), bad_parent = false;
	json_t *body = json_object();
	char *parent_text = NULL;

	if (books && how < 35 && (parent = pick_acct(w, org, 1, false)) >= 0) {
		/* under a group of the organization: of its type, else 422 */
		parent_text = strdup(w->accts[parent].id);
		if (chance(w, 85))
			type = w->accts[parent].type;
		if ((bad_parent = type != w->accts[parent].type))
			parent = -1;
	} else if (books && how < 40) {
		parent_text = wrong_parent(w, org);
		bad_parent = true;
		parent = -1;
	}
	if (books && !bad_parent && chance(w, 6) && (dup = pick_acct(w, org, -1, false)) >= 0)
		json_object_set_new(body, "code", json_string(w->accts[dup].code));
	else
		json_object_set_new(body, "code", json_sprintf("%s-a%d", w->marker, n)), dup = -1;
	json_object_set_new(body, "name", json_sprintf("Acct %s %d", w->marker, n));
	json_object_set_new(body, "type", json_string(acct_types[type]));
	if (group || chance(w, 30))
		json_object_set_new(body, "is_group", json_boolean(group));
	if (parent_text != NULL)
		json_object_set_new(body, "parent_id", json_string(parent_text));
	long want = !is_admin(role) ? 403
	            : !o->alive     ? 404
	            : !o->ledger    ? 409
	            : bad_parent    ? 422
	            : dup >= 0      ? 409
	                            : 201;
	char *path = kt_strf(ORGS "/%s/accounts", o->id);
	char *text = json_dumps(body, JSON_COMPACT);
	char *key = chance(w, 15) ? kt_strf("Idempotency-Key: ka-%s-%d", w->marker, n) : NULL;
	const char *h[] = {key, NULL};
	kt_resp *r = call(w, OP_ACCT_CREATE, role, key ? h : NULL, "POST", text, path);

	expect_status(w, r, want);
	if (want == 422 && !kt_has_field_error(r, "parent_id") && !kt_has_field_error(r, "type"))
		walk_fail(w, "a 422 not about parent_id: %s", r->body);
	if (want == 201) {
		int i = acct_add(w, kt_jstr(r->json, "id"), org, parent, body, type, group);

		check_acct(w, r->json, org, i);
		check_etag(w, r, 1);
		if (key != NULL)
			fin_idem(w, OP_ACCT_CREATE, role, h, text, path, r);
	}
	free(key);
	kt_resp_free(r);
	free(text);
	free(path);
	free(parent_text);
	json_decref(body);
}

/* A random deleted account, or -1. */
static int
dead_acct(walker *w)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->naccts; i++)
		if (!w->accts[i].alive && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

/* One of our accounts, live or deleted (its index), or an id of no row (-1). */
static char *
acct_target(walker *w, int *idx)
{
	int n = rnd(w, 100), i = n < 88 ? pick_acct(w, -1, -1, false) : n < 95 ? dead_acct(w) : -1;

	*idx = i;
	return i >= 0 ? strdup(w->accts[i].id) : nowhere_id(w);
}

static void
op_acct_get(walker *w)
{
	int role = pick_role(w), i;
	char *id = acct_target(w, &i);
	char *path = kt_strf("/api/v1/accounts/%s", id);
	kt_resp *r = call(w, OP_ACCT_GET, role, NULL, "GET", NULL, path);
	bool alive = i >= 0 && w->accts[i].alive;

	expect_status(w, r, alive ? 200 : 404);
	if (alive) {
		check_acct(w, r->json, -1, i);
		check_etag(w, r, w->accts[i].version);
	}
	kt_resp_free(r);
	free(path);
	free(id);
}

static void
op_acct_list(walker *w)
{
	int role = pick_role(w), org = fin_org(w, 90);

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	char *path = kt_strf(ORGS "/%s/accounts", o->id);

	if (!o->alive || !o->ledger) {
		kt_resp *r = call(w, OP_ACCT_LIST, role, NULL, "GET", NULL, path);

		expect_status(w, r, !o->alive ? 404 : 409);
		kt_resp_free(r);
		free(path);
		return;
	}
	int n = rnd(w, 100), type = -1, parent = -1;
	char *query;

	if (n < 20) {
		type = rnd(w, 5);
		query = kt_strf("type=%s&", acct_types[type]);
	} else if (n < 35 && (parent = pick_acct(w, org, 1, false)) >= 0) {
		query = kt_strf("parent_id=%s&", w->accts[parent].id);
	} else {
		parent = -1;
		query = strdup("");
	}
	fin_rows s = accts_matching(w, org, type, parent);

	fin_list(w, OP_ACCT_LIST, role, path, query, &s, random_limit(w), 1 + rnd(w, 3), NULL,
	         OBS_ACCT_CURSOR);
	fin_rows_free(&s);
	free(query);
	free(path);
}

static void
op_acct_patch(walker *w)
{
	int role = pick_role(w), i, n = ++w->seq;
	char *id = acct_target(w, &i);
	char *path = kt_strf("/api/v1/accounts/%s", id);
	json_t *body = json_object();
	bool active = chance(w, 60);

	if (chance(w, 60))
		json_object_set_new(body, "name", json_sprintf("Acct %s %d renamed", w->marker, n));
	if (json_object_size(body) == 0 || chance(w, 40))
		json_object_set_new(body, "status", json_string(active ? "active" : "inactive"));
	int how = rnd(w, 100);
	long version = i >= 0 ? w->accts[i].version : 1;
	char *ifm = how < 50 ? NULL : etag_header(how < 85 ? version : version + 1 + rnd(w, 3));
	bool stale = ifm != NULL && how >= 85;
	bool alive = i >= 0 && w->accts[i].alive, invalid = alive && !stale && chance(w, 3);

	if (invalid)
		json_object_set_new(body, "status", json_string("closed"));
	long want = !is_admin(role) ? 403 : invalid ? 422 : !alive ? 404 : stale ? 412 : 200;
	char *text = json_dumps(body, JSON_COMPACT);
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_ACCT_PATCH, role, ifm ? h : NULL, "PATCH", text, path);

	expect_status(w, r, want);
	if (want == 200) {
		acct_m *a = &w->accts[i];
		json_t *v;

		if ((v = json_object_get(body, "name")) != NULL)
			free(a->name), a->name = strdup(json_string_value(v));
		if (json_object_get(body, "status") != NULL)
			a->active = active;
		a->version++;
		a->audit++;
		check_acct(w, r->json, -1, i);
		check_etag(w, r, a->version);
	}
	kt_resp_free(r);
	free(text);
	free(ifm);
	free(path);
	free(id);
	json_decref(body);
}

/* ---- Finance: journal entries ---- */

static int
entry_add(walker *w, const char *id, int org, int journal, int month, int day, const int acct[2],
          const bool debit[2], long amount)
{
	w->entries = realloc(w->entries, sizeof(entry_m) * (size_t)(w->nentries + 1));
	entry_m *m = &w->entries[w->nentries];

	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->org = org;
	m->journal = journal;
	m->month = month;
	m->day = day;
	memcpy(m->acct, acct, sizeof(m->acct));
	memcpy(m->debit, debit, sizeof(m->debit));
	m->amount = amount;
	m->memo = strdup("");
	m->div[0] = m->div[1] = -1;
	m->alive = true;
	m->reverses = m->reversed_by = -1;
	m->version = 1;
	m->audit = 1;
	id_register(w, m->id, w->idx);
	observe(w, OBS_ENTRY, m->id);
	return w->nentries++;
}

/*
 * A create body: two lines of amount on acct_ids[k], debit[k] or credit, in division
 * div_ids[k] (div_ids or an item NULL: none); memo (NULL: none); post: true, false or left
 * out (-1).
 */
static char *
entry_body(int journal, const char *date, const char *memo, const char *const acct_ids[2],
           const char *const div_ids[2], const bool debit[2], long amount, int post)
{
	json_t *b = json_object(), *lines = json_array();
	char amt[32];

	amount_text(amount, amt);
	for (int k = 0; k < 2; k++) {
		json_t *l =
		    json_pack("{s:s, s:s}", "account_id", acct_ids[k], debit[k] ? "debit" : "credit", amt);

		if (div_ids != NULL && div_ids[k] != NULL)
			json_object_set_new(l, "division_id", json_string(div_ids[k]));
		json_array_append_new(lines, l);
	}
	json_object_set_new(b, "journal", json_string(journal_names[journal]));
	json_object_set_new(b, "date", json_string(date));
	if (memo != NULL)
		json_object_set_new(b, "memo", json_string(memo));
	json_object_set_new(b, "lines", lines);
	if (post >= 0)
		json_object_set_new(b, "post", json_boolean(post));
	char *text = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	return text;
}

/* Two different postable accounts of org into acct. */
static void
two_accts(walker *w, int org, int acct[2])
{
	acct[0] = pick_acct(w, org, 0, true);
	do
		acct[1] = pick_acct(w, org, 0, true);
	while (acct[1] == acct[0]);
}

static void
op_entry_create(walker *w)
{
	int role = pick_role(w), org = chance(w, 90) ? entry_org(w) : -1;

	if (org < 0 && (org = fin_org(w, 0)) < 0)
		return;
	org_m *o = &w->orgs[org];
	bool books = o->alive && o->ledger && count_accts(w, org, true) >= 2;
	int acct[2] = {-1, -1}, bad_line = -1;
	bool debit[2];
	char *id_text[2] = {NULL, NULL};

	debit[0] = chance(w, 50);
	debit[1] = !debit[0];
	if (books) {
		two_accts(w, org, acct);
		for (int k = 0; k < 2; k++)
			id_text[k] = strdup(w->accts[acct[k]].id);
		if (chance(w, 6)) { /* another organization's or tenant's account, or no row: 422 */
			int other = pick_acct(w, -1, 0, false);

			bad_line = rnd(w, 2);
			free(id_text[bad_line]);
			id_text[bad_line] = other >= 0 && w->accts[other].org != org && chance(w, 50)
			                        ? strdup(w->accts[other].id)
			                        : foreign_id(w, OBS_ACCT);
		}
	} else {
		id_text[0] = nowhere_id(w);
		id_text[1] = nowhere_id(w);
	}
	int journal = chance(w, 25) ? J_SALES : J_GENERAL, month = rnd(w, NMONTHS);

	if (bad_line < 0 && chance(w, 4))
		month = NMONTHS; /* January 2027: in no period of the model's */
	int day = 1 + rnd(w, month_days[month % NMONTHS]);
	int post = books && bad_line < 0 && chance(w, 45) ? 1 : chance(w, 20) ? 0 : -1;
	long amount = 1 + rnd(w, 5000000);
	entry_m probe = {.month = month, .day = day};
	char *date = entry_date(&probe);
	char *memo = chance(w, 50) ? kt_strf("Entry %s %d", w->marker, ++w->seq) : NULL;
	/* some lines in a division of the organization's */
	int div[2] = {books && chance(w, 25) ? live_div(w, org) : -1,
	              books && chance(w, 25) ? live_div(w, org) : -1};
	const char *div_ids[2] = {div[0] >= 0 ? w->divs[div[0]].id : NULL,
	                          div[1] >= 0 ? w->divs[div[1]].id : NULL};
	char *text =
	    entry_body(journal, date, memo, (const char *const *)id_text, div_ids, debit, amount, post);
	/* posting at once: refused as /post would be (the accounts are active: the date) */
	char *why = bad_line >= 0 ? kt_strf("lines[%d].account_id", bad_line)
	            : post == 1   ? post_refusal(w, org, acct, month)
	                          : NULL;
	long want = role == VIEWER                 ? 403
	            : post == 1 && !is_admin(role) ? 403
	            : !o->alive                    ? 404
	            : !o->ledger                   ? 409
	            : why != NULL                  ? 422
	                                           : 201;
	char *path = kt_strf(ORGS "/%s/journal-entries", o->id);
	char *key = chance(w, 15) ? kt_strf("Idempotency-Key: ke-%s-%d", w->marker, ++w->seq) : NULL;
	const char *h[] = {key, NULL};
	kt_resp *r = call(w, OP_ENTRY_CREATE, role, key ? h : NULL, "POST", text, path);

	expect_status(w, r, want);
	if (want == 422 && !kt_has_field_error(r, why))
		walk_fail(w, "a 422 not about %s: %s", why, r->body);
	if (want == 201) {
		int i = entry_add(w, kt_jstr(r->json, "id"), org, journal, month, day, acct, debit, amount);

		if (memo != NULL)
			free(w->entries[i].memo), w->entries[i].memo = strdup(memo);
		memcpy(w->entries[i].div, div, sizeof(div));
		if (post == 1)
			entry_post(w, &w->entries[i]);
		check_entry(w, r->json, org, i);
		check_etag(w, r, w->entries[i].version);
		if (key != NULL) /* a replay: not a second entry, nor a second number */
			fin_idem(w, OP_ENTRY_CREATE, role, h, text, path, r);
	}
	free(key);
	kt_resp_free(r);
	free(why);
	free(memo);
	free(path);
	free(text);
	free(date);
	free(id_text[0]);
	free(id_text[1]);
}

/* A random entry: a draft (state 0), a posted one that may be reversed (1), or any (-1); or -1. */
static int
pick_entry(walker *w, int state)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->nentries; i++) {
		entry_m *e = &w->entries[i];
		bool ok = state < 0    ? e->alive
		          : state == 0 ? e->alive && !e->posted
		                       : e->posted && !e->reversal && e->reversed_by < 0;

		if (ok && rnd(w, ++n) == 0)
			pick = i;
	}
	return pick;
}

/* A deleted draft, or -1. */
static int
dead_entry(walker *w)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->nentries; i++)
		if (!w->entries[i].alive && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

static void
op_entry_get(walker *w)
{
	int role = pick_role(w), n = rnd(w, 100), i = n < 88 ? pick_entry(w, -1) : -1;

	if (i < 0 && n < 96)
		i = dead_entry(w);
	char *id = i >= 0 ? strdup(w->entries[i].id) : nowhere_id(w);
	char *path = kt_strf("/api/v1/journal-entries/%s", id);
	kt_resp *r = call(w, OP_ENTRY_GET, role, NULL, "GET", NULL, path);
	bool alive = i >= 0 && w->entries[i].alive;

	expect_status(w, r, alive ? 200 : 404);
	if (alive) {
		check_entry(w, r->json, -1, i);
		check_etag(w, r, w->entries[i].version);
	}
	kt_resp_free(r);
	free(path);
	free(id);
}

static void
op_entry_list(walker *w)
{
	int role = pick_role(w), org = fin_org(w, 90);

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	char *path = kt_strf(ORGS "/%s/journal-entries", o->id);

	if (!o->alive || !o->ledger) {
		kt_resp *r = call(w, OP_ENTRY_LIST, role, NULL, "GET", NULL, path);

		expect_status(w, r, !o->alive ? 404 : 409);
		kt_resp_free(r);
		free(path);
		return;
	}
	int journal = chance(w, 50) ? rnd(w, NJOURNALS) : -1, from = 0, to = NMONTHS - 1, acct = -1;
	char *query = journal >= 0 ? kt_strf("status=posted&journal=%s&", journal_names[journal])
	                           : strdup("status=posted&");

	if (chance(w, 25)) { /* ?from=&to= (both days included) */
		char *q = query;

		from = rnd(w, NMONTHS), to = from + rnd(w, NMONTHS - from);
		query =
		    kt_strf("%sfrom=2026-%02d-01&to=2026-%02d-%02d&", q, from + 1, to + 1, month_days[to]);
		free(q);
	}
	if (chance(w, 20) && (acct = pick_acct(w, org, 0, false)) >= 0) {
		char *q = query;

		query = kt_strf("%saccount_id=%s&", q, w->accts[acct].id);
		free(q);
	}
	fin_rows s = posted_entries(w, org, journal, from, to, acct);

	fin_list(w, OP_ENTRY_LIST, role, path, query, &s, random_limit(w), 1 + rnd(w, 3), NULL,
	         OBS_ENTRY_CURSOR);
	fin_rows_free(&s);
	free(query);
	free(path);
}

/* POST .../post: a draft posts (its number the next of its journal), or 409, 422 as the model says.
 */
static void
op_entry_post(walker *w)
{
	int role = pick_role(w), i = chance(w, 80) ? pick_entry(w, 0) : -1;

	if (i < 0 && chance(w, 80))
		i = pick_entry(w, -1);
	char *id = i >= 0 ? strdup(w->entries[i].id) : nowhere_id(w);
	char *path = kt_strf("/api/v1/journal-entries/%s/post", id);
	char *why = i >= 0 && !w->entries[i].posted ? entry_refusal(w, &w->entries[i]) : NULL;
	long want = !is_admin(role)        ? 403
	            : i < 0                ? 404
	            : w->entries[i].posted ? 409
	            : why != NULL          ? 422
	                                   : 200;
	kt_resp *r = call(w, OP_ENTRY_POST, role, NULL, "POST", NULL, path);

	expect_status(w, r, want);
	if (want == 422 && !kt_has_field_error(r, why))
		walk_fail(w, "a 422 not about %s: %s", why, r->body);
	if (want == 200) {
		entry_post(w, &w->entries[i]);
		check_entry(w, r->json, -1, i);
		check_etag(w, r, w->entries[i].version);
	}
	kt_resp_free(r);
	free(why);
	free(path);
	free(id);
}

/* POST .../reverse: a posted entry's reversal (201, once), else 409. */
static void
op_entry_reverse(walker *w)
{
	int role = pick_role(w), i = chance(w, 75) ? pick_entry(w, 1) : -1;

	if (i < 0 && chance(w, 85))
		i = pick_entry(w, -1);
	char *id = i >= 0 ? strdup(w->entries[i].id) : nowhere_id(w);
	char *path = kt_strf("/api/v1/journal-entries/%s/reverse", id);
	entry_m *e = i >= 0 ? &w->entries[i] : NULL;
	int month = rnd(w, NMONTHS), day = 1 + rnd(w, month_days[month]);
	/* the memo given, or "Reversal of <number>" */
	char *memo = chance(w, 50) ? kt_strf("Back %s %d", w->marker, ++w->seq)
	             : e != NULL   ? kt_strf("Reversal of %s-" FY_NAME "-%06ld",
	                                     journal_prefixes[e->journal], e->number)
	                           : NULL;
	char *body =
	    memo == NULL || strncmp(memo, "Back", 4) != 0
	        ? kt_strf("{\"date\":\"2026-%02d-%02d\"}", month + 1, day)
	        : kt_strf("{\"date\":\"2026-%02d-%02d\",\"memo\":\"%s\"}", month + 1, day, memo);
	/* the reversal posts the same lines: their accounts must still take postings */
	char *why = e != NULL && e->posted ? post_refusal(w, e->org, e->acct, month) : NULL;
	long want = !is_admin(role)                                    ? 403
	            : e == NULL                                        ? 404
	            : !e->posted || e->reversal || e->reversed_by >= 0 ? 409
	            : why != NULL                                      ? 422
	                                                               : 201;
	kt_resp *r = call(w, OP_ENTRY_REVERSE, role, NULL, "POST", body, path);

	expect_status(w, r, want);
	if (want == 422 && !kt_has_field_error(r, why))
		walk_fail(w, "a 422 not about %s: %s", why, r->body);
	if (want == 201) {
		bool flipped[2] = {!e->debit[0], !e->debit[1]};
		int acct[2] = {e->acct[0], e->acct[1]}, org = e->org, journal = e->journal;
		long amount = e->amount;
		int k =
		    entry_add(w, kt_jstr(r->json, "id"), org, journal, month, day, acct, flipped, amount);

		w->entries[k].reversal = true;
		memcpy(w->entries[k].div, w->entries[i].div, sizeof(w->entries[k].div));
		free(w->entries[k].memo);
		w->entries[k].memo = memo;
		memo = NULL;
		w->entries[k].reverses = i;
		w->entries[i].reversed_by = k;
		entry_post(w, &w->entries[k]);
		check_entry(w, r->json, -1, k);
		check_etag(w, r, w->entries[k].version);
		kt_resp_free(r);
		/* the original now names its reversal, and is otherwise as it was */
		free(path);
		path = kt_strf("/api/v1/journal-entries/%s", id);
		r = call(w, OP_ENTRY_GET, role, NULL, "GET", NULL, path);
		expect_status(w, r, 200);
		check_entry(w, r->json, -1, i);
	}
	kt_resp_free(r);
	free(why);
	free(memo);
	free(body);
	free(path);
	free(id);
}

/* ---- Finance: the trial balance ---- */

/*
 * Account a's postings in division div (-1: any) as opening, debit and credit of the months
 * from..to (groups: of their subtree).
 */
static void
acct_sums_in(const walker *w, int a, int div, int from, int to, long out[3])
{
	const acct_m *m = &w->accts[a];

	for (int mo = 0; div < 0 && mo <= to; mo++) {
		if (mo < from) {
			out[0] += m->debit[mo] - m->credit[mo];
		} else {
			out[1] += m->debit[mo];
			out[2] += m->credit[mo];
		}
	}
	for (int i = 0; div >= 0 && i < w->nentries; i++) {
		const entry_m *e = &w->entries[i];

		for (int k = 0; k < 2 && e->posted && e->month <= to; k++) {
			if (e->acct[k] != a || e->div[k] != div)
				continue;
			if (e->month < from)
				out[0] += e->debit[k] ? e->amount : -e->amount;
			else
				out[e->debit[k] ? 1 : 2] += e->amount;
		}
	}
	for (int c = 0; m->group && c < w->naccts; c++)
		if (w->accts[c].parent == a)
			acct_sums_in(w, c, div, from, to, out);
}

/* Account a's opening, debit and credit for the months from..to (groups: of their subtree). */
static void
acct_sums(const walker *w, int a, int from, int to, long out[3])
{
	acct_sums_in(w, a, -1, from, to, out);
}

static bool
check_sums(const json_t *o, const long s[3])
{
	return jamount(o, "opening", s[0]) && jamount(o, "debit", s[1]) && jamount(o, "credit", s[2]) &&
	       jamount(o, "closing", s[0] + s[1] - s[2]);
}

static void
op_trial_balance(walker *w)
{
	int role = pick_role(w), org = fin_org(w, 88);

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	int from = rnd(w, NMONTHS), to = from + rnd(w, NMONTHS - from);
	/* only a division's postings: then the totals need not balance */
	int div = o->alive && o->ledger && chance(w, 15) ? live_div(w, org) : -1;
	char *f = kt_strf("2026-%02d-01", from + 1),
	     *t = kt_strf("2026-%02d-%02d", to + 1, month_days[to]);
	char *path = kt_strf(ORGS "/%s/trial-balance?from=%s&to=%s%s%s", o->id, f, t,
	                     div >= 0 ? "&division_id=" : "", div >= 0 ? w->divs[div].id : "");
	kt_resp *r = call(w, OP_TRIAL_BALANCE, role, NULL, "GET", NULL, path);

	expect_status(w, r, !o->alive ? 404 : !o->ledger ? 409 : 200);
	if (r->status == 200) {
		json_t *rows = json_object_get(r->json, "accounts"), *row;
		long total[3] = {0, 0, 0};
		int active = 0, listed = 0;
		size_t k;

		for (int a = 0; a < w->naccts; a++) {
			long s[3] = {0, 0, 0};

			if (w->accts[a].org != org || w->accts[a].group)
				continue;
			acct_sums_in(w, a, div, from, to, s);
			for (int x = 0; x < 3; x++)
				total[x] += s[x];
			active += s[0] != 0 || s[1] != 0 || s[2] != 0;
		}
		if (!jis(r->json, "currency", o->currency) || !jis(r->json, "from", f) ||
		    !jis(r->json, "to", t) || !check_sums(json_object_get(r->json, "totals"), total) ||
		    (div < 0 && total[1] != total[2]))
			walk_fail(w, "the trial balance's totals; the model has debit %ld, credit %ld: %s",
			          total[1], total[2], r->body);
		json_array_foreach(rows, k, row)
		{
			const char *id = kt_jstr(row, "account_id");
			int a = 0;
			long s[3] = {0, 0, 0};

			while (a < w->naccts && (w->accts[a].org != org || strcmp(w->accts[a].id, id) != 0))
				a++;
			if (a == w->naccts)
				walk_fail(w, "a trial balance row of no account of the organization: %s", r->body);
			acct_sums_in(w, a, div, from, to, s);
			listed += !w->accts[a].group && (s[0] != 0 || s[1] != 0 || s[2] != 0);
			if (!jis(row, "code", w->accts[a].code) ||
			    !jis(row, "type", acct_types[w->accts[a].type]) || !check_sums(row, s))
				walk_fail(w, "the trial balance row of %s; the model has %ld, %ld, %ld: %s", id,
				          s[0], s[1], s[2], r->body);
		}
		if (listed != active)
			walk_fail(w, "the trial balance lists %d accounts with postings, the model has %d: %s",
			          listed, active, r->body);
	}
	kt_resp_free(r);
	free(path);
	free(f);
	free(t);
}

/* ---- Finance: more of accounts, entries and periods ---- */

/* Why an account's delete is refused (409): lines name it, it has children, the ledger names it. */
static bool
acct_in_use(const walker *w, int a)
{
	for (int i = 0; i < w->nentries; i++)
		if (w->entries[i].alive && (w->entries[i].acct[0] == a || w->entries[i].acct[1] == a))
			return true;
	for (int i = 0; i < w->naccts; i++)
		if (w->accts[i].alive && w->accts[i].parent == a)
			return true;
	return w->orgs[w->accts[a].org].rounding == a;
}

static void
op_acct_delete(walker *w)
{
	int role = pick_role(w), i;
	char *id = acct_target(w, &i);
	char *path = kt_strf("/api/v1/accounts/%s", id);
	int how = rnd(w, 100);
	bool alive = i >= 0 && w->accts[i].alive;
	long version = i >= 0 ? w->accts[i].version : 1;
	char *ifm = how < 60 ? NULL : etag_header(how < 85 ? version : version + 1);
	bool stale = ifm != NULL && how >= 85;
	long want = !is_admin(role) ? 403 : !alive ? 404 : stale ? 412 : acct_in_use(w, i) ? 409 : 204;
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_ACCT_DELETE, role, ifm ? h : NULL, "DELETE", NULL, path);

	expect_status(w, r, want);
	if (want == 204) {
		w->accts[i].alive = false;
		w->accts[i].audit++;
	}
	kt_resp_free(r);
	free(ifm);
	free(path);
	free(id);
}

/* A draft (mostly), a posted entry, a deleted one, or no row (-1) for a change. */
static char *
entry_target(walker *w, int *idx)
{
	int n = rnd(w, 100), i = n < 75 ? pick_entry(w, 0) : n < 90 ? pick_entry(w, -1) : -1;

	if (i < 0 && n < 97)
		i = dead_entry(w);
	*idx = i;
	return i >= 0 ? strdup(w->entries[i].id) : nowhere_id(w);
}

/* PATCH a draft's journal, date or memo (member); a posted entry is 409. */
static void
op_entry_patch(walker *w)
{
	int role = pick_role(w), i, journal = rnd(w, NJOURNALS), month = rnd(w, NMONTHS + 1);
	char *id = entry_target(w, &i);
	char *path = kt_strf("/api/v1/journal-entries/%s", id);
	int day = 1 + rnd(w, month_days[month % NMONTHS]), n = rnd(w, 100);
	entry_m probe = {.month = month, .day = day};
	char *date = entry_date(&probe);
	json_t *body = json_object();

	if (n < 40)
		json_object_set_new(body, "date", json_string(date));
	if (n >= 30 && n < 60)
		json_object_set_new(body, "journal", json_string(journal_names[journal]));
	if (n >= 50)
		json_object_set_new(body, "memo", json_sprintf("Changed %s %d", w->marker, ++w->seq));
	int how = rnd(w, 100);
	bool alive = i >= 0 && w->entries[i].alive;
	long version = i >= 0 ? w->entries[i].version : 1;
	char *ifm = how < 60 ? NULL : etag_header(how < 85 ? version : version + 1);
	bool stale = ifm != NULL && how >= 85;
	long want = role == VIEWER         ? 403
	            : !alive               ? 404
	            : stale                ? 412
	            : w->entries[i].posted ? 409
	                                   : 200;
	char *text = json_dumps(body, JSON_COMPACT);
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_ENTRY_PATCH, role, ifm ? h : NULL, "PATCH", text, path);

	expect_status(w, r, want);
	if (want == 200) {
		entry_m *e = &w->entries[i];

		if (json_object_get(body, "date") != NULL)
			e->month = month, e->day = day;
		if (json_object_get(body, "journal") != NULL)
			e->journal = journal;
		if (json_object_get(body, "memo") != NULL)
			free(e->memo), e->memo = strdup(kt_jstr(body, "memo"));
		e->version++;
		e->audit++;
		check_entry(w, r->json, -1, i);
		check_etag(w, r, e->version);
	}
	kt_resp_free(r);
	json_decref(body);
	free(text);
	free(date);
	free(ifm);
	free(path);
	free(id);
}

/* DELETE a draft (member); a posted entry is 409. */
static void
op_entry_delete(walker *w)
{
	int role = pick_role(w), i;
	char *id = entry_target(w, &i);
	char *path = kt_strf("/api/v1/journal-entries/%s", id);
	int how = rnd(w, 100);
	bool alive = i >= 0 && w->entries[i].alive;
	long version = i >= 0 ? w->entries[i].version : 1;
	char *ifm = how < 60 ? NULL : etag_header(how < 85 ? version : version + 1);
	bool stale = ifm != NULL && how >= 85;
	long want = role == VIEWER         ? 403
	            : !alive               ? 404
	            : stale                ? 412
	            : w->entries[i].posted ? 409
	                                   : 204;
	const char *h[] = {ifm, NULL};
	kt_resp *r = call(w, OP_ENTRY_DELETE, role, ifm ? h : NULL, "DELETE", NULL, path);

	expect_status(w, r, want);
	if (want == 204) {
		w->entries[i].alive = false;
		w->entries[i].audit++;
	}
	kt_resp_free(r);
	free(ifm);
	free(path);
	free(id);
}

enum period_action { PA_CLOSE, PA_REOPEN, PA_LOCK };

/* The month an action would succeed on in o, or -1. */
static int
period_candidate(const org_m *o, int action)
{
	int m = 0;

	if (action == PA_CLOSE) {
		while (m < NMONTHS && o->period_status[m] != P_OPEN)
			m++;
		return m < NMONTHS ? m : -1;
	}
	if (action == PA_REOPEN) {
		for (m = NMONTHS - 1; m >= 0 && o->period_status[m] == P_OPEN; m--)
			;
		return m >= 0 && o->period_status[m] == P_CLOSED ? m : -1;
	}
	while (m < NMONTHS && o->period_status[m] == P_LOCKED)
		m++;
	return m < NMONTHS && o->period_status[m] == P_CLOSED ? m : -1;
}

/* The action on month m refused (409): by the period's state or the order of the periods. */
static bool
period_refused(const org_m *o, int action, int m)
{
	static const int from[] = {P_OPEN, P_CLOSED, P_CLOSED};

	if (o->period_status[m] != from[action])
		return true;
	for (int k = 0; k < NMONTHS; k++)
		if ((action == PA_CLOSE && k < m && o->period_status[k] == P_OPEN) ||
		    (action == PA_REOPEN && k > m && o->period_status[k] != P_OPEN) ||
		    (action == PA_LOCK && k < m && o->period_status[k] != P_LOCKED))
			return true;
	return false;
}

/* Close (admin), reopen (owner, with a reason) or lock (owner) a period of the fiscal year. */
static void
op_period(walker *w)
{
	static const char *const verbs[] = {"close", "reopen", "lock"};
	static const int min[] = {ADMIN, OWNER, OWNER};
	int role = pick_role(w), org = books_org(w, true), n = rnd(w, 100);

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	int action = n < 30 ? PA_CLOSE : n < 88 ? PA_REOPEN : PA_LOCK;
	int m = chance(w, 75) ? period_candidate(o, action) : -1;

	if (m < 0)
		m = rnd(w, NMONTHS);
	bool no_reason = action == PA_REOPEN && chance(w, 5);
	char *body = action != PA_REOPEN ? NULL
	             : no_reason         ? strdup("{}")
	                                 : kt_strf("{\"reason\":\"%s fix %d\"}", w->marker, ++w->seq);
	long want = role > min[action]             ? 403
	            : no_reason                    ? 422
	            : period_refused(o, action, m) ? 409
	                                           : 200;
	char *path = kt_strf("/api/v1/periods/%s/%s", o->period[m], verbs[action]);
	kt_resp *r = call(w, OP_PERIOD, role, NULL, "POST", body, path);

	expect_status(w, r, want);
	if (want == 422 && !kt_has_field_error(r, "reason"))
		walk_fail(w, "a 422 not about reason: %s", r->body);
	if (want == 200) {
		o->period_status[m] = action == PA_REOPEN  ? P_OPEN
		                      : action == PA_CLOSE ? P_CLOSED
		                                           : P_LOCKED;
		o->period_version[m]++;
		check_period(w, r->json, org, m);
		check_etag(w, r, o->period_version[m]);
	}
	kt_resp_free(r);
	free(path);
	free(body);
}

/* The posted entries with a line on account a in months from..to, in the ledger's order. */
static fin_rows
acct_postings(walker *w, int a, int from, int to)
{
	fin_rows s = fin_rows_new(w->accts[a].org, w->nentries, NULL);

	for (int i = 0; i < w->nentries; i++) {
		entry_m *e = &w->entries[i];

		if (e->posted && e->month >= from && e->month <= to && (e->acct[0] == a || e->acct[1] == a))
			s.idx[s.n++] = i;
	}
	qsort_r(s.idx, (size_t)s.n, sizeof(int), entry_order, w);
	return s;
}

/*
 * The account ledger of account i for the months from..to, limit rows a page, at most
 * max_pages pages from cursor (NULL, or another tenant's: only a position, and the figures it
 * carries are its bearer's, so then only the rows are checked, a run of the model's): each
 * page the model's postings after the position with the opening and the running balance.
 */
static void
acct_ledger_pages(walker *w, enum op op, int role, int i, int from, int to, int limit,
                  int max_pages, const char *cursor)
{
	long sums[3] = {0, 0, 0};
	char *range = kt_strf("from=2026-%02d-01&to=2026-%02d-%02d", from + 1, to + 1, month_days[to]);

	acct_sums(w, i, from, to, sums);
	fin_rows s = acct_postings(w, i, from, to);
	long balance = sums[0];
	bool own = cursor == NULL;
	int pos = own ? 0 : -1;
	char *cur = cursor ? strdup(cursor) : NULL;

	for (int page = 0; page < max_pages; page++) {
		char *path =
		    cur ? kt_strf("/api/v1/accounts/%s/ledger?%s&limit=%d&cursor=%s", w->accts[i].id, range,
		                  limit, cur)
		        : kt_strf("/api/v1/accounts/%s/ledger?%s&limit=%d", w->accts[i].id, range, limit);
		kt_resp *r = call(w, op, role, NULL, "GET", NULL, path);
		json_t *data = json_object_get(r->json, "data");

		expect_status(w, r, 200);
		if (pos < 0) { /* where another tenant's cursor put us in our postings */
			const char *first =
			    json_string_value(json_object_get(json_array_get(data, 0), "entry_id"));

			pos = first == NULL ? s.n : 0;
			while (pos < s.n && strcmp(w->entries[s.idx[pos]].id, first) != 0)
				pos++;
			if (first != NULL && pos == s.n)
				walk_fail(w, "a posting the model does not have here: %s", r->body);
		}
		int expect_n = s.n - pos < limit ? s.n - pos : limit;

		if ((own && !jamount(r->json, "opening", sums[0])) ||
		    (int)json_array_size(data) != expect_n)
			walk_fail(w, "the account ledger; the model has opening %ld and %d rows here: %s",
			          sums[0], expect_n, r->body);
		for (int k = 0; k < expect_n; k++) {
			json_t *row = json_array_get(data, (size_t)k);
			entry_m *e = &w->entries[s.idx[pos + k]];
			bool debit = e->debit[e->acct[0] == i ? 0 : 1];
			char *date = entry_date(e), *number = entry_number(e);

			balance += debit ? e->amount : -e->amount;
			if (!jis(row, "entry_id", e->id) || !jis(row, "number", number) ||
			    !jis(row, "date", date) || !jis(row, "memo", e->memo) ||
			    !jamount(row, "debit", debit ? e->amount : 0) ||
			    !jamount(row, "credit", debit ? 0 : e->amount) ||
			    (own && !jamount(row, "balance", balance)))
				walk_fail(w, "account ledger row %d: the model has %s %s %s %ld, balance %ld: %s",
				          pos + k, e->id, number, debit ? "debit" : "credit", e->amount, balance,
				          r->body);
			free(date);
			free(number);
		}
		pos += expect_n;
		free(cur);
		cur = NULL;
		json_t *next = json_object_get(r->json, "next_cursor");

		if (expect_n == limit && json_is_string(next))
			cur = strdup(json_string_value(next)), observe(w, OBS_LEDGER_CURSOR, cur);
		else if (expect_n == limit || !json_is_null(next))
			walk_fail(w, "next_cursor is not as the page is full: %s", r->body);
		kt_resp_free(r);
		free(path);
		if (cur == NULL)
			break;
	}
	free(cur);
	fin_rows_free(&s);
	free(range);
}

/* GET /accounts/{id}/ledger: the opening and the postings of a range, balances running, paged. */
static void
op_acct_ledger(walker *w)
{
	int role = pick_role(w), i;
	char *id = acct_target(w, &i);
	int from = rnd(w, NMONTHS), to = from + rnd(w, NMONTHS - from);
	bool alive = i >= 0 && w->accts[i].alive;

	if (!alive || w->accts[i].group) { /* a group has no postings of its own: 422 */
		char *path = kt_strf("/api/v1/accounts/%s/ledger?from=2026-%02d-01&to=2026-%02d-%02d", id,
		                     from + 1, to + 1, month_days[to]);
		kt_resp *r = call(w, OP_ACCT_LEDGER, role, NULL, "GET", NULL, path);

		expect_status(w, r, alive ? 422 : 404);
		kt_resp_free(r);
		free(path);
	} else {
		acct_ledger_pages(w, OP_ACCT_LEDGER, role, i, from, to, random_limit(w), 1 + rnd(w, 3),
		                  NULL);
	}
	free(id);
}

/* ---- Finance: crafted requests from other tenants' observations ---- */

/* text with its first id replaced by other (malloc'd); NULL stays NULL. */
static char *
swap_id(const char *text, const char *id, const char *other)
{
	const char *at = text ? strstr(text, id) : NULL;

	return at == NULL ? (text ? strdup(text) : NULL)
	                  : kt_strf("%.*s%s%s", (int)(at - text), text, other, at + strlen(id));
}

/* The message of problem r's error for field, or "". */
static const char *
field_message(const kt_resp *r, const char *field)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(r->json, "errors"), i, e)
	{
		if (jis(e, "field", field))
			return kt_jstr(e, "message");
	}
	return "";
}

/*
 * Another tenant's ids in bodies: an entry's line, the rounding account, a parent (422 naming
 * the field, worded as for an id of no row), a division to filter by (422), an account to
 * filter by (nothing).
 */
static void
fin_foreign_body(walker *w, int role)
{
	int org = entry_org(w), n = rnd(w, 8), line = rnd(w, 2);
	int min = n == 0 || n == 5 ? MEMBER : n < 3 || n > 5 ? ADMIN : VIEWER;

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	char *fid = foreign_id(w, n == 3 || n == 5 ? OBS_DIV
	                          : n == 7         ? OBS_ORG
	                                           : OBS_ACCT),
	     *path, *body = NULL, *field;
	const char *method = "POST";
	long want = 422;

	if (n == 0) {
		int acct[2];
		bool debit[2] = {true, false};
		const char *line_ids[2];

		two_accts(w, org, acct);
		line_ids[0] = w->accts[acct[0]].id;
		line_ids[1] = w->accts[acct[1]].id;
		line_ids[line] = fid;
		body = entry_body(J_GENERAL, "2026-05-05", NULL, line_ids, NULL, debit, 100, -1);
		path = kt_strf(ORGS "/%s/journal-entries", o->id);
		field = kt_strf("lines[%d].account_id", line);
	} else if (n == 1) {
		method = "PATCH";
		body = kt_strf("{\"rounding_account_id\":\"%s\"}", fid);
		path = kt_strf(ORGS "/%s/ledger", o->id);
		field = strdup("rounding_account_id");
	} else if (n == 2) {
		body = kt_strf("{\"code\":\"%s-f%d\",\"name\":\"Acct %s\",\"type\":\"asset\","
		               "\"parent_id\":\"%s\"}",
		               w->marker, ++w->seq, w->marker, fid);
		path = kt_strf(ORGS "/%s/accounts", o->id);
		field = strdup("parent_id");
	} else if (n == 3) { /* another tenant's division to filter the trial balance by */
		method = "GET";
		path = kt_strf(ORGS "/%s/trial-balance?from=2026-01-01&to=2026-12-31&division_id=%s", o->id,
		               fid);
		field = strdup("division_id");
	} else if (n == 5) { /* another tenant's division on an entry's line */
		int acct[2];
		bool debit[2] = {false, true};

		two_accts(w, org, acct);
		const char *line_ids[2] = {w->accts[acct[0]].id, w->accts[acct[1]].id};
		const char *div_ids[2] = {NULL, NULL};

		div_ids[line] = fid;
		body = entry_body(J_SALES, "2026-09-09", NULL, line_ids, div_ids, debit, 250, -1);
		path = kt_strf(ORGS "/%s/journal-entries", o->id);
		field = kt_strf("lines[%d].division_id", line);
	} else if (n == 6) { /* another tenant's account to take a revaluation's gains */
		int acct[2];

		two_accts(w, org, acct);
		body = kt_strf("{\"date\":\"2026-06-30\",\"gain_account_id\":\"%s\","
		               "\"loss_account_id\":\"%s\"}",
		               fid, w->accts[acct[0]].id);
		path = kt_strf(ORGS "/%s/revaluations", o->id);
		field = strdup("gain_account_id");
	} else if (n == 7) { /* another tenant's organization to receive an intercompany entry */
		int acct[2];

		two_accts(w, org, acct);
		body = kt_strf("{\"from_organization_id\":\"%s\",\"to_organization_id\":\"%s\","
		               "\"date\":\"2026-05-05\",\"amount\":\"1.00\",\"currency\":\"EUR\","
		               "\"from_account_id\":\"%s\",\"to_account_id\":\"%s\"}",
		               o->id, fid, w->accts[acct[0]].id, w->accts[acct[1]].id);
		path = strdup("/api/v1/intercompany-entries");
		field = strdup("to_organization_id");
	} else { /* another tenant's account to filter the entries by: a filter, so nothing */
		method = "GET";
		path = kt_strf(ORGS "/%s/journal-entries?account_id=%s", o->id, fid);
		field = NULL;
		want = 200;
	}
	kt_resp *r = call(w, OP_FOREIGN_FIN, role, NULL, method, body, path);

	expect_status(w, r, role > min ? 403 : want);
	if (r->status == 422 && !kt_has_field_error(r, field))
		walk_fail(w, "a 422 not about %s: %s", field, r->body);
	if (r->status == 200 && json_array_size(json_object_get(r->json, "data")) != 0)
		walk_fail(w, "another tenant's account as a filter found entries: %s", r->body);
	if (r->status == 422 && chance(w, 30)) { /* no oracle for existence in a body either */
		char *none = nowhere_id(w), *body2 = swap_id(body, fid, none);
		char *path2 = swap_id(path, fid, none);
		kt_resp *r2 = call(w, OP_FOREIGN_FIN, role, NULL, method, body2, path2);
		/* (the same words, but for the id itself where they name it) */
		char *detail = swap_id(kt_jstr(r->json, "detail"), fid, none);
		char *message = swap_id(field_message(r, field), fid, none);

		expect_status(w, r2, 422);
		if (strcmp(kt_jstr(r2->json, "detail"), detail) != 0 ||
		    strcmp(field_message(r2, field), message) != 0)
			walk_fail(w, "another tenant's id is told apart from no row: %s vs %s", r->body,
			          r2->body);
		kt_resp_free(r2);
		free(detail);
		free(message);
		free(path2);
		free(body2);
		free(none);
	}
	kt_resp_free(r);
	free(field);
	free(body);
	free(path);
	free(fid);
}

/* Another tenant's cursor on our accounts, periods or posted entries: a position in ours. */
static void
fin_foreign_cursor(walker *w, int role)
{
	static const enum obs kinds[] = {OBS_ACCT_CURSOR, OBS_PERIOD_CURSOR, OBS_ENTRY_CURSOR,
	                                 OBS_FY_CURSOR, OBS_LEDGER_CURSOR};
	static const char *const lists[] = {"accounts", "periods", "journal-entries", "fiscal-years"};
	/* an organization with books, or for an account ledger a leaf account */
	int n = rnd(w, 5), at = n < 4 ? books_org(w, true) : pick_acct(w, -1, 0, false);
	char *cursor = at >= 0 ? foreign(w, kinds[n], NULL) : NULL;

	if (cursor == NULL)
		return;
	if (n == 4) {
		int from = rnd(w, NMONTHS);

		acct_ledger_pages(w, OP_FOREIGN_FIN, role, at, from, from + rnd(w, NMONTHS - from),
		                  random_limit(w), 1 + rnd(w, 2), cursor);
		free(cursor);
		return;
	}
	int org = at;
	char *path = kt_strf(ORGS "/%s/%s", w->orgs[org].id, lists[n]);
	fin_rows s = n == 0   ? accts_matching(w, org, -1, -1)
	             : n == 1 ? periods_of(w, org)
	             : n == 2 ? posted_entries(w, org, -1, 0, NMONTHS - 1, -1)
	                      : years_of(w, org);

	fin_list(w, OP_FOREIGN_FIN, role, path, n == 2 ? "status=posted&" : "", &s, random_limit(w), 1,
	         cursor, kinds[n]);
	fin_rows_free(&s);
	free(path);
	free(cursor);
}

/* Another tenant's Finance ids in paths: 404 as for no row (403 first for a role too low). */
static void
op_foreign_fin(walker *w)
{
	int role = pick_role(w), n = rnd(w, 20), min = VIEWER;

	if (n >= 18) {
		if (n == 18)
			fin_foreign_body(w, role);
		else
			fin_foreign_cursor(w, role);
		return;
	}
	enum obs kind = n < 4    ? OBS_ACCT
	                : n < 9  ? OBS_ENTRY
	                : n < 10 ? OBS_FY
	                : n < 12 ? OBS_PERIOD
	                         : OBS_ORG;
	char *id = foreign_id(w, kind), *path = NULL, *body = NULL;
	const char *method = "GET";
	static const char *const org_reads[] = {"ledger",
	                                        "accounts",
	                                        "periods",
	                                        "fiscal-years",
	                                        "journal-entries",
	                                        "trial-balance?from=2026-01-01&to=2026-12-31",
	                                        "balance-sheet?as_of=2026-12-31",
	                                        "income-statement?from=2026-01-01&to=2026-12-31"};

	switch (n) {
	case 0:
		path = kt_strf("/api/v1/accounts/%s", id);
		break;
	case 1:
		method = "PATCH", min = ADMIN, path = kt_strf("/api/v1/accounts/%s", id);
		body = kt_strf("{\"name\":\"Acct %s taken\"}", w->marker);
		break;
	case 2:
		method = "DELETE", min = ADMIN, path = kt_strf("/api/v1/accounts/%s", id);
		break;
	case 3:
		path = kt_strf("/api/v1/accounts/%s/ledger?from=2026-01-01&to=2026-12-31", id);
		break;
	case 4:
		path = kt_strf("/api/v1/journal-entries/%s", id);
		break;
	case 5:
		method = "POST", min = ADMIN, path = kt_strf("/api/v1/journal-entries/%s/post", id);
		break;
	case 6:
		method = "POST", min = ADMIN, path = kt_strf("/api/v1/journal-entries/%s/reverse", id);
		body = strdup("{\"date\":\"2026-06-15\"}");
		break;
	case 7:
		method = "PATCH", min = MEMBER, path = kt_strf("/api/v1/journal-entries/%s", id);
		body = kt_strf("{\"memo\":\"%s\"}", w->marker);
		break;
	case 8:
		method = "DELETE", min = MEMBER, path = kt_strf("/api/v1/journal-entries/%s", id);
		break;
	case 9:
		if (chance(w, 50))
			path = kt_strf("/api/v1/fiscal-years/%s", id);
		else
			method = "POST", min = ADMIN, path = kt_strf("/api/v1/fiscal-years/%s/close", id);
		break;
	case 10:
		method = "POST", min = ADMIN, path = kt_strf("/api/v1/periods/%s/close", id);
		break;
	case 11:
		method = "POST", min = OWNER;
		if (chance(w, 50)) {
			path = kt_strf("/api/v1/periods/%s/reopen", id);
			body = kt_strf("{\"reason\":\"%s\"}", w->marker);
		} else {
			path = kt_strf("/api/v1/periods/%s/lock", id);
		}
		break;
	case 12:
	case 13:
		path = kt_strf(ORGS "/%s/%s", id,
		               org_reads[rnd(w, (int)(sizeof(org_reads) / sizeof(org_reads[0])))]);
		break;
	case 14:
		method = "POST", min = ADMIN, path = kt_strf(ORGS "/%s/ledger", id);
		body = strdup("{\"currency\":\"EUR\"}");
		break;
	case 15:
		method = "POST", min = ADMIN, path = kt_strf(ORGS "/%s/accounts", id);
		body = kt_strf("{\"code\":\"%s-z\",\"name\":\"Acct %s\",\"type\":\"asset\"}", w->marker,
		               w->marker);
		break;
	case 16:
		method = "POST", min = ADMIN, path = kt_strf(ORGS "/%s/fiscal-years", id);
		body = strdup(FY_BODY);
		break;
	default: {
		char *a = nowhere_id(w), *b = nowhere_id(w);
		const char *line_ids[2] = {a, b};
		bool debit[2] = {true, false};

		method = "POST", min = MEMBER, path = kt_strf(ORGS "/%s/journal-entries", id);
		body = entry_body(J_GENERAL, "2026-03-03", NULL, line_ids, NULL, debit, 500, -1);
		free(a);
		free(b);
		break;
	}
	}
	long want = role > min ? 403 : 404;
	kt_resp *r = call(w, OP_FOREIGN_FIN, role, NULL, method, body, path);

	expect_status(w, r, want);
	if (want == 404 && chance(w, 30)) {
		/* the answer for an id of no row at all is the same: no oracle for existence */
		char *none = nowhere_id(w), *at = strstr(path, id);
		char *other = kt_strf("%.*s%s%s", (int)(at - path), path, none, at + strlen(id));
		kt_resp *r2 = call(w, OP_FOREIGN_FIN, role, NULL, method, body, other);

		expect_status(w, r2, 404);
		if (strcmp(kt_jstr(r2->json, "detail"), kt_jstr(r->json, "detail")) != 0)
			walk_fail(w, "another tenant's id is told apart from no row: \"%s\" vs \"%s\"",
			          kt_jstr(r->json, "detail"), kt_jstr(r2->json, "detail"));
		kt_resp_free(r2);
		free(other);
		free(none);
	}
	kt_resp_free(r);
	free(body);
	free(path);
	free(id);
}

/* ---- the database ---- */

static PGresult *
db_rows(walker *w, const char *sql)
{
	const char *p[] = {w->tenant_id};
	PGresult *set = PQexecParams(w->pg, "SELECT set_config('app.tenant_id', $1, false)", 1, NULL, p,
	                             NULL, NULL, 0);

	if (PQresultStatus(set) != PGRES_TUPLES_OK)
		walk_fail(w, "set the tenant: %s", PQerrorMessage(w->pg));
	PQclear(set);
	PGresult *r = PQexec(w->pg, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		walk_fail(w, "%s: %s", sql, PQerrorMessage(w->pg));
	return r;
}

static int
audit_of(walker *w, PGresult *audit, const char *id)
{
	for (int k = 0; k < PQntuples(audit); k++)
		if (strcmp(PQgetvalue(audit, k, 0), id) == 0)
			return atoi(PQgetvalue(audit, k, 1));
	(void)w;
	return 0;
}

/* The row of res whose column 0 is id, or -1. */
static int
row_of(PGresult *res, const char *id)
{
	for (int k = 0; k < PQntuples(res); k++)
		if (strcmp(PQgetvalue(res, k, 0), id) == 0)
			return k;
	return -1;
}

/* The ledgers (and their audit rows), fiscal years and periods of the model's organizations. */
static void
check_db_ledgers(walker *w)
{
	PGresult *r = db_rows(w, "SELECT organization_id, currency,"
	                         " coalesce(rounding_account_id::text, ''), version FROM fin.ledgers");
	PGresult *audit =
	    db_rows(w, "SELECT record_id::text, count(*) FROM audit.logs"
	               " WHERE (schema_name, table_name) = ('fin', 'ledgers') GROUP BY 1");
	int books = 0;

	for (int i = 0; i < w->norgs; i++) {
		org_m *o = &w->orgs[i];
		int k = row_of(r, o->id);

		if (!o->ledger) {
			if (k >= 0)
				walk_fail(w, "organization %s has a ledger the model does not", o->id);
			continue;
		}
		books++;
		if (k < 0 || strcmp(PQgetvalue(r, k, 1), o->currency) != 0 ||
		    strcmp(PQgetvalue(r, k, 2), o->rounding < 0 ? "" : w->accts[o->rounding].id) != 0 ||
		    atol(PQgetvalue(r, k, 3)) != o->ledger_version)
			walk_fail(w, "the ledger of %s differs from the model (or is missing)", o->id);
		if (audit_of(w, audit, o->id) != o->ledger_audit)
			walk_fail(w, "the ledger of %s has %d audit rows, the model %d", o->id,
			          audit_of(w, audit, o->id), o->ledger_audit);
	}
	if (PQntuples(r) != books)
		walk_fail(w, "the database has %d ledgers, the model %d", PQntuples(r), books);
	PQclear(audit);
	PQclear(r);
	r = db_rows(w, "SELECT count(*) FROM fin.fiscal_years");
	if (atol(PQgetvalue(r, 0, 0)) != books)
		walk_fail(w, "the database has %s fiscal years, the model %d", PQgetvalue(r, 0, 0), books);
	PQclear(r);
	r = db_rows(w, "SELECT p.id, p.status, p.version, (SELECT count(*) FROM audit.logs a"
	               " WHERE a.schema_name = 'fin' AND a.table_name = 'periods'"
	               " AND a.record_id = p.id) FROM fin.periods p");
	if (PQntuples(r) != books * NMONTHS)
		walk_fail(w, "the database has %d periods, the model %d", PQntuples(r), books * NMONTHS);
	for (int i = 0; i < w->norgs; i++)
		for (int m = 0; w->orgs[i].ledger && m < NMONTHS; m++) {
			org_m *o = &w->orgs[i];
			int k = row_of(r, o->period[m]);

			/* a period's audit rows: its insert and one per action, as its version */
			if (k < 0 || strcmp(PQgetvalue(r, k, 1), period_statuses[o->period_status[m]]) != 0 ||
			    atol(PQgetvalue(r, k, 2)) != o->period_version[m] ||
			    atol(PQgetvalue(r, k, 3)) != o->period_version[m])
				walk_fail(w, "period %s differs from the model (%s, version %ld) or is missing",
				          o->period[m], period_statuses[o->period_status[m]], o->period_version[m]);
		}
	PQclear(r);
}

/* The database holds exactly the model's Finance rows of this tenant, and their audit rows. */
static void
check_db_fin(walker *w, PGresult *audit)
{
	check_db_ledgers(w);
	PGresult *r = db_rows(w, "SELECT id, organization_id, code, name, type,"
	                         " coalesce(parent_id::text, ''), is_group, status, version"
	                         " FROM fin.accounts");

	int live = 0;

	for (int i = 0; i < w->naccts; i++) {
		acct_m *a = &w->accts[i];
		int k = row_of(r, a->id);

		if (audit_of(w, audit, a->id) != a->audit)
			walk_fail(w, "account %s has %d audit rows, the model %d", a->id,
			          audit_of(w, audit, a->id), a->audit);
		if (!a->alive) {
			if (k >= 0)
				walk_fail(w, "account %s is deleted in the model, not in the database", a->id);
			continue;
		}
		live++;
		if (k < 0 || strcmp(PQgetvalue(r, k, 1), w->orgs[a->org].id) != 0 ||
		    strcmp(PQgetvalue(r, k, 2), a->code) != 0 ||
		    strcmp(PQgetvalue(r, k, 3), a->name) != 0 ||
		    strcmp(PQgetvalue(r, k, 4), acct_types[a->type]) != 0 ||
		    strcmp(PQgetvalue(r, k, 5), a->parent < 0 ? "" : w->accts[a->parent].id) != 0 ||
		    strcmp(PQgetvalue(r, k, 6), a->group ? "t" : "f") != 0 ||
		    strcmp(PQgetvalue(r, k, 7), a->active ? "active" : "inactive") != 0 ||
		    atol(PQgetvalue(r, k, 8)) != a->version)
			walk_fail(w, "account %s differs from the model (or is missing)", a->id);
	}
	if (PQntuples(r) != live)
		walk_fail(w, "the database has %d accounts, the model %d", PQntuples(r), live);
	PQclear(r);

	r = db_rows(w, "SELECT id, organization_id, journal, kind, status, date::text,"
	               " coalesce(number, ''), version FROM fin.journal_entries");
	long posted = 0, amount = 0;

	live = 0;

	for (int i = 0; i < w->nentries; i++) {
		entry_m *e = &w->entries[i];

		if (audit_of(w, audit, e->id) != e->audit)
			walk_fail(w, "journal entry %s has %d audit rows, the model %d", e->id,
			          audit_of(w, audit, e->id), e->audit);
		if (!e->alive)
			continue;
		live++;
		posted += e->posted;
		amount += e->posted ? e->amount : 0;
		int k = row_of(r, e->id);
		char *date = entry_date(e), *number = entry_number(e);

		if (k < 0 || strcmp(PQgetvalue(r, k, 1), w->orgs[e->org].id) != 0 ||
		    strcmp(PQgetvalue(r, k, 2), journal_names[e->journal]) != 0 ||
		    strcmp(PQgetvalue(r, k, 3), e->reversal ? "reversal" : "normal") != 0 ||
		    strcmp(PQgetvalue(r, k, 4), e->posted ? "posted" : "draft") != 0 ||
		    strcmp(PQgetvalue(r, k, 5), date) != 0 ||
		    strcmp(PQgetvalue(r, k, 6), number ? number : "") != 0 ||
		    atol(PQgetvalue(r, k, 7)) != e->version)
			walk_fail(w, "journal entry %s differs from the model (or is missing)", e->id);
		free(date);
		free(number);
	}
	if (PQntuples(r) != live)
		walk_fail(w, "the database has %d journal entries, the model %d", PQntuples(r), live);
	PQclear(r);
	/* what was posted: two postings an entry, debits equal to credits */
	r = db_rows(w, "SELECT count(*), coalesce(sum(debit), 0), coalesce(sum(credit), 0)"
	               " FROM fin.postings");
	if (atol(PQgetvalue(r, 0, 0)) != 2 * posted || atol(PQgetvalue(r, 0, 1)) != amount ||
	    atol(PQgetvalue(r, 0, 2)) != amount)
		walk_fail(w, "the database has %s postings (debit %s, credit %s), the model %ld (%ld)",
		          PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), 2 * posted,
		          amount);
	PQclear(r);
}

/* The database holds exactly the model's rows of this tenant, and their audit rows. */
static void check_db_hr(walker *w);

static void
check_db(walker *w)
{
	const char *saved = w->op;

	w->op = op_names[OP_DB_CHECK];
	atomic_fetch_add(&op_count[OP_DB_CHECK], 1);
	PGresult *audit = db_rows(w, "SELECT record_id::text, count(*) FROM audit.logs"
	                             " WHERE (schema_name, table_name) IN (('org', 'organizations'),"
	                             " ('org', 'divisions'), ('auth', 'users'), ('fin', 'accounts'),"
	                             " ('fin', 'journal_entries')) GROUP BY 1");
	rowset s = orgs_matching(w, NULL, NULL);
	PGresult *r = db_rows(w, "SELECT id, name, code, description, status, version, settings::text"
	                         " FROM org.organizations ORDER BY id");

	if (PQntuples(r) != s.n)
		walk_fail(w, "the database has %d organizations, the model %d", PQntuples(r), s.n);
	for (int k = 0; k < s.n; k++) {
		org_m *o = &w->orgs[s.idx[k]];
		json_t *settings = json_loads(PQgetvalue(r, k, 6), 0, NULL);

		if (strcmp(PQgetvalue(r, k, 0), o->id) != 0 || strcmp(PQgetvalue(r, k, 1), o->name) != 0 ||
		    strcmp(PQgetvalue(r, k, 2), o->code) != 0 ||
		    strcmp(PQgetvalue(r, k, 3), o->description) != 0 ||
		    strcmp(PQgetvalue(r, k, 4), o->status) != 0 ||
		    atol(PQgetvalue(r, k, 5)) != o->version || !json_equal(settings, o->settings))
			walk_fail(w, "organization row %s (%s, %s, v%s) differs from the model (%s, %s, v%ld)",
			          PQgetvalue(r, k, 0), PQgetvalue(r, k, 1), PQgetvalue(r, k, 2),
			          PQgetvalue(r, k, 5), o->name, o->code, o->version);
		json_decref(settings);
	}
	PQclear(r);
	free(s.idx);
	for (int i = 0; i < w->norgs; i++)
		if (audit_of(w, audit, w->orgs[i].id) != w->orgs[i].audit)
			walk_fail(w, "organization %s has %d audit rows, the model %d", w->orgs[i].id,
			          audit_of(w, audit, w->orgs[i].id), w->orgs[i].audit);

	r = db_rows(w, "SELECT id, organization_id, coalesce(parent_id::text, ''), name, code,"
	               " description, version FROM org.divisions ORDER BY id");
	int live = 0;

	for (int i = 0; i < w->ndivs; i++) {
		div_m *d = &w->divs[i];

		if (audit_of(w, audit, d->id) != d->audit)
			walk_fail(w, "division %s has %d audit rows, the model %d", d->id,
			          audit_of(w, audit, d->id), d->audit);
		if (!d->alive)
			continue;
		live++;
		int k = 0;

		while (k < PQntuples(r) && strcmp(PQgetvalue(r, k, 0), d->id) != 0)
			k++;
		if (k == PQntuples(r) || strcmp(PQgetvalue(r, k, 1), w->orgs[d->org].id) != 0 ||
		    strcmp(PQgetvalue(r, k, 2), d->parent < 0 ? "" : w->divs[d->parent].id) != 0 ||
		    strcmp(PQgetvalue(r, k, 3), d->name) != 0 ||
		    strcmp(PQgetvalue(r, k, 4), d->code) != 0 ||
		    strcmp(PQgetvalue(r, k, 5), d->description) != 0 ||
		    atol(PQgetvalue(r, k, 6)) != d->version)
			walk_fail(w, "division %s differs from the model (or is missing)", d->id);
	}
	if (PQntuples(r) != live)
		walk_fail(w, "the database has %d divisions, the model %d", PQntuples(r), live);
	PQclear(r);

	r = db_rows(w, "SELECT id, email, role, status, version FROM auth.users ORDER BY id");
	live = 0;
	for (int i = 0; i < w->nusers; i++) {
		user_m *u = &w->users[i];

		if (!u->actor && audit_of(w, audit, u->id) != u->audit)
			walk_fail(w, "user %s has %d audit rows, the model %d", u->id,
			          audit_of(w, audit, u->id), u->audit);
		if (!u->alive)
			continue;
		live++;
		int k = 0;

		while (k < PQntuples(r) && strcmp(PQgetvalue(r, k, 0), u->id) != 0)
			k++;
		if (k == PQntuples(r) || strcmp(PQgetvalue(r, k, 1), u->email) != 0 ||
		    strcmp(PQgetvalue(r, k, 2), role_names[u->role]) != 0 ||
		    strcmp(PQgetvalue(r, k, 3), u->active ? "active" : "disabled") != 0 ||
		    atol(PQgetvalue(r, k, 4)) != u->version)
			walk_fail(w, "user %s differs from the model (or is missing)", u->id);
	}
	if (PQntuples(r) != live)
		walk_fail(w, "the database has %d users, the model %d", PQntuples(r), live);
	PQclear(r);
	check_db_fin(w, audit);
	check_db_hr(w);
	PQclear(audit);
	w->op = saved;
}

/* ---- the walk ---- */

typedef struct weighted {
	void (*op)(walker *w);
	int weight;
} weighted;

static void
op_user_patch(walker *w)
{
	op_user_change(w, false);
}

static void
op_user_delete(walker *w)
{
	op_user_change(w, true);
}

/* ---- HR ---- */

/* An HR row of the model: registered as this tenant's, seen by it. */
static void
hr_add(walker *w, const char *id, int kind, int org)
{
	w->hr = realloc(w->hr, sizeof(hr_m) * (size_t)(w->nhr + 1));
	hr_m *m = &w->hr[w->nhr++];

	snprintf(m->id, sizeof(m->id), "%s", id);
	m->kind = kind;
	m->org = org;
	id_register(w, m->id, w->idx);
	observe(w, (enum obs)kind, m->id);
}

/* A random HR row of kind in org (-1: any), or -1. */
static int
hr_pick(walker *w, int kind, int org)
{
	int n = 0, pick = -1;

	for (int i = 0; i < w->nhr; i++)
		if (w->hr[i].kind == kind && (org < 0 || w->hr[i].org == org) &&
		    w->orgs[w->hr[i].org].alive && rnd(w, ++n) == 0)
			pick = i;
	return pick;
}

/* Monday and Tuesday of the week-th week after 2030-01-07 (a Monday), YYYY-MM-DD. */
static void
hr_monday(int week, char from[11], char to[11])
{
	struct tm tm = {.tm_year = 130, .tm_mon = 0, .tm_mday = 7 + 7 * week, .tm_hour = 12};
	time_t t = timegm(&tm);

	strftime(from, 11, "%Y-%m-%d", gmtime_r(&t, &tm));
	t += 86400;
	strftime(to, 11, "%Y-%m-%d", gmtime_r(&t, &tm));
}

/* POST body to path as role: 201 for admins (the row joins the model as kind), else 403. */
static void
hr_create(walker *w, int role, int kind, int org, const char *path, const char *body)
{
	kt_resp *r = call(w, OP_HR, role, NULL, "POST", body, path);

	expect_status(w, r, is_admin(role) ? 201 : 403);
	if (r->status == 201)
		hr_add(w, kt_jstr(r->json, "id"), kind, org);
	kt_resp_free(r);
}

/*
 * HR through the API in one of the tenant's organizations: employees, holiday calendars, leave
 * types (negative balances allowed: no allocation needed), positions in its divisions, leave
 * requests approved; reads of them (admins 200, others not linked to an employee 403); every
 * answer goes through the scan for other tenants' ids.
 */
static void
op_hr(walker *w)
{
	int role = pick_role(w), org = live_org(w), n = rnd(w, 10);

	if (org < 0)
		return;
	org_m *o = &w->orgs[org];
	char *path = NULL, *body = NULL;
	int emp = hr_pick(w, OBS_EMP, org), type = hr_pick(w, OBS_LTYPE, org);

	if (n < 3 || (n >= 6 && emp < 0)) {
		path = kt_strf(ORGS "/%s/employees", o->id);
		body = kt_strf("{\"first_name\":\"%s\",\"last_name\":\"E%d\",\"hire_date\":\"2020-01-01\"}",
		               w->marker, ++w->seq);
		hr_create(w, role, OBS_EMP, org, path, body);
		o->hr = o->hr || is_admin(role);
	} else if (n == 3) {
		path = kt_strf(ORGS "/%s/holiday-calendars", o->id);
		body = kt_strf("{\"name\":\"%s-%d\",\"workdays\":[1,2,3,4,5]}", w->marker, ++w->seq);
		hr_create(w, role, OBS_HRCAL, org, path, body);
		o->hr = o->hr || is_admin(role);
	} else if (n == 4 || (n == 9 && type < 0)) {
		path = kt_strf(ORGS "/%s/leave-types", o->id);
		body = kt_strf("{\"code\":\"%s-%d\",\"name\":\"Leave %s\",\"approval_levels\":1,"
		               "\"allow_negative\":true}",
		               w->marker, ++w->seq, w->marker);
		hr_create(w, role, OBS_LTYPE, org, path, body);
		o->hr = o->hr || is_admin(role);
	} else if (n == 5) {
		int d = live_div(w, org);

		if (d >= 0) {
			path = kt_strf("/api/v1/divisions/%s/positions", w->divs[d].id);
			body = kt_strf("{\"title\":\"%s\",\"headcount\":%d}", w->marker, 1 + rnd(w, 5));
			hr_create(w, role, OBS_POS, org, path, body);
			w->divs[d].positions = w->divs[d].positions || is_admin(role);
			o->hr = o->hr || is_admin(role); /* positions in its divisions keep it too */
		}
	} else if (n < 9) { /* reads: an employee, the organization's, an employee's balances */
		path = n == 6   ? kt_strf("/api/v1/employees/%s", w->hr[emp].id)
		       : n == 7 ? kt_strf(ORGS "/%s/employees", o->id)
		                : kt_strf("/api/v1/employees/%s/leave-balances", w->hr[emp].id);
		kt_resp *r = call(w, OP_HR, role, NULL, "GET", NULL, path);

		expect_status(w, r, is_admin(role) ? 200 : 403);
		kt_resp_free(r);
	} else if (type >= 0) { /* a request, then its approval by an admin (not the employee's) */
		char from[11], to[11];

		hr_monday(++w->seq, from, to);
		path = kt_strf("/api/v1/employees/%s/leave-requests", w->hr[emp].id);
		body = kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"%s\",\"end_date\":\"%s\"}",
		               w->hr[type].id, from, to);
		kt_resp *r = call(w, OP_HR, role, NULL, "POST", body, path);

		expect_status(w, r, is_admin(role) ? 201 : 403);
		if (r->status == 201) {
			char *approve = kt_strf("/api/v1/leave-requests/%s/approve", kt_jstr(r->json, "id"));

			hr_add(w, kt_jstr(r->json, "id"), OBS_LREQ, org);
			kt_resp *a = call(w, OP_HR, ADMIN, NULL, "POST", "{}", approve);

			free(approve);
			expect_status(w, a, 200);
			if (strcmp(kt_jstr(a->json, "status"), "approved") != 0)
				walk_fail(w, "an approved one-level request reads %s", a->body);
			kt_resp_free(a);
		}
		kt_resp_free(r);
	}
	free(path);
	free(body);
}

/* A path of an HR route with another tenant's id of kind, and the role the route needs. */
typedef struct hr_route {
	const char *method, *path; /* path: one %s, the id */
	int kind;                  /* enum obs */
	int min;                   /* the route's role */
	const char *body;          /* a valid body, or NULL */
} hr_route;

static const hr_route hr_routes[] = {
    {"GET", "/api/v1/employees/%s", OBS_EMP, VIEWER, NULL},
    {"PATCH", "/api/v1/employees/%s", OBS_EMP, ADMIN, "{\"last_name\":\"Taken\"}"},
    {"DELETE", "/api/v1/employees/%s", OBS_EMP, ADMIN, NULL},
    {"GET", "/api/v1/employees/%s/assignments", OBS_EMP, VIEWER, NULL},
    {"GET", "/api/v1/employees/%s/leave-balances", OBS_EMP, VIEWER, NULL},
    {"GET", "/api/v1/employees/%s/leave-requests", OBS_EMP, VIEWER, NULL},
    {"GET", "/api/v1/employees/%s/leave-entries", OBS_EMP, VIEWER, NULL},
    {"POST", "/api/v1/employees/%s/leave-allocations", OBS_EMP, ADMIN,
     "{\"leave_type_id\":\"ffffffff-ffff-7fff-8fff-ffffffffffff\",\"days\":\"1\","
     "\"valid_from\":\"2030-01-01\",\"valid_to\":\"2030-12-31\",\"reason\":\"taken\"}"},
    {"POST", "/api/v1/employees/%s/leave-requests", OBS_EMP, VIEWER,
     "{\"leave_type_id\":\"ffffffff-ffff-7fff-8fff-ffffffffffff\",\"start_date\":\"2030-03-04\","
     "\"end_date\":\"2030-03-04\"}"},
    {"POST", "/api/v1/employees/%s/assignments", OBS_EMP, ADMIN,
     "{\"position_id\":\"ffffffff-ffff-7fff-8fff-ffffffffffff\",\"start_date\":\"2030-01-01\"}"},
    {"GET", "/api/v1/holiday-calendars/%s", OBS_HRCAL, VIEWER, NULL},
    {"PATCH", "/api/v1/holiday-calendars/%s", OBS_HRCAL, ADMIN, "{\"name\":\"Taken\"}"},
    {"DELETE", "/api/v1/holiday-calendars/%s", OBS_HRCAL, ADMIN, NULL},
    {"GET", "/api/v1/holiday-calendars/%s/holidays", OBS_HRCAL, VIEWER, NULL},
    {"POST", "/api/v1/holiday-calendars/%s/holidays", OBS_HRCAL, ADMIN,
     "{\"date\":\"2030-12-25\",\"name\":\"Taken\"}"},
    {"GET", "/api/v1/positions/%s", OBS_POS, VIEWER, NULL},
    {"PATCH", "/api/v1/positions/%s", OBS_POS, ADMIN, "{\"title\":\"Taken\"}"},
    {"DELETE", "/api/v1/positions/%s", OBS_POS, ADMIN, NULL},
    {"GET", "/api/v1/leave-types/%s", OBS_LTYPE, VIEWER, NULL},
    {"PATCH", "/api/v1/leave-types/%s", OBS_LTYPE, ADMIN, "{\"name\":\"Taken\"}"},
    {"GET", "/api/v1/leave-requests/%s", OBS_LREQ, VIEWER, NULL},
    {"POST", "/api/v1/leave-requests/%s/approve", OBS_LREQ, VIEWER, "{}"},
    {"POST", "/api/v1/leave-requests/%s/reject", OBS_LREQ, VIEWER, "{\"reason\":\"taken\"}"},
    {"POST", "/api/v1/leave-requests/%s/withdraw", OBS_LREQ, VIEWER, "{}"},
    {"POST", "/api/v1/leave-requests/%s/cancel", OBS_LREQ, VIEWER, "{}"},
    {"GET", ORGS "/%s/employees", OBS_ORG, VIEWER, NULL},
    {"POST", ORGS "/%s/employees", OBS_ORG, ADMIN,
     "{\"first_name\":\"Taken\",\"last_name\":\"T\",\"hire_date\":\"2020-01-01\"}"},
    {"GET", ORGS "/%s/holiday-calendars", OBS_ORG, VIEWER, NULL},
    {"POST", ORGS "/%s/holiday-calendars", OBS_ORG, ADMIN, "{\"name\":\"Taken\",\"workdays\":[1]}"},
    {"GET", ORGS "/%s/leave-types", OBS_ORG, VIEWER, NULL},
    {"POST", ORGS "/%s/leave-types", OBS_ORG, ADMIN,
     "{\"code\":\"TAKEN\",\"name\":\"Taken\",\"approval_levels\":1}"},
    {"GET", "/api/v1/divisions/%s/positions", OBS_DIV, VIEWER, NULL},
    {"POST", "/api/v1/divisions/%s/positions", OBS_DIV, ADMIN,
     "{\"title\":\"Taken\",\"headcount\":1}"},
};

/* The route's path with id in it. */
static char *
hr_path(const hr_route *rt, const char *id)
{
	const char *at = strstr(rt->path, "%s");

	return kt_strf("%.*s%s%s", (int)(at - rt->path), rt->path, id, at + 2);
}

/*
 * Another tenant's ids in HR bodies, on this tenant's own rows: 422 naming the field (an
 * employee's manager and calendar, an assignment's position, an allocation's and a request's
 * leave type).
 */
static void
hr_foreign_body(walker *w, int role)
{
	int org = live_org(w), n = rnd(w, 5);

	if (org < 0)
		return;
	int emp = hr_pick(w, OBS_EMP, org);

	if (n >= 2 && emp < 0)
		return;
	static const int kinds[] = {OBS_EMP, OBS_HRCAL, OBS_POS, OBS_LTYPE, OBS_LTYPE};
	static const char *const fields[] = {"manager_id", "calendar_id", "position_id",
	                                     "leave_type_id", "leave_type_id"};
	char *fid = foreign_id(w, (enum obs)kinds[n]), *path, *body;
	int min = n == 4 ? VIEWER : ADMIN;

	if (n < 2) {
		path = kt_strf(ORGS "/%s/employees", w->orgs[org].id);
		body = kt_strf("{\"first_name\":\"%s\",\"last_name\":\"F\",\"hire_date\":\"2020-01-01\","
		               "\"%s\":\"%s\"}",
		               w->marker, fields[n], fid);
	} else if (n == 2) {
		path = kt_strf("/api/v1/employees/%s/assignments", w->hr[emp].id);
		body = kt_strf("{\"position_id\":\"%s\",\"start_date\":\"2030-01-01\"}", fid);
	} else if (n == 3) {
		path = kt_strf("/api/v1/employees/%s/leave-allocations", w->hr[emp].id);
		body = kt_strf("{\"leave_type_id\":\"%s\",\"days\":\"1\",\"valid_from\":\"2030-01-01\","
		               "\"valid_to\":\"2030-12-31\",\"reason\":\"%s\"}",
		               fid, w->marker);
	} else {
		path = kt_strf("/api/v1/employees/%s/leave-requests", w->hr[emp].id);
		body = kt_strf("{\"leave_type_id\":\"%s\",\"start_date\":\"2030-03-04\","
		               "\"end_date\":\"2030-03-04\"}",
		               fid);
	}
	/* a request for an employee one may not see: 403 before its body is looked at */
	long want = role > min ? 403 : n == 4 && !is_admin(role) ? 403 : 422;
	kt_resp *r = call(w, OP_FOREIGN_HR, role, NULL, "POST", body, path);

	expect_status(w, r, want);
	if (r->status == 422 && !kt_has_field_error(r, fields[n]))
		walk_fail(w, "a 422 not about %s: %s", fields[n], r->body);
	kt_resp_free(r);
	free(body);
	free(path);
	free(fid);
}

/* Another tenant's HR ids in paths: 404 for whoever the route lets in, as for no row at all. */
static void
op_foreign_hr(walker *w)
{
	int role = pick_role(w), n = rnd(w, (int)(sizeof(hr_routes) / sizeof(hr_routes[0])) + 4);

	if (n >= (int)(sizeof(hr_routes) / sizeof(hr_routes[0]))) {
		hr_foreign_body(w, role);
		return;
	}
	const hr_route *rt = &hr_routes[n];
	char *id = foreign_id(w, (enum obs)rt->kind), *path = hr_path(rt, id);
	const char *ifm[] = {"If-Match: \"1\"", NULL};
	long want = role > rt->min ? 403 : 404;
	kt_resp *r = call(w, OP_FOREIGN_HR, role, strcmp(rt->method, "PATCH") == 0 ? ifm : NULL,
	                  rt->method, rt->body, path);

	expect_status(w, r, want);
	if (want == 404 && chance(w, 30)) {
		/* the answer for an id of no row at all is the same: no oracle for existence */
		char *none = nowhere_id(w), *other = hr_path(rt, none);
		kt_resp *r2 = call(w, OP_FOREIGN_HR, role, strcmp(rt->method, "PATCH") == 0 ? ifm : NULL,
		                   rt->method, rt->body, other);

		expect_status(w, r2, 404);
		if (strcmp(kt_jstr(r2->json, "detail"), kt_jstr(r->json, "detail")) != 0)
			walk_fail(w, "another tenant's id is told apart from no row: \"%s\" vs \"%s\"",
			          kt_jstr(r->json, "detail"), kt_jstr(r2->json, "detail"));
		kt_resp_free(r2);
		free(other);
		free(none);
	}
	kt_resp_free(r);
	free(path);
	free(id);
}

/* The database holds as many HR rows of each kind as the model made (none are deleted). */
static void
check_db_hr(walker *w)
{
	static const char *const tables[] = {[OBS_EMP] = "hr.employees",
	                                     [OBS_HRCAL] = "hr.holiday_calendars",
	                                     [OBS_POS] = "hr.positions",
	                                     [OBS_LTYPE] = "hr.leave_types",
	                                     [OBS_LREQ] = "hr.leave_requests"};

	for (int kind = OBS_EMP; kind <= OBS_LREQ; kind++) {
		int model = 0;

		for (int i = 0; i < w->nhr; i++)
			model += w->hr[i].kind == kind;
		char *sql = kt_strf("SELECT count(*) FROM %s", tables[kind]);
		PGresult *r = db_rows(w, sql);

		if (atol(PQgetvalue(r, 0, 0)) != model)
			walk_fail(w, "the database has %s rows of %s, the model %d", PQgetvalue(r, 0, 0),
			          tables[kind], model);
		PQclear(r);
		free(sql);
	}
}

static const weighted ops[] = {
    {op_org_create, 9},    {op_org_get, 7},     {op_org_list, 7},    {op_org_patch, 8},
    {op_org_delete, 3},    {op_div_create, 11}, {op_div_get, 6},     {op_div_list, 6},
    {op_div_patch, 8},     {op_div_delete, 4},  {op_user_create, 3}, {op_user_get, 4},
    {op_user_list, 2},     {op_user_patch, 4},  {op_user_delete, 2}, {op_audit, 5},
    {op_tenant, 2},        {op_me, 1},          {op_foreign_id, 10}, {op_foreign_cursor, 4},
    {op_foreign_other, 4}, {op_ledger, 3},      {op_acct_create, 5}, {op_acct_get, 2},
    {op_acct_list, 2},     {op_acct_patch, 2},  {op_fiscal, 2},      {op_entry_create, 6},
    {op_entry_get, 2},     {op_entry_list, 2},  {op_entry_post, 3},  {op_entry_reverse, 2},
    {op_trial_balance, 2}, {op_acct_delete, 1}, {op_entry_patch, 2}, {op_entry_delete, 1},
    {op_period, 2},        {op_acct_ledger, 2}, {op_foreign_fin, 7}, {op_hr, 6},
    {op_foreign_hr, 5},
};

static void
step(walker *w)
{
	int total = 0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		total += ops[i].weight;
	int n = rnd(w, total);
	size_t i = 0;

	while (n >= ops[i].weight)
		n -= ops[i++].weight;
	long before = w->calls / CHECK_DB;

	ops[i].op(w);
	if (w->calls / CHECK_DB != before)
		check_db(w);
}

static void *
run_walkers(void *arg)
{
	runner *run = arg;

	if (setjmp(run->jb) != 0)
		return NULL; /* failed: the message is in failure */
	for (bool more = true; more && !atomic_load(&stop_all);) {
		more = false;
		for (int k = 0; k < run->nwalkers && !atomic_load(&stop_all); k++) {
			walker *w = run->walkers[k];

			if (w->calls < w->target) {
				step(w);
				more = true;
			}
		}
	}
	for (int k = 0; k < run->nwalkers && !atomic_load(&stop_all); k++)
		check_db(run->walkers[k]);
	return NULL;
}

/* ---- setup ---- */

static char *
login(walker *w, const char *email)
{
	return kt_login(srv->base, w->slug, email, PASSWORD);
}

static void
tenant_make(walker *w, int idx)
{
	w->idx = idx;
	snprintf(w->marker, sizeof(w->marker), "LkT%dx", idx);
	snprintf(w->slug, sizeof(w->slug), "lkt%dx-leak", idx);
	w->tenant_id = kt_signup(srv->base, w->slug, PASSWORD);
	w->tenant_name = kt_strf("Tenant %s", w->slug);
	w->tenant_version = 1;
	char *owner = kt_strf("owner@%s.test", w->slug);

	w->token[OWNER] = login(w, owner);
	free(owner);
	for (int r = ADMIN; r < NROLES; r++) {
		char *body =
		    kt_strf("{\"email\":\"%s.%s@leak.test\",\"password\":\"" PASSWORD "\",\"role\":\"%s\"}",
		            role_names[r], w->marker, role_names[r]);
		kt_resp *resp = kt_api(srv->base, "POST", w->token[OWNER], body, "/api/v1/users");

		if (resp->status != 201)
			fail_msg("user: %ld %s", resp->status, resp->body);
		kt_resp_free(resp);
		free(body);
		char *email = kt_strf("%s.%s@leak.test", role_names[r], w->marker);

		w->token[r] = login(w, email);
		free(email);
	}
	/* the actors as the database has them after their sign-ins */
	kt_resp *r = kt_api(srv->base, "GET", w->token[OWNER], NULL, "/api/v1/users?limit=10");
	size_t k;
	json_t *u;

	assert_int_equal(r->status, 200);
	id_register(w, w->tenant_id, idx);
	json_array_foreach(json_object_get(r->json, "data"), k, u)
	{
		int role = 0;

		while (role < NROLES && strcmp(kt_jstr(u, "role"), role_names[role]) != 0)
			role++;
		assert_true(role < NROLES && strcmp(kt_jstr(u, "status"), "active") == 0);
		user_add(w, kt_jstr(u, "id"), kt_jstr(u, "email"), role, true, jlong(u, "version"), true);
		w->actor[role] = w->nusers - 1;
	}
	assert_int_equal(w->nusers, NROLES);
	kt_resp_free(r);
	w->curl = curl_easy_init();
	w->pg = kt_pg_owner();
	w->role = -1;
}

/* A positive setting of this test (KEEL_TEST_*, which keel itself ignores), or fallback. */
static long
env_long(const char *name, long fallback)
{
	const char *v = getenv(name);
	long n = v != NULL && *v ? strtol(v, NULL, 10) : fallback;

	return n > 0 ? n : fallback;
}

static int
setup(void **state)
{
	(void)state;
	const char *s = getenv("KEEL_TEST_SEED");

	seed = s != NULL && *s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
	n_calls = env_long("KEEL_TEST_LEAK_CALLS", 10000);
	n_threads = env_long("KEEL_TEST_LEAK_THREADS", NT) == 1 ? 1 : NT;
	print_message("leak: seed %llu (KEEL_TEST_SEED=%llu reproduces it)\n", seed, seed);
	json_object_seed(0);
	ids.id = calloc(IDS_CAP, 37);
	ids.tenant = malloc(IDS_CAP);
	memset(ids.tenant, -1, IDS_CAP);
	const char *env[] = {"KEEL_WORKERS=4", "KEEL_LOG_LEVEL=warn", NULL};

	if ((srv = kt_fixture_start("leak", env, NULL)) == NULL)
		return -1;
	for (int i = 0; i < NT; i++)
		tenant_make(&W[i], i);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NT; i++) {
		if (W[i].curl)
			curl_easy_cleanup(W[i].curl);
		if (W[i].pg)
			PQfinish(W[i].pg);
	}
	return kt_fixture_stop(srv, NULL);
}

static void
random_walk_never_leaks_and_matches_the_model(void **state)
{
	(void)state;
	long calls = n_calls;
	int threads = (int)n_threads;
	runner runs[NT];
	walker *all[NT];
	long long t0 = kt_now_ms();

	for (int i = 0; i < NT; i++) {
		W[i].rng = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull;
		W[i].target = (calls + NT - 1) / NT;
		all[i] = &W[i];
	}
	for (int t = 0; t < threads; t++) {
		runs[t] =
		    (runner){.walkers = threads == 1 ? all : &all[t], .nwalkers = threads == 1 ? NT : 1};
		for (int k = 0; k < runs[t].nwalkers; k++)
			runs[t].walkers[k]->run = &runs[t];
		pthread_create(&runs[t].thread, NULL, run_walkers, &runs[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(runs[t].thread, NULL);
	long long ms = kt_now_ms() - t0;
	long done = 0;

	for (int i = 0; i < NT; i++)
		done += W[i].calls;
	print_message("leak: %ld calls in %lld ms on %d thread%s (seed %llu)\n", done, ms, threads,
	              threads == 1 ? "" : "s", seed);
	for (int k = 0; k < N_OPS; k++)
		print_message("  %-16s %6ld\n", op_names[k], atomic_load(&op_count[k]));
	char statuses[512] = "";

	for (int s = 0; s < 600; s++)
		if (atomic_load(&status_count[s]) > 0)
			snprintf(statuses + strlen(statuses), sizeof(statuses) - strlen(statuses), " %d:%ld", s,
			         atomic_load(&status_count[s]));
	print_message("  statuses:%s\n", statuses);
	for (int i = 0; i < NT; i++)
		print_message(
		    "  tenant %d: %d organizations, %d divisions, %d users made; %d, %d, %d live\n", i,
		    W[i].norgs, W[i].ndivs, W[i].nusers - NROLES, count_live_orgs(&W[i]),
		    count_live_divs(&W[i]), count_extras(&W[i]));
	for (int i = 0; i < NT; i++) {
		int books = 0, posted = 0;

		for (int o = 0; o < W[i].norgs; o++)
			books += W[i].orgs[o].ledger;
		for (int e = 0; e < W[i].nentries; e++)
			posted += W[i].entries[e].posted;
		print_message("  tenant %d: %d ledgers, %d accounts, %d journal entries (%d posted)\n", i,
		              books, W[i].naccts, W[i].nentries, posted);
	}
	if (failure != NULL)
		fail_msg("%s", failure);
	assert_true(done >= calls);
}

/* Last: keel stops on SIGTERM with exit status 0, its log free of sanitizer reports. */
static void
keel_stops_cleanly(void **state)
{
	(void)state;
	kt_keel_stop_clean(&srv, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(random_walk_never_leaks_and_matches_the_model),
	    cmocka_unit_test(keel_stops_cleanly),
	};

	return cmocka_run_group_tests_name("leak", tests, setup, teardown);
}
