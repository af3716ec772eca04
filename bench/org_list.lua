-- wrk: GET /api/v1/organizations?limit=50, a random tenant each time.
-- Loaded at the top level: wrk may call request() in a state where init() never ran.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
	tokens[#tokens + 1] = line
end

function init(args)
end

function request()
	return wrk.format("GET", "/api/v1/organizations?limit=50",
		{ Authorization = "Bearer " .. tokens[math.random(1, #tokens)] })
end
