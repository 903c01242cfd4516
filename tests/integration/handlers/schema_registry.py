"""A schema registry for tests: GET /schemas/ids/<id> and
GET /subjects/<subject>/versions/<version> as Confluent's registry answers them.

Usage: schema_registry.py SCHEMAS_JSON LOG [DOWN_FILE]
Prints its port. SCHEMAS_JSON maps ids, and "<subject>/<version>", to {"schema": text,
"schemaType": ..., "references": [...]} and is read at every request (a test may register schemas while it runs); an id mapped to
{"hang": true} is never answered. Every request's path is appended to LOG. While
DOWN_FILE exists, every request gets 503 (the registry is down).
"""

import http.server
import json
import os
import sys
import time
import urllib.parse

SCHEMAS, LOG = sys.argv[1], sys.argv[2]
DOWN = sys.argv[3] if len(sys.argv) > 3 else None


class Registry(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with open(LOG, "a") as log:
            log.write("%s %s\n" % (self.path, self.headers.get("Authorization", "-")))
        if DOWN and os.path.exists(DOWN):
            return self.answer(503, {"error_code": 50301, "message": "down for the test"})
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
            key = parts[2]
        elif len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
            key = urllib.parse.unquote(parts[1]) + "/" + parts[3]
        else:
            return self.answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
        with open(SCHEMAS) as f:
            schemas = json.load(f)
        if key not in schemas:
            return self.answer(404, {"error_code": 40403, "message": "Schema %s not found" % key})
        if schemas[key].get("hang"):
            while True:  # the asking worker stays inside its decoding
                time.sleep(60)
        return self.answer(200, schemas[key])

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
print(server.server_address[1], flush=True)
server.serve_forever()
