-- wrk script of the mod_claims load tests (driven by tests/load/load.py; see README.md).
--
-- Run with as many connections as threads (-t N -c N): each thread then has exactly one
-- connection without pipelining, so the answer handed to response() is the answer to the
-- request that request() built last in that thread; that is how every status is attributed
-- to the kind of token it answered. The server also echoes the request's X-Load-Kind header
-- (mod_headers), and response() counts any echo naming another kind as a desync.
--
-- Environment:
--   LOAD_TOKENS  a file of lines "kind<TAB>expected-status<TAB>Authorization value" (an empty
--                value sends no Authorization header), used in rotation; each thread starts
--                at its own offset
--   LOAD_STREAM  instead: a file prefix; thread n reads <prefix>.<n>, one token a line, each
--                sent once as "Bearer <token>" (kind "distinct", expected 200); past the end
--                it starts over and counts the reuse
--   LOAD_QUOTA   answers per thread after which the thread stops (0: until wrk's -d)
--   LOAD_DONE    a directory: a thread that reached its quota creates the file <id> there (wrk
--                itself runs until -d; the driver interrupts it once every thread is done)
--   LOAD_PATH    request path (default /)
--   LOAD_CLOSE   1: every request says "Connection: close" (one request per connection)
--
-- done() prints machine-readable lines starting with "LOAD " (parsed by load.py), among them
-- the slowest answer of each kind (measured here with clock_gettime through LuaJIT's FFI).

local tokens_file = os.getenv("LOAD_TOKENS")
local stream_prefix = os.getenv("LOAD_STREAM")
local quota = tonumber(os.getenv("LOAD_QUOTA") or "0") or 0
local path = os.getenv("LOAD_PATH") or "/"
local done_dir = os.getenv("LOAD_DONE")
local close = os.getenv("LOAD_CLOSE") == "1"

-- a monotonic clock in microseconds (wrk's Lua has none of its own)
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } load_timespec_t;
int clock_gettime(int clk_id, load_timespec_t *tp);
]]
local ts = ffi.new("load_timespec_t")
local function now_us()
   ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

-- main state: the threads, numbered in setup() (runs before each thread's init())
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- thread states
local list, n, pos, fh
local last_kind, last_expect, started = "none", 0, 0

function init(args)
   -- globals, read by done() through thread:get(); flat tables only ("kind status" -> count)
   tally = {}
   slowest = {}     -- kind -> the longest request-to-answer time, microseconds
   over1s = {}      -- kind -> answers that took more than a second
   sent, answered, mismatched, desync, reused = 0, 0, 0, 0, 0
   if tokens_file ~= nil then
      list = {}
      for line in io.lines(tokens_file) do
         local kind, expect, auth = line:match("^([^\t]+)\t(%d+)\t(.*)$")
         if kind ~= nil then
            local headers = {["X-Load-Kind"] = kind}
            if close then
               headers["Connection"] = "close"
            end
            if auth ~= "" then
               headers["Authorization"] = auth
            end
            table.insert(list, {kind = kind, expect = tonumber(expect),
                                req = wrk.format("GET", path, headers)})
         end
      end
      n = #list
      if n == 0 then
         error("no tokens in " .. tokens_file)
      end
      -- spread the threads over the list (7919 is prime: offsets rarely coincide)
      pos = (id * 7919) % n
   else
      fh = assert(io.open(stream_prefix .. "." .. id, "r"))
   end
end

function request()
   sent = sent + 1
   started = now_us()
   if list ~= nil then
      pos = pos % n + 1
      local e = list[pos]
      last_kind, last_expect = e.kind, e.expect
      return e.req
   end
   local token = fh:read("*l")
   if token == nil then
      reused = reused + 1
      fh:seek("set", 0)
      token = fh:read("*l")
   end
   last_kind, last_expect = "distinct", 200
   local headers = {["Authorization"] = "Bearer " .. token, ["X-Load-Kind"] = "distinct"}
   if close then
      headers["Connection"] = "close"
   end
   return wrk.format("GET", path, headers)
end

function response(status, headers, body)
   answered = answered + 1
   local took = now_us() - started
   if took > (slowest[last_kind] or 0) then
      slowest[last_kind] = took
   end
   if took > 1000000 then
      over1s[last_kind] = (over1s[last_kind] or 0) + 1
   end
   local key = last_kind .. " " .. status
   tally[key] = (tally[key] or 0) + 1
   if status ~= last_expect then
      mismatched = mismatched + 1
   end
   local echo = headers["X-Load-Kind"]
   if echo ~= nil and echo ~= last_kind then
      desync = desync + 1
   end
   if quota > 0 and answered >= quota then
      if done_dir ~= nil then
         local f = io.open(done_dir .. "/" .. id, "w")
         if f ~= nil then
            f:close()
         end
      end
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("LOAD summary requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
                          summary.requests, summary.duration, summary.bytes,
                          e.connect, e.read, e.write, e.status, e.timeout))
   io.write(string.format("LOAD latency min_us=%d mean_us=%d p50_us=%d p99_us=%d max_us=%d\n",
                          latency.min, latency.mean, latency:percentile(50),
                          latency:percentile(99), latency.max))
   local total, slow, over = {}, {}, {}
   for i, t in ipairs(threads) do
      io.write(string.format("LOAD thread id=%d sent=%d answered=%d mismatched=%d desync=%d reused=%d\n",
                             t:get("id"), t:get("sent"), t:get("answered"), t:get("mismatched"),
                             t:get("desync"), t:get("reused")))
      for k, v in pairs(t:get("tally")) do
         total[k] = (total[k] or 0) + v
      end
      for k, v in pairs(t:get("slowest")) do
         slow[k] = math.max(slow[k] or 0, v)
      end
      for k, v in pairs(t:get("over1s")) do
         over[k] = (over[k] or 0) + v
      end
   end
   for k, v in pairs(total) do
      io.write(string.format("LOAD tally %s %d\n", k, v))
   end
   for k, v in pairs(slow) do
      io.write(string.format("LOAD slowest kind=%s max_us=%d over1s=%d\n", k, v, over[k] or 0))
   end
end
