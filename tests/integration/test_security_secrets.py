"""No secret ever leaks: a full login at the highest debug level (helper
debug = yes, module `debug`, pam_wrapper showing every pam_syslog line),
then every log, every file the test left, the helper's command line and
environment and the pamtester transcript are searched for the password,
the code, the email key and the tokens.  Tokens may live in the user's
cache file and nowhere else.  After the logins no copy of the password
is left in the helper's memory, freed blocks included.  The helper cannot
dump core, and pages holding secrets are marked MADV_DONTDUMP."""

import json
import os
import re

import cachefile
from freddytest import FreddyTestCase, main
import security

PASSWORD = "Correct-Horse-1"
PRIVATE_INPUTS = {"users.json"}			# the emulator's own user list
EMULATOR_PRIVATE = {"mail.log", "alice@example.com.code"}  # the "mailbox"


class Secrets(FreddyTestCase):

    def test_full_login_leaks_nothing(self):
        codes = []

        def code():
            codes.append(self.env.emu.code_for("alice@example.com"))
            return codes[-1]
        # Level 2 shows every pam_syslog line, LOG_DEBUG included; level 3
        # adds pam_wrapper's own tracing, which prints PAM_AUTHTOK itself.
        with security.PamDebugLevel(2):
            r = self.env.pamtester("alice", [("Password: ", PASSWORD),
                                             ("code, or Enter to resend: ", code)])
        self.assertEqual(r.status, 0, r)
        self.assertIn("SYSLOG(7)", r.transcript)	# LOG_DEBUG lines really were shown

        # The secrets of this login.
        cache_file = os.path.join(self.env.cache_dir, "alice")
        cached = cachefile.read_record(cache_file)
        with open(os.path.join(self.env.emu.outbox, "mail.log")) as f:
            _, _, email_key, mailed = f.read().split()[:4]
        self.assertEqual(mailed, codes[0])
        tokens = [t for t in (cached.get("refresh_token"), cached.get("access_token")) if t]
        self.assertTrue(tokens)
        secrets = {"password": PASSWORD, "email_key": email_key, "api_key": "ak_test_9f8e7d6c5b4a"}
        for i, t in enumerate(tokens):
            secrets["token%d" % i] = t
            # The JWT's signature part alone must not leak either.
            secrets["token%d-tail" % i] = t[-24:]

        # What the helper exposes about itself.
        pid = security.helper_pid(self.env)
        places = {"transcript": r.transcript}
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            places["cmdline"] = f.read().decode(errors="replace")
        with open("/proc/%d/environ" % pid, "rb") as f:
            places["environ"] = f.read().decode(errors="replace")
        # Every file of the test: logs, config, cache, sockets' folder, pam.d.
        for root, _, files in os.walk(self.env.tmp):
            for name in files:
                path = os.path.join(root, name)
                if name in PRIVATE_INPUTS or (root == self.env.emu.outbox and name in EMULATOR_PRIVATE):
                    continue
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    places[os.path.relpath(path, self.env.tmp)] = f.read().decode(errors="replace")
        self.assertIn("helper.log", places)
        self.assertIn("emulator.log", places)
        self.assertGreater(len(places["helper.log"]), 200)

        rel_cache = os.path.relpath(cache_file, self.env.tmp)
        for where, text in places.items():
            for what, value in secrets.items():
                if where == rel_cache and what.startswith("token"):
                    continue		# tokens only here
                self.assertNotIn(value, text, "%s found in %s" % (what, where))
            # The code is 4 digits: look for it as a word, not inside numbers.
            self.assertIsNone(re.search(r"(?<![0-9])%s(?![0-9])" % codes[0], text)
                              if where in ("helper.log", "transcript", "cmdline", "environ",
                                           rel_cache) else None,
                              "code found in %s" % where)
        self.assertNotIn("password", json.dumps(cached).lower())

    def test_no_core_dumps(self):
        pid = security.helper_pid(self.env)
        with open("/proc/%d/limits" % pid) as f:
            core = [line for line in f if line.startswith("Max core file size")][0]
        self.assertEqual(core.split()[4:6], ["0", "0"], core)
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)
        # Secret allocations mark their pages "do not dump" (VmFlags dd).
        # The kernel's own [vvar] pages are always "dd": look at the heap
        # and anonymous mappings only.
        marked, name = [], None
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    parts = line.split()
                    name = parts[5] if len(parts) > 5 else ""
                elif line.startswith("VmFlags:") and "dd" in line.split()[1:]:
                    if name in ("", "[heap]"):
                        marked.append(name or "anonymous")
        self.assertTrue(marked, "no heap page marked MADV_DONTDUMP")

    def test_memory_keeps_no_password_after_login(self):
        # curl copies each request (the password in its JSON body) into
        # its upload buffer and OpenSSL decrypts replies in place; neither
        # wipes what it frees.  The helper gives both, and jansson, an
        # allocator that does, so once the logins are over the password is
        # nowhere in the helper's writable memory, freed blocks included.
        for _ in range(3):
            r = self.env.login("alice", password=PASSWORD)
            self.assertEqual(r.status, 0, r)
        pid = security.helper_pid(self.env)
        found = security.memory_holding(pid, [PASSWORD.encode(), PASSWORD.encode("utf-16-le")])
        self.assertEqual(found, [], "the password is still in the helper's memory")

    def test_not_dumpable(self):
        # PR_SET_DUMPABLE 0 makes /proc/<pid>/ files root-owned and, for a
        # non-root reader, hides the environment even from the same uid.
        pid = security.helper_pid(self.env)
        st = os.stat("/proc/%d/environ" % pid)
        self.assertEqual(st.st_uid, 0)
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
        self.assertIn("Uid:\t0", status)


if __name__ == "__main__":
    main()
