/* Unit tests for the pure parts of src/db/migrate.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "db/db.h"

static void
file_names(void **state)
{
	(void)state;
	int v;
	char name[64];

	assert_true(keel_migration_parse_name("0001_core_tenancy.up.sql", &v, name, sizeof(name)));
	assert_int_equal(v, 1);
	assert_string_equal(name, "core_tenancy");
	assert_true(keel_migration_parse_name("12345_org_x.up.sql", &v, name, sizeof(name)));
	assert_int_equal(v, 12345);
	assert_false(keel_migration_parse_name("001_core_x.up.sql", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("0000_core_x.up.sql", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("0001_core_x.down.sql", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("0001_Core_x.up.sql", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("0001_.up.sql", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("0001_core x.up.sql", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("0001_core_x.up.sql.bak", &v, name, sizeof(name)));
	assert_false(keel_migration_parse_name("abcd_core_x.up.sql", &v, name, sizeof(name)));
}

static void
checksums(void **state)
{
	(void)state;
	char a[65], b[65];

	keel_migration_checksum("", a);
	assert_string_equal(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	keel_migration_checksum("SELECT 1;", a);
	keel_migration_checksum("SELECT 1; ", b);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(file_names),
	    cmocka_unit_test(checksums),
	};

	return cmocka_run_group_tests_name("db_migrate", tests, NULL, NULL);
}
