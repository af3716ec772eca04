/*
 * Names of keel error codes, for log lines and command-line messages.
 */
#include "core/err.h"

const char *
keel_err_name(keel_err err)
{
	switch (err) {
	case KEEL_OK:
		return "ok";
	case KEEL_EINVAL:
		return "invalid input";
	case KEEL_ENOTFOUND:
		return "not found";
	case KEEL_ECONFLICT:
		return "conflict";
	case KEEL_EDENIED:
		return "denied";
	case KEEL_EUNAVAIL:
		return "unavailable";
	case KEEL_EINTERNAL:
		return "internal error";
	case KEEL_EMALFORMED:
		return "malformed request";
	case KEEL_EUNAUTH:
		return "unauthenticated";
	case KEEL_EPRECOND:
		return "precondition failed";
	case KEEL_ETOOLARGE:
		return "too large";
	case KEEL_EMEDIA:
		return "unsupported media type";
	case KEEL_EMETHOD:
		return "method not allowed";
	case KEEL_ELIMIT:
		return "rate limited";
	}
	return "unknown error";
}
