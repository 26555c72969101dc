#!/usr/bin/env python3
"""Writes the seed corpora of the config, control and SCSI fuzz targets
(tests/fuzz/corpus/{config,ctl,scsi}). Run from anywhere; rewrites the
files it owns and leaves regression seeds (names starting with crash-,
leak- or regress-) alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
IQN = "iqn.2026-11.org.ringtgt:demo"


def write(sub, name, data):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- config ----------------------------------------------------------------
CONFIGS = {
    "shipped": open(os.path.join(HERE, "..", "..", "conf", "ringtgt.conf")).read(),
    "full": f'''portal = {{"127.0.0.1:3260", "[::1]:3261"}}
nop_interval = 5
nop_timeout = 0
login_timeout = 30
tmf_timeout = 5
tx_stall_timeout = 0
max_connections = 100
max_connections_per_source = 10
max_connections_per_target = 20
max_sessions_per_target = 5
buffer_per_connection = "16M"
buffer_total = 2G
reactors = 2
event_loop = "epoll"
target "{IQN}" {{
  tid = 7
  controller = false
  lun 0 {{ backing = "ram" size = "64M" block_size = 4096 tas = false }}
  lun 1 {{ path = "/srv/a.img" size = 1048576 create = true readonly = true direct = true serial = "S1" }}
  acl = {{"ALL", "10.0.0.0/8", "192.168.1.7", "iqn.1994-05.com.redhat:host"}}
}}
target 'eui.0123456789abcdef' {{ acl = {{"::1/128"}} }}
''',
    "comments": '# hash\n// slashes\n/* block\n   comment */ nop_interval = 3 # after\n'
                'target "' + IQN + '" { /* } */ lun 1 { path = /srv/a//b.img } }\n',
    "escapes": 'event_loop = "ep\\x6fll"\nportal = {"127.0.0.1:32\\\n60"}\n'
               'target "' + IQN + '" { lun 2 { path = "/a b/\\"q\\".img" serial = \'x}y\' } }\n',
    "envvar": 'target "' + IQN + '" { lun 1 { path = "${HOME}/x.img" } }\nportal += {"0.0.0.0"}\n',
    "unterminated-comment": 'portal = {"127.0.0.1:3260"}\n/* the demo target\ntarget "' + IQN + '" {\n}\n',
    "unterminated-string": 'target "' + IQN + '" {\n  lun 1 { path = "/srv/a.img }\n}\n',
    "missing-brace": 'target "' + IQN + '" {\n  acl = {"ALL"\n  lun 1 { path = "/a" }\n',
    "extra-brace": '}\n',
    "bad-values": 'nop_interval = -1\nreactors = 5000\nevent_loop = kqueue\n',
    "bad-lun": 'target "' + IQN + '" {\n lun 0 { path = "/a" }\n lun 256 { backing = "ram" }\n}\n',
    "dup": 'target "' + IQN + '" { tid = 1 }\ntarget "IQN.2026-11.org.ringtgt:DEMO" { tid = 1 }\n',
    "include": '@include "other.conf"\nfoo(1, 2)\n',
}
for name, text in CONFIGS.items():
    write("config", name, text)

# --- control protocol ---------------------------------------------------------
CTL = {
    "target-add": '{"v": 1, "op": "target.add", "args": {"iqn": "%s"}, "id": 7}\n' % IQN,
    "lifecycle": "\n".join([
        '{"v":1,"op":"target.add","args":{"iqn":"%s","tid":3}}' % IQN,
        '{"v":1,"op":"lun.add","args":{"iqn":"%s","lun":0,"type":"controller"}}' % IQN,
        '{"v":1,"op":"lun.add","args":{"iqn":"%s","lun":1,"backing":"ram","size":"1M","block_size":4096,"serial":"S1"}}' % IQN,
        '{"v":1,"op":"lun.add","args":{"iqn":"%s","lun":2,"path":"x.img","size":1048576,"create":true,"readonly":false,"direct":false}}' % IQN,
        '{"v":1,"op":"acl.add","args":{"iqn":"%s","rule":"10.0.0.0/8"}}' % IQN,
        '{"v":1,"op":"acl.add","args":{"iqn":"%s","rule":"ALL"}}' % IQN,
        '{"v":1,"op":"target.list","id":"a"}',
        '{"v":1,"op":"session.list"}',
        '{"v":1,"op":"daemon.status","id":[1,{"x":null}]}',
        '{"v":1,"op":"acl.remove","args":{"iqn":"%s","rule":"10.0.0.0/8"}}' % IQN,
        '{"v":1,"op":"lun.remove","args":{"iqn":"%s","lun":1,"force":true}}' % IQN,
        '{"v":1,"op":"target.remove","args":{"iqn":"%s","force":false}}' % IQN,
    ]) + "\n",
    "errors": "\n".join([
        '{"v":1,"op":"target.add","args":{"iqn":"disk1"}}',
        '{"v":2,"op":"target.list"}',
        '{"op":"target.list"}',
        '{"v":1}',
        '{"v":1,"op":"nope"}',
        '{"v":1,"op":"target.list","args":[]}',
        '{"v":1,"op":"target.list","args":{"bogus":1}}',
        '{"v":1,"op":"lun.add","args":{"iqn":"%s","lun":999}}' % IQN,
        '{"v":1,"op":"lun.add","args":{"iqn":"%s","lun":1,"size":"1X"}}' % IQN,
        '{"v":1,"op":"target.remove","args":{"iqn":7}}',
        '[1,2,3]',
        '{"v":1,"op":"target.list"} {"v":1}',
        '{"v":1,"op":"target.list"',
        '   \r',
        '"\\ud800"',
        '{"v":1.5,"op":"target.list"}',
        '{"v":1,"op":"target.list","id":"\\u0000\\n"}\r',
    ]) + "\n",
}
for name, text in CTL.items():
    write("ctl", name, text)

# --- SCSI -------------------------------------------------------------------
def rec(cdb, exp_len=0, flags=0, data=b""):
    cdb = bytes(cdb) + bytes(16 - len(cdb))
    if flags & 2:  # the length is counted in units of 16
        exp_len >>= 4
    return bytes([flags]) + struct.pack("<H", exp_len) + cdb + data

def be(n, v):
    return v.to_bytes(n, "big")

TUR = [0x00]
def read10(lba, n): return [0x28, 0] + list(be(4, lba)) + [0] + list(be(2, n)) + [0]
def write10(lba, n): return [0x2a, 0] + list(be(4, lba)) + [0] + list(be(2, n)) + [0]
def read16(lba, n): return [0x88, 0] + list(be(8, lba)) + list(be(4, n)) + [0, 0]
def write16(lba, n): return [0x8a, 0] + list(be(8, lba)) + list(be(4, n)) + [0, 0]
def read6(lba, n): return [0x08] + list(be(3, lba)) + [n, 0]
def write6(lba, n): return [0x0a] + list(be(3, lba)) + [n, 0]
def read12(lba, n): return [0xa8, 0] + list(be(4, lba)) + list(be(4, n)) + [0, 0]
def write12(lba, n): return [0xaa, 0] + list(be(4, lba)) + list(be(4, n)) + [0, 0]

B = 512
pat = lambda n, k: bytes((i * 7 + k) & 0xff for i in range(n))
# LU byte: bit0 4096-byte blocks, bit1 read-only, bits 2..7 extra blocks
SCSI = {
    "rw10": bytes([0x00]) + rec(TUR) + rec(write10(3, 2), 2 * B, 0, pat(2 * B, 1))
            + rec(read10(2, 4), 4 * B) + rec(read10(15, 1), B),
    "rw16-4k": bytes([0x01]) + rec(TUR) + rec(write16(1, 1), 4096, 0, pat(4096, 2))
               + rec(read16(0, 3), 3 * 4096) + rec(read16(2**64 - 1, 2), 8192),
    "rw6-12": bytes([0x04 * 10]) + rec(TUR) + rec(write6(5, 1), B, 0, pat(B, 3))
              + rec(read6(5, 1), B) + rec(write12(0, 2), 2 * B, 0, pat(2 * B, 4))
              + rec(read12(0, 3), 3 * B) + rec(read6(0, 0), 256 * B, 2),
    "readonly": bytes([0x02]) + rec(TUR) + rec(write10(0, 1), B, 0, pat(B, 5)) + rec(read10(0, 1), B),
    "inquiry": bytes([0]) + rec([0x12, 0, 0, 0, 255, 0], 255) + rec([0x12, 1, 0x00, 0, 255, 0], 255)
               + rec([0x12, 1, 0x80, 0, 255, 0], 255) + rec([0x12, 1, 0x83, 0, 255, 0], 255)
               + rec([0x12, 1, 0xb0, 0, 255, 0], 255) + rec([0x12, 1, 0xb2, 0, 255, 0], 255)
               + rec([0x12, 0, 0, 0, 255, 0], 255, 1),
    "capacity": bytes([0]) + rec(TUR) + rec([0x25] + [0] * 9, 8)
                + rec([0x9e, 0x10] + [0] * 8 + list(be(4, 32)) + [0, 0], 32)
                + rec([0x9e, 0x12] + list(be(8, 0)) + list(be(4, 64)) + [0, 0], 64),
    "mode-sense": bytes([0]) + rec([0x1a, 0, 0x3f, 0, 255, 0], 255) + rec([0x5a, 0, 0x08, 0, 0, 0, 0, 1, 0, 0], 256)
                  + rec([0x1a, 0x08, 0x0a, 0, 255, 0], 255),
    "luns-sense": bytes([0]) + rec([0xa0, 0, 0, 0, 0, 0] + list(be(4, 256)) + [0, 0], 256)
                  + rec([0x03, 0, 0, 0, 252, 0], 252) + rec([0xa3, 0x0c, 0, 0, 0, 0] + list(be(4, 4096)) + [0, 0], 4096),
    "verify": bytes([0]) + rec(TUR) + rec(write10(4, 1), B, 0, pat(B, 6))
              + rec([0x2f, 0x02] + list(be(4, 4)) + [0] + list(be(2, 1)) + [0], B, 0, pat(B, 6))
              + rec([0x2f, 0x02] + list(be(4, 4)) + [0] + list(be(2, 1)) + [0], B, 0, pat(B, 9))
              + rec([0x8f, 0x00] + list(be(8, 0)) + list(be(4, 8)) + [0, 0])
              + rec([0x2e, 0x02] + list(be(4, 6)) + [0] + list(be(2, 1)) + [0], B, 0, pat(B, 7)),
    "caw": bytes([0]) + rec(TUR) + rec(write10(1, 1), B, 0, pat(B, 8))
           + rec([0x89, 0] + list(be(8, 1)) + [0, 0, 0, 1, 0, 0], 2 * B, 0, pat(B, 8) + pat(B, 11))
           + rec([0x89, 0] + list(be(8, 1)) + [0, 0, 0, 1, 0, 0], 2 * B, 0, pat(B, 8) + pat(B, 11))
           + rec(read10(1, 1), B),
    "write-same-unmap": bytes([0]) + rec(TUR)
                        + rec([0x41, 0] + list(be(4, 2)) + [0] + list(be(2, 3)) + [0], B, 0, pat(B, 12))
                        + rec(read10(2, 3), 3 * B)
                        + rec([0x93, 0x08] + list(be(8, 0)) + list(be(4, 2)) + [0, 0], B, 0, pat(B, 13))
                        + rec([0x93, 0x01] + list(be(8, 4)) + list(be(4, 0)) + [0, 0])
                        + rec([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], 24, 0,
                              be(2, 22) + be(2, 16) + bytes(4) + be(8, 1) + be(4, 2) + bytes(4))
                        + rec([0x9e, 0x12] + list(be(8, 0)) + list(be(4, 64)) + [0, 0], 64),
    "sync-prefetch": bytes([0]) + rec([0x35] + [0] * 9) + rec([0x91] + [0] * 15)
                     + rec([0x34, 0] + list(be(4, 0)) + [0] + list(be(2, 4)) + [0])
                     + rec([0x90, 0] + list(be(8, 10)) + list(be(4, 100)) + [0, 0]),
    "no-lu": bytes([0]) + rec([0x12, 0, 0, 0, 36, 0], 36, 1) + rec(TUR, 0, 1) + rec(read10(0, 1), B, 1)
             + rec([0xa0, 0, 0, 0, 0, 0] + list(be(4, 64)) + [0, 0], 64, 1),
    "overflow": bytes([0]) + rec(read10(0, 8), 2 * B) + rec(write10(0, 8), 3 * B, 0, pat(3 * B, 14))
                + rec(read10(0, 8), 8 * B) + rec(read16(0, 0xffffffff), 65535, 2),
}
# every block written (data: the fuzzer's per-command pattern, flag 4),
# then all read back at once
SCSI["sweep"] = bytes([0]) + rec(TUR) + b"".join(
    rec(write10(lba, 1), B, 4) for lba in range(16)) + rec(read10(0, 16), 16 * B)
SCSI["sweep-4k"] = bytes([0x01]) + rec(TUR) + b"".join(
    rec(write16(lba, 1), 4096, 4) for lba in range(16)) + rec(read16(0, 16), 16 * 4096, 2)
for name, data in SCSI.items():
    write("scsi", name, data)
