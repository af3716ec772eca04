/*
 * JSON request bodies: parsing and per-field validation.
 *
 * Parsing is jansson's, strict: duplicate keys, "\u0000", trailing bytes,
 * invalid UTF-8, integers out of range and nesting past jansson's depth limit
 * are all 400.  Validation is table-driven (keel_field_spec) so that every
 * resource gets the same checks with the same messages: unknown fields,
 * required fields, types, lengths in characters, and a rule per field.
 */
#include "http/http_int.h"
#include "core/str.h"
#include "core/uuid.h"

#include <stdio.h>
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
	}
	return false;
}

static void
check_string(keel_req *req, json_t *obj, const keel_field_spec *f, json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (f->trim) {
		char *t = keel_str_trim(keel_arena_strndup(req->arena, s, len));

		if (strlen(t) != len) {
			json_object_set_new(obj, f->name, json_string(t));
			v = json_object_get(obj, f->name);
			s = json_string_value(v);
			len = json_string_length(v);
		}
	}
	int64_t chars = (int64_t)keel_utf8_length(s, len);

	if (f->type == KEEL_F_UUID) {
		if (!keel_uuid_valid(s))
			keel_req_field_error(req, f->name, "must be a UUID");
		return;
	}
	if (f->type == KEEL_F_ENUM) {
		for (const char *const *c = f->choices; *c != NULL; c++)
			if (strcmp(*c, s) == 0)
				return;
		keel_req_field_error(req, f->name, "must be one of the allowed values");
		return;
	}
	if (chars < f->min && f->min == 1)
		keel_req_field_error(req, f->name, "must not be empty");
	else if (chars < f->min)
		keel_req_field_error(req, f->name, "must be at least %lld characters", (long long)f->min);
	else if (f->max > 0 && chars > f->max)
		keel_req_field_error(req, f->name, "must be at most %lld characters", (long long)f->max);
	else if (f->check != NULL && !f->check(s))
		keel_req_field_error(req, f->name, "%s", f->check_msg ? f->check_msg : "is invalid");
}

static void
check_value(keel_req *req, json_t *obj, const keel_field_spec *f, json_t *v)
{
	if (json_is_null(v)) {
		if (!f->nullable)
			keel_req_field_error(req, f->name, "must not be null");
		return;
	}
	if (!type_ok(f->type, v)) {
		keel_req_field_error(req, f->name, "must be %s", type_name(f->type));
		return;
	}
	if (f->type == KEEL_F_INTEGER) {
		json_int_t n = json_integer_value(v);

		if (n < f->min || (f->max > f->min && n > f->max))
			keel_req_field_error(req, f->name, "must be between %lld and %lld", (long long)f->min,
			                     (long long)f->max);
	} else if (f->type == KEEL_F_OBJECT && f->max > 0) {
		size_t size = json_dumpb(v, NULL, 0, JSON_COMPACT);

		if (size > (size_t)f->max)
			keel_req_field_error(req, f->name, "must be at most %lld bytes as JSON",
			                     (long long)f->max);
	} else if (f->type != KEEL_F_BOOLEAN && f->type != KEEL_F_OBJECT) {
		check_string(req, obj, f, v);
	}
}

size_t
keel_json_check(keel_req *req, json_t *obj, const keel_field_spec *spec, size_t n)
{
	size_t before = keel_req_field_errors(req);
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool known = false;

		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(spec[i].name, key) == 0;
		if (!known)
			keel_req_field_error(req, key, "is not a known field");
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(obj, spec[i].name);
		if (v == NULL) {
			if (spec[i].required)
				keel_req_field_error(req, spec[i].name, "is required");
			continue;
		}
		check_value(req, obj, &spec[i], v);
	}
	return keel_req_field_errors(req) - before;
}
