/**
 * The parent side of the bench protocol (see child.ts): spawns each target as
 * `node --import tsx bench/<script>.ts …` in this process group, waits for its URL, asks for its
 * CPU time around each measured run, and stops it cleanly (SIGKILL by pid only if it hangs).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildMessage, ParentMessage } from './child.ts'

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))
export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url))

const READY_TIMEOUT_MS = 30_000
const STATS_TIMEOUT_MS = 5_000
const STOP_TIMEOUT_MS = 5_000

export interface ChildStats {
  /** User + system CPU time of the whole process since it started, µs. */
  readonly cpuMicros: number
  readonly requests: number
  /** The target's own running totals (see RunningTarget.counters), by name; {} when it keeps none. */
  readonly counters: Readonly<Record<string, number>>
}

function isChildMessage(m: unknown): m is ChildMessage {
  if (typeof m !== 'object' || m === null) return false
  const type = (m as { type?: unknown }).type
  return type === 'ready' || type === 'stats'
}

export class BenchProcess {
  readonly name: string
  readonly url: string
  readonly #child: ChildProcess
  readonly #pending = new Map<number, (s: ChildStats) => void>()
  #nextId = 1
  #exited = false

  private constructor(name: string, url: string, child: ChildProcess) {
    this.name = name
    this.url = url
    this.#child = child
    child.on('message', (m: unknown) => {
      if (!isChildMessage(m) || m.type !== 'stats') return
      const resolve = this.#pending.get(m.id)
      this.#pending.delete(m.id)
      resolve?.({ cpuMicros: m.cpuMicros, requests: m.requests, counters: m.counters })
    })
    child.once('exit', () => {
      this.#exited = true
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  /** Spawns `bench/<script>` and resolves once it listens. */
  static start(name: string, script: string, args: readonly string[], nodeFlags: readonly string[] = []): Promise<BenchProcess> {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', BENCH_DIR + script, ...args], {
      cwd: REPO_DIR,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: process.env,
    })
    const prefix = `[${name}] `
    child.stdout?.on('data', (b: Buffer) => process.stderr.write(prefix + b.toString()))
    child.stderr?.on('data', (b: Buffer) => process.stderr.write(prefix + b.toString()))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`${name}: not ready after ${READY_TIMEOUT_MS} ms`))
      }, READY_TIMEOUT_MS)
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        clearTimeout(timer)
        reject(new Error(`${name}: exited before it was ready (code ${code}, signal ${signal})`))
      }
      child.once('exit', onExit)
      child.on('message', function onReady(m: unknown) {
        if (!isChildMessage(m) || m.type !== 'ready') return
        clearTimeout(timer)
        child.off('exit', onExit)
        child.off('message', onReady)
        const url = new URL(m.url)
        // the bench only ever loads this machine's loopback
        if (url.hostname !== '127.0.0.1') {
          child.kill('SIGKILL')
          reject(new Error(`${name}: listens on ${m.url}, expected 127.0.0.1`))
          return
        }
        resolve(new BenchProcess(name, m.url, child))
      })
    })
  }

  stats(): Promise<ChildStats> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`${this.name}: no stats after ${STATS_TIMEOUT_MS} ms`))
      }, STATS_TIMEOUT_MS)
      this.#pending.set(id, (s) => {
        clearTimeout(timer)
        resolve(s)
      })
      const msg: ParentMessage = { type: 'stats', id }
      this.#child.send(msg)
    })
  }

  async stop(): Promise<void> {
    if (this.#exited) return
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()))
    const msg: ParentMessage = { type: 'stop' }
    this.#child.send(msg)
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }

  /** Last resort on the way out (process 'exit' handlers cannot wait). */
  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL')
  }
}
