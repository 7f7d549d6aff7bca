import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createJiti } from 'jiti'
import { CutoverError } from '../errors.ts'
import { DEFAULT_STATE_FILE } from './defaults.ts'
import type { CutoverConfig } from './schema.ts'
import { validateConfig } from './validate.ts'

export const DEFAULT_CONFIG_FILE = 'routes.config.ts'
const EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs', '.json'])

// `import { defineConfig } from 'cutover'` in a config file resolves to this package, whether it
// runs from source or from the built dist/.
const SELF = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../index.ts' : '../index.js', import.meta.url))

/** Loads a config file's default export (or module object) without validating it. */
export async function loadConfigInput(file: string): Promise<unknown> {
  const path = resolve(file)
  const ext = extname(path)
  if (!EXTENSIONS.has(ext)) throw new CutoverError('CUTOVER_CONFIG_LOAD', `${file}: unsupported config type '${ext}' (use .ts, .js, .mjs or .json)`)
  if (!existsSync(path)) throw new CutoverError('CUTOVER_CONFIG_LOAD', `${file}: no such file (create or mount a config there, or name one with --config FILE; docs/config.md)`)
  try {
    if (ext === '.json') return JSON.parse(await readFile(path, 'utf8'))
    const jiti = createJiti(import.meta.url, { alias: { cutover: SELF }, moduleCache: false, fsCache: false })
    return await jiti.import(path, { default: true })
  } catch (err) {
    throw new CutoverError('CUTOVER_CONFIG_LOAD', `${file}: ${(err as Error).message}`, { cause: err })
  }
}

/** Applies environment overrides (CUTOVER_ADMIN_TOKEN, CUTOVER_KAFKA_BROKERS) to a raw config. */
export function applyEnv(input: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) }
  const token = env.CUTOVER_ADMIN_TOKEN
  if (token !== undefined && token !== '') {
    const admin = typeof out.admin === 'object' && out.admin !== null ? (out.admin as Record<string, unknown>) : {}
    if (admin.token === undefined) out.admin = { ...admin, token }
  }
  const brokers = env.CUTOVER_KAFKA_BROKERS
  if (brokers !== undefined && brokers !== '') {
    const kafka = typeof out.kafka === 'object' && out.kafka !== null ? (out.kafka as Record<string, unknown>) : {}
    out.kafka = { ...kafka, brokers: brokers.split(',').map((b) => b.trim()).filter((b) => b !== '') }
  }
  return out
}

export interface LoadOptions {
  /**
   * false for commands that never serve the admin API (`replay`): `admin.token` and
   * CUTOVER_ADMIN_TOKEN are then neither read nor checked, so a token meant for another
   * process cannot make them fail.
   */
  readonly admin?: boolean
}

/** Which file a config was loaded from: the state file records it, so it is never applied to another config. */
export interface ConfigSource {
  /** absolute path */
  readonly path: string
  /** sha256 of the file's bytes, hex */
  readonly hash: string
}

const SOURCES = new WeakMap<CutoverConfig, ConfigSource>()

/** The file a config came from (undefined for a config validated in memory, as tests do). */
export function configSource(config: CutoverConfig): ConfigSource | undefined {
  return SOURCES.get(config)
}

export async function loadConfig(file: string = DEFAULT_CONFIG_FILE, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Promise<CutoverConfig> {
  let input = await loadConfigInput(file)
  if (options.admin === false) {
    env = { ...env, CUTOVER_ADMIN_TOKEN: undefined }
    input = withoutAdminToken(input)
  }
  return validateLoadedConfig(applyEnv(input, env), file)
}

/**
 * Validates a config read from `file` (env already applied): `state.file` is placed beside it
 * and the result remembers the file (configSource) for the state file.
 */
export async function validateLoadedConfig(input: unknown, file: string): Promise<CutoverConfig> {
  const path = resolve(file)
  const config = validateConfig(stateBesideConfig(input, dirname(path)))
  SOURCES.set(config, { path, hash: createHash('sha256').update(await readFile(path)).digest('hex') })
  return config
}

/**
 * `state.file` is relative to the config file's folder, not to the working directory: two
 * configs in two folders never share route state, wherever the gateway is started from.
 */
function stateBesideConfig(input: unknown, dir: string): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input
  const state = (input as Record<string, unknown>).state
  if (state !== undefined && (state === null || typeof state !== 'object' || Array.isArray(state))) return input // reported by validation
  const given = (state as Record<string, unknown> | undefined)?.file
  if (given !== undefined && typeof given !== 'string') return input
  return { ...(input as Record<string, unknown>), state: { ...(state as Record<string, unknown> | undefined), file: resolve(dir, given ?? DEFAULT_STATE_FILE) } }
}

function withoutAdminToken(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input
  const admin = (input as Record<string, unknown>).admin
  if (admin === null || typeof admin !== 'object' || Array.isArray(admin)) return input
  const rest: Record<string, unknown> = { ...(admin as Record<string, unknown>) }
  delete rest.token
  return { ...(input as Record<string, unknown>), admin: rest }
}
