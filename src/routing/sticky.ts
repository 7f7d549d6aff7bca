/**
 * Weighted, sticky primary choice. hash(sticky key, sticky group) → bucket 0..9999; cloud is
 * primary when bucket < weight × 100. Because a key's bucket does not depend on the weight,
 * raising a weight only moves the buckets between the old and new threshold: nobody already on
 * cloud flips back to legacy, and each user stays on one side while the weight holds.
 *
 * Every route is in one group unless it names its own (`stickyGroup`): a key has the same bucket
 * on all of them, so at equal weights a user who wrote to cloud on `/posts` also reads from cloud
 * on `/posts/:id` instead of getting legacy's 404.
 */

export const BUCKETS = 10_000

/** FNV-1a over UTF-16 code units, seeded; then murmur3's fmix32 to spread low-entropy keys. */
export function hashString(s: string, seed: number = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The group of routes that do not name one. */
export const DEFAULT_STICKY_GROUP = 'default'

/** The seed for a sticky group: its name hashed once at start, so the per-request hash covers only the key. */
export function groupSeed(group: string): number {
  // the NUL separates name from key so ('ab','c') and ('a','bc') differ
  return hashString(group + '\0')
}

export function bucketOf(key: string, seed: number): number {
  return fmix32(hashString(key, seed)) % BUCKETS
}

/** Looks up one cookie's value in a Cookie header without parsing the rest (RFC 6265 §5.4). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  let from = 0
  while (from < header.length) {
    let end = header.indexOf(';', from)
    if (end < 0) end = header.length
    const eq = header.indexOf('=', from)
    if (eq > from && eq < end && header.slice(from, eq).trim() === name) {
      return header.slice(eq + 1, end).trim()
    }
    from = end + 1
  }
  return undefined
}
