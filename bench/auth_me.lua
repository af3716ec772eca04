-- wrk: GET /api/v1/auth/me with one token.
local token = io.open(os.getenv("BENCH_TOKEN_FILE")):read("*l")

function request()
	return wrk.format("GET", "/api/v1/auth/me", { Authorization = "Bearer " .. token })
end
