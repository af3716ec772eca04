-- wrk: GET /api/v1/employees/{id}/leave-balances?as_of=2026-06-01 of a random employee
-- out of BENCH_EMPLOYEES (bench/hr, seeded by bench/hr_seed.sql), as the owner of
-- bench-hr (BENCH_TOKEN).
local token = os.getenv("BENCH_TOKEN")
local employees = tonumber(os.getenv("BENCH_EMPLOYEES"))
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("thread_id", threads)
end

function init(args)
	math.randomseed(os.time() * 100 + thread_id)
end

function request()
	local path = string.format(
		"/api/v1/employees/00000000-0000-7000-e000-%012d/leave-balances?as_of=2026-06-01",
		math.random(1, employees))
	return wrk.format("GET", path, { Authorization = "Bearer " .. token })
end
