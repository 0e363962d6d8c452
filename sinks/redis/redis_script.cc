#include "sinks/redis/redis_script.h"

#include <cstring>

namespace sluice::redis {

// "#!lua" without flags: Redis 7 then refuses the whole call up front with -OOM when it is
// over maxmemory, instead of failing midway through a batch.
const char* const kApplyScript = R"lua(#!lua
-- sluice redis sink: see sinks/redis/redis_script.h for the contract.

-- Globals the per-change code uses, as locals: each use of a global is a table lookup.
local ARGV, pcall, unpack, tonumber = ARGV, pcall, unpack, tonumber
local call, sbyte, ssub = redis.call, string.byte, string.sub

-- a < b for positions: both are 32 lowercase hex digits, so the string order is the
-- numeric order (Lua compares strings with strcoll; every locale orders 0-9 before a-f).
local function older(a, b)
  return a < b
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

local mode, fmt = ARGV[1], ARGV[2]

-- The type a value key of this format has. A key of any other type belongs to another
-- program: the sink neither writes nor removes it (its change is refused with WRONGTYPE).
local want = fmt == 'j' and 'string' or 'hash'

local function type_of(k)
  local t = call('TYPE', k)
  return type(t) == 'table' and t.ok or t
end

local function foreign_text(k, t)
  return 'WRONGTYPE ' .. k .. ' is a ' .. t .. ', not a ' .. want .. ' (format ' ..
         (fmt == 'j' and 'json' or 'hash') .. '): another program\'s key, left as it is'
end

-- Returns k's type; raises WRONGTYPE naming k when it is another program's.
local function own_type(k)
  local t = type_of(k)
  if t ~= want and t ~= 'none' then error(foreign_text(k, t), 0) end
  return t
end

if mode == 'purge' then
  local p, tomb, mark, plen = ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
  local m = redis.call('GET', mark)
  if not m or older(m, p) then set_px(mark, p, tomb) end
  local removed, kept = 0, 0
  for i = 7, #ARGV do
    local pk = ARGV[i]
    local ok, cur = pcall(redis.call, 'GET', pk)
    if ok and cur and older(cur, p) then
      local k = string.sub(pk, plen + 1)
      local t = type_of(k)
      if t == want then redis.call('UNLINK', k) end
      if t == want or t == 'none' then removed = removed + 1 else kept = kept + 1 end
      redis.call('DEL', pk)
    end
  end
  return {removed, kept}
end

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

-- Positions are stored as their 32 hex digits; a tombstone (the position of a delete) has
-- a 'd' after them. Comparing the stored text with a new position's 32 digits still gives
-- their order, since a tombstone's digits are its prefix.
local function is_tombstone(stored) return #stored > 32 end

-- Writes the value of an upsert (or removes it for a delete) and the old key of a move.
-- Returns 1, or 2 when an unchanged column had no stored value to merge. Raises WRONGTYPE,
-- before anything is written, when k or the old key belongs to another program: k is read
-- and written only with commands that refuse a key of another type (json: GET, SET ... GET,
-- GETDEL; hash: HLEN before UNLINK; apply names the key), the old key is asked its TYPE.
-- (HLEN rather than TYPE: an integer reply costs Lua less than TYPE's status table.)
local function write_value(op, k, ok_, moved, unchanged, body)
  local result = 1
  if moved then own_type(ok_) end
  local base_key = moved and ok_ or k
  if op == 'd' then
    if fmt == 'j' then
      call('GETDEL', k)
    elseif call('HLEN', k) > 0 then
      call('UNLINK', k)
    end
  elseif fmt == 'j' then
    local doc = body
    if unchanged then
      local base = call('GET', base_key)
      if not base and base_key ~= k then base = call('GET', k) end
      local extra = {}
      for _, q in ipairs(unchanged) do
        local v = base and member(base, q)
        if v then extra[#extra + 1] = q .. ':' .. v else result = 2 end
      end
      if #extra > 0 then
        local more = table.concat(extra, ',')
        if doc == '{}' then doc = '{' .. more .. '}'
        else doc = string.sub(doc, 1, -2) .. ',' .. more .. '}' end
      end
    end
    if ttl > 0 then call('SET', k, doc, 'PX', ttl, 'GET') else call('SET', k, doc, 'GET') end
  else
    local had = call('HLEN', k) > 0
    local fields = body
    if unchanged then
      local vals = call('HMGET', base_key, unpack(unchanged))
      for j, name in ipairs(unchanged) do
        if vals[j] then
          fields[#fields + 1] = name
          fields[#fields + 1] = vals[j]
        else
          result = 2
        end
      end
    end
    if had then call('UNLINK', k) end
    if #fields > 0 then call('HSET', k, unpack(fields)) end
    if ttl > 0 then call('PEXPIRE', k, ttl) end
  end
  if moved then call('UNLINK', ok_) end
  return result
end

-- The error r of write_value for k, with k named when it is a plain WRONGTYPE of Redis's.
local function named(r, k)
  local text = type(r) == 'table' and r.err or tostring(r)
  if ssub(text, 1, 20) ~= 'WRONGTYPE Operation ' then return r end
  local t = type_of(k)
  if t ~= want and t ~= 'none' then return foreign_text(k, t) end
  return r
end

-- Returns 1 applied, 0 skipped (older than what is stored), 2 applied with a column missing.
-- The position is swapped in first (SET ... GET: one call reads and writes it) and put back
-- when the change turns out older, or when writing the value fails (so a change refused
-- for its key leaves its position key as it was). What can fail for the key alone is read
-- before the swap or inside the pcall.
local function apply(op, k, pk, pos, mk, ok_, opk, unchanged, body)
  local m = mark_of(mk)
  if m and older(pos, m) then return 0 end
  local ocur = ok_ ~= '' and call('GET', opk)
  local cur = call('SET', pk, op == 'd' and pos .. 'd' or pos, 'KEEPTTL', 'GET')
  if cur and older(pos, cur) then
    call('SET', pk, cur, 'KEEPTTL')
    return 0
  end
  local moved = ok_ ~= '' and (not ocur or not older(pos, ocur))
  local ok, r = pcall(write_value, op, k, ok_, moved, unchanged, body)
  if not ok then
    if cur then call('SET', pk, cur, 'KEEPTTL') else call('DEL', pk) end
    error(named(r, k), 0)
  end
  local expire = op == 'd' and tomb or pos_ttl
  if expire > 0 then
    call('PEXPIRE', pk, expire)
  elseif cur and is_tombstone(cur) then
    call('PERSIST', pk)  -- a tombstone's expiry must not outlive it
  end
  if moved then set_px(opk, pos .. 'd', tomb) end
  return r
end

-- The table list at the end of ARGV: prefix and marker per table, then their number.
local n = #ARGV
local ntab = tonumber(ARGV[n])
local tabs = n - 2 * ntab
local prefix, markkey = {}, {}
for t = 1, ntab do
  prefix[t] = ARGV[tabs + 2 * t - 2]
  markkey[t] = ARGV[tabs + 2 * t - 1]
end

local applied, skipped, notes = 0, 0, {}

-- A run of plain json upserts (no unchanged column, no old key, no ttl) is applied with one
-- MGET of their positions, one EXISTS of the keys that must not be of another type (see
-- flush_chunk) and one MSET of the values and positions that win: per change the same two
-- keys as apply writes, without two script calls per change. Everything before the run has
-- been applied when it is flushed, so the MGET sees it. Within a run positions never
-- decrease (a record older than the one before it starts a new run), so each record can be
-- judged against the position stored before the run: a later record of the same key wins
-- whenever an earlier one did, and MSET writes them in order. MSET clears any expiry, as a
-- position without pos_ttl (even one replacing a tombstone) must not expire.
local fast = fmt == 'j' and ttl == 0 and pos_ttl == 0
local CHUNK = 1000  -- records per MGET/MSET, well inside Lua's limit on unpack (8000)
local run_n, run_a, run_k, run_pk, run_pos, run_t, run_rec = 0, {}, {}, {}, {}, {}, {}
local sets = {}

-- Counts the outcome of apply for record `rec` (see apply for r).
local function settle(rec, ok, r)
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
end

local absent, query = {}, {}

-- Applies records first..last of the run; false when it has to go record by record.
-- MGET reads a key of another type as missing, and MSET would overwrite it (another
-- program's list, say), where apply refuses that record with WRONGTYPE. So the position
-- keys MGET found missing must be missing, and the value keys whose position key holds no
-- live position (missing, or a tombstone) must be missing or strings: one EXISTS of them
-- all usually counts none; if it counts some, an MGET of those value keys tells the strings
-- from the rest, which a second EXISTS checks. Anything of another type sends the chunk
-- record by record. The value keys of live positions are not read: the sink wrote those
-- last, as strings, and reading every value of a run of updates would cost a fifth more
-- Redis CPU. So a value that another program has turned into another type since is
-- overwritten here (apply, one at a time, refuses it).
local function flush_chunk(first, last)
  local cur = call('MGET', unpack(run_pk, first, last))
  local na, nq = 0, 0
  for j = 1, last - first + 1 do
    local c = cur[j]
    if not c then
      na = na + 1
      absent[na] = run_pk[first + j - 1]
    end
    if not c or #c > 32 then  -- no live position: missing, or a tombstone
      nq = nq + 1
      query[nq] = run_k[first + j - 1]
    end
  end
  for j = 1, nq do absent[na + j] = query[j] end
  if na + nq > 0 and call('EXISTS', unpack(absent, 1, na + nq)) > 0 then
    if nq == 0 then return false end
    local val = call('MGET', unpack(query, 1, nq))
    local n = na
    for j = 1, nq do
      if not val[j] then
        n = n + 1
        absent[n] = query[j]
      end
    end
    if n > 0 and call('EXISTS', unpack(absent, 1, n)) > 0 then return false end
  end
  local ns, won = 0, 0
  for i = first, last do
    local pos, c = run_pos[i], cur[i - first + 1]
    local m = mark_of(markkey[run_t[i]])
    if (m and pos < m) or (c and pos < c) then
      cur[i - first + 1] = false  -- skipped (remembered for an error report below)
      skipped = skipped + 1
    else
      sets[ns + 1], sets[ns + 2] = run_k[i], ARGV[run_a[i] + 2]
      sets[ns + 3], sets[ns + 4] = run_pk[i], pos
      ns = ns + 4
      won = won + 1
      cur[i - first + 1] = true
    end
  end
  if ns == 0 then return true end
  local ok, r = pcall(call, 'MSET', unpack(sets, 1, ns))
  if ok then
    applied = applied + won
    return true
  end
  for i = first, last do
    if cur[i - first + 1] then settle(run_rec[i], false, r) end
  end
  return true
end

local function flush_run()
  for first = 1, run_n, CHUNK do
    local last = math.min(run_n, first + CHUNK - 1)
    if not flush_chunk(first, last) then
      for i = first, last do
        local ai, t = run_a[i], run_t[i]
        settle(run_rec[i], pcall(apply, 'u', run_k[i], run_pk[i], run_pos[i], markkey[t], '', '',
                                 nil, ARGV[ai + 2]))
      end
    end
  end
  run_n = 0
end

local a, rec = 6, 0
while a < tabs do
  rec = rec + 1
  local h = ARGV[a]
  local opb, flagb = sbyte(h, 1, 2)
  local t = ntab == 1 and 1 or tonumber(ssub(h, 35))
  local k = ARGV[a + 1]
  local pos = ssub(h, 3, 34)
  if fast and opb == 117 and flagb == 48 then  -- 'u', no flags
    if run_n > 0 and pos < run_pos[run_n] then flush_run() end
    run_n = run_n + 1
    run_a[run_n], run_k[run_n], run_pk[run_n], run_pos[run_n], run_t[run_n], run_rec[run_n] =
      a, k, prefix[t] .. k, pos, t, rec
    a = a + 3
  else
    a = a + 2
    flush_run()
    local op, flags = ssub(h, 1, 1), flagb - 48
    local ok_, opk = '', ''
    if flags % 2 == 1 then
      ok_ = ARGV[a]
      opk = prefix[t] .. ok_
      a = a + 1
    end
    local unchanged = nil
    if flags >= 2 then
      local nu = tonumber(ARGV[a])
      unchanged = {unpack(ARGV, a + 1, a + nu)}
      a = a + 1 + nu
    end
    local body = nil
    if op ~= 'd' then
      if fmt == 'j' then
        body = ARGV[a]
        a = a + 1
      else
        local nf = tonumber(ARGV[a]) * 2
        body = {unpack(ARGV, a + 1, a + nf)}
        a = a + 1 + nf
      end
    end
    settle(rec, pcall(apply, op, k, prefix[t] .. k, pos, markkey[t], ok_, opk, unchanged, body))
  end
end
flush_run()
local out = {applied, skipped}
for _, v in ipairs(notes) do out[#out + 1] = v end
return out
)lua";

const char* ApplyScriptWithoutShebang() {
  const char* nl = std::strchr(kApplyScript, '\n');
  return nl ? nl + 1 : kApplyScript;
}

}  // namespace sluice::redis
