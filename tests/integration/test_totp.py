"""api = freddy with second_factor = totp: POST /auth/dev-login with the
X-API-Key header (no email is sent), then a code from an authenticator
app checked locally by liboath.  Codes come from oathtool.  Also
freddyctl totp enroll/remove and the start-up check of api_key_file."""

import os
import re
import stat
import subprocess

import cachefile
from flowtest import FREDDYCTL, FlowEnv, FlowTestCase, run_ctl, totp_code
from freddytest import API_KEY, PASSWORDS, Helper, main

TOTP_CONFIG = ("second_factor = totp\napi_key_file = {api_key_file}\n"
               "totp_users_file = {totp_users_file}\n")
CODE_PROMPT = "Authenticator code: "


class FreddyTotpLogin(FlowTestCase):
    env_kwargs = {"api": "freddy", "config": TOTP_CONFIG, "enroll": ("bob",)}

    def login(self, user="bob", codes=(), password=None):
        script = [("Password: ", PASSWORDS.get(user, "x") if password is None else password)]
        prompt = CODE_PROMPT
        for code in codes:
            script.append((prompt, code))
            prompt = "Invalid code.*\r?\n\r?\n.*" + CODE_PROMPT
        return self.env.pamtester(user, script)

    def test_totp_accepted_through_dev_login(self):
        secret = self.env.secrets["bob"]
        r = self.login(codes=[lambda: totp_code(secret)])
        self.assertEqual(r.status, 0, r)
        self.assertIn("successfully authenticated", r.transcript)
        stats = self.env.emu.stats()
        self.assertEqual(stats["requests"].get("POST /v1/auth/dev-login"), 1)
        self.assertNotIn("POST /v1/auth/login", stats["requests"])
        self.assertEqual(stats["codes_sent"], 0)
        # The dev-login tokens are cached, privately, after the code passed.
        path = self.env.cache_file("bob")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertTrue(cachefile.read_record(path)["refresh_token"])
        self.assertNotIn(secret, self.env.helper.read_log())

    def test_code_with_a_space_is_accepted(self):
        secret = self.env.secrets["bob"]
        r = self.login(codes=[lambda: (lambda c: c[:3] + " " + c[3:])(totp_code(secret))])
        self.assertEqual(r.status, 0, r)

    def test_code_of_the_previous_step_accepted_with_the_default_window(self):
        secret = self.env.secrets["bob"]
        r = self.login(codes=[lambda: totp_code(secret, offset=-30)])
        self.assertEqual(r.status, 0, r)

    def test_code_two_steps_old_refused(self):
        secret = self.env.secrets["bob"]
        r = self.login(codes=[lambda: totp_code(secret, offset=-60)] * 3)
        self.assertNotEqual(r.status, 0, r)

    def test_wrong_totp_refused_then_right_one(self):
        secret = self.env.secrets["bob"]
        wrong = lambda: "%06d" % ((int(totp_code(secret)) + 1) % 1000000)
        r = self.login(codes=[wrong, lambda: totp_code(secret)])
        self.assertEqual(r.status, 0, r)
        self.assertIn("Invalid code, 2 attempts left", r.transcript)

    def test_wrong_totp_counts_toward_max_code_attempts(self):
        cached = self.env.cache_file("bob")
        if os.path.exists(cached):
            os.unlink(cached)
        r = self.login(codes=["000000", "12345", "abcdef"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid code, 1 attempt left", r.transcript)
        self.assertIn("Invalid code, no attempts left", r.transcript)
        self.assertIn("Have exhausted maximum number of retries", r.transcript)
        # The password was right, but nothing is cached without the code.
        self.assertFalse(os.path.exists(cached))

    def test_code_of_another_secret_refused(self):
        r = self.login(codes=[lambda: totp_code("00" * 20)] * 3)
        self.assertNotEqual(r.status, 0, r)

    def test_replayed_code_refused_across_a_helper_restart(self):
        secret = self.env.secrets["bob"]
        used = {}

        def first():
            used["code"] = totp_code(secret)
            return used["code"]
        r = self.login(codes=[first])
        self.assertEqual(r.status, 0, r)
        self.env.restart_helper()
        # The same code again, inside its window: refused; the next one works.
        r = self.env.pamtester("bob", [
            ("Password: ", PASSWORDS["bob"]),
            (CODE_PROMPT, lambda: used["code"]),
            ("already used.*\r?\n.*Invalid code, 2 attempts left.*\r?\n\r?\n.*" + CODE_PROMPT,
             lambda: totp_code(secret, offset=30)),
        ])
        self.assertEqual(r.status, 0, r)
        self.assertIn("replayed TOTP code refused for bob", self.env.helper.read_log())
        state = os.path.join(self.env.cache_dir, ".totp=bob")
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o600)

    def test_wrong_types_in_the_dev_login_reply_never_pass(self):
        self.env.emu.admin("config", {"fault": "wrongtypes", "fault_paths": ["/v1/auth/dev-login"]})
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"])])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertNotIn(CODE_PROMPT, r.transcript)

    def test_user_without_a_secret_is_refused_once_the_password_is_right(self):
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"])])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("No authenticator app is enrolled for this account", r.transcript)
        self.assertNotIn(CODE_PROMPT, r.transcript)

    def test_enrolment_is_not_revealed_without_the_password(self):
        # Not an oracle: a wrong password reads the same, enrolled or not.
        r = self.env.pamtester("alice", [("Password: ", "wrong")])
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("enrolled", r.transcript)
        self.assertIn("Invalid email or password", r.transcript)

    def test_wrong_password(self):
        r = self.login(password="wrong")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid email or password", r.transcript)
        self.assertNotIn(CODE_PROMPT, r.transcript)

    def test_users_file_readable_by_others_is_not_trusted(self):
        os.chmod(self.env.totp_users_file, 0o644)
        try:
            r = self.env.pamtester("bob", [])
        finally:
            os.chmod(self.env.totp_users_file, 0o600)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIn("must be a regular file owned by root with mode 0600",
                      self.env.helper.read_log())
        self.assertEqual(self.env.emu.requests("POST /v1/auth/dev-login"), 0)


class WrongApiKey(FlowTestCase):
    env_kwargs = {"api": "freddy", "config": TOTP_CONFIG, "enroll": ("bob",),
                  "api_key": "ak_wrong"}

    def test_refused_api_key_is_unavailable_not_a_wrong_password(self):
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"])])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIn("refused the helper's API key", self.env.helper.read_log())


class ApiKeyFileAtStart(FlowTestCase):
    env_kwargs = {"api": "freddy", "config": TOTP_CONFIG}

    def check_refused(self, mode, owner=None):
        path = os.path.join(self.env.tmp, "bad_key")
        with open(path, "w") as f:
            f.write(API_KEY + "\n")
        os.chmod(path, mode)
        if owner is not None:
            os.chown(path, owner, owner)
        helper = Helper(self.env.tmp, self.env.config_text.replace(self.env.api_key_file, path)
                        .replace(self.env.socket, self.env.socket + "2"), name="badkey")
        rc, out = helper.run_to_exit()
        self.assertNotEqual(rc, 0, out)
        self.assertIn(path, out)
        self.assertIn("api_key_file", out)
        self.assertFalse(os.path.exists(self.env.socket + "2"))

    def test_group_readable_key_refused(self):
        self.check_refused(0o640)

    def test_world_readable_key_refused(self):
        self.check_refused(0o604)

    def test_key_owned_by_another_user_refused(self):
        self.check_refused(0o600, owner=65534)

    def test_private_key_accepted(self):
        rc, out = Helper(self.env.tmp, self.env.config_text, name="check").run_to_exit(
            extra_args=["--check-config"])
        self.assertEqual(rc, 0, out)


class Enrolment(FlowTestCase):
    env_kwargs = {"api": "freddy", "config": TOTP_CONFIG}

    def users_file(self, name):
        return os.path.join(self.env.tmp, name)

    def test_concurrent_enrolments_and_removals_lose_nothing(self):
        # 30 pairs at once: enrol new_i, remove old_i.  Without a lock
        # across read, change and rename, runs overwrite each other: new
        # secrets vanish and removed ones (a stolen phone's) come back.
        path = self.users_file("concurrent")
        for i in range(30):
            r = run_ctl("totp", "enroll", "--users-file", path, "old%d" % i)
            self.assertEqual(r.returncode, 0, r.stderr)
        procs = []
        for i in range(30):
            for argv in (("enroll", "new%d" % i), ("remove", "old%d" % i)):
                procs.append(subprocess.Popen([FREDDYCTL, "totp", argv[0], "--users-file", path, argv[1]],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for p in procs:
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        with open(path) as f:
            users = [line.split()[1] for line in f if line.strip()]
        self.assertEqual(sorted(users), sorted("new%d" % i for i in range(30)))
        self.assertEqual(stat.S_IMODE(os.stat(path + ".lock").st_mode), 0o600)

    def test_enroll_prints_uri_and_qr_and_writes_a_private_line(self):
        path = self.users_file("enrol1")
        with open(path, "w") as f:
            f.write("# local tokens\nHOTP/T30 zed - 3132333435363738393031323334353637383930\n")
        os.chmod(path, 0o600)
        r = run_ctl("totp", "enroll", "--users-file", path, "dora")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            lines = f.read().splitlines()
        # Other lines kept, the new one in pam_oath's format.
        self.assertEqual(lines[:2], ["# local tokens",
                                     "HOTP/T30 zed - 3132333435363738393031323334353637383930"])
        fields = lines[2].split()
        self.assertEqual(fields[:3], ["HOTP/T30/6", "dora", "-"])
        self.assertRegex(fields[3], "^[0-9a-f]{40}$")
        m = re.search(r"otpauth://totp/Freddy:dora\?secret=([A-Z2-7]+)&issuer=Freddy"
                      r"&algorithm=SHA1&digits=6&period=30", r.stdout)
        self.assertTrue(m, r.stdout)
        # The URI's base32 secret is the file's hex secret: oathtool agrees.
        by_hex = subprocess.run(["oathtool", "--totp", "-N", "@1000000000", fields[3]],
                                capture_output=True, text=True, check=True).stdout
        by_b32 = subprocess.run(["oathtool", "--totp", "-b", "-N", "@1000000000", m.group(1)],
                                capture_output=True, text=True, check=True).stdout
        self.assertEqual(by_hex, by_b32)
        # A QR code drawn with half blocks, every row as wide as the others.
        qr = [l for l in r.stdout.splitlines() if set(l) <= set("\u2588\u2580\u2584 ") and l.strip()]
        self.assertGreater(len(qr), 10)
        self.assertEqual(len({len(l) for l in qr}), 1)
        self.assertIn("\u2584", r.stdout)

    def test_qr_code_scans_to_the_uri(self):
        # zbarimg (Debian zbar-tools) reads the terminal drawing turned into
        # an image: light half blocks are light modules.
        path = self.users_file("enrol-qr")
        r = run_ctl("totp", "enroll", "--users-file", path, "dora@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        uri = re.search(r"^otpauth://\S+$", r.stdout, re.M).group(0)
        self.assertIn("Freddy:dora%40example.com?", uri)
        rows = []
        for line in r.stdout.splitlines():
            if line.strip() and set(line) <= set("\u2588\u2580\u2584 "):
                rows.append([c in "\u2588\u2580" for c in line])
                rows.append([c in "\u2588\u2584" for c in line])
        scale = 6
        image = os.path.join(self.env.tmp, "qr.pgm")
        with open(image, "wb") as f:
            f.write(b"P5 %d %d 255\n" % (len(rows[0]) * scale, len(rows) * scale))
            for row in rows:
                f.write(bytes(255 if light else 0 for light in row for _ in range(scale)) * scale)
        scanned = subprocess.run(["zbarimg", "--raw", "-q", image], capture_output=True, text=True)
        self.assertEqual(scanned.stdout.strip(), uri, scanned.stderr)

    def test_second_enroll_needs_force_and_replaces(self):
        path = self.users_file("enrol2")
        self.assertEqual(run_ctl("totp", "enroll", "--users-file", path, "dora").returncode, 0)
        with open(path) as f:
            before = f.read()
        r = run_ctl("totp", "enroll", "--users-file", path, "dora")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--force", r.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), before)
        r = run_ctl("totp", "enroll", "--users-file", path, "--force", "dora")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path) as f:
            after = f.read()
        self.assertNotEqual(after, before)
        self.assertEqual(after.count("dora"), 1)

    def test_remove_keeps_other_lines(self):
        path = self.users_file("enrol3")
        for user in ("dora", "emil"):
            self.assertEqual(run_ctl("totp", "enroll", "--users-file", path, user).returncode, 0)
        r = run_ctl("totp", "remove", "--users-file", path, "dora")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path) as f:
            text = f.read()
        self.assertNotIn("dora", text)
        self.assertIn("\temil\t", text)
        r = run_ctl("totp", "remove", "--users-file", path, "dora")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not enrolled", r.stderr)

    def test_needs_root(self):
        path = self.users_file("enrol4")
        for args in (("enroll", "--users-file", path, "dora"), ("remove", "--users-file", path, "dora")):
            r = run_ctl("totp", *args, user=65534)
            self.assertEqual(r.returncode, 4, r)
            self.assertIn("needs root", r.stderr)
        self.assertFalse(os.path.exists(path))

    def test_refuses_a_users_file_others_can_read(self):
        path = self.users_file("enrol5")
        with open(path, "w") as f:
            f.write("")
        os.chmod(path, 0o644)
        r = run_ctl("totp", "enroll", "--users-file", path, "dora")
        self.assertEqual(r.returncode, 1)
        self.assertIn("mode 0600", r.stderr)

    def test_usage_errors(self):
        for args in (("totp",), ("totp", "list"), ("totp", "enroll"),
                     ("totp", "enroll", "--digits", "9", "dora"),
                     ("totp", "enroll", "--users-file", "relative", "dora"),
                     ("totp", "enroll", "-bad-")):
            self.assertEqual(run_ctl(*args).returncode, 2, args)

    def test_enrolled_secret_logs_in(self):
        path = self.env.totp_users_file
        self.env.enroll("bob", "--force")
        secret = self.env.secrets["bob"]
        self.assertTrue(os.path.exists(path))
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                       (CODE_PROMPT, lambda: totp_code(secret))])
        self.assertEqual(r.status, 0, r)


if __name__ == "__main__":
    main()
