/*
 * JSON request bodies: parsing and per-field validation.
 *
 * Parsing is jansson's, strict: duplicate keys, "\u0000", trailing bytes,
 * invalid UTF-8, integers out of range and nesting past jansson's depth limit
 * are all 400.  Validation is table-driven (keel_field_spec) so that every
 * resource gets the same checks with the same messages: unknown fields,
 * required fields, types, lengths in characters, and a rule per field.  It
 * works on a json_t and a collector of field errors (a JSON array), not on a
 * request, so a command checks its input by the API's rules too; the request
 * side is keel_req_check_body() and keel_req_invalid(), which make the 422.
 */
#include "http/http_int.h"
#include "core/alloc.h"
#include "core/str.h"
#include "core/uuid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
json_release(void *p)
{
	json_decref(p);
}

keel_err
keel_req_json_body(keel_req *req, json_t **out)
{
	json_error_t jerr;

	*out = NULL;
	if (req->body.len == 0)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "request body must be a JSON object");
	json_t *doc =
	    json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

	if (doc == NULL)
		return keel_req_fail(req, KEEL_EMALFORMED, NULL,
		                     "request body is not valid JSON: %s at line %d column %d", jerr.text,
		                     jerr.line, jerr.column);
	keel_arena_defer(req->arena, json_release, doc);
	if (!json_is_object(doc))
		return keel_req_fail(req, KEEL_EMALFORMED, NULL, "request body must be a JSON object");
	*out = doc;
	return KEEL_OK;
}

static const char *
type_name(keel_ftype t)
{
	switch (t) {
	case KEEL_F_STRING:
	case KEEL_F_UUID:
	case KEEL_F_ENUM:
		return "a string";
	case KEEL_F_OBJECT:
		return "an object";
	case KEEL_F_INTEGER:
		return "an integer";
	case KEEL_F_BOOLEAN:
		return "a boolean";
	case KEEL_F_ARRAY:
		return "an array";
	}
	return "a value";
}

static bool
type_ok(keel_ftype t, const json_t *v)
{
	switch (t) {
	case KEEL_F_STRING:
	case KEEL_F_UUID:
	case KEEL_F_ENUM:
		return json_is_string(v);
	case KEEL_F_OBJECT:
		return json_is_object(v);
	case KEEL_F_INTEGER:
		return json_is_integer(v);
	case KEEL_F_BOOLEAN:
		return json_is_boolean(v);
	case KEEL_F_ARRAY:
		return json_is_array(v);
	}
	return false;
}

size_t
keel_field_error(json_t *errors, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *msg = keel_xmalloc((size_t)(len > 0 ? len : 0) + 1);

	va_start(ap, fmt);
	vsnprintf(msg, (size_t)(len > 0 ? len : 0) + 1, fmt, ap);
	va_end(ap);
	json_t *f = json_string(field);
	json_t *m = json_string(msg);

	json_array_append_new(errors, json_pack("{s:o, s:o}", "field", f ? f : json_string("(invalid)"),
	                                        "message", m ? m : json_string("is invalid")));
	free(msg);
	return 1;
}

/* Trim v in place in obj when f says so; the value to check (the trimmed one). */
static json_t *
trimmed(json_t *obj, const keel_field_spec *f, json_t *v)
{
	if (!f->trim)
		return v;
	size_t len = json_string_length(v);
	char *t = keel_xstrndup(json_string_value(v), len);
	char *s = keel_str_trim(t);

	if (strlen(s) != len) {
		json_object_set_new(obj, f->name, json_string(s));
		v = json_object_get(obj, f->name);
	}
	free(t);
	return v;
}

static void
check_string(json_t *errors, json_t *obj, const keel_field_spec *f, json_t *v)
{
	v = trimmed(obj, f, v);
	const char *s = json_string_value(v);
	int64_t chars = (int64_t)keel_utf8_length(s, json_string_length(v));

	if (f->type == KEEL_F_UUID) {
		if (!keel_uuid_valid(s))
			keel_field_error(errors, f->name, "must be a UUID");
		return;
	}
	if (f->type == KEEL_F_ENUM) {
		for (const char *const *c = f->choices; *c != NULL; c++)
			if (strcmp(*c, s) == 0)
				return;
		keel_field_error(errors, f->name, "must be one of the allowed values");
		return;
	}
	if (chars < f->min && f->min == 1)
		keel_field_error(errors, f->name, "must not be empty");
	else if (chars < f->min)
		keel_field_error(errors, f->name, "must be at least %lld characters", (long long)f->min);
	else if (f->max > 0 && chars > f->max)
		keel_field_error(errors, f->name, "must be at most %lld characters", (long long)f->max);
	else if (f->check != NULL && !f->check(s))
		keel_field_error(errors, f->name, "%s", f->check_msg ? f->check_msg : "is invalid");
}

static void
check_value(json_t *errors, json_t *obj, const keel_field_spec *f, json_t *v)
{
	if (json_is_null(v)) {
		if (!f->nullable)
			keel_field_error(errors, f->name, "must not be null");
		return;
	}
	if (!type_ok(f->type, v)) {
		keel_field_error(errors, f->name, "must be %s", type_name(f->type));
		return;
	}
	if (f->type == KEEL_F_INTEGER) {
		json_int_t n = json_integer_value(v);

		if (n < f->min || (f->max > f->min && n > f->max))
			keel_field_error(errors, f->name, "must be between %lld and %lld", (long long)f->min,
			                 (long long)f->max);
	} else if (f->type == KEEL_F_OBJECT && f->max > 0) {
		size_t size = json_dumpb(v, NULL, 0, JSON_COMPACT);

		if (size > (size_t)f->max)
			keel_field_error(errors, f->name, "must be at most %lld bytes as JSON",
			                 (long long)f->max);
	} else if (f->type == KEEL_F_ARRAY) {
		int64_t size = (int64_t)json_array_size(v);

		if (size < f->min || (f->max > 0 && size > f->max))
			keel_field_error(errors, f->name, "must have %lld to %lld items", (long long)f->min,
			                 (long long)f->max);
	} else if (f->type != KEEL_F_BOOLEAN && f->type != KEEL_F_OBJECT) {
		check_string(errors, obj, f, v);
	}
}

size_t
keel_json_check(json_t *obj, const keel_field_spec *spec, size_t n, json_t *errors)
{
	size_t before = json_array_size(errors);
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool known = false;

		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(spec[i].name, key) == 0;
		if (!known)
			keel_field_error(errors, key, "is not a known field");
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(obj, spec[i].name);
		if (v == NULL) {
			if (spec[i].required)
				keel_field_error(errors, spec[i].name, "is required");
			continue;
		}
		check_value(errors, obj, &spec[i], v);
	}
	return json_array_size(errors) - before;
}

keel_err
keel_req_invalid(keel_req *req, const char *detail)
{
	if (keel_req_field_errors(req) == 0)
		return KEEL_OK;
	return keel_req_fail(req, KEEL_EINVAL, NULL, "%s", detail);
}

keel_err
keel_req_check_body(keel_req *req, json_t *body, const char *detail)
{
	const keel_body *b = req->match.route != NULL ? req->match.route->body : NULL;

	if (b == NULL)
		return keel_req_fail(req, KEEL_EINTERNAL, NULL, "route %s %s declares no body fields",
		                     req->method, req->path);
	keel_json_check(body, b->fields, b->nfields, keel_req_errors(req));
	return keel_req_invalid(req, detail);
}
