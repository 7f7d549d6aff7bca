import { InvalidArgumentError, type Command } from 'commander'
import pino from 'pino'
import { fail, header, wholeNumber } from '../cli-options.ts'
import { DEFAULT_CONFIG_FILE, loadConfig } from '../config/load.ts'
import type { Side } from '../ids/id-map.ts'
import { REDACT_PATHS } from '../log.ts'
import { openIdMap } from './open-id-map.ts'
import { DEFAULT_MAX_PAGES, DEFAULT_TIMEOUT_MS, exitCode, reconcile } from './reconcile.ts'
import { formatReport } from './reconcile-report.ts'

const positive = wholeNumber(1, Infinity, 'must be a whole number ≥ 1')

function side(value: string): Side {
  if (value !== 'legacy' && value !== 'cloud') throw new InvalidArgumentError("must be 'legacy' or 'cloud'")
  return value
}

interface Flags {
  config: string
  route?: string
  source?: Side
  json: boolean
  repair: boolean
  repairExtra: boolean
  maxPages: number
  timeout: number
  header: Record<string, string>
}

/**
 * Adds `cutover reconcile` to the CLI. Failures print and `-H` parses as for every other command.
 */
export function addReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('compare the collections behind routes on both backends; exit 1 while differences remain')
    .option('-c, --config <file>', 'config file (.ts, .js, .mjs, .json)', DEFAULT_CONFIG_FILE)
    .option('-r, --route <id>', 'only this route (default: every route with a reconcile section)')
    .option('--source <side>', "the side that is right, legacy or cloud (default: legacy until the route's weight is 100)", side)
    .option('--json', 'print the report as JSON', false)
    .option('--repair', "send the source's version of missing and differing items to the other side, then check again", false)
    .option('--repair-extra', 'with --repair, also DELETE the items only the other side has', false)
    .option('--max-pages <n>', 'pages read per side (and per pass)', positive, DEFAULT_MAX_PAGES)
    .option('--timeout <ms>', 'time for the whole run', positive, DEFAULT_TIMEOUT_MS)
    .option('-H, --header <header>', "extra header for every request, 'name: value' (repeatable)", header, {})
    .action(async (flags: Flags) => {
      try {
        const config = await loadConfig(flags.config)
        // logs go to stderr: stdout carries the report (JSON with --json)
        const log = pino({ name: 'cutover', level: process.env.LOG_LEVEL ?? 'warn', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination(2))
        const map = await openIdMap(config, log)
        let report
        try {
          report = await reconcile({
            config,
            ids: map.ids,
            repair: flags.repair,
            repairExtra: flags.repairExtra,
            maxPages: flags.maxPages,
            timeoutMs: flags.timeout,
            headers: flags.header,
            progress: (line) => process.stderr.write(line + '\n'),
            ...(flags.route === undefined ? {} : { route: flags.route }),
            ...(flags.source === undefined ? {} : { source: flags.source }),
          })
        } finally {
          await map.close()
        }
        process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report))
        process.exit(exitCode(report))
      } catch (err) {
        fail(err)
      }
    })
}
