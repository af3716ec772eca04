-- wrk: POST /api/v1/organizations with unique codes, a random tenant each time.
local tokens = {}
local counter = 0

function init(args)
	for line in io.lines(os.getenv("BENCH_TOKENS")) do
		tokens[#tokens + 1] = line
	end
end

function request()
	counter = counter + 1
	local code = string.format("P%d-%d-%d", os.time() % 100000, math.random(1, 1000000), counter)
	local body = string.format('{"name":"Bench %s","code":"%s"}', code, code:sub(1, 32))
	return wrk.format("POST", "/api/v1/organizations", {
		Authorization = "Bearer " .. tokens[math.random(1, #tokens)],
		["Content-Type"] = "application/json",
	}, body)
end
