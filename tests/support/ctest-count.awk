# Count test cases in the JUnit report ctest writes (--output-junit), from the
# cmocka summaries in each test's output; prints "N passed, M failed".
#
# A test ctest did not report as run and passed (status "fail", "notrun" for
# a missing executable, "disabled") counts as at least one failure, so a
# program that died without a summary (a crash, a sanitizer report, a leak)
# or never ran is not lost.  A failing group setup or teardown (reported by
# kt_cmocka.c, "[  FAILED  ] NAME: N group fixture(s) failed") adds its N to
# the program's failures.  A passing check that is not a cmocka program counts
# as one case.
/<testcase / {
	inside = 1
	p = 0
	f = 0
	failed_case = ($0 !~ /status="run"/)
	next
}
inside && /^\[  PASSED  \] [0-9]+ test/ { p = $4 }
inside && /^\[  FAILED  \] [0-9]+ test\(s\), listed below/ { f += $4 }
inside && /^\[  FAILED  \] .*: [0-9]+ group fixture\(s\) failed$/ { f += $(NF - 3) }
inside && /<\/testcase>/ {
	if (failed_case && f == 0)
		f = 1
	if (!failed_case && p == 0 && f == 0)
		p = 1
	passed += p
	failed += f
	inside = 0
}
END { printf "%d passed, %d failed\n", passed, failed }
