/*
 * keel_events_topic: the topic of each event type, the plural of its kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "events/events.h"

static void
topic_is(const char *type, const char *want)
{
	char buf[128];
	int n = keel_events_topic("keel", type, buf, sizeof(buf));

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void
kinds_become_plurals(void **state)
{
	(void)state;
	topic_is("keel.organization.created", "keel.organizations");
	topic_is("keel.division.deleted", "keel.divisions");
	topic_is("keel.user.updated", "keel.users");
	topic_is("keel.journal_entry.posted", "keel.journal_entries");
	topic_is("keel.time_entry.approved", "keel.time_entries");
	topic_is("keel.fiscal_year.created", "keel.fiscal_years");
	topic_is("keel.period.closed", "keel.periods");
	topic_is("keel.leave_request.approved", "keel.leave_requests");
	topic_is("keel.survey.sent", "keel.surveys");
}

static void
types_without_a_kind_have_no_topic(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(keel_events_topic("keel", "keel", buf, sizeof(buf)), -1);
	assert_int_equal(keel_events_topic("keel", "keel..created", buf, sizeof(buf)), -1);
	assert_int_equal(keel_events_topic("keel", "keel.created", buf, sizeof(buf)), -1);
}

static void
a_short_buffer_gets_the_length_needed(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(keel_events_topic("keel", "keel.journal_entry.posted", buf, sizeof(buf)),
	                 (int)strlen("keel.journal_entries"));
	assert_string_equal(buf, "keel.jo");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kinds_become_plurals),
	    cmocka_unit_test(types_without_a_kind_have_no_topic),
	    cmocka_unit_test(a_short_buffer_gets_the_length_needed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
