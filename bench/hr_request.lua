-- wrk: POST /api/v1/employees/{id}/leave-requests (bench/hr), as the owner of bench-hr
-- (BENCH_TOKEN).  Request n (thread t of T sends n = t - 1, t - 1 + T, ...) is for
-- employee n mod BENCH_EMPLOYEES + 1, in round r = BENCH_ROUND + n div BENCH_EMPLOYEES:
-- leave type r mod 5 + 1, Monday and Tuesday of ISO week r + 1 of 2027.  So no two
-- requests of a run overlap, and each (employee, type) asks for 2 of its 40 days of 2027
-- every fifth round: every request is created (201), after the days are counted, the
-- overlap and the balance checked.  bench/hr_request.pgbench takes its slots the same
-- way from a sequence.  With BENCH_PAUSE_MS, each connection pauses that long between an
-- answer and its next request: a steady load below the machine's capacity, whose latency
-- shows how long one request takes, not how long a saturated queue is.
local token = os.getenv("BENCH_TOKEN")
local employees = tonumber(os.getenv("BENCH_EMPLOYEES"))
local base = tonumber(os.getenv("BENCH_ROUND"))
local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("thread_id", threads)
	thread:set("thread_count", 0)
end

local i = 0

function init(args)
	thread_count = tonumber(os.getenv("BENCH_THREADS"))
end

-- YYYY-MM-DD of 2027-01-04 (the Monday of ISO week 1) + days
local function day(days)
	return os.date("!%Y-%m-%d", os.time({ year = 2027, month = 1, day = 4, hour = 12 }) + days * 86400)
end

function request()
	local n = (thread_id - 1) + thread_count * i
	i = i + 1
	local k = n % employees + 1
	local round = base + math.floor(n / employees)
	local body = string.format(
		'{"leave_type_id":"00000000-0000-7000-f000-%012d","start_date":"%s","end_date":"%s","reason":"bench"}',
		round % 5 + 1, day(7 * round), day(7 * round + 1))
	return wrk.format("POST", string.format("/api/v1/employees/00000000-0000-7000-e000-%012d/leave-requests", k), {
		Authorization = "Bearer " .. token,
		["Content-Type"] = "application/json",
	}, body)
end

function delay()
	return pause
end
