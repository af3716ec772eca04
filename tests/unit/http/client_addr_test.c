/*
 * Unit tests for the client address of src/http/req.c (client_addr_pick)
 * and the trusted-proxy lists of src/core/config.c it relies on: who may name
 * the client through X-Forwarded-For, which entry names it, and what a forged
 * or malformed list can achieve (nothing beyond naming a trusted hop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

static keel_cidr_list
list(const char *text)
{
	keel_cidr_list l;
	char err[160];

	if (!keel_cidr_list_parse(text, &l, err, sizeof(err)))
		fail_msg("\"%s\": %s", text, err);
	return l;
}

/* The client address for a peer and an X-Forwarded-For value under trusted. */
static const char *
pick(const char *trusted, const char *peer, const char *forwarded)
{
	static char out[KEEL_ADDR_TEXT_MAX];
	keel_cidr_list l = list(trusted);
	uint8_t p[16];

	assert_true(keel_ip_parse(peer, strlen(peer), p));
	client_addr_pick(&l, p, forwarded, out);
	keel_cidr_list_free(&l);
	return out;
}

static void
nobody_trusted_by_default(void **state)
{
	(void)state;
	assert_string_equal(pick("", "127.0.0.1", "203.0.113.9"), "127.0.0.1");
	assert_string_equal(pick("", "192.0.2.1", NULL), "192.0.2.1");
	assert_string_equal(pick("", "2001:db8::1", "203.0.113.9"), "2001:db8::1");

	/* and a NULL list (a server made without the option) is the same */
	char out[KEEL_ADDR_TEXT_MAX];
	uint8_t p[16];

	assert_true(keel_ip_parse("10.1.2.3", 8, p));
	client_addr_pick(NULL, p, "203.0.113.9", out);
	assert_string_equal(out, "10.1.2.3");
}

static void
untrusted_peer_is_the_client(void **state)
{
	(void)state;
	/* a forged header from a peer that is not a proxy of ours is ignored */
	assert_string_equal(pick("127.0.0.1", "127.0.0.2", "203.0.113.9"), "127.0.0.2");
	assert_string_equal(pick("10.0.0.0/8", "11.0.0.1", "203.0.113.9"), "11.0.0.1");
	assert_string_equal(pick("2001:db8::/32", "2001:db9::1", "203.0.113.9"), "2001:db9::1");
}

static void
trusted_peer_names_the_client(void **state)
{
	(void)state;
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "203.0.113.9"), "203.0.113.9");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", " 203.0.113.9 "), "203.0.113.9");
	assert_string_equal(pick("10.0.0.0/8", "10.9.8.7", "2001:db8::5"), "2001:db8::5");
	assert_string_equal(pick("::1", "::1", "198.51.100.4"), "198.51.100.4");
	/* no header from a trusted peer: the peer itself */
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", NULL), "127.0.0.1");
}

static void
right_most_untrusted_entry_wins(void **state)
{
	(void)state;
	/* what the client wrote comes first; the proxies append: read from the right */
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "6.6.6.6, 203.0.113.9"), "203.0.113.9");
	/* trusted hops inside are skipped ... */
	assert_string_equal(pick("127.0.0.1, 10.0.0.0/8", "127.0.0.1", "6.6.6.6,203.0.113.9,10.1.1.1"),
	                    "203.0.113.9");
	assert_string_equal(
	    pick("127.0.0.1,10.0.0.0/8", "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.1.1, 10.2.2.2"),
	    "203.0.113.9");
	/* ... but a hop only counts when trusted: it does not vouch for what came before it */
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.1.1"),
	                    "10.1.1.1");
	/* every entry trusted: the left-most one, the farthest hop known */
	assert_string_equal(pick("10.0.0.0/8", "10.0.0.1", "10.0.0.3, 10.0.0.2"), "10.0.0.3");
	/* several header lines are one list, in the order received */
	assert_string_equal(pick("127.0.0.1,10.0.0.0/8", "127.0.0.1", "6.6.6.6,203.0.113.9,10.0.0.9"),
	                    "203.0.113.9");
}

static void
malformed_entries_stop_at_a_trusted_hop(void **state)
{
	(void)state;
	/* garbage right of the client: the walk ends, the answer is the trusted hop before it */
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "203.0.113.9, not-an-ip"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1,10.0.0.0/8", "127.0.0.1", "203.0.113.9, junk, 10.0.0.4"),
	                    "10.0.0.4");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", ""), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "203.0.113.9,"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "unknown"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "1.2.3.4.5"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "fe80::1%eth0"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "[2001:db8::1"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "1.2.3.4:http"), "127.0.0.1");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "1.2.3.4:1234567"), "127.0.0.1");
	/* garbage left of the client is never reached */
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "junk, 203.0.113.9"), "203.0.113.9");
}

static void
ports_and_brackets(void **state)
{
	(void)state;
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "203.0.113.9:4711"), "203.0.113.9");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "[2001:db8::7]:4711"), "2001:db8::7");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "[2001:db8::7]"), "2001:db8::7");
	assert_string_equal(pick("127.0.0.1", "127.0.0.1", "::ffff:203.0.113.9"), "203.0.113.9");
}

static void
ipv4_entries_match_mapped_peers(void **state)
{
	(void)state;
	/* a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d */
	assert_string_equal(pick("127.0.0.1", "::ffff:127.0.0.1", "203.0.113.9"), "203.0.113.9");
	assert_string_equal(pick("0.0.0.0/0", "192.0.2.1", "203.0.113.9"), "203.0.113.9");
	/* all of IPv4 is not all of IPv6 */
	assert_string_equal(pick("0.0.0.0/0", "2001:db8::1", "203.0.113.9"), "2001:db8::1");
	assert_string_equal(pick("::/0", "2001:db8::1", "203.0.113.9"), "203.0.113.9");
}

static void
networks(void **state)
{
	(void)state;
	keel_cidr_list l = list(" 10.0.0.0/8 ,192.168.1.0/24,\t2001:db8:ab00::/40, 127.0.0.1");
	uint8_t a[16];

	assert_int_equal(l.n, 4);
	struct {
		const char *addr;
		bool in;
	} cases[] = {
	    {"10.0.0.0", true},         {"10.255.255.255", true},       {"11.0.0.0", false},
	    {"9.255.255.255", false},   {"192.168.1.77", true},         {"192.168.2.1", false},
	    {"2001:db8:ab00::1", true}, {"2001:db8:abff:ffff::", true}, {"2001:db8:ac00::", false},
	    {"127.0.0.1", true},        {"127.0.0.2", false},           {"::1", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(keel_ip_parse(cases[i].addr, strlen(cases[i].addr), a));
		if (keel_cidr_list_contains(&l, a) != cases[i].in)
			fail_msg("%s: expected %s the list", cases[i].addr, cases[i].in ? "in" : "not in");
	}
	keel_cidr_list_free(&l);
	l = list("");
	assert_int_equal(l.n, 0);
	assert_true(keel_ip_parse("10.0.0.1", 8, a));
	assert_false(keel_cidr_list_contains(&l, a));
	l = list("   ");
	assert_int_equal(l.n, 0);
}

static void
bad_lists(void **state)
{
	(void)state;
	static const struct {
		const char *text, *why;
	} cases[] = {
	    {"10.0.0.1/8", "bits set after its prefix"},
	    {"2001:db8::1/32", "bits set after its prefix"},
	    {"10.0.0.0/33", "prefix length must be 0..32"},
	    {"::/129", "prefix length must be 0..128"},
	    {"10.0.0.0/", "prefix length"},
	    {"10.0.0.0/8x", "prefix length"},
	    {"10.0.0.0/-1", "prefix length"},
	    {"10.0.0.0/0008", "prefix length"},
	    {"localhost", "not an IP address"},
	    {"10.0.0", "not an IP address"},
	    {"010.0.0.1", "not an IP address"},
	    {"fe80::1%eth0", "not an IP address"},
	    {"[::1]", "not an IP address"},
	    {"10.0.0.1,,10.0.0.2", "empty entry"},
	    {"10.0.0.1,", "empty entry"},
	    {",10.0.0.1", "empty entry"},
	    {"10.0.0.1 10.0.0.2", "not an IP address"},
	};
	char err[160];
	keel_cidr_list l;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (keel_cidr_list_parse(cases[i].text, &l, err, sizeof(err)))
			fail_msg("\"%s\" was accepted", cases[i].text);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", cases[i].text, err, cases[i].why);
		assert_null(l.nets);
		assert_int_equal(l.n, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nobody_trusted_by_default),
	    cmocka_unit_test(untrusted_peer_is_the_client),
	    cmocka_unit_test(trusted_peer_names_the_client),
	    cmocka_unit_test(right_most_untrusted_entry_wins),
	    cmocka_unit_test(malformed_entries_stop_at_a_trusted_hop),
	    cmocka_unit_test(ports_and_brackets),
	    cmocka_unit_test(ipv4_entries_match_mapped_peers),
	    cmocka_unit_test(networks),
	    cmocka_unit_test(bad_lists),
	};

	return cmocka_run_group_tests_name("http_client_addr", tests, NULL, NULL);
}
