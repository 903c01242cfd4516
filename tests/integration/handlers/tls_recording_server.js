// An HTTPS endpoint offering HTTP/2 and HTTP/1.1 by ALPN, as most TLS web servers do
// (Node's http2 module with allowHTTP1; its HTTP/2 comes with the usual stream-reset
// flood defence). It records one JSON line per TLS connection ({"connection": alpn}) and
// per request ({"version", "partition", "offset"}, the last two from X-Kafka-*), and
// answers every request with 200 at once.
// Usage: node tls_recording_server.js OUT.jsonl KEY.pem CERT.pem
'use strict';
const fs = require('fs');
const http2 = require('http2');

const out = fs.openSync(process.argv[2], 'a');
const record = (o) => fs.writeSync(out, JSON.stringify(o) + '\n');
const server = http2.createSecureServer({
  key: fs.readFileSync(process.argv[3]),
  cert: fs.readFileSync(process.argv[4]),
  allowHTTP1: true,
});
server.on('secureConnection', (socket) => record({connection: socket.alpnProtocol || ''}));
server.on('request', (req, res) => {
  req.resume();
  req.on('end', () => {
    record({version: req.httpVersion, partition: Number(req.headers['x-kafka-partition']),
            offset: Number(req.headers['x-kafka-offset'])});
    res.writeHead(200, {'content-type': 'text/plain'});
    res.end('ok');
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
