import { X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createSecureContext, type SecureContextOptions, type Server as TlsServer, type TlsOptions } from 'node:tls'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'

export type ListenerTlsConfig = NonNullable<CutoverConfig['listen']['tls']>

/** The PEM contents one listener serves with. Never logged: `key` is the private key. */
export interface ListenerCredentials {
  readonly cert: Buffer
  readonly key: Buffer
  readonly ca: Buffer | undefined
}

type FileField = 'certFile' | 'keyFile' | 'caFile'

function filesOf(tls: ListenerTlsConfig): [FileField, string][] {
  const out: [FileField, string][] = [
    ['certFile', tls.certFile],
    ['keyFile', tls.keyFile],
  ]
  if (tls.caFile !== undefined) out.push(['caFile', tls.caFile])
  return out
}

/** OpenSSL's reason without its `error:0A00018F:SSL routines::` prefix. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/^error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '')
}

function readProblem(field: string, path: string, err: unknown): string {
  return `${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? reasonOf(err)}`
}

/** `null` when OpenSSL accepts the options, else its reason. */
function refused(options: SecureContextOptions): string | null {
  try {
    createSecureContext(options)
    return null
  } catch (err) {
    return reasonOf(err)
  }
}

/**
 * Every reason the files cannot serve, as `path: message` (`prefix` is `listen.tls`): each file
 * on its own first, so the message names the file at fault, then the certificate and key as a pair.
 */
export function credentialProblems(creds: ListenerCredentials, prefix: string): string[] {
  const problems: string[] = []
  const cert = refused({ cert: creds.cert })
  if (cert !== null) problems.push(`${prefix}.certFile: is not a PEM certificate (${cert})`)
  const key = refused({ key: creds.key })
  if (key !== null) problems.push(`${prefix}.keyFile: is not a PEM private key without a passphrase (${key})`)
  if (creds.ca !== undefined) {
    const ca = refused({ ca: creds.ca })
    if (ca !== null) problems.push(`${prefix}.caFile: is not a PEM CA certificate list (${ca})`)
  }
  if (problems.length > 0) return problems
  const pair = refused(secureContextOptions(creds))
  if (pair !== null) problems.push(`${prefix}.keyFile: does not match the certificate in ${prefix}.certFile (${pair})`)
  return problems
}

/** What identifies the certificate in logs (never the key). */
export function certificateFacts(cert: Buffer): { serial: string; subject: string; validTo: string; expired: boolean } {
  const x = new X509Certificate(cert)
  return { serial: x.serialNumber, subject: x.subject.replace(/\n/g, ', '), validTo: x.validTo, expired: Date.parse(x.validTo) < Date.now() }
}

/** A stat of each file (following symlinks): a change of content, inode or a symlink swap changes it. */
function signatureOf(stats: readonly (string | { ino: number; size: number; mtimeMs: number; ctimeMs: number })[]): string {
  return stats.map((s) => (typeof s === 'string' ? s : `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`)).join('|')
}

function statSyncOrCode(path: string): string | { ino: number; size: number; mtimeMs: number; ctimeMs: number } {
  try {
    return statSync(path)
  } catch (err) {
    return `!${(err as NodeJS.ErrnoException).code ?? 'error'}`
  }
}

async function statOrCode(path: string): Promise<string | { ino: number; size: number; mtimeMs: number; ctimeMs: number }> {
  try {
    return await stat(path)
  } catch (err) {
    return `!${(err as NodeJS.ErrnoException).code ?? 'error'}`
  }
}

/** The credentials at start, with the files' signature taken before they were read. */
export interface LoadedCredentials {
  readonly credentials: ListenerCredentials
  readonly signature: string
}

/**
 * Reads and checks the listener's files at start. Throws CUTOVER_CONFIG_INVALID naming the field
 * (`listen.tls.certFile: cannot read /x/y.pem: ENOENT`) so the gateway does not start.
 */
export function loadListenerCredentials(tls: ListenerTlsConfig, prefix = 'listen.tls'): LoadedCredentials {
  // stat before reading: a change between the two is then seen by the first poll
  const signature = signatureOf(filesOf(tls).map(([, path]) => statSyncOrCode(path)))
  const read: Partial<Record<FileField, Buffer>> = {}
  const problems: string[] = []
  for (const [field, path] of filesOf(tls)) {
    try {
      read[field] = readFileSync(path)
    } catch (err) {
      problems.push(readProblem(`${prefix}.${field}`, path, err))
    }
  }
  if (problems.length === 0) {
    const credentials = { cert: read.certFile as Buffer, key: read.keyFile as Buffer, ca: read.caFile }
    problems.push(...credentialProblems(credentials, prefix))
    if (problems.length === 0) return { credentials, signature }
  }
  throw new CutoverError('CUTOVER_CONFIG_INVALID', `configuration is invalid:\n  ${problems.join('\n  ')}`, { details: problems })
}

function secureContextOptions(creds: ListenerCredentials): SecureContextOptions {
  return creds.ca === undefined ? { cert: creds.cert, key: creds.key } : { cert: creds.cert, key: creds.key, ca: creds.ca }
}

/** Options for the listening server: with `caFile`, every client must present a certificate it signed. */
export function serverTlsOptions(creds: ListenerCredentials, tls: ListenerTlsConfig): TlsOptions & { allowHTTP1?: boolean; settings?: { maxConcurrentStreams: number } } {
  return {
    ...secureContextOptions(creds),
    ...(creds.ca === undefined ? {} : { requestCert: true, rejectUnauthorized: true }),
    // HTTP/2 is offered by ALPN next to HTTP/1.1, never instead of it. Node lets a connection open
    // 2^32-1 streams at once by default: one client could hold any number of backend calls
    ...(tls.http2 ? { allowHTTP1: true, settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS } } : {}),
  }
}

/** Streams one HTTP/2 connection may have open at once (nginx's default, 128). */
export const H2_MAX_CONCURRENT_STREAMS = 128

/** `cutover_tls_reloads_total{result}`, once per registry. */
export function tlsReloadCounter(registry: Registry): Counter<'result'> {
  const existing = registry.getSingleMetric('cutover_tls_reloads_total')
  if (existing !== undefined) return existing as Counter<'result'>
  return new Counter({
    name: 'cutover_tls_reloads_total',
    help: 'Listener certificate reloads after its files changed: ok (new connections get the new certificate), error (the new files were refused; the previous certificate stays in use)',
    labelNames: ['result'],
    registers: [registry],
  })
}

export interface CertificateWatcherOptions {
  readonly server: TlsServer
  readonly tls: ListenerTlsConfig
  readonly loaded: LoadedCredentials
  readonly log: Logger
  readonly reloads: Counter<'result'>
  readonly prefix?: string
}

/**
 * Polls the listener's files (a stat each interval, which follows symlinks, so a Kubernetes
 * secret's `..data` swap or an editor's write-and-rename is seen like an in-place write) and, once
 * a change has held still for one interval, reads them, checks the pair and hands it to
 * `server.setSecureContext`: connections made from then on get the new certificate, those already
 * open keep theirs. A pair that does not serve is logged and the previous one stays in use.
 */
export class CertificateWatcher {
  readonly #opts: CertificateWatcherOptions
  readonly #prefix: string
  #current: ListenerCredentials
  /** the signature seen at the last poll */
  #seen: string
  /** the signature last acted on (loaded at start, reloaded, or refused) */
  #tried: string
  #timer: NodeJS.Timeout | null = null
  #polling: Promise<void> | null = null

  constructor(opts: CertificateWatcherOptions) {
    this.#opts = opts
    this.#prefix = opts.prefix ?? 'listen.tls'
    this.#current = opts.loaded.credentials
    this.#seen = opts.loaded.signature
    this.#tried = opts.loaded.signature
  }

  start(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => {
      this.#polling ??= this.#poll().finally(() => (this.#polling = null))
    }, this.#opts.tls.reloadIntervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#polling
  }

  async #poll(): Promise<void> {
    const signature = signatureOf(await Promise.all(filesOf(this.#opts.tls).map(([, path]) => statOrCode(path))))
    if (signature !== this.#seen) {
      // still changing (a cert written before its key): act once it holds still
      this.#seen = signature
      return
    }
    if (signature === this.#tried) return
    this.#tried = signature
    await this.#reload()
  }

  async #reload(): Promise<void> {
    const { log, reloads, server } = this.#opts
    const read: Partial<Record<FileField, Buffer>> = {}
    const problems: string[] = []
    for (const [field, path] of filesOf(this.#opts.tls)) {
      try {
        read[field] = await readFile(path)
      } catch (err) {
        problems.push(readProblem(`${this.#prefix}.${field}`, path, err))
      }
    }
    const next: ListenerCredentials = { cert: read.certFile ?? Buffer.alloc(0), key: read.keyFile ?? Buffer.alloc(0), ca: read.caFile }
    if (problems.length === 0) {
      // touched, remounted, copied over with the same bytes: nothing to load
      if (same(next, this.#current)) return
      problems.push(...credentialProblems(next, this.#prefix))
    }
    if (problems.length > 0) {
      reloads.labels('error').inc()
      log.error({ problems }, `listener certificate not reloaded, the previous one stays in use: ${problems.join('; ')}`)
      return
    }
    server.setSecureContext(secureContextOptions(next))
    this.#current = next
    reloads.labels('ok').inc()
    const facts = certificateFacts(next.cert)
    log.info({ certificate: facts }, 'listener certificate reloaded: new connections get it')
    if (facts.expired) log.warn({ certificate: facts }, 'the reloaded listener certificate has expired')
  }
}

function same(a: ListenerCredentials, b: ListenerCredentials): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca))
}
