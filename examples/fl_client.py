#!/usr/bin/env python3
# Usage: fl_client.py GLOBAL.safetensors MANIFEST.json DATA.csv UPDATE.safetensors
# (see src/fl/PROTOCOL.md). Needs only numpy.
# A minimal non-Provena client: reads the global safetensors, "trains" (a plain numpy
# gradient step on the manifest's included records), writes the delta as safetensors.
import json, struct, sys, csv
import numpy as np
def read_st(path):
    b = open(path, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); base = 8 + n
    return {k: np.frombuffer(b[base+v['data_offsets'][0]:base+v['data_offsets'][1]], dtype='<f4').reshape(v['shape']) for k, v in h.items() if k != '__metadata__'}
def write_st(path, tensors):
    header, off, blobs = {}, 0, []
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k], dtype='<f4'); header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}; off += a.nbytes; blobs.append(a.tobytes())
    h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
g = read_st(sys.argv[1]); m = json.load(open(sys.argv[2])); rows = list(csv.reader(open(sys.argv[3])))[1:]
idx = [r['index'] for r in m['included']]
X = np.array([[float(v) for v in rows[i][1:31]] for i in idx]); y = np.array([int(rows[i][31]) for i in idx])
X = (X - X.mean(0)) / (X.std(0) + 1e-9)
W, b = g['weight'].astype(np.float64), g['bias'].astype(np.float64)
for _ in range(50):
    z = X @ W.T + b; p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True); p[np.arange(len(y)), y] -= 1
    W -= 0.1 * p.T @ X / len(y); b -= 0.1 * p.mean(0)
write_st(sys.argv[4], {'weight': W - g['weight'], 'bias': b - g['bias']})
print('trained on', len(idx), 'records')
