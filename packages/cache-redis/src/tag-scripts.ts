/**
 * The Lua scripts that keep tags atomic with their entries. Key layout in a namespace whose encoded
 * form is `N` (see `encodeNamespace`, which never leaves a bare `%` in `N`):
 *
 * - `N:<key>`: the entry (its value text), as before tags existed;
 * - `N%E:<key>`: the entry's tag record, a SET of its tags, with the entry's TTL;
 * - `N%T:<tag>`: the tag's member SET, the keys written with that tag;
 * - `N%S:<key>`: the member set of `addMembers`/`hasMember` (a SET of the members), apart from the
 *   entry `N:<key>`: the entry calls (SCAN `N:*`) never reach it, `clear` (SCAN `N[:%]*`) does.
 *
 * A tag member is live while the key's tag record holds the tag: a later write of the key replaces
 * the record (and leaves the old tags' sets), a delete removes both. Members whose entry expired
 * stay in the tag set until swept: every tagged write samples `SWEEP_SAMPLE` members of each of
 * its tag sets and drops the dead ones, and a tag set expires with its longest-lived member (it is
 * persistent once a member without TTL joined it).
 *
 * The scripts touch keys they derive from arguments (records and tag sets of other keys), which a
 * single Redis node allows and Redis Cluster would not (the adapter supports a single node).
 */

/** Members of a tag set checked per tagged write: in a steady state about 1/(n-1) are dead. */
export const SWEEP_SAMPLE = 4;

/**
 * Lua: `member` (written with TTL `ttl`, 0 for none) joins the tag set `set` of tag `tag`, after a
 * sweep of `SWEEP_SAMPLE` of its members whose record (under `recordPrefix`, a Lua expression) no
 * longer holds the tag; the set lives as long as its longest-lived member.
 */
function joinTagSet(recordPrefix: string): string {
  return `  for _, other in ipairs(redis.call('SRANDMEMBER', set, ${SWEEP_SAMPLE})) do
    if other ~= member and redis.call('SISMEMBER', ${recordPrefix} .. other, tag) == 0 then
      redis.call('SREM', set, other)
    end
  end
  local existed = redis.call('EXISTS', set)
  local left = redis.call('PTTL', set)
  redis.call('SADD', set, member)
  if ttl == 0 then
    redis.call('PERSIST', set)
  elseif existed == 0 or (left >= 0 and left < ttl) then
    redis.call('PEXPIRE', set, ttl)
  end`;
}

/**
 * The write of one entry. KEYS: entry, record, tag sets of the new tags (aligned with the tags in
 * ARGV). ARGV: value text, TTL ms (0 for none), the key, tag-set prefix, record prefix, then (when
 * `publishes`) a channel and a message to PUBLISH once the entry is written, then the tags.
 */
function setEntry(publishes: boolean): string {
  const firstTag = publishes ? 8 : 6;
  return `
local ttl = tonumber(ARGV[2])
local member = ARGV[3]
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
local old = redis.call('SMEMBERS', KEYS[2])
if #old > 0 then
  local keep = {}
  for i = ${firstTag}, #ARGV do keep[ARGV[i]] = true end
  for _, tag in ipairs(old) do
    if not keep[tag] then redis.call('SREM', ARGV[4] .. tag, member) end
  end
  redis.call('DEL', KEYS[2])
end
if #ARGV >= ${firstTag} then
  redis.call('SADD', KEYS[2], unpack(ARGV, ${firstTag}))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
for i = 3, #KEYS do
  local set = KEYS[i]
  local tag = ARGV[i + ${firstTag - 3}]
${joinTagSet("ARGV[5]")}
end
${publishes ? "redis.call('PUBLISH', ARGV[6], ARGV[7])\n" : ""}return 1
`;
}

export const SET_ENTRY = setEntry(false);

/**
 * The writes of several entries (`setMany`), each as `SET_ENTRY` writes one, in order (a key given
 * twice: the later write wins). KEYS: per entry its entry key, its record, then the tag sets of its
 * tags. ARGV: tag-set prefix, record prefix, then per entry: value text, TTL ms (0 for none), the
 * key, how many tags, the tags.
 */
export const SET_ENTRIES = `
local tagPrefix = ARGV[1]
local recordPrefix = ARGV[2]
local k = 1
local a = 3
while a <= #ARGV do
  local ttl = tonumber(ARGV[a + 1])
  local member = ARGV[a + 2]
  local count = tonumber(ARGV[a + 3])
  local firstTag = a + 4
  local lastTag = a + 3 + count
  local record = KEYS[k + 1]
  if ttl > 0 then
    redis.call('SET', KEYS[k], ARGV[a], 'PX', ttl)
  else
    redis.call('SET', KEYS[k], ARGV[a])
  end
  local old = redis.call('SMEMBERS', record)
  if #old > 0 then
    local keep = {}
    for i = firstTag, lastTag do keep[ARGV[i]] = true end
    for _, tag in ipairs(old) do
      if not keep[tag] then redis.call('SREM', tagPrefix .. tag, member) end
    end
    redis.call('DEL', record)
  end
  if count > 0 then
    redis.call('SADD', record, unpack(ARGV, firstTag, lastTag))
    if ttl > 0 then redis.call('PEXPIRE', record, ttl) end
  end
  for j = 1, count do
    local set = KEYS[k + 1 + j]
    local tag = ARGV[a + 3 + j]
${joinTagSet("recordPrefix")}
  end
  k = k + 2 + count
  a = lastTag + 1
end
return 1
`;

/**
 * `SET_ENTRY`, then PUBLISH: a subscriber gets the message only once the entry is written (and
 * not when the script fails), in the same round trip.
 */
export const SET_ENTRY_AND_PUBLISH = setEntry(true);

/** KEYS: entry, record. ARGV: the key, tag-set prefix. Returns how many entries it unlinked (0 or 1). */
export const DELETE_ENTRY = `
local old = redis.call('SMEMBERS', KEYS[2])
if #old > 0 then
  for _, tag in ipairs(old) do redis.call('SREM', ARGV[2] .. tag, ARGV[1]) end
  redis.call('DEL', KEYS[2])
end
return redis.call('UNLINK', KEYS[1])
`;

/**
 * KEYS: entries (full keys, one SCAN page). ARGV: entry prefix, record prefix, tag-set prefix.
 * Removes each entry with its record and its tag memberships; returns how many entries it unlinked.
 */
export const DELETE_ENTRIES = `
local skip = #ARGV[1]
local removed = 0
for _, full in ipairs(KEYS) do
  local member = string.sub(full, skip + 1)
  local record = ARGV[2] .. member
  local old = redis.call('SMEMBERS', record)
  if #old > 0 then
    for _, tag in ipairs(old) do redis.call('SREM', ARGV[3] .. tag, member) end
    redis.call('DEL', record)
  end
  removed = removed + redis.call('UNLINK', full)
end
return removed
`;

/**
 * KEYS: the tag set. ARGV: entry prefix, record prefix, tag-set prefix, the tag, batch size.
 * Pops up to a batch of members; removes those whose record still holds the tag (entry, record,
 * memberships in the entry's other tags). Returns { members popped, entries unlinked }.
 */
export const DELETE_TAG_BATCH = `
local popped = redis.call('SPOP', KEYS[1], tonumber(ARGV[5]))
local removed = 0
for _, member in ipairs(popped) do
  local record = ARGV[2] .. member
  if redis.call('SISMEMBER', record, ARGV[4]) == 1 then
    for _, other in ipairs(redis.call('SMEMBERS', record)) do
      if other ~= ARGV[4] then redis.call('SREM', ARGV[3] .. other, member) end
    end
    redis.call('DEL', record)
    removed = removed + redis.call('UNLINK', ARGV[1] .. member)
  end
end
return { #popped, removed }
`;

/**
 * `addMembers`: KEYS: the member set. ARGV: TTL ms (0 for none), then the members (at least one).
 * SADD, then the set's TTL from this call (PEXPIRE, or PERSIST for none), atomically.
 */
export const ADD_MEMBERS = `
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return 1
`;
