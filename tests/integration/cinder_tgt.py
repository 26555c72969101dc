#!/usr/bin/env python3
"""OpenStack Cinder's TgtAdm target helper, unchanged, against a target.

Imports cinder.volume.targets.tgt.TgtAdm from the installed python3-cinder
(Debian 12: 2:21.3.1), builds it with Cinder's own Configuration class and
runs its privsep entrypoints in this process as root (oslo.privsep client
mode off, as Cinder's unit tests do), with PATH pointing `tgtadm` and
`tgt-admin` at the implementation under test:

    --impl tgt                  tgtd, tgtadm, tgt-admin from PATH (stgt)
    --impl ringtgt --build DIR  DIR/ringtgtd, DIR/tools/tgtadm, DIR/tools/tgt-admin

Nothing of Cinder is re-typed here: create_iscsi_target, extend_target and
remove_iscsi_target run as the volume service runs them. The sequence, for
two volumes on loop devices (sparse files), with CHAP (a 20-character user
name and a 16-character secret, as Cinder generates them):

  1. create_iscsi_target for both volumes (Cinder writes the persistence
     file into volumes_dir, runs tgtadm --op show, tgt-admin --update IQN,
     tgt-admin --show; it must not fall back to tgtadm --op new);
  2. libiscsi logins with the right secret work, a wrong secret and no
     secret are refused;
  3. with a session open on volume 1, tgt-admin --show and tgtadm --op show
     --mode target are laid out line for line as real tgt's captures in
     data/tgt-cinder/ (SCSI ID/SN, loop devices and nexus numbers masked);
     then, that session kept open, the backing file grows, the loop
     device is re-sized (losetup -c) and extend_target runs (tgt-admin
     --update IQN -f); reported: whether that session survives and whether
     its READ CAPACITY shows the new size; required: a new login sees the
     new size and CHAP is still enforced. With --impl ringtgt the session
     must also survive (issue 12: extend never drops the attached
     instance's session) and report CAPACITY DATA HAS CHANGED;
  4. remove_iscsi_target for volume 1 with a session open (tgt-admin
     --delete IQN -f): the target is gone, its persistence file too;
  5. remove_iscsi_target again over a stale persistence file of volume 1
     (the target does not exist: the error path Cinder tolerates);
  6. volume 2 is still served (CHAP login, READ CAPACITY, a read), then
     removed too.

tgt-admin reads /etc/tgt/targets.conf and Cinder passes no -c, and tgtadm
talks to the default control socket: the whole run happens in a private
mount namespace (unshare -m, re-executing this script) with a tmpfs over
/etc/tgt (an overlay over /etc when /etc/tgt does not exist) and over /run,
so the machine's tgt configuration and control sockets are neither read
nor touched. /etc/tgt/targets.conf there is Debian's (include
/etc/tgt/conf.d/*.conf) and conf.d/cinder.conf holds `include VOLUMES_DIR/*`,
as Cinder's installation guide sets it up.

--transcript FILE writes what Cinder sees into FILE, for comparing two
implementations (t-cinder-cmp.sh runs this against tgt and ringtgt and
compares the two): every tgtadm / tgt-admin command Cinder runs (not the
tools' own inner calls) with its stdout, stderr and exit status, the
tgt-admin --show block of each volume after create, both show layouts
with a live session, the logins (right secret: READ CAPACITY's size; a
wrong secret and none: the refusal's status) and what each removal left.
Run-specific names are masked (temp dir, port, loop devices) and so is
what normalize() masks in shows. What the two implementations do
differently on purpose (the session across extend_target) is checked per
implementation above, not written there.

--capture DIR writes the exact outputs of the tgt tools at interesting
points (tgt-admin --show, tgtadm --op show --mode target with one live
session, the failure paths Cinder tolerates) into DIR, for comparison with
other implementations.

Exit status: 0 pass, 1 fail, 2 usage, 77 skip (python3-cinder missing, or a
host feature missing with RINGTGT_IT_ALLOW_SKIP=1).
"""

import argparse
import difflib
import fcntl
import importlib
import logging
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NS_MARK = "RINGTGT_CINDER_NS"
PREFIX = "iqn.2010-10.org.openstack:"
MIB = 1 << 20
SIZE0 = 64 * MIB
SIZE1 = 96 * MIB
CMD_TIMEOUT = 60            # seconds for any one tool
STOP_TIMEOUT = 10

# Test credentials only (Cinder generates a 20-character user name and a
# 16-character password per volume: volume_utils.generate_username/_password)
VOLUMES = [
    {"id": "0b7e6a54-3f0c-4c9e-9a51-6d2f1e8c7a01",
     "user": "k3XbQz9RmT2vLp8aWc1N", "secret": "Pq7zN4rT8yK2mB6s"},
    {"id": "5d1c9e27-8a4b-4f3e-b7c2-1e9a0f6d3b02",
     "user": "h5YdRf0SnU3wMq9bXe2O", "secret": "Lm3xV8cB1nZ6gH4j"},
]
WRONG_SECRET = "WrongSecret12345"


class Failure(Exception):
    pass


def log(msg):
    print("[cinder-tgt %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def fail(msg):
    raise Failure(msg)


def unavailable(msg):
    """A host feature is missing: fail, or skip with RINGTGT_IT_ALLOW_SKIP=1."""
    if os.environ.get("RINGTGT_IT_ALLOW_SKIP") == "1":
        log("SKIP: %s (RINGTGT_IT_ALLOW_SKIP=1)" % msg)
        sys.exit(77)
    fail("%s (set RINGTGT_IT_ALLOW_SKIP=1 to skip instead)" % msg)


def run(argv, check=True, timeout=CMD_TIMEOUT, quiet=False):
    """Runs argv (no shell), bounded; returns (status, stdout, stderr)."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("'%s' did not finish within %d s" % (" ".join(argv), timeout))
    if check and p.returncode != 0:
        fail("'%s' exited %d: %s%s" % (" ".join(argv), p.returncode,
                                       p.stdout, p.stderr))
    if not quiet:
        log("  $ %s -> %d" % (" ".join(argv), p.returncode))
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------------------
# the private mount namespace
# ---------------------------------------------------------------------------

def enter_namespace(argv):
    """Re-executes this script in a private mount namespace."""
    env = dict(os.environ)
    env[NS_MARK] = "1"
    cmd = ["unshare", "-m", "--propagation", "private",
           sys.executable, os.path.abspath(__file__)] + argv
    os.execvpe("unshare", cmd, env)


def private_mounts(tmp):
    """tmpfs over /etc/tgt and /run, inside our namespace only. Returns
    the mounts to undo before the temp dir can be removed."""
    undo = []
    if os.path.isdir("/etc/tgt"):
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/etc/tgt"])
    else:
        # no /etc/tgt on this host: an overlay over /etc to create it in
        ovl = os.path.join(tmp, "etc-overlay")
        os.mkdir(ovl)
        run(["mount", "-t", "tmpfs", "tmpfs", ovl])
        os.mkdir(ovl + "/upper")
        os.mkdir(ovl + "/work")
        run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=/etc,upperdir=%s/upper,workdir=%s/work" % (ovl, ovl),
             "/etc"])
        undo = ["/etc", ovl]
        os.mkdir("/etc/tgt", 0o755)
    # tgtd's control socket is /var/run/tgtd/socket.0, ringtgtd's
    # /run/ringtgt/ringtgtd.sock: an empty /run of our own holds them
    run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"])
    # as a systemd unit's RuntimeDirectory= would
    os.mkdir("/run/ringtgt", 0o755)
    return undo


# ---------------------------------------------------------------------------
# the target daemon
# ---------------------------------------------------------------------------

class Daemon:
    """tgtd or ringtgtd on 127.0.0.1:port, control socket at its default."""

    def __init__(self, impl, build, event_loop, tmp):
        self.impl = impl
        self.build = build
        self.event_loop = event_loop
        self.logpath = os.path.join(tmp, "daemon.log")
        self.state_dir = os.path.join(tmp, "state")
        self.proc = None
        self.port = None

    def _argv(self, port):
        if self.impl == "tgt":
            # control port 0: the default socket, private to the namespace
            return ["tgtd", "-f", "--iscsi", "portal=127.0.0.1:%d" % port]
        # the state directory (APTPL) in the temp dir, not the machine's
        return [os.path.join(self.build, "ringtgtd"), "--foreground",
                "--portal", "127.0.0.1:%d" % port,
                "--state-dir", self.state_dir,
                "--event-loop", self.event_loop, "--log-level", "debug"]

    def start(self):
        lockpath = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                "ringtgt-it-ports.lock")
        with open(lockpath, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # as lib.sh's it_lock
            for _ in range(5):
                port = free_port()
                logf = open(self.logpath, "a")
                self.proc = subprocess.Popen(self._argv(port), stdout=logf,
                                             stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
                logf.close()
                if self._wait_portal(port):
                    self.port = port
                    break
                self.stop()
        if self.port is None:
            fail("%s did not start; log:\n%s" % (self.impl, self.log_tail()))
        log("%s pid %d serves 127.0.0.1:%d" % (self.impl, self.proc.pid,
                                                self.port))

    def _wait_portal(self, port):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), 1):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops the daemon by its PID; True when it exited by itself
        within STOP_TIMEOUT seconds, with status 0."""
        if self.proc is None:
            return True
        clean = True
        if self.proc.poll() is None:
            if self.impl == "tgt":
                # tgtd ignores SIGTERM while it has targets (lib.sh does
                # the same): delete what is left, then the system
                _, out, _ = run(["tgtadm", "--lld", "iscsi", "--op", "show",
                                 "--mode", "target"], check=False, quiet=True)
                for line in out.splitlines():
                    if line.startswith("Target "):
                        tid = line.split()[1].rstrip(":")
                        run(["tgtadm", "--lld", "iscsi", "--op", "delete",
                             "--force", "--mode", "target", "--tid", tid],
                            check=False, quiet=True)
                run(["tgtadm", "--op", "delete", "--mode", "system"],
                    check=False, quiet=True)
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log("%s (pid %d) did not exit within %d s: SIGKILL" % (
                    self.impl, self.proc.pid, STOP_TIMEOUT))
                clean = False
                self.proc.kill()
                self.proc.wait()
        if clean and self.proc.returncode != 0:
            log("%s (pid %d) exited with status %d" % (
                self.impl, self.proc.pid, self.proc.returncode))
            clean = False
        self.proc = None
        return clean

    def log_tail(self, n=60):
        try:
            with open(self.logpath) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


def free_port():
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
                              capture_output=True, text=True).stdout:
            return port
    fail("no free TCP port")


# ---------------------------------------------------------------------------
# initiator side (libiscsi)
# ---------------------------------------------------------------------------

def url(port, vol, secret=None, user=None):
    auth = ""
    if secret is not None:
        auth = "%s%%%s@" % (user or vol["user"], secret)
    return "iscsi://%s127.0.0.1:%d/%s/1" % (auth, port, vol["iqn"])


def read_capacity(port, vol, secret):
    """READ CAPACITY (16) over a new CHAP login; returns the size in bytes."""
    _, out, _ = run(["iscsi-readcapacity16", url(port, vol, secret)])
    for line in out.splitlines():
        if line.startswith("Total size:"):
            size = int(line.split(":", 1)[1])
            note("login to %s, right secret: %d bytes" % (vol["name"], size))
            return size
    fail("iscsi-readcapacity16 printed no 'Total size:' line: %s" % out)


def login_refused(port, vol, secret, what):
    rc, out, err = run(["iscsi-inq", url(port, vol, secret)], check=False)
    if rc == 0:
        fail("%s: login to %s with %s was accepted" % (what, vol["iqn"],
                                                        "a wrong secret"
                                                        if secret else
                                                        "no secret"))
    log("  refused as it must be: %s" % (err or out).strip().splitlines()[-1]
        if (err or out).strip() else "  refused")
    status = re.search(r"Status: [^(]*", err + out)
    note("login to %s, %s: refused, %s" % (
        vol["name"], "wrong secret" if secret else "no secret",
        status.group(0).strip() if status else "no status"))


TRANSCRIPT_ENV = "RINGTGT_CINDER_TRANSCRIPT"
TRANSCRIPT = {"path": None, "masks": []}


def note(text):
    """Appends text to the --transcript file, run-specific names masked."""
    if not TRANSCRIPT["path"]:
        return
    for old, new in TRANSCRIPT["masks"]:
        text = text.replace(old, new)
    with open(TRANSCRIPT["path"], "a") as f:
        f.write(normalize(text).rstrip("\n") + "\n")


class CinderCalls:
    """Around a call into Cinder: the tool wrappers on PATH log the
    commands Cinder runs into the transcript (raw; masked at the end)."""

    def __enter__(self):
        if TRANSCRIPT["path"]:
            os.environ[TRANSCRIPT_ENV] = TRANSCRIPT["path"] + ".raw"

    def __exit__(self, *exc):
        raw = os.environ.pop(TRANSCRIPT_ENV, None)
        if raw and os.path.exists(raw):
            with open(raw) as f:
                text = f.read()
            os.unlink(raw)
            if text:
                note(text)
        return False


# The wrapper the tools on PATH are with --transcript: runs the tool; when
# Cinder's call sets the transcript variable, logs the command line, its
# output and status there. The tool's own inner tgtadm calls (tgt's
# tgt-admin runs tgtadm) are not logged: the variable is unset for them.
WRAPPER = """#!/bin/sh
f=${%(env)s:-}
[ -n "$f" ] || exec %(real)s "$@"
unset %(env)s
o=$(mktemp) e=$(mktemp)
rc=0
%(real)s "$@" >"$o" 2>"$e" || rc=$?
{
    printf '$ %(name)s %%s\\n' "$*"
    sed 's/^/    /' "$o"
    sed 's/^/    stderr: /' "$e"
    printf '    status %%s\\n' "$rc"
} >>"$f"
cat "$o"
cat "$e" >&2
rm -f "$o" "$e"
exit $rc
"""


def alive(answer):
    """True when a captool answer came from the target over the session: a
    status (GOOD, CHECK, other SCSI status), not a transport error (ERROR,
    or libiscsi's own SCSI_STATUS_CANCELLED/ERROR/TIMEOUT 0x0f00000x given
    to the commands of a dropped connection) nor captool gone."""
    if answer.startswith(("ERROR", "EXITED")):
        return False
    if answer.startswith("STATUS 0xf00000"):
        return False
    return True


class Session:
    """captool: one libiscsi session (no automatic reconnection) kept open."""

    def __init__(self, captool, target_url):
        self.proc = subprocess.Popen([captool, target_url], text=True,
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=1)
        line = self._readline(30)
        if line != "READY":
            fail("captool did not log in: %r" % line)

    def _readline(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            fail("captool: no answer within %d s" % timeout)
        return self.proc.stdout.readline().strip()

    def do(self, line):
        if self.proc.poll() is not None:
            return "EXITED %d" % self.proc.returncode
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return "EXITED"
        return self._readline(30) or "EXITED"

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------
# Cinder
# ---------------------------------------------------------------------------

class CinderWarnings(logging.Handler):
    """Collects Cinder's warnings and errors (e.g. the recreate fallback)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        msg = record.getMessage()
        self.records.append(msg)
        log("  cinder %s: %s" % (record.levelname, msg))

    def take(self):
        r, self.records = self.records, []
        return r


def make_target(volumes_dir, port):
    """TgtAdm with Cinder's own Configuration for a backend group."""
    from oslo_config import cfg
    import cinder.privsep
    from cinder.volume import configuration
    from cinder.volume import driver
    from cinder.volume.targets import tgt

    # run the privsep entrypoints in this process (we are root), as
    # Cinder's unit tests do, instead of starting privsep-helper
    cinder.privsep.sys_admin_pctxt.set_client_mode(False)
    conf = cfg.CONF
    conf([], project="cinder", default_config_files=[])
    group = "ringtgt-it"
    c = configuration.Configuration(driver.volume_opts, config_group=group)
    for k, v in {"volumes_dir": volumes_dir, "target_prefix": PREFIX,
                 "target_ip_address": "127.0.0.1", "target_port": port,
                 "target_protocol": "iscsi", "target_helper": "tgtadm",
                 "iscsi_write_cache": "on"}.items():
        conf.set_override(k, v, group=group)
    return tgt.TgtAdm(root_helper="false", configuration=c)


class FakeVolume(dict):
    """What extend_target reads: volume['name'], volume.volume_attachment."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


# ---------------------------------------------------------------------------
# the test
# ---------------------------------------------------------------------------

def tgt_show():
    return run(["tgt-admin", "--show"], quiet=True)[1]


def target_block(show, iqn):
    """Lines of the `Target N: IQN` block of tgt-admin --show, or []."""
    block, inside = [], False
    for line in show.split("\n"):
        if line.startswith("Target "):
            inside = line.split(None, 2)[2:] == [iqn]
        if inside:
            block.append(line)
    return block


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                    "tgt-cinder")


def normalize(show):
    """Masks what legitimately differs between runs and implementations:
    the I_T nexus number, the loop device, SCSI ID / SN (ringtgt's own
    stable identifiers, or none, instead of tgt's tid-derived ones: issue
    12 item 5), the backing store flags (ringtgt opens a block device
    O_DIRECT by default and says so) and trailing spaces (tgt ends its
    "Backing store flags: " line with one; ringtgt writes none)."""
    out = []
    for line in show.split("\n"):
        line = line.rstrip(" ")
        line = re.sub(r"/dev/loop[0-9]+", "/dev/loopN", line)
        line = re.sub(r"^(\s+I_T nexus:) [0-9]+$", r"\1 N", line)
        line = re.sub(r"^(\s+SCSI (ID|SN):)( .*)?$", r"\1 X", line)
        line = re.sub(r"^(\s+Backing store flags:)( .*)?$", r"\1 X", line)
        out.append(line)
    return "\n".join(out)


def compare_layout(name, got):
    """`got` must be laid out line for line as real tgt's capture `name`."""
    with open(os.path.join(DATA, name + ".stdout")) as f:
        want = f.read()
    if normalize(got) == normalize(want):
        log("  %s: laid out as tgt 1.0.85's" % name)
        return
    diff = difflib.unified_diff(normalize(want).split("\n"),
                                normalize(got).split("\n"),
                                "tgt 1.0.85", "this run", lineterm="")
    fail("%s differs from tgt's (%s; SCSI ID/SN, loop devices and nexus "
         "numbers masked):\n%s" % (name, os.path.join(DATA, name + ".stdout"),
                                    "\n".join(diff)))


class Capture:
    def __init__(self, path):
        self.path = path
        self.index = []
        if path:
            os.makedirs(path, exist_ok=True)

    def cmd(self, name, argv, note):
        rc, out, err = run(argv, check=False)
        if self.path:
            for ext, data in (("stdout", out), ("stderr", err),
                              ("status", "%d\n" % rc)):
                with open(os.path.join(self.path, "%s.%s" % (name, ext)),
                          "w") as f:
                    f.write(data)
            self.index.append("%s: %s\n    %s\n" % (name, " ".join(argv),
                                                    note))
        return rc, out, err

    def file(self, name, data, note):
        if self.path:
            with open(os.path.join(self.path, name), "w") as f:
                f.write(data)
            self.index.append("%s:\n    %s\n" % (name, note))

    def finish(self):
        if self.path:
            with open(os.path.join(self.path, "INDEX"), "w") as f:
                f.write("".join(self.index))


def cinder_log_tail(path, n=40):
    try:
        with open(path) as f:
            text = "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"
    for v in VOLUMES:
        text = text.replace(v["secret"], "<secret>")
    return text


class Bench:
    """One run: the namespace's files, PATH, loop devices, the daemon,
    Cinder's TgtAdm, the open sessions; the steps of the sequence."""

    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.warn = CinderWarnings()
        self.daemon = Daemon(args.impl, args.build, args.event_loop, tmp)
        self.cap = Capture(args.capture)
        self.volumes_dir = os.path.join(tmp, "volumes")
        self.loops = []
        self.sessions = []
        self.port = None
        self.target = None
        self.mounts = []
        logging.getLogger("cinder").addHandler(self.warn)

    def setup(self):
        self.mounts = private_mounts(self.tmp)
        os.mkdir(self.volumes_dir)
        os.mkdir(self.daemon.state_dir, 0o700)
        with open("/etc/tgt/targets.conf", "w") as f:
            f.write("include /etc/tgt/conf.d/*.conf\n")   # Debian's
        os.mkdir("/etc/tgt/conf.d")
        with open("/etc/tgt/conf.d/cinder.conf", "w") as f:
            f.write("include %s/*\n" % self.volumes_dir)

        # tgtadm and tgt-admin on PATH are the implementation under test
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        if self.args.impl == "tgt":
            tools = {t: shutil.which(t) for t in ("tgtadm", "tgt-admin")}
        else:
            tools = {t: os.path.join(self.args.build, "tools", t)
                     for t in ("tgtadm", "tgt-admin")}
        for name, path in tools.items():
            if self.args.transcript:
                with open(os.path.join(bindir, name), "w") as f:
                    f.write(WRAPPER % {"env": TRANSCRIPT_ENV, "name": name,
                                       "real": os.path.abspath(path)})
                os.chmod(os.path.join(bindir, name), 0o755)
            else:
                os.symlink(os.path.abspath(path), os.path.join(bindir, name))
        os.environ["PATH"] = bindir + os.pathsep + os.environ["PATH"]
        for name, path in tools.items():
            log("%s -> %s" % (shutil.which(name), path))

        for i, v in enumerate(VOLUMES):
            assert len(v["user"]) == 20 and len(v["secret"]) == 16
            v["name"] = "volume-" + v["id"]
            v["iqn"] = PREFIX + v["name"]
            v["file"] = os.path.join(self.tmp, "vol%d.img" % (i + 1))
            with open(v["file"], "wb") as f:
                f.truncate(SIZE0)
            rc, out, err = run(["losetup", "--find", "--show", v["file"]],
                               check=False)
            if rc != 0:
                unavailable("no loop device: losetup: %s" % err.strip())
            v["dev"] = out.strip()
            self.loops.append(v["dev"])
        self.daemon.start()
        self.port = self.daemon.port
        if self.args.transcript:
            TRANSCRIPT["path"] = self.args.transcript
            TRANSCRIPT["masks"] = [(self.tmp, "TMP"),
                                   ("127.0.0.1:%d" % self.port,
                                    "127.0.0.1:PORT")]
            open(self.args.transcript, "w").close()
        self.target = make_target(self.volumes_dir, self.port)

    def teardown(self):
        """Ends sessions, daemon, loop devices; False if the daemon hung."""
        for s in self.sessions:
            s.close()
        clean = self.daemon.stop()
        if not clean:
            log("FAIL: %s did not stop cleanly" % self.args.impl)
        for dev in self.loops:
            subprocess.run(["losetup", "-d", dev], timeout=CMD_TIMEOUT)
        self.cap.finish()
        for m in self.mounts:
            subprocess.run(["umount", m], timeout=CMD_TIMEOUT)
        return clean

    def open_session(self, v):
        s = Session(self.args.captool, url(self.port, v, v["secret"]))
        self.sessions.append(s)
        return s

    def close_session(self, s):
        s.close()
        self.sessions.remove(s)

    def no_warnings(self, what):
        w = self.warn.take()
        if w:
            fail("%s made Cinder warn (it had to work around the target): %s"
                 % (what, w))

    def step_create(self):
        log("step 1: create_iscsi_target for both volumes (CHAP)")
        for v in VOLUMES:
            with CinderCalls():
                v["tid"] = self.target.create_iscsi_target(
                    v["iqn"], 0, 1, v["dev"],
                    chap_auth=(v["user"], v["secret"]))
            self.no_warnings("create_iscsi_target(%s)" % v["name"])
            block = target_block(tgt_show(), v["iqn"])
            note("create_iscsi_target(%s) -> tid %s; its tgt-admin --show "
                 "block:\n%s" % (v["name"], v["tid"], "\n".join(block)))
            if not block or "        LUN: 1" not in block:
                fail("after create, tgt-admin --show has no LUN 1 for %s:\n%s"
                     % (v["iqn"], "\n".join(block)))
            with open(os.path.join(self.volumes_dir, v["name"])) as f:
                v["conf"] = f.read()
            self.cap.file("cinder-persistence-file.%s" % v["name"], v["conf"],
                          "what Cinder wrote into volumes_dir (test secret)")
            log("  %s -> tid %s, persistence file:\n%s" % (
                v["name"], v["tid"],
                v["conf"].replace(v["secret"], "<secret>")))

    def step_logins(self):
        log("step 2: CHAP logins")
        for v in VOLUMES:
            size = read_capacity(self.port, v, v["secret"])
            if size != SIZE0:
                fail("%s: READ CAPACITY says %d bytes, expected %d" % (
                    v["name"], size, SIZE0))
            run(["iscsi-inq", url(self.port, v, v["secret"])])
            login_refused(self.port, v, WRONG_SECRET, "wrong secret")
            login_refused(self.port, v, None, "no CHAP")
            log("  %s: right secret admitted (%d bytes), wrong/no secret "
                "refused" % (v["name"], size))

    def show_with_session(self, s, v1):
        """The show layouts with one live session, against tgt's."""
        show_argv = ["tgtadm", "--lld", "iscsi", "--op", "show", "--mode",
                     "target"]
        self.cap.cmd("tgt-admin--show", ["tgt-admin", "--show"],
                     "after two Cinder creates, one live session on the first")
        self.cap.cmd("tgtadm--op-show--mode-target", show_argv,
                     "same moment")
        # issue 12: layout differences from tgt's are failures
        show = run(["tgt-admin", "--show"], quiet=True)[1]
        compare_layout("tgt-admin--show", show)
        note("tgt-admin --show, a session on %s:\n%s" % (v1["name"], show))
        show = run(show_argv, quiet=True)[1]
        compare_layout("tgtadm--op-show--mode-target", show)
        note("tgtadm --op show --mode target, the same moment:\n%s" % show)
        if self.args.capture:
            self.cap.cmd("tgt-admin--update-IQN-in-use",
                         ["tgt-admin", "--update", v1["iqn"]],
                         "without -f, on the target with the live session")
            self.cap.cmd("tgt-admin--v--update-IQN-in-use",
                         ["tgt-admin", "-v", "--update", v1["iqn"]],
                         "the same, verbose")
            r = s.do("cap 1")
            if r != "CAP %d 512" % (SIZE0 // 512):
                fail("tgt-admin --update without -f disturbed the session: "
                     "%r" % r)

    def step_extend(self):
        v1 = VOLUMES[0]
        log("step 3: extend volume 1 with a session open on it")
        s = self.open_session(v1)
        r = s.do("cap 1")
        if r != "CAP %d 512" % (SIZE0 // 512):
            fail("session on volume 1: cap 1 -> %r" % r)
        self.show_with_session(s, v1)
        with open(v1["file"], "r+b") as f:
            f.truncate(SIZE1)
        self.cap.cmd("tgt-admin--pretend--update-IQN--f-in-use",
                     ["tgt-admin", "--pretend", "--update", v1["iqn"], "-f"],
                     "what extend_target's tgt-admin --update IQN -f does to "
                     "the target with the live session (pretend: prints, "
                     "changes nothing)")
        run(["losetup", "-c", v1["dev"]])
        _, out, _ = run(["blockdev", "--getsize64", v1["dev"]])
        if int(out) != SIZE1:
            fail("loop device did not grow: %s bytes" % out.strip())
        vol = FakeVolume(name=v1["name"], id=v1["id"], size=SIZE1 >> 30,
                         volume_attachment=[{"attach_status": "attached"}])
        t0 = time.monotonic()
        with CinderCalls():
            self.target.extend_target(vol)
        log("  extend_target took %.1f s" % (time.monotonic() - t0))
        self.no_warnings("extend_target")
        tur = s.do("tur 1")
        tur2 = s.do("tur 1") if tur.startswith("CHECK") else "-"
        capn = s.do("cap 1")
        survived = alive(tur) and alive(capn)
        log("  open session after extend: tur -> %s, tur again -> %s, "
            "cap -> %s" % (tur, tur2, capn))
        log("  RESULT: session %s; its READ CAPACITY %s" % (
            "survived" if survived else "was dropped",
            "shows the new size" if capn == "CAP %d 512" % (SIZE1 // 512)
            else "does not show the new size (%s)" % capn))
        if self.args.impl == "ringtgt":
            # issue 12: extend_target must not drop the attached session;
            # the new capacity is announced by the unit attention CAPACITY
            # DATA HAS CHANGED (6h/2Ah/09h, SBC-4 §4.6)
            if not survived:
                fail("extend_target dropped the session on volume 1")
            if tur != "CHECK 6/2a/09":
                fail("first command after the resize: %r, expected the unit "
                     "attention CAPACITY DATA HAS CHANGED (CHECK 6/2a/09)"
                     % tur)
            if capn != "CAP %d 512" % (SIZE1 // 512):
                fail("the open session's READ CAPACITY: %r, expected %d "
                     "blocks" % (capn, SIZE1 // 512))
        size = read_capacity(self.port, v1, v1["secret"])
        if size != SIZE1:
            fail("a new login after extend_target sees %d bytes, expected %d"
                 % (size, SIZE1))
        login_refused(self.port, v1, WRONG_SECRET, "wrong secret after extend")
        log("  a new login sees %d bytes; CHAP still enforced" % size)
        self.close_session(s)

    def step_remove(self):
        v1 = VOLUMES[0]
        log("step 4: remove_iscsi_target for volume 1, a session open on it")
        s = self.open_session(v1)
        with CinderCalls():
            self.target.remove_iscsi_target(0, 1, v1["id"], v1["name"])
        self.no_warnings("remove_iscsi_target")
        if target_block(tgt_show(), v1["iqn"]):
            fail("volume 1's target is still there after remove")
        if os.path.exists(os.path.join(self.volumes_dir, v1["name"])):
            fail("volume 1's persistence file is still there after remove")
        r = s.do("tur 1")
        log("  the open session on volume 1 after remove: tur -> %s" % r)
        if alive(r):
            fail("the session on the removed target still answers: %r" % r)
        self.close_session(s)
        rc, out, err = run(["iscsi-inq", url(self.port, v1, v1["secret"])],
                           check=False)
        if rc == 0:
            fail("login to the removed volume 1 succeeded")
        status = re.search(r"Status: [^(]*", err + out)
        note("after remove_iscsi_target(%s): not in tgt-admin --show, its "
             "file gone, a login refused, %s" % (
                 v1["name"], status.group(0).strip() if status else
                 "no status"))

    def capture_errors(self):
        """The tools' failure paths (only written with --capture)."""
        v1, v2 = VOLUMES
        self.cap.cmd("tgt-admin--delete-missing--f",
                     ["tgt-admin", "--delete", v1["iqn"], "-f"],
                     "the target does not exist (Cinder's remove_iscsi_target)")
        self.cap.cmd("tgtadm--op-delete--mode-target--tid-99",
                     ["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode",
                      "target", "--tid", "99"], "no target with tid 99")
        self.cap.cmd("tgtadm--op-new--mode-logicalunit--tid-99",
                     ["tgtadm", "--lld", "iscsi", "--op", "new", "--mode",
                      "logicalunit", "--tid", "99", "--lun", "1", "-b",
                      v1["dev"]], "Cinder's LUN 1 fallback on a missing tid")
        self.cap.cmd("tgtadm--op-unbind--mode-target--I-absent",
                     ["tgtadm", "--lld", "iscsi", "--op", "unbind", "--mode",
                      "target", "--tid", str(v2["tid"]), "-I", "192.0.2.1"],
                     "an ACL rule the target does not have (volume 2's "
                     "target)")

    def step_remove_stale(self):
        v1 = VOLUMES[0]
        log("step 5: remove_iscsi_target over a stale persistence file "
            "(no such target: Cinder tolerates the error)")
        if self.args.capture:
            self.capture_errors()
        stale = os.path.join(self.volumes_dir, v1["name"])
        with open(stale, "w") as f:
            f.write(v1["conf"])
        with CinderCalls():
            self.target.remove_iscsi_target(0, 1, v1["id"], v1["name"])
        if os.path.exists(stale):
            fail("the stale persistence file is still there")
        if target_block(tgt_show(), v1["iqn"]):
            fail("removing a stale volume created its target")
        warnings = self.warn.take()
        log("  no exception; the stale file is gone; warnings: %s" %
            (warnings or "none"))
        note("remove_iscsi_target(%s) over a stale file: no exception, the "
             "file gone, %d warnings" % (v1["name"], len(warnings)))

    def step_other_volume(self):
        v2 = VOLUMES[1]
        log("step 6: volume 2 still served")
        size = read_capacity(self.port, v2, v2["secret"])
        if size != SIZE0:
            fail("volume 2: %d bytes, expected %d" % (size, SIZE0))
        s = self.open_session(v2)
        for line, want in (("cap 1", "CAP %d 512" % (SIZE0 // 512)),
                           ("read 1 0", "GOOD"),
                           ("read 1 %d" % (SIZE0 // 512 - 1), "GOOD")):
            r = s.do(line)
            if r != want:
                fail("volume 2: %s -> %r, expected %r" % (line, r, want))
        self.close_session(s)
        login_refused(self.port, v2, WRONG_SECRET, "volume 2, wrong secret")
        with CinderCalls():
            self.target.remove_iscsi_target(0, 1, v2["id"], v2["name"])
        self.no_warnings("remove_iscsi_target (volume 2)")
        if target_block(tgt_show(), v2["iqn"]):
            fail("volume 2's target is still there after remove")
        log("  volume 2: login, READ CAPACITY, reads fine; then removed")
        note("%s: reads GOOD, then removed" % v2["name"])
        self.cap.cmd("tgtadm--op-show--mode-target-empty",
                     ["tgtadm", "--lld", "iscsi", "--op", "show", "--mode",
                      "target"], "no targets left")
        if not self.daemon.running():
            fail("%s exited during the test" % self.args.impl)


def main_in_namespace(args):
    tmp = tempfile.mkdtemp(prefix="ringtgt-it-cinder.")
    logging.basicConfig(filename=os.path.join(tmp, "cinder.log"),
                        level=logging.DEBUG, force=True)
    log("impl=%s tmp=%s" % (args.impl, tmp))
    bench = Bench(args, tmp)
    ok = False
    try:
        bench.setup()
        bench.step_create()
        bench.step_logins()
        bench.step_extend()
        bench.step_remove()
        bench.step_remove_stale()
        bench.step_other_volume()
        ok = True
    except Failure as e:
        log("FAIL: %s" % e)
    except Exception as e:          # Cinder's exceptions, mostly
        log("FAIL: %s: %s" % (type(e).__name__, e))
        logging.exception("unexpected")
    finally:
        ok = bench.teardown() and ok
        if not ok:
            log("%s log (tail):\n%s" % (args.impl, bench.daemon.log_tail()))
            log("Cinder's log (tail, secrets masked):\n%s" %
                cinder_log_tail(os.path.join(tmp, "cinder.log")))
        if os.environ.get("RINGTGT_IT_KEEP") == "1":
            log("keeping %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log("PASS" if ok else "test failed")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", choices=("tgt", "ringtgt"), required=True)
    ap.add_argument("--build", help="ringtgt build dir (needed with --impl "
                    "ringtgt; else only where captool is)")
    ap.add_argument("--event-loop", default="io_uring",
                    choices=("io_uring", "epoll"))
    ap.add_argument("--captool", default=os.environ.get("RINGTGT_CAPTOOL"))
    ap.add_argument("--capture", help="write the tools' outputs here")
    ap.add_argument("--transcript", help="write what Cinder sees here")
    args = ap.parse_args()

    try:
        if args.impl == "ringtgt":
            if not args.build:
                ap.error("--impl ringtgt needs --build DIR")
            args.build = os.path.abspath(args.build)
            need = [os.path.join(args.build, p) for p in
                    ("ringtgtd", "tools/tgtadm", "tools/tgt-admin")]
            missing = [p for p in need if not os.access(p, os.X_OK)]
            if missing:
                fail("missing: %s (tgtadm and tgt-admin are the tgt front "
                     "ends of issue 12; build them first)" % ", ".join(missing))
        elif not (shutil.which("tgtd") and shutil.which("tgtadm") and
                  shutil.which("tgt-admin")):
            unavailable("--impl tgt needs tgtd, tgtadm and tgt-admin "
                        "(Debian: tgt)")
        if args.capture:
            args.capture = os.path.abspath(args.capture)
        if args.transcript:
            args.transcript = os.path.abspath(args.transcript)
        if not args.captool and args.build:
            args.captool = os.path.join(args.build, "tests", "integration",
                                        "captool")
        if not args.captool or not os.access(args.captool, os.X_OK):
            fail("captool not found (--captool or RINGTGT_CAPTOOL)")
        args.captool = os.path.abspath(args.captool)
        if os.geteuid() != 0:
            unavailable("needs root (a mount namespace, loop devices, and "
                        "Cinder runs the tgt tools as root)")
        for tool in ("unshare", "mount", "losetup", "blockdev", "ss",
                     "iscsi-inq", "iscsi-readcapacity16"):
            if not shutil.which(tool):
                unavailable("%s not found" % tool)
        try:
            importlib.import_module("cinder.volume.targets.tgt")
        except ImportError as e:
            log("SKIP: OpenStack Cinder is not installed for %s (%s); "
                "apt-get install python3-cinder" % (sys.executable, e))
            sys.exit(77)
    except Failure as e:
        log("FAIL: %s" % e)
        sys.exit(1)
    if os.environ.get(NS_MARK) != "1":
        enter_namespace(sys.argv[1:])
    sys.exit(main_in_namespace(args))


if __name__ == "__main__":
    main()
