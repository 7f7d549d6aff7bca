import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { tempDir } from './gateway.ts'

export const ROOT = new URL('../../', import.meta.url).pathname

export interface CliRun {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
  /** Resolves when a log line containing `text` has been printed; rejects after `ms`. */
  waitFor(text: string, ms?: number): Promise<void>
}

/** Runs `cutover <args>` from source as its own process. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  return runScript('src/cli.ts', args, env)
}

/** Runs a TypeScript entry point of the repository (`script`, from its root) as its own process. */
export function runScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const waiters: { text: string; resolve: () => void }[] = []
  const onData = (chunk: Buffer): void => {
    out += chunk.toString()
    for (const w of [...waiters]) if (out.includes(w.text)) w.resolve()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  // 'exit' can come before the last output has been read from the pipes: wait for their end too,
  // for a bounded time (a cluster worker that outlives its primary would hold them open)
  const drained = (stream: NodeJS.ReadableStream | null): Promise<void> =>
    new Promise((resolve) => {
      if (stream === null || (stream as { readableEnded?: boolean }).readableEnded === true) resolve()
      else {
        stream.once('end', resolve)
        stream.once('close', resolve)
      }
    })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      const timer = setTimeout(() => resolve(code), 2000)
      void Promise.all([drained(child.stdout), drained(child.stderr)]).then(() => {
        clearTimeout(timer)
        resolve(code)
      })
    }),
  )
  return {
    child,
    output: () => out,
    exited,
    waitFor(text, ms = 20_000) {
      if (out.includes(text)) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for '${text}'; output:\n${out}`)), ms)
        const entry = {
          text,
          resolve: () => {
            clearTimeout(timer)
            waiters.splice(waiters.indexOf(entry), 1)
            resolve()
          },
        }
        waiters.push(entry)
        void exited.then(() => {
          if (!out.includes(text)) {
            clearTimeout(timer)
            reject(new Error(`process exited before '${text}'; output:\n${out}`))
          }
        })
      })
    },
  }
}

export function writeConfig(config: CutoverConfigInput | string, name = 'cutover.config.json'): string {
  const file = join(tempDir(), name)
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2))
  return file
}

/** Polls `fn` until it returns true or the deadline passes. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await fn()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
