-- wrk: GET /api/v1/auth/me with one token, each connection pausing
-- BENCH_ME_PAUSE_MS between an answer and its next request: a steady,
-- light load whose latency shows how long one request waits, not how
-- many requests a saturated machine can push through.
local token = io.open(os.getenv("BENCH_TOKEN_FILE")):read("*l")
local pause = tonumber(os.getenv("BENCH_ME_PAUSE_MS") or "5")

function request()
	return wrk.format("GET", "/api/v1/auth/me", { Authorization = "Bearer " .. token })
end

function delay()
	return pause
end
