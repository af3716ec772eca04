/*
 * The reports' answers as text/csv: content negotiation on Accept, and a page's JSON written
 * as CSV records (see fin_csv.h).  The JSON is the answer the route gives anyway, read back
 * with jansson: one rendering of each report, so the two media types cannot disagree.
 */
#include "fin/fin_csv.h"
#include "core/csv.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* ---- Accept ---- */

/* How well a media range matches: 3 exactly, 2 its type/ *, 1 * / *, 0 not. */
static int
match(const char *range, size_t n, const char *type)
{
	const char *slash = strchr(type, '/');

	if (n == strlen(type) && strncasecmp(range, type, n) == 0)
		return 3;
	if (n == (size_t)(slash - type) + 2 && strncasecmp(range, type, n - 1) == 0 &&
	    range[n - 1] == '*')
		return 2;
	return n == 3 && strncmp(range, "*/*", 3) == 0 ? 1 : 0;
}

/* The q parameter of a range's parameters [p, end) in thousandths (1000 when none). */
static int
quality(const char *p, const char *end)
{
	for (; p < end; p++) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			int q = p[2] == '1' ? 1000 : 0, scale = 100;

			for (p += 3; p < end && *p != '.' && *p != ';'; p++)
				;
			for (p += p < end && *p == '.'; p < end && *p >= '0' && *p <= '9' && scale > 0; p++)
				q += (*p - '0') * scale, scale /= 10;
			return q > 1000 ? 1000 : q;
		}
		while (p < end && *p != ';')
			p++;
	}
	return 1000;
}

/* The q and specificity the Accept text gives type: its most specific range's. */
static void
accept_of(const char *accept, const char *type, int *q, int *spec)
{
	*q = 0;
	*spec = 0;
	for (const char *p = accept; *p != '\0';) {
		const char *end = p + strcspn(p, ",");

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		size_t n = strcspn(p, ";, \t");
		int m = match(p, n < (size_t)(end - p) ? n : (size_t)(end - p), type);

		if (m > *spec) {
			*spec = m;
			*q = quality(p + n, end);
		}
		p = *end == ',' ? end + 1 : end;
	}
}

bool
fin_csv_wanted(keel_req *req)
{
	const char *accept = keel_req_header(req, "Accept");
	int csv_q, csv_spec, json_q, json_spec;

	keel_req_set_header(req, "Vary", "Accept");
	if (accept == NULL)
		return false;
	accept_of(accept, "text/csv", &csv_q, &csv_spec);
	accept_of(accept, "application/json", &json_q, &json_spec);
	return csv_q > 0 && (csv_q > json_q || (csv_q == json_q && csv_spec > json_spec));
}

/* ---- writing ---- */

/* A JSON scalar as the field's text: strings as they are, numbers, true/false; null empty. */
static void
put_value(keel_buf *b, bool first, const fin_csv_col *col, const json_t *v)
{
	char num[32];

	if (json_is_string(v)) {
		(col->text ? keel_csv_text : keel_csv_field)(b, first, json_string_value(v),
		                                             json_string_length(v));
		return;
	}
	if (json_is_integer(v))
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(num, sizeof(num), "%s",
		         json_is_true(v)    ? "true"
		         : json_is_false(v) ? "false"
		                            : "");
	keel_csv_field(b, first, num, strlen(num));
}

/* One record: the item's columns, and the nested element's (el, NULL: empty). */
static void
put_record(keel_buf *b, const fin_csv_col *cols, const char *nested, const json_t *item,
           const json_t *el)
{
	size_t nlen = nested != NULL ? strlen(nested) : 0;

	for (const fin_csv_col *c = cols; c->name != NULL; c++) {
		bool inner = nested != NULL && strncmp(c->name, nested, nlen) == 0 && c->name[nlen] == '.';
		const json_t *v =
		    inner ? json_object_get(el, c->name + nlen + 1) : json_object_get(item, c->name);

		put_value(b, c == cols, c, v);
	}
	keel_csv_end(b);
}

/* The header record (when header) and every item's records. */
static void
put_rows(keel_buf *b, const json_t *rows, const char *nested, const fin_csv_col *cols, bool header)
{
	size_t i, j;
	const json_t *item, *el;

	for (const fin_csv_col *c = cols; header && c->name != NULL; c++)
		keel_csv_field(b, c == cols, c->name, strlen(c->name));
	if (header)
		keel_csv_end(b);
	json_array_foreach(rows, i, item)
	{
		const json_t *inner = nested != NULL ? json_object_get(item, nested) : NULL;

		if (json_array_size(inner) == 0)
			put_record(b, cols, nested, item, NULL);
		json_array_foreach(inner, j, el) put_record(b, cols, nested, item, el);
	}
}

bool
fin_csv_write(keel_buf *out, const char *json, const char *rows, const char *nested,
              const fin_csv_col *cols, bool header)
{
	json_t *doc = json_loads(json, 0, NULL);
	const json_t *items = json_object_get(doc, rows);
	bool ok = json_is_array(items);

	if (ok)
		put_rows(out, items, nested, cols, header);
	json_decref(doc);
	return ok;
}

/* The CSV of the page (header first) into b, tx committed; err answered as keel_svc_finish(). */
static keel_err
first_page(keel_req *req, keel_tx *tx, keel_err err, const char *what, const char *json,
           const char *rows, const char *nested, const fin_csv_col *cols, keel_buf *b)
{
	if (err != KEEL_OK)
		return keel_svc_finish(req, tx, err, what, (keel_svc_reply){0});
	keel_buf_init(b, keel_req_arena(req));
	if (!fin_csv_write(b, json, rows, nested, cols, true))
		return keel_svc_finish(req, tx, KEEL_EINTERNAL, NULL, (keel_svc_reply){0});
	return keel_svc_commit(req, tx);
}

keel_err
fin_csv_finish(keel_req *req, keel_tx *tx, keel_err err, const char *what, const char *json,
               const char *rows, const char *nested, const fin_csv_col *cols, const char *next)
{
	keel_buf b;

	if ((err = first_page(req, tx, err, what, json, rows, nested, cols, &b)) != KEEL_OK)
		return err;
	if (next != NULL)
		keel_req_set_header(req, "Keel-Next-Cursor", next);
	return keel_req_send(req, 200, FIN_CSV_TYPE, b.data, b.len);
}

bool
fin_csv_whole(keel_req *req)
{
	return keel_req_query(req, "limit") == NULL && keel_req_query(req, "cursor") == NULL;
}

keel_err
fin_csv_stream(keel_req *req, keel_tx *tx, keel_err err, const char *what, const char *json,
               const char *rows, const char *nested, const fin_csv_col *cols, bool more,
               keel_req_stream_fn next, void *arg)
{
	keel_buf b;

	if ((err = first_page(req, tx, err, what, json, rows, nested, cols, &b)) != KEEL_OK)
		return err;
	if (!more)
		return keel_req_send(req, 200, FIN_CSV_TYPE, b.data, b.len);
	return keel_req_stream(req, 200, FIN_CSV_TYPE, b.data, b.len, next, arg);
}
