/*
 * The rules of an email address and of a new password, shared by user
 * creation, password change and tenant sign-up (the tenancy module).
 */
#include "auth/auth_int.h"
#include "core/str.h"

#include <string.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

const char keel_auth_new_password_rule[] = "at least " STR(
    KEEL_PASSWORD_MIN_CHARS) " characters, at most " STR(KEEL_PASSWORD_MAX_BYTES) " bytes";

int
keel_auth_check_email(json_t *errors, const char *field, const char *email)
{
	const char *at = strchr(email, '@');
	size_t len = strlen(email);

	if (len < 3 || len > 254 || at == NULL || at == email || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || strpbrk(email, " \t\r\n") != NULL) {
		keel_field_error(errors, field, "must be an email address");
		return 1;
	}
	return 0;
}

int
keel_auth_check_new_password(json_t *errors, const char *field, const char *password)
{
	size_t bytes = strlen(password);

	if (keel_utf8_length(password, bytes) < KEEL_PASSWORD_MIN_CHARS) {
		keel_field_error(errors, field, "must be at least %d characters", KEEL_PASSWORD_MIN_CHARS);
		return 1;
	}
	if (bytes > KEEL_PASSWORD_MAX_BYTES) {
		keel_field_error(errors, field, "must be at most %d bytes", KEEL_PASSWORD_MAX_BYTES);
		return 1;
	}
	return 0;
}
