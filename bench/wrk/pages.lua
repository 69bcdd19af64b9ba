-- wrk script for bench/api_pages.py: GET WRK_PATH, with "%d" in it replaced by a random page in
-- 1..WRK_PAGES (each of wrk's threads has its own seed); at the end one line of JSON with the
-- request count and the latency percentiles in milliseconds.
local pattern = os.getenv("WRK_PATH")
local pages = tonumber(os.getenv("WRK_PAGES") or "1")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  math.randomseed(seed * 7919)
end

function request()
  local path = pattern
  if string.find(pattern, "%%d") then
    path = string.format(pattern, math.random(1, pages))
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
