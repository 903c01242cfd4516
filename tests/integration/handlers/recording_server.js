// An HTTP endpoint on Node's http module that records what it was sent: the same output
// as recording_server.py (values percent-decoded by querystring.unescapeBuffer; Node
// decodes fields as Latin-1, so Buffer.from(v, 'latin1') is the bytes on the wire).
'use strict';
const fs = require('fs');
const http = require('http');
const querystring = require('querystring');

const out = fs.openSync(process.argv[2], 'a');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const fields = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const v = req.rawHeaders[i + 1];
      fields.push([req.rawHeaders[i], Buffer.from(v, 'latin1').toString('hex'),
                   querystring.unescapeBuffer(v).toString('hex')]);
    }
    fs.writeSync(out, JSON.stringify({path: req.url, fields, body: Buffer.concat(chunks).toString('hex')}) + '\n');
    res.writeHead(200, {'Content-Length': '0'});
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
