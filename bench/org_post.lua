-- wrk: POST /api/v1/organizations, codes unique across wrk's threads (every request a
-- create, never a 409), a random tenant each time.
local tokens = {}
local counter = 0
local threads = 0

-- Runs in wrk's main Lua state; thread:set makes a global of the thread's own state.
function setup(thread)
	threads = threads + 1
	thread:set("thread_id", threads)
end

function init(args)
	math.randomseed(os.time() * 100 + thread_id)
	for line in io.lines(os.getenv("BENCH_TOKENS")) do
		tokens[#tokens + 1] = line
	end
end

function request()
	counter = counter + 1
	local code = string.format("P%d-%d-%d", os.time() % 100000, thread_id, counter)
	local body = string.format('{"name":"Bench %s","code":"%s"}', code, code:sub(1, 32))
	return wrk.format("POST", "/api/v1/organizations", {
		Authorization = "Bearer " .. tokens[math.random(1, #tokens)],
		["Content-Type"] = "application/json",
	}, body)
end
