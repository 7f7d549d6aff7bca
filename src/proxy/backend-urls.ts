import type { IncomingHttpHeaders } from 'node:http'

/** The headers whose whole value is one URL. */
const URL_HEADERS = ['location', 'content-location'] as const

/**
 * Rewrites a backend's own address in the response headers that carry URLs back to the address
 * the client used, as nginx's `proxy_redirect default` and `proxy_cookie_domain` do: a backend
 * that builds absolute URLs from the Host it received (undici sends the backend's) would
 * otherwise hand clients `location: http://10.0.0.7:4001/comments/46`.
 *
 * - `Location`, `Content-Location` (RFC 9110 §10.2.2, §8.7): a value starting with the backend's
 *   URL (origin + base path) gets the client's origin instead; relative values are left alone.
 * - `Link` (RFC 8288 §3): each `<target>` likewise.
 * - `Set-Cookie` (RFC 6265 §5.2.3): a `Domain` naming the backend's host names the client's.
 */
export class BackendUrls {
  /** lower-case, longest first: `http://h:4001/base`, then `http://h:4001` (and the default-port spellings) */
  readonly #prefixes: readonly string[]
  readonly #hostnames: ReadonlySet<string>

  /** `backendUrls`: every endpoint of the backend (`urls`), any of which may name itself in an answer. */
  constructor(backendUrls: string | readonly string[]) {
    const prefixes: string[] = []
    const hostnames = new Set<string>()
    for (const backendUrl of typeof backendUrls === 'string' ? [backendUrls] : backendUrls) {
      const url = new URL(backendUrl)
      const base = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
      const origins = [url.origin]
      // `new URL` drops a default port; a backend may still spell it out
      if (url.port === '') origins.push(`${url.protocol}//${url.hostname}:${url.protocol === 'https:' ? 443 : 80}`)
      for (const o of origins) {
        if (base !== '') prefixes.push(o + base)
        prefixes.push(o)
      }
      hostnames.add(url.hostname.toLowerCase())
    }
    this.#prefixes = prefixes.map((p) => p.toLowerCase()).sort((a, b) => b.length - a.length)
    this.#hostnames = hostnames
  }

  /** `url` with the backend's prefix replaced by `client` (an origin), or null when it is not the backend's. */
  rewriteUrl(url: string, client: string): string | null {
    const lower = url.slice(0, 512).toLowerCase()
    for (const prefix of this.#prefixes) {
      if (!lower.startsWith(prefix)) continue
      const next = url.charAt(prefix.length)
      // a whole origin or path segment only: `http://h:4001` must not match `http://h:40010`
      if (next === '' || next === '/' || next === '?' || next === '#') return client + (next === '' ? '/' : url.slice(prefix.length))
    }
    return null
  }

  /**
   * Rewrites the headers in place for a client that reached the gateway at `client`
   * (`http://host:port`, whose host part is `clientHostname`). True when something changed.
   */
  rewrite(headers: IncomingHttpHeaders, client: string, clientHostname: string): boolean {
    let changed = false
    for (const name of URL_HEADERS) {
      const v = headers[name]
      if (typeof v !== 'string') continue
      const next = this.rewriteUrl(v, client)
      if (next !== null) {
        headers[name] = next
        changed = true
      }
    }
    const link = headers.link
    if (link !== undefined) {
      const values = Array.isArray(link) ? link : [link]
      const next = values.map((value) =>
        value.replace(/<([^>]*)>/g, (whole, target: string) => {
          const r = this.rewriteUrl(target, client)
          if (r === null) return whole
          changed = true
          return `<${r}>`
        }),
      )
      headers.link = Array.isArray(link) ? next : (next[0] as string)
    }
    // undici hands a single Set-Cookie over as a string, several as an array
    const cookies = headers['set-cookie'] as string | string[] | undefined
    if (cookies !== undefined) {
      headers['set-cookie'] = (typeof cookies === 'string' ? [cookies] : cookies).map((cookie) =>
        cookie.replace(/(;\s*domain\s*=\s*)([^;]*)/gi, (whole, attr: string, domain: string) => {
          if (!this.#hostnames.has(domain.trim().replace(/^\./, '').toLowerCase())) return whole
          changed = true
          return attr + clientHostname
        }),
      )
    }
    return changed
  }
}

/** The host part of a Host header value: `example.com:8080` → `example.com`, `[::1]:80` → `[::1]`. */
export function hostnameOf(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return end < 0 ? host : host.slice(0, end + 1)
  }
  const colon = host.indexOf(':')
  return colon < 0 ? host : host.slice(0, colon)
}
