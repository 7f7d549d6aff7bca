import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

/** A real WebSocket origin (the `ws` package): echoes every message, prefixed with its name. */
export async function wsOrigin(name: string): Promise<{ url: string; server: Server; hosts: string[]; close: () => Promise<void> }> {
  const hosts: string[] = []
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': name })
    res.end(`plain ${name} ${req.headers.upgrade ?? '-'}`)
  })
  const wss = new WebSocketServer({ server, path: '/live' })
  wss.on('connection', (ws, req) => {
    hosts.push(String(req.headers.host))
    ws.on('message', (data) => ws.send(`${name}:${data.toString()}`))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    hosts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
