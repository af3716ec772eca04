/* Unit tests for src/core/config.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static keel_err
load(keel_config *cfg, char *err, const char *const *env)
{
	return keel_config_load(cfg, (char *const *)env, err, 256);
}

static void
defaults(void **state)
{
	(void)state;
	keel_config cfg;
	char err[256];
	const char *env[] = {"PATH=/bin", NULL};

	assert_int_equal(load(&cfg, err, env), KEEL_OK);
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_true(cfg.workers >= 2);
	assert_int_equal(cfg.max_connections, 1024);
	assert_null(cfg.database_url);
	assert_string_equal(cfg.services, "all");
	assert_int_equal(cfg.log_level, KEEL_LOG_INFO);
	assert_int_equal(cfg.request_timeout_ms, 30000);
	assert_int_equal(cfg.shutdown_timeout_ms, 10000);
	assert_int_equal(cfg.db_statement_timeout_ms, 5000);
	assert_int_equal(cfg.security_events_keep_ms, 400LL * 86400000);
	keel_config_free(&cfg);
}

/* With keel allowed on the processors of set: its default worker and hashing thread counts. */
static void
expect_thread_counts(const cpu_set_t *set, int workers, int hash_workers)
{
	const char *env[] = {"PATH=/bin", NULL};
	keel_config cfg;
	char err[256];

	assert_int_equal(sched_setaffinity(0, sizeof(*set), set), 0);
	assert_int_equal(load(&cfg, err, env), KEEL_OK);
	assert_int_equal(cfg.workers, workers);
	assert_int_equal(cfg.hash_workers, hash_workers);
	keel_config_free(&cfg);
}

/* Thread counts follow the processors keel may run on; hashing leaves one free. */
static void
default_thread_counts(void **state)
{
	(void)state;
	cpu_set_t saved, some;
	int allowed = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	CPU_ZERO(&some);
	for (int c = 0; c < CPU_SETSIZE && allowed < 2; c++)
		if (CPU_ISSET(c, &saved)) {
			CPU_SET(c, &some);
			allowed++;
			expect_thread_counts(&some, 2 * allowed, 1); /* 1 CPU: 2 and 1; 2 CPUs: 4 and 1 */
		}
	assert_true(allowed >= 1);
	int all = CPU_COUNT(&saved) < 256 ? CPU_COUNT(&saved) : 256; /* keel counts at most 256 */

	expect_thread_counts(&saved, 2 * all, all > 1 ? all - 1 : 1); /* and restores the affinity */
}

static void
valid_values(void **state)
{
	(void)state;
	keel_config cfg;
	char err[256];
	const char *env[] = {"KEEL_LISTEN=[::1]:9090",
	                     "KEEL_WORKERS=3",
	                     "KEEL_LOG_LEVEL=debug",
	                     "KEEL_REQUEST_TIMEOUT=2m",
	                     "KEEL_DB_STATEMENT_TIMEOUT=250ms",
	                     "KEEL_DATABASE_URL=postgresql:///x",
	                     "KEEL_SECURITY_EVENTS_RETENTION=90d",
	                     "KEEL_DEV_ANYTHING=ignored",
	                     "KEEL_TEST_ANYTHING=ignored",
	                     NULL};

	assert_int_equal(load(&cfg, err, env), KEEL_OK);
	assert_string_equal(cfg.listen, "[::1]:9090");
	assert_int_equal(cfg.workers, 3);
	assert_int_equal(cfg.log_level, KEEL_LOG_DEBUG);
	assert_int_equal(cfg.request_timeout_ms, 120000);
	assert_int_equal(cfg.db_statement_timeout_ms, 250);
	assert_string_equal(cfg.database_url, "postgresql:///x");
	assert_int_equal(cfg.security_events_keep_ms, 90LL * 86400000);
	keel_config_free(&cfg);
}

static void
expect_error(const char *var, const char *needle)
{
	keel_config cfg;
	char err[256];
	const char *env[] = {var, NULL};

	assert_int_equal(load(&cfg, err, env), KEEL_EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void
invalid_values_are_errors(void **state)
{
	(void)state;
	expect_error("KEEL_WORKERS=0", "KEEL_WORKERS");
	expect_error("KEEL_WORKERS=abc", "KEEL_WORKERS");
	expect_error("KEEL_WORKERS=4x", "KEEL_WORKERS");
	expect_error("KEEL_WORKERS=99999999999999999999", "KEEL_WORKERS");
	expect_error("KEEL_WORKERS=", "KEEL_WORKERS");
	expect_error("KEEL_LISTEN=8080", "KEEL_LISTEN");
	expect_error("KEEL_LISTEN=127.0.0.1:0", "KEEL_LISTEN");
	expect_error("KEEL_LISTEN=127.0.0.1:70000", "KEEL_LISTEN");
	expect_error("KEEL_LISTEN=example.com:80", "KEEL_LISTEN");
	expect_error("KEEL_LOG_LEVEL=loud", "KEEL_LOG_LEVEL");
	expect_error("KEEL_REQUEST_TIMEOUT=30", "KEEL_REQUEST_TIMEOUT"); /* no unit */
	expect_error("KEEL_REQUEST_TIMEOUT=-5s", "KEEL_REQUEST_TIMEOUT");
	expect_error("KEEL_REQUEST_TIMEOUT=1w", "KEEL_REQUEST_TIMEOUT");
	expect_error("KEEL_REQUEST_TIMEOUT=10ms", "KEEL_REQUEST_TIMEOUT"); /* below minimum */
	expect_error("KEEL_DATABASE_URL=", "KEEL_DATABASE_URL");
	expect_error("KEEL_SECURITY_EVENTS_RETENTION=400", "KEEL_SECURITY_EVENTS_RETENTION");
	expect_error("KEEL_SECURITY_EVENTS_RETENTION=23h", "KEEL_SECURITY_EVENTS_RETENTION"); /* < 1d */
	expect_error("KEEL_SECURITY_EVENTS_RETENTION=36501d", "KEEL_SECURITY_EVENTS_RETENTION");
	expect_error("KEEL_LISTN=127.0.0.1:1", "unknown setting KEEL_LISTN");
	expect_error("KEEL_WORKERS_FILE=/tmp/x", "unknown setting KEEL_WORKERS_FILE");
}

/* Secrets the next test gives keel: none may appear in anything keel says. */
#define DB_PASSWORD   "Pw-8f3kQz-db"
#define JWT_SECRET    "jwt-7Hq2-a-key-of-at-least-32-bytes"
#define KAFKA_SECRET  "kafka-Xy9-from-a-file"
#define DB_URL_SECRET "postgresql://keel_app:" DB_PASSWORD "@db.example/keel"

/* A file of the test holding text (len bytes: it may hold a NUL); the path is malloc'd. */
static char *
secret_file(const char *text, size_t len)
{
	char path[] = "/tmp/keel-config-test-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return strdup(path);
}

/* "NAME=" followed by value, malloc'd. */
static char *
setting(const char *name_eq, const char *value)
{
	size_t len = strlen(name_eq) + strlen(value) + 1;
	char *s = malloc(len);

	snprintf(s, len, "%s%s", name_eq, value);
	return s;
}

/* Fail when text holds any of the secrets (what names where it was seen). */
static void
expect_no_secret(const char *what, const char *text)
{
	static const char *const secrets[] = {DB_PASSWORD, JWT_SECRET, KAFKA_SECRET};

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(text, secrets[i]) != NULL)
			fail_msg("%s shows the secret \"%s\": %s", what, secrets[i], text);
}

/*
 * keel_config_load of env, with whatever it writes to stdout or stderr caught: neither its
 * error (checked for needle when the load must fail) nor that output may show a secret.
 */
static void
load_without_echo(const char *const *env, keel_err want, const char *needle)
{
	char out[] = "/tmp/keel-config-out-XXXXXX";
	int fd = mkstemp(out), saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	keel_config cfg;
	char err[1024] = ""; /* more than keel prints: nothing is cut off the end */

	assert_true(fd >= 0);
	fflush(stdout);
	fflush(stderr);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	keel_err got = keel_config_load(&cfg, (char *const *)env, err, sizeof(err));

	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	close(fd);
	FILE *f = fopen(out, "r");
	char printed[4096] = "";

	assert_non_null(f);
	printed[fread(printed, 1, sizeof(printed) - 1, f)] = '\0';
	fclose(f);
	unlink(out);
	expect_no_secret("what keel_config_load printed", printed);
	assert_int_equal(got, want);
	if (got == KEEL_OK) {
		keel_config_free(&cfg);
		return;
	}
	expect_no_secret("the configuration error", err);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/*
 * Real secrets (a database URL with a password, an access-token key, a Kafka password from a
 * file) next to every way a configuration can go wrong: no error message, nothing printed and
 * not `keel help`'s table of settings ever shows one.
 */
static void
secret_values_are_not_echoed(void **state)
{
	(void)state;
	char *kafka = secret_file(KAFKA_SECRET "\n", strlen(KAFKA_SECRET) + 1);
	char *with_nul = secret_file(KAFKA_SECRET "\0tail", strlen(KAFKA_SECRET) + 5);
	char *kafka_var = setting("KEEL_KAFKA_SASL_PASSWORD_FILE=", kafka);
	char *nul_var = setting("KEEL_KAFKA_SASL_PASSWORD_FILE=", with_nul);
	char *jwt_file_var = setting("KEEL_JWT_SECRET_FILE=", kafka);
	const char *db = "KEEL_DATABASE_URL=" DB_URL_SECRET, *jwt = "KEEL_JWT_SECRET=" JWT_SECRET;

	/* valid: loaded as given */
	load_without_echo((const char *[]){db, jwt, kafka_var, NULL}, KEEL_OK, NULL);
	/* another setting invalid */
	load_without_echo((const char *[]){db, jwt, kafka_var, "KEEL_WORKERS=many", NULL}, KEEL_EINVAL,
	                  "KEEL_WORKERS");
	load_without_echo((const char *[]){"KEEL_LISTEN=:80", db, jwt, kafka_var, NULL}, KEEL_EINVAL,
	                  "KEEL_LISTEN");
	/* a misspelt secret: named, its value not shown */
	load_without_echo((const char *[]){"KEEL_DATABASE_URI=" DB_URL_SECRET, NULL}, KEEL_EINVAL,
	                  "unknown setting KEEL_DATABASE_URI");
	load_without_echo((const char *[]){"KEEL_JWT_SECRETS=" JWT_SECRET, db, NULL}, KEEL_EINVAL,
	                  "unknown setting KEEL_JWT_SECRETS");
	/* a secret given twice, or from a file keel refuses */
	load_without_echo((const char *[]){jwt, jwt_file_var, NULL}, KEEL_EINVAL, "both set");
	load_without_echo((const char *[]){db, nul_var, NULL}, KEEL_EINVAL, "contains a NUL byte");
	/* `keel help`'s table */
	char *table = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&table, &len);

	keel_config_describe(f);
	fclose(f);
	expect_no_secret("keel help", table);
	free(table);
	unlink(kafka);
	unlink(with_nul);
	free(kafka);
	free(with_nul);
	free(kafka_var);
	free(nul_var);
	free(jwt_file_var);
}

static void
secrets_from_files(void **state)
{
	(void)state;
	char path[] = "/tmp/keel-config-test-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "postgresql://u@h/db\n", 20), 20);
	close(fd);

	char var[128];
	keel_config cfg;
	char err[256];

	snprintf(var, sizeof(var), "KEEL_DATABASE_URL_FILE=%s", path);
	const char *env[] = {var, NULL};

	assert_int_equal(load(&cfg, err, env), KEEL_OK);
	assert_string_equal(cfg.database_url, "postgresql://u@h/db");
	keel_config_free(&cfg);

	const char *both[] = {var, "KEEL_DATABASE_URL=x", NULL};

	assert_int_equal(load(&cfg, err, both), KEEL_EINVAL);
	assert_non_null(strstr(err, "both set"));
	unlink(path);
}

static void
durations_and_addresses(void **state)
{
	(void)state;
	int64_t ms;
	struct sockaddr_storage ss;
	socklen_t len;

	assert_true(keel_duration_parse("400d", &ms));
	assert_int_equal(ms, 400LL * 86400000);
	assert_true(keel_duration_parse("15m", &ms));
	assert_int_equal(ms, 900000);
	assert_false(keel_duration_parse("", &ms));
	assert_false(keel_duration_parse("s", &ms));
	assert_false(keel_duration_parse("1.5s", &ms));
	assert_false(keel_duration_parse("99999999999999999d", &ms));
	assert_int_equal(keel_addr_parse("0.0.0.0:1", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(keel_addr_parse("localhost:8080", &ss, &len), 0);
	assert_int_equal(keel_addr_parse("[::]:443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(keel_addr_parse("::1:443", &ss, &len), -1);
	assert_int_equal(keel_addr_parse("[::1]443", &ss, &len), -1);
	assert_int_equal(keel_addr_parse(":80", &ss, &len), -1);
}

static void
trusted_proxies(void **state)
{
	(void)state;
	keel_config cfg;
	char err[256];
	const char *none[] = {"PATH=/bin", NULL};
	const char *some[] = {"KEEL_TRUSTED_PROXIES=127.0.0.1, 10.0.0.0/8,fd00::/8", NULL};
	const char *empty[] = {"KEEL_TRUSTED_PROXIES=", NULL};
	uint8_t a[16];

	assert_int_equal(load(&cfg, err, none), KEEL_OK);
	assert_int_equal(cfg.trusted_proxies.n, 0);
	keel_config_free(&cfg);
	assert_int_equal(load(&cfg, err, some), KEEL_OK);
	assert_int_equal(cfg.trusted_proxies.n, 3);
	assert_true(keel_ip_parse("10.20.30.40", 11, a));
	assert_true(keel_cidr_list_contains(&cfg.trusted_proxies, a));
	assert_true(keel_ip_parse("fd12::1", 7, a));
	assert_true(keel_cidr_list_contains(&cfg.trusted_proxies, a));
	assert_true(keel_ip_parse("127.0.0.2", 9, a));
	assert_false(keel_cidr_list_contains(&cfg.trusted_proxies, a));
	keel_config_free(&cfg);
	assert_null(cfg.trusted_proxies.nets);
	assert_int_equal(load(&cfg, err, empty), KEEL_OK);
	assert_int_equal(cfg.trusted_proxies.n, 0);
	keel_config_free(&cfg);
	/* a bad entry stops keel at start-up, naming the variable and the entry */
	expect_error("KEEL_TRUSTED_PROXIES=10.0.0.1/8",
	             "KEEL_TRUSTED_PROXIES: \"10.0.0.1/8\" has bits");
	expect_error("KEEL_TRUSTED_PROXIES=127.0.0.1,proxy.example", "\"proxy.example\" is not");
	expect_error("KEEL_TRUSTED_PROXIES=127.0.0.1,,::1", "KEEL_TRUSTED_PROXIES: empty entry");
	expect_error("KEEL_TRUSTED_PROXIES_FILE=/tmp/x", "unknown setting KEEL_TRUSTED_PROXIES_FILE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(default_thread_counts),
	    cmocka_unit_test(valid_values),
	    cmocka_unit_test(invalid_values_are_errors),
	    cmocka_unit_test(secret_values_are_not_echoed),
	    cmocka_unit_test(secrets_from_files),
	    cmocka_unit_test(durations_and_addresses),
	    cmocka_unit_test(trusted_proxies),
	};

	return cmocka_run_group_tests_name("core_config", tests, NULL, NULL);
}
