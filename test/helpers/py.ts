// The small python3 programs the host and daemon tests run inside network
// namespaces (this machine has no ping binary), written once per process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PY: Record<string, string> = {
  // ping.py DST COUNT: ICMP echo over a raw socket; prints the replies received.
  'ping.py': `
import socket, struct, sys, time, os
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
dst, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff; ok = 0
for seq in range(count):
    payload = b'netwasm-%d' % seq
    h = struct.pack('!BBHHH', 8, 0, 0, ident, seq); h = struct.pack('!BBHHH', 8, 0, csum(h + payload), ident, seq)
    s.sendto(h + payload, (dst, 0)); t = time.time()
    while time.time() - t < 1.0:
        s.settimeout(max(0.01, 1.0 - (time.time() - t)))
        try: d, a = s.recvfrom(2048)
        except socket.timeout: break
        ihl = (d[0] & 15) * 4; ty, _, _, i, q = struct.unpack('!BBHHH', d[ihl:ihl+8])
        if ty == 0 and i == ident and q == seq and a[0] == dst: ok += 1; break
print(ok)
`,
  // server.py ADDR PORT: accepts one connection, prints "bytes sha256".
  'server.py': `
import socket, hashlib, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
s.settimeout(30)
print('listening', flush=True)
c, _ = s.accept(); c.settimeout(30); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest())
`,
  // client.py ADDR PORT MBYTES: sends random bytes, prints "bytes sha256".
  // The bytes are made 1 MiB at a time as they are sent: a long transfer
  // starts at once instead of after seconds of os.urandom on a busy machine.
  'client.py': `
import socket, hashlib, os, sys
total = int(float(sys.argv[3]) * (1 << 20)); h = hashlib.sha256(); sent = 0
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
while sent < total:
    d = os.urandom(min(1 << 20, total - sent)); s.sendall(d); h.update(d); sent += len(d)
s.close()
print(sent, h.hexdigest())
`,
  // inject.py IF HEX: sends one raw frame out of IF.
  'inject.py': `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); s.send(bytes.fromhex(sys.argv[2]))
`,
  // sniff.py IF MARKERHEX SECONDS: prints the first frame on IF containing the marker, in hex.
  'sniff.py': `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind((sys.argv[1], 0))
m = bytes.fromhex(sys.argv[2]); end = time.time() + float(sys.argv[3])
print('listening', flush=True)
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try: d = s.recv(65536)
    except socket.timeout: break
    if m in d: print(d.hex()); sys.exit(0)
sys.exit(1)
`,
  // ident.py ADDR PORT NAME SECONDS: answers every connection with "NAME CLIENT-ADDR:PORT\\n", then closes it.
  'ident.py': `
import socket, sys, time
s = socket.socket(socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
end = time.time() + float(sys.argv[4])
print('listening', flush=True)
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try: c, a = s.accept()
    except socket.timeout: break
    c.sendall(('%s %s:%d\\n' % (sys.argv[3], a[0], a[1])).encode()); c.close()
`,
  // connect.py ADDR PORT N: N connections; prints each answer line (or "ERR reason").
  'connect.py': `
import socket, sys
for i in range(int(sys.argv[3])):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
        peer = s.getpeername(); buf = b''
        while not buf.endswith(b'\\n'):
            d = s.recv(256)
            if not d: break
            buf += d
        s.close(); print(buf.decode().strip(), 'from %s:%d' % peer, flush=True)
    except Exception as e:
        print('ERR', e, flush=True)
`,
};

let pyDir = '';

/** Path of one of the python helpers. */
export function py(name: string): string {
  if (!(name in PY)) throw new Error(`no python helper ${name}`);
  if (!pyDir) {
    pyDir = mkdtempSync(join(tmpdir(), 'netwasm-py-'));
    for (const [f, src] of Object.entries(PY)) writeFileSync(join(pyDir, f), src);
    process.on('exit', () => rmSync(pyDir, { recursive: true, force: true }));
  }
  return join(pyDir, name);
}
