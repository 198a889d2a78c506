"""The Redis side of the state store: one Lua script, so that each operation is one atomic call.

Redis runs a script without interleaving other commands, so a rate-limit decision made here is
exact across processes and machines, as `ratelimit.RateLimiter` is within one event loop. The
three algorithms are `ratelimit._fixed`, `_sliding` and `_token` written again in Lua (Redis
embeds Lua 5.1; its numbers are doubles, as Python's floats): tests/test_state_redis.py runs the
same requests through both and compares every answer.

Layout (single Redis, keys built inside the script from two generations, so a reset is one
INCR and old keys simply expire):
  ms:gen                      global generation (a reset of every session bumps it)
  ms:sg:<gen>:<sess>          a session's generation (a reset of that session bumps it)
  P = ms:<gen>:<sess>:<sg>:   the session's keys: t (clock origin), c (counts), k (per-client
                              counts), d (draw numbers), s (states), b:<bucket> (a rate-limit
                              bucket), h:<bucket> (a sliding window's hits, "time cost")
  ms:epoch:<name>             a scenario's clock origin, set once by the first replica
Floats are stored with 17 significant digits (exact round trip); `tostring` would keep 14.
"""

from mockstatus.limits import MAX_COUNTERS, STATE_MIN_BUCKET_TTL, STATE_SESSION_TTL

SCRIPT = r"""
local EPS = 1e-6
local op = ARGV[1]
local sess = ARGV[2]
local SESSION_TTL = @SESSION_TTL@
local MAX_COUNTERS = @MAX_COUNTERS@
local MIN_BUCKET_TTL = @MIN_BUCKET_TTL@

-- a step's arguments come as one string, fields separated by the unit separator (0x1F): one
-- argument to encode instead of 5 + 5 per policy (the client's encoding was the larger cost)
local function split(s)
  local out, i = {}, 1
  while true do
    local j = string.find(s, '\31', i, true)
    if not j then
      out[#out + 1] = string.sub(s, i)
      return out
    end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

local function fmt(x) return string.format('%.17g', x) end
local function ceil1(s)
  local c = math.ceil(s - EPS)
  if c < 1 then return 1 end
  return c
end

local function prefix()
  local gen = redis.call('GET', 'ms:gen') or '0'
  local sg = redis.call('GET', 'ms:sg:' .. gen .. ':' .. sess) or '0'
  return 'ms:' .. gen .. ':' .. sess .. ':' .. sg .. ':', gen
end

local function hit(h)
  local sp = string.find(h, ' ', 1, true)
  return tonumber(string.sub(h, 1, sp - 1)), tonumber(string.sub(h, sp + 1))
end

local function wait_until(now, ready)
  local w = math.ceil(ready - now)
  if w < 1 then w = 1 end
  for _ = 1, 2 do
    if w > 1 and now + (w - 1) >= ready then
      w = w - 1
    elseif now + w < ready then
      w = w + 1
    end
  end
  return w
end

local function fixed(b, limit, window, now, cost, commit)
  if now - b.ws >= window - EPS then
    b.ws = b.ws + math.floor((now - b.ws + EPS) / window) * window
    b.c = 0
  end
  local reset = ceil1(b.ws + window - now)
  if b.c + cost <= limit then
    if commit then b.c = b.c + cost end
    local left = limit - b.c
    if not commit then left = left - cost end
    return {1, left, reset, 0}
  end
  return {0, limit - b.c, reset, reset}
end

local function sliding(b, hk, limit, window, now, cost, commit)
  while true do
    local h = redis.call('LINDEX', hk, 0)
    if not h then break end
    local t, c = hit(h)
    if now - t >= window - EPS then
      redis.call('LPOP', hk)
      b.c = b.c - c
    else
      break
    end
  end
  if b.c + cost <= limit then
    if commit and cost > 0 then
      redis.call('RPUSH', hk, fmt(now) .. ' ' .. cost)
      b.c = b.c + cost
    end
    local used = b.c
    if not commit then used = used + cost end
    local first = now
    local h = redis.call('LINDEX', hk, 0)
    if h then first = hit(h) end
    return {1, limit - used, ceil1(first + window - now), 0}
  end
  local need = b.c + cost - limit
  local freed, until_t = 0, now
  for _, h in ipairs(redis.call('LRANGE', hk, 0, need - 1)) do
    local t, c = hit(h)
    freed = freed + c
    until_t = t
    if freed >= need then break end
  end
  local retry = ceil1(until_t + window - now)
  return {0, limit - b.c, retry, retry}
end

local function token(b, limit, window, now, cost, commit)
  local rate = limit / window
  if b.tk < 0 then
    b.tk = limit
    b.ws = now
  end
  local ready = b.ws
  if b.tk < cost then ready = b.ws + (cost - b.tk) / rate end
  ready = ready - EPS
  if now >= ready then
    local tokens = math.min(limit, b.tk + (now - b.ws) * rate)
    local left = math.max(0, tokens - cost)
    if commit and cost > 0 then
      b.tk = left
      b.ws = now
    end
    return {1, math.floor(left + EPS), ceil1((limit - left) / rate), 0}
  end
  local retry = wait_until(now, ready)
  local tokens = b.tk + (now - b.ws) * rate
  return {0, math.floor(math.min(limit, tokens) + EPS), retry, retry}
end

local function run(b, hk, alg, limit, window, now, cost, commit)
  if alg == 's' then return sliding(b, hk, limit, window, now, cost, commit) end
  if alg == 't' then return token(b, limit, window, now, cost, commit) end
  return fixed(b, limit, window, now, cost, commit)
end

local function evaluate(P, bucket, alg, limit, window, cost, now, commit, min_ttl)
  local key, hk = P .. 'b:' .. bucket, P .. 'h:' .. bucket
  local v = redis.call('HMGET', key, 'w', 'ls', 'ws', 'c', 'tk')
  local b
  if v[1] and tonumber(v[1]) == window and now - tonumber(v[2]) < window then
    b = {ws = tonumber(v[3]), c = tonumber(v[4]), tk = tonumber(v[5])}
  else
    -- new, a changed spec, or idle a whole window: a new key (ratelimit.py's docstring)
    b = {ws = now, c = 0, tk = -1}
    redis.call('DEL', hk)
  end
  local r
  if limit <= 0 or cost > limit then
    local wait = ceil1(window)
    local left = 0
    if limit > 0 then left = run(b, hk, alg, limit, window, now, 0, false)[2] end
    r = {0, left, wait, wait}
  else
    r = run(b, hk, alg, limit, window, now, cost, commit)
  end
  redis.call('HSET', key, 'w', fmt(window), 'ls', fmt(now), 'ws', fmt(b.ws), 'c', b.c, 'tk', fmt(b.tk))
  local ttl = math.max(min_ttl, math.ceil(window) * 2)
  redis.call('EXPIRE', key, ttl)
  if alg == 's' then redis.call('EXPIRE', hk, ttl) end
  return r
end

local function bump(P, field, keyed, max_counters, ttl)
  local key = P .. 'c'
  if keyed == '1' then key = P .. 'k' end
  local n = redis.call('HINCRBY', key, field, 1)
  if keyed == '1' and redis.call('HLEN', key) > max_counters then
    -- past the cap a random other key's sequence starts over (memory: the least recent)
    local other = redis.call('HRANDFIELD', key)
    if other and other ~= field then redis.call('HDEL', key, other) end
  end
  redis.call('EXPIRE', key, ttl)
  return n
end

if op == 'step' then
  -- ARGV[3]: now, draw, count, keyed, then 5 fields per policy (bucket alg limit window cost)
  -- ARGV[4]: '' or '=' and the machine states the route was matched with (field, value...):
  -- unless they are the session's, nothing is taken and the session's states are returned
  local A = split(ARGV[3])
  local P = prefix()
  if ARGV[4] and ARGV[4] ~= '' then
    local want, n = {}, 0
    if ARGV[4] ~= '=' then
      local parts = split(string.sub(ARGV[4], 2))
      for i = 1, #parts - 1, 2 do
        want[parts[i]] = parts[i + 1]
        n = n + 1
      end
    end
    local have = redis.call('HGETALL', P .. 's')
    local same = #have == 2 * n
    for i = 1, #have - 1, 2 do
      if want[have[i]] ~= have[i + 1] then same = false end
    end
    if not same then return {'!', have} end
  end
  local now, ttl = tonumber(A[1]), SESSION_TTL
  local started = ''
  if sess == '-' then
    started = redis.call('GET', P .. 't') or ''
  else
    redis.call('SET', P .. 't', fmt(now), 'NX')
    started = redis.call('GET', P .. 't')
  end
  redis.call('EXPIRE', P .. 't', ttl)
  local n = 0
  if A[2] ~= '' then
    n = redis.call('HINCRBY', P .. 'd', A[2], 1) - 1
    redis.call('EXPIRE', P .. 'd', ttl)
  end
  local count_policies = (#A - 4) / 5
  local results = {}
  local allowed = true
  local single = count_policies == 1
  for i = 0, count_policies - 1 do
    local a = 5 + i * 5
    local r = evaluate(P, A[a], A[a + 1], tonumber(A[a + 2]), tonumber(A[a + 3]),
      tonumber(A[a + 4]), now, single, MIN_BUCKET_TTL)
    if r[1] == 0 then allowed = false end
    results[i + 1] = r
  end
  if allowed and count_policies > 1 then
    for i = 0, count_policies - 1 do
      local a = 5 + i * 5
      results[i + 1] = evaluate(P, A[a], A[a + 1], tonumber(A[a + 2]),
        tonumber(A[a + 3]), tonumber(A[a + 4]), now, true, MIN_BUCKET_TTL)
    end
  end
  local count = 0
  if A[3] ~= '' and allowed then
    count = bump(P, A[3], A[4], MAX_COUNTERS, ttl)
  end
  local out = {started, n, count}
  for i = 1, count_policies do
    for j = 1, 4 do out[#out + 1] = results[i][j] end
  end
  return out
elseif op == 'count' then
  -- ARGV: op sess field keyed max_counters ttl
  local P = prefix()
  return bump(P, ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
elseif op == 'states' then
  local P = prefix()
  return redis.call('HGETALL', P .. 's')
elseif op == 'set_state' then
  -- ARGV: op sess field value ttl
  local P = prefix()
  redis.call('HSET', P .. 's', ARGV[3], ARGV[4])
  redis.call('EXPIRE', P .. 's', tonumber(ARGV[5]))
  return 1
elseif op == 'reset' then
  -- ARGV: op sess now ttl all
  if ARGV[5] == '1' then
    redis.call('INCR', 'ms:gen')
  else
    local gen = redis.call('GET', 'ms:gen') or '0'
    local sgk = 'ms:sg:' .. gen .. ':' .. sess
    redis.call('INCR', sgk)
    redis.call('EXPIRE', sgk, tonumber(ARGV[4]))
  end
  local P = prefix()
  redis.call('SET', P .. 't', ARGV[3], 'EX', tonumber(ARGV[4]))
  return 1
elseif op == 'epoch' then
  -- ARGV: op - name now
  local key = 'ms:epoch:' .. ARGV[3]
  redis.call('SET', key, ARGV[4], 'NX')
  return redis.call('GET', key)
end
return redis.error_reply('unknown op ' .. op)
"""

SCRIPT = (
    SCRIPT.replace("@SESSION_TTL@", str(STATE_SESSION_TTL))
    .replace("@MAX_COUNTERS@", str(MAX_COUNTERS))
    .replace("@MIN_BUCKET_TTL@", str(STATE_MIN_BUCKET_TTL))
)
ALGORITHMS = {"fixed-window": "f", "sliding-window": "s", "token-bucket": "t"}
SEPARATOR = "\x1f"  # between a step's fields: never in a name (the loader refuses controls)
