-- wrk: POST /api/v1/organizations/{id}/journal-entries with "post": true and 4 lines
-- (bench/fin).  Run with as many threads as connections: thread t is tenant t, signs
-- with its owner's token (line t of BENCH_TOKENS) and posts to its own organization,
-- as pgbench's client t - 1 does (bench/fin_post.pgbench), so no two connections
-- share an entry counter.  Lines go to random accounts out of the 300, or with
-- BENCH_HOT=1 all to the cash account (1) and one other (2).  With BENCH_ONE_ORG=1
-- every thread is tenant 1 and posts to its one organization.
local threads = 0

-- Runs in wrk's main Lua state; thread:set makes a global of the thread's own state.
function setup(thread)
	threads = threads + 1
	thread:set("thread_id", threads)
end

local token, org, path, tenant
local hot = os.getenv("BENCH_HOT") == "1"

function init(args)
	math.randomseed(os.time() * 100 + thread_id)
	tenant = os.getenv("BENCH_ONE_ORG") == "1" and 1 or thread_id
	local n = 0
	for line in io.lines(os.getenv("BENCH_TOKENS")) do
		n = n + 1
		if n == tenant then
			token = line
		end
	end
	org = string.format("00000000-0000-7000-9000-%012d", tenant)
	path = "/api/v1/organizations/" .. org .. "/journal-entries"
end

local function account(k)
	return string.format("00000000-0000-7000-c000-%06d%06d", tenant, k)
end

local function amount(minor)
	return string.format("%d.%02d", math.floor(minor / 100), minor % 100)
end

function request()
	local a = { 1, 2, 1, 2 }
	if not hot then
		for i = 1, 4 do
			a[i] = math.random(1, 300)
		end
	end
	local x, y = amount(math.random(1, 999999)), amount(math.random(1, 99999))
	local body = string.format(
		'{"journal":"general","date":"2026-%02d-%02d","memo":"bench","post":true,"lines":['
			.. '{"account_id":"%s","debit":"%s"},{"account_id":"%s","credit":"%s"},'
			.. '{"account_id":"%s","debit":"%s"},{"account_id":"%s","credit":"%s"}]}',
		math.random(1, 12), math.random(1, 28),
		account(a[1]), x, account(a[2]), x, account(a[3]), y, account(a[4]), y)
	return wrk.format("POST", path, {
		Authorization = "Bearer " .. token,
		["Content-Type"] = "application/json",
	}, body)
end

-- An answer other than 2xx is told on stderr (the first few of each thread): bench/fin
-- prints no figure for such a run, and this says why.
local told = 0
function response(status, headers, body)
	if status >= 300 and told < 3 then
		told = told + 1
		io.stderr:write(string.format("bench: tenant %d: %d %s\n", tenant, status, body))
	end
end
