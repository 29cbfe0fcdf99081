-- wrk script for bench/bench_http.sh: POSTs Milvus REST v2 searches (BENCH_MODE=search: one
-- random query vector, limit BENCH_K, into "bench") or inserts (BENCH_MODE=insert: BENCH_BATCH
-- random rows into the auto-id collection "bench_ins"), counts answers whose code is not 0,
-- and prints one line the script parses.
local mode = os.getenv("BENCH_MODE") or "search"
local dim = tonumber(os.getenv("BENCH_DIM") or "128")
local k = tonumber(os.getenv("BENCH_K") or "10")
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
local token = os.getenv("BENCH_TOKEN")

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
errors = 0

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  local n = mode == "insert" and 8 or 64
  for i = 1, n do
    if mode == "insert" then
      local rows = {}
      for r = 1, batch do
        rows[r] = '{"vector":' .. vector() .. '}'
      end
      bodies[i] = '{"collectionName":"bench_ins","data":[' .. table.concat(rows, ",") .. ']}'
    else
      bodies[i] = '{"collectionName":"bench","data":[' .. vector() .. '],"limit":' .. k .. '}'
    end
  end
  nbodies = n
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if token then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  next_body = next_body % nbodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '{"code":0,', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local errs = 0
  for _, t in ipairs(threads) do
    errs = errs + (t:get("errors") or 0)
  end
  local secs = summary.duration / 1e6
  local qps = summary.requests / secs
  local per = mode == "insert" and batch or 1
  io.write(string.format(
    "http %s connections=%s requests=%d qps=%.1f rows_per_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    mode, os.getenv("BENCH_CONNS") or "?", summary.requests, qps, qps * per,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errs + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
