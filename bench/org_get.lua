-- wrk: GET /api/v1/organizations/{id} with random ids, each with its own
-- tenant's token.  tokens.txt holds one access token per line (tenant 1..20).
-- Loaded at the top level: wrk may call request() in a state where init() never ran.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
	tokens[#tokens + 1] = line
end

function init(args)
	math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end

function request()
	local n = math.random(1, 10000)
	local t = math.floor((n - 1) / 500) + 1
	local path = string.format("/api/v1/organizations/00000000-0000-7000-9000-%012d", n)
	return wrk.format("GET", path, { Authorization = "Bearer " .. tokens[t] })
end

function response(status, headers, body)
	if status ~= 200 then
		error("unexpected status " .. status)
	end
end
