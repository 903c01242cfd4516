"""An HTTP endpoint on Python's http.server that records what it was sent.

Prints its port, then appends one JSON line per request to the file named by argv[1]:
the path, every header field in the order received as [name, value, value percent-decoded
by urllib.parse.unquote_to_bytes] (bytes as hex: http.server decodes fields as Latin-1, so
encoding back gives the bytes on the wire), and the body as hex. Answers 200.
"""

import http.server
import json
import sys
from urllib.parse import unquote_to_bytes

OUT = open(sys.argv[1], "a", buffering=1)


class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as sluice's client uses it

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        fields = [[n, v.encode("latin-1").hex(), unquote_to_bytes(v).hex()] for n, v in self.headers.items()]
        OUT.write(json.dumps({"path": self.path, "fields": fields, "body": body.hex()}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
print(server.server_address[1], flush=True)
server.serve_forever()
