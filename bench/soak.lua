-- wrk: scripts/soak's mixed traffic across several tenants.  SOAK_TOKENS names a
-- file of "tenant_id access_token" lines, one per tenant.  Each request picks a
-- tenant at random and, by weight: reads an organization, lists or searches
-- them, reads the caller, reads the audit log, creates an organization or a
-- division, updates or deletes an organization.  Each wrk thread keeps the ids
-- of the organizations it created (from the 201 bodies) per tenant, so reads,
-- updates and deletes hit real rows; a read may still race a delete of the
-- same thread on another connection (a 404, counted apart).  Every status is
-- counted; done() prints the counts as "soak-status CODE COUNT" lines.

-- Loaded at the top level: wrk may call request() in a state where init() never ran.
local tenants = {} -- { id = ..., token = ..., orgs = { ids } }
local by_id = {}
for line in io.lines(os.getenv("SOAK_TOKENS")) do
	local id, token = line:match("^(%S+)%s+(%S+)$")
	if id then
		tenants[#tenants + 1] = { id = id, token = token, orgs = {} }
		by_id[id] = tenants[#tenants]
	end
end

local threads = {}
statuses = {}
local counter = 0
local me = 0

function setup(thread)
	thread:set("me", #threads + 1)
	threads[#threads + 1] = thread
end

function init(args)
	me = tonumber(wrk.thread:get("me")) or 0
	math.randomseed(os.time() + me * 7919 + (tonumber(tostring({}):sub(8)) or 0))
end

local function headers(t, body)
	local h = { Authorization = "Bearer " .. t.token }
	if body then
		h["Content-Type"] = "application/json"
	end
	return h
end

local function pick(t)
	if #t.orgs == 0 then
		return nil
	end
	return math.random(1, #t.orgs)
end

local function create(t)
	counter = counter + 1
	local code = string.format("S%d-%d-%d", me, counter, math.random(0, 99999))
	local body = string.format('{"name":"Soak %s","code":"%s","settings":{"n":%d}}', code, code, counter)
	return wrk.format("POST", "/api/v1/organizations", headers(t, true), body)
end

function request()
	local t = tenants[math.random(1, #tenants)]
	local r = math.random(1, 100)
	local i = pick(t)

	if i == nil or (r > 50 and r <= 65) then
		return create(t)
	elseif r <= 35 then
		return wrk.format("GET", "/api/v1/organizations/" .. t.orgs[i], headers(t))
	elseif r <= 45 then
		return wrk.format("GET", "/api/v1/organizations?limit=20", headers(t))
	elseif r <= 48 then
		return wrk.format("GET", "/api/v1/organizations?q=soak&limit=10", headers(t))
	elseif r <= 50 then
		return wrk.format("GET", "/api/v1/auth/me", headers(t))
	elseif r <= 70 then
		return wrk.format("GET", "/api/v1/audit-logs?limit=10", headers(t))
	elseif r <= 82 then
		counter = counter + 1
		local body = string.format('{"description":"soak update %d","settings":{"u":%d}}', counter, counter)
		return wrk.format("PATCH", "/api/v1/organizations/" .. t.orgs[i], headers(t, true), body)
	elseif r <= 87 then
		counter = counter + 1
		local body = string.format('{"name":"Division %d","code":"D%d-%d"}', counter, me, counter)
		return wrk.format("POST", "/api/v1/organizations/" .. t.orgs[i] .. "/divisions", headers(t, true), body)
	else
		local id = table.remove(t.orgs, i)
		return wrk.format("DELETE", "/api/v1/organizations/" .. id, headers(t))
	end
end

function response(status, hdrs, body)
	statuses[status] = (statuses[status] or 0) + 1
	if status == 201 and body and not body:find('"organization_id"', 1, true) then
		local id = body:match('"id"%s*:%s*"([^"]+)"')
		local tid = body:match('"tenant_id"%s*:%s*"([^"]+)"')
		local t = tid and by_id[tid]
		if t and id then
			t.orgs[#t.orgs + 1] = id
		end
	end
end

function done(summary, latency, requests)
	local total = {}
	for _, thread in ipairs(threads) do
		for code, n in pairs(thread:get("statuses") or {}) do
			total[code] = (total[code] or 0) + n
		end
	end
	for code, n in pairs(total) do
		io.write(string.format("soak-status %d %d\n", code, n))
	end
	local e = summary.errors
	io.write(string.format("soak-errors connect=%d read=%d write=%d timeout=%d status=%d\n",
		e.connect, e.read, e.write, e.timeout, e.status))
	io.write(string.format("soak-latency p50=%.2fms p99=%.2fms max=%.2fms requests=%d\n",
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		summary.requests))
end
