import { mkdtempSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { request } from 'undici'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { startGateway, type Gateway } from '../../src/gateway.ts'

export const TOKEN = 'test-token-0123456789abcdef'

export function tempDir(prefix = 'cutover-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A config on free ports with a fresh state file; `extra` is merged over it. */
export function testConfig(legacyUrl: string, cloudUrl: string, extra: Partial<CutoverConfigInput> = {}): CutoverConfigInput {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: TOKEN },
    backends: { legacy: { url: legacyUrl, timeoutMs: 2000 }, cloud: { url: cloudUrl, timeoutMs: 2000 } },
    routes: [],
    state: { file: join(tempDir(), 'state.json') },
    spool: { dir: join(tempDir(), 'spool') },
    ...extra,
  }
}

export async function gatewayFor(input: CutoverConfigInput): Promise<Gateway> {
  return startGateway(validateConfig(input), { log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), processMetrics: false })
}

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: () => unknown
}

export async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) }
}

export function admin(gw: Gateway, path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown; token?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) }
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  return call(gw.adminUrl + path, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}) })
}

/**
 * Sends bytes exactly as given (HTTP clients normalise paths and drop hop-by-hop headers, which
 * is what some tests must not have) and returns the raw answer once the server closes.
 */
export async function rawHttp(baseUrl: string, head: string, body = ''): Promise<{ status: number; raw: string; body: string }> {
  const { connect } = await import('node:net')
  const port = Number(new URL(baseUrl).port)
  const raw = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(head.replace(/\n/g, '\r\n') + body))
    let text = ''
    s.setEncoding('latin1')
    s.on('data', (c: string) => (text += c))
    s.on('error', reject)
    s.on('close', () => resolve(text))
  })
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0)
  return { status, raw, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) }
}

/**
 * One GET on a fresh connection (no keep-alive), so that `--workers` spreads requests over the
 * workers. Resolves with the status and the backend that served it.
 */
export function freshGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; backend: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-cutover-backend']) }))
    }).on('error', reject)
  })
}
