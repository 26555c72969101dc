#!/usr/bin/env python3
"""Writes the seed corpora of the config, control, SCSI, receive-framing,
login, Data-Out, CHAP, APTPL state file and TransportID fuzz targets
(tests/fuzz/corpus/{config,ctl,scsi,rx,login,dataout,chap,aptpl,transport_id}). Run from
anywhere; rewrites the
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
control_group = "nogroup"
portal_group 2 {{ portal = {{"127.0.0.1:3262"}} alua_state = "standby" }}
portal_group 1 {{ alua_state = "active/non-optimized" }}
account "alice" {{ secret = "alice-secret-1234" }}
account 'iqn.1994-05.com.redhat:host' {{ secret = "host-secret-5678" }}
account tgt {{ secret = "target-secret-90" }}
account disc {{ secret = "disc-secret-1234" }}
account dout {{ secret = "dout-secret-5678" }}
discovery_auth = mutual
discovery_incoming = {{"disc"}}
discovery_outgoing = "dout"
target "{IQN}" {{
  tid = 7
  controller = false
  lun 0 {{ backing = "ram" size = "64M" block_size = 4096 tas = false }}
  lun 1 {{ path = "/srv/a.img" size = 1048576 create = true readonly = true direct = true serial = "S1" }}
  acl = {{"ALL", "10.0.0.0/8", "192.168.1.7", "iqn.1994-05.com.redhat:host"}}
  incoming = {{"alice", "iqn.1994-05.com.redhat:host"}}
  outgoing = "tgt"
  chap_algorithms = "SHA256,SHA3-256"
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
    "auth-bad": 'account a { secret = "s" }\naccount a { secret = "" }\n'
                'account "b c" { "hidden" }\ndiscovery_auth = mutual\n'
                'target "' + IQN + '" {\n  incoming = {"a", "a", "x"}\n'
                '  outgoing = {"a", "b"}\n  chap_algorithms = "SHA512"\n}\n',
    "auth-directions": 'account a { secret = "same-secret-123" }\n'
                       'account b { secret = "same-secret-123" }\n'
                       'discovery_auth = chap\ndiscovery_incoming = {"a"}\n'
                       'target "' + IQN + '" { incoming = {"a"} outgoing = "b" }\n',
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
    "conn-log": "\n".join([
        '{"v":1,"op":"target.add","args":{"iqn":"%s"}}' % IQN,
        '{"v":1,"op":"connection.close","args":{"iqn":"%s","tsih":1,"cid":0}}' % IQN,
        '{"v":1,"op":"connection.close","args":{"iqn":"%s","tsih":70000,"cid":-1}}' % IQN,
        '{"v":1,"op":"daemon.set_log_level","args":{"level":"debug"}}',
        '{"v":1,"op":"daemon.set_log_level","args":{"level":"loud"}}',
        '{"v":1,"op":"daemon.set_log_level","args":{"level":"info"}}',
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
    # issue 10: persistent reservations, SPC-2 RESERVE / RELEASE, ALUA
    "pr": bytes([0]) + rec([0x5f, 0x00, 0, 0, 0] + list(be(4, 24)) + [0], 0, 0,
                           bytes(8) + be(8, 0x1122334455667788) + bytes(8))
          + rec([0x5f, 0x01, 0x01, 0, 0] + list(be(4, 24)) + [0], 0, 0,
                be(8, 0x1122334455667788) + bytes(16))
          + rec([0x5e, 0x00, 0, 0, 0, 0, 0] + list(be(2, 256)) + [0], 256)
          + rec([0x5e, 0x01, 0, 0, 0, 0, 0] + list(be(2, 256)) + [0], 256)
          + rec([0x5e, 0x02, 0, 0, 0, 0, 0] + list(be(2, 8)) + [0], 8)
          + rec([0x5e, 0x03, 0, 0, 0, 0, 0] + list(be(2, 512)) + [0], 512)
          + rec(TUR) + rec(write10(0, 1), B, 0, pat(B, 12))
          + rec([0x5f, 0x02, 0x01, 0, 0] + list(be(4, 24)) + [0], 0, 0,
                be(8, 0x1122334455667788) + bytes(16))
          + rec([0x5f, 0x03, 0, 0, 0] + list(be(4, 24)) + [0], 0, 0,
                be(8, 0x1122334455667788) + bytes(16)),
    "reserve": bytes([0]) + rec([0x16, 0, 0, 0, 0, 0]) + rec(TUR) + rec(read10(0, 1), B)
               + rec([0x17, 0, 0, 0, 0, 0]) + rec([0x56] + [0] * 9) + rec([0x57] + [0] * 9)
               + rec([0x16, 0x10, 0, 0, 0, 0]),
    "tpg": bytes([0]) + rec([0xa3, 0x0a, 0, 0, 0, 0] + list(be(4, 256)) + [0, 0], 256)
           + rec([0xa3, 0x2a, 0, 0, 0, 0] + list(be(4, 256)) + [0, 0], 256)
           + rec([0xa4, 0x0a, 0, 0, 0, 0] + list(be(4, 8)) + [0, 0], 0, 0,
                 bytes([0, 0, 0, 0, 0x02, 0]) + be(2, 1))
           + rec(TUR) + rec(read10(0, 1), B),
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

# --- receive framing (fuzz_rx.c) -----------------------------------------------
def bhs(op, flags=0, ahs_words=0, dsl=0, lun=0, itt=1, f20=0, f24=0, f28=0, rest=b""):
    b = bytes([op, flags, 0, 0, ahs_words]) + be(3, dsl) + be(8, lun) + be(4, itt) \
        + be(4, f20) + be(4, f24) + be(4, f28)
    b += rest + bytes(48 - len(b) - len(rest))
    return b[:48]


def pdu(op, flags=0, data=b"", ahs=b"", hd=False, dd=False, **kw):
    """A PDU as sent; digests are placeholders (fuzz_rx rewrites them with
    flag 0x80 of byte 1)."""
    out = bhs(op, flags, len(ahs) // 4, len(data), **kw) + ahs
    if hd:
        out += b"HDGT"
    if data:
        out += data + bytes((4 - len(data) % 4) % 4)
        if dd:
            out += b"DDGT"
    return out


LOGIN_KEYS = b"InitiatorName=iqn.2024-01.org.ringtgt:init\0SessionType=Normal\0" \
             b"TargetName=iqn.2024-01.org.ringtgt:fuzz\0AuthMethod=None\0"
CDB_READ10 = bytes(read10(0, 1)) + bytes(6)
ext_cdb_ahs = be(2, 17) + bytes([1, 0]) + bytes(range(17)) + bytes(3)   # type 1, 16+1 CDB bytes


def ffp_stream(hd, dd):
    return b"".join([
        pdu(0x01, 0xc1, b"", hd=hd, dd=dd, lun=1, itt=2, f20=512, rest=b""),
        pdu(0x01, 0xa1, b"W" * 512, hd=hd, dd=dd, itt=3, f20=1024),
        pdu(0x05, 0x80, b"D" * 512, hd=hd, dd=dd, itt=3, f20=0xffffffff),
        pdu(0x01, 0x81, ahs=ext_cdb_ahs, hd=hd, dd=dd, itt=4),
        pdu(0x40, 0x80, b"ping!", hd=hd, dd=dd, itt=5, f20=0xffffffff),
        pdu(0x46, 0x80, hd=hd, dd=dd, itt=6),
    ])


def rx(mrdsl_idx, hd, dd, switch, fix, keep_bad, splits, stream, small_buf=0):
    return bytes([mrdsl_idx | (8 if hd else 0) | (16 if dd else 0),
                  switch | small_buf << 3 | (0x80 if fix else 0), keep_bad, len(splits)]) \
        + bytes(splits) + stream


login = pdu(0x43, 0x81, LOGIN_KEYS, itt=1)
RX = {
    "login-then-digests": rx(3, True, True, 1, True, 0, [], login + ffp_stream(True, True)),
    "byte-at-a-time": rx(3, True, True, 1, True, 0, [0], login + ffp_stream(True, True)),
    "splits-around-header": rx(3, True, False, 1, True, 0, [46, 0, 0, 3, 200, 7],
                               login + ffp_stream(True, False)),
    "no-digests": rx(0, False, False, 1, False, 0, [13, 129], login + ffp_stream(False, False)),
    "data-digest-only": rx(2, False, True, 0, True, 0, [250, 5], ffp_stream(False, True)),
    "bad-header-digest": rx(3, True, True, 1, True, 0x04, [31], login + ffp_stream(True, True)),
    "bad-data-digest": rx(3, False, True, 1, True, 0x04, [64], login + ffp_stream(False, True)),
    "too-long": rx(0, False, False, 0, False, 0, [20, 20],
                   pdu(0x00, 0x80, itt=9) + bhs(0x05, 0x80, 0, 513) + b"x" * 600),
    "too-long-login": rx(3, False, False, 4, False, 0, [0],
                         bhs(0x43, 0x81, 0, 8193) + b"k" * 100),
    "huge-dsl": rx(6, True, True, 0, True, 0, [47, 0], bhs(0x01, 0x81, 0, 0xffffff) + bytes(64)),
    "bad-opcode": rx(3, False, False, 0, False, 0, [], pdu(0x00, 0x80) + bhs(0x21, 0x80) + bytes(8)),
    "ahs-on-nop": rx(3, False, False, 0, False, 0, [], bhs(0x00, 0x80, 1) + bytes(4)),
    "ahs-max": rx(3, True, False, 0, True, 0, [255, 255], pdu(0x01, 0x81, ahs=bytes(255 * 4), hd=True)),
    "compaction": rx(0, False, False, 0, False, 0, [254, 3],
                     b"".join(pdu(0x00, 0x80, bytes([i]) * (509 + i % 4), itt=i) for i in range(7)), 5),
    "compaction-digests": rx(0, True, True, 0, True, 0, [100, 37, 1],
                             b"".join(pdu(0x00, 0x80, bytes([i]) * (509 + i % 4), hd=True, dd=True, itt=i)
                                      for i in range(7)), 2),
    "small-buffer-login": rx(3, True, True, 1, True, 0, [0, 90], login + ffp_stream(True, True), 1),
    "larger-than-buffer": rx(3, False, False, 0, False, 0, [], bhs(0x00, 0x80, 0, 3000) + bytes(100), 1),
    "truncated": rx(3, True, True, 1, True, 0, [100], (login + ffp_stream(True, True))[:-7]),
}
for name, data in RX.items():
    write("rx", name, data)

# --- login sequences (fuzz_login.c) -----------------------------------------------
FC_TARGET = "iqn.2024-01.org.ringtgt:fuzz"
FC_OPEN = "iqn.2024-01.org.ringtgt:open"
FC_LONG = "iqn.2024-01.org.ringtgt:long"
FC_CHAP = "iqn.2024-01.org.ringtgt:chap"
FC_ALLOWED = "iqn.2024-01.org.ringtgt:allowed"
LONG_NAME = "iqn.2024-01.org.ringtgt:" + "x" * (223 - len("iqn.2024-01.org.ringtgt:"))
T, C = 0x80, 0x40


def lrec(kind, flags=0, var=0, text=""):
    t = text.encode() if isinstance(text, str) else text
    return bytes([kind, flags, var]) + be(2, len(t)) + t


def keys(*kv):
    return "".join(k + "\n" for k in kv)


def login_req(flags, *kv, var=0):
    return lrec(0, flags, var, keys(*kv))


SEC = (0 << 2)
OPR = (1 << 2)
who = lambda i=FC_ALLOWED, t=FC_TARGET: ("InitiatorName=" + i, "TargetName=" + t, "SessionType=Normal")
OPS = ("HeaderDigest=None", "DataDigest=None", "MaxRecvDataSegmentLength=65536",
       "MaxBurstLength=262144", "FirstBurstLength=65536", "InitialR2T=No", "ImmediateData=Yes",
       "MaxOutstandingR2T=4", "ErrorRecoveryLevel=0")
FFP_TAIL = lrec(4, 0, 0, keys("SendTargets=All")) + lrec(6 | 8) + lrec(7) + lrec(5 | 8, 0)
LOGIN = {
    "two-stages": bytes([0]) + login_req(SEC | T | 1, *who(), "AuthMethod=None")
                  + login_req(OPR | T | 3, *OPS) + FFP_TAIL,
    "operational-to-ffp": bytes([1]) + login_req(OPR | T | 3, *who(), *OPS) + FFP_TAIL,
    "security-to-ffp": bytes([2]) + login_req(SEC | T | 3, *who(), "AuthMethod=None") + FFP_TAIL,
    "security-no-auth": bytes([0]) + login_req(SEC | T | 3, *who()),
    "stay-then-transit": bytes([0]) + login_req(SEC | 1, *who(), "AuthMethod=None")
                         + login_req(SEC | T | 1) + login_req(OPR | 1, *OPS) + login_req(OPR | T | 3),
    "acl-denied": bytes([0]) + login_req(OPR | T | 3, *who("iqn.2024-01.org.ringtgt:other"), *OPS),
    "acl-case": bytes([0]) + login_req(OPR | T | 3, *who(FC_ALLOWED.upper()), *OPS),
    "open-target": bytes([0]) + login_req(OPR | T | 3, *who("iqn.1994-05.com.example:any", FC_OPEN)) + FFP_TAIL,
    "no-such-target": bytes([0]) + login_req(OPR | T | 3, *who(FC_ALLOWED, "iqn.2024-01.org.ringtgt:none")),
    "discovery": bytes([0]) + login_req(SEC | T | 1, "InitiatorName=iqn.x:y", "SessionType=Discovery",
                                        "AuthMethod=None") + login_req(OPR | T | 3)
                 + lrec(4, 0, 0, keys("SendTargets=All")) + lrec(7) + lrec(5 | 8),
    "identity-change": bytes([0]) + login_req(SEC | T | 1, *who(FC_ALLOWED), "AuthMethod=None")
                       + login_req(OPR | T | 3, "InitiatorName=iqn.2024-01.org.ringtgt:evil"),
    "target-change": bytes([0]) + login_req(SEC | T | 1, *who("iqn.a:b", FC_OPEN), "AuthMethod=None")
                     + login_req(OPR | T | 3, "TargetName=" + FC_TARGET),
    "type-change": bytes([0]) + login_req(SEC | T | 1, *who(), "AuthMethod=None")
                   + login_req(OPR | T | 3, "SessionType=Discovery"),
    "type-late": bytes([0]) + login_req(SEC | T | 1, "InitiatorName=" + FC_ALLOWED, "TargetName=" + FC_TARGET,
                                        "AuthMethod=None")
                 + login_req(OPR | T | 3, "SessionType=Discovery"),
    "c-bit-pieces": bytes([0]) + lrec(0, SEC | C, 0, "InitiatorName=" + FC_ALLOWED + "\nTargetNa")
                    + lrec(0, SEC | T | 1, 0, "me=" + FC_TARGET + "\nAuthMethod=None\n")
                    + login_req(OPR | T | 3, *OPS) + FFP_TAIL,
    "digests": bytes([0]) + login_req(OPR | T | 3, *who(), "HeaderDigest=CRC32C,None", "DataDigest=CRC32C")
               + lrec(4, 0, 0, keys("SendTargets=All")) + lrec(6 | 8, 0, 0, "ping") + lrec(7) + lrec(5 | 8),
    "long-name": bytes([0]) + login_req(OPR | T | 3, *who(LONG_NAME, FC_LONG)) + lrec(7) + lrec(5 | 8),
    "regress-long-name-plus-one": bytes([0]) + login_req(OPR | T | 3, *who(LONG_NAME + "y", FC_LONG)),
    "bad-flags": bytes([0]) + login_req(OPR | T | C | 3, *who()),
    "nsg-2": bytes([0]) + login_req(OPR | T | 2, *who()),
    "back-to-security": bytes([0]) + login_req(OPR | 3, *who()) + login_req(SEC | T | 1),
    "version": bytes([0]) + login_req(OPR | T | 3, *who(), var=0x20),
    "tsih": bytes([0]) + login_req(OPR | T | 3, *who(), var=0x04),
    "itt-cid-change": bytes([0]) + login_req(OPR | 3, *who()) + login_req(OPR | T | 3, var=0x18),
    "regress-isid-change": bytes([0]) + login_req(OPR | 3, *who()) + login_req(OPR | T | 3, var=0x01),
    "nop-during-login": bytes([0]) + lrec(6 | 8) + login_req(OPR | T | 3, *who()),
    "login-in-ffp": bytes([0]) + login_req(OPR | T | 3, *who()) + login_req(OPR | T | 3, *who()) + lrec(7),
    # issue 9: CHAP (FC_CHAP requires it; byte 0 bit 2: discovery auth)
    "chap-exchange": bytes([0]) + login_req(SEC | 1, *who("iqn.x:y", FC_CHAP), "AuthMethod=CHAP,None")
                     + login_req(SEC | 1, "CHAP_A=7,5")
                     + login_req(SEC | T | 1, "CHAP_N=fuzz", "CHAP_R=0x" + "ab" * 32)
                     + login_req(OPR | T | 3, *OPS),
    "chap-mutual": bytes([0]) + login_req(SEC | 1, *who("iqn.x:y", FC_CHAP), "AuthMethod=CHAP")
                   + login_req(SEC | 1, "CHAP_A=8")
                   + login_req(SEC | T | 1, "CHAP_N=fuzz", "CHAP_R=0b" + "q83v" * 10 + "q80=",
                               "CHAP_I=3", "CHAP_C=0x0102030405060708")
                   + login_req(OPR | T | 3, *OPS),
    "chap-none-offered": bytes([0]) + login_req(SEC | T | 1, *who("iqn.x:y", FC_CHAP), "AuthMethod=None")
                         + login_req(OPR | T | 3, *OPS),
    "chap-skip-security": bytes([0]) + login_req(OPR | T | 3, *who("iqn.x:y", FC_CHAP), *OPS),
    "chap-keys-early": bytes([0]) + login_req(SEC | T | 1, *who("iqn.x:y", FC_CHAP), "CHAP_A=5",
                                              "CHAP_N=fuzz", "CHAP_R=0x00"),
    "chap-after-transit": bytes([0]) + login_req(SEC | T | 1, *who(), "AuthMethod=None")
                          + login_req(OPR | 1, "CHAP_A=5") + login_req(OPR | T | 3, *OPS),
    "discovery-auth": bytes([4]) + login_req(SEC | 1, "InitiatorName=iqn.x:y", "SessionType=Discovery",
                                             "AuthMethod=CHAP,None") + login_req(SEC | 1, "CHAP_A=5")
                      + login_req(SEC | T | 1, "CHAP_N=disc", "CHAP_R=0x" + "00" * 16)
                      + login_req(OPR | T | 3) + lrec(4, 0, 0, keys("SendTargets=All")),
    "discovery-auth-none": bytes([4]) + login_req(SEC | T | 1, "InitiatorName=iqn.x:y",
                                                  "SessionType=Discovery", "AuthMethod=None")
                           + login_req(OPR | T | 3) + lrec(4, 0, 0, keys("SendTargets=All")),
    "big-limits": bytes([3]) + login_req(OPR | T | 3, *who(), "MaxBurstLength=16777215",
                                         "FirstBurstLength=16777215", "MaxOutstandingR2T=65535",
                                         "MaxRecvDataSegmentLength=16777215") + lrec(7),
    "small-limits": bytes([2]) + login_req(OPR | T | 3, *who(), "MaxBurstLength=512",
                                           "FirstBurstLength=65536", "MaxOutstandingR2T=1") + lrec(7),
    "unknown-keys": bytes([0]) + login_req(OPR | T | 3, *who(), "X-foo=bar", "Bogus=1", "=x", "MaxBurstLength=abc"),
    "repeat-same": bytes([0]) + login_req(SEC | T | 1, *who(), "AuthMethod=None") + login_req(OPR | T | 3, *who(), *OPS),
}
for name, data in LOGIN.items():
    write("login", name, data)

# --- Data-Out / R2T sequencing (fuzz_dataout.c) -------------------------------------
def dhdr(ir2t, imm, mrdsl_idx, fb_blocks, mb_blocks, r2t):
    return bytes([(1 if ir2t else 0) | (2 if imm else 0) | mrdsl_idx << 2,
                  fb_blocks - 1, mb_blocks - 1, r2t - 1])


def wr(slot, lba2, blocks, imm_q=0, final=False, x=0):
    """WRITE(10) in @slot at LBA 2*lba2; imm_q: immediate data 0, 1/4, 1/2, all."""
    return bytes([slot << 3, lba2, (blocks - 1) | imm_q << 5 | (0x80 if final else 0), x])


def dout(slot, ttt_mode=0, length=0, bad_sn=False, bad_off=False, flip_f=False):
    return bytes([2, slot | ttt_mode << 3 | (0x20 if bad_sn else 0) | (0x40 if bad_off else 0)
                  | (0x80 if flip_f else 0), length >> 8, length & 0xff])


def answer(slot, pdu=512):
    return bytes([4, slot, pdu >> 4, pdu & 15])


def unsol(slot, size_sel=1, salt=0):
    return bytes([5, slot, size_sel, salt])


NOP = bytes([6, 1, 1, 0x55])
SNACK = bytes([7, 0, 0, 0])
DATAOUT = {
    "initial-r2t": dhdr(True, False, 3, 16, 4, 4) + wr(0, 0, 32) + answer(0, 2048) + wr(1, 20, 3) + answer(1, 256),
    "immediate-unsolicited-r2t": dhdr(False, True, 3, 4, 8, 2) + wr(0, 4, 16, 1) + unsol(0, 1) + answer(0, 1024),
    "immediate-all-final": dhdr(False, True, 3, 32, 32, 1) + wr(0, 8, 8, 3, True) + wr(1, 9, 2, 3, True),
    "immediate-beyond-first-burst": dhdr(False, True, 3, 1, 32, 1) + wr(0, 0, 4, 3, True) + wr(1, 0, 1, 3, True),
    "sixteen-outstanding": dhdr(True, False, 3, 1, 1, 16) + wr(0, 30, 32) + answer(0, 512),
    "outstanding-partly-answered": dhdr(True, False, 3, 1, 2, 3) + wr(0, 60, 24) + dout(0, 0, 1024) + dout(0, 0, 512)
                                   + dout(0, 0, 512) + answer(0, 300),
    "wrong-ttt": dhdr(True, False, 3, 1, 2, 2) + wr(0, 1, 8) + dout(0, 3, 100),
    "newest-r2t-first": dhdr(True, False, 3, 1, 2, 4) + wr(0, 1, 8) + dout(0, 2, 1024),
    "wrong-datasn": dhdr(True, False, 3, 1, 4, 2) + wr(0, 2, 8) + dout(0, 0, 512, bad_sn=True) + answer(0),
    "wrong-offset": dhdr(True, False, 3, 1, 4, 2) + wr(0, 2, 8) + dout(0, 0, 512, bad_off=True) + answer(0),
    "early-final": dhdr(True, False, 3, 1, 4, 2) + wr(0, 2, 8) + dout(0, 0, 512, flip_f=True) + answer(0),
    "unsolicited-with-initial-r2t": dhdr(True, True, 3, 8, 8, 1) + wr(0, 3, 4) + dout(0, 1, 512) + answer(0),
    "immediate-when-not-allowed": dhdr(False, False, 3, 8, 8, 1) + wr(0, 3, 4, 2) + unsol(0) + answer(0),
    "regress-short-unsolicited-burst": dhdr(False, True, 3, 16, 16, 1) + wr(0, 5, 16) + dout(0, 1, 1024, flip_f=True)
                               + answer(0, 4080),
    "unsolicited-beyond-burst": dhdr(False, True, 3, 2, 16, 1) + wr(0, 5, 8) + dout(0, 1, 2048) + answer(0),
    "interleaved": dhdr(False, True, 2, 2, 4, 2) + wr(0, 0, 6, 1) + wr(1, 10, 10) + wr(2, 20, 3, 3, True)
                   + unsol(1, 0) + unsol(0, 0) + NOP + answer(1, 700) + SNACK + answer(0, 512) + wr(0, 40, 2, 2)
                   + unsol(0) + answer(0),
    "edtl-differs": dhdr(True, True, 3, 8, 8, 2) + wr(0, 6, 8, 0, False, 0x40 | 9) + answer(0)
                    + wr(1, 7, 2, 0, False, 0x40 | 20) + answer(1),
    "immediate-command": dhdr(True, True, 3, 8, 8, 2) + wr(0, 6, 4, 2, False, 0x20) + answer(0),
    "beyond-the-medium": dhdr(True, True, 3, 8, 8, 2) + wr(0, 255, 32) + answer(0) + wr(1, 250, 12, 1) + answer(1),
    "small-pdus": dhdr(False, True, 0, 3, 5, 3) + wr(0, 12, 20, 1) + unsol(0, 0) + answer(0, 100),
    "tag-reuse-after-end": dhdr(False, True, 3, 32, 32, 1) + wr(0, 1, 1, 3, True) + wr(0, 2, 1, 3, True)
                           + wr(0, 3, 2) + answer(0),
}
for name, data in DATAOUT.items():
    write("dataout", name, data)

# --- CHAP exchanges (fuzz_chap.c) ----------------------------------------------------
# byte 0: allowed CHAP_A bits (0-3), mutual required (4), no outgoing account (5),
# 96-byte answer buffer (6); then "K=value" lines, a blank line ends a request;
# R=* is the right response (R=*b in base64, R=*x wrong), C=* our own challenge.
def chap(flags, *reqs):
    return bytes([flags]) + "\n\n".join("\n".join(r) for r in reqs).encode()


ALL = 0x0F
C16 = "C=0x0123456789abcdeffedcba9876543210"
CHAP = {
    "md5": chap(ALL, ["A=5"], ["N=alice", "R=*"]),
    "sha1": chap(ALL, ["A=6"], ["N=bob", "R=*"]),
    "sha256": chap(ALL, ["A=7"], ["N=alice", "R=*"]),
    "sha3-256": chap(ALL, ["A=8"], ["N=alice", "R=*"]),
    "base64-response": chap(ALL, ["A=7"], ["N=bob", "R=*b"]),
    "wrong-response": chap(ALL, ["A=8"], ["N=alice", "R=*x"]),
    "wrong-user": chap(ALL, ["A=5"], ["N=mallory", "R=*"]),
    "list": chap(ALL, ["A=x,,99,-5,05,0x7,5"], ["N=alice", "R=*"]),
    "allowed-set": chap(0x04, ["A=5,6,8,7"], ["N=alice", "R=*"]),
    "unsupported": chap(ALL, ["A=1,2,3,4,9,255"]),
    "mutual": chap(ALL, ["A=7"], ["N=alice", "R=*", "I=153", C16]),
    "mutual-base64": chap(ALL, ["A=5"], ["N=bob", "R=*", "I=0x99", "C=0bASNFZ4mrze/+3LqYdlQyEA=="]),
    "mutual-odd-hex": chap(ALL, ["A=6"], ["N=alice", "R=*", "I=0", "C=0xabc"]),
    "mutual-reflected": chap(ALL, ["A=7"], ["N=alice", "R=*", "I=1", "C=*"]),
    "mutual-reflected-base64": chap(ALL, ["A=8"], ["N=alice", "R=*", "I=1", "C=*b"]),
    "mutual-no-outgoing": chap(0x2F, ["A=7"], ["N=alice", "R=*", "I=1", C16]),
    "mutual-required-missing": chap(0x1F, ["A=7"], ["N=alice", "R=*"]),
    "mutual-required": chap(0x1F, ["A=7"], ["N=alice", "R=*", "I=255", C16]),
    "mutual-half": chap(ALL, ["A=7"], ["N=alice", "R=*", "I=1"]),
    "mutual-id-range": chap(ALL, ["A=7"], ["N=alice", "R=*", "I=256", C16]),
    "mutual-wrong-response": chap(ALL, ["A=7"], ["N=alice", "R=*x", "I=1", C16]),
    "mutual-long-challenge": chap(ALL, ["A=5"], ["N=alice", "R=*", "I=1", "C=0x" + "7" * 2048]),
    "mutual-too-long-challenge": chap(ALL, ["A=5"], ["N=alice", "R=*", "I=1", "C=0x" + "7" * 2049]),
    "a-twice": chap(ALL, ["A=7"], ["A=7", "N=alice", "R=*"]),
    "after-done": chap(ALL, ["A=7"], ["N=alice", "R=*"], ["A=7"], ["N=alice", "R=*"]),
    "after-failure": chap(ALL, ["A=7"], ["N=alice", "R=*x"], ["A=7"], ["N=alice", "R=*"]),
    "missing-n": chap(ALL, ["A=7"], ["R=*"]),
    "missing-r": chap(ALL, ["A=7"], ["N=alice"]),
    "empty": chap(ALL, [], []),
    "response-first": chap(ALL, ["A=5", "N=alice", "R=0x00"]),
    "small-buffer": chap(0x4F, ["A=5"], ["N=alice", "R=*", "I=1", C16]),
    "small-buffer-sha256": chap(0x4F, ["A=7"], ["N=alice", "R=*", "I=1", C16]),
    "values": chap(ALL, ["A=5"], ["N=alice", "R=0bYWJjZA", "I=0X1", "C=0B+/8="]),
}
for name, data in CHAP.items():
    write("chap", name, data)


# --- aptpl (the PR state file, scsi/pr_state.c) ----------------------------
NAA = "6001405abc0123456789abcdef012345"


def reg(key, port, rel=1, all_tg_pt=False):
    return ('{"key": "0x%016x", "initiator_port": "%s", '
            '"relative_target_port": %d, "all_tg_pt": %s}'
            % (key, port, rel, "true" if all_tg_pt else "false"))


def state(regs, res="null", gen=3, aptpl="true", version=1, naa=NAA):
    return ('{"format": "ringtgt-pr-state", "version": %d, "naa": "%s", '
            '"aptpl": %s, "generation": %d, "registrations": [%s], '
            '"reservation": %s}\n'
            % (version, naa, aptpl, gen, ", ".join(regs), res))


PA = "iqn.1994-05.com.redhat:a,i,0x23d000000001"
PB = "iqn.1994-05.com.redhat:b,i,0x23d000000002"
APTPL = {
    "empty": state([], gen=0),
    "two-regs": state([reg(0xa1, PA), reg(0xb1, PB, 2)]),
    "we-holder": state([reg(0xa1, PA), reg(0xb1, PB)],
                       '{"holder": 1, "type": 1, "scope": 0}', gen=7),
    "ea-ar": state([reg(0xa1, PA), reg(0xb1, PB, all_tg_pt=True)],
                   '{"holder": -1, "type": 8, "scope": 0}', gen=4294967295),
    "max-key": state([reg(0xffffffffffffffff, PA, 65535)],
                     '{"holder": 0, "type": 6, "scope": 0}'),
    "bad-holder": state([reg(0xa1, PA)], '{"holder": 3, "type": 1, "scope": 0}'),
    "bad-type": state([reg(0xa1, PA)], '{"holder": 0, "type": 2, "scope": 0}'),
    "dup-nexus": state([reg(0xa1, PA), reg(0xa2, PA)]),
    "version-2": state([], version=2),
    "truncated": state([reg(0xa1, PA)])[:90],
    "foreign": '{"format": "lio", "version": 1}',
    "nested": "[" * 40 + "]" * 40,
}
for name, data in APTPL.items():
    write("aptpl", name, data)
# --- iSCSI TransportIDs and the PR OUTs that carry them (fuzz_transport_id.c) ---------
# byte 0: bit 0 run a PR OUT too, bit 1 REGISTER AND MOVE (else REGISTER with
# SPEC_I_PT), bit 2 the issuer (A) registered with key a1 and holding a
# Write Exclusive reservation, bit 3 B registered; then the TransportID for
# the parser, which is also the PR OUT parameter list.
TID_A = "iqn.2026-11.org.ringtgt:a,i,0x000000000001"
TID_B = "iqn.2026-11.org.ringtgt:b,i,0x000000000001"
TID_C = "iqn.2026-11.org.ringtgt:c,i,0x23d000000002"


def tid(text, fmt=None, addlen=None, b1=0, proto=5):
    body = text.encode() + b"\0"
    if fmt is None:
        fmt = 1 if ",i,0x" in text else 0
    if addlen is None:
        addlen = max((len(body) + 3) & ~3, 20)
    body = body[:addlen].ljust(addlen, b"\0")
    return bytes([fmt << 6 | proto, b1]) + struct.pack(">H", addlen) + body


def spec_list(key, sa_key, flags, tids, cut=0):
    data = b"".join(tids)
    return (struct.pack(">QQ", key, sa_key) + b"\0" * 4 + bytes([0x08 | flags, 0, 0, 0])
            + struct.pack(">I", len(data) - cut) + data)


def move_list(key, sa_key, flags, rtpi, t, tl=None):
    return (struct.pack(">QQ", key, sa_key) + bytes([0, flags]) + struct.pack(">H", rtpi)
            + struct.pack(">I", len(t) if tl is None else tl) + t)


TIDS = {
    "port": b"\0" + tid(TID_B),
    "device": b"\0" + tid("iqn.2026-11.org.ringtgt:b"),
    "eui": b"\0" + tid("eui.0123456789ABCDEF,i,0x1"),
    "naa": b"\0" + tid("naa.62004567BA64678D0123456789ABCDEF"),
    "utf8": b"\0" + tid("iqn.2026-11.x:\u00e9t\u00e9,i,0xabc"),
    "longest-name": b"\0" + tid("iqn.2026-11.x:" + "a" * 209),
    "too-long-name": b"\0" + tid("iqn.2026-11.x:" + "a" * 210),
    "short-addlen": b"\0" + tid("iqn.a", addlen=16),
    "odd-addlen": b"\0" + tid("iqn.a", addlen=22),
    "no-nul": b"\0" + tid("iqn.aaaaaaaaaaaaaaaaa", addlen=20),
    "sas": b"\0" + tid("iqn.a", proto=6),
    "format-2": b"\0" + tid("iqn.a", fmt=2),
    "separator-cut": b"\0" + tid("iqn.x:y,i,0", fmt=1),
    "isid-13": b"\0" + tid("iqn.x:y,i,0x1234567890123"),
    "cut": b"\0" + tid(TID_B)[:30],
    "spec-i-pt": b"\x01" + spec_list(0, 0xa1, 0, [tid(TID_B), tid(TID_C)]),
    "spec-i-pt-all-tg-pt": b"\x01" + spec_list(0, 0xa1, 0x04, [tid(TID_B)]),
    "spec-i-pt-registered": b"\x09" + spec_list(0, 0xa1, 0x04, [tid(TID_C), tid(TID_B)]),
    "spec-i-pt-duplicate": b"\x01" + spec_list(0, 0xa1, 0, [tid(TID_B), tid(TID_B)]),
    "spec-i-pt-self": b"\x01" + spec_list(0, 0xa1, 0, [tid(TID_A)]),
    "spec-i-pt-device": b"\x01" + spec_list(0, 0xa1, 0, [tid("iqn.2026-11.org.ringtgt:b")]),
    "spec-i-pt-cut": b"\x01" + spec_list(0, 0xa1, 0, [tid(TID_B), tid(TID_C)], cut=4),
    "spec-i-pt-from-registrant": b"\x05" + spec_list(0xa1, 0xa2, 0, [tid(TID_B)]),
    "move": b"\x07" + move_list(0xa1, 0xb1, 0, 1, tid(TID_B)),
    "move-unreg-port-2": b"\x0f" + move_list(0xa1, 0xb2, 0x02, 2, tid(TID_B)),
    "move-self": b"\x07" + move_list(0xa1, 0xa2, 0, 2, tid(TID_A)),
    "move-unregistered": b"\x0b" + move_list(0xa1, 0xb1, 0, 1, tid(TID_B)),
    "move-unknown-port": b"\x07" + move_list(0xa1, 0xb1, 0, 9, tid(TID_B)),
    "move-device": b"\x07" + move_list(0xa1, 0xb1, 0, 1, tid("iqn.2026-11.org.ringtgt:b")),
    "move-tl-short": b"\x07" + move_list(0xa1, 0xb1, 0, 1, tid(TID_B), tl=20),
    "move-tl-long": b"\x07" + move_list(0xa1, 0xb1, 0, 1, tid(TID_B), tl=200),
    "move-zero-key": b"\x07" + move_list(0xa1, 0, 0, 1, tid(TID_B)),
}
for name, data in TIDS.items():
    write("transport_id", name, data)
