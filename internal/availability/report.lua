-- Store a lot's free-space report unless a newer one is stored; publish
-- when the count changed. Atomic: concurrent reports from several hub
-- instances cannot interleave between the comparison and the write.
-- KEYS[1] lot hash, KEYS[2] index set.
-- ARGV[1] free, ARGV[2] at (Unix microseconds), ARGV[3] lot id,
-- ARGV[4] channel, ARGV[5] message (JSON {lotId, free, at}).
-- Returns {stored (0|1), free, at} with the value now current.
-- Microsecond timestamps (about 1.8e15) are exact in Lua's doubles.
local cur = redis.call('HMGET', KEYS[1], 'free', 'at')
local at = tonumber(ARGV[2])
if cur[2] and tonumber(cur[2]) > at then
  return {0, tonumber(cur[1]), tonumber(cur[2])}
end
redis.call('HSET', KEYS[1], 'free', ARGV[1], 'at', ARGV[2])
-- Always (cheap, idempotent): the index heals if it was ever lost.
redis.call('SADD', KEYS[2], ARGV[3])
if cur[1] ~= ARGV[1] then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return {1, tonumber(ARGV[1]), at}
