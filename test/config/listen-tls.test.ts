import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { backends, problems } from '../support/config.ts'

describe('listen.tls', () => {
  it('takes the certificate and key files; http2 off and a 1 s reload check by default', () => {
    const cfg = validateConfig({ backends, listen: { tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' } } })
    expect(cfg.listen.tls).toEqual({ certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', http2: false, reloadIntervalMs: 1000 })
    const full = validateConfig({ backends, listen: { tls: { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem', http2: true, reloadIntervalMs: 250 } } })
    expect(full.listen.tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem', http2: true, reloadIntervalMs: 250 })
    expect(validateConfig({ backends }).listen.tls).toBeUndefined()
  })

  it('names every bad field', () => {
    expect(problems({ backends, listen: { tls: {} } })).toEqual(['listen.tls.certFile: must be a file path', 'listen.tls.keyFile: must be a file path'])
    expect(problems({ backends, listen: { tls: { certFile: '', keyFile: 3, caFile: '', http2: 'yes', reloadIntervalMs: 10, alpn: ['h2'] } } })).toEqual([
      'listen.tls.certFile: must be a file path',
      'listen.tls.keyFile: must be a file path',
      'listen.tls.caFile: must be a file path',
      'listen.tls.http2: must be true or false',
      'listen.tls.reloadIntervalMs: must be at least 50 ms',
      'listen.tls.alpn: unknown option',
    ])
    expect(problems({ backends, listen: { tls: { certFile: 'c', keyFile: 'k', reloadIntervalMs: 1.5 } } })).toEqual(['listen.tls.reloadIntervalMs: must be a whole number of milliseconds'])
  })
})
