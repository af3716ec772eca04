/*
 * Configuration from the environment (12-factor).
 *
 * One table (config.c) lists every KEEL_* variable with its type, default,
 * range and whether it is secret; the README's configuration table is that
 * table.  Secrets may also be given as NAME_FILE (a file holding the value).
 * An unknown KEEL_* variable or an invalid value is a start-up error naming
 * the variable, never a silent default.  The configuration is the process's
 * only global: loaded once in main before threads start, read-only after.
 */
#ifndef KEEL_CORE_CONFIG_H
#define KEEL_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/err.h"
#include "core/log.h"

/*
 * One network of a trusted-proxy list.  IPv4 is held IPv4-mapped
 * (::ffff:a.b.c.d, prefix + 96), so one comparison serves both families and
 * a peer seen on a dual-stack socket still matches its IPv4 entry.
 */
typedef struct keel_cidr {
	uint8_t addr[16];
	unsigned prefix; /* 0..128 */
} keel_cidr;

typedef struct keel_cidr_list {
	keel_cidr *nets; /* keel_xmalloc'd; NULL when empty */
	size_t n;
} keel_cidr_list;

typedef struct keel_config {
	char *listen;                    /* KEEL_LISTEN */
	char *metrics_listen;            /* KEEL_METRICS_LISTEN; NULL: /metrics on KEEL_LISTEN */
	int workers;                     /* KEEL_WORKERS */
	int max_connections;             /* KEEL_MAX_CONNECTIONS */
	char *database_url;              /* KEEL_DATABASE_URL, NULL: libpq's PG* variables */
	char *migrate_database_url;      /* KEEL_MIGRATE_DATABASE_URL, NULL: PG* variables */
	char *services;                  /* KEEL_SERVICES */
	keel_log_level log_level;        /* KEEL_LOG_LEVEL */
	int64_t request_timeout_ms;      /* KEEL_REQUEST_TIMEOUT */
	int64_t shutdown_timeout_ms;     /* KEEL_SHUTDOWN_TIMEOUT */
	int64_t db_connect_timeout_ms;   /* KEEL_DB_CONNECT_TIMEOUT */
	int64_t db_statement_timeout_ms; /* KEEL_DB_STATEMENT_TIMEOUT */
	char *signup;                    /* KEEL_SIGNUP: open | closed */
	char *jwt_secret;                /* KEEL_JWT_SECRET */
	char *jwt_private_key;           /* KEEL_JWT_PRIVATE_KEY (PEM) */
	char *jwt_previous_secret;       /* KEEL_JWT_PREVIOUS_SECRET */
	char *jwt_previous_public_key;   /* KEEL_JWT_PREVIOUS_PUBLIC_KEY (PEM) */
	char *jwt_issuer;                /* KEEL_JWT_ISSUER */
	char *jwt_audience;              /* KEEL_JWT_AUDIENCE */
	int64_t access_token_ttl_ms;     /* KEEL_ACCESS_TOKEN_TTL */
	int64_t refresh_token_ttl_ms;    /* KEEL_REFRESH_TOKEN_TTL */
	int password_memory_kib;         /* KEEL_PASSWORD_MEMORY_KIB */
	int password_passes;             /* KEEL_PASSWORD_PASSES */
	int hash_workers;                /* KEEL_HASH_WORKERS */
	int hash_queue;                  /* KEEL_HASH_QUEUE */
	int audit_months_ahead;          /* KEEL_AUDIT_MONTHS_AHEAD */
	int64_t security_events_keep_ms; /* KEEL_SECURITY_EVENTS_RETENTION */
	keel_cidr_list trusted_proxies;  /* KEEL_TRUSTED_PROXIES; empty: trust no X-Forwarded-For */
	/* events: the outbox relay and its Kafka producer (docs/events.md) */
	char *kafka_brokers;              /* KEEL_KAFKA_BROKERS; NULL: no relay in serve */
	char *kafka_security_protocol;    /* KEEL_KAFKA_SECURITY_PROTOCOL */
	char *kafka_sasl_mechanism;       /* KEEL_KAFKA_SASL_MECHANISM */
	char *kafka_sasl_username;        /* KEEL_KAFKA_SASL_USERNAME */
	char *kafka_sasl_password;        /* KEEL_KAFKA_SASL_PASSWORD */
	char *kafka_ssl_ca_file;          /* KEEL_KAFKA_SSL_CA_FILE */
	char *kafka_ssl_cert_file;        /* KEEL_KAFKA_SSL_CERT_FILE */
	char *kafka_ssl_key_file;         /* KEEL_KAFKA_SSL_KEY_FILE */
	char *kafka_topic_prefix;         /* KEEL_KAFKA_TOPIC_PREFIX */
	int64_t kafka_message_timeout_ms; /* KEEL_KAFKA_MESSAGE_TIMEOUT */
	char *relay_database_url;         /* KEEL_RELAY_DATABASE_URL; NULL: PG* as keel_relay */
	int relay_batch;                  /* KEEL_RELAY_BATCH */
	int64_t relay_poll_interval_ms;   /* KEEL_RELAY_POLL_INTERVAL */
	int relay_backlog_warn;           /* KEEL_RELAY_BACKLOG_WARN */
	int64_t events_retention_ms;      /* KEEL_EVENTS_RETENTION */
} keel_config;

/*
 * Fill cfg from envp (a NULL-terminated "NAME=value" array, normally environ).
 * On failure returns KEEL_EINVAL with a one-line reason in err[errlen] and
 * leaves cfg freed.  Free a loaded cfg with keel_config_free().
 */
keel_err keel_config_load(keel_config *cfg, char *const *envp, char *err, size_t errlen);

void keel_config_free(keel_config *cfg);

/* Print the table of variables (name, default, meaning) for `keel help`. */
void keel_config_describe(FILE *out);

/*
 * Parse a duration: an integer with a unit, ms|s|m|h|d ("30s", "400d").
 * Returns false on anything else or on overflow.
 */
bool keel_duration_parse(const char *s, int64_t *ms_out);

/*
 * Parse a listen address "HOST:PORT" or "[V6]:PORT" with a numeric host (or
 * "localhost") and a port in 1..65535.  Returns 0, or -1 when malformed.
 */
int keel_addr_parse(const char *s, struct sockaddr_storage *out, socklen_t *len);

/*
 * Parse one IP address of len bytes: IPv4 dotted quad or IPv6 text (no zone,
 * no brackets, no prefix) into 16 bytes, IPv4 as IPv4-mapped IPv6.
 */
bool keel_ip_parse(const char *s, size_t len, uint8_t out[16]);

/*
 * Parse a comma-separated list of addresses and networks ("10.0.0.0/8,
 * 192.0.2.7, 2001:db8::/32"); blanks around entries are ignored and an empty
 * string is an empty list.  A network with bits set after its prefix length
 * is refused (it is nearly always a typo for a wider or narrower network).
 * On failure returns false with the bad entry and why in err[errlen], and
 * out is left empty.  Free a parsed list with keel_cidr_list_free().
 */
bool keel_cidr_list_parse(const char *s, keel_cidr_list *out, char *err, size_t errlen);

void keel_cidr_list_free(keel_cidr_list *l);

/* True when addr (16 bytes, IPv4 mapped) lies in one of l's networks. */
bool keel_cidr_list_contains(const keel_cidr_list *l, const uint8_t addr[16]);

#endif
