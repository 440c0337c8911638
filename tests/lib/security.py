"""Helpers for the security tests: fake local accounts through nss_wrapper,
unprivileged callers through setpriv, raw clients of the helper socket,
and /proc readings of the helper."""

import os
import re
import socket
import ssl
import struct

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
NOBODY_UID = 65534
NOBODY_GID = 65534

# Local accounts the helper sees: alice is the unprivileged caller's own
# account (uid of nobody, so setpriv can become her without /etc changes).
PASSWD = {"root": 0, "alice": NOBODY_UID, "bob": 65533}
GROUPS = {"root": (0, []), "nogroup": (NOBODY_GID, []), "freddy": (5000, ["alice"]),
          "bobs": (65533, [])}


def write_nss_files(tmp):
    """passwd and group files for nss_wrapper; returns the helper env."""
    passwd = os.path.join(tmp, "nss.passwd")
    group = os.path.join(tmp, "nss.group")
    with open(passwd, "w") as f:
        for name, uid in PASSWD.items():
            gid = 0 if uid == 0 else (NOBODY_GID if uid == NOBODY_UID else uid)
            f.write("%s:x:%d:%d:%s:/nonexistent:/bin/false\n" % (name, uid, gid, name))
    with open(group, "w") as f:
        for name, (gid, members) in GROUPS.items():
            f.write("%s:x:%d:%s\n" % (name, gid, ",".join(members)))
    os.chmod(passwd, 0o644)
    os.chmod(group, 0o644)
    env = dict(os.environ)
    from freddytest import nss_wrapper_preload   # freddytest imports nothing of this module's
    env.update({"LD_PRELOAD": nss_wrapper_preload(tmp), "NSS_WRAPPER_PASSWD": passwd,
                "NSS_WRAPPER_GROUP": group})
    return env


def as_nobody():
    """Command prefix that drops every privilege before pamtester runs."""
    return ["setpriv", "--reuid=%d" % NOBODY_UID, "--regid=%d" % NOBODY_GID,
            "--clear-groups", "--inh-caps=-all", "--"]


def open_for_nobody(env):
    """Let an unprivileged pamtester reach the service files and the socket."""
    os.chmod(env.tmp, 0o755)
    os.chmod(env.pam_dir, 0o755)
    for name in os.listdir(env.pam_dir):
        os.chmod(os.path.join(env.pam_dir, name), 0o644)


# ---- the wire protocol, just enough to talk to the helper raw -------------
VERSION = 1
AUTH_BEGIN, STATUS_GET, DONE = 1, 6, 67
TAG_USER, TAG_SERVICE, TAG_RESULT = 1, 2, 12


def field(tag, data):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">BH", tag, len(data)) + data


def frame(msg_type, *fields):
    payload = bytes([VERSION, msg_type]) + b"".join(fields)
    return struct.pack(">I", len(payload)) + payload


def connect(path, timeout=5.0):
    """As the module connects: a blocking connect that waits up to
    SO_SNDTIMEO for room in the listen backlog (a non-blocking one gets
    EAGAIN at once when the backlog is full), then `timeout` per read."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                 struct.pack("ll", int(timeout), int((timeout % 1) * 1e6)))
    s.connect(path)
    s.settimeout(timeout)
    return s


def read_frame(s):
    """One (type, payload) from the helper, or None at EOF."""
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body[1], body[2:]


def closed_by_peer(s, timeout):
    """True when the helper closes `s` (EOF or reset) within `timeout`."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---- /proc --------------------------------------------------------------
def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_anon_kib(pid):
    """The process's own anonymous memory (no library pages)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def helper_pid(env):
    """The helper's pid (the child of a valgrind wrapper is the same pid)."""
    return env.helper.proc.pid


def mappings(pid):
    """The mappings of process `pid` from its smaps: dicts of start, end,
    perms, name ("anonymous" for none) and rss (KiB)."""
    maps, current = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                current = {"start": start, "end": end, "perms": parts[1],
                           "name": parts[5] if len(parts) > 5 else "anonymous", "rss": 0}
                maps.append(current)
            elif parts[0] == "Rss:" and current is not None:
                current["rss"] = int(parts[1])
    return maps


def memory_holding(pid, needles):
    """The writable, resident mappings of process `pid` (heap, anonymous,
    stacks, libraries' data) that contain any of `needles`, as "start-end
    name".  Mappings over 1 GiB are skipped: under ASan that is the shadow
    memory, terabytes of bookkeeping and no data of the program's."""
    maps = mappings(pid)
    chunk, overlap = 4 << 20, max(len(n) for n in needles) - 1 if needles else 0
    found = []
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for m in maps:
            if ("w" not in m["perms"] or m["rss"] == 0 or m["end"] - m["start"] > 1 << 30
                    or m["name"] in ("[vvar]", "[vsyscall]")):
                continue
            pos = m["start"]
            while pos < m["end"]:
                try:
                    mem.seek(pos)
                    data = mem.read(min(chunk + overlap, m["end"] - pos))
                except OSError:
                    break	# a guard page, or unmapped meanwhile
                if any(n in data for n in needles):
                    found.append("%x-%x %s" % (m["start"], m["end"], m["name"]))
                    break
                pos += chunk
    return found


def trust_any_emulator_cert(env):
    """The emulator serves a bad certificate on purpose; the test's own
    admin calls (not the helper's) must still reach it."""
    ctx = ssl.create_default_context(cafile=os.path.join(env.certs, "ca.pem"))
    ctx.load_verify_locations(os.path.join(env.certs, "other-ca.pem"))
    ctx.check_hostname = False
    env.emu.ssl = ctx


class PamDebugLevel:
    """Context: pam_wrapper shows pam_syslog lines up to `level` on stderr
    (0 errors only, 1 warnings, 2 info, 3 debug)."""

    def __init__(self, level):
        self.level = str(level)

    def __enter__(self):
        self.old = os.environ.get("PAM_WRAPPER_DEBUGLEVEL")
        os.environ["PAM_WRAPPER_DEBUGLEVEL"] = self.level
        return self

    def __exit__(self, *exc):
        if self.old is None:
            del os.environ["PAM_WRAPPER_DEBUGLEVEL"]
        else:
            os.environ["PAM_WRAPPER_DEBUGLEVEL"] = self.old


# Time limits are for the helper as shipped.  Under ASan (the sanitizer
# stage preloads its runtime for pamtester) or valgrind each step costs
# several times more; those stages look for memory errors, and a limit
# scaled this much still catches a helper that waits for another's work.
SLOW_BUILD = bool(os.environ.get("FREDDY_PAM_PRELOAD") or os.environ.get("FREDDY_HELPER_WRAPPER"))
TIME_SCALE = 5 if SLOW_BUILD else 1


class TimingSection:
    """Context: the measuring part of a timing test.  make -j2 check runs
    two test files at once; two storms measured at the same time would
    each measure the other.  They take turns through this lock (other
    programs on the machine may still be busy; the limits allow for it)."""

    path = os.path.join(os.environ.get("FREDDY_TEST_TMPDIR", "/var/tmp"), "freddy-timing.lock")

    def __enter__(self):
        import fcntl
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)
