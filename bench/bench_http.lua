-- wrk script for bench/bench_http.sh: POSTs Milvus REST v2 searches (BENCH_MODE=search: one
-- random query vector, limit BENCH_K, into "bench") or inserts (BENCH_MODE=insert: BENCH_BATCH
-- random rows into the auto-id collection "bench_ins") or both (BENCH_MODE=mixed, for
-- tests/server/load.sh: BENCH_INSERT_PCT percent of the requests insert, the rest search; the
-- URL is then the API's base, .../v2/vectordb), counts answers that are not HTTP 200 with
-- code 0, and prints one line the scripts parse.
local mode = os.getenv("BENCH_MODE") or "search"
local dim = tonumber(os.getenv("BENCH_DIM") or "128")
local k = tonumber(os.getenv("BENCH_K") or "10")
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
local token = os.getenv("BENCH_TOKEN")
local insert_pct = tonumber(os.getenv("BENCH_INSERT_PCT") or "10")

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local function vector()
  local v = {}
  for j = 1, dim do
    v[j] = string.format("%.6f", math.random() * 2 - 1)
  end
  return "[" .. table.concat(v, ",") .. "]"
end

local bodies, nbodies, next_body = {}, 0, 0
local ins_bodies, next_ins = {}, 0
local search_path, insert_path
errors = 0
inserts = 0

local function insert_body()
  local rows = {}
  for r = 1, batch do
    rows[r] = '{"vector":' .. vector() .. '}'
  end
  return '{"collectionName":"bench_ins","data":[' .. table.concat(rows, ",") .. ']}'
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  local n = mode == "insert" and 8 or 64
  for i = 1, n do
    if mode == "insert" then
      bodies[i] = insert_body()
    else
      bodies[i] = '{"collectionName":"bench","data":[' .. vector() .. '],"limit":' .. k .. '}'
    end
  end
  nbodies = n
  if mode == "mixed" then
    for i = 1, 8 do
      ins_bodies[i] = insert_body()
    end
    search_path = wrk.path .. "/entities/search"
    insert_path = wrk.path .. "/entities/insert"
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if token then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  if mode == "mixed" then
    if math.random(100) <= insert_pct then
      next_ins = next_ins % 8 + 1
      inserts = inserts + 1
      return wrk.format(nil, insert_path, nil, ins_bodies[next_ins])
    end
    next_body = next_body % nbodies + 1
    return wrk.format(nil, search_path, nil, bodies[next_body])
  end
  next_body = next_body % nbodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '{"code":0,', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local errs, ins = 0, 0
  for _, t in ipairs(threads) do
    errs = errs + (t:get("errors") or 0)
    ins = ins + (t:get("inserts") or 0)
  end
  local secs = summary.duration / 1e6
  local qps = summary.requests / secs
  local rows_per_s = qps * (mode == "insert" and batch or 1)
  if mode == "mixed" then
    rows_per_s = ins * batch / secs -- requests sent (a few may still be in flight at the end)
  end
  io.write(string.format(
    "http %s connections=%s requests=%d qps=%.1f rows_per_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    mode, os.getenv("BENCH_CONNS") or "?", summary.requests, qps, rows_per_s,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errs + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
