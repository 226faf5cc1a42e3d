"""An independent client of the Kubernetes channel protocol over WebSocket (websocket-client).

Usage: ws_exec.py URL PROTOCOL STDIN_TEXT
Connects to URL (http:// becomes ws://) offering PROTOCOL (v4.channel.k8s.io or
v4.base64.channel.k8s.io), sends STDIN_TEXT on channel 0, reads channels 1 (stdout),
2 (stderr) and 3 (the status) until the server closes, and prints one JSON object:
{"protocol", "stdout", "stderr", "status"}. Exits 3 when websocket-client is missing.
"""

import base64
import json
import sys

try:
    import websocket
except ImportError as error:  # the harness turns this into a clear failure
    print(f"websocket-client is missing: {error}", file=sys.stderr)
    sys.exit(3)


def main():
    url, protocol, stdin_text = sys.argv[1], sys.argv[2], sys.argv[3]
    url = "ws://" + url[len("http://"):] if url.startswith("http://") else url
    b64 = ".base64." in protocol
    ws = websocket.create_connection(url, subprotocols=[protocol], timeout=20)
    got = ws.getsubprotocol()
    if stdin_text:
        if b64:
            ws.send("0" + base64.b64encode(stdin_text.encode()).decode())
        else:
            ws.send_binary(b"\x00" + stdin_text.encode())
    channels = {1: b"", 2: b"", 3: b""}
    while True:
        try:
            opcode, data = ws.recv_data(control_frame=False)
        except websocket.WebSocketConnectionClosedException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        if not data:
            continue
        if b64:
            text = data.decode()
            channel, payload = int(text[0]), base64.b64decode(text[1:])
        else:
            channel, payload = data[0], data[1:]
        if channel not in channels:
            raise SystemExit(f"message on unexpected channel {channel}")
        channels[channel] += payload
    ws.close()
    status = json.loads(channels[3]) if channels[3] else None
    print(json.dumps({
        "protocol": got,
        "stdout": channels[1].decode(errors="replace"),
        "stderr": channels[2].decode(errors="replace"),
        "status": status,
    }))


main()
