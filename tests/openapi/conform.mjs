// Black-box conformance of keel to its own /openapi.json.
//
// usage: node conform.mjs OPENAPI_JSON_FILE BASE_URL
//
// Drives a session against a running keel (sign-up, sign-in, refresh, users,
// the tenant, organizations, divisions, the ledger, the audit log, and error cases of
// every kind), and checks every answer against the document: its status is
// one the operation lists, its content type one that response has, and its
// body validates against the documented schema (JSON Schema 2020-12, as
// OpenAPI 3.1 uses; problem+json against Problem), with no member the
// schema does not describe.  Prints one line per
// disagreement and a summary; exits 1 when there is any, or when a step of
// the session itself did not get the status it needs to go on.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docPath, base] = process.argv.slice(2);
if (!docPath || !base) {
	console.error("usage: node conform.mjs OPENAPI_JSON_FILE BASE_URL");
	process.exit(2);
}
const doc = JSON.parse(readFileSync(docPath, "utf8"));
const ROOT = "https://keel.invalid/openapi.json";
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// Checked closed: an object schema that lists its properties gets no others, so a
// member keel sends but the document does not describe is a disagreement too.
function closed(schema) {
	if (Array.isArray(schema)) return schema.map(closed);
	if (schema === null || typeof schema !== "object") return schema;
	const out = {};
	for (const [k, v] of Object.entries(schema)) out[k] = k === "properties" ? closedEach(v) : closed(v);
	if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
	return out;
}
function closedEach(props) {
	return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, closed(v)]));
}
ajv.addSchema({ $id: ROOT, components: closed(doc.components) });

const problems = [];
const seen = new Set(); // "operationId status"
let checked = 0;

// A copy of schema whose local $refs point into the registered document.
function rooted(schema) {
	if (Array.isArray(schema)) return schema.map(rooted);
	if (schema === null || typeof schema !== "object") return schema;
	const out = {};
	for (const [k, v] of Object.entries(schema))
		out[k] = k === "$ref" && v.startsWith("#/") ? ROOT + v : rooted(v);
	return out;
}

const validators = new Map();
function validatorOf(schema) {
	const key = JSON.stringify(schema);
	if (!validators.has(key)) validators.set(key, ajv.compile(closed(rooted(schema))));
	return validators.get(key);
}

function resolve(obj) {
	if (!obj || !obj.$ref) return obj;
	return obj.$ref
		.slice(2)
		.split("/")
		.reduce((o, k) => o[k.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
}

// The operation of method + path template.
function operationOf(method, template) {
	const op = doc.paths[template]?.[method.toLowerCase()];
	if (!op) throw new Error(`${method} ${template} is not in the document`);
	return op;
}

function conform(method, template, status, contentType, text) {
	const op = operationOf(method, template);
	const where = `${op.operationId} (${method} ${template}) ${status}`;
	const response = resolve(op.responses[String(status)]);

	checked++;
	seen.add(`${op.operationId} ${status}`);
	if (!response) {
		problems.push(`${where}: status not documented (body: ${text.slice(0, 200)})`);
		return;
	}
	if (!response.content) {
		if (text.length > 0) problems.push(`${where}: a body where none is documented`);
		return;
	}
	const media = (contentType || "").split(";")[0].trim();
	const content = response.content[media];
	if (!content) {
		problems.push(`${where}: content type "${contentType}" not documented`);
		return;
	}
	if (!media.endsWith("json")) return;
	let body;
	try {
		body = JSON.parse(text);
	} catch (e) {
		problems.push(`${where}: body is not JSON: ${e.message}`);
		return;
	}
	const validate = validatorOf(content.schema);
	if (!validate(body))
		problems.push(
			`${where}: body does not match its schema: ${ajv.errorsText(validate.errors)}; body: ${text.slice(0, 300)}`,
		);
}

// One request; checks the answer, and that it has want's status when want is given.
async function call(method, template, { path, token, body, raw, headers = {}, query, want } = {}) {
	let url = base + (path ?? template);
	if (query) url += "?" + new URLSearchParams(query).toString();
	const h = { ...headers };
	if (token) h.Authorization = `Bearer ${token}`;
	let payload;
	if (raw !== undefined) payload = raw;
	else if (body !== undefined) {
		payload = JSON.stringify(body);
		h["Content-Type"] ??= "application/json";
	}
	const res = await fetch(url, { method, headers: h, body: payload });
	const text = await res.text();
	conform(method, template, res.status, res.headers.get("content-type"), text);
	if (want !== undefined && res.status !== want)
		throw new Error(`${method} ${url}: status ${res.status}, the session needs ${want}: ${text}`);
	return { status: res.status, headers: res.headers, text, json: text ? safeJson(text) : null };
}

function safeJson(text) {
	try {
		return JSON.parse(text);
	} catch {
		return null;
	}
}

const PASSWORD = "correct horse battery staple";
const slug = `conform-${process.pid}`;

async function login(email, password = PASSWORD, want = 200) {
	return call("POST", "/api/v1/auth/login", { body: { tenant: slug, email, password }, want });
}

async function operations() {
	await call("GET", "/healthz", { want: 200 });
	await call("GET", "/healthz", { path: "/healthz?x=%FF", want: 400 });
	await call("GET", "/.well-known/jwks.json", { path: "/.well-known/jwks.json?x=%C3%28", want: 400 });
	await call("GET", "/readyz", { want: 200 });
	await call("GET", "/metrics", { want: 200 });
	await call("GET", "/openapi.json", { want: 200 });
	await call("GET", "/.well-known/jwks.json", { want: 200 });
}

async function signUp() {
	const owner = `owner@${slug}.test`;
	const tenants = "/api/v1/tenants";
	const good = { name: "Conformance", slug, owner_email: owner, owner_password: PASSWORD };
	await call("POST", tenants, { body: good, want: 201 });
	await call("POST", tenants, { body: good, want: 409 });
	await call("POST", tenants, { body: { ...good, slug: "X", owner_password: "short" }, want: 422 });
	await call("POST", tenants, { raw: "{", headers: { "Content-Type": "application/json" }, want: 400 });
	await call("POST", tenants, { raw: "name=x", headers: { "Content-Type": "text/plain" }, want: 415 });
	const big = JSON.stringify({ name: "x".repeat(1024 * 1024) });
	await call("POST", tenants, { raw: big, headers: { "Content-Type": "application/json" }, want: 413 });
	return owner;
}

async function tokens(owner) {
	const pair = (await login(owner)).json;
	await login(owner, "wrong password, long enough", 401);
	await call("POST", "/api/v1/auth/login", { body: { tenant: slug }, want: 422 });
	const next = (await call("POST", "/api/v1/auth/refresh", { body: { refresh_token: pair.refresh_token }, want: 200 })).json;
	await call("POST", "/api/v1/auth/refresh", { body: { refresh_token: "not-a-token" }, want: 401 });
	await call("GET", "/api/v1/auth/me", { token: next.access_token, want: 200 });
	await call("GET", "/api/v1/auth/me", { want: 401 });
	await call("GET", "/api/v1/auth/me", { token: "not.a.token", want: 401 });
	return next;
}

async function users(token) {
	const member = (await call("POST", "/api/v1/users", { token, body: { email: `member@${slug}.test`, password: PASSWORD }, want: 201 })).json;
	await call("POST", "/api/v1/users", { token, body: { email: `member@${slug}.test`, password: PASSWORD }, want: 409 });
	await call("POST", "/api/v1/users", { token, body: { email: "nope", password: "x", role: "king" }, want: 422 });
	await call("POST", "/api/v1/users", { token, body: { email: `viewer@${slug}.test`, password: PASSWORD, role: "viewer" }, want: 201 });
	await call("GET", "/api/v1/users", { token, query: { limit: "1" }, want: 200 });
	await call("GET", "/api/v1/users", { token, query: { limit: "0" }, want: 400 });
	const one = "/api/v1/users/{id}";
	const got = await call("GET", one, { path: `/api/v1/users/${member.id}`, token, want: 200 });
	await call("GET", one, { path: "/api/v1/users/0192f3a4-0000-7000-8000-000000000000", token, want: 404 });
	await call("PATCH", one, { path: `/api/v1/users/${member.id}`, token, headers: { "If-Match": '"999"' }, body: { role: "admin" }, want: 412 });
	await call("PATCH", one, { path: `/api/v1/users/${member.id}`, token, headers: { "If-Match": got.headers.get("etag") }, body: { role: "admin" }, want: 200 });
	await call("PATCH", one, { path: `/api/v1/users/${member.id}`, token, body: {}, want: 422 });
	const viewer = (await login(`viewer@${slug}.test`)).json.access_token;
	await call("GET", "/api/v1/users", { token: viewer, want: 403 });
	await call("DELETE", one, { path: `/api/v1/users/${member.id}`, token, want: 204 });
	return viewer;
}

async function tenant(token, viewer) {
	const got = await call("GET", "/api/v1/tenant", { token, want: 200 });
	await call("PATCH", "/api/v1/tenant", { token, headers: { "If-Match": got.headers.get("etag") }, body: { name: "Renamed" }, want: 200 });
	await call("PATCH", "/api/v1/tenant", { token, body: { name: "" }, want: 422 });
	await call("PATCH", "/api/v1/tenant", { token: viewer, body: { name: "Nope" }, want: 403 });
}

async function organizations(token, viewer) {
	const orgs = "/api/v1/organizations";
	const one = "/api/v1/organizations/{id}";
	const org = (await call("POST", orgs, { token, headers: { "Idempotency-Key": "conform-1" }, body: { name: "Acme", code: "ACME", settings: { a: 1 } }, want: 201 })).json;
	await call("POST", orgs, { token, headers: { "Idempotency-Key": "conform-1" }, body: { name: "Acme", code: "ACME", settings: { a: 1 } }, want: 201 });
	await call("POST", orgs, { token, body: { name: "Acme again", code: "ACME" }, want: 409 });
	await call("POST", orgs, { token, body: { name: "Bad", code: "-no" }, want: 422 });
	await call("POST", orgs, { token: viewer, body: { name: "Nope", code: "NOPE" }, want: 403 });
	await call("POST", orgs, { token, body: { name: "Archived", code: "OLD", status: "archived", description: "gone" }, want: 201 });
	await call("GET", orgs, { token, query: { q: "acm", status: "active", limit: "1" }, want: 200 });
	await call("GET", orgs, { token, query: { status: "bogus" }, want: 400 });
	await call("GET", orgs, { token: viewer, want: 200 });
	const got = await call("GET", one, { path: `${orgs}/${org.id}`, token, want: 200 });
	await call("GET", one, { path: `${orgs}/not-a-uuid`, token, want: 404 });
	await call("PATCH", one, { path: `${orgs}/${org.id}`, token, headers: { "If-Match": got.headers.get("etag") }, body: { description: "Anvils" }, want: 200 });
	await call("PATCH", one, { path: `${orgs}/${org.id}`, token, headers: { "If-Match": got.headers.get("etag") }, body: { description: "Stale" }, want: 412 });
	return org;
}

async function divisions(token, org) {
	const divs = "/api/v1/organizations/{id}/divisions";
	const one = "/api/v1/divisions/{id}";
	const path = `/api/v1/organizations/${org.id}/divisions`;
	const top = (await call("POST", divs, { path, token, body: { name: "Top", code: "TOP" }, want: 201 })).json;
	const child = (await call("POST", divs, { path, token, body: { name: "Child", code: "CHILD", parent_id: top.id }, want: 201 })).json;
	await call("POST", divs, { path, token, body: { name: "Bad", code: "TOP", parent_id: "x" }, want: 422 });
	await call("POST", divs, { path, token, body: { name: "Again", code: "TOP" }, want: 409 });
	await call("GET", divs, { path, token, query: { parent_id: "null" }, want: 200 });
	await call("GET", divs, { path, token, query: { parent_id: top.id, limit: "5" }, want: 200 });
	await call("GET", one, { path: `/api/v1/divisions/${child.id}`, token, want: 200 });
	await call("PATCH", one, { path: `/api/v1/divisions/${child.id}`, token, body: { parent_id: null, description: "moved" }, want: 200 });
	await call("PATCH", one, { path: `/api/v1/divisions/${top.id}`, token, body: { parent_id: top.id }, want: 422 });
	await call("PATCH", one, { path: `/api/v1/divisions/${child.id}`, token, body: { parent_id: top.id }, want: 200 });
	await call("DELETE", one, { path: `/api/v1/divisions/${top.id}`, token, want: 409 });
	await call("DELETE", one, { path: `/api/v1/divisions/${top.id}`, token, query: { cascade: "maybe" }, want: 400 });
	await call("DELETE", one, { path: `/api/v1/divisions/${top.id}`, token, query: { cascade: "true" }, want: 204 });
	await call("GET", one, { path: `/api/v1/divisions/${child.id}`, token, want: 404 });
	await call("DELETE", "/api/v1/organizations/{id}", { path: `/api/v1/organizations/${org.id}`, token, want: 204 });
}

async function finance(token, viewer) {
	const org = (await call("POST", "/api/v1/organizations", { token, body: { name: "Books", code: "BOOKS" }, want: 201 })).json;
	const o = `/api/v1/organizations/${org.id}`;
	const ledger = "/api/v1/organizations/{id}/ledger";
	const accounts = "/api/v1/organizations/{id}/accounts";
	const account = "/api/v1/accounts/{id}";
	const years = "/api/v1/organizations/{id}/fiscal-years";
	const entries = "/api/v1/organizations/{id}/journal-entries";
	const entry = "/api/v1/journal-entries/{id}";
	await call("GET", "/api/v1/currencies", { want: 200 });
	await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1000", name: "Cash", type: "asset" }, want: 409 });
	await call("POST", ledger, { path: `${o}/ledger`, token, body: { currency: "EURO" }, want: 422 });
	await call("POST", ledger, { path: `${o}/ledger`, token: viewer, body: { currency: "EUR" }, want: 403 });
	await call("POST", ledger, { path: `${o}/ledger`, token, headers: { "Idempotency-Key": "conform-ledger" }, body: { currency: "EUR" }, want: 201 });
	await call("POST", ledger, { path: `${o}/ledger`, token, body: { currency: "USD" }, want: 409 });
	const l = await call("GET", ledger, { path: `${o}/ledger`, token: viewer, want: 200 });
	const group = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1", name: "Assets", type: "asset", is_group: true }, want: 201 })).json;
	const cash = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1000", name: "Cash", type: "asset", parent_id: group.id }, want: 201 })).json;
	const sales = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "4000", name: "Sales", type: "income", requires_division: false }, want: 201 })).json;
	const spare = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "9999", name: "Spare", type: "expense" }, want: 201 })).json;
	await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1000", name: "Again", type: "asset" }, want: 409 });
	await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1100", name: "Bank", type: "income", parent_id: group.id }, want: 422 });
	await call("GET", accounts, { path: `${o}/accounts`, token, query: { type: "asset", limit: "1" }, want: 200 });
	const got = await call("GET", account, { path: `/api/v1/accounts/${cash.id}`, token, want: 200 });
	await call("GET", account, { path: "/api/v1/accounts/not-a-uuid", token, want: 404 });
	await call("PATCH", account, { path: `/api/v1/accounts/${cash.id}`, token, headers: { "If-Match": got.headers.get("etag") }, body: { name: "Cash at hand" }, want: 200 });
	await call("PATCH", account, { path: `/api/v1/accounts/${cash.id}`, token, body: { code: "2" }, want: 422 });
	await call("PATCH", ledger, { path: `${o}/ledger`, token, headers: { "If-Match": l.headers.get("etag") }, body: { rounding_account_id: spare.id }, want: 200 });
	await call("DELETE", account, { path: `/api/v1/accounts/${spare.id}`, token, want: 409 });
	const fy26 = (await call("POST", years, { path: `${o}/fiscal-years`, token, body: { name: "2026", start_date: "2026-01-01", end_date: "2026-12-31", period: "month" }, want: 201 })).json;
	const fy = (await call("POST", years, { path: `${o}/fiscal-years`, token, body: { name: "2027", start_date: "2027-01-01", end_date: "2027-12-31", period: "quarter" }, want: 201 })).json;
	await call("POST", years, { path: `${o}/fiscal-years`, token, body: { name: "X", start_date: "2026-06-01", end_date: "2026-08-31", period: "month" }, want: 409 });
	await call("POST", years, { path: `${o}/fiscal-years`, token, body: { name: "Bad", start_date: "2026-02-30", end_date: "2026-12-31", period: "month" }, want: 422 });
	await call("GET", years, { path: `${o}/fiscal-years`, token, want: 200 });
	await call("GET", "/api/v1/fiscal-years/{id}", { path: `/api/v1/fiscal-years/${fy.id}`, token, want: 200 });
	const periods = (await call("GET", "/api/v1/organizations/{id}/periods", { path: `${o}/periods`, token, query: { limit: "2" }, want: 200 })).json;
	const [jan, feb] = periods.data;
	const line = (account_id, side, amount) => ({ account_id, [side]: amount });
	const posted = (await call("POST", entries, { path: `${o}/journal-entries`, token, headers: { "Idempotency-Key": "conform-entry" }, body: { journal: "sales", date: "2026-02-05", memo: "invoice", post: true, lines: [line(cash.id, "debit", "119.00"), line(sales.id, "credit", "119.00")] }, want: 201 })).json;
	await call("POST", entries, { path: `${o}/journal-entries`, token, body: { journal: "sales", date: "2026-02-05", lines: [line(cash.id, "debit", "1e3"), line(sales.id, "credit", "1000.00")] }, want: 422 });
	await call("POST", entries, { path: `${o}/journal-entries`, token: viewer, body: { journal: "sales", date: "2026-02-05", lines: [line(cash.id, "debit", "1.00"), line(sales.id, "credit", "1.00")] }, want: 403 });
	const draft = (await call("POST", entries, { path: `${o}/journal-entries`, token, body: { journal: "general", date: "2026-02-06", lines: [line(cash.id, "debit", "1.00"), line(sales.id, "credit", "0.99")] }, want: 201 })).json;
	const d = await call("GET", entry, { path: `/api/v1/journal-entries/${draft.id}`, token, want: 200 });
	await call("PATCH", entry, { path: `/api/v1/journal-entries/${draft.id}`, token, headers: { "If-Match": d.headers.get("etag") }, body: { memo: "fixed" }, want: 200 });
	await call("POST", "/api/v1/journal-entries/{id}/post", { path: `/api/v1/journal-entries/${draft.id}/post`, token, want: 422 });
	await call("POST", "/api/v1/journal-entries/{id}/post", { path: `/api/v1/journal-entries/${posted.id}/post`, token, want: 409 });
	await call("PATCH", entry, { path: `/api/v1/journal-entries/${posted.id}`, token, body: { memo: "no" }, want: 409 });
	await call("DELETE", entry, { path: `/api/v1/journal-entries/${draft.id}`, token, want: 204 });
	await call("POST", "/api/v1/journal-entries/{id}/reverse", { path: `/api/v1/journal-entries/${posted.id}/reverse`, token, body: { date: "2026-03-01" }, want: 201 });
	await call("POST", "/api/v1/journal-entries/{id}/reverse", { path: `/api/v1/journal-entries/${posted.id}/reverse`, token, body: { date: "2026-03-01" }, want: 409 });
	await call("GET", entries, { path: `${o}/journal-entries`, token, query: { status: "posted", from: "2026-01-01", to: "2026-12-31", limit: "1" }, want: 200 });
	await call("GET", "/api/v1/organizations/{id}/trial-balance", { path: `${o}/trial-balance`, token: viewer, query: { from: "2026-01-01", to: "2026-12-31" }, want: 200 });
	await call("GET", "/api/v1/accounts/{id}/ledger", { path: `/api/v1/accounts/${cash.id}/ledger`, token, query: { from: "2026-01-01", to: "2026-12-31", limit: "1" }, want: 200 });
	await call("POST", "/api/v1/periods/{id}/close", { path: `/api/v1/periods/${feb.id}/close`, token, want: 409 });
	await call("POST", "/api/v1/periods/{id}/close", { path: `/api/v1/periods/${jan.id}/close`, token, want: 200 });
	await call("POST", "/api/v1/periods/{id}/lock", { path: `/api/v1/periods/${jan.id}/lock`, token: viewer, want: 403 });
	await call("POST", "/api/v1/periods/{id}/reopen", { path: `/api/v1/periods/${jan.id}/reopen`, token, body: {}, want: 422 });
	await call("POST", "/api/v1/periods/{id}/reopen", { path: `/api/v1/periods/${jan.id}/reopen`, token, body: { reason: "a late invoice" }, want: 200 });
	await call("POST", "/api/v1/periods/{id}/close", { path: `/api/v1/periods/${jan.id}/close`, token, want: 200 });
	await call("POST", "/api/v1/periods/{id}/lock", { path: `/api/v1/periods/${jan.id}/lock`, token, want: 200 });
	await call("DELETE", "/api/v1/organizations/{id}", { path: o, token, want: 409 });
	const rates = "/api/v1/exchange-rates";
	await call("POST", rates, { token, headers: { "Idempotency-Key": "conform-rate" }, body: { from: "USD", to: "EUR", rate: "0.5", date: "2026-03-01" }, want: 201 });
	await call("POST", rates, { token, body: { from: "USD", to: "EUR", rate: "0.7", date: "2026-03-01" }, want: 409 });
	await call("POST", rates, { token, body: { from: "USD", to: "EUR", rate: "1e3", date: "2026-03-02" }, want: 422 });
	await call("POST", rates, { token: viewer, body: { from: "USD", to: "EUR", rate: "1", date: "2026-03-02" }, want: 403 });
	await call("GET", rates, { token: viewer, query: { from: "USD", to: "EUR", date: "2026-03-10" }, want: 200 });
	await call("GET", rates, { token: viewer, query: { from: "EUR", to: "USD", date: "2026-03-10" }, want: 404 });
	await call("GET", rates, { token: viewer, query: { from: "USD", to: "EUR" }, want: 422 });
	const fx = { journal: "general", date: "2026-03-10", post: true, lines: [{ ...line(cash.id, "debit", "0.05"), currency: "USD" }, line(sales.id, "credit", "0.03")] };
	await call("POST", entries, { path: `${o}/journal-entries`, token, body: fx, want: 201 });
	await call("POST", entries, { path: `${o}/journal-entries`, token, body: { ...fx, date: "2026-02-28" }, want: 422 });
	const csv = { Accept: "text/csv" };
	await call("GET", "/api/v1/organizations/{id}/balance-sheet", { path: `${o}/balance-sheet`, token: viewer, query: { as_of: "2026-12-31" }, want: 200 });
	await call("GET", "/api/v1/organizations/{id}/balance-sheet", { path: `${o}/balance-sheet`, token, want: 400 });
	await call("GET", "/api/v1/organizations/{id}/income-statement", { path: `${o}/income-statement`, token: viewer, query: { from: "2026-01-01", to: "2026-12-31" }, want: 200 });
	await call("GET", "/api/v1/organizations/{id}/income-statement", { path: `${o}/income-statement`, token, query: { from: "2026-12-31", to: "2026-01-01" }, want: 400 });
	await call("GET", "/api/v1/organizations/{id}/trial-balance", { path: `${o}/trial-balance`, token: viewer, headers: csv, query: { from: "2026-01-01", to: "2026-12-31" }, want: 200 });
	await call("GET", "/api/v1/accounts/{id}/ledger", { path: `/api/v1/accounts/${cash.id}/ledger`, token, headers: csv, query: { limit: "1" }, want: 200 });
	await call("GET", entries, { path: `${o}/journal-entries`, token, headers: csv, query: { limit: "2" }, want: 200 });
	const org2 = (await call("POST", "/api/v1/organizations", { token, body: { name: "Books two", code: "BOOKS2" }, want: 201 })).json;
	const o2 = `/api/v1/organizations/${org2.id}`;
	await call("POST", ledger, { path: `${o2}/ledger`, token, body: { currency: "USD" }, want: 201 });
	const due = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1300", name: "Due from Books two", type: "asset" }, want: 201 })).json;
	const owed = (await call("POST", accounts, { path: `${o2}/accounts`, token, body: { code: "2300", name: "Due to Books", type: "liability" }, want: 201 })).json;
	const fees = (await call("POST", accounts, { path: `${o2}/accounts`, token, body: { code: "6000", name: "Fees", type: "expense" }, want: 201 })).json;
	await call("PATCH", ledger, { path: `${o}/ledger`, token, body: { intercompany_receivable_account_id: due.id }, want: 200 });
	await call("PATCH", ledger, { path: `${o2}/ledger`, token, body: { intercompany_payable_account_id: owed.id }, want: 200 });
	await call("POST", years, { path: `${o2}/fiscal-years`, token, body: { name: "2026", start_date: "2026-01-01", end_date: "2026-12-31", period: "month" }, want: 201 });
	await call("POST", rates, { token, body: { from: "EUR", to: "USD", rate: "1.1", date: "2026-03-01" }, want: 201 });
	const ics = "/api/v1/intercompany-entries";
	const ic = { from_organization_id: org.id, to_organization_id: org2.id, date: "2026-03-10", memo: "fee", amount: "10.00", currency: "EUR", from_account_id: cash.id, to_account_id: fees.id };
	const pair = (await call("POST", ics, { token, headers: { "Idempotency-Key": "conform-ic" }, body: ic, want: 201 })).json;
	await call("POST", ics, { token, body: { ...ic, to_organization_id: org.id }, want: 422 });
	await call("POST", ics, { token, body: { ...ic, date: "2026-01-15" }, want: 422 });
	await call("POST", ics, { token: viewer, body: ic, want: 403 });
	await call("GET", "/api/v1/intercompany-entries/{id}", { path: `${ics}/${pair.id}`, token: viewer, want: 200 });
	await call("GET", "/api/v1/intercompany-entries/{id}", { path: `${ics}/${org.id}`, token: viewer, want: 404 });
	const revaluations = "/api/v1/organizations/{id}/revaluations";
	const usd = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "1200", name: "Receivables USD", type: "asset", currency: "USD", revalue: true }, want: 201 })).json;
	await call("POST", entries, { path: `${o}/journal-entries`, token, body: { journal: "sales", date: "2026-03-12", post: true, lines: [{ ...line(usd.id, "debit", "100.00"), currency: "USD" }, line(sales.id, "credit", "50.00")] }, want: 201 });
	await call("POST", rates, { token, body: { from: "USD", to: "EUR", rate: "0.6", date: "2026-03-31" }, want: 201 });
	const reval = { date: "2026-03-31", gain_account_id: sales.id, loss_account_id: spare.id };
	await call("POST", revaluations, { path: `${o}/revaluations`, token: viewer, body: reval, want: 403 });
	await call("POST", revaluations, { path: `${o}/revaluations`, token, body: { ...reval, gain_account_id: cash.id }, want: 422 });
	await call("POST", revaluations, { path: `${o}/revaluations`, token, body: { ...reval, date: "2026-02-30" }, want: 422 });
	await call("POST", revaluations, { path: `${o}/revaluations`, token, headers: { "Idempotency-Key": "conform-reval" }, body: reval, want: 201 });
	await call("POST", revaluations, { path: `${o}/revaluations`, token, body: reval, want: 422 });
	const yearClose = "/api/v1/fiscal-years/{id}/close";
	await call("POST", yearClose, { path: `/api/v1/fiscal-years/${fy26.id}/close`, token: viewer, want: 403 });
	await call("POST", yearClose, { path: `/api/v1/fiscal-years/${fy26.id}/close`, token, want: 409 });
	await call("POST", yearClose, { path: "/api/v1/fiscal-years/not-a-uuid/close", token, want: 404 });
	const all = (await call("GET", "/api/v1/organizations/{id}/periods", { path: `${o}/periods`, token, query: { limit: "12" }, want: 200 })).json;
	for (const p of all.data.filter((p) => p.status === "open"))
		await call("POST", "/api/v1/periods/{id}/close", { path: `/api/v1/periods/${p.id}/close`, token, want: 200 });
	const retained = (await call("POST", accounts, { path: `${o}/accounts`, token, body: { code: "3000", name: "Retained earnings", type: "equity" }, want: 201 })).json;
	const l2 = await call("GET", ledger, { path: `${o}/ledger`, token, want: 200 });
	await call("PATCH", ledger, { path: `${o}/ledger`, token, headers: { "If-Match": l2.headers.get("etag") }, body: { retained_earnings_account_id: retained.id }, want: 200 });
	await call("POST", yearClose, { path: `/api/v1/fiscal-years/${fy26.id}/close`, token, want: 200 });
}

async function auditLogs(token, viewer) {
	const logs = "/api/v1/audit-logs";
	await call("GET", logs, { token, want: 200 });
	await call("GET", logs, { token, query: { action: "INSERT", table: "org.organizations", limit: "2" }, want: 200 });
	await call("GET", logs, { token, query: { since: "2000-01-01T00:00:00Z", until: "2999-01-01T00:00:00Z" }, want: 200 });
	await call("GET", logs, { token, query: { since: "yesterday" }, want: 400 });
	await call("GET", logs, { token: viewer, want: 403 });
}

async function password(token, refresh) {
	const pw = "/api/v1/auth/password";
	await call("POST", pw, { token, body: { current_password: "not it at all", new_password: PASSWORD + "!" }, want: 422 });
	await call("POST", pw, { token, body: { current_password: PASSWORD, new_password: "short" }, want: 422 });
	await call("POST", pw, { token, body: { current_password: PASSWORD, new_password: PASSWORD + "!" }, want: 204 });
	await call("POST", "/api/v1/auth/logout", { body: { refresh_token: refresh }, want: 204 }); // revoked already
	await call("POST", "/api/v1/auth/logout", { body: { refresh_token: "not-a-token" } });
	await call("POST", "/api/v1/auth/logout", { body: {}, want: 422 });
	const pair = (await login(`owner@${slug}.test`, PASSWORD + "!")).json;
	await call("POST", "/api/v1/auth/logout", { body: { refresh_token: pair.refresh_token }, want: 204 });
}

// Leave requests and their approvals.  Without the routes that make employees, leave types
// and allocations in the document, only the answers that need none of them.
async function hrRequests(token, viewer) {
	const nobody = "0192f3a4-0000-7000-8000-000000000000";
	const reqs = "/api/v1/employees/{id}/leave-requests";
	const one = "/api/v1/leave-requests/{id}";
	const at = (id, verb = "") => `/api/v1/leave-requests/${id}${verb ? "/" + verb : ""}`;
	const day = (n) => {
		const d = new Date();
		d.setUTCDate(d.getUTCDate() + 14 + ((8 - d.getUTCDay()) % 7) + n); // a Monday two weeks on, + n
		return d.toISOString().slice(0, 10);
	};
	const leave = (type, from, to, extra = {}) => ({ leave_type_id: type, start_date: day(from), end_date: day(to), ...extra });
	await call("GET", reqs, { path: `/api/v1/employees/${nobody}/leave-requests`, token, want: 404 });
	await call("POST", reqs, { path: `/api/v1/employees/${nobody}/leave-requests`, token, body: leave(nobody, 0, 0), want: 404 });
	await call("POST", reqs, { path: `/api/v1/employees/${nobody}/leave-requests`, token, body: leave(nobody, 1, 0), want: 422 });
	await call("GET", one, { path: at(nobody), token, want: 404 });
	const orgReqs = "/api/v1/organizations/{id}/leave-requests";
	await call("GET", orgReqs, { path: `/api/v1/organizations/${nobody}/leave-requests`, token, want: 404 });
	for (const verb of ["approve", "withdraw", "cancel"])
		await call("POST", `${one}/${verb}`, { path: at(nobody, verb), token, want: 404 });
	await call("POST", `${one}/reject`, { path: at(nobody, "reject"), token, body: {}, want: 422 });
	await call("POST", `${one}/reject`, { path: at(nobody, "reject"), token, body: { reason: "no" }, want: 404 });
	const employees = "/api/v1/organizations/{id}/employees", types = "/api/v1/organizations/{id}/leave-types";
	const allocations = "/api/v1/employees/{id}/leave-allocations";
	if (!doc.paths[employees] || !doc.paths[types] || !doc.paths[allocations]) return;
	const org = (await call("POST", "/api/v1/organizations", { token, body: { name: "People", code: "HR-REQ" }, want: 201 })).json;
	const o = `/api/v1/organizations/${org.id}`;
	const emp = (await call("POST", employees, { path: `${o}/employees`, token, body: { first_name: "Ada", last_name: "Lovelace", hire_date: "2020-01-01" }, want: 201 })).json;
	const two = (await call("POST", types, { path: `${o}/leave-types`, token, body: { code: "ANNUAL", name: "Annual leave", approval_levels: 2 }, want: 201 })).json;
	const once = (await call("POST", types, { path: `${o}/leave-types`, token, body: { code: "SPECIAL", name: "Special leave", approval_levels: 1 }, want: 201 })).json;
	const e = `/api/v1/employees/${emp.id}`;
	for (const type of [two, once])
		await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: { leave_type_id: type.id, days: "20", valid_from: day(-30), valid_to: day(300), reason: "this year" }, want: 201 });
	const r1 = (await call("POST", reqs, { path: `${e}/leave-requests`, token, headers: { "Idempotency-Key": "conform-leave" }, body: leave(two.id, 0, 1, { start_half: "pm", reason: "a trip" }), want: 201 })).json;
	await call("POST", reqs, { path: `${e}/leave-requests`, token, body: leave(two.id, 1, 1), want: 409 });
	await call("POST", reqs, { path: `${e}/leave-requests`, token, body: leave(two.id, 5, 6), want: 422 });
	await call("POST", reqs, { path: `${e}/leave-requests`, token: viewer, body: leave(two.id, 7, 7), want: 403 });
	await call("GET", reqs, { path: `${e}/leave-requests`, token, query: { status: "submitted", from: day(0), limit: "1" }, want: 200 });
	await call("GET", reqs, { path: `${e}/leave-requests`, token, query: { status: "maybe" }, want: 400 });
	await call("GET", reqs, { path: `${e}/leave-requests`, token: viewer, want: 403 });
	await call("GET", orgReqs, { path: `${o}/leave-requests`, token, query: { status: "submitted" }, want: 200 });
	await call("GET", orgReqs, { path: `${o}/leave-requests`, token: viewer, want: 403 });
	await call("GET", one, { path: at(r1.id), token, want: 200 });
	await call("GET", one, { path: at(r1.id), token: viewer, want: 403 });
	await call("POST", `${one}/approve`, { path: at(r1.id, "approve"), token, want: 200 });
	await call("POST", `${one}/approve`, { path: at(r1.id, "approve"), token, want: 403 });
	await call("POST", `${one}/withdraw`, { path: at(r1.id, "withdraw"), token, want: 409 });
	const r2 = (await call("POST", reqs, { path: `${e}/leave-requests`, token, body: leave(two.id, 7, 7), want: 201 })).json;
	await call("POST", `${one}/reject`, { path: at(r2.id, "reject"), token, body: { reason: "the release week" }, want: 200 });
	await call("POST", `${one}/reject`, { path: at(r2.id, "reject"), token, body: { reason: "again" }, want: 409 });
	const r3 = (await call("POST", reqs, { path: `${e}/leave-requests`, token, body: leave(once.id, 14, 14, { end_half: "am" }), want: 201 })).json;
	await call("POST", `${one}/cancel`, { path: at(r3.id, "cancel"), token, want: 409 });
	await call("POST", `${one}/approve`, { path: at(r3.id, "approve"), token, want: 200 });
	await call("POST", `${one}/cancel`, { path: at(r3.id, "cancel"), token, want: 200 });
}

async function session() {
	await operations();
	const owner = await signUp();
	const pair = await tokens(owner);
	const token = pair.access_token;
	const viewer = await users(token);
	await tenant(token, viewer);
	const org = await organizations(token, viewer);
	await divisions(token, org);
	await finance(token, viewer);
	await auditLogs(token, viewer);
	await hrEmployees(token, viewer);
	await hrRequests(token, viewer);
	await password(token, pair.refresh_token);
	await call("GET", "/api/v1/tenant", { token, headers: { "X-Tenant-ID": "0192f3a4-0000-7000-8000-000000000000" }, want: 403 });
	await hrPositions(token, viewer);
	await hrLeave(token, viewer);
}

// HR: employees, holiday calendars and holidays.
async function hrEmployees(token, viewer) {
	const org = (await call("POST", "/api/v1/organizations", { token, body: { name: "People", code: "PEOPLE" }, want: 201 })).json;
	const calendars = "/api/v1/organizations/{id}/holiday-calendars";
	const calendar = "/api/v1/holiday-calendars/{id}";
	const holidays = "/api/v1/holiday-calendars/{id}/holidays";
	const employees = "/api/v1/organizations/{id}/employees";
	const employee = "/api/v1/employees/{id}";
	const cals = `/api/v1/organizations/${org.id}/holiday-calendars`;
	const cal = (await call("POST", calendars, { path: cals, token, headers: { "Idempotency-Key": "conform-cal" }, body: { name: "Office", workdays: [1, 2, 3, 4, 5] }, want: 201 })).json;
	await call("POST", calendars, { path: cals, token, body: { name: "Office", workdays: [1] }, want: 409 });
	await call("POST", calendars, { path: cals, token, body: { name: "Bad", workdays: [0] }, want: 422 });
	await call("POST", calendars, { path: cals, token: viewer, body: { name: "No", workdays: [1] }, want: 403 });
	await call("GET", calendars, { path: cals, token: viewer, query: { limit: "1" }, want: 200 });
	await call("GET", calendars, { path: cals, token, query: { limit: "0" }, want: 400 });
	const c = `/api/v1/holiday-calendars/${cal.id}`;
	const got = await call("GET", calendar, { path: c, token: viewer, want: 200 });
	await call("GET", calendar, { path: "/api/v1/holiday-calendars/nope", token, want: 404 });
	await call("PATCH", calendar, { path: c, token, headers: { "If-Match": '"9"' }, body: { name: "Stale" }, want: 412 });
	await call("PATCH", calendar, { path: c, token, headers: { "If-Match": got.headers.get("etag") }, body: { workdays: [7, 1, 2, 3, 4] }, want: 200 });
	await call("PATCH", calendar, { path: c, token, body: {}, want: 422 });
	const hol = (await call("POST", holidays, { path: `${c}/holidays`, token, body: { date: "2026-12-24", name: "Eve", half_day: "pm" }, want: 201 })).json;
	await call("POST", holidays, { path: `${c}/holidays`, token, body: { date: "2026-12-25", name: "Christmas" }, want: 201 });
	await call("POST", holidays, { path: `${c}/holidays`, token, body: { date: "2026-12-25", name: "Again" }, want: 409 });
	await call("POST", holidays, { path: `${c}/holidays`, token, body: { date: "2026-02-30", name: "No" }, want: 422 });
	await call("GET", holidays, { path: `${c}/holidays`, token: viewer, query: { from: "2026-12-01", to: "2026-12-31", limit: "1" }, want: 200 });
	await call("GET", holidays, { path: `${c}/holidays`, token, query: { from: "someday" }, want: 400 });
	await call("DELETE", "/api/v1/holidays/{id}", { path: `/api/v1/holidays/${hol.id}`, token, want: 204 });
	await call("DELETE", "/api/v1/holidays/{id}", { path: `/api/v1/holidays/${hol.id}`, token, want: 404 });
	const emps = `/api/v1/organizations/${org.id}/employees`;
	const boss = (await call("POST", employees, { path: emps, token, headers: { "Idempotency-Key": "conform-emp" }, body: { first_name: "Ada", last_name: "Byron", hire_date: "2026-01-05", calendar_id: cal.id, email: "ada@example.test" }, want: 201 })).json;
	const e = (await call("POST", employees, { path: emps, token, body: { first_name: "Grace", last_name: "Hopper", hire_date: "2026-02-01", manager_id: boss.id, timezone: "Europe/Berlin", termination_date: "2027-01-31" }, want: 201 })).json;
	await call("POST", employees, { path: emps, token, body: { first_name: "X", last_name: "Y", hire_date: "2026-01-01", timezone: "Mars/Olympus" }, want: 422 });
	await call("POST", employees, { path: emps, token: viewer, body: { first_name: "X", last_name: "Y", hire_date: "2026-01-01" }, want: 403 });
	await call("GET", employees, { path: emps, token, query: { limit: "1" }, want: 200 });
	await call("GET", employees, { path: emps, token, query: { manager_id: boss.id }, want: 200 });
	await call("GET", employees, { path: emps, token, query: { manager_id: "nope" }, want: 400 });
	await call("GET", employees, { path: emps, token: viewer, want: 403 });
	const one = `/api/v1/employees/${e.id}`;
	const current = await call("GET", employee, { path: one, token, want: 200 });
	await call("GET", employee, { path: one, token: viewer, want: 403 });
	await call("GET", employee, { path: "/api/v1/employees/nope", token, want: 404 });
	await call("PATCH", employee, { path: one, token, headers: { "If-Match": current.headers.get("etag") }, body: { last_name: "Murray Hopper", email: null }, want: 200 });
	await call("PATCH", employee, { path: one, token, headers: { "If-Match": current.headers.get("etag") }, body: { last_name: "Stale" }, want: 412 });
	await call("PATCH", employee, { path: `/api/v1/employees/${boss.id}`, token, body: { manager_id: e.id }, want: 422 });
	await call("DELETE", employee, { path: `/api/v1/employees/${boss.id}`, token, want: 409 });
	await call("DELETE", calendar, { path: c, token, want: 409 });
	await call("DELETE", employee, { path: one, token, want: 204 });
	await call("PATCH", employee, { path: `/api/v1/employees/${boss.id}`, token, body: { calendar_id: null }, want: 200 });
	await call("DELETE", calendar, { path: c, token, want: 204 });
}

try {
	await session();
} catch (e) {
	problems.push(`the session stopped: ${e.message}`);
}
for (const p of problems) console.log(`DISAGREES: ${p}`);
const operationIds = new Set(
	Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId)),
);
const exercised = new Set([...seen].map((s) => s.split(" ")[0]));
const missed = [...operationIds].filter((id) => !exercised.has(id));
console.log(`conform: ${checked} responses checked, ${seen.size} (operation, status) pairs, ` +
	`${exercised.size} of ${operationIds.size} operations; not exercised: ${missed.join(", ") || "none"}`);
console.log(`conform: ${problems.length} disagreements`);
process.exit(problems.length === 0 ? 0 : 1);

// Positions, assignments and leave types.  Assignments need an employee: made through the
// employees' route when the document has it (the HR part that owns employees).
async function hrPositions(token, viewer) {
	const org = (await call("POST", "/api/v1/organizations", { token, body: { name: "Staff", code: "STAFF" }, want: 201 })).json;
	const div = (await call("POST", "/api/v1/organizations/{id}/divisions", { path: `/api/v1/organizations/${org.id}/divisions`, token, body: { name: "Ops", code: "OPS" }, want: 201 })).json;
	const positions = "/api/v1/divisions/{id}/positions";
	const one = "/api/v1/positions/{id}";
	const path = `/api/v1/divisions/${div.id}/positions`;
	const pos = (await call("POST", positions, { path, token, body: { title: "Operator", headcount: 1 }, want: 201 })).json;
	await call("POST", positions, { path, token, body: { title: "", headcount: -1 }, want: 422 });
	await call("POST", positions, { path, token: viewer, body: { title: "Nope", headcount: 1 }, want: 403 });
	await call("POST", positions, { path: "/api/v1/divisions/0192f3a4-0000-7000-8000-000000000000/positions", token, body: { title: "Nope", headcount: 1 }, want: 404 });
	await call("GET", positions, { path, token: viewer, query: { limit: "1" }, want: 200 });
	await call("GET", positions, { path, token, query: { limit: "0" }, want: 400 });
	const got = await call("GET", one, { path: `/api/v1/positions/${pos.id}`, token: viewer, want: 200 });
	await call("GET", one, { path: "/api/v1/positions/not-a-uuid", token, want: 404 });
	await call("PATCH", one, { path: `/api/v1/positions/${pos.id}`, token, headers: { "If-Match": got.headers.get("etag") }, body: { title: "Lead operator", headcount: 2 }, want: 200 });
	await call("PATCH", one, { path: `/api/v1/positions/${pos.id}`, token, headers: { "If-Match": got.headers.get("etag") }, body: { title: "Stale" }, want: 412 });
	await call("PATCH", one, { path: `/api/v1/positions/${pos.id}`, token, body: {}, want: 422 });
	const employees = "/api/v1/organizations/{id}/employees";
	if (doc.paths[employees]?.post) {
		const emp = (await call("POST", employees, { path: `/api/v1/organizations/${org.id}/employees`, token, body: { first_name: "Ada", last_name: "Lovelace", hire_date: "2024-01-01" }, want: 201 })).json;
		const other = (await call("POST", employees, { path: `/api/v1/organizations/${org.id}/employees`, token, body: { first_name: "Bob", last_name: "Byte", hire_date: "2024-01-01" }, want: 201 })).json;
		const list = "/api/v1/employees/{id}/assignments";
		const a = (await call("POST", list, { path: `/api/v1/employees/${emp.id}/assignments`, token, body: { position_id: pos.id, start_date: "2025-01-01" }, want: 201 })).json;
		await call("POST", list, { path: `/api/v1/employees/${emp.id}/assignments`, token, body: { position_id: pos.id, start_date: "2025-06-01", end_date: "2025-06-30" }, want: 409 });
		await call("POST", list, { path: `/api/v1/employees/${emp.id}/assignments`, token, body: { position_id: pos.id, start_date: "2023-01-01", end_date: "2023-01-31" }, want: 422 });
		await call("POST", list, { path: `/api/v1/employees/${emp.id}/assignments`, token: viewer, body: { position_id: pos.id, start_date: "2030-01-01" }, want: 403 });
		await call("GET", list, { path: `/api/v1/employees/${emp.id}/assignments`, token, want: 200 });
		await call("GET", list, { path: `/api/v1/employees/${emp.id}/assignments`, token: viewer, want: 403 });
		const oneA = "/api/v1/assignments/{id}";
		await call("PATCH", oneA, { path: `/api/v1/assignments/${a.id}`, token, headers: { "If-Match": '"1"' }, body: { end_date: "2025-12-31" }, want: 200 });
		await call("PATCH", oneA, { path: `/api/v1/assignments/${a.id}`, token, headers: { "If-Match": '"1"' }, body: { end_date: "2025-11-30" }, want: 412 });
		await call("PATCH", oneA, { path: `/api/v1/assignments/${a.id}`, token, body: { end_date: "2024-12-31" }, want: 422 });
		const b = (await call("POST", list, { path: `/api/v1/employees/${other.id}/assignments`, token, body: { position_id: pos.id, start_date: "2025-01-01", end_date: "2025-12-31" }, want: 201 })).json;
		await call("PATCH", one, { path: `/api/v1/positions/${pos.id}`, token, body: { headcount: 1 }, want: 200 }); // the past is history
		await call("DELETE", one, { path: `/api/v1/positions/${pos.id}`, token, want: 409 });
		await call("DELETE", oneA, { path: `/api/v1/assignments/${b.id}`, token, want: 204 });
		await call("DELETE", oneA, { path: `/api/v1/assignments/${a.id}`, token, want: 204 });
		await call("DELETE", oneA, { path: `/api/v1/assignments/${a.id}`, token, want: 404 });
	}
	await call("DELETE", one, { path: `/api/v1/positions/${pos.id}`, token, want: 204 });
	const types = "/api/v1/organizations/{id}/leave-types";
	const oneT = "/api/v1/leave-types/{id}";
	const tpath = `/api/v1/organizations/${org.id}/leave-types`;
	const annual = (await call("POST", types, { path: tpath, token, headers: { "Idempotency-Key": "conform-lt" }, body: { code: "ANNUAL", name: "Annual leave", approval_levels: 2, carry_forward_max: "5.5", carry_forward_expires_after: 3 }, want: 201 })).json;
	await call("POST", types, { path: tpath, token, body: { code: "SICK", name: "Sick leave", approval_levels: 1, allow_negative: true }, want: 201 });
	await call("POST", types, { path: tpath, token, body: { code: "ANNUAL", name: "Again", approval_levels: 1 }, want: 409 });
	await call("POST", types, { path: tpath, token, body: { code: "X", name: "X", approval_levels: 1, carry_forward_max: "1.234" }, want: 422 });
	await call("POST", types, { path: tpath, token: viewer, body: { code: "V", name: "V", approval_levels: 1 }, want: 403 });
	const page = (await call("GET", types, { path: tpath, token: viewer, query: { limit: "1" }, want: 200 })).json;
	await call("GET", types, { path: tpath, token: viewer, query: { limit: "1", cursor: page.next_cursor }, want: 200 });
	await call("GET", types, { path: tpath, token, query: { cursor: "!!" }, want: 400 });
	await call("GET", oneT, { path: `/api/v1/leave-types/${annual.id}`, token: viewer, want: 200 });
	await call("GET", oneT, { path: "/api/v1/leave-types/0192f3a4-0000-7000-8000-000000000000", token, want: 404 });
	await call("PATCH", oneT, { path: `/api/v1/leave-types/${annual.id}`, token, headers: { "If-Match": '"1"' }, body: { carry_forward_max: null, approval_levels: 1 }, want: 200 });
	await call("PATCH", oneT, { path: `/api/v1/leave-types/${annual.id}`, token, headers: { "If-Match": '"1"' }, body: { name: "Stale" }, want: 412 });
	await call("PATCH", oneT, { path: `/api/v1/leave-types/${annual.id}`, token, body: { code: "NEW" }, want: 422 });
}

// HR leave: allocations, balances (which settle ended periods: carry-forward and expiry rows)
// and the ledger.  The employee and the leave type come from their own routes; without them in
// the document there is nothing to allocate to.
async function hrLeave(token, viewer) {
	const employees = "/api/v1/organizations/{id}/employees";
	const types = "/api/v1/organizations/{id}/leave-types";
	if (!doc.paths[employees]?.post || !doc.paths[types]?.post) return;
	const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
	const org = (await call("POST", "/api/v1/organizations", { token, body: { name: "Leave", code: "LEAVE" }, want: 201 })).json;
	const o = `/api/v1/organizations/${org.id}`;
	const emp = (await call("POST", employees, { path: `${o}/employees`, token, body: { first_name: "Ada", last_name: "Lovelace", hire_date: day(-2000) }, want: 201 })).json;
	const type = (await call("POST", types, { path: `${o}/leave-types`, token, body: { code: "ANNUAL", name: "Annual leave", approval_levels: 1, carry_forward_max: "5", carry_forward_expires_after: 3 }, want: 201 })).json;
	const allocations = "/api/v1/employees/{id}/leave-allocations";
	const balances = "/api/v1/employees/{id}/leave-balances";
	const entries = "/api/v1/employees/{id}/leave-entries";
	const e = `/api/v1/employees/${emp.id}`;
	const body = (days, from, to) => ({ leave_type_id: type.id, days, valid_from: from, valid_to: to, reason: "conformance" });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: body("10", day(-400), day(-200)), want: 201 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, headers: { "Idempotency-Key": "conform-leave-1" }, body: body("20", day(-199), day(165)), want: 201 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: body("-1.5", day(-199), day(165)), want: 201 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: body("1.234", day(-199), day(165)), want: 422 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: body(5, day(-199), day(165)), want: 422 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: { ...body("1", day(-199), day(165)), colour: 1 }, want: 422 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token, body: body("1", day(-100), day(300)), want: 409 });
	await call("POST", allocations, { path: `${e}/leave-allocations`, token: viewer, body: body("1", day(-199), day(165)), want: 403 });
	await call("POST", allocations, { path: "/api/v1/employees/not-a-uuid/leave-allocations", token, body: body("1", day(-199), day(165)), want: 404 });
	await call("GET", balances, { path: `${e}/leave-balances`, token, want: 200 });
	await call("GET", balances, { path: `${e}/leave-balances`, token, query: { as_of: day(-300) }, want: 200 });
	await call("GET", balances, { path: `${e}/leave-balances`, token, query: { as_of: "2026-02-30" }, want: 400 });
	await call("GET", balances, { path: `${e}/leave-balances`, token: viewer, want: 403 });
	const page = (await call("GET", entries, { path: `${e}/leave-entries`, token, query: { limit: "2" }, want: 200 })).json;
	await call("GET", entries, { path: `${e}/leave-entries`, token, query: { limit: "2", cursor: page.next_cursor, leave_type_id: type.id, from: day(-500), to: day(500) }, want: 200 });
	await call("GET", entries, { path: `${e}/leave-entries`, token, query: { leave_type_id: "nope" }, want: 400 });
	await call("GET", entries, { path: "/api/v1/employees/00000000-0000-7000-8000-000000000000/leave-entries", token, want: 404 });
}
