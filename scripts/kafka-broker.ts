/**
 * The project's own Kafka test broker: a single-node KRaft broker run from jars that Maven
 * resolves (scripts/kafka/pom.xml), so tests need neither Docker nor a Kafka tarball.
 * See scripts/kafka/README.md.
 *
 * As a module:
 *   const broker = await startBroker()          // fetches jars on first use
 *   broker.brokers                              // "127.0.0.1:<port>"
 *   await broker.stop()
 *
 * As a CLI:
 *   npx tsx scripts/kafka-broker.ts fetch       // download the jars into .cache/kafka (idempotent)
 *   npx tsx scripts/kafka-broker.ts run         // start, print KAFKA_BROKERS=..., stop on SIGINT/SIGTERM
 *   npx tsx scripts/kafka-broker.ts start       // start in the background (state in .cache/kafka/broker.json)
 *   npx tsx scripts/kafka-broker.ts stop        // stop the background broker
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'

// kafkajs v2 prints a long warning about its default partitioner on every producer() call.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1'

const SCRIPTS_DIR = dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = resolve(SCRIPTS_DIR, '..')
const POM_FILE = join(SCRIPTS_DIR, 'kafka', 'pom.xml')
const LOG4J2_CONFIG = join(SCRIPTS_DIR, 'kafka', 'log4j2.properties')
/** Jars live in .cache/kafka/<version>/libs; Maven's own cache (~/.m2) sits underneath that. */
export const CACHE_ROOT = join(REPO_ROOT, '.cache', 'kafka')
/** State of the broker started by `kafka-broker.ts start`, read by `kafka-broker.ts stop`. */
const BACKGROUND_STATE_FILE = join(CACHE_ROOT, 'broker.json')

/** Small heap, serial GC and C1-only JIT: starts in a few seconds and stays well under 1 GB RSS. */
const JVM_FLAGS = ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData']
/** Logged by kafka.server.KafkaRaftServer once both the controller and the broker are up. */
const STARTED_LINE = 'Kafka Server started'
const DEFAULT_START_TIMEOUT_MS = 90_000
const STOP_GRACE_MS = 10_000
const LOG_TAIL_LINES = 50

export type Log = (line: string) => void
/** Progress goes to stderr so stdout stays parseable (KAFKA_BROKERS=...). */
const defaultLog: Log = (line) => process.stderr.write(`[kafka-broker] ${line}\n`)

// ---------------------------------------------------------------------------------------------
// Jars
// ---------------------------------------------------------------------------------------------

/** The Kafka version, read from <kafka.version> in scripts/kafka/pom.xml (the single source). */
export async function kafkaVersion(): Promise<string> {
  const pom = await readFile(POM_FILE, 'utf8')
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom)
  if (!match?.[1]) throw new Error(`no <kafka.version> property in ${POM_FILE}`)
  return match[1]
}

interface JarsMarker {
  version: string
  /** Hash of pom.xml: any edit to the pom (versions, binding) invalidates the cache. */
  pomSha256: string
  jars: string[]
  fetchedAt: string
}

async function readMarker(markerFile: string): Promise<JarsMarker | undefined> {
  try {
    return JSON.parse(await readFile(markerFile, 'utf8')) as JarsMarker
  } catch {
    return undefined
  }
}

async function isComplete(libsDir: string, markerFile: string, pomSha256: string): Promise<boolean> {
  const marker = await readMarker(markerFile)
  if (!marker || marker.pomSha256 !== pomSha256 || !Array.isArray(marker.jars) || marker.jars.length === 0) return false
  try {
    const present = new Set(await readdir(libsDir))
    return marker.jars.every((jar) => present.has(jar))
  } catch {
    return false
  }
}

export interface FetchOptions {
  log?: Log
  /** Say nothing when the jars are already cached (startBroker's own check). */
  quiet?: boolean
}

/**
 * Makes sure the broker's jars are in .cache/kafka/<version>/libs and returns that folder.
 * Idempotent: when the marker file says the folder is complete for the current pom, Maven is not
 * run at all. Otherwise Maven copies the jars into a staging folder that is renamed into place
 * only after success, so an interrupted fetch never leaves a half-filled libs folder behind.
 */
export async function fetchJars(options: FetchOptions = {}): Promise<string> {
  const log = options.log ?? defaultLog
  const version = await kafkaVersion()
  const pomSha256 = createHash('sha256').update(await readFile(POM_FILE)).digest('hex')
  const versionDir = join(CACHE_ROOT, version)
  const libsDir = join(versionDir, 'libs')
  const markerFile = join(versionDir, 'libs.complete.json')

  if (await isComplete(libsDir, markerFile, pomSha256)) {
    if (!options.quiet) log(`Kafka ${version} jars are cached in ${relative(REPO_ROOT, libsDir)}`)
    return libsDir
  }

  log(`fetching Kafka ${version} jars with Maven into ${relative(REPO_ROOT, libsDir)} (first run downloads ~45 MB)`)
  const started = performance.now()
  await mkdir(versionDir, { recursive: true })
  const staging = await mkdtemp(join(versionDir, 'libs.partial-'))
  try {
    await runMaven(['-B', '-q', '-Dstyle.color=never', '-f', POM_FILE, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`])
    const jars = (await readdir(staging)).filter((name) => name.endsWith('.jar')).sort()
    for (const required of [`kafka_2.13-${version}.jar`, `kafka-clients-${version}.jar`]) {
      if (!jars.includes(required)) throw new Error(`Maven finished but ${required} is missing from ${staging}`)
    }
    if (!jars.some((name) => name.startsWith('log4j-slf4j'))) {
      // Without an SLF4J binding the broker logs nothing and readiness would never be detected.
      throw new Error('Maven finished but no log4j-slf4j binding jar was copied; check scripts/kafka/pom.xml')
    }
    // Another process (a parallel test run) may have finished the same fetch meanwhile.
    if (await isComplete(libsDir, markerFile, pomSha256)) {
      await rm(staging, { recursive: true, force: true })
    } else {
      await rm(libsDir, { recursive: true, force: true })
      await rename(staging, libsDir)
      const marker: JarsMarker = { version, pomSha256, jars, fetchedAt: new Date().toISOString() }
      await writeFile(markerFile, `${JSON.stringify(marker, null, 2)}\n`)
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    log(`fetched ${jars.length} jars for Kafka ${version} in ${seconds} s`)
    return libsDir
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}

function runMaven(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // Maven's own output (errors only, thanks to -q) goes to our stderr. Maven 3.8 still emits
    // bare ANSI reset codes with -B when not on a terminal, so strip escape sequences.
    const child = spawn('mvn', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const forward = (chunk: Buffer): void => {
      // eslint-disable-next-line no-control-regex -- matching ESC is the point
      const text = chunk.toString('utf8').replace(/\u001b\[[0-9;]*m/g, '')
      if (text.trim() !== '') process.stderr.write(text)
    }
    child.stdout.on('data', forward)
    child.stderr.on('data', forward)
    child.once('error', (err) => reject(new Error(`could not run Maven (mvn on PATH?): ${err.message}`)))
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise()
      else reject(new Error(`mvn ${args.join(' ')} failed (${signal ?? `exit code ${String(code)}`})`))
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Broker
// ---------------------------------------------------------------------------------------------

export interface StartBrokerOptions {
  /** Client (PLAINTEXT) port on 127.0.0.1. Default: a free port, so a developer's own broker on 9092 never clashes. */
  port?: number
  /** KRaft controller port on 127.0.0.1. Default: a free port. */
  controllerPort?: number
  /**
   * Where server.properties, broker.log and the Kafka data (kraft/) live. Default: a fresh temp
   * dir. Without keepData it must be empty or absent (it is removed by stop()).
   */
  dataDir?: string
  /**
   * Reuse the data already in dataDir (no re-format, same cluster id, topics and offsets
   * survive) and keep dataDir when the broker stops. Used to restart a broker on the same
   * ports and data so that clients reconnect; see restartOptions on the returned handle.
   */
  keepData?: boolean
  /**
   * Extra or overriding server.properties entries, e.g. { 'broker.session.timeout.ms': 3000 }
   * to shorten the wait after a SIGKILL restart (see README).
   */
  serverProperties?: Record<string, string | number | boolean>
  /**
   * Listeners with authentication and/or TLS besides the PLAINTEXT one, for testing clients of a
   * managed cluster. The PLAINTEXT listener stays (the readiness round trip uses it).
   */
  secure?: SecureListenerOptions
  /** Overall deadline for format + JVM start + readiness round trip. Default 90 s. */
  timeoutMs?: number
  /**
   * Let the JVM outlive this Node process (used by the `start` CLI). Otherwise the JVM is
   * killed when this process exits, even if stop() was never called.
   */
  detached?: boolean
  log?: Log
}

export interface SaslUser {
  name: string
  /** Kept in server.properties (PLAIN) and in the SCRAM credentials: test passwords only. */
  password: string
}

export interface SecureListenerOptions {
  /**
   * SASL users. Adds a SASL_PLAINTEXT listener with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
   * enabled; every user can log in with each of the three (SCRAM credentials are written when the
   * storage is formatted, PLAIN users live in the listener's JAAS config).
   */
  users?: readonly SaslUser[]
  /**
   * Adds an SSL listener whose certificate (for 127.0.0.1 and localhost) is signed by a CA made
   * for this broker with the openssl CLI; its certificate is `caFile` on the returned handle.
   * With `users` as well, also a SASL_SSL listener (the usual managed-cluster setup).
   */
  tls?: boolean
  /** Ports of these listeners on 127.0.0.1. Default: free ports. */
  saslPort?: number
  sslPort?: number
  saslSslPort?: number
}

/** Bootstrap lists of the secure listeners that were asked for. */
export interface SecureListeners {
  /** SASL_PLAINTEXT */
  sasl?: string
  /** SSL (TLS, no authentication) */
  ssl?: string
  /** SASL_SSL */
  saslSsl?: string
  /** PEM file of the CA that signed the broker's certificate (with `tls`) */
  caFile?: string
}

export interface StopOptions {
  /** SIGTERM (default) is a clean shutdown; SIGKILL simulates a crash. */
  signal?: 'SIGTERM' | 'SIGKILL'
  /** Overrides the keepData given to startBroker (e.g. true to restart later, false to clean up). */
  keepData?: boolean
}

export interface RestartOptions {
  port: number
  controllerPort: number
  dataDir: string
  keepData: true
  serverProperties?: Record<string, string | number | boolean>
  /** the same secure listeners on the same ports (the certificate in dataDir is reused) */
  secure?: SecureListenerOptions
}

export interface KafkaBroker {
  /** Bootstrap list for clients: "127.0.0.1:<port>". */
  brokers: string
  port: number
  controllerPort: number
  dataDir: string
  /** The broker's console log (WARN and above, plus the started line). */
  logFile: string
  pid: number
  /** The secure listeners asked for with `secure` (empty without it). */
  secure: SecureListeners
  /** Pass to startBroker() after stop({ keepData: true }) to bring the same broker back. */
  restartOptions: RestartOptions
  /** SIGTERM, up to 10 s grace, then SIGKILL; removes dataDir unless data is kept. Idempotent. */
  stop(options?: StopOptions): Promise<void>
}

/** JVMs started by this process and not yet stopped, killed if this process exits. */
const liveBrokers = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // 'exit' handlers must be synchronous: a best-effort SIGKILL so that a crashed test run or a
  // forgotten stop() does not leave a JVM holding ports and memory.
  process.on('exit', () => {
    for (const child of liveBrokers) child.kill('SIGKILL')
  })
}

function javaBinary(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
}

/** Binds port 0 on 127.0.0.1 to let the OS pick free ports; all are held until every one is picked so they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolvePromise, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', resolvePromise)
      })
    }
    return servers.map((server) => (server.address() as AddressInfo).port)
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolvePromise) => server.close(() => resolvePromise()))))
  }
}

/** A KRaft cluster id: 16 random bytes as 22 chars of unpadded base64url (Kafka avoids a leading '-'). */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function serverProperties(
  port: number,
  controllerPort: number,
  kraftDir: string,
  overrides: Record<string, string | number | boolean> = {},
  secure: ResolvedSecure | undefined = undefined,
): string {
  const extra = secure === undefined ? undefined : secureProperties(secure)
  const props: Record<string, string | number | boolean> = {
    // Single node that is both controller and broker (KRaft combined mode).
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    // 127.0.0.1, not localhost: Node may resolve localhost to ::1 first.
    listeners: [`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`, ...(extra?.listeners ?? [])].join(','),
    'advertised.listeners': [`PLAINTEXT://127.0.0.1:${port}`, ...(extra?.listeners ?? [])].join(','),
    'listener.security.protocol.map': ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...(extra?.protocols ?? []).map((p) => `${p}:${p}`)].join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': kraftDir,
    // Internal topics default to replication factor 3; with one node consumer groups would hang
    // on "The group coordinator is not available" without these.
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Tests: no 3 s wait before the first rebalance, topics appear on first use.
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
    'num.partitions': 1,
    ...extra?.properties,
    ...overrides,
  }
  const lines = Object.entries(props).map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
  return `# Written by scripts/kafka-broker.ts\n${lines.join('\n')}\n`
}

/** java.util.Properties syntax: a backslash escapes, and a newline inside a value is written \n. */
function escapeProperty(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}

// ---------------------------------------------------------------------------------------------
// Secure listeners (SASL, TLS)
// ---------------------------------------------------------------------------------------------

const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const

/** SecureListenerOptions with every port chosen and the certificate made. */
interface ResolvedSecure {
  users: readonly SaslUser[]
  saslPort?: number
  sslPort?: number
  saslSslPort?: number
  tls?: TlsMaterial
}

interface TlsMaterial {
  caFile: string
  /** the broker's certificate followed by the CA's, PEM */
  chain: string
  /** the broker's private key, unencrypted PKCS#8 PEM */
  key: string
}

/** Listener, protocol and JAAS entries of the secure listeners. */
function secureProperties(secure: ResolvedSecure): { listeners: string[]; protocols: string[]; properties: Record<string, string> } {
  const listeners: string[] = []
  const protocols: string[] = []
  const properties: Record<string, string> = {}
  const add = (protocol: 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL', listenerPort: number | undefined): void => {
    if (listenerPort === undefined) return
    listeners.push(`${protocol}://127.0.0.1:${listenerPort}`)
    protocols.push(protocol)
    if (protocol.startsWith('SASL_')) Object.assign(properties, saslListenerProperties(protocol.toLowerCase(), secure.users))
  }
  add('SASL_PLAINTEXT', secure.saslPort)
  add('SSL', secure.sslPort)
  add('SASL_SSL', secure.saslSslPort)
  if (secure.saslPort !== undefined || secure.saslSslPort !== undefined) properties['sasl.enabled.mechanisms'] = SASL_MECHANISMS.join(',')
  if (secure.tls !== undefined) {
    // PEM inline: no keystore file, no keystore password (the key is unencrypted)
    properties['ssl.keystore.type'] = 'PEM'
    properties['ssl.keystore.certificate.chain'] = secure.tls.chain
    properties['ssl.keystore.key'] = secure.tls.key
    properties['ssl.client.auth'] = 'none'
  }
  return { listeners, protocols, properties }
}

/**
 * JAAS entries of one SASL listener: PLAIN checks the user_<name>="<password>" options, SCRAM
 * checks the credentials in the cluster metadata (written by the format tool), so its module
 * takes no options.
 */
function saslListenerProperties(listener: string, users: readonly SaslUser[]): Record<string, string> {
  const quote = (value: string): string => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
  const plainUsers = users.map((u) => `user_${u.name}=${quote(u.password)}`).join(' ')
  return {
    [`listener.name.${listener}.plain.sasl.jaas.config`]: `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    [`listener.name.${listener}.scram-sha-256.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    [`listener.name.${listener}.scram-sha-512.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  }
}

/** `--add-scram` arguments of the format tool: each user gets both SCRAM mechanisms. */
function scramFormatArgs(users: readonly SaslUser[]): string[] {
  for (const u of users) {
    // the format tool's [name=...,password=...] syntax has no escaping
    if (!/^[A-Za-z0-9._-]+$/.test(u.name) || /[,\][="\\]/.test(u.password)) throw new Error(`SASL user ${u.name}: use letters, digits, . _ - in names and no , ] [ = " \\ in passwords`)
  }
  return users.flatMap((u) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${u.name},password=${u.password}]`]))
}

/**
 * A CA and a broker certificate for 127.0.0.1/localhost, made with the openssl CLI in
 * <dataDir>/tls (kept and reused when the data is kept, so a restarted broker has the same CA).
 */
async function tlsMaterial(dataDir: string): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls')
  const caFile = join(dir, 'ca.pem')
  const certFile = join(dir, 'broker.pem')
  const keyFile = join(dir, 'broker.key')
  if (!(await exists(keyFile)) || !(await exists(certFile))) {
    await mkdir(dir, { recursive: true })
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc']
    await runOpenssl(['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', caFile, '-days', '30', '-subj', '/CN=cutover test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
    await runOpenssl(['req', ...ec, '-keyout', keyFile, '-out', join(dir, 'broker.csr'), '-subj', '/CN=127.0.0.1'], dir)
    await writeFile(join(dir, 'broker.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    await runOpenssl(['x509', '-req', '-in', join(dir, 'broker.csr'), '-CA', caFile, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', certFile, '-days', '30', '-extfile', join(dir, 'broker.ext')], dir)
  }
  const [cert, ca, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(caFile, 'utf8'), readFile(keyFile, 'utf8')])
  return { caFile, chain: `${cert.trim()}\n${ca.trim()}\n`, key }
}

function runOpenssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.once('error', (err) => reject(new Error(`could not run openssl (needed for the TLS listener; on Debian: apt-get install openssl): ${err.message}`)))
    child.once('close', (code, signal) => {
      if (code === 0) resolvePromise()
      else reject(new Error(`openssl ${args[0] ?? ''} failed (${describeExit({ code, signal })}):\n${output}`))
    })
  })
}

/** Picks the secure listeners' ports and makes the certificate. */
async function resolveSecure(options: SecureListenerOptions | undefined, dataDir: string): Promise<ResolvedSecure | undefined> {
  if (options === undefined) return undefined
  const users = options.users ?? []
  const sasl = users.length > 0
  const tls = options.tls ?? false
  const free = await freePorts(3)
  const secure: ResolvedSecure = { users }
  if (sasl) secure.saslPort = options.saslPort ?? free[0]
  if (tls) secure.sslPort = options.sslPort ?? free[1]
  if (sasl && tls) secure.saslSslPort = options.saslSslPort ?? free[2]
  if (tls) secure.tls = await tlsMaterial(dataDir)
  return secure
}

function secureListeners(secure: ResolvedSecure | undefined): SecureListeners {
  const at = (p: number | undefined): string | undefined => (p === undefined ? undefined : `127.0.0.1:${p}`)
  return {
    ...(secure?.saslPort === undefined ? {} : { sasl: at(secure.saslPort) }),
    ...(secure?.sslPort === undefined ? {} : { ssl: at(secure.sslPort) }),
    ...(secure?.saslSslPort === undefined ? {} : { saslSsl: at(secure.saslSslPort) }),
    ...(secure?.tls === undefined ? {} : { caFile: secure.tls.caFile }),
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

async function isEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length === 0
  } catch {
    return true // absent counts as empty
  }
}

/** Last lines of `file` written after byte `fromOffset` (this run's part of an appended log). */
async function logTail(file: string, fromOffset = 0, lines = LOG_TAIL_LINES): Promise<string> {
  try {
    const text = (await readFile(file)).subarray(fromOffset).toString('utf8')
    return text.trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

function describeExit(exit: ExitInfo): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`
}

/** Runs a short-lived java command (the storage format tool), failing with its output. */
function runJava(args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(javaBinary(), args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.once('error', (err) => reject(new Error(`could not run ${javaBinary()}: ${err.message}`)))
    child.once('close', (code, signal) => {
      if (code === 0) resolvePromise()
      else reject(new Error(`java ${args.slice(-6).join(' ')} failed (${describeExit({ code, signal })}):\n${output}`))
    })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolvePromise) => setTimeout(resolvePromise, ms))

/**
 * Starts a single-node KRaft broker and resolves once it serves clients: the JVM has logged
 * "Kafka Server started" and a kafkajs admin round trip (describeCluster + createTopics with
 * waitForLeaders) succeeded. Rejects with the last 50 log lines if the JVM dies or the deadline
 * passes.
 *
 * Restarting the same broker (same ports, same data, clients reconnect by themselves):
 *   const broker = await startBroker({ keepData: true })
 *   await broker.stop()                                  // or stop({ signal: 'SIGKILL' }) for a crash
 *   const again = await startBroker(broker.restartOptions)
 *   await again.stop({ keepData: false })                // finally remove the data dir
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? defaultLog
  const started = performance.now()
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS
  const deadline = Date.now() + timeoutMs
  const keepData = options.keepData ?? false
  const libsDir = await fetchJars({ log, quiet: true })

  const [defaultPort, defaultControllerPort] = await freePorts(2)
  const port = options.port ?? defaultPort
  const controllerPort = options.controllerPort ?? defaultControllerPort
  if (port === undefined || controllerPort === undefined) throw new Error('could not pick free ports')

  let dataDir: string
  if (options.dataDir === undefined) {
    dataDir = await mkdtemp(join(tmpdir(), 'cutover-kafka-'))
  } else {
    dataDir = resolve(options.dataDir)
    // stop() deletes the data dir, so refuse to take over a folder that already holds something.
    if (!keepData && !(await isEmptyDir(dataDir))) {
      throw new Error(`dataDir ${dataDir} is not empty; pass keepData: true (CLI: --keep-data) to reuse its data`)
    }
    await mkdir(dataDir, { recursive: true })
  }
  const kraftDir = join(dataDir, 'kraft')
  const propsFile = join(dataDir, 'server.properties')
  const logFile = join(dataDir, 'broker.log')
  const classpath = join(libsDir, '*') // expanded by java itself, not by a shell
  const jvmArgs = [...JVM_FLAGS, `-Dlog4j2.configurationFile=${LOG4J2_CONFIG}`, '-cp', classpath]

  const secure = await resolveSecure(options.secure, dataDir)
  await writeFile(propsFile, serverProperties(port, controllerPort, kraftDir, options.serverProperties, secure))
  // KRaft needs a formatted log dir. A kept data dir is already formatted: re-formatting would be
  // refused (or, with --ignore-formatted, skipped), so skip the extra JVM start altogether.
  // SCRAM credentials go into the metadata log here, before the broker first starts.
  if (!(await exists(join(kraftDir, 'meta.properties')))) {
    const scram = secure === undefined || (secure.saslPort === undefined && secure.saslSslPort === undefined) ? [] : scramFormatArgs(secure.users)
    await runJava([...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', propsFile, '--ignore-formatted', ...scram], dataDir)
  }

  // The JVM writes straight into the log file (no pipe through this process): the broker can
  // never block on a full pipe while Node is busy, and test output is not flooded. The file is
  // appended to, so a restarted broker's log follows the previous run's.
  const jvmStarted = performance.now()
  const logHandle = await open(logFile, 'a')
  const logStart = (await logHandle.stat()).size
  const child = spawn(javaBinary(), [...jvmArgs, 'kafka.Kafka', propsFile], {
    cwd: dataDir,
    stdio: ['ignore', logHandle.fd, logHandle.fd],
    detached: options.detached ?? false,
  })
  await logHandle.close() // the child holds its own copy of the descriptor

  let exit: ExitInfo | undefined
  let spawnError: Error | undefined
  const exited = new Promise<ExitInfo>((resolvePromise) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal }
      liveBrokers.delete(child)
      resolvePromise(exit)
    })
  })
  child.once('error', (err) => (spawnError = err))
  if (options.detached) {
    child.unref()
  } else {
    liveBrokers.add(child)
    installExitHook()
  }

  const brokers = `127.0.0.1:${port}`
  const restartOptions: RestartOptions = {
    port,
    controllerPort,
    dataDir,
    keepData: true,
    serverProperties: options.serverProperties,
    ...(secure === undefined ? {} : { secure: { ...options.secure, saslPort: secure.saslPort, sslPort: secure.sslPort, saslSslPort: secure.saslSslPort } }),
  }
  let stopping: Promise<void> | undefined
  const stop = (stopOptions: StopOptions = {}): Promise<void> => {
    stopping ??= (async () => {
      if (exit === undefined && spawnError === undefined) {
        child.kill(stopOptions.signal ?? 'SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
        await exited
        clearTimeout(timer)
      }
      if (!(stopOptions.keepData ?? keepData)) await rm(dataDir, { recursive: true, force: true })
    })()
    return stopping
  }

  const fail = async (reason: string): Promise<never> => {
    // Keep the data dir (and its log) for a post-mortem; the message says where it is.
    await stop({ signal: 'SIGKILL', keepData: true })
    const tail = await logTail(logFile, logStart)
    throw new Error(`Kafka broker ${reason}.\nLog: ${logFile}\n--- last ${LOG_TAIL_LINES} lines ---\n${tail}`)
  }

  // 1. Wait for the started line, watching the JVM: fail fast if it dies.
  for (;;) {
    if (spawnError) return fail(`could not be started with ${javaBinary()}: ${spawnError.message}`)
    if (exit) return fail(`JVM exited during startup (${describeExit(exit)})`)
    if ((await logTail(logFile, logStart, Number.MAX_SAFE_INTEGER)).includes(STARTED_LINE)) break
    if (Date.now() > deadline) return fail(`did not log "${STARTED_LINE}" within ${timeoutMs / 1000} s`)
    await sleep(100)
  }
  const jvmReady = performance.now()

  // 2. A listening port is not proof of a usable broker: do a real admin round trip.
  let lastError: unknown
  for (;;) {
    if (exit) return fail(`JVM exited during the readiness check (${describeExit(exit)})`)
    try {
      await adminRoundTrip(brokers)
      break
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      return fail(`did not pass the kafkajs readiness round trip within ${timeoutMs / 1000} s: ${String(lastError)}`)
    }
    await sleep(250)
  }
  // The split helps to see where a slow CI start spends its time.
  const secs = (from: number, to: number): string => ((to - from) / 1000).toFixed(1)
  const now = performance.now()
  log(
    `Kafka broker ready on ${brokers} in ${secs(started, now)} s ` +
      `(setup+format ${secs(started, jvmStarted)} s, JVM ${secs(jvmStarted, jvmReady)} s, client check ${secs(jvmReady, now)} s; ` +
      `pid ${String(child.pid)}, data ${dataDir})`,
  )

  if (child.pid === undefined) return fail('has no pid')
  return { brokers, port, controllerPort, dataDir, logFile, pid: child.pid, secure: secureListeners(secure), restartOptions, stop }
}

/**
 * One readiness probe: describeCluster, then a throwaway topic with waitForLeaders. It also warms
 * up what every test's first client would otherwise wait for, with kafkajs logging ERRORs while it
 * retries: the producer-id block an idempotent producer needs ("The coordinator is loading") and
 * the __consumer_offsets topic behind the group coordinator ("The group coordinator is not
 * available").
 */
async function adminRoundTrip(brokers: string): Promise<void> {
  const kafka = new Kafka({
    clientId: 'cutover-kafka-readiness',
    brokers: [brokers],
    // Errors are expected while the broker settles; kafkajs retries and so does the caller.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
  })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const cluster = await admin.describeCluster()
    if (cluster.brokers.length === 0) throw new Error('describeCluster returned no brokers')
    const topic = `cutover-readiness-${randomBytes(4).toString('hex')}`
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true, timeout: 10_000 })
    try {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      try {
        await producer.send({ topic, acks: -1, messages: [{ value: 'ready' }] })
      } finally {
        await producer.disconnect()
      }
      // Looking up a group's coordinator makes the broker create __consumer_offsets.
      await admin.describeGroups(['cutover-readiness'])
    } finally {
      // Leave no throwaway topics behind for tests that list topics.
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 })
    }
  } finally {
    await admin.disconnect()
  }
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

interface BackgroundState {
  pid: number
  brokers: string
  dataDir: string
  keepData: boolean
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Stops the broker recorded by `start`, checking the pid still is that JVM (pids get reused). */
async function stopBackground(log: Log): Promise<void> {
  let state: BackgroundState
  try {
    state = JSON.parse(await readFile(BACKGROUND_STATE_FILE, 'utf8')) as BackgroundState
  } catch {
    log(`no background broker recorded in ${relative(REPO_ROOT, BACKGROUND_STATE_FILE)}`)
    return
  }
  let cmdline = ''
  try {
    cmdline = (await readFile(`/proc/${state.pid}/cmdline`, 'utf8')).replaceAll('\0', ' ')
  } catch {
    // Gone already.
  }
  if (cmdline.includes('kafka.Kafka') && cmdline.includes(state.dataDir)) {
    process.kill(state.pid, 'SIGTERM')
    const deadline = Date.now() + STOP_GRACE_MS
    while (isAlive(state.pid) && Date.now() < deadline) await sleep(100)
    if (isAlive(state.pid)) process.kill(state.pid, 'SIGKILL')
    while (isAlive(state.pid)) await sleep(50)
    log(`stopped Kafka broker ${state.brokers} (pid ${state.pid})`)
  } else {
    log(`Kafka broker pid ${state.pid} is not running`)
  }
  if (!state.keepData) await rm(state.dataDir, { recursive: true, force: true })
  await rm(BACKGROUND_STATE_FILE, { force: true })
}

const USAGE = `usage: tsx scripts/kafka-broker.ts <fetch|run|start|stop> [options]
  fetch   download the broker jars into .cache/kafka/<version>/libs (skipped when complete)
  run     start a broker, print KAFKA_BROKERS=127.0.0.1:PORT, stop it on SIGINT/SIGTERM
  start   start a broker in the background, print KAFKA_BROKERS=..., record it in .cache/kafka/broker.json
  stop    stop the broker recorded by start
options for run/start:
  --port N             client port (default: a free port)
  --controller-port N  controller port (default: a free port)
  --data-dir DIR       data dir (default: a fresh temp dir)
  --keep-data          reuse DIR's data and keep it on stop (restart on the same ports and data)
  --sasl-user N:PW     add a SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256/512) with this user (repeatable)
  --tls                add an SSL listener (and SASL_SSL with --sasl-user), certificate from a fresh CA
                       (prints KAFKA_SASL_BROKERS=, KAFKA_SSL_BROKERS=, KAFKA_SASL_SSL_BROKERS=, KAFKA_CA_FILE=)`

/** `--sasl-user name:password` (repeatable) and `--tls` as startBroker's `secure` option. */
function secureOption(saslUsers: string[], tls: boolean): Pick<StartBrokerOptions, 'secure'> {
  const users = saslUsers.map((spec) => {
    const colon = spec.indexOf(':')
    if (colon <= 0) throw new Error(`--sasl-user must be name:password, got ${JSON.stringify(spec.split(':')[0])}:…`)
    return { name: spec.slice(0, colon), password: spec.slice(colon + 1) }
  })
  return users.length === 0 && !tls ? {} : { secure: { users, tls } }
}

/** The stdout lines: one bootstrap list per listener, then the CA file with --tls. */
function brokerLines(broker: KafkaBroker): string {
  const { sasl, ssl, saslSsl, caFile } = broker.secure
  const lines = [`KAFKA_BROKERS=${broker.brokers}`]
  if (sasl !== undefined) lines.push(`KAFKA_SASL_BROKERS=${sasl}`)
  if (ssl !== undefined) lines.push(`KAFKA_SSL_BROKERS=${ssl}`)
  if (saslSsl !== undefined) lines.push(`KAFKA_SASL_SSL_BROKERS=${saslSsl}`)
  if (caFile !== undefined) lines.push(`KAFKA_CA_FILE=${caFile}`)
  return `${lines.join('\n')}\n`
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'controller-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'keep-data': { type: 'boolean', default: false },
      'sasl-user': { type: 'string', multiple: true, default: [] },
      tls: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const command = positionals[0]
  if (values.help || positionals.length !== 1) {
    process.stderr.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const toPort = (value: string | undefined): number | undefined => {
    if (value === undefined) return undefined
    const n = Number(value)
    if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`invalid port: ${value}`)
    return n
  }
  const startOptions: StartBrokerOptions = {
    port: toPort(values.port),
    controllerPort: toPort(values['controller-port']),
    dataDir: values['data-dir'],
    keepData: values['keep-data'],
    ...secureOption(values['sasl-user'], values.tls),
  }

  switch (command) {
    case 'fetch':
      await fetchJars()
      return 0
    case 'run': {
      const broker = await startBroker(startOptions)
      process.stdout.write(brokerLines(broker))
      defaultLog(`log: ${broker.logFile}; press Ctrl-C to stop`)
      await new Promise<void>((resolvePromise) => {
        const onSignal = (signal: NodeJS.Signals): void => {
          defaultLog(`${signal}: stopping`)
          resolvePromise()
        }
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
      })
      await broker.stop()
      defaultLog('stopped')
      return 0
    }
    case 'start': {
      if (await exists(BACKGROUND_STATE_FILE)) await stopBackground(defaultLog) // at most one
      const broker = await startBroker({ ...startOptions, detached: true })
      const state: BackgroundState = { pid: broker.pid, brokers: broker.brokers, dataDir: broker.dataDir, keepData: startOptions.keepData ?? false }
      await writeFile(BACKGROUND_STATE_FILE, `${JSON.stringify(state, null, 2)}\n`)
      process.stdout.write(brokerLines(broker))
      return 0
    }
    case 'stop':
      await stopBackground(defaultLog)
      return 0
    default:
      process.stderr.write(`unknown command: ${String(command)}\n${USAGE}\n`)
      return 2
  }
}

// Run as a CLI only when executed directly, not when imported (e.g. by the vitest global setup).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`[kafka-broker] ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
