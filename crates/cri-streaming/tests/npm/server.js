// SPDY/3.1 echo server on npm's spdy-transport (an independent implementation), for
// scripts/spdy-npm-interop.sh. Usage: node server.js PORT
'use strict'
const net = require('net')
const transport = require('spdy-transport')

const server = net.createServer((socket) => {
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: true })
  conn.start(3.1)
  conn.on('stream', (stream) => {
    console.log('stream', stream.id, stream.method, stream.path, JSON.stringify(stream.headers))
    stream.respond(200, { 'x-peer': 'spdy-transport' })
    let n = 0
    stream.on('data', (chunk) => { n += chunk.length; stream.write(chunk) })
    stream.on('end', () => { console.log('echoed', n, 'bytes'); stream.end() })
  })
  conn.on('error', (e) => { console.error('connection error', e); process.exitCode = 1 })
  socket.on('close', () => { console.log('closed'); server.close() })
})
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'))
