#!/usr/bin/env node
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { Command, InvalidArgumentError } from 'commander'
import { DEFAULT_CONFIG_FILE, loadConfig } from './config/load.ts'
import { fail, header, wholeNumber } from './cli-options.ts'
import { CutoverError } from './errors.ts'
import { addReconcileCommand } from './reconcile/reconcile-command.ts'
import { checkStartup, startGateway } from './gateway.ts'
import { createLogger } from './log.ts'
import { quietKafkaTimerWarning } from './process-warnings.ts'
import { runPrimary, runWorker } from './cluster.ts'
import { replay } from './publish/replay.ts'
import { runReport } from './readiness/report-command.ts'
import { parseReplayTime } from './publish/replay-window.ts'

quietKafkaTimerWarning()

const workerCount = wholeNumber(0, 1024, 'must be a whole number (0 = one per core)')
const attempts = wholeNumber(1, 100, 'must be a whole number from 1 to 100')

// package.json sits one level above both src/ and dist/
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

const program = new Command('cutover').description('Dual-write API gateway for migrating a live HTTP service from legacy to cloud').version(version, '-V, --version').showHelpAfterError()

program
  .command('start')
  .description('run the gateway')
  .option('-c, --config <file>', 'config file (.ts, .js, .mjs, .json)', DEFAULT_CONFIG_FILE)
  .option('-w, --workers <n>', 'worker processes on one port; 0 = one per core', workerCount, 1)
  .option('--reset-state', 'delete the state file first: every route starts from the config', false)
  .action(async (opts: { config: string; workers: number; resetState: boolean }) => {
    const log = createLogger()
    let config
    try {
      config = await loadConfig(opts.config)
    } catch (err) {
      fail(err)
    }
    const workers = opts.workers === 0 ? availableParallelism() : opts.workers
    try {
      if (workers > 1 && cluster.isPrimary) return await runPrimary(config, workers, log, { resetState: opts.resetState })
      if (cluster.isWorker) return await runWorker(config, log)
      const gateway = await startGateway(config, { log, resetState: opts.resetState })
      log.info({ data: gateway.dataUrl, admin: gateway.adminUrl }, 'cutover listening')
      const stop = async (signal: string): Promise<void> => {
        log.info({ signal }, 'draining')
        await gateway.close()
        log.info('stopped')
        process.exit(0)
      }
      process.once('SIGTERM', () => void stop('SIGTERM'))
      process.once('SIGINT', () => void stop('SIGINT'))
    } catch (err) {
      fail(err)
    }
  })

program
  .command('check')
  .description('validate a config file; exit 1 listing every problem as path: message')
  .option('-c, --config <file>', 'config file (.ts, .js, .mjs, .json)', DEFAULT_CONFIG_FILE)
  .action(async (opts: { config: string }) => {
    try {
      const config = await loadConfig(opts.config)
      checkStartup(config)
      process.stdout.write(`${opts.config}: ok (${Object.keys(config.backends).length} backends, ${config.routes.length} routes)\n`)
    } catch (err) {
      fail(err)
    }
  })

function replayTime(value: string): number {
  try {
    return parseReplayTime(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

program
  .command('replay')
  .description('resend mirrored writes that failed (from the replay topic) with their original Idempotency-Key')
  .option('-c, --config <file>', 'config file (.ts, .js, .mjs, .json)', DEFAULT_CONFIG_FILE)
  .option('-r, --route <id>', 'only this route')
  .option('-n, --dry-run', 'list what would be sent; send nothing, commit nothing', false)
  .option('-H, --header <header>', "extra header for every resend, 'name: value' (repeatable; events never carry credentials)", header, {})
  .option('--max-attempts <n>', 'tries of one event before it goes to the dead-letter topic (default: replay.maxAttempts, 5)', attempts)
  .option('--since <time>', 'only writes at or after this time: ISO time or a duration before now (90s, 15m, 2h, 7d)', replayTime)
  .option('--until <time>', 'only writes before this time (same forms)', replayTime)
  .action(async (opts: { config: string; route?: string; dryRun: boolean; header: Record<string, string>; maxAttempts?: number; since?: number; until?: number }) => {
    try {
      // replay never serves the admin API: a short CUTOVER_ADMIN_TOKEN is not its problem
      const config = await loadConfig(opts.config, process.env, { admin: false })
      if (opts.route !== undefined && !config.routes.some((r) => r.id === opts.route)) throw new CutoverError('CUTOVER_ROUTE_NOT_FOUND', `unknown route '${opts.route}'`)
      const window = { ...(opts.since === undefined ? {} : { since: opts.since }), ...(opts.until === undefined ? {} : { until: opts.until }) }
      const summary = await replay({
        config,
        dryRun: opts.dryRun,
        headers: opts.header,
        window,
        print: (line) => process.stdout.write(line + '\n'),
        progress: (line) => process.stderr.write(line + '\n'),
        ...(opts.route === undefined ? {} : { route: opts.route }),
        ...(opts.maxAttempts === undefined ? {} : { maxAttempts: opts.maxAttempts }),
      })
      // dead-lettered events are settled (reported above); only pending ones need another run
      process.exit(summary.pending > 0 ? 1 : 0)
    } catch (err) {
      fail(err)
    }
  })

program
  .command('report')
  .description("readiness of every route from the running gateway's admin API (token from CUTOVER_ADMIN_TOKEN); exit 1 unless every route with traffic is green")
  .option('-c, --config <file>', 'config file naming the admin address (default routes.config.ts)')
  .option('-a, --admin <url>', 'admin API URL, e.g. http://127.0.0.1:9901 (instead of the config)')
  .option('--json', 'print the report as JSON (docs/readiness.md)', false)
  .action(async (opts: { config?: string; admin?: string; json: boolean }) => {
    try {
      process.exit(await runReport(opts, (text) => process.stdout.write(text)))
    } catch (err) {
      fail(err)
    }
  })
addReconcileCommand(program)

await program.parseAsync(process.argv)
