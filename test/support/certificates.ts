import { execFileSync } from 'node:child_process'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './gateway.ts'

/** A certificate and its key, as PEM. */
export interface Pem {
  readonly cert: string
  readonly key: string
}

export interface TestCa extends Pem {
  readonly dir: string
  /** A leaf signed by this CA for localhost and 127.0.0.1, with the given serial (hex) and CN. */
  issue(serial: string, cn?: string): Pem
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A fresh CA made with the openssl CLI (P-256 keys: fast to make), valid for two days. */
export function testCa(name = 'cutover test CA'): TestCa {
  const dir = tempDir('cutover-tls-')
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`], dir)
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n')
  return {
    dir,
    cert: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    key: readFileSync(join(dir, 'ca.key'), 'utf8'),
    issue(serial, cn = 'localhost') {
      const base = `leaf-${serial}`
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`], dir)
      openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', '2', '-extfile', 'leaf.ext', '-out', `${base}.pem`], dir)
      return { cert: readFileSync(join(dir, `${base}.pem`), 'utf8'), key: readFileSync(join(dir, `${base}.key`), 'utf8') }
    },
  }
}

/** Writes `content` to `path` the way editors and tools do: a temporary file renamed over it. */
export function replaceFile(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content)
  renameSync(`${path}.tmp`, path)
}
