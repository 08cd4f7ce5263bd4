"""wrk request bodies and scripts from one recording: the first 8000 samples (zero-padded) as an
OIP request for `audio`, as JSON (json.body, json.lua) and with the binary tensor extension
(bin.body, bin.lua). Extra `Name: value` arguments become headers of both scripts.

    python3 benchmarks/scripts/wrk-bodies.py OUT_DIR CLIP.wav [HEADER ...]
"""
import json
import struct
import sys
import wave

out, clip, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
w = wave.open(clip)
n = w.getnframes()
a = [x / 32768.0 for x in struct.unpack('<%dh' % n, w.readframes(n))][:8000]
a += [0.0] * (8000 - len(a))
headers = ''.join('wrk.headers["%s"] = "%s"\n' % tuple(h.split(': ', 1)) for h in extra)
open(out + '/json.body', 'w').write(json.dumps({"inputs": [{"name": "audio", "datatype": "FP32", "shape": [1, 8000], "data": a}]}))
header = json.dumps({"inputs": [{"name": "audio", "datatype": "FP32", "shape": [1, 8000],
                                 "parameters": {"binary_data_size": 32000}}]}).encode()
open(out + '/bin.body', 'wb').write(header + struct.pack('<8000f', *a))
open(out + '/json.lua', 'w').write('wrk.method = "POST"\nlocal f = io.open("%s/json.body", "rb"); wrk.body = f:read("*a"); f:close()\n'
                                   'wrk.headers["Content-Type"] = "application/json"\n' % out + headers)
open(out + '/bin.lua', 'w').write('wrk.method = "POST"\nlocal f = io.open("%s/bin.body", "rb"); wrk.body = f:read("*a"); f:close()\n'
                                  'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                                  'wrk.headers["Inference-Header-Content-Length"] = "%d"\n' % (out, len(header)) + headers)
