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
