// SPDY/3.1 client on npm's spdy-transport: sends BYTES bytes on one stream to an echo
// server and checks them. Usage: node client.js PORT BYTES
'use strict'
const net = require('net')
const transport = require('spdy-transport')

const len = Number(process.argv[3])
const data = Buffer.alloc(len)
for (let i = 0; i < len; i++) data[i] = i % 251

const socket = net.connect(Number(process.argv[2]), '127.0.0.1', () => {
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false })
  conn.start(3.1)
  conn.on('error', (e) => { console.error('connection error', e); process.exit(1) })
  conn.ping(() => console.log('ping answered'))
  const stream = conn.request({ method: 'POST', path: '/echo', host: 'localhost', headers: { 'x-test': 'a' } }, (err) => {
    if (err) { console.error('request error', err); process.exit(1) }
  })
  stream.on('response', (code, headers) => console.log('response', code, JSON.stringify(headers)))
  const chunks = []
  stream.on('data', (c) => chunks.push(c))
  stream.on('end', () => {
    const got = Buffer.concat(chunks)
    if (!got.equals(data)) { console.error('echo mismatch', got.length, 'of', len); process.exit(1) }
    console.log('echo ok:', len, 'bytes')
    conn.end(() => process.exit(0))
    setTimeout(() => process.exit(0), 500)
  })
  stream.on('error', (e) => { console.error('stream error', e); process.exit(1) })
  stream.end(data)
})
