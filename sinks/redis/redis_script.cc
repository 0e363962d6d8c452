#include "sinks/redis/redis_script.h"

#include <cstring>

namespace sluice::redis {

// "#!lua" without flags: Redis 7 then refuses the whole call up front with -OOM when it is
// over maxmemory, instead of failing midway through a batch.
const char* const kApplyScript = R"lua(#!lua
-- sluice redis sink: see sinks/redis/redis_script.h for the contract.

-- a < b for positions: 32 hex digits, compared 8 at a time (Lua numbers are doubles).
local function older(a, b)
  if a == b then return false end
  for i = 1, 25, 8 do
    local x = tonumber(string.sub(a, i, i + 7), 16)
    local y = tonumber(string.sub(b, i, i + 7), 16)
    if x ~= y then return x < y end
  end
  return false
end

local function set_px(k, v, px)
  if px > 0 then redis.call('SET', k, v, 'PX', px) else redis.call('SET', k, v) end
end

-- JSON scanning, for merging unchanged members from the stored object text without
-- decoding it (cjson would round numbers and turn [] into {}).
local function skip_string(doc, i)
  local j = i + 1
  while true do
    local q = string.find(doc, '["\\]', j)
    if not q then return #doc end
    if string.byte(doc, q) == 92 then j = q + 2 else return q end
  end
end

local function skip_value(doc, i)
  local c = string.byte(doc, i)
  if c == 34 then return skip_string(doc, i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while true do
      local p = string.find(doc, '[%[%]{}"]', j)
      if not p then return #doc end
      local b = string.byte(doc, p)
      if b == 34 then
        j = skip_string(doc, p) + 1
      else
        if b == 123 or b == 91 then depth = depth + 1 else depth = depth - 1 end
        if depth == 0 then return p end
        j = p + 1
      end
    end
  end
  local e = string.find(doc, '[,}%]%s]', i)
  return (e or (#doc + 1)) - 1
end

-- The raw text of the top-level member whose quoted name is qname, or nil.
local function member(doc, qname)
  local n, i = #doc, 2
  while i <= n do
    local c = string.byte(doc, i)
    if c == 34 then
      local kend = skip_string(doc, i)
      local name = string.sub(doc, i, kend)
      local v = string.find(doc, '[^%s:]', kend + 1)
      if not v then return nil end
      local vend = skip_value(doc, v)
      if name == qname then return string.sub(doc, v, vend) end
      i = vend + 1
    elseif c == 125 then
      return nil
    else
      i = i + 1
    end
  end
  return nil
end

local mode = ARGV[1]

if mode == 'purge' then
  local p, tomb, mark, plen = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
  local m = redis.call('GET', mark)
  if not m or older(m, p) then set_px(mark, p, tomb) end
  local removed = 0
  for i = 6, #ARGV do
    local pk = ARGV[i]
    local ok, cur = pcall(redis.call, 'GET', pk)
    if ok and cur and older(cur, p) then
      redis.call('UNLINK', string.sub(pk, plen + 1))
      redis.call('DEL', pk)
      removed = removed + 1
    end
  end
  return removed
end

local fmt = ARGV[2]
local ttl, tomb, pos_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local marks = {}

local function mark_of(mk)
  local m = marks[mk]
  if m == nil then
    m = redis.call('GET', mk) or false
    marks[mk] = m
  end
  return m
end

-- Returns 1 applied, 0 skipped (older than what is stored), 2 applied with a column missing.
local function apply(op, k, pk, pos, mk, ok_, opk, unchanged, fields)
  local cur = redis.call('GET', pk)
  if cur and older(pos, cur) then return 0 end
  local m = mark_of(mk)
  if m and older(pos, m) then return 0 end
  local moved = false
  if ok_ ~= '' then
    local ocur = redis.call('GET', opk)
    moved = not ocur or not older(pos, ocur)
  end
  local base_key = moved and ok_ or k
  local result = 1
  if op == 'd' then
    redis.call('UNLINK', k)
    set_px(pk, pos, tomb)
  elseif fmt == 'j' then
    local doc = fields[1]
    if #unchanged > 0 then
      local base = redis.call('GET', base_key)
      if not base and base_key ~= k then base = redis.call('GET', k) end
      local extra = {}
      for _, q in ipairs(unchanged) do
        local v = base and member(base, q)
        if v then extra[#extra + 1] = q .. ':' .. v else result = 2 end
      end
      if #extra > 0 then
        local body = table.concat(extra, ',')
        if doc == '{}' then doc = '{' .. body .. '}'
        else doc = string.sub(doc, 1, -2) .. ',' .. body .. '}' end
      end
    end
    set_px(k, doc, ttl)
    set_px(pk, pos, pos_ttl)
  else
    if #unchanged > 0 then
      local vals = redis.call('HMGET', base_key, unpack(unchanged))
      for j, name in ipairs(unchanged) do
        if vals[j] then
          fields[#fields + 1] = name
          fields[#fields + 1] = vals[j]
        else
          result = 2
        end
      end
    end
    redis.call('UNLINK', k)
    if #fields > 0 then redis.call('HSET', k, unpack(fields)) end
    if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
    set_px(pk, pos, pos_ttl)
  end
  if moved then
    redis.call('UNLINK', ok_)
    set_px(opk, pos, tomb)
  end
  return result
end

local applied, skipped, notes = 0, 0, {}
local a, rec = 6, 0
local width = fmt == 'h' and 2 or 1
while a <= #ARGV do
  rec = rec + 1
  local nu = tonumber(ARGV[a + 7])
  local unchanged = {}
  for j = 1, nu do unchanged[j] = ARGV[a + 7 + j] end
  local b = a + 8 + nu
  local nf = tonumber(ARGV[b]) * width
  local fields = {}
  for j = 1, nf do fields[j] = ARGV[b + j] end
  local ok, r = pcall(apply, ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4],
                      ARGV[a + 5], ARGV[a + 6], unchanged, fields)
  if not ok then
    notes[#notes + 1] = rec
    notes[#notes + 1] = type(r) == 'table' and (r.err or 'error') or tostring(r)
  elseif r == 0 then
    skipped = skipped + 1
  else
    applied = applied + 1
    if r == 2 then
      notes[#notes + 1] = rec
      notes[#notes + 1] = 'partial'
    end
  end
  a = b + 1 + nf
end
local out = {applied, skipped}
for _, v in ipairs(notes) do out[#out + 1] = v end
return out
)lua";

const char* ApplyScriptWithoutShebang() {
  const char* nl = std::strchr(kApplyScript, '\n');
  return nl ? nl + 1 : kApplyScript;
}

}  // namespace sluice::redis
