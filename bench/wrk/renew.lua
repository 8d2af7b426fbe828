-- wrk script: Eureka heartbeats (PUT apps/{APP}/{id}?status=UP&lastDirtyTimestamp=...) spread
-- over the instances bench_http.py registered. Arguments after "--": instance count, apps.
-- Instance n is "host<n>:app<n % apps>:8080" under APP<n % apps>, lastDirtyTimestamp 1e12 + n,
-- exactly as bench_http.py registers it. done() prints one JSON line for bench_http.py.

local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  instances = tonumber(args[1]) or 1000
  apps = tonumber(args[2]) or 50
  -- Threads start at different instances so their heartbeats interleave over the registry.
  n = (offset * 7919) % instances
end

function request()
  n = (n + 1) % instances
  local app = n % apps
  local path = string.format(
    "/eureka/apps/APP%d/host%d:app%d:8080?status=UP&lastDirtyTimestamp=%d",
    app, n, app, 1000000000000 + n)
  return wrk.format("PUT", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
