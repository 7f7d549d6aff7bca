import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { logLevel, type KafkaConfig, type RetryOptions, type SASLOptions } from 'kafkajs'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'

export type KafkaSettings = NonNullable<CutoverConfig['kafka']>

/** What differs between Cutover's Kafka clients: how long each waits and retries. */
export interface KafkaTuning {
  readonly connectionTimeout?: number
  readonly requestTimeout?: number
  readonly retry?: RetryOptions
}

interface KafkaSecurity {
  readonly ssl?: ConnectionOptions
  readonly sasl?: SASLOptions
}

/**
 * The options of every kafkajs client Cutover makes (publisher, control log, id topic, replay,
 * readiness counts): brokers, `<clientId>-<suffix>`, TLS and SASL from the config, no kafkajs
 * logging. Certificate and password files and the password variable are read here, at client
 * start; a source that cannot be read throws CUTOVER_CONFIG_INVALID naming the field.
 */
export function kafkaClientOptions(kafka: KafkaSettings, clientIdSuffix: string | null, tuning: KafkaTuning = {}, env: NodeJS.ProcessEnv = process.env): KafkaConfig {
  const security = kafkaSecurity(kafka, env)
  return {
    clientId: clientIdSuffix === null ? kafka.clientId : `${kafka.clientId}-${clientIdSuffix}`,
    brokers: [...kafka.brokers],
    logLevel: logLevel.NOTHING,
    ...tuning,
    ...(tuning.retry === undefined ? {} : { retry: { ...tuning.retry } }),
    ...(security.ssl === undefined ? {} : { ssl: security.ssl }),
    ...(security.sasl === undefined ? {} : { sasl: security.sasl }),
  }
}

/** Every TLS or SASL source of `kafka` that cannot be read, as `path: message` (`cutover check`). */
export function kafkaSecurityProblems(kafka: KafkaSettings | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (kafka === undefined) return []
  const problems: string[] = []
  readSecurity(kafka, env, problems)
  return problems
}

/** Throws CUTOVER_CONFIG_INVALID when a TLS or SASL source cannot be read: at start, not at first publish. */
export function checkKafkaSecurity(kafka: KafkaSettings | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (kafka !== undefined) kafkaSecurity(kafka, env)
}

function kafkaSecurity(kafka: KafkaSettings, env: NodeJS.ProcessEnv): KafkaSecurity {
  const problems: string[] = []
  const security = readSecurity(kafka, env, problems)
  if (problems.length > 0) throw new CutoverError('CUTOVER_CONFIG_INVALID', `configuration is invalid:\n  ${problems.join('\n  ')}`, { details: problems })
  return security
}

function readSecurity(kafka: KafkaSettings, env: NodeJS.ProcessEnv, problems: string[]): KafkaSecurity {
  const file = (path: readonly string[], name: string | undefined): string | undefined => {
    if (name === undefined) return undefined
    try {
      return readFileSync(name, 'utf8')
    } catch (err) {
      // the code and the file name only: a message could quote what was read
      problems.push(`kafka.${path.join('.')}: cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      return undefined
    }
  }
  let ssl: ConnectionOptions | undefined
  if (kafka.ssl !== undefined) {
    const ca = file(['ssl', 'caFile'], kafka.ssl.caFile)
    const cert = file(['ssl', 'certFile'], kafka.ssl.certFile)
    const key = file(['ssl', 'keyFile'], kafka.ssl.keyFile)
    ssl = { rejectUnauthorized: kafka.ssl.rejectUnauthorized, ...(ca === undefined ? {} : { ca: [ca] }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) }
  }
  let sasl: SASLOptions | undefined
  if (kafka.sasl !== undefined) {
    const password = saslPassword(kafka.sasl, env, problems, file)
    if (password !== undefined) sasl = { mechanism: kafka.sasl.mechanism, username: kafka.sasl.username, password } as SASLOptions
  }
  return { ...(ssl === undefined ? {} : { ssl }), ...(sasl === undefined ? {} : { sasl }) }
}

type SaslSettings = NonNullable<KafkaSettings['sasl']>

function saslPassword(sasl: SaslSettings, env: NodeJS.ProcessEnv, problems: string[], file: (path: readonly string[], name: string | undefined) => string | undefined): string | undefined {
  if (sasl.password !== undefined) return sasl.password
  if (sasl.passwordEnv !== undefined) {
    const value = env[sasl.passwordEnv]
    if (value === undefined || value === '') problems.push(`kafka.sasl.passwordEnv: environment variable ${sasl.passwordEnv} is not set`)
    return value === '' ? undefined : value
  }
  // a secret file usually ends with a newline the password does not have
  const value = file(['sasl', 'passwordFile'], sasl.passwordFile)?.replace(/\r?\n$/, '')
  if (value === '') problems.push(`kafka.sasl.passwordFile: ${sasl.passwordFile ?? ''} is empty`)
  return value === '' ? undefined : value
}

/** Read once per (frozen) kafka section: a publisher failing every second does not reread the file. */
const passwords = new WeakMap<KafkaSettings, string | null>()

/** The configured password, when it can be read: to keep it out of every message. */
function knownPassword(kafka: KafkaSettings): string | undefined {
  if (kafka.sasl === undefined) return undefined
  let known = passwords.get(kafka)
  if (known === undefined) {
    try {
      known = saslPassword(kafka.sasl, process.env, [], (_path, name) => (name === undefined ? undefined : readFileSync(name, 'utf8'))) ?? null
    } catch {
      known = null
    }
    passwords.set(kafka, known)
  }
  return known ?? undefined
}

/** Node's codes for a certificate the client does not accept, and for a failed TLS handshake. */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/

interface ErrorLike {
  readonly name?: string
  readonly message?: string
  readonly code?: string
  readonly broker?: string
  readonly cause?: unknown
  readonly originalError?: unknown
}

/** The error and what kafkajs wrapped in it (retries exceeded, non-retriable, …), outermost first. */
function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = []
  let e: unknown = err
  while (e !== null && typeof e === 'object' && !out.includes(e as ErrorLike) && out.length < 10) {
    out.push(e as ErrorLike)
    const next: ErrorLike = e
    e = next.cause ?? next.originalError
  }
  return out
}

/**
 * One line an operator can act on for a failed Kafka call, never a kafkajs stack and never the
 * password: `kafka: SASL authentication failed for user 'x' (scram-sha-512)`, a TLS failure
 * naming the broker and the certificate problem, or `kafka: <kafkajs message>` otherwise.
 */
export function kafkaErrorMessage(err: unknown, kafka: KafkaSettings): string {
  const errors = chain(err)
  let message: string
  const tls = errors.find((e) => typeof e.code === 'string' && TLS_CODE.test(e.code))
  if (kafka.sasl !== undefined && errors.some((e) => e.name === 'KafkaJSSASLAuthenticationError')) {
    message = `kafka: SASL authentication failed for user '${kafka.sasl.username}' (${kafka.sasl.mechanism})`
  } else if (tls !== undefined) {
    const reason = (tls.message ?? '').replace(/^Connection error: /, '')
    const hint = kafka.ssl?.caFile === undefined ? ' (kafka.ssl.caFile names the CA that signed the broker certificate)' : ''
    message = `kafka: TLS connection to ${tls.broker ?? kafka.brokers.join(',')} failed: ${reason}${hint}`
  } else {
    message = `kafka: ${errors[0]?.message ?? String(err)}`
  }
  const password = knownPassword(kafka)
  return password === undefined ? message : message.replaceAll(password, '[redacted]')
}

/** `kafkaErrorMessage` as an Error (no cause: a logged cause would bring the kafkajs stack back). */
export function kafkaError(err: unknown, kafka: KafkaSettings): Error {
  const e = new Error(kafkaErrorMessage(err, kafka))
  e.name = 'KafkaError'
  return e
}

/** A kafkajs error as `kafkaError`; any other error as it is. */
export function asKafkaError(err: unknown, kafka: KafkaSettings): unknown {
  if (err instanceof CutoverError) return err
  return chain(err).some((e) => e.name?.startsWith('KafkaJS') === true) ? kafkaError(err, kafka) : err
}

/** True for a failure no retry fixes: wrong credentials or a certificate the client refuses. */
export function isKafkaSetupFailure(err: unknown): boolean {
  return chain(err).some((e) => e.name === 'KafkaJSSASLAuthenticationError' || (typeof e.code === 'string' && TLS_CODE.test(e.code)))
}
