-- wrk: POST /api/v1/auth/login as one of the bench users, round robin.
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
		error("unexpected status " .. status)
	end
end
