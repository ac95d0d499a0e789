import { RedisScript } from "./redis-script.ts";

/**
 * Reads lanes for one consumer in a single round trip: first the slots reserved for one lower lane
 * (fair share), then every lane in priority order until `max` entries are taken.
 * KEYS: the lane streams, most urgent first. ARGV: group, consumer, max, reserved lane index
 * (1-based, 0 for none), reserved count.
 * Returns a flat list of {lane index, entry id, fields}.
 */
export const fetchScript = new RedisScript(`
local out = {}
local remaining = tonumber(ARGV[3])
local function take(i, n)
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', KEYS[i], '>')
  if not reply then return 0 end
  local entries = reply[1][2]
  for _, entry in ipairs(entries) do
    out[#out + 1] = { i, entry[1], entry[2] }
  end
  return #entries
end
local reservedLane = tonumber(ARGV[4])
local reservedCount = tonumber(ARGV[5])
if reservedLane > 0 and reservedCount > 0 then
  remaining = remaining - take(reservedLane, math.min(reservedCount, remaining))
end
for i = 1, #KEYS do
  if remaining <= 0 then break end
  remaining = remaining - take(i, remaining)
end
return out
`);

/**
 * Moves due members of the delayed set onto their lanes, atomically, so several replicas running it
 * at once move each message exactly once. Due-ness is judged by Redis' clock, not the callers'.
 * KEYS: delayed set, then the lane streams in LANES order. ARGV: limit, lane names in LANES order.
 */
export const promoteScript = new RedisScript(`
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local message = cjson.decode(member)
  local stream = nil
  for i = 2, #ARGV do
    if ARGV[i] == message.lane then stream = KEYS[i] end
  end
  if stream == nil then stream = KEYS[#KEYS - 1] end
  if message.attempt and message.attempt > 0 then
    redis.call('XADD', stream, '*', 'job', message.body, 'attempt', tostring(message.attempt))
  else
    redis.call('XADD', stream, '*', 'job', message.body)
  end
  redis.call('ZREM', KEYS[1], member)
end
return #due
`);

/**
 * Puts one dead letter back on its lane and removes it from the dead-letter stream, atomically.
 * KEYS: dead stream, then the lane streams in LANES order. ARGV: entry id, lane names in LANES order.
 */
export const replayScript = new RedisScript(`
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #entries == 0 then return 0 end
local fields = entries[1][2]
local body, lane = nil, nil
for i = 1, #fields, 2 do
  if fields[i] == 'job' then body = fields[i + 1] end
  if fields[i] == 'lane' then lane = fields[i + 1] end
end
local stream = KEYS[4]
for i = 2, #ARGV do
  if ARGV[i] == lane then stream = KEYS[i] end
end
redis.call('XADD', stream, '*', 'job', body)
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
`);

/**
 * Takes over one lane's entries held past the visibility timeout (XAUTOCLAIM, which counts the
 * claim as a delivery) and, in the same step, dead-letters those already handed out the maximum
 * number of times: a message that crashes or hangs every worker it reaches stops going round.
 * KEYS: lane stream, dead stream. ARGV: group, consumer, min idle ms, cursor, count, max deliveries,
 * reason, lane name, failed_at.
 * Returns {next cursor, claimed entries to hand out, number dead-lettered}.
 */
export const reclaimScript = new RedisScript(`
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local max = tonumber(ARGV[6])
local out = {}
local buried = 0
for _, entry in ipairs(claimed[2]) do
  local id, fields = entry[1], entry[2]
  -- An entry deleted meanwhile comes back without fields (Redis 6.2): nothing to hand out.
  if fields then
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local times = pending[1] and tonumber(pending[1][4]) or 0
    -- The claim counted itself: before it, the entry was handed out times - 1 times.
    if times > max then
      local job, attempt = '', '0'
      for i = 1, #fields, 2 do
        if fields[i] == 'job' or (fields[i] == 'body' and job == '') then job = fields[i + 1] end
        if fields[i] == 'attempt' then attempt = fields[i + 1] end
      end
      redis.call('XADD', KEYS[2], '*', 'job', job, 'lane', ARGV[8], 'reason', ARGV[7],
        'attempt', attempt, 'failed_at', ARGV[9], 'source_id', id)
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
      buried = buried + 1
    else
      out[#out + 1] = entry
    end
  end
end
return { claimed[1], out, buried }
`);

/**
 * Acknowledges and deletes finished entries, atomically: one command where MULTI, XACK, XDEL and
 * EXEC were four, each a command object, promise and reply in the client, once per batch of acks.
 * KEYS: the lane streams with entries to finish. ARGV: group, then each key's entry count, then the
 * entry ids, key by key. Ids go to Redis a thousand at a time (Lua's unpack has a limit).
 */
export const ackScript = new RedisScript(`
local at = 2 + #KEYS
for i = 1, #KEYS do
  local last = at + tonumber(ARGV[1 + i]) - 1
  for first = at, last, 1000 do
    local upto = math.min(first + 999, last)
    redis.call('XACK', KEYS[i], ARGV[1], unpack(ARGV, first, upto))
    redis.call('XDEL', KEYS[i], unpack(ARGV, first, upto))
  end
  at = last + 1
end
return 0
`);
