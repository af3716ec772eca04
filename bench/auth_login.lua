-- wrk: POST /api/v1/auth/login as one of the bench users, round robin. A flood is meant
-- to be refused in part (503: hashing queue full; 429: too many at once from one address);
-- any other status is written to BENCH_UNEXPECTED, and bench/auth then prints no figure.
local users = tonumber(os.getenv("BENCH_USERS") or "50")
local password = os.getenv("BENCH_PASSWORD")
local counter = 0

function request()
	counter = counter + 1
	local body = string.format('{"tenant":"bench","email":"user%d@bench.test","password":"%s"}',
		counter % users + 1, password)
	return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
	if status ~= 200 and status ~= 503 and status ~= 429 then
		local f = io.open(os.getenv("BENCH_UNEXPECTED"), "a")
		f:write(status, "\n")
		f:close()
	end
end
