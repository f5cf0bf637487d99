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
--   LOAD_RATE    requests per second per connection (0: each request as soon as the last is
--                answered). With a rate, each connection follows a fixed schedule of slots (a
--                delay() before each request waits for its slot) and every answer is also timed
--                from its slot, not only from its send: a request held up behind a slow one on
--                the same connection is late by the time it waited for its turn (no coordinated
--                omission, as in wrk2); slots missed meanwhile are sent at once, back to back.
--                The connections' schedules are spread over the interval (not in step)
--   LOAD_PERCENTILES  1: per-kind latency histograms and percentiles in done() (always with
--                LOAD_RATE); off by default, so the other scenarios pay nothing for them
--
-- done() prints machine-readable lines starting with "LOAD " (parsed by load.py), among them
-- the slowest answer of each kind and per-kind latency percentiles (measured here with
-- clock_gettime through LuaJIT's FFI; wrk's own percentiles are over all kinds together).

local tokens_file = os.getenv("LOAD_TOKENS")
local stream_prefix = os.getenv("LOAD_STREAM")
local quota = tonumber(os.getenv("LOAD_QUOTA") or "0") or 0
local path = os.getenv("LOAD_PATH") or "/"
local done_dir = os.getenv("LOAD_DONE")
local close = os.getenv("LOAD_CLOSE") == "1"
local rate = tonumber(os.getenv("LOAD_RATE") or "0") or 0
local interval = rate > 0 and 1000000 / rate or 0   -- microseconds between slots
local percentiles = os.getenv("LOAD_PERCENTILES") == "1" or interval > 0

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

-- Latency histograms: bucket i holds the times in [B^i, B^(i+1)) microseconds, B = 1.02, so
-- a percentile read from them is at most 2 % above the true value (about 900 buckets up to
-- 60 s). Flat tables ("kind clock bucket" -> count): thread:get() copies only flat tables.
local B = 1.02
local LOG_B = math.log(B)
local function bucket(us)
   if us < 1 then
      us = 1
   end
   return math.floor(math.log(us) / LOG_B)
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
local next_slot, slot = nil, 0

-- A thread's figures, read by done() through thread:get(). All of them are in ONE flat table
-- (keys "<what> <kind>[ ...]"), because wrk 4.1's thread:get() of a table pops one value too
-- many from the thread's Lua stack (script_copy_value pops the table, script_thread_get pops
-- it again). Each such get leaves the stack top one slot lower: the first onto the frame
-- slot(s) below the stack base, a few more below the stack array itself, where what the next
-- get pushes overwrites the allocator's memory. With six tables per thread, keys copied later
-- came out as garbage now and then and wrk panicked in done(). One table per thread keeps
-- every push inside the stack array. Numbers and strings are copied without the extra pop.
--   tally <kind> <status>          answers
--   slowest <kind>                 the longest request-to-answer time, microseconds
--   over1s <kind>                  answers that took more than a second
--   fast <kind>                    answers within 100 ms
--   hist <kind> <clock> <bucket>   answers (LOAD_PERCENTILES); clock: "service" (from the send)
--                                  or "schedule" (from the slot, with LOAD_RATE only)
--   top <kind> <clock>             the longest time by that clock, microseconds
local function count(key)
   figures[key] = (figures[key] or 0) + 1
end

local function highest(key, v)
   if v > (figures[key] or 0) then
      figures[key] = v
   end
end

function init(args)
   figures = {}
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
   if interval > 0 then
      if next_slot == nil then
         -- the first request leaves at once; the schedule starts at an offset of its own
         next_slot = started + interval * ((id * 0.618034) % 1)
      end
      -- delay() rounds down to whole milliseconds: a request may leave a little before its slot
      slot = math.min(next_slot, started)
      next_slot = next_slot + interval
   end
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

if interval > 0 then
   -- milliseconds until the next slot (0 when it has passed: catching up). wrk also asks
   -- before a connection's first request, when there is no schedule yet
   function delay()
      if next_slot == nil then
         return 0
      end
      local ms = math.floor((next_slot - now_us()) / 1000)
      return ms > 0 and ms or 0
   end
end

local function record(kind, clock, us)
   count("hist " .. kind .. " " .. clock .. " " .. bucket(us))
   highest("top " .. kind .. " " .. clock, us)
end

function response(status, headers, body)
   answered = answered + 1
   local t = now_us()
   local took = t - started
   if percentiles then
      record(last_kind, "service", took)
      if interval > 0 then
         record(last_kind, "schedule", t - slot)
      end
   end
   if took <= 100000 then
      count("fast " .. last_kind)
   end
   highest("slowest " .. last_kind, took)
   if took > 1000000 then
      count("over1s " .. last_kind)
   end
   count("tally " .. last_kind .. " " .. status)
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
   local all = {}   -- the threads' figures, summed (maxima: the largest)
   for i, t in ipairs(threads) do
      io.write(string.format("LOAD thread id=%d sent=%d answered=%d mismatched=%d desync=%d reused=%d\n",
                             t:get("id"), t:get("sent"), t:get("answered"), t:get("mismatched"),
                             t:get("desync"), t:get("reused")))
      for k, v in pairs(t:get("figures")) do   -- the only table this thread hands over (see init)
         local what = k:match("^(%S+) ")
         if what == "slowest" or what == "top" then
            all[k] = math.max(all[k] or 0, v)
         else
            all[k] = (all[k] or 0) + v
         end
      end
   end
   local h, tops = {}, {}
   for k, v in pairs(all) do
      local what, rest = k:match("^(%S+) (.*)$")
      if what == "tally" then
         io.write(string.format("LOAD tally %s %d\n", rest, v))
      elseif what == "slowest" then
         io.write(string.format("LOAD slowest kind=%s max_us=%d over1s=%d fast=%d\n", rest, v,
                                all["over1s " .. rest] or 0, all["fast " .. rest] or 0))
      elseif what == "hist" then
         h[rest] = v
      elseif what == "top" then
         tops[rest] = v
      end
   end
   -- per kind and clock: nearest-rank percentiles, each the upper edge of its bucket (at most
   -- 2 % above the true value) capped at the exact maximum
   local series = {}     -- "kind clock" -> {bucket, ...}
   for k, v in pairs(h) do
      local kind, clock, b = k:match("^(%S+) (%S+) (%-?%d+)$")
      local name = kind .. " " .. clock
      series[name] = series[name] or {n = 0, buckets = {}, counts = {}}
      local s = series[name]
      s.n = s.n + v
      table.insert(s.buckets, tonumber(b))
      s.counts[tonumber(b)] = v
   end
   for name, s in pairs(series) do
      table.sort(s.buckets)
      local function pct(p)
         local need = math.max(1, math.ceil(p / 100 * s.n))
         local seen = 0
         for _, b in ipairs(s.buckets) do
            seen = seen + s.counts[b]
            if seen >= need then
               return math.min(B ^ (b + 1), tops[name])
            end
         end
         return tops[name]
      end
      local kind, clock = name:match("^(%S+) (%S+)$")
      io.write(string.format("LOAD pct kind=%s clock=%s n=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
                             kind, clock, s.n, pct(50), pct(90), pct(99), pct(99.9), tops[name]))
   end
end
