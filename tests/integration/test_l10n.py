"""The person's language, end to end: pamtester -> libpam -> pam_freddy.so
(which reads the locale of the PAM program's environment and sends it in
AUTH_BEGIN) -> freddy-helperd (which writes every text of that login from
the catalogue built from po/LL.po) -> the HTTPS emulator.  And freddyctl,
which shows its own texts and the helper's in its environment's language.

What the module sends is checked exactly against a scripted helper
(fakehelper.py); what the helper does with what it gets, against the real
helper, with raw frames where no module would send them."""

import os
import re
import socket
import struct
import subprocess
import threading
import time

import fakehelper as fh
import security
from freddytest import FREDDYCTL, MODULE, FreddyEnv, FreddyTestCase, main, wait_for

NB = "\u00a0"   # French: before ':' and inside « »
NN = "\u202f"   # French: before ';', '!' and '?'
TAG_LOCALE = 38
PROMPT, INFO, ERROR = 64, 65, 66
TAG_TEXT = 9

GERMAN = {"LANGUAGE": "de", "LANG": "de_DE.UTF-8"}
FRENCH = {"LANGUAGE": "fr"}
ENGLISH_WORDS = re.compile(r"Password|attempt|emailed|Invalid|Enter to resend")


def code_login(env, locale, script_after_password, user="alice"):
    """A login whose code prompt answers come from `script_after_password`
    (a list of (regex, answer) pairs; the answer "CODE" is replaced by the
    code the emulator mailed)."""
    email = next(u["email"] for u in env.users if u["username"] == user)
    started = time.time() - 0.001

    def answer(a):
        return (lambda: env.emu.code_for(email, started)) if a == "CODE" else a
    return env.pamtester(user, [(p, answer(a)) for p, a in script_after_password], locale=locale)


class Localised(FreddyTestCase):
    """The helper has the catalogues and no default language."""

    env_kwargs = {"catalogues": True}

    def test_german_login_end_to_end(self):
        r = code_login(self.env, GERMAN, [
            ("Passwort: ", "Correct-Horse-1"),
            (r"Code per E-Mail an a\*\*\*@example\.com gesendet\.\r?\n\r?\n"
             "4-stelliger Code oder Eingabetaste für einen neuen Code: ", "0000"),
            # The plural forms: two attempts, then one.
            ("Ungültiger Code, noch 2 Versuche\r?\n\r?\n4-stelliger Code", "0001"),
            ("Ungültiger Code, noch 1 Versuch\r?\n\r?\n4-stelliger Code", "CODE"),
        ])
        self.assertEqual(r.status, 0, r)
        self.assertIn("successfully authenticated", r.transcript)
        # Nothing the helper wrote was left in English.
        self.assertIsNone(ENGLISH_WORDS.search(r.transcript.replace("pamtester: successfully authenticated", "")),
                          r.transcript)

    def test_french_keeps_its_typography_and_plural_rule(self):
        r = code_login(self.env, FRENCH, [
            ("Mot de passe" + NB + ": ", "Correct-Horse-1"),
            (r"Code envoyé par courriel à a\*\*\*@example\.com\.\r?\n\r?\n"
             "Code à 4 chiffres, ou Entrée pour le renvoyer" + NB + ": ", "0000"),
            ("Code non valide, 2 tentatives restantes", "0001"),
            ("Code non valide, 1 tentative restante", "CODE"),
        ])
        self.assertEqual(r.status, 0, r)

    def test_spanish_from_lang_alone(self):
        r = code_login(self.env, {"LANG": "es_ES.UTF-8"}, [
            ("Contraseña: ", "Correct-Horse-1"),
            (r"Código enviado por correo electrónico a a\*\*\*@example\.com\.\r?\n\r?\n"
             "Código de 4 dígitos, o Intro para reenviarlo: ", "CODE"),
        ])
        self.assertEqual(r.status, 0, r)

    def test_exhausted_attempts_in_german(self):
        r = code_login(self.env, GERMAN, [
            ("Passwort: ", "Correct-Horse-1"),
            ("4-stelliger Code", "0001"),
            ("noch 2 Versuche", "0002"),
            ("noch 1 Versuch\r", "0003"),
        ])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Ungültiger Code, keine Versuche mehr", r.transcript)

    def test_api_rate_limit_counts_minutes_in_german(self):
        for _ in range(5):
            self.env.pamtester("alice", [("Passwort: ", "wrong")], locale=GERMAN)
        r = self.env.pamtester("alice", [("Passwort: ", "Correct-Horse-1")], locale=GERMAN)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Zu viele Anmeldeversuche, versuchen Sie es in 5 Minuten erneut", r.transcript)

    def test_unavailable_api_in_german(self):
        self.env.emu.admin("config", {"fault": "hang", "fault_paths": ["/v1/auth/login"]})
        r = self.env.pamtester("alice", [("Passwort: ", "Correct-Horse-1")], locale=GERMAN)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentifizierungsdienst nicht verfügbar", r.transcript)

    def test_the_apis_own_message_is_shown_as_it_came(self):
        # Server text is data: never looked up, never a format.
        r = self.env.pamtester("alice", [("Passwort: ", "wrong")], locale=GERMAN)
        self.assertIn("Invalid email or password", r.transcript)

    def test_unknown_language_falls_back_to_english(self):
        for locale in ({"LANGUAGE": "ja:tlh"}, {"LANG": "sw_KE.UTF-8"}, {"LANG": "de_DE.ISO-8859-1"}):
            r = code_login(self.env, locale, [("Password: ", "Correct-Horse-1"),
                                              ("Code emailed to a\\*\\*\\*@example.com.", "CODE")])
            self.assertEqual(r.status, 0, (locale, r))

    def test_c_locale_overrides_language(self):
        # How scripts ask for stable English, as with gettext.
        r = code_login(self.env, {"LANGUAGE": "de", "LC_ALL": "C"},
                       [("Password: ", "Correct-Horse-1"), ("4-digit code", "CODE")])
        self.assertEqual(r.status, 0, r)

    def test_language_list_takes_the_first_one_there_is(self):
        r = code_login(self.env, {"LANGUAGE": "ja:es_MX:de"},
                       [("Contraseña: ", "Correct-Horse-1"), ("Código de 4 dígitos", "CODE")])
        self.assertEqual(r.status, 0, r)

    def test_concurrent_logins_each_in_its_own_language(self):
        # Both logins are at their code prompt at the same time, each
        # answers one wrong code while the other waits: one helper, two
        # languages side by side.
        both_at_code = threading.Barrier(2, timeout=30)
        results = {}

        def run(name, locale, user, password, code_re, wrong_re):
            email = next(u["email"] for u in self.env.users if u["username"] == user)
            started = time.time() - 0.001

            def wrong():
                both_at_code.wait()
                return "0000"
            results[name] = self.env.pamtester(user, [
                (password[0], password[1]), (code_re, wrong),
                (wrong_re, lambda: self.env.emu.code_for(email, started))], locale=locale)

        threads = [
            threading.Thread(target=run, args=("de", GERMAN, "alice", ("Passwort: ", "Correct-Horse-1"),
                                               "4-stelliger Code", "noch 2 Versuche")),
            threading.Thread(target=run, args=("fr", FRENCH, "bob", ("Mot de passe" + NB + ": ", "Bob-Pass-2"),
                                               "Code à 4 chiffres", "2 tentatives restantes")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results["de"].status, 0, results["de"])
        self.assertEqual(results["fr"].status, 0, results["fr"])
        self.assertNotIn("tentative", results["de"].transcript)
        self.assertNotIn("Versuch", results["fr"].transcript)
        self.assertIn("Code per E-Mail an a***@example.com gesendet.", results["de"].transcript)
        self.assertIn("Code envoyé par courriel à b***@example.com.", results["fr"].transcript)


class DefaultLanguage(FreddyTestCase):
    """`language = de`: for clients that send no locale (sshd)."""

    env_kwargs = {"catalogues": True, "config": "language = de\n"}

    def test_a_client_that_sends_none_gets_the_default(self):
        r = code_login(self.env, {}, [("Passwort: ", "Correct-Horse-1"), ("4-stelliger Code", "CODE")])
        self.assertEqual(r.status, 0, r)

    def test_the_clients_locale_wins_over_the_default(self):
        r = code_login(self.env, FRENCH, [("Mot de passe" + NB + ": ", "Correct-Horse-1"),
                                          ("Code à 4 chiffres", "CODE")])
        self.assertEqual(r.status, 0, r)

    def test_an_unknown_language_is_english_not_the_default(self):
        r = code_login(self.env, {"LANGUAGE": "ja"}, [("Password: ", "Correct-Horse-1"), ("4-digit", "CODE")])
        self.assertEqual(r.status, 0, r)

    def first_prompt(self, *fields):
        """The helper's first PROMPT text for a raw AUTH_BEGIN (from root,
        as an old module or a hostile client would send it)."""
        s = security.connect(self.env.socket)
        try:
            s.sendall(security.frame(security.AUTH_BEGIN, security.field(security.TAG_USER, "alice"),
                                     security.field(security.TAG_SERVICE, "freddy-test"), *fields))
            msg_type, payload = security.read_frame(s)
            self.assertEqual(msg_type, PROMPT, payload)
            pos = 0
            while pos + 3 <= len(payload):
                tag, n = struct.unpack(">BH", payload[pos:pos + 3])
                if tag == TAG_TEXT:
                    return payload[pos + 3:pos + 3 + n].decode()
                pos += 3 + n
            return None
        finally:
            s.close()

    def test_an_old_module_without_the_tag_still_works(self):
        self.assertEqual(self.first_prompt(), "Passwort: ")

    def test_an_invalid_locale_is_ignored(self):
        for bad in ("de_DE.UTF-8;touch /tmp/x", "../../etc/passwd", "fr\x1b[31m", "x" * 200, "DE", "fr_fr",
                    "f", "de_DE.UTF-8@", ":::"):
            self.assertEqual(self.first_prompt(security.field(TAG_LOCALE, bad)), "Passwort: ", bad)

    def test_a_valid_locale_from_a_raw_client(self):
        self.assertEqual(self.first_prompt(security.field(TAG_LOCALE, "fr_CA.utf8@euro")), "Mot de passe" + NB + ": ")
        self.assertEqual(self.first_prompt(security.field(TAG_LOCALE, "C.UTF-8")), "Password: ")

    def test_c_from_a_client_is_english_not_the_default(self):
        # freddyctl in the C.UTF-8 locale asks for the untranslated texts.
        env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
        r = subprocess.run([FREDDYCTL, "--socket", self.env.socket, "cache", "forget", "nobody-cached"],
                           capture_output=True, text=True, timeout=30, env=dict(env, LANG="C.UTF-8"))
        self.assertIn("freddyctl: Nothing cached for that user", r.stderr)


def has_locale(name):
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    return name in listed


class FreddyctlLanguage(FreddyTestCase):
    """freddyctl shows its own texts, and the helper's, in its
    environment's language (setlocale + gettext)."""

    env_kwargs = {"catalogues": True}

    def ctl(self, *args, **locale):
        env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
        env.update(locale)
        env["FREDDY_LOCALEDIR"] = self.env.locale_dir
        return subprocess.run([FREDDYCTL, "--socket", self.env.socket, *args], capture_output=True, text=True,
                              timeout=30, env=env)

    def setUp(self):
        super().setUp()
        # glibc's gettext needs the locale itself (tests/install-deps
        # generates de_DE.UTF-8, fr_FR.UTF-8 and es_ES.UTF-8).
        self.assertTrue(has_locale("de_DE.utf8"), "locale de_DE.UTF-8 missing: run tests/install-deps")

    def test_help_in_german(self):
        r = self.ctl("--help", LANG="de_DE.UTF-8")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Aufruf: freddyctl [--socket PFAD] BEFEHL [ARGUMENTE]", r.stdout)
        self.assertIn("Ihr eigenes Zugriffstoken ausgeben", r.stdout)

    def test_errors_of_freddyctl_and_of_the_helper_in_german(self):
        r = self.ctl("bogus", LANG="de_DE.UTF-8")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("freddyctl: unbekannter Befehl „bogus“; siehe freddyctl --help", r.stderr)
        # root has a local account and nothing cached: the helper says so,
        # in the language freddyctl sent.
        r = self.ctl("token", LANG="de_DE.UTF-8")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("freddyctl: Keine zwischengespeicherte Freddy-Anmeldung; melden Sie sich zuerst an", r.stderr)

    def test_self_service_refusal_in_german(self):
        # This helper speaks the freddy API: the helper refuses freddyctl
        # 2fa before any network call, in the language freddyctl sent.
        r = self.ctl("2fa", "status", LANG="de_DE.UTF-8")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("freddyctl 2fa ist für die aius-API; freddy-helperd verwendet hier api = freddy", r.stderr)

    def test_unreachable_helper_in_french(self):
        self.assertTrue(has_locale("fr_FR.utf8"), "locale fr_FR.UTF-8 missing: run tests/install-deps")
        r = self.ctl("--socket", os.path.join(self.env.tmp, "no.sock"), "status", LANG="fr_FR.UTF-8")
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("impossible de joindre freddy-helperd à", r.stderr)
        self.assertIn(NB + ": erreur d’entrée/sortie" + NB + ": ", r.stderr)

    def test_machine_readable_output_stays_english(self):
        r = self.ctl("status", LANG="de_DE.UTF-8")
        self.assertIn("helper version: ", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^api: ")

    def test_c_locale_is_english(self):
        r = self.ctl("token", LANG="C.UTF-8")
        self.assertIn("freddyctl: No cached Freddy login; log in first", r.stderr)
        r = self.ctl("token", LANGUAGE="de", LC_ALL="C")
        self.assertIn("freddyctl: No cached Freddy login; log in first", r.stderr)


class ModuleSendsLocale(FreddyTestCase):
    """Exactly what the module sends, against a scripted helper."""

    env_kwargs = {"start_helper": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sock = os.path.join(cls.env.tmp, "run", "fake.sock")
        line = "%s socket=%s timeout=5" % (MODULE, cls.sock)
        cls.env.write_service("loc", "auth required %s\npassword required %s\n" % (line, line))

    def sent(self, locale, op="authenticate"):
        def script(fake, conn):
            fake.request(conn)
            conn.sendall(fh.done(fh.IGNORE))
        fake = fh.FakeHelper(self.sock, script)
        try:
            self.env.pamtester("alice", [], service="loc", ops=(op,), locale=locale)
            wait_for(lambda: fake.requests, what="the module's request")
            return fake.requests[0].str(TAG_LOCALE)
        finally:
            fake.close()

    def test_the_order_of_the_variables(self):
        self.assertEqual(self.sent({"LANGUAGE": "de:fr", "LANG": "es_ES.UTF-8"}), "de:fr")
        self.assertEqual(self.sent({"LC_ALL": "fr_FR.UTF-8", "LC_MESSAGES": "es_ES.UTF-8", "LANG": "de_DE"}),
                         "fr_FR.UTF-8")
        self.assertEqual(self.sent({"LC_MESSAGES": "es_ES.UTF-8", "LANG": "de_DE"}), "es_ES.UTF-8")
        self.assertEqual(self.sent({"LANG": "de_DE.UTF-8@euro"}), "de_DE.UTF-8@euro")

    def test_c_locale_is_sent_as_it_is_and_beats_language(self):
        self.assertEqual(self.sent({"LANGUAGE": "de", "LC_ALL": "POSIX"}), "POSIX")

    def test_nothing_is_sent_without_a_valid_locale(self):
        self.assertIsNone(self.sent({}))
        for bad in ("de_DE.UTF-8; rm -rf /", "../../../tmp/x", "de\x07", "x" * 300, "deutsch"):
            self.assertIsNone(self.sent({"LANG": bad}), bad)

    def test_a_password_change_says_it_too(self):
        self.assertEqual(self.sent({"LANGUAGE": "fr"}, op="chauthtok"), "fr")


if __name__ == "__main__":
    main()
