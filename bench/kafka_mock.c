/*
 * bench/kafka_mock: librdkafka's mock cluster as a process, for bench/events
 * (and for trying `keel relay` by hand without a Kafka cluster).
 *
 * Starts a mock cluster of 3 brokers listening on loopback, creates the
 * topics keel produces to (<prefix>.tenants, .users, .organizations,
 * .divisions; 6 partitions, replication factor 3), prints its bootstrap
 * servers on one line and then reads commands from stdin:
 *
 *   count   print "<appended> <kept> <distinct>": the messages ever appended
 *           to every topic (the partitions' high watermarks), those the mock
 *           still keeps (it drops its oldest log segments beyond a few), and
 *           the distinct event ids among the kept ones (read back)
 *   EOF     exit
 *
 * Built by bench/events with: cc -O2 bench/kafka_mock.c $(pkg-config --cflags
 * --libs rdkafka jansson).  Not part of keel.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"tenants", "users", "organizations", "divisions"};
#define NKINDS     4
#define PARTITIONS 6

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Consume everything there is; print "<messages> <distinct ids>". */
static void
count(const char *bootstraps, const char *prefix)
{
	char err[512], topic[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(c, "group.id", "kafka-mock-count", err, sizeof(err));
	rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NKINDS * PARTITIONS);

	for (int k = 0; k < NKINDS; k++) {
		snprintf(topic, sizeof(topic), "%s.%s", prefix, kinds[k]);
		for (int p = 0; p < PARTITIONS; p++)
			rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);

	int64_t total = 0, appended = 0, lo, hi;

	for (int k = 0; k < NKINDS; k++) {
		snprintf(topic, sizeof(topic), "%s.%s", prefix, kinds[k]);
		for (int p = 0; p < PARTITIONS; p++)
			if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000) ==
			    RD_KAFKA_RESP_ERR_NO_ERROR) {
				total += hi - lo;
				appended += hi;
			}
	}
	size_t n = 0, cap = 1024;
	char **ids = malloc(cap * sizeof(*ids));
	int idle = 0;

	while ((int64_t)n < total && idle < 100) { /* 10 s without a message: give up */
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (m == NULL || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			idle += m == NULL;
			if (m != NULL)
				rd_kafka_message_destroy(m);
			continue;
		}
		idle = 0;
		json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
		const char *id = json_string_value(json_object_get(ev, "id"));

		if (n == cap)
			ids = realloc(ids, (cap *= 2) * sizeof(*ids));
		ids[n++] = strdup(id != NULL ? id : "");
		json_decref(ev);
		rd_kafka_message_destroy(m);
	}
	qsort(ids, n, sizeof(*ids), cmp);
	size_t distinct = 0;

	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	printf("%lld %lld %zu\n", (long long)appended, (long long)total, distinct);
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

int
main(int argc, char **argv)
{
	const char *prefix = argc > 1 ? argv[1] : "keel";
	char err[512], line[64], topic[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));

	if (rk == NULL) {
		fprintf(stderr, "kafka_mock: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 3);

	for (int k = 0; k < NKINDS; k++) {
		snprintf(topic, sizeof(topic), "%s.%s", prefix, kinds[k]);
		rd_kafka_mock_topic_create(mc, topic, PARTITIONS, 3);
	}
	char *bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(mc));

	printf("%s\n", bootstraps);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL)
		if (strncmp(line, "count", 5) == 0)
			count(bootstraps, prefix);
	free(bootstraps);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
